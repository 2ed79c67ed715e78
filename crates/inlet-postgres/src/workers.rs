//! Workers sharing a destination's syncs, coordinated through the destination itself.
//!
//! Each `inlet run` holds one session per destination that holds a *shared* advisory lock
//! on the destination's worker key: the number of sessions holding it is the number of live
//! workers, and a worker's membership ends with its session (a killed process at once, a
//! network cut once the server's keepalives give up, see [`keep_alive`]). No table, no
//! privilege beyond logging in: what `inlet destination setup` grants is enough. Which
//! worker runs a sync is still decided by the sync's own exclusive lock
//! ([`crate::sink::lock_key`]); membership only tells each worker its fair share.

use std::collections::HashSet;

use tokio_postgres::Client;

use crate::problem::Problem;
use crate::read_role::sql_problem;

/// The advisory key the workers of destination `name` share (a stable 64-bit hash, in a
/// space apart from the syncs' keys).
pub fn worker_key(destination: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "inlet-workers:".bytes().chain(destination.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// Makes the server drop this session about 10 s after its client went silent (a network
/// cut), rather than the operating system's two hours, so the locks it holds are freed for
/// other workers promptly: with the others' next look (every second) and a sync's start,
/// its syncs run elsewhere within 15 s (`crates/inlet/tests/workers_netcut.rs` measures it).
/// One round trip; settings this server does not know are skipped.
pub async fn keep_alive(client: &Client) {
    // Keepalives: 4 s idle, then 3 probes 2 s apart. `tcp_user_timeout` (PostgreSQL 12+)
    // also covers the server's own data going unacknowledged, which keepalives do not.
    let sql = "select set_config(s.name, s.value, false) \
                 from (values ('tcp_keepalives_idle', '4'), ('tcp_keepalives_interval', '2'), \
                              ('tcp_keepalives_count', '3'), ('tcp_user_timeout', '10000')) \
                      as s(name, value) \
                where s.name in (select name from pg_settings)";
    if let Err(e) = client.batch_execute(sql).await {
        tracing::debug!(error = %e, "session keepalives not set");
    }
}

/// Joins the workers of `key` on this session, for as long as the session lives.
pub async fn join(client: &Client, key: i64) -> Result<(), Problem> {
    client
        .execute("select pg_advisory_lock_shared($1)", &[&key])
        .await
        .map_err(|e| sql_problem(&e, "could not join the workers", "pg_advisory_lock_shared"))?;
    Ok(())
}

/// How many sessions (workers) hold the shared key `key` now, and the exclusive advisory
/// keys held in this database (the syncs running anywhere), in one look at `pg_locks`.
pub async fn survey(client: &Client, key: i64) -> Result<(usize, HashSet<i64>), Problem> {
    // A bigint advisory key shows in pg_locks as classid (high half) and objid (low half).
    let sql = "select mode, (classid::bigint << 32) | objid::bigint from pg_locks \
                where locktype = 'advisory' and granted and objsubid = 1 \
                  and database = (select oid from pg_database where datname = current_database())";
    let rows = client
        .query(sql, &[])
        .await
        .map_err(|e| sql_problem(&e, "could not count the workers", "pg_locks"))?;
    let mut workers = 0;
    let mut held = HashSet::new();
    for row in rows {
        let (mode, k): (String, i64) = (row.get(0), row.get(1));
        match mode.as_str() {
            "ShareLock" if k == key => workers += 1,
            "ExclusiveLock" => {
                held.insert(k);
            }
            _ => {}
        }
    }
    Ok((workers, held))
}
