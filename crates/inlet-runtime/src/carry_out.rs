//! Carrying out a rebuild or rename request outside `inlet run` (`inlet sync rebuild`,
//! `rename-schema`): by this process when no `inlet run` holds the sync, else by waiting
//! for the one that does.

use std::time::Duration;

use inlet_connectors::http::Meter;
use inlet_postgres::lifecycle;
use inlet_postgres::{Problem, ProblemKind};
use serde_json::Value;
use tokio::sync::watch;

use crate::connect::connect_as_sync_user;
use crate::lifecycle::{drive, open, Step};
use crate::paths::Paths;
use crate::run::wait;
use crate::sources;
use crate::sync_config::SyncConfig;

/// Runs request `id` (recorded in `sync.schema`) to its end; returns its report. `note`
/// tells the person waiting what is happening.
pub async fn carry_out(
    paths: &Paths,
    name: &str,
    sync: &SyncConfig,
    id: i64,
    note: &dyn Fn(&str),
) -> Result<Value, Problem> {
    let schema = sync.schema.clone();
    let source = sources::source(paths, name, sync)?;
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop_tx.send(true);
        }
    });
    let mut sync = sync.clone();
    let mut told = false;
    loop {
        // Opening reads the source's streams from its API: not while another process holds
        // the sync (it costs API calls, and a login rotates the sync's refresh token).
        let opened = match held(paths, &sync, &schema).await? {
            true => None,
            false => Some(open(paths, &sync, source.as_ref(), &Meter::default()).await),
        };
        let (mut sink, read_role) = match opened {
            Some(Ok(opened)) => opened,
            Some(Err(p)) if p.kind != ProblemKind::AlreadyRunning => return Err(p),
            _ => {
                if !told {
                    note(&format!("inlet run is syncing \"{name}\": it carries this out; waiting (Ctrl-C stops waiting, not the work)"));
                    told = true;
                }
                // Waits for the holder to finish it, or to go away (then this process takes
                // over: a killed process's session can outlive it by a moment).
                match wait_for(paths, &sync, &schema, id, stop.clone()).await? {
                    Some(report) => return Ok(report),
                    None => continue,
                }
            }
        };
        // Under the lock, the request's state cannot change behind this check.
        if let Some(done) = finished(sink.client_mut(), &schema, id).await? {
            return Ok(done);
        }
        note("copying into the new tables while the current ones stay served; this takes about one full sync");
        match drive(
            paths,
            name,
            &mut sync,
            &source,
            sink,
            &read_role,
            stop.clone(),
            &Meter::default(),
        )
        .await?
        {
            Step::Switched(done, report) if done == id => return Ok(report),
            Step::Switched(..) | Step::Reopen => continue,
            Step::Stopped => return Err(Problem::new(
                ProblemKind::InvalidOption,
                "stopped before the copy was complete",
                "run the same command again (or `inlet run`): the copy resumes where it stopped",
            )),
            Step::NeedsPerson => {
                return Err(Problem::new(
                    ProblemKind::InvalidOption,
                    "the copy stopped: a stream needs a person",
                    format!(
                    "`inlet sync status {name}` says which and how to fix it; then run this again"
                ),
                ))
            }
        }
    }
}

async fn finished<C: tokio_postgres::GenericClient>(
    c: &C,
    schema: &str,
    id: i64,
) -> Result<Option<Value>, Problem> {
    Ok(match lifecycle::get(c, schema, id).await? {
        Some((state, report)) if state.finished() => Some(report.unwrap_or(Value::Null)),
        _ => None,
    })
}

/// Whether another process holds the sync's lock now.
async fn held(paths: &Paths, sync: &SyncConfig, schema: &str) -> Result<bool, Problem> {
    let (_, session) = connect_as_sync_user(paths, &sync.destination).await?;
    inlet_postgres::sink::lock_held(&session.client, schema).await
}

/// Polls the request until the process that holds the sync has finished it (its report),
/// or has let the sync go (`None`: this process may take over).
async fn wait_for(
    paths: &Paths,
    sync: &SyncConfig,
    schema: &str,
    id: i64,
    mut stop: watch::Receiver<bool>,
) -> Result<Option<Value>, Problem> {
    let (_, session) = connect_as_sync_user(paths, &sync.destination).await?;
    loop {
        if let Some(done) = finished(&session.client, schema, id).await? {
            return Ok(Some(done));
        }
        let held = inlet_postgres::sink::lock_held(&session.client, schema)
            .await
            .unwrap_or(true);
        if !held {
            return Ok(None);
        }
        if wait(&mut stop, Duration::from_secs(1)).await {
            return Err(Problem::new(
                ProblemKind::InvalidOption,
                "stopped waiting; the running inlet goes on with it",
                "follow it with `inlet sync status`",
            ));
        }
    }
}
