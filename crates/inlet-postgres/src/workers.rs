//! Workers sharing a destination's syncs, coordinated through the destination itself.
//!
//! Each `inlet run` holds one session per destination that holds a *shared* advisory lock
//! on the destination's worker key: the number of sessions holding it is the number of live
//! workers, and a worker's membership ends with its session (a killed process at once; a
//! network cut or a frozen process once the others see it silent, see [`end_silent`], or
//! the server's keepalives give up, see [`keep_alive`]). No table, no privilege beyond
//! logging in: what `inlet destination setup` grants is enough. Which
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

/// How long a worker's membership session may sit idle before the other workers take it
/// for gone. A live worker surveys every second, which ends the idle state each time.
pub const SILENCE: std::time::Duration = std::time::Duration::from_secs(6);

/// Ends every session of each other worker of `key` whose membership session has been idle
/// longer than [`SILENCE`] (cut off by the network, or frozen), so the locks its sessions
/// hold are freed; returns the application names of the workers ended.
///
/// Keepalives alone do not cover this: a server with its own data unacknowledged sends no
/// keepalive, and without `tcp_user_timeout` (PostgreSQL 10 and 11) it waits for its
/// retransmissions to give up, about 15 minutes; a frozen process's kernel answers
/// keepalives forever. A worker's sessions are those with its application name and address
/// (`inlet pid PID on HOST`), as the same user: the one thing a user may signal without a
/// grant. This worker's own name is never matched.
pub async fn end_silent(client: &Client, key: i64) -> Result<Vec<String>, Problem> {
    let sql = "with silent as (                  select distinct a.application_name, a.client_addr                    from pg_locks l join pg_stat_activity a on a.pid = l.pid                   where l.locktype = 'advisory' and l.granted and l.mode = 'ShareLock'                     and l.objsubid = 1                     and l.database = (select oid from pg_database where datname = current_database())                     and l.classid::bigint = (($1::bigint >> 32) & 4294967295)                     and l.objid::bigint = ($1::bigint & 4294967295)                     and a.pid <> pg_backend_pid() and a.usename = current_user                     and a.state = 'idle'                     and a.state_change < clock_timestamp() - make_interval(secs => $2)                     and not (a.application_name = current_setting('application_name')                              and a.client_addr is not distinct from inet_client_addr()))                select s.application_name, count(*) filter (where pg_terminate_backend(a.pid))                  from silent s join pg_stat_activity a                    on a.application_name = s.application_name                   and a.client_addr is not distinct from s.client_addr                   and a.usename = current_user and a.pid <> pg_backend_pid()                 group by s.application_name";
    let rows = client
        .query(sql, &[&key, &SILENCE.as_secs_f64()])
        .await
        .map_err(|e| {
            sql_problem(
                &e,
                "could not end a silent worker's sessions",
                "pg_stat_activity",
            )
        })?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
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
