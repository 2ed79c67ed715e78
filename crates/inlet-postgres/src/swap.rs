//! The swap at the end of a rebuild: the full copy built in the swap schema replaces the
//! live tables, so a reader sees the old complete data or the new complete data, never an
//! empty or half-built table, and never an error.
//!
//! Per stream table, one of:
//! * **replace**: nothing of a person's is bound to the live table, so it is dropped and the
//!   copy moved in (`alter table ... set schema`), under an `access exclusive` lock held
//!   only for those catalog changes: readers wait a few milliseconds, then read the new
//!   table. Grants a person gave on the old table are given again on the new one.
//! * **merge**: a view, trigger, index, constraint ... of a person's is bound to the live
//!   table. Views bind to a table's identity, not its name, so replacing it would leave
//!   them on stale data (or drop them). Instead the copy's rows are merged into the live
//!   table in place (rows the copy lacks deleted, the others upserted where they differ):
//!   row locks only, readers are never blocked and see old or new by MVCC.
//! * **left alone**: the live table is not the sync user's (`alter table ... owner to
//!   current_user` made it a person's): nothing is done to it.
//!
//! Every merge and replace, the checkpoints that go with the copy, and the request's `done`
//! mark commit in one transaction. `lock_timeout` keeps the swap from queueing readers
//! behind a long query; it retries instead.

use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, GenericClient, Transaction};

use crate::lifecycle::{self, RequestState};
use crate::ownership::{bound_to, owner, Owner};
use crate::problem::{Problem, ProblemKind};
use crate::read_role::sql_problem;
use crate::sql::ident;
use crate::tables::{existing_columns, primary_key};

/// What the swap did, for the person and `--json`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct SwapReport {
    /// Tables replaced by their copy (or moved in, where the live schema had none).
    pub replaced: Vec<String>,
    /// Tables refreshed in place, with the objects of a person's bound to each.
    pub merged: Vec<Merged>,
    /// Tables not owned by the sync user, untouched, with their owner.
    pub left_alone: Vec<(String, String)>,
    /// Milliseconds the `access exclusive` locks of the replaced tables were held.
    pub lock_ms: f64,
    /// Milliseconds the whole swap transaction took (merges included).
    pub transaction_ms: f64,
    /// Transactions tried (a lock timeout or a newly bound object makes it try again).
    pub attempts: u32,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Merged {
    pub table: String,
    pub bound: Vec<String>,
    /// Columns whose type the copy changed but the live table keeps, because a person's
    /// object uses them (their values are kept from before the rebuild).
    pub kept_columns: Vec<String>,
}

#[derive(Debug)]
enum Plan {
    Replace(String),
    Move(String),
    Merge(String, Vec<String>),
    LeaveAlone(String, String),
}

const ATTEMPTS: u32 = 5;

/// Swaps the copy in `swap` into `live` and marks request `request_id` done, atomically.
pub async fn swap(
    client: &mut Client,
    live: &str,
    swap: &str,
    request_id: i64,
) -> Result<SwapReport, Problem> {
    let mut last = None;
    for attempt in 1..=ATTEMPTS {
        let plans = plan(client, live, swap).await?;
        let mut kept = Vec::new();
        for p in &plans {
            if let Plan::Merge(table, _) = p {
                kept.push(prepare_merge(client, live, swap, table).await?);
            }
        }
        match try_swap(client, live, swap, &plans, request_id).await {
            Ok(mut report) => {
                report.attempts = attempt;
                for m in &mut report.merged {
                    if let Some(k) = kept.iter().find(|(t, _)| *t == m.table) {
                        m.kept_columns = k.1.clone();
                    }
                }
                drop_merged_copies(client, swap, &report).await;
                // The timings are known only after the commit: recorded for whoever waits.
                if let Ok(json) = serde_json::to_value(&report) {
                    lifecycle::set_state(
                        &*client,
                        live,
                        request_id,
                        RequestState::Done,
                        Some(&json),
                    )
                    .await?;
                }
                return Ok(report);
            }
            Err(Retry::Again(p)) => {
                tracing::info!(attempt, "swap postponed: {}", p.message);
                last = Some(p);
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            Err(Retry::Fail(p)) => return Err(p),
        }
    }
    Err(last
        .unwrap_or_else(|| Problem::new(ProblemKind::ServerError, "the swap did not happen", "")))
}

enum Retry {
    Again(Problem),
    Fail(Problem),
}

async fn plan(client: &Client, live: &str, swap: &str) -> Result<Vec<Plan>, Problem> {
    let mut plans = Vec::new();
    for table in stream_tables(client, swap).await? {
        plans.push(match owner(client, live, &table).await? {
            Owner::Missing => Plan::Move(table),
            Owner::Other(who) => Plan::LeaveAlone(table, who),
            Owner::Us => {
                let bound = bound_to(client, live, &table).await?;
                match bound.is_empty() {
                    true => Plan::Replace(table),
                    false => Plan::Merge(table, bound),
                }
            }
        });
    }
    Ok(plans)
}

/// The copy's stream tables: the sync user's tables in the swap schema, but inlet's own
/// bookkeeping (`_sync_*`), which the live schema keeps.
async fn stream_tables(client: &Client, swap: &str) -> Result<Vec<String>, Problem> {
    let sql =
        "select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace \
                where n.nspname = $1 and c.relkind = 'r' and left(c.relname, 6) <> '_sync_' \
                  and c.relowner = (select oid from pg_roles where rolname = current_user) \
                order by 1";
    let rows = client
        .query(sql, &[&swap])
        .await
        .map_err(|e| sql_problem(&e, "could not list the copy's tables", sql))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Before the swap transaction, in short transactions of their own: columns the copy has
/// and the live table lacks are added; a column whose type the copy changed is altered if
/// nothing of a person's uses it, else kept (returned).
async fn prepare_merge(
    client: &Client,
    live: &str,
    swap: &str,
    table: &str,
) -> Result<(String, Vec<String>), Problem> {
    let have = existing_columns(client, live, table).await?;
    let want = existing_columns(client, swap, table).await?;
    let qualified = format!("{}.{}", ident(live), ident(table));
    let mut kept = Vec::new();
    for (name, ty) in &want {
        let sql = match have.iter().find(|(n, _)| n == name) {
            None => format!(
                "alter table {qualified} add column if not exists {} {ty}",
                ident(name)
            ),
            Some((_, old)) if old != ty => format!(
                "alter table {qualified} alter column {} type {ty} using {}::text::{ty}",
                ident(name),
                ident(name)
            ),
            Some(_) => continue,
        };
        // Its own short transaction, with a lock timeout: an `alter` waiting behind a long
        // query would queue every new reader behind itself.
        let guarded = format!("begin; set local lock_timeout = '2s'; {sql}; commit");
        if let Err(e) = client.batch_execute(&guarded).await {
            let _ = client.batch_execute("rollback").await;
            // A view or rule using the column (0A000), values that do not convert, or a
            // lock not had in time (the copy's rows then go in without that column).
            tracing::warn!(table, column = %name, error = %e, "column kept as it is");
            kept.push(name.clone());
        }
    }
    Ok((table.to_string(), kept))
}

async fn try_swap(
    client: &mut Client,
    live: &str,
    swap: &str,
    plans: &[Plan],
    request_id: i64,
) -> Result<SwapReport, Retry> {
    let started = Instant::now();
    let tx = client
        .transaction()
        .await
        .map_err(|e| Retry::Fail(sql_problem(&e, "could not begin the swap", "begin")))?;
    run(&tx, "set local lock_timeout = '2s'").await?;
    let mut report = SwapReport::default();
    let mut streams = Vec::new();
    // Merges first: they take row locks only, so the exclusive locks below are held for the
    // catalog changes alone.
    for p in plans {
        match p {
            Plan::Merge(table, bound) => {
                merge(&tx, live, swap, table).await?;
                report.merged.push(Merged {
                    table: table.clone(),
                    bound: bound.clone(),
                    kept_columns: Vec::new(),
                });
                streams.push(table.clone());
            }
            Plan::LeaveAlone(table, who) => report.left_alone.push((table.clone(), who.clone())),
            _ => {}
        }
    }
    let locked = Instant::now();
    for p in plans {
        let (table, replace) = match p {
            Plan::Replace(t) => (t, true),
            Plan::Move(t) => (t, false),
            _ => continue,
        };
        let (l, s) = (
            format!("{}.{}", ident(live), ident(table)),
            format!("{}.{}", ident(swap), ident(table)),
        );
        let mut grants = Vec::new();
        if replace {
            run(&tx, &format!("lock table {l} in access exclusive mode")).await?;
            // Checked again under the lock: a person may have bound something meanwhile.
            let bound = bound_to(&tx, live, table).await.map_err(Retry::Fail)?;
            if !bound.is_empty() || owner(&tx, live, table).await.map_err(Retry::Fail)? != Owner::Us
            {
                return Err(Retry::Again(Problem::new(
                    ProblemKind::ServerError,
                    format!("{table} changed hands or gained dependents during the swap"),
                    "",
                )));
            }
            grants = person_grants(&tx, live, table).await?;
            // No cascade, ever: should anything depend on it after all, this fails.
            run(&tx, &format!("drop table {l}")).await?;
        }
        run(&tx, &format!("alter table {s} set schema {}", ident(live))).await?;
        for g in grants {
            run(&tx, &g.replace("{table}", &l)).await?;
        }
        report.replaced.push(table.clone());
        streams.push(table.clone());
    }
    carry_state(&tx, live, swap, &streams).await?;
    carry_events(&tx, live, swap, &streams, request_id).await?;
    let json = serde_json::to_value(&report).ok();
    lifecycle::set_state(&tx, live, request_id, RequestState::Done, json.as_ref())
        .await
        .map_err(Retry::Fail)?;
    tx.commit()
        .await
        .map_err(|e| classify(&e, "could not commit the swap", "commit"))?;
    report.lock_ms = locked.elapsed().as_secs_f64() * 1000.0;
    report.transaction_ms = started.elapsed().as_secs_f64() * 1000.0;
    if report.replaced.is_empty() {
        report.lock_ms = 0.0;
    }
    tracing::info!(
        lock_ms = report.lock_ms,
        replaced = report.replaced.len(),
        merged = report.merged.len(),
        "swapped"
    );
    Ok(report)
}

/// Rows the copy lacks are deleted; the others are upserted where they differ, matched on
/// the table's primary key.
async fn merge(tx: &Transaction<'_>, live: &str, swap: &str, table: &str) -> Result<(), Retry> {
    let have = existing_columns(tx, live, table)
        .await
        .map_err(Retry::Fail)?;
    let want = existing_columns(tx, swap, table)
        .await
        .map_err(Retry::Fail)?;
    // The copy's key, which is the stream's now; a live table keyed otherwise cannot take
    // the copy's rows in place.
    let key = primary_key(tx, swap, table).await.map_err(Retry::Fail)?;
    if primary_key(tx, live, table).await.map_err(Retry::Fail)? != key {
        return Err(Retry::Fail(Problem::new(
            ProblemKind::ServerError,
            format!(
                "table {table}'s key changed in the rebuild, and objects of a person's are bound to it, so it can be neither replaced nor refreshed in place"
            ),
            "drop the views, triggers or indexes of yours bound to the table, run the rebuild again, then make them again",
        )));
    }
    let key: Vec<String> = key.iter().map(|k| ident(k)).collect();
    let same_key: Vec<String> = key.iter().map(|k| format!("s.{k} = l.{k}")).collect();
    let common: Vec<&str> = want
        .iter()
        .filter(|w| have.contains(w))
        .map(|(n, _)| n.as_str())
        .collect();
    let (l, s) = (
        format!("{}.{}", ident(live), ident(table)),
        format!("{}.{}", ident(swap), ident(table)),
    );
    run(
        tx,
        &format!(
            "delete from {l} as l where not exists (select 1 from {s} as s where {})",
            same_key.join(" and ")
        ),
    )
    .await?;
    let cols: Vec<String> = common.iter().map(|c| ident(c)).collect();
    let compared: Vec<&str> = common
        .iter()
        .copied()
        .filter(|c| !matches!(*c, "_sync_inserted_at" | "_sync_updated_at"))
        .filter(|c| !key.contains(&ident(c)))
        .collect();
    let set: Vec<String> = compared
        .iter()
        .map(|c| format!("{} = excluded.{}", ident(c), ident(c)))
        .chain(
            common
                .contains(&"_sync_updated_at")
                .then(|| "\"_sync_updated_at\" = now()".into()),
        )
        .collect();
    let differs = format!(
        "({}) is distinct from ({})",
        compared
            .iter()
            .map(|c| format!("l.{}", ident(c)))
            .collect::<Vec<_>>()
            .join(", "),
        compared
            .iter()
            .map(|c| format!("excluded.{}", ident(c)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let upsert = match set.is_empty() {
        true => format!(
            "insert into {l} ({0}) select {0} from {s} on conflict ({1}) do nothing",
            cols.join(", "),
            key.join(", ")
        ),
        false => format!(
            "insert into {l} as l ({0}) select {0} from {s} on conflict ({2}) do update set {1} \
             where {differs}",
            cols.join(", "),
            set.join(", "),
            key.join(", ")
        ),
    };
    run(tx, &upsert).await
}

/// The checkpoints (and tombstones) that describe the copy become the live ones; the batch
/// sequence only grows, so a writer that still holds an older one is fenced off.
async fn carry_state(
    tx: &Transaction<'_>,
    live: &str,
    swap: &str,
    streams: &[String],
) -> Result<(), Retry> {
    let (l, s) = (ident(live), ident(swap));
    let state = format!(
        "insert into {l}._sync_state as st (stream, state, checkpoint, batch_seq, rows_written, error) \
         select stream, state, checkpoint, batch_seq, rows_written, error from {s}._sync_state \
          where stream = any($1) \
         on conflict (stream) do update set state = excluded.state, checkpoint = excluded.checkpoint, \
           batch_seq = greatest(st.batch_seq, excluded.batch_seq) + 1, \
           rows_written = excluded.rows_written, error = excluded.error, updated_at = now()"
    );
    let tombstones_out = format!("delete from {l}._sync_tombstone where object_type = any($1)");
    let tombstones_in = format!(
        "insert into {l}._sync_tombstone (object_type, id, version_ts, version_seq, deleted_at) \
         select object_type, id, version_ts, version_seq, deleted_at from {s}._sync_tombstone \
          where object_type = any($1)"
    );
    for sql in [state, tombstones_out, tombstones_in] {
        tx.execute(&sql, &[&streams])
            .await
            .map_err(|e| classify(&e, "could not carry the copy's checkpoints over", &sql))?;
    }
    Ok(())
}

/// The change log stays the live schema's (its ids, which consumers track, go on). While
/// the copy followed changes, some reached it and not the live tables (the copy ran ahead at
/// the end), so they are appended here, in the copy's order; those the live log already
/// has (the same change to the same record, since the request) are not. The copy is never
/// behind the live schema here (the driver waits for that), so nothing is replayed after.
async fn carry_events(
    tx: &Transaction<'_>,
    live: &str,
    swap: &str,
    streams: &[String],
    request_id: i64,
) -> Result<(), Retry> {
    let (l, s) = (ident(live), ident(swap));
    let strip = "- '_sync_inserted_at' - '_sync_updated_at'";
    let sql = format!(
        "insert into {l}._sync_event (inserted_at, event_type, object_type, record_id, payload) \
         select c.inserted_at, c.event_type, c.object_type, c.record_id, c.payload \
           from {s}._sync_event c \
          where c.object_type = any($1) \
            and not exists ( \
                select 1 from {l}._sync_event e \
                 where e.inserted_at >= (select requested_at from {l}._sync_lifecycle where id = $2) \
                   and e.object_type = c.object_type and e.record_id = c.record_id \
                   and e.event_type = c.event_type \
                   and (e.payload -> 'record') {strip} = (c.payload -> 'record') {strip}) \
          order by c.id"
    );
    let n = tx
        .execute(&sql, &[&streams, &request_id])
        .await
        .map_err(|e| {
            classify(
                &e,
                "could not carry the copy's changes into the change log",
                &sql,
            )
        })?;
    if n > 0 {
        tracing::info!(
            events = n,
            "changes only the copy saw, added to the change log"
        );
    }
    Ok(())
}

/// Grants on the live table to others than its owner, as statements with a `{table}`
/// placeholder, so the replacing table gets them too.
async fn person_grants(
    tx: &Transaction<'_>,
    live: &str,
    table: &str,
) -> Result<Vec<String>, Retry> {
    let sql = "select case when a.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(a.grantee)) end, \
                      a.privilege_type \
                 from pg_class c join pg_namespace n on n.oid = c.relnamespace, \
                      aclexplode(c.relacl) a \
                where n.nspname = $1 and c.relname = $2 and a.grantee <> c.relowner";
    let rows = tx
        .query(sql, &[&live, &table])
        .await
        .map_err(|e| classify(&e, "could not read the table's grants", sql))?;
    Ok(rows
        .iter()
        .map(|r| {
            let (who, what): (String, String) = (r.get(0), r.get(1));
            format!("grant {what} on {{table}} to {who}")
        })
        .collect())
}

/// The copies of merged tables are no longer needed. A failure here only leaves a table in
/// the swap schema (the next rebuild empties it), so it is logged, not returned.
async fn drop_merged_copies(client: &Client, swap: &str, report: &SwapReport) {
    for m in &report.merged {
        let sql = format!("drop table if exists {}.{}", ident(swap), ident(&m.table));
        if let Err(e) = client.batch_execute(&sql).await {
            tracing::warn!(table = %m.table, error = %e, "could not drop the merged copy");
        }
    }
}

async fn run<C: GenericClient>(c: &C, sql: &str) -> Result<(), Retry> {
    c.batch_execute(sql)
        .await
        .map_err(|e| classify(&e, "the swap failed", sql))
}

/// A lock timeout, a deadlock, or a dependent object that appeared: try again later.
fn classify(e: &tokio_postgres::Error, what: &str, sql: &str) -> Retry {
    let p = sql_problem(e, what, sql);
    match e.code() {
        Some(c)
            if *c == SqlState::LOCK_NOT_AVAILABLE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::DEPENDENT_OBJECTS_STILL_EXIST =>
        {
            Retry::Again(p)
        }
        _ => Retry::Fail(p),
    }
}
