//! A worker's fair share of a destination's syncs, and which ones it keeps or takes.
//!
//! The share is ceil(syncs / live workers), so the shares always cover every sync and no
//! worker runs more than one above another. Which syncs a worker prefers is rendezvous
//! hashing of (worker, sync): workers starting together reach for different syncs, and a
//! worker over its share lets go of the ones it prefers least. Pure: the caller
//! ([`crate::workers`]) feeds it what `pg_locks` says.

/// The most syncs one of `workers` live workers runs out of `syncs`.
pub fn fair_share(syncs: usize, workers: usize) -> usize {
    syncs.div_ceil(workers.max(1))
}

/// What a worker does with a destination's syncs now.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Running here above the share: stop after the batch being written.
    pub release: Vec<String>,
    /// Free (no one holds their lock): try to take.
    pub take: Vec<String>,
}

/// `mine`: the syncs this worker runs (or is starting); `free`: those no one runs.
pub fn plan(worker: u64, share: usize, mine: &[String], free: &[String]) -> Plan {
    let by_preference = |names: &[String]| {
        let mut ranked: Vec<String> = names.to_vec();
        ranked.sort_by_key(|n| std::cmp::Reverse(preference(worker, n)));
        ranked
    };
    let mut plan = Plan::default();
    if mine.len() > share {
        plan.release = by_preference(mine).split_off(share);
    } else {
        plan.take = by_preference(free);
        plan.take.truncate(share - mine.len());
    }
    plan
}

/// How much `worker` wants `sync` (a stable hash of both).
fn preference(worker: u64, sync: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in worker.to_le_bytes().into_iter().chain(sync.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("s{i}")).collect()
    }

    #[test]
    fn shares_cover_every_sync() {
        assert_eq!(fair_share(9, 3), 3);
        assert_eq!(fair_share(9, 2), 5);
        assert_eq!(fair_share(9, 1), 9);
        assert_eq!(fair_share(2, 3), 1);
        assert_eq!(
            fair_share(4, 0),
            4,
            "a worker not yet counted runs as if alone"
        );
    }

    #[test]
    fn a_worker_over_its_share_releases_only_the_excess() {
        let all = names(9);
        let p = plan(7, 3, &all, &[]);
        assert_eq!(p.release.len(), 6);
        assert!(p.take.is_empty());
        let kept: Vec<_> = all.iter().filter(|n| !p.release.contains(n)).collect();
        assert_eq!(kept.len(), 3);
    }

    #[test]
    fn a_worker_under_its_share_takes_up_to_it() {
        let all = names(9);
        let p = plan(7, 3, &all[..1], &all[3..]);
        assert_eq!(p.take.len(), 2);
        assert!(p.take.iter().all(|n| all[3..].contains(n)));
        assert_eq!(plan(7, 3, &all[..3], &all[3..]), Plan::default());
    }

    #[test]
    fn workers_prefer_different_syncs() {
        let all = names(9);
        let firsts: std::collections::HashSet<String> = (0..20u64)
            .map(|w| plan(w, 1, &[], &all).take[0].clone())
            .collect();
        assert!(firsts.len() > 3, "{firsts:?}");
    }
}
