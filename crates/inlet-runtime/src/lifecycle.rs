//! Rebuilds and renames while the sync keeps running: the driver `inlet run` (and `inlet
//! sync rebuild|rename-schema`, when no `inlet run` holds the sync, see `carry_out`) goes
//! through on each opening of a sync.
//!
//! A copy is a second engine writing into the target schema (the swap schema, or the new
//! name) from a full backfill, while the first keeps the live schema current. When every
//! stream of the copy has reached the present, the live engine stops after its committed
//! batch, the copy's once it has every change the live schema has, and, on the session
//! holding the live schema's lock, the copy is swapped in
//! (rebuild) or the sync moves to the new schema (rename). The request, its progress and
//! its end are recorded in `_sync_lifecycle`, so SIGKILL at any point resumes: the copy
//! from its own checkpoints, and the switch is one transaction that has happened or not.

use std::sync::Arc;
use std::time::Duration;

use inlet_connectors::http::{ApiDay, ApiUsage, Meter};
use inlet_connectors::registry::Connector;
use inlet_core::{run_sync, Outcome, Source};
use inlet_postgres::lifecycle::{self, Kind, Request, RequestState};
use inlet_postgres::schema_name::check_free;
use inlet_postgres::sink::PgSink;
use inlet_postgres::swap::swap;
use inlet_postgres::writer::WriteOptions;
use inlet_postgres::{Problem, ProblemKind};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::config;
use crate::connect::connect_as_sync_user;
use crate::paths::Paths;
use crate::run::wait;
use crate::sources;
use crate::sync_config::SyncConfig;

/// How one opening of a sync ended.
#[derive(Debug)]
pub enum Step {
    /// Stopped by the caller (SIGTERM), after the batches being written committed.
    Stopped,
    /// A rebuild or rename finished (its request id and report): open the sync again.
    Switched(i64, Value),
    /// Something changed (a request arrived, the sync had moved): open the sync again.
    Reopen,
    /// Every stream ended, at least one waiting for a person.
    NeedsPerson,
}

pub fn write_options(sync: &SyncConfig) -> WriteOptions {
    WriteOptions {
        deletes: sync.deletes,
        events_for_backfill: sync.events.include_backfill,
        direct_backfill: false,
    }
}

/// Runs the sync on `sink` (which holds the live schema's lock) until stopped or until a
/// lifecycle step changes where it writes. A copy's source tells `meter` of its requests,
/// as the live `source` tells its own.
#[allow(clippy::too_many_arguments)]
pub async fn drive(
    paths: &Paths,
    name: &str,
    sync: &mut SyncConfig,
    source: &Arc<dyn Source>,
    mut sink: PgSink,
    read_role: &str,
    stop: watch::Receiver<bool>,
    meter: &Meter,
) -> Result<Step, Problem> {
    let schema = sync.schema.clone();
    if let Some(to) = lifecycle::moved_to(sink.client_mut(), &schema).await? {
        tracing::info!(sync = %name, from = %schema, to = %to, "the sync moved: following");
        follow(paths, name, sync, &to)?;
        return Ok(Step::Reopen);
    }
    request_needed_rebuild(name, sync, &mut sink).await?;
    if let Some(req) = lifecycle::pending(sink.client_mut(), &schema).await? {
        return copy_and_switch(paths, name, sync, source, sink, read_role, req, stop, meter).await;
    }
    // The streams as the source described them when the sink opened, a moment ago: asking
    // again cost HubSpot a request per object type (a whole portal's start 3 s more).
    let specs = sink.streams().to_vec();
    let (found_tx, found) = watch::channel(false);
    let watcher = tokio::spawn(watch_requests(
        paths.clone(),
        sync.clone(),
        stop.clone(),
        found_tx,
    ));
    // A column the source retyped meanwhile: opening again finds it and asks for a rebuild.
    let retyped = sink.retyped();
    let outcome = run_sync(
        source.clone(),
        &specs,
        &mut sink,
        tokio::time::sleep,
        until(stop.clone(), found.clone(), Some(retyped)),
    )
    .await;
    watcher.abort();
    match outcome {
        Err(e) => Err(Problem::new(ProblemKind::ServerError, e.to_string(), "")),
        Ok(Outcome::Stopped) if *stop.borrow() => Ok(Step::Stopped),
        Ok(Outcome::Stopped) if *found.borrow() => {
            // Carried out on this session, which keeps the sync's lock: opening again would
            // let it go for a moment, and an `inlet sync rebuild` waiting for this process
            // could take the lock and do the whole copy itself while this one stood by.
            // The copy's tables are made from the streams as the source describes them now;
            // if that changed since the sink opened, opening again takes it in.
            let now = discover(source.as_ref()).await?;
            match lifecycle::pending(sink.client_mut(), &schema).await? {
                Some(req) if now == specs => {
                    copy_and_switch(paths, name, sync, source, sink, read_role, req, stop, meter)
                        .await
                }
                _ => Ok(Step::Reopen),
            }
        }
        Ok(Outcome::Stopped) => Ok(Step::Reopen),
        Ok(_) => Ok(Step::NeedsPerson),
    }
}

/// A rebuild the tables need: a column whose type changed, or a new API version.
async fn request_needed_rebuild(
    name: &str,
    sync: &SyncConfig,
    sink: &mut PgSink,
) -> Result<(), Problem> {
    let schema = sync.schema.clone();
    if lifecycle::pending(sink.client_mut(), &schema)
        .await?
        .is_some()
    {
        return Ok(()); // one copy at a time: asked again at the next opening
    }
    let wanted = sync.source.schema_version(&sync.options);
    let version = wanted.value;
    let mut reasons = Vec::new();
    let before = lifecycle::source_version(sink.client_mut(), &schema).await?;
    if let Some(before) = before.as_ref().filter(|b| **b != version) {
        reasons.push(format!(
            "{} changed from {before} to {version}",
            wanted.label
        ));
    }
    if !sink.conflicts.is_empty() {
        let columns: Vec<String> = sink
            .conflicts
            .iter()
            .map(|c| {
                format!(
                    "{}.{} ({} → {})",
                    c.table,
                    c.column,
                    c.in_table,
                    c.in_stream.sql()
                )
            })
            .collect();
        reasons.push(format!("column types changed: {}", columns.join(", ")));
    }
    for reason in reasons {
        if lifecycle::rebuilt_for(sink.client_mut(), &schema, &reason).await? {
            continue; // rebuilt once for this already; what is left is a person's to decide
        }
        tracing::info!(sync = %name, %reason, "rebuild needed");
        lifecycle::request(sink.client_mut(), &schema, Kind::Rebuild, None, &reason).await?;
    }
    // Only now that the rebuild is recorded: killed before this line, the next start sees
    // the new version again (and a rebuild recorded or done for it).
    lifecycle::note_source_version(sink.client_mut(), &schema, &version).await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn copy_and_switch(
    paths: &Paths,
    name: &str,
    sync: &mut SyncConfig,
    source: &Arc<dyn Source>,
    mut sink: PgSink,
    read_role: &str,
    req: Request,
    stop: watch::Receiver<bool>,
    meter: &Meter,
) -> Result<Step, Problem> {
    let schema = sync.schema.clone();
    let specs = sink.streams().to_vec();
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let (_, copy_session) = connect_as_sync_user(paths, &sync.destination).await?;
    if req.state == RequestState::Requested {
        if req.kind == Kind::Rebuild {
            // A schema of someone else's under the swap schema's name is never written.
            check_free(&copy_session.client, &req.target).await?;
            let left = lifecycle::clear_swap(&copy_session.client, &req.target).await?;
            if !left.is_empty() {
                tracing::warn!(sync = %name, tables = %left.join(", "), "tables of others in the swap schema: left alone");
            }
        }
        if req.kind == Kind::Rename {
            lifecycle::prepare_rename_target(&copy_session.client, &req.target).await?;
        }
        lifecycle::set_state(
            sink.client_mut(),
            &schema,
            req.id,
            RequestState::Copying,
            None,
        )
        .await?;
    }
    tracing::info!(sync = %name, kind = req.kind.as_str(), target = %req.target, "copying while the live schema keeps updating");
    // The copy logs live changes only: its backfill is not news to anyone.
    let options = WriteOptions {
        events_for_backfill: false,
        ..write_options(sync)
    };
    let opened = PgSink::open(copy_session.client, &req.target, read_role, &specs, options).await;
    let mut copy = match opened {
        Ok(copy) => copy,
        Err(p) if p.kind == ProblemKind::AlreadyRunning => {
            // A killed process's session can hold the copy's lock a moment longer.
            tracing::info!(sync = %name, "{}; trying again", p.message);
            let mut stop = stop.clone();
            wait(&mut stop, Duration::from_secs(1)).await;
            return Ok(Step::Reopen);
        }
        Err(p) => return Err(p),
    };
    // Its own source: its own positions (an events cursor); its requests counted with the
    // sync's and sent within the sync's budgets (see `Source::beside`).
    let copy_source = match source.beside() {
        Some(beside) => beside,
        None => sources::metered_source(paths, name, sync, meter.clone())?,
    };
    let (_, watch_session) = connect_as_sync_user(paths, &sync.destination).await?;
    // `ready`: every stream of the copy is live, so the live engine stops at its next
    // committed batch. `aligned`: the copy has then read every change the live schema has,
    // so it stops too. Switching to a copy that is behind would replay the changes in
    // between, and log them a second time.
    let (ready_tx, ready) = watch::channel(false);
    let (aligned_tx, aligned) = watch::channel(false);
    let (copy_stop_tx, copy_stop) = watch::channel(false);
    let (live_done_tx, live_done) = watch::channel(false);
    let (copy_done_tx, copy_done) = watch::channel(false);
    let watcher = {
        let mut stop = stop.clone();
        let target = req.target.clone();
        let live_schema = schema.clone();
        let connector = sync.source.0;
        let copy_source = copy_source.clone();
        async move {
            loop {
                match lifecycle::caught_up(&watch_session.client, &target, &names).await {
                    Ok(true) => {
                        let _ = ready_tx.send(true);
                        break;
                    }
                    Ok(false) => {}
                    Err(p) => tracing::debug!("progress not readable yet: {}", p.message),
                }
                if wait(&mut stop, Duration::from_millis(500)).await {
                    return;
                }
            }
            if !live_stopped(&stop, &live_done, &copy_done).await {
                return; // stopped, or the copy ended on its own
            }
            // A table read again whole every so often (HubSpot's associations: 15 minutes)
            // would otherwise be passed only at its next reading, and the live schema stay
            // stopped until then.
            copy_source.catch_up();
            // Normally a few seconds (a live stream records its progress every 5 s). Should
            // it not happen (a copy stream stopped for a person meanwhile), the live schema
            // must not stay stopped: give up, and both engines go on as before.
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            loop {
                let session = &watch_session.client;
                match aligned_with(session, connector, &live_schema, &target, &names).await {
                    Ok(true) => {
                        let _ = aligned_tx.send(true);
                        break;
                    }
                    Ok(false) => {}
                    Err(p) => tracing::debug!("progress not readable: {}", p.message),
                }
                if std::time::Instant::now() > deadline {
                    tracing::warn!(target = %target, "the copy did not catch up with the live schema in 60 s; copying on");
                    break;
                }
                if *copy_done.borrow() || wait(&mut stop, Duration::from_millis(200)).await {
                    return;
                }
            }
            let _ = copy_stop_tx.send(true);
        }
    };
    let live_run = async {
        let outcome = run_sync(
            source.clone(),
            &specs,
            &mut sink,
            tokio::time::sleep,
            until(stop.clone(), ready.clone(), None),
        )
        .await;
        let _ = live_done_tx.send(true);
        outcome
    };
    let copy_run = async {
        let outcome = run_sync(
            copy_source,
            &specs,
            &mut copy,
            tokio::time::sleep,
            until(stop.clone(), copy_stop.clone(), None),
        )
        .await;
        let _ = copy_done_tx.send(true);
        outcome
    };
    let (live, copied, ()) = tokio::join!(live_run, copy_run, watcher);
    for outcome in [live, copied] {
        if let Err(e) = outcome {
            return Err(Problem::new(ProblemKind::ServerError, e.to_string(), ""));
        }
    }
    if *stop.borrow() {
        return Ok(Step::Stopped);
    }
    if !*ready.borrow() {
        return Ok(Step::NeedsPerson);
    }
    if !*aligned.borrow() {
        // The copy ended before it had every change of the live schema: go on copying.
        return Ok(Step::Reopen);
    }
    drop(copy);
    match req.kind {
        Kind::Rebuild => {
            let report = swap(sink.client_mut(), &schema, &req.target, req.id).await?;
            tracing::info!(sync = %name, lock_ms = report.lock_ms, "rebuild swapped in");
            Ok(Step::Switched(req.id, json!(report)))
        }
        Kind::Rename => {
            let report = json!({ "from": schema, "to": req.target });
            lifecycle::set_state(
                sink.client_mut(),
                &schema,
                req.id,
                RequestState::Switched,
                Some(&report),
            )
            .await?;
            follow(paths, name, sync, &req.target)?;
            tracing::info!(sync = %name, to = %req.target, "the sync now writes its new schema");
            Ok(Step::Switched(req.id, report))
        }
    }
}

/// Points the sync at `schema`, in memory and in the config file.
fn follow(paths: &Paths, name: &str, sync: &mut SyncConfig, schema: &str) -> Result<(), Problem> {
    sync.schema = schema.to_string();
    let mut current = config::load(&paths.config)?;
    if let Some(saved) = current.syncs.get_mut(name) {
        if saved.schema != schema {
            saved.schema = schema.to_string();
            config::save_entry(&paths.config, "syncs", name, &*saved)?;
        }
    }
    Ok(())
}

/// Waits for the live engine to stop after `ready`: true once it has, false when the run
/// is stopped or the copy's engine ended first.
async fn live_stopped(
    stop: &watch::Receiver<bool>,
    live_done: &watch::Receiver<bool>,
    copy_done: &watch::Receiver<bool>,
) -> bool {
    let (mut stop, mut live, mut copy) = (stop.clone(), live_done.clone(), copy_done.clone());
    tokio::select! {
        _ = live.wait_for(|d| *d) => true,
        _ = stop.wait_for(|s| *s) => false,
        _ = copy.wait_for(|d| *d) => false,
    }
}

/// Whether every stream of the copy in `target` is known complete to a later second than
/// the same stream in the live schema (which has stopped): the copy then holds every change
/// the live schema has. A stream the live schema never had complete does not hold it up.
async fn aligned_with(
    c: &tokio_postgres::Client,
    connector: &dyn Connector,
    live: &str,
    target: &str,
    streams: &[String],
) -> Result<bool, Problem> {
    let live = completeness(c, connector, live, streams).await?;
    let copy = completeness(c, connector, target, streams).await?;
    Ok(streams
        .iter()
        .all(|s| match live.get(s).copied().flatten() {
            None => true,
            Some(l) => copy.get(s).copied().flatten().is_some_and(|c| c > l),
        }))
}

/// Each stream's [`Connector::complete_until`], read from `schema`.
async fn completeness(
    c: &tokio_postgres::Client,
    connector: &dyn Connector,
    schema: &str,
    streams: &[String],
) -> Result<std::collections::HashMap<String, Option<i64>>, Problem> {
    let checkpoints = inlet_postgres::stream_status::checkpoints(c, schema, streams).await?;
    Ok(checkpoints
        .into_iter()
        .map(|(stream, c)| (stream, c.and_then(|c| connector.complete_until(&c))))
        .collect())
}

/// Resolves when `stop`, `other` or `also` (if given) turns true.
async fn until(
    mut stop: watch::Receiver<bool>,
    mut other: watch::Receiver<bool>,
    also: Option<watch::Receiver<bool>>,
) {
    let also = async {
        match also {
            Some(mut also) => {
                let _ = also.wait_for(|s| *s).await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = stop.wait_for(|s| *s) => {}
        _ = other.wait_for(|s| *s) => {}
        _ = also => {}
    }
}

/// Polls the live schema for a rebuild or rename request (from `inlet sync rebuild`, say)
/// every two seconds, on a session of its own.
async fn watch_requests(
    paths: Paths,
    sync: SyncConfig,
    mut stop: watch::Receiver<bool>,
    found: watch::Sender<bool>,
) {
    let mut session = None;
    loop {
        if session.is_none() {
            session = connect_as_sync_user(&paths, &sync.destination)
                .await
                .ok()
                .map(|(_, s)| s);
        }
        if let Some(s) = &session {
            match lifecycle::pending(&s.client, &sync.schema).await {
                Ok(Some(_)) => {
                    let _ = found.send(true);
                    return;
                }
                Ok(None) => {}
                Err(_) => session = None,
            }
        }
        if wait(&mut stop, Duration::from_secs(2)).await {
            return;
        }
    }
}

/// Opens the sync's sink on its schema: the lock, the schema and its tables.
pub async fn open(
    paths: &Paths,
    sync: &SyncConfig,
    source: &dyn Source,
    meter: &Meter,
) -> Result<(PgSink, String), Problem> {
    let (dest, session) = connect_as_sync_user(paths, &sync.destination).await?;
    // No read role: the sync runs all the same (an empty name grants nothing).
    let read_role = dest.read_role.clone().unwrap_or_default();
    tracing::info!(schema = %sync.schema, "connected to {}", session.info.address);
    resume_usage(&session.client, &sync.schema, meter).await;
    let sink = PgSink::open(
        session.client,
        &sync.schema,
        &read_role,
        &discover(source).await?,
        write_options(sync),
    )
    .await?;
    for (table, who) in &sink.left_alone {
        tracing::warn!(schema = %sync.schema, %table, owner = %who, "a person's table: not synced, never touched");
    }
    Ok((sink, read_role))
}

/// Tells the meter the day of its daily API budget the sync was in, as `_sync_api` has
/// it, before the source sends anything: a restart (or another worker) resumes that day
/// instead of taking a fresh share of the allocation. Sources without one never wrote it.
async fn resume_usage(client: &tokio_postgres::Client, schema: &str, meter: &Meter) {
    match inlet_postgres::api_usage::current_day(client, schema).await {
        Ok(Some(row)) => meter.resume(ApiUsage {
            calls_today: row.calls_today,
            paused: None,
            day: row.day.map(|(ends, calls)| ApiDay { ends, calls }),
        }),
        Ok(None) => {}
        Err(p) => tracing::debug!("the API usage could not be read: {}", p.message),
    }
}

/// The streams the source offers now (a network call for some sources).
async fn discover(source: &dyn Source) -> Result<Vec<inlet_core::StreamSpec>, Problem> {
    source
        .discover()
        .await
        .map_err(|e| sources::source_problem(&e))
}
