//! `inlet sync status`: read from the destination, where the engine keeps each stream's
//! state, so it tells the truth whichever machine runs the sync.

use serde::Serialize;
use serde_json::{json, Value};
use tokio_postgres::Client;

use inlet_connectors::registry::Connector;
use inlet_core::Checkpoint;

use inlet_postgres::sql::ident;
use inlet_postgres::verify::{read_role_findings, Finding};
use inlet_postgres::{Problem, ProblemKind};

use crate::commands::destination::connect_as_sync_user;
use crate::config;
use crate::exit::Code;
use crate::output;
use crate::paths::Paths;

#[derive(Debug, Serialize)]
struct StreamStatus {
    stream: String,
    /// pending, backfilling, live, errored; `not_started` before the first run;
    /// `left_alone` once a person owns the table (`alter table ... owner to ...`).
    state: String,
    rows: i64,
    /// Seconds since the stream was last known complete (live streams).
    lag_seconds: Option<f64>,
    /// Records kept in `_sync_rejected` instead of the table.
    rejected: i64,
    /// `{reason, fix, retry_in_secs}` of the last error, while it lasts.
    error: Option<Value>,
    updated_at: Option<String>,
}

pub async fn status(paths: &Paths, name: Option<&str>, json: bool) -> Code {
    let cfg = match config::load(&paths.config) {
        Ok(c) => c,
        Err(p) => return output::problem(&p, None, json),
    };
    let chosen: Vec<_> = cfg
        .syncs
        .iter()
        .filter(|(n, _)| name.is_none_or(|want| want == n.as_str()))
        .collect();
    if let (Some(want), true) = (name, chosen.is_empty()) {
        let p = Problem::new(
            ProblemKind::InvalidOption,
            format!("there is no sync \"{want}\""),
            "see `inlet sync list`",
        );
        return output::problem(&p, None, json);
    }
    let mut report = Vec::new();
    let mut code = Code::Ok;
    for (sync_name, sync) in chosen {
        let read = read(paths, sync.source.0, &sync.destination, &sync.schema).await;
        let (streams, warnings) = match read {
            Ok(s) => s,
            Err(p) => {
                if !json {
                    eprintln!("sync \"{sync_name}\": cannot read its state");
                }
                code = output::problem(&p, None, json);
                continue;
            }
        };
        if streams.iter().any(|s| s.state == "errored") {
            code = Code::Problem;
        }
        let change = in_progress(paths, &sync.destination, &sync.schema).await;
        if !json {
            print_text(sync_name, &sync.destination, &sync.schema, &streams);
            if !warnings.is_empty() {
                output::findings(&warnings);
            }
            if let Some(c) = &change {
                println!(
                    "  {} in progress → schema \"{}\": {} ({} of {} streams caught up)",
                    c["kind"].as_str().unwrap_or(""),
                    c["target"].as_str().unwrap_or(""),
                    c["state"].as_str().unwrap_or(""),
                    c["caught_up"],
                    streams.len()
                );
            }
        }
        report.push(json!({
            "name": sync_name, "source": sync.source.name(), "destination": sync.destination,
            "schema": sync.schema, "streams": streams, "in_progress": change,
            "warnings": warnings,
        }));
    }
    if json {
        println!("{}", json!({ "syncs": report }));
    }
    code
}

async fn read(
    paths: &Paths,
    source: &dyn Connector,
    destination: &str,
    schema: &str,
) -> Result<(Vec<StreamStatus>, Vec<Finding>), Problem> {
    let (dest, session) = connect_as_sync_user(paths, destination).await?;
    let client = &session.client;
    let warnings = read_role_findings(client, dest.read_role.as_deref()).await?;
    let s = ident(schema);
    let sql = format!(
        "select stream, state, checkpoint, error, updated_at::text, extract(epoch from now())::float8 \
           from {s}._sync_state order by stream"
    );
    let rows = match client.query(&sql, &[]).await {
        Ok(rows) => rows,
        Err(e)
            if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE)
                || e.code() == Some(&tokio_postgres::error::SqlState::INVALID_SCHEMA_NAME) =>
        {
            return Ok((Vec::new(), warnings)); // never run yet
        }
        Err(e) => {
            return Err(inlet_postgres::sql_problem(
                &e,
                "could not read the sync's state",
                &sql,
            ))
        }
    };
    let rejected = rejected_counts(client, schema).await?;
    let mut out = Vec::new();
    for row in rows {
        let stream: String = row.get(0);
        let checkpoint: Option<Value> = row.get(2);
        let now: f64 = row.get(5);
        let checked = checkpoint
            .map(Checkpoint)
            .and_then(|c| source.complete_until(&c))
            .map(|c| c as f64);
        // A table a person took over is not synced any more, whatever its last state was.
        let left_alone = matches!(
            inlet_postgres::ownership::owner(client, schema, &stream).await?,
            inlet_postgres::ownership::Owner::Other(_)
        );
        out.push(StreamStatus {
            rows: count(client, schema, &stream).await?,
            rejected: rejected
                .iter()
                .find(|(s, _)| *s == stream)
                .map_or(0, |(_, n)| *n),
            state: match left_alone {
                true => "left_alone".to_string(),
                false => row.get(1),
            },
            lag_seconds: checked.map(|c| (now - c).max(0.0)),
            error: row.get(3),
            updated_at: row.get(4),
            stream,
        });
    }
    Ok((out, warnings))
}

/// The rebuild or rename in progress, if any: `{kind, target, state, reason, caught_up}`
/// (streams of the copy that reached the present). Best effort: status shows the streams
/// even if this cannot be read.
async fn in_progress(paths: &Paths, destination: &str, schema: &str) -> Option<Value> {
    let (_, session) = connect_as_sync_user(paths, destination).await.ok()?;
    let req = inlet_postgres::lifecycle::pending(&session.client, schema)
        .await
        .ok()
        .flatten()?;
    let sql = format!(
        "select count(*) from {}._sync_state where state = 'live'",
        ident(&req.target)
    );
    let caught_up: i64 = session
        .client
        .query_one(&sql, &[])
        .await
        .map(|r| r.get(0))
        .unwrap_or(0);
    Some(json!({
        "kind": req.kind, "target": req.target, "state": req.state, "reason": req.reason,
        "caught_up": caught_up,
    }))
}

/// Exact for tables up to a million rows; PostgreSQL's estimate beyond, where counting
/// would take seconds.
async fn count(client: &Client, schema: &str, table: &str) -> Result<i64, Problem> {
    let estimate =
        "select c.reltuples::float8 from pg_class c join pg_namespace n on n.oid = c.relnamespace \
                    where n.nspname = $1 and c.relname = $2";
    let est: Option<f64> = client
        .query_opt(estimate, &[&schema, &table])
        .await
        .map_err(|e| inlet_postgres::sql_problem(&e, "could not size a table", estimate))?
        .map(|r| r.get(0));
    match est {
        None => Ok(0),
        Some(n) if n > 1e6 => Ok(n as i64),
        Some(_) => {
            let sql = format!("select count(*) from {}.{}", ident(schema), ident(table));
            let row = client
                .query_one(&sql, &[])
                .await
                .map_err(|e| inlet_postgres::sql_problem(&e, "could not count rows", &sql))?;
            Ok(row.get(0))
        }
    }
}

async fn rejected_counts(client: &Client, schema: &str) -> Result<Vec<(String, i64)>, Problem> {
    let sql = format!(
        "select object_type, count(*) from {}._sync_rejected group by 1",
        ident(schema)
    );
    let rows = client
        .query(&sql, &[])
        .await
        .map_err(|e| inlet_postgres::sql_problem(&e, "could not count rejected records", &sql))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

fn print_text(name: &str, destination: &str, schema: &str, streams: &[StreamStatus]) {
    println!("{name}  → {destination}, schema \"{schema}\"");
    if streams.is_empty() {
        println!("  not started: run `inlet run`");
        return;
    }
    println!(
        "  {:<22} {:<12} {:>10} {:>8} {:>9}",
        "STREAM", "STATE", "ROWS", "LAG", "REJECTED"
    );
    for s in streams {
        let lag = s
            .lag_seconds
            .map_or("-".to_string(), |l| format!("{l:.0}s"));
        println!(
            "  {:<22} {:<12} {:>10} {:>8} {:>9}",
            s.stream, s.state, s.rows, lag, s.rejected
        );
        if let Some(e) = &s.error {
            if let Some(reason) = e["reason"].as_str() {
                println!("      error  {reason}");
            }
            if let Some(fix) = e["fix"].as_str() {
                println!("      fix    {fix}");
            }
            match e["retry_in_secs"].as_u64() {
                Some(secs) => println!("      retry  in {secs}s, by itself"),
                None => println!("      retry  after the fix, at the next `inlet run`"),
            }
        }
    }
}
