//! Reading what `inlet sync status` and a rebuild's switch-over need from a sync's own
//! tables (`_sync_state`, `_sync_rejected`): each stream's stage, checkpoint, error and
//! size. The stored state text is parsed into a [`Stage`] here, once.

use std::collections::HashMap;

use inlet_core::{Checkpoint, Stage};
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, GenericClient};

use crate::problem::{Problem, ProblemKind};
use crate::read_role::sql_problem;
use crate::sql::ident;

/// One stream's row of `_sync_state`.
#[derive(Clone, Debug)]
pub struct StreamRow {
    pub stream: String,
    pub stage: Stage,
    pub checkpoint: Option<Checkpoint>,
    /// `{reason, fix, retry_in_secs}` of the last error, while it lasts.
    pub error: Option<Value>,
    pub updated_at: Option<String>,
    /// The server's clock when read (Unix seconds), to measure lag against.
    pub now: f64,
}

/// Every stream's row, by name; empty when the sync never ran in `schema`.
pub async fn streams(c: &Client, schema: &str) -> Result<Vec<StreamRow>, Problem> {
    let sql = format!(
        "select stream, state, checkpoint, error, updated_at::text, extract(epoch from now())::float8 \
           from {}._sync_state order by stream",
        ident(schema)
    );
    let rows = match c.query(&sql, &[]).await {
        Ok(rows) => rows,
        Err(e)
            if e.code() == Some(&SqlState::UNDEFINED_TABLE)
                || e.code() == Some(&SqlState::INVALID_SCHEMA_NAME) =>
        {
            return Ok(Vec::new()); // never run yet
        }
        Err(e) => return Err(sql_problem(&e, "could not read the sync's state", &sql)),
    };
    rows.iter()
        .map(|r| {
            let text: String = r.get(1);
            let stage = Stage::parse(&text).ok_or_else(|| {
                Problem::new(
                    ProblemKind::ServerError,
                    format!("_sync_state holds a state this inlet does not know: \"{text}\""),
                    "run the newest inlet, which wrote it",
                )
            })?;
            Ok(StreamRow {
                stream: r.get(0),
                stage,
                checkpoint: r.get::<_, Option<Value>>(2).map(Checkpoint),
                error: r.get(3),
                updated_at: r.get(4),
                now: r.get(5),
            })
        })
        .collect()
}

/// The checkpoints of `streams` in `schema` (a stream without a row is absent).
pub async fn checkpoints<C: GenericClient>(
    c: &C,
    schema: &str,
    streams: &[String],
) -> Result<HashMap<String, Option<Checkpoint>>, Problem> {
    let sql = format!(
        "select stream, checkpoint from {}._sync_state where stream = any($1)",
        ident(schema)
    );
    let rows = c
        .query(&sql, &[&streams])
        .await
        .map_err(|e| sql_problem(&e, "could not read the checkpoints", &sql))?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get::<_, Option<Value>>(1).map(Checkpoint)))
        .collect())
}

/// How many streams of `schema` are live; 0 when that cannot be read (no table yet).
pub async fn live_count(c: &Client, schema: &str) -> i64 {
    let sql = format!(
        "select count(*) from {}._sync_state where state = $1",
        ident(schema)
    );
    c.query_one(&sql, &[&Stage::Live.as_str()])
        .await
        .map(|r| r.get(0))
        .unwrap_or(0)
}

/// Records kept in `_sync_rejected` instead of their table, per stream.
pub async fn rejected_counts(c: &Client, schema: &str) -> Result<Vec<(String, i64)>, Problem> {
    let sql = format!(
        "select object_type, count(*) from {}._sync_rejected group by 1",
        ident(schema)
    );
    let rows = c
        .query(&sql, &[])
        .await
        .map_err(|e| sql_problem(&e, "could not count rejected records", &sql))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Rows of a synced table: exact up to a million, PostgreSQL's estimate beyond, where
/// counting would take seconds.
pub async fn row_count(c: &Client, schema: &str, table: &str) -> Result<i64, Problem> {
    let estimate =
        "select c.reltuples::float8 from pg_class c join pg_namespace n on n.oid = c.relnamespace \
                    where n.nspname = $1 and c.relname = $2";
    let est: Option<f64> = c
        .query_opt(estimate, &[&schema, &table])
        .await
        .map_err(|e| sql_problem(&e, "could not size a table", estimate))?
        .map(|r| r.get(0));
    match est {
        None => Ok(0),
        Some(n) if n > 1e6 => Ok(n as i64),
        Some(_) => {
            let sql = format!("select count(*) from {}.{}", ident(schema), ident(table));
            let row = c
                .query_one(&sql, &[])
                .await
                .map_err(|e| sql_problem(&e, "could not count rows", &sql))?;
            Ok(row.get(0))
        }
    }
}
