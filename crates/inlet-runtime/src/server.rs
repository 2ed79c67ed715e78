//! The HTTP side of `inlet run --listen`: webhooks, health, status and metrics.
//!
//! `/healthz` says the process is alive. `/readyz` is 200 when every sync this process owns
//! is connected and writing with no stream errored, and 503 with the reasons, one a line,
//! otherwise. `GET /api/v1/syncs` and `GET /api/v1/syncs/{name}` serve the document
//! `inlet sync status --json` prints (one implementation: [`crate::status`]); read-only.
//! `GET /metrics` serves [`crate::metrics`] for Prometheus. With a token
//! ([`crate::api_token`]), `/api/*` and `/metrics` answer 401 unless the request carries it.
//!
//! `POST /webhooks/{source}/{sync}` has the sync's source (through the registry) check the
//! delivery's signature against the sync's webhook secret; a valid delivery makes the sync
//! read its change feed at once, and is answered 200. Nothing is written from the webhook's
//! body: the feed is the one ordered record of changes, so a duplicate, late or reordered
//! delivery cannot put an older state over a newer one. A bad, stale or missing signature is
//! answered 401 with the reason, and changes nothing. The source is given the URL the sender
//! posted to (HubSpot signs it): the sync's `webhook_base_url` and the request's path.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use inlet_connectors::registry::{Connector, Delivery};
use inlet_core::Source;
use inlet_postgres::{Problem, ProblemKind, Secret};

use crate::api_token;
use crate::metrics::{self, Metrics};
use crate::paths::Paths;
use crate::readiness::Readiness;
use crate::status;

#[derive(Clone)]
pub struct Hook {
    pub connector: &'static dyn Connector,
    pub source: Arc<dyn Source>,
    /// `None`: webhooks for this sync are refused (no secret configured).
    pub secret: Option<Secret>,
    /// Where senders post to, when a proxy stands in between (`None`: `http://` and the
    /// request's `Host`).
    pub base_url: Option<String>,
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook")
            .field("source", &self.connector.name())
            .finish_non_exhaustive()
    }
}

/// Every sync's hook, by sync name; replaced when the config is reloaded.
pub type Hooks = Arc<RwLock<HashMap<String, Hook>>>;

pub async fn serve(
    listener: tokio::net::TcpListener,
    hooks: Hooks,
    readiness: Readiness,
    metrics: Metrics,
    paths: Paths,
    token: Option<Secret>,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    let (shown, metrics_token) = (readiness.clone(), token.clone());
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let readiness = readiness.clone();
                async move { ready(&readiness) }
            }),
        )
        .route(
            "/metrics",
            get(move |headers: HeaderMap| {
                let (metrics, readiness) = (metrics.clone(), shown.clone());
                let token = metrics_token.clone();
                async move {
                    if let Some(refused) = refused(token.as_ref(), &headers) {
                        return refused;
                    }
                    let body = metrics.render(&readiness);
                    ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response()
                }
            }),
        )
        .route("/webhooks/{source}/{sync}", post(webhook))
        .with_state(hooks)
        .merge(api(paths, token));
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!("the webhook server stopped: {e}");
    }
}

/// The read-only status API.
fn api(paths: Paths, token: Option<Secret>) -> Router {
    let (one, token_one) = (paths.clone(), token.clone());
    Router::new()
        .route(
            "/api/v1/syncs",
            get(move |headers: HeaderMap| {
                let (paths, token) = (paths.clone(), token.clone());
                async move { syncs(&paths, token.as_ref(), &headers, None).await }
            }),
        )
        .route(
            "/api/v1/syncs/{name}",
            get(move |headers: HeaderMap, Path(name): Path<String>| {
                let (paths, token) = (one.clone(), token_one.clone());
                async move { syncs(&paths, token.as_ref(), &headers, Some(&name)).await }
            }),
        )
}

async fn syncs(
    paths: &Paths,
    token: Option<&Secret>,
    headers: &HeaderMap,
    only: Option<&str>,
) -> Response {
    if let Some(refused) = refused(token, headers) {
        return refused;
    }
    match status::document(paths, only).await {
        Ok(doc) => Json(doc).into_response(),
        Err(p) => {
            let code = match p.kind {
                ProblemKind::InvalidOption => StatusCode::NOT_FOUND,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            (code, Json(problem_json(&p))).into_response()
        }
    }
}

/// The 401 for a request without the token, when there is one.
fn refused(token: Option<&Secret>, headers: &HeaderMap) -> Option<Response> {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    token.filter(|t| !api_token::allows(t, given)).map(|_| {
        (
            StatusCode::UNAUTHORIZED,
            [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
            "send the token of INLET_API_TOKEN as `Authorization: Bearer TOKEN`\n",
        )
            .into_response()
    })
}

fn problem_json(p: &Problem) -> serde_json::Value {
    serde_json::json!({
        "problem": p.kind.as_str(), "message": p.message, "fix": p.fix,
    })
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
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let hook = {
        let hooks = hooks.read().unwrap_or_else(|e| e.into_inner());
        hooks.get(&sync).cloned()
    };
    let Some(hook) = hook.filter(|h| h.connector.name() == source) else {
        return (StatusCode::NOT_FOUND, "no such sync\n".into());
    };
    let Some(secret) = &hook.secret else {
        tracing::warn!(%sync, "webhook refused: no webhook secret is stored for this sync");
        return (
            StatusCode::BAD_REQUEST,
            "no webhook secret configured\n".into(),
        );
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let url = match &hook.base_url {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => format!("http://{}{path}", header("host").unwrap_or_default()),
    };
    let delivery = Delivery {
        method: method.as_str(),
        url: &url,
        header: &header,
        body: &body,
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    match hook
        .connector
        .verify_webhook(&delivery, secret.expose(), now_ms)
    {
        Ok(()) => {
            hook.source.nudge(&body);
            (StatusCode::OK, "ok\n".into())
        }
        Err(e) => {
            tracing::warn!(%sync, "webhook refused: {e}");
            (StatusCode::UNAUTHORIZED, format!("refused: {e}\n"))
        }
    }
}
