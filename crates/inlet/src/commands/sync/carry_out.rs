//! Carrying out a rebuild or rename request from the command line: by this process when no
//! `inlet run` holds the sync, else by waiting for the one that does.

use std::time::Duration;

use inlet_postgres::lifecycle;
use inlet_postgres::{Problem, ProblemKind};
use serde_json::Value;
use tokio::sync::watch;

use super::super::destination::connect_as_sync_user;
use super::super::lifecycle::{drive, open, Step};
use crate::paths::Paths;
use crate::sync_config::SyncConfig;

/// Runs request `id` (recorded in `sync.schema`) to its end; returns its report.
pub(crate) async fn carry_out(
    paths: &Paths,
    name: &str,
    sync: &SyncConfig,
    id: i64,
) -> Result<Value, Problem> {
    let schema = sync.schema.clone();
    let source = super::source(paths, name, sync)?;
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop_tx.send(true);
        }
    });
    let mut sync = sync.clone();
    loop {
        let (mut sink, read_role) = match open(paths, &sync, &source).await {
            Ok(opened) => opened,
            Err(p) if p.kind == ProblemKind::AlreadyRunning => {
                eprintln!("inlet run is syncing \"{name}\": it carries this out; waiting (Ctrl-C stops waiting, not the work)");
                return wait_for(paths, &sync, &schema, id, stop).await;
            }
            Err(p) => return Err(p),
        };
        // Under the lock, the request's state cannot change behind this check.
        if let Some(done) = finished(sink.client_mut(), &schema, id).await? {
            return Ok(done);
        }
        eprintln!("copying into the new tables while the current ones stay served; this takes about one full sync");
        match drive(
            paths,
            name,
            &mut sync,
            &source,
            sink,
            &read_role,
            stop.clone(),
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
        Some((state, report)) if state == "done" || state == "switched" => {
            Some(report.unwrap_or(Value::Null))
        }
        _ => None,
    })
}

/// Polls the request until the process that holds the sync has finished it.
async fn wait_for(
    paths: &Paths,
    sync: &SyncConfig,
    schema: &str,
    id: i64,
    mut stop: watch::Receiver<bool>,
) -> Result<Value, Problem> {
    let (_, session) = connect_as_sync_user(paths, &sync.destination).await?;
    loop {
        if let Some(done) = finished(&session.client, schema, id).await? {
            return Ok(done);
        }
        if super::super::run::wait(&mut stop, Duration::from_secs(1)).await {
            return Err(Problem::new(
                ProblemKind::InvalidOption,
                "stopped waiting; the running inlet goes on with it",
                "follow it with `inlet sync status`",
            ));
        }
    }
}
