//! `inlet sync status`: read from the destination, where the engine keeps each stream's
//! state, so it tells the truth whichever machine runs the sync.

use inlet_connectors::registry::Connector;
use inlet_core::Stage;
use inlet_postgres::stream_status;
use inlet_postgres::verify::{read_role_findings, Finding};
use inlet_postgres::{Problem, ProblemKind};
use serde::Serialize;
use serde_json::{json, Value};

use crate::commands::destination::connect_as_sync_user;
use crate::config;
use crate::exit::Code;
use crate::output;
use crate::paths::Paths;

#[derive(Debug, Serialize)]
struct StreamStatus {
    stream: String,
    /// pending, backfilling, live, errored; `left_alone` once a person owns the table
    /// (`alter table ... owner to ...`).
    state: Shown,
    rows: i64,
    /// Seconds since the stream was last known complete (live streams).
    lag_seconds: Option<f64>,
    /// Records kept in `_sync_rejected` instead of the table.
    rejected: i64,
    /// `{reason, fix, retry_in_secs}` of the last error, while it lasts.
    error: Option<Value>,
    updated_at: Option<String>,
    /// A backfill read in partitions: `{done, total}` (partitions complete, in all).
    partitions: Option<Value>,
}

/// A stream's state as status shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shown {
    Stage(Stage),
    LeftAlone,
}

impl Shown {
    fn as_str(self) -> &'static str {
        match self {
            Shown::Stage(s) => s.as_str(),
            Shown::LeftAlone => "left_alone",
        }
    }
}

impl Serialize for Shown {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
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
        if streams
            .iter()
            .any(|s| s.state == Shown::Stage(Stage::Errored))
        {
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
    let rows = stream_status::streams(client, schema).await?;
    if rows.is_empty() {
        return Ok((Vec::new(), warnings)); // never run yet
    }
    let rejected = stream_status::rejected_counts(client, schema).await?;
    let mut out = Vec::new();
    for row in rows {
        let checked = row
            .checkpoint
            .as_ref()
            .and_then(|c| source.complete_until(c))
            .map(|c| c as f64);
        let partitions = (row.checkpoint.as_ref())
            .and_then(|c| source.partitions(c))
            .map(|(done, total)| json!({"done": done, "total": total}));
        // A table a person took over is not synced any more, whatever its last state was.
        let left_alone = matches!(
            inlet_postgres::ownership::owner(client, schema, &row.stream).await?,
            inlet_postgres::ownership::Owner::Other(_)
        );
        out.push(StreamStatus {
            rows: stream_status::row_count(client, schema, &row.stream).await?,
            rejected: rejected
                .iter()
                .find(|(s, _)| *s == row.stream)
                .map_or(0, |(_, n)| *n),
            state: match left_alone {
                true => Shown::LeftAlone,
                false => Shown::Stage(row.stage),
            },
            lag_seconds: checked.map(|c| (row.now - c).max(0.0)),
            error: row.error,
            updated_at: row.updated_at,
            partitions,
            stream: row.stream,
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
    let caught_up = stream_status::live_count(&session.client, &req.target).await;
    Some(json!({
        "kind": req.kind, "target": req.target, "state": req.state, "reason": req.reason,
        "caught_up": caught_up,
    }))
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
            s.stream,
            s.state.as_str(),
            s.rows,
            lag,
            s.rejected
        );
        if let Some(p) = s
            .partitions
            .as_ref()
            .filter(|_| s.state == Shown::Stage(Stage::Backfilling))
        {
            println!("      parts  {}/{} partitions done", p["done"], p["total"]);
        }
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
