//! `inlet run`: every sync, until SIGTERM or Ctrl-C (the runtime does the work; this shows
//! its progress and turns the signal into a stop that lets the batch being written commit).

use std::sync::Arc;

use tokio::sync::watch;

use crate::exit::Code;
use crate::output;
use crate::paths::Paths;
use crate::progress;

pub async fn run(paths: &Paths, listen: Option<std::net::SocketAddr>, only: &[String]) -> Code {
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("stopping: finishing the batches being written");
        let _ = stop_tx.send(true);
    });
    let board = progress::Board::new();
    let shown = board.clone();
    let on_open: inlet_runtime::run::OnOpen =
        Arc::new(move |name, progress| shown.watch(name, progress));
    let reporter = tokio::spawn(board.report(stop.clone()));
    let result = inlet_runtime::run::run(paths, listen, only, on_open, stop).await;
    reporter.abort();
    match result {
        Ok(()) => Code::Ok,
        Err(p) => output::problem(&p, None, false),
    }
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
