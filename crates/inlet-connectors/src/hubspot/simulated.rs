//! A backfill by list and search over a simulated portal, through the engine's partitioned
//! read: the same decisions as [`super::backfill::Reader`] (a list page's end, the splits of
//! listed and searched ranges), with the HTTP calls replaced by a sorted set of ids, so that
//! every way the engine interleaves and splits them, and a restart from any checkpoint,
//! can be checked to read every record exactly once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use inlet_core::{read_partitions, PartitionPage, PartitionReader, Partitions, SourceError};
use inlet_core::{Change, Record, Version};

use super::backfill::split;
use super::listed::{after_page, first_parts, split_listed, LIST_PAGE};
use super::position::{IdRange, Part};
use super::window::PAGE;

/// A portal's ids, a list that pages them upward (its cursor the next id, as text), and
/// search by id range; the list takes 250 ms a page, search 100 ms.
struct Portal {
    ids: Vec<u64>,
    share: f64,
    searches: usize,
    listing: AtomicBool,
}

fn records(ids: &[u64]) -> Vec<Record> {
    ids.iter()
        .map(|id| Record::upsert(id.to_string(), Version::new(0, 0), Default::default()))
        .collect()
}

impl PartitionReader for Portal {
    type Partition = Part;

    async fn page(&self, part: Part) -> Result<PartitionPage<Part>, SourceError> {
        match part {
            Part::Searched(range) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let found: Vec<u64> = (self.ids.iter())
                    .filter(|id| **id > range.above && **id <= range.upto)
                    .take(PAGE)
                    .copied()
                    .collect();
                let next = match found.last() {
                    Some(&last) if found.len() == PAGE && last < range.upto => {
                        Some(Part::Searched(IdRange {
                            above: last,
                            upto: range.upto,
                        }))
                    }
                    _ => None,
                };
                Ok(PartitionPage {
                    records: records(&found),
                    next,
                })
            }
            Part::Listed(range) => {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let from: u64 = range.after.as_deref().map_or(0, |a| a.parse().unwrap_or(0));
                let mut page = self.ids.iter().filter(|id| **id >= from).copied();
                let found: Vec<u64> = page.by_ref().take(LIST_PAGE as usize).collect();
                let cursor = page.next().map(|id| id.to_string());
                let (keep, next) = after_page(&range, &found, cursor);
                assert!(keep, "the simulated list is in id order");
                if !matches!(next, Some(Part::Listed(_))) {
                    self.listing.store(false, Ordering::Relaxed);
                }
                let mine: Vec<u64> = found.into_iter().filter(|id| *id <= range.upto).collect();
                Ok(PartitionPage {
                    records: records(&mine),
                    next,
                })
            }
        }
    }

    fn split(&self, part: &Part, pieces: usize) -> Vec<Part> {
        match part {
            Part::Searched(range) => split(*range, pieces)
                .into_iter()
                .map(Part::Searched)
                .collect(),
            Part::Listed(range) => split_listed(range, pieces, self.share),
        }
    }

    fn concurrency(&self) -> usize {
        self.searches + usize::from(self.listing.load(Ordering::Relaxed))
    }
}

type Step = (Vec<u64>, Partitions<Part>);

async fn read_all(portal: &Portal, from: Partitions<Part>) -> Vec<Step> {
    portal.listing.store(
        from.open.iter().any(|p| matches!(p, Part::Listed(_))),
        Ordering::Relaxed,
    );
    let steps: Vec<_> = read_partitions(portal, from).collect().await;
    steps
        .into_iter()
        .map(|step| {
            let (records, set) = step.expect("no failure");
            let ids = records.iter().map(|r| {
                assert!(matches!(r.change, Change::Upsert(_)));
                r.id.parse().unwrap_or(u64::MAX)
            });
            (ids.collect(), set)
        })
        .collect()
}

fn ids_of(steps: &[Step]) -> Vec<u64> {
    let mut all: Vec<u64> = steps.iter().flat_map(|(ids, _)| ids.clone()).collect();
    all.sort_unstable();
    all
}

#[tokio::test(start_paused = true)]
async fn list_and_search_together_read_every_record_once_even_after_a_restart() {
    // Sparse ids, as a portal's are (other types take ids in between), a gap in the middle.
    let ids: Vec<u64> = (1_001..40_000u64)
        .filter(|id| id % 3 != 0 && !(15_000..19_000).contains(id))
        .collect();
    let top = *ids.last().expect("ids");
    for share in [0.1, 0.4, 0.8] {
        let portal = Portal {
            ids: ids.clone(),
            share,
            searches: 3,
            listing: AtomicBool::new(false),
        };
        let start = Partitions::new(first_parts(top, share));
        let steps = read_all(&portal, start).await;
        assert_eq!(ids_of(&steps), ids, "share {share}: every id once");
        let sets = steps.iter().map(|(_, set)| set);
        assert!(
            sets.clone().any(|s| s
                .open
                .iter()
                .filter(|p| matches!(p, Part::Searched(_)))
                .count()
                > 1),
            "search ranges were split"
        );
        assert!(
            sets.filter(|s| s.open.iter().any(|p| matches!(p, Part::Listed(_))))
                .count()
                > 2,
            "the list read pages"
        );
        let listed_upto = (steps.iter().flat_map(|(_, set)| set.open.iter()))
            .filter_map(|p| match p {
                Part::Listed(l) => Some(l.upto),
                Part::Searched(_) => None,
            })
            .min();
        if share > 0.5 {
            assert!(
                listed_upto < Some((top as f64 * share) as u64),
                "share {share}: once search ran out, the list handed it the top of its rest"
            );
        }
        // A restart from any step's checkpoint reads exactly what that step had not.
        for n in (0..steps.len()).step_by(7) {
            let mut union = ids_of(&steps[..=n]);
            union.extend(ids_of(&read_all(&portal, steps[n].1.clone()).await));
            union.sort_unstable();
            assert_eq!(union, ids, "share {share}: restart after step {n}");
        }
    }
}
