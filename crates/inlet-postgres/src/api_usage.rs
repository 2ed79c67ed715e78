//! `_sync_api`: the one row where a running sync keeps what its source reports of its daily
//! API budget (calls used today, the pause it is in, if any, and its day), so `inlet sync
//! status`, run anywhere, can show it, and the next run (or another worker) resumes the day
//! instead of taking a fresh share. Written by `inlet run` as reports arrive; a sync whose
//! source keeps no daily budget never has the table.

use serde_json::{json, Value};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use crate::problem::Problem;
use crate::read_role::sql_problem;
use crate::sql::ident;

/// What a source last reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageRow {
    pub calls_today: u64,
    /// (until, in Unix seconds; why), while the sync waits.
    pub paused: Option<(i64, String)>,
    /// (when the day ends, in Unix seconds; the calls it allows), once the source knows.
    pub day: Option<(i64, u64)>,
}

/// Keeps `usage` as the sync's row, creating the table the first time.
pub async fn write(c: &Client, schema: &str, usage: &UsageRow) -> Result<(), Problem> {
    let s = ident(schema);
    let create = format!(
        "create table if not exists {s}._sync_api (
            one boolean primary key default true check (one),
            calls_today bigint not null,
            paused_until timestamptz,
            paused_reason text,
            updated_at timestamptz not null default now());
         alter table {s}._sync_api add column if not exists day_ends timestamptz,
           add column if not exists day_calls bigint"
    );
    c.batch_execute(&create)
        .await
        .map_err(|e| sql_problem(&e, "could not create _sync_api", &create))?;
    let upsert = format!(
        "insert into {s}._sync_api as a (calls_today, paused_until, paused_reason, day_ends, \
           day_calls) \
         values ($1, to_timestamp($2), $3, to_timestamp($4), $5) \
         on conflict (one) do update set calls_today = excluded.calls_today, \
           paused_until = excluded.paused_until, paused_reason = excluded.paused_reason, \
           day_ends = excluded.day_ends, day_calls = excluded.day_calls, updated_at = now()"
    );
    let big = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let calls = big(usage.calls_today);
    let until = usage.paused.as_ref().map(|(u, _)| *u as f64);
    let reason = usage.paused.as_ref().map(|(_, r)| r.as_str());
    let ends = usage.day.map(|(e, _)| e as f64);
    let day_calls = usage.day.map(|(_, n)| big(n));
    c.execute(&upsert, &[&calls, &until, &reason, &ends, &day_calls])
        .await
        .map_err(|e| sql_problem(&e, "could not write _sync_api", &upsert))?;
    Ok(())
}

/// The day last written, with the calls used in it, unless it is over; `None` also when
/// the table or its day columns do not exist yet.
pub async fn current_day(c: &Client, schema: &str) -> Result<Option<UsageRow>, Problem> {
    let sql = format!(
        "select calls_today, extract(epoch from day_ends)::bigint, day_calls \
           from {}._sync_api where day_ends > now()",
        ident(schema)
    );
    let row = match c.query_opt(&sql, &[]).await {
        Ok(row) => row,
        Err(e) if missing(&e) => return Ok(None),
        Err(e) => return Err(sql_problem(&e, "could not read the API usage", &sql)),
    };
    Ok(row.map(|r| {
        let whole = |n: i64| u64::try_from(n).unwrap_or(0);
        UsageRow {
            calls_today: whole(r.get(0)),
            paused: None,
            day: Some((r.get(1), whole(r.get(2)))),
        }
    }))
}

/// The table, its schema or a column added since is not there yet.
fn missing(e: &tokio_postgres::Error) -> bool {
    [
        SqlState::UNDEFINED_TABLE,
        SqlState::INVALID_SCHEMA_NAME,
        SqlState::UNDEFINED_COLUMN,
    ]
    .iter()
    .any(|c| e.code() == Some(c))
}

/// `{calls_today, paused: {until, reason} | null, updated_at, day_ends, day_calls}`, the
/// pause and the day only while they last; `None` when the source never reported (no
/// table).
pub async fn read(c: &Client, schema: &str) -> Result<Option<Value>, Problem> {
    let sql = format!(
        "select calls_today, \
           case when paused_until > now() then \
             to_char(paused_until at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') end, \
           case when paused_until > now() then paused_reason end, \
           to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
           case when day_ends > now() then \
             to_char(day_ends at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') end, \
           case when day_ends > now() then day_calls end \
         from {}._sync_api",
        ident(schema)
    );
    let row = match c.query_opt(&sql, &[]).await {
        Ok(row) => row,
        Err(e) if missing(&e) => return Ok(None),
        Err(e) => return Err(sql_problem(&e, "could not read the API usage", &sql)),
    };
    Ok(row.map(|r| {
        let until: Option<String> = r.get(1);
        let reason: Option<String> = r.get(2);
        let paused = match (until, reason) {
            (Some(until), reason) => json!({"until": until, "reason": reason}),
            _ => Value::Null,
        };
        json!({
            "calls_today": r.get::<_, i64>(0),
            "paused": paused,
            "updated_at": r.get::<_, String>(3),
            "day_ends": r.get::<_, Option<String>>(4),
            "day_calls": r.get::<_, Option<i64>>(5),
        })
    }))
}
