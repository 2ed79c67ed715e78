//! The HTTP side of `inlet run --listen`: webhooks and health.
//!
//! `POST /webhooks/stripe/{sync}` checks `Stripe-Signature` against the sync's webhook
//! secret; a valid delivery makes the sync read Stripe's events feed at once, and is
//! answered 200. Nothing is written from the webhook's body: the feed is the one ordered
//! record of changes, so a duplicate, late or reordered delivery cannot put an older state
//! over a newer one. A bad or missing signature is answered 400 and changes nothing.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use inlet_connectors::stripe::webhook;
use inlet_connectors::stripe::StripeSource;
use inlet_postgres::Secret;

#[derive(Clone, Debug)]
pub struct Hook {
    pub source: Arc<StripeSource>,
    /// `None`: webhooks for this sync are refused (no secret configured).
    pub secret: Option<Secret>,
}

type Hooks = Arc<HashMap<String, Hook>>;

pub async fn serve(
    listener: tokio::net::TcpListener,
    hooks: HashMap<String, Hook>,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/webhooks/stripe/{sync}", post(stripe))
        .with_state(Arc::new(hooks));
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!("the webhook server stopped: {e}");
    }
}

async fn stripe(
    State(hooks): State<Hooks>,
    Path(sync): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let Some(hook) = hooks.get(&sync) else {
        return (StatusCode::NOT_FOUND, "no such sync\n");
    };
    let Some(secret) = &hook.secret else {
        tracing::warn!(%sync, "webhook refused: no webhook secret is stored for this sync");
        return (StatusCode::BAD_REQUEST, "no webhook secret configured\n");
    };
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match webhook::verify(signature, &body, secret.expose(), now) {
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
