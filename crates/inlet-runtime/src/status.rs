//! A sync's status document, as `inlet sync status --json` prints it and `GET /api/v1/syncs`
//! serves it: read from the destination, where the engine keeps each stream's state, so it
//! tells the truth whichever machine runs the sync.

use inlet_connectors::registry::Connector;
use inlet_core::Stage;
use inlet_postgres::stream_status;
use inlet_postgres::verify::{read_role_findings, Finding};
use inlet_postgres::{Problem, ProblemKind};
use serde::Serialize;
use serde_json::{json, Value};

use crate::config;
use crate::connect::connect_as_sync_user;
use crate::paths::Paths;
use crate::sync_config::SyncConfig;

/// One sync's status: its streams, the rebuild or rename in progress, read-role warnings.
#[derive(Debug)]
pub struct SyncStatus {
    pub name: String,
    pub destination: String,
    pub schema: String,
    pub source: &'static str,
    pub streams: Vec<StreamStatus>,
    pub in_progress: Option<Value>,
    pub warnings: Vec<Finding>,
    /// Where the source keeps a daily API budget: `{calls_today, paused: {until, reason} |
    /// null, updated_at, day_ends, day_calls}` (the calls its current day used; the pause,
    /// while it lasts; when the day ends and the calls its share allows in it).
    pub api: Option<Value>,
}

impl SyncStatus {
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name, "source": self.source, "destination": self.destination,
            "schema": self.schema, "streams": self.streams, "in_progress": self.in_progress,
            "warnings": self.warnings, "api": self.api,
        })
    }

    pub fn errored(&self) -> bool {
        self.streams
            .iter()
            .any(|s| s.state == Shown::Stage(Stage::Errored))
    }
}

/// The configured syncs (`only`: that one), with their entries in `inlet.toml`.
pub fn chosen(paths: &Paths, only: Option<&str>) -> Result<Vec<(String, SyncConfig)>, Problem> {
    let cfg = config::load(&paths.config)?;
    let chosen: Vec<_> = cfg
        .syncs
        .into_iter()
        .filter(|(n, _)| only.is_none_or(|want| want == n.as_str()))
        .collect();
    if let (Some(want), true) = (only, chosen.is_empty()) {
        return Err(Problem::new(
            ProblemKind::InvalidOption,
            format!("there is no sync \"{want}\""),
            "see `inlet sync list`",
        ));
    }
    Ok(chosen)
}

/// Reads one sync's status from its destination.
pub async fn sync_status(
    paths: &Paths,
    name: &str,
    sync: &SyncConfig,
) -> Result<SyncStatus, Problem> {
    let (streams, warnings) = read(paths, sync.source.0, &sync.destination, &sync.schema).await?;
    let in_progress = in_progress(paths, &sync.destination, &sync.schema).await;
    let api = api_usage(paths, &sync.destination, &sync.schema).await?;
    Ok(SyncStatus {
        api,
        name: name.to_string(),
        destination: sync.destination.clone(),
        schema: sync.schema.clone(),
        source: sync.source.name(),
        streams,
        in_progress,
        warnings,
    })
}

/// `{"syncs": [...]}` for the configured syncs (`only`: that one). `Err`: a sync's state
/// cannot be read (the problem says which and why).
pub async fn document(paths: &Paths, only: Option<&str>) -> Result<Value, Problem> {
    let mut report = Vec::new();
    for (name, sync) in chosen(paths, only)? {
        report.push(sync_status(paths, &name, &sync).await?.to_json());
    }
    Ok(json!({ "syncs": report }))
}

#[derive(Debug, Serialize)]
pub struct StreamStatus {
    pub stream: String,
    /// pending, backfilling, live, errored; `left_alone` once a person owns the table
    /// (`alter table ... owner to ...`).
    pub state: Shown,
    pub rows: i64,
    /// Seconds since the stream was last known complete (live streams).
    pub lag_seconds: Option<f64>,
    /// Records kept in `_sync_rejected` instead of the table.
    pub rejected: i64,
    /// `{reason, fix, retry_in_secs}` of the last error, while it lasts.
    pub error: Option<Value>,
    pub updated_at: Option<String>,
    /// A backfill read in partitions: `{done, total}` (partitions complete, in all).
    pub partitions: Option<Value>,
    /// What the source says a person should know that is not an error.
    pub notes: Vec<String>,
}

/// A stream's state as status shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    Stage(Stage),
    LeftAlone,
}

impl Shown {
    pub fn as_str(self) -> &'static str {
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
        let notes = (row.checkpoint.as_ref()).map_or_else(Vec::new, |c| source.notes(c));
        out.push(StreamStatus {
            notes,
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

/// What the source last reported of its daily API budget, if it keeps one.
async fn api_usage(
    paths: &Paths,
    destination: &str,
    schema: &str,
) -> Result<Option<Value>, Problem> {
    let (_, session) = connect_as_sync_user(paths, destination).await?;
    inlet_postgres::api_usage::read(&session.client, schema).await
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
