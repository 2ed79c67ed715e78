//! Writing a batch: one transaction holding the records, their change-log rows and the
//! checkpoint, so the effect of each batch is all or nothing.
//!
//! 1. binary COPY of the batch into a session-local staging table;
//! 2. one statement that keeps the newest change per id, merges upserts into the table
//!    (`insert ... on conflict do update`) only where the stored version is not newer,
//!    deletes (hard, leaving a tombstone; or soft, setting `_sync_deleted_at`) under the
//!    same guard, and writes `_sync_event` rows (for updates, `changes` and `old_record`: the
//!    changed columns' new and old values);
//! 3. the checkpoint, accepted only if this batch's sequence number is above the stored
//!    one: progress never moves backward, and a writer that lost its lock cannot commit;
//! 4. `NOTIFY`, delivered at commit.

use std::borrow::Cow;

use inlet_core::{Batch, Change, Phase, Record};
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Transaction};

use crate::cell::json_text;
use crate::copy_rows::copy_records;
use crate::key::{key_list, record_key};
use crate::merge::{merge_sql, sweep_sql};
use crate::problem::Problem;
use crate::read_role::sql_problem;
use crate::sql::ident;
use crate::tables::Table;

/// What a delete does to the row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeleteMode {
    /// Remove the row (the default).
    #[default]
    Hard,
    /// Keep the row and set `_sync_deleted_at`.
    Soft,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct WriteOptions {
    pub deletes: DeleteMode,
    /// Record backfill batches in `_sync_event` too (`events.include_backfill`).
    pub events_for_backfill: bool,
    /// The caller knows the stream has no tombstones, so a backfill batch may be copied
    /// straight into the table (falling back to the merge if any of its rows exists).
    pub direct_backfill: bool,
}

/// What one batch changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriteStats {
    pub inserted: i64,
    pub updated: i64,
    pub deleted: i64,
    pub events: i64,
    /// Values kept in `_sync_extra` because they did not fit their column.
    pub extra_values: i64,
    /// Records no row can hold (an unusable id or key), kept in `_sync_rejected` with the reason.
    pub rejected: i64,
    /// The batch was copied straight into the table (the backfill fast path).
    pub direct: bool,
}

/// The records a row can hold (the batch itself, not a copy, in the usual case of no
/// rejects), and the others with the reason.
fn split_rejected<'a>(
    table: &Table,
    records: &'a [Record],
) -> (Cow<'a, [Record]>, Vec<(&'a Record, String)>) {
    let problem = |r: &Record| record_key(table, &r.id).err();
    let rejected: Vec<(&Record, String)> = records
        .iter()
        .filter_map(|r| problem(r).map(|why| (r, why)))
        .collect();
    if rejected.is_empty() {
        return (Cow::Borrowed(records), rejected);
    }
    let kept = records
        .iter()
        .filter(|r| problem(r).is_none())
        .cloned()
        .collect();
    (Cow::Owned(kept), rejected)
}

/// Keeps rejected records, whole and readable, in `_sync_rejected`, in the batch's
/// transaction: a rejected record is never lost, and never rejected twice.
async fn reject(
    tx: &Transaction<'_>,
    table: &Table,
    rejected: &[(&Record, String)],
) -> Result<i64, WriteError> {
    let sql = format!(
        "insert into {}._sync_rejected (object_type, reason, record) values ($1, $2, $3::text::jsonb)",
        ident(&table.schema)
    );
    for (record, why) in rejected {
        let (fields, deleted) = match &record.change {
            Change::Upsert(f) => (Value::Object(f.clone()), false),
            Change::Delete => (Value::Null, true),
        };
        let doc = serde_json::json!({
            "id": record.id,
            "deleted": deleted,
            "version": [record.version.ts_micros, record.version.seq],
            "fields": fields,
        });
        tx.execute(&sql, &[&table.name, why, &json_text(&doc)])
            .await
            .map_err(|e| db(&e, "could not keep a rejected record", &sql))?;
        tracing::warn!(table = %table.name, reason = %why, "record rejected");
    }
    Ok(rejected.len() as i64)
}

/// Asks the session to compress large values (change-log payloads above all) with lz4
/// rather than pglz: several times faster to write, as readable. Servers before 14 or built
/// without lz4 refuse; they keep pglz, which is only slower.
pub async fn prefer_lz4(client: &Client) {
    if let Err(e) = client
        .batch_execute("set default_toast_compression = 'lz4'")
        .await
    {
        tracing::debug!(reason = %e, "the server keeps pglz for large values");
    }
}

/// The NOTIFY channel woken when `_sync_event` rows commit; the payload is `schema.table`.
pub const NOTIFY_CHANNEL: &str = "inlet_sync_event";

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Another writer committed this stream's progress first: this one must stop.
    #[error("another writer advanced stream {stream} past batch {batch_seq}; this writer stops")]
    Fenced { stream: String, batch_seq: i64 },
    #[error(transparent)]
    Database(#[from] Problem),
}

/// Writes `batch` to `table`, and its checkpoint as stream `stream` at `batch_seq`.
pub async fn write_batch(
    client: &mut Client,
    table: &Table,
    stream: &str,
    batch: &Batch,
    batch_seq: i64,
    options: WriteOptions,
) -> Result<WriteStats, WriteError> {
    let events = batch.phase == Phase::Live || options.events_for_backfill;
    let (records, rejected) = split_rejected(table, &batch.records);
    let direct = options.direct_backfill && !events && is_plain_insert(&records);
    let mut tx = begin(client).await?;
    let mut copied = None;
    if direct {
        copied = direct_copy(&tx, table, &records).await?;
        if copied.is_none() {
            // A row of the batch is there already (a restart): the merge takes the batch.
            tx.rollback()
                .await
                .map_err(|e| db(&e, "could not roll back", "rollback"))?;
            tx = begin(client).await?;
        }
    }
    let mut stats = match copied {
        Some(stats) => stats,
        None => staged_merge(&tx, table, &records, options.deletes, events).await?,
    };
    stats.rejected = reject(&tx, table, &rejected).await?;
    if let Some(before) = batch.sweep {
        let within = batch.sweep_within.as_ref();
        let sweep = sweep_sql(table, options.deletes, within.map(|w| w.column.as_str()));
        let (name, ts, seq) = (&table.name, &before.ts_micros, &before.seq);
        let row = match within {
            Some(w) => tx.query_one(&sweep, &[name, ts, seq, &w.values]).await,
            None => tx.query_one(&sweep, &[name, ts, seq]).await,
        }
        .map_err(|e| db(&e, "could not remove rows the source no longer has", &sweep))?;
        let gone: i64 = row.get(0);
        stats.deleted += gone;
        stats.events += gone;
    }
    tracing::debug!(
        stream,
        batch_seq,
        direct = stats.direct,
        "batch applied, not committed"
    );

    let s = ident(&table.schema);
    let written = stats.inserted + stats.updated + stats.deleted;
    let state = state_after(batch.phase).as_str();
    let checkpoint = format!(
        "insert into {s}._sync_state as st (stream, state, checkpoint, batch_seq, rows_written) \
         values ($1, $2, $3::text::jsonb, $4, $5) \
         on conflict (stream) do update set state = excluded.state, \
           checkpoint = excluded.checkpoint, batch_seq = excluded.batch_seq, \
           rows_written = st.rows_written + excluded.rows_written, error = null, updated_at = now() \
         where st.batch_seq < excluded.batch_seq"
    );
    let checkpoint_json = json_text(&batch.checkpoint.0);
    let accepted = tx
        .execute(
            &checkpoint,
            &[&stream, &state, &checkpoint_json, &batch_seq, &written],
        )
        .await
        .map_err(|e| db(&e, "could not store the checkpoint", &checkpoint))?;
    if accepted != 1 {
        return Err(WriteError::Fenced {
            stream: stream.to_string(),
            batch_seq,
        });
    }
    if stats.events > 0 {
        let payload = format!("{}.{}", table.schema, table.name);
        tx.execute("select pg_notify($1, $2)", &[&NOTIFY_CHANNEL, &payload])
            .await
            .map_err(|e| db(&e, "could not notify", "pg_notify"))?;
    }
    tx.commit()
        .await
        .map_err(|e| db(&e, "could not commit the batch", "commit"))?;
    tracing::debug!(stream, batch_seq, "batch committed");
    Ok(stats)
}

async fn begin(client: &mut Client) -> Result<Transaction<'_>, WriteError> {
    client
        .transaction()
        .await
        .map_err(|e| db(&e, "could not begin", "begin"))
}

/// A batch the direct path can take: upserts only, each id once (two ids of one key, as
/// `7` and `07` in a bigint key, make the COPY fail, and the merge takes the batch).
fn is_plain_insert(records: &[Record]) -> bool {
    let mut seen = std::collections::HashSet::with_capacity(records.len());
    records
        .iter()
        .all(|r| matches!(r.change, Change::Upsert(_)) && seen.insert(r.id.as_str()))
}

/// Backfill's fast path: COPY straight into the table. With no row of the batch present
/// yet, no tombstone for the stream (the caller's promise) and each id once, this is exactly
/// what the merge would do. If a row is present after all, the COPY fails (`None`), and the
/// caller rolls back and merges instead: rare (a restart), so the common case pays for no
/// savepoint.
async fn direct_copy(
    tx: &Transaction<'_>,
    table: &Table,
    records: &[Record],
) -> Result<Option<WriteStats>, WriteError> {
    let mut columns = vec![key_list(table, None)];
    columns.extend(table.columns.iter().map(|(n, _)| ident(n)));
    columns.extend(["_sync_extra", "_sync_version_ts", "_sync_version_seq"].map(String::from));
    let copy = format!(
        "copy {}.{} ({}) from stdin (format binary)",
        ident(&table.schema),
        ident(&table.name),
        columns.join(", ")
    );
    match copy_records(tx, &copy, table, records, false).await {
        Ok(extra_values) => {
            let inserted = records.len() as i64;
            Ok(Some(WriteStats {
                inserted,
                extra_values,
                direct: true,
                ..WriteStats::default()
            }))
        }
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(None),
        Err(e) => Err(db(&e, "COPY into the table failed", &copy)),
    }
}

/// The stream's state once a batch of `phase` is written.
pub fn state_after(phase: Phase) -> inlet_core::Stage {
    match phase {
        Phase::Backfill => inlet_core::Stage::Backfilling,
        Phase::Live => inlet_core::Stage::Live,
    }
}

/// The general path: COPY into the session's staging table, then one merge statement.
async fn staged_merge(
    tx: &Transaction<'_>,
    table: &Table,
    records: &[Record],
    deletes: DeleteMode,
    events: bool,
) -> Result<WriteStats, WriteError> {
    let stage = stage_name(table);
    let create = format!(
        "create temp table if not exists {} ({}) on commit delete rows",
        ident(&stage),
        stage_columns(table).join(", ")
    );
    tx.batch_execute(&create)
        .await
        .map_err(|e| db(&e, "could not create staging", &create))?;
    let copy = format!("copy {} from stdin (format binary)", ident(&stage));
    let extra_values = copy_records(tx, &copy, table, records, true)
        .await
        .map_err(|e| db(&e, "COPY into staging failed", &copy))?;
    // The staging table is emptied at every commit, so without fresh statistics the planner
    // takes it for empty and joins the merge's steps by nested loops: quadratic in the batch.
    // The row count and the columns the merge joins and filters on are all it needs; the
    // other columns' statistics would cost more than the merge itself.
    tracing::debug!(table = %table.name, rows = records.len(), "batch staged");
    let analyze = format!(
        "analyze {} ({}, _deleted)",
        ident(&stage),
        key_list(table, None)
    );
    let merge = merge_sql(table, &stage, deletes, events);
    // Both are sent at once, and the merge with its parameter's type, so that it needs no
    // round trip of its own to be prepared: one round trip for the two.
    let (_, row) = tokio::try_join!(
        async {
            (tx.batch_execute(&analyze).await)
                .map_err(|e| db(&e, "could not analyze staging", &analyze))
        },
        async {
            (tx.query_typed_one(&merge, &[(&table.name, Type::TEXT)])
                .await)
                .map_err(|e| db(&e, &format!("could not merge into {}", table.name), &merge))
        },
    )?;
    Ok(WriteStats {
        inserted: row.get(0),
        updated: row.get(1),
        deleted: row.get(2),
        events: row.get(3),
        extra_values,
        rejected: 0,
        direct: false,
    })
}

/// The stored batch sequence of a stream (0 when it never wrote): a writer continues from it.
pub async fn batch_seq(client: &Client, schema: &str, stream: &str) -> Result<i64, Problem> {
    let sql = format!(
        "select batch_seq from {}._sync_state where stream = $1",
        ident(schema)
    );
    let rows = client
        .query(&sql, &[&stream])
        .await
        .map_err(|e| sql_problem(&e, "could not read state", &sql))?;
    Ok(rows.first().map(|r| r.get(0)).unwrap_or(0))
}

/// Deletes `_sync_event` rows older than `keep`, `chunk` rows per transaction, so no
/// statement holds locks for long and consumers reading the log are never blocked. Returns
/// how many rows went.
pub async fn prune_events(
    client: &Client,
    schema: &str,
    keep: std::time::Duration,
    chunk: i64,
) -> Result<u64, Problem> {
    let sql = format!(
        "delete from {s}._sync_event where id in (
           select id from {s}._sync_event
            where inserted_at < now() - make_interval(secs => $1)
            order by id limit $2)",
        s = ident(schema)
    );
    let keep_secs = keep.as_secs_f64();
    let mut total = 0;
    loop {
        let n = client
            .execute(&sql, &[&keep_secs, &chunk])
            .await
            .map_err(|e| sql_problem(&e, "could not prune _sync_event", &sql))?;
        total += n;
        if n < chunk.max(1) as u64 {
            return Ok(total);
        }
    }
}

fn db(e: &tokio_postgres::Error, what: &str, statement: &str) -> WriteError {
    WriteError::Database(sql_problem(e, what, statement))
}

/// One staging table per table shape; temp tables are private to the writer's session.
fn stage_name(table: &Table) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a over the table's shape
    for part in [&table.schema, &table.name]
        .into_iter()
        .chain(table.key.iter().chain(&table.columns).map(|(n, _)| n))
    {
        for b in part.bytes().chain([0]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("inlet_stage_{h:016x}")
}

fn stage_columns(table: &Table) -> Vec<String> {
    let mut cols = vec!["_ord int4".to_string(), "_deleted bool".into()];
    cols.extend(
        (table.key.iter().chain(&table.columns)).map(|(n, t)| format!("{} {}", ident(n), t.sql())),
    );
    cols.extend([
        "_sync_extra jsonb".into(),
        "_ts int8".into(),
        "_seq int8".into(),
    ]);
    cols
}
