//! The HTTP side of `inlet run --listen`: webhooks and health.
//!
//! `/healthz` says the process is alive. `/readyz` is 200 when every sync this process owns
//! is connected and writing, and 503 with the reasons, one a line, otherwise.
//!
//! `POST /webhooks/{source}/{sync}` has the sync's source (through the registry) check the
//! delivery's signature against the sync's webhook secret; a valid delivery makes the sync
//! read its change feed at once, and is answered 200. Nothing is written from the webhook's
//! body: the feed is the one ordered record of changes, so a duplicate, late or reordered
//! delivery cannot put an older state over a newer one. A bad or missing signature is
//! answered 400 and changes nothing.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use inlet_connectors::registry::Connector;
use inlet_core::Source;
use inlet_postgres::Secret;

use crate::readiness::Readiness;

#[derive(Clone)]
pub struct Hook {
    pub connector: &'static dyn Connector,
    pub source: Arc<dyn Source>,
    /// `None`: webhooks for this sync are refused (no secret configured).
    pub secret: Option<Secret>,
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook")
            .field("source", &self.connector.name())
            .finish_non_exhaustive()
    }
}

type Hooks = Arc<HashMap<String, Hook>>;

pub async fn serve(
    listener: tokio::net::TcpListener,
    hooks: HashMap<String, Hook>,
    readiness: Readiness,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let readiness = readiness.clone();
                async move { ready(&readiness) }
            }),
        )
        .route("/webhooks/{source}/{sync}", post(webhook))
        .with_state(Arc::new(hooks));
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!("the webhook server stopped: {e}");
    }
}

fn ready(readiness: &Readiness) -> (StatusCode, String) {
    match readiness.check() {
        Ok(()) => (StatusCode::OK, "ready\n".to_string()),
        Err(reasons) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready\n{}\n", reasons.join("\n")),
        ),
    }
}

async fn webhook(
    State(hooks): State<Hooks>,
    Path((source, sync)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let Some(hook) = hooks.get(&sync).filter(|h| h.connector.name() == source) else {
        return (StatusCode::NOT_FOUND, "no such sync\n");
    };
    let Some(secret) = &hook.secret else {
        tracing::warn!(%sync, "webhook refused: no webhook secret is stored for this sync");
        return (StatusCode::BAD_REQUEST, "no webhook secret configured\n");
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match hook
        .connector
        .verify_webhook(&header, &body, secret.expose(), now)
    {
        Ok(()) => {
            hook.source.nudge();
            (StatusCode::OK, "ok\n")
        }
        Err(e) => {
            tracing::warn!(%sync, "webhook refused: {e}");
            (StatusCode::BAD_REQUEST, "invalid signature\n")
        }
    }
}
