//! The accept loop every fake runs: hyper directly (not a router framework) because a fault
//! knob must be able to close a connection without answering, which only the connection
//! level can do. A fake supplies its request handler; answering `Err(Dropped)` drops the
//! connection unanswered.

use std::future::Future;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A request the fault knobs decided to drop: hyper closes the connection unanswered.
#[derive(Debug)]
pub(crate) struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the fault knob")
    }
}

impl std::error::Error for Dropped {}

/// Serves `handle` on every connection `listener` accepts, until `shutdown` changes.
pub(crate) async fn accept<S, H, F>(
    listener: TcpListener,
    state: S,
    handle: H,
    mut shutdown: watch::Receiver<bool>,
) where
    S: Clone + Send + Sync + 'static,
    H: Fn(S, Request<Incoming>) -> F + Copy + Send + Sync + 'static,
    F: Future<Output = Result<Response<Full<Bytes>>, Dropped>> + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let (stream, _) = match accepted {
            Ok(conn) => conn,
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(state.clone(), request));
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}
