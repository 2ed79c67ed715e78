//! The accept loop every fake runs: hyper directly (not a router framework) because a fault
//! knob must be able to close a connection without answering, which only the connection
//! level can do. A fake supplies its request handler; answering `Err(Dropped)` drops the
//! connection unanswered. [`Running`] is a started fake: its state, address and shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
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

/// A fake while it serves: the state its handler, mutator and Rust API share, where it
/// listens, and the switch that stops it (flipped when the last handle is dropped).
#[derive(Debug)]
pub(crate) struct Running<S> {
    pub shared: Arc<S>,
    pub addr: SocketAddr,
    pub runtime: tokio::runtime::Handle,
    shutdown: watch::Sender<bool>,
}

impl<S: Send + Sync + 'static> Running<S> {
    /// Binds `listen` and serves `handle` on the current tokio runtime.
    pub async fn start<H, F>(listen: SocketAddr, shared: Arc<S>, handle: H) -> std::io::Result<Self>
    where
        H: Fn(Arc<S>, Request<Incoming>) -> F + Copy + Send + Sync + 'static,
        F: Future<Output = Result<Response<Full<Bytes>>, Dropped>> + Send + 'static,
    {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = watch::channel(false);
        tokio::spawn(accept(listener, shared.clone(), handle, stopped));
        Ok(Running {
            shared,
            addr,
            runtime: tokio::runtime::Handle::current(),
            shutdown,
        })
    }

    /// The API base, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving now (every handle's clones too).
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Changes when the fake stops: background tasks (mutators, webhooks) end with it.
    pub fn stopped(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

impl<S> Drop for Running<S> {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Whether `path` is the control API's (`/_fake/...`), which no fault knob touches.
pub(crate) fn is_control(path: &str) -> bool {
    path == "/_fake" || path.starts_with("/_fake/")
}

/// The segments of a control API path after `/_fake`.
pub(crate) fn control_segments(path: &str) -> Vec<&str> {
    path.trim_start_matches("/_fake")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect()
}

/// A request body of at most `max` bytes; `None` when it is larger or cannot be read.
pub(crate) async fn read_body(body: Incoming, max: usize) -> Option<Bytes> {
    Limited::new(body, max)
        .collect()
        .await
        .ok()
        .map(|collected| collected.to_bytes())
}

/// Serves `handle` on every connection `listener` accepts, until `shutdown` changes.
async fn accept<S, H, F>(
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
