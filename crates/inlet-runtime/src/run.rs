//! `inlet run`: every sync, until stopped, shared with the other `inlet run` processes of
//! the same config (see `workers`), and reloading the config on SIGHUP or a changed file.
//!
//! Each sync connects as its destination's sync user, takes the sync's lock (held by
//! another process, the attempt ends and the sync is left to it), and runs the engine. A
//! lost destination is retried with backoff; a stream that needs a person is shown by
//! `inlet sync status` while the others go on. When `stop` turns true, the batch being
//! written commits, then [`run`] returns.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use inlet_connectors::http::{ApiUsage, Meter};
use inlet_core::Source;
use inlet_postgres::sink::{Observer, Progress};
use inlet_postgres::writer::prune_events;
use inlet_postgres::{Problem, ProblemKind};
use tokio::sync::watch;

use crate::api_token;
use crate::config;
use crate::connect::connect_as_sync_user;
use crate::lifecycle::{self, Step};
use crate::metrics::Metrics;
use crate::paths::Paths;
use crate::readiness::{Readiness, SyncState};
use crate::reload;
use crate::server;
use crate::sync_config::SyncConfig;
use crate::workers::{self, Supervisor};

/// Told each time a sync opens, with its live progress (for a progress display).
pub type OnOpen = Arc<dyn Fn(&str, Progress) + Send + Sync>;

/// Runs the configured syncs (`only`: these; empty: all) until `stop` turns true, serving
/// webhooks, health, status and `/metrics` on `listen` if given. `Err`: nothing could start
/// (a bad config, an address in use); once running, failures are retried and reported in
/// the log, in `inlet sync status` and in the metrics.
pub async fn run(
    paths: &Paths,
    listen: Option<SocketAddr>,
    only: &[String],
    on_open: OnOpen,
    stop: watch::Receiver<bool>,
) -> Result<(), Problem> {
    let cfg = config::load(&paths.config)?;
    if let Some(unknown) = only.iter().find(|n| !cfg.syncs.contains_key(*n)) {
        return Err(Problem::new(
            ProblemKind::InvalidOption,
            format!("there is no sync \"{unknown}\""),
            "see `inlet sync list`",
        ));
    }
    let metrics = Metrics::default();
    let wanted = reload::wanted(paths, only, &metrics, &Default::default())?;
    if wanted.is_empty() {
        return Err(Problem::new(
            ProblemKind::InvalidOption,
            "there is no sync to run",
            "add one: inlet sync add NAME --source SOURCE --destination DEST",
        ));
    }
    let readiness = Readiness::default();
    for name in wanted.keys() {
        readiness.set(name, SyncState::NotConnected("starting".into()));
    }
    let hooks = workers::hooks(&wanted);
    if let Some(addr) = listen {
        let token = api_token::for_listen(addr, std::env::var(api_token::ENV).ok())?;
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            Problem::new(
                ProblemKind::InvalidOption,
                format!("cannot listen on {addr}: {e}"),
                "choose a free address, e.g. --listen 127.0.0.1:8080",
            )
        })?;
        let mut stop = stop.clone();
        tokio::spawn(server::serve(
            listener,
            hooks.clone(),
            readiness.clone(),
            metrics.clone(),
            paths.clone(),
            token,
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        ));
        tracing::info!(%addr, "webhooks: POST /webhooks/SOURCE/SYNC");
    }
    let supervisor = Supervisor {
        paths: paths.clone(),
        only: only.to_vec(),
        wanted,
        hooks,
        readiness,
        metrics,
        on_open,
    };
    supervisor.run(stop).await;
    Ok(())
}

/// One sync, reconnecting after destination failures, until `stop` or until another
/// process holds its lock; rebuilds and renames happen on the way (see `lifecycle`), their
/// copies' API requests told to `meter`.
#[allow(clippy::too_many_arguments)]
pub async fn run_sync_forever(
    paths: Paths,
    name: String,
    mut sync: SyncConfig,
    source: Arc<dyn Source>,
    mut stop: watch::Receiver<bool>,
    on_open: OnOpen,
    readiness: Readiness,
    observed: Arc<dyn Observer>,
    meter: Meter,
    usage: watch::Receiver<Option<ApiUsage>>,
) {
    let mut failures = 0u32;
    let mut pruning = None;
    let stopped = |stop: &watch::Receiver<bool>| *stop.borrow();
    while !stopped(&stop) {
        let (mut sink, read_role) = match lifecycle::open(&paths, &sync, source.as_ref(), &meter)
            .await
        {
            Ok(opened) => opened,
            Err(p) if p.kind == ProblemKind::AlreadyRunning => {
                // Left to the holder; taken again when it lets go (see `workers`).
                readiness.set(&name, SyncState::StandingBy);
                tracing::info!(sync = %name, "{}; standing by", p.message);
                return;
            }
            Err(p) => {
                readiness.set(&name, SyncState::NotConnected(p.message.clone()));
                failures += 1;
                let delay = backoff(failures);
                tracing::error!(sync = %name, fix = %p.fix, "{}; retrying in {}s", p.message, delay.as_secs());
                wait(&mut stop, delay).await;
                continue;
            }
        };
        readiness.set(&name, SyncState::Running);
        sink.observe(observed.clone());
        on_open(&name, sink.progress());
        if pruning.as_ref() != Some(&sync.schema) {
            spawn_pruning(paths.clone(), name.clone(), sync.clone(), stop.clone());
            spawn_usage(
                paths.clone(),
                name.clone(),
                sync.clone(),
                usage.clone(),
                stop.clone(),
            );
            pruning = Some(sync.schema.clone());
        }
        let step = lifecycle::drive(
            &paths,
            &name,
            &mut sync,
            &source,
            sink,
            &read_role,
            stop.clone(),
            &meter,
        )
        .await;
        match step {
            Ok(Step::Stopped) => return,
            Ok(Step::Switched(..) | Step::Reopen) => failures = 0,
            Ok(Step::NeedsPerson) => {
                readiness.set(&name, SyncState::NeedsPerson);
                tracing::error!(sync = %name, "every stream stopped; `inlet sync status {name}` says why and how to fix it");
                let _ = stop.wait_for(|s| *s).await;
                return;
            }
            Err(p) => {
                readiness.set(&name, SyncState::NotConnected(p.message.clone()));
                failures += 1;
                let delay = backoff(failures);
                tracing::error!(sync = %name, fix = %p.fix, "{}; reconnecting in {}s", p.message, delay.as_secs());
                wait(&mut stop, delay).await;
            }
        }
    }
}

/// Deletes `_sync_event` rows past the retention every ten minutes, on its own session.
fn spawn_pruning(paths: Paths, name: String, sync: SyncConfig, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            match connect_as_sync_user(&paths, &sync.destination).await {
                Ok((_, session)) => {
                    match prune_events(&session.client, &sync.schema, sync.retention(), 5_000).await
                    {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(sync = %name, rows = n, "pruned _sync_event"),
                        Err(p) => tracing::warn!(sync = %name, "{}", p.message),
                    }
                }
                Err(p) => tracing::debug!(sync = %name, "pruning skipped: {}", p.message),
            }
            if wait(&mut stop, Duration::from_secs(600)).await {
                return;
            }
        }
    });
}

/// Keeps what the source reports of its daily API usage in `_sync_api`, for `inlet sync
/// status`: at most once a second, on a session of its own opened at the first report
/// (sources that keep no daily budget never report).
fn spawn_usage(
    paths: Paths,
    name: String,
    sync: SyncConfig,
    mut usage: watch::Receiver<Option<ApiUsage>>,
    mut stop: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut session = None;
        let mut written = None;
        loop {
            let current = *usage.borrow_and_update();
            if let Some(now) = current.filter(|u| written != Some(*u)) {
                if session.is_none() {
                    session = connect_as_sync_user(&paths, &sync.destination)
                        .await
                        .ok()
                        .map(|(_, s)| s);
                }
                if let Some(s) = &session {
                    let row = inlet_postgres::api_usage::UsageRow {
                        calls_today: now.calls_today,
                        paused: now.paused.map(|p| (p.until, p.reason.to_string())),
                        day: now.day.map(|d| (d.ends, d.calls)),
                    };
                    match inlet_postgres::api_usage::write(&s.client, &sync.schema, &row).await {
                        Ok(()) => written = Some(now),
                        Err(p) => {
                            // The schema may not exist yet: written at the next report.
                            tracing::debug!(sync = %name, "api usage not kept: {}", p.message);
                            session = None;
                        }
                    }
                }
            }
            if wait(&mut stop, Duration::from_secs(1)).await {
                return;
            }
            if written == *usage.borrow() {
                tokio::select! {
                    changed = usage.changed() => if changed.is_err() { return },
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        }
    });
}

/// Waits `d` or until stopped; true when stopped.
pub async fn wait(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    let stopped = tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stop.wait_for(|s| *s) => true,
    };
    stopped || *stop.borrow()
}

/// The destination's curve, from the one retry policy (`inlet_core::retry`).
pub fn backoff(failures: u32) -> Duration {
    match inlet_core::ErrorKind::DestinationUnavailable.action(failures, None) {
        inlet_core::Action::RetryAfter(delay) => delay,
        _ => inlet_core::DESTINATION.max,
    }
}
