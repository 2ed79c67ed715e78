//! The HTTP server, on the fakes' shared accept loop (`crate::serve`).
//!
//! Every API request: maybe dropped, counted, delayed, maybe failed (fault knobs), then
//! authenticated, charged to the rate budgets (search to its own), and answered by
//! [`super::api`] with `X-HubSpot-Correlation-Id` and, except for search, the
//! `X-HubSpot-RateLimit-*` headers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::serve::{is_control, Dropped};

use super::api::{self, is_search};
use super::call::Call;
use super::clock::now_ms;
use super::control;
use super::counts::Endpoint;
use super::errors::ApiError;
use super::Shared;

const MAX_BODY: usize = 8 * 1024 * 1024;

/// A finished answer before it becomes a hyper response.
struct Answer {
    status: u16,
    body: Value,
    headers: Vec<(&'static str, String)>,
}

impl Answer {
    fn error(error: &ApiError, correlation: &str) -> Answer {
        Answer {
            status: error.status,
            body: error.body(correlation),
            headers: error.headers.clone(),
        }
    }
}

fn injected(status: u16) -> ApiError {
    match status {
        429 => ApiError::new(
            429,
            "RATE_LIMITS",
            "You have reached your ten_secondly_rolling limit.",
        )
        .with("errorType", json!("RATE_LIMIT"))
        .with("policyName", json!("TEN_SECONDLY_ROLLING")),
        401 => ApiError::new(
            401,
            "EXPIRED_AUTHENTICATION",
            "The OAuth token used to make this call expired 0 minute(s) ago.",
        ),
        s if s >= 500 => {
            ApiError::new(s, "INTERNAL_ERROR", "internal error (injected by the fake)")
        }
        s => ApiError::new(
            s,
            "VALIDATION_ERROR",
            "the request failed (injected by the fake)",
        ),
    }
}

async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
    crate::serve::read_body(body, MAX_BODY)
        .await
        .ok_or_else(|| {
            ApiError::validation("The request body could not be read, or is larger than 8 MB.")
        })
}

fn json_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::validation(format!(
            "Invalid input JSON on line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    // HubSpot's limits count a request when it arrives, before the time it takes to answer.
    let arrived = Instant::now();
    let path = request.uri().path().to_string();
    let correlation = shared.correlation_id();
    if is_control(&path) {
        return Ok(respond(
            answer_control(&shared, request, &correlation).await,
            &correlation,
        ));
    }
    if shared.faults.take_drop() {
        return Err(Dropped);
    }
    let archived = query_pairs(request.uri().query())
        .iter()
        .any(|(k, v)| k == "archived" && v.eq_ignore_ascii_case("true"));
    let endpoint = Endpoint::of(request.method().as_str(), &path, archived);
    shared.by_endpoint.add(endpoint);
    shared.holds.pass(endpoint).await;
    let latency = shared.faults.current_latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let answer = match shared.faults.take_failure() {
        Some(status) => Answer::error(&injected(status), &correlation),
        None if path.starts_with("/oauth/") => answer_oauth(&shared, request, &correlation).await,
        None => answer_api(&shared, request, &correlation, arrived).await,
    };
    Ok(respond(answer, &correlation))
}

async fn answer_oauth(shared: &Shared, request: Request<Incoming>, correlation: &str) -> Answer {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(error) => return Answer::error(&error, correlation),
    };
    let answer = |status, body| Answer {
        status,
        body,
        headers: Vec::new(),
    };
    if parts.method == "POST" && path.trim_end_matches('/') == "/oauth/v1/token" {
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(&body).into_owned().collect();
        return match shared.tokens().token(&form) {
            Ok(body) => answer(200, body),
            Err((status, body)) => answer(status, body),
        };
    }
    if let Some(token) = path.strip_prefix("/oauth/v1/access-tokens/") {
        if parts.method == "GET" {
            let portal = shared.read().portal_id;
            return match shared.tokens().introspect(token, portal) {
                Some(body) => answer(200, body),
                None => Answer::error(
                    &ApiError::not_found("unknown or expired access token"),
                    correlation,
                ),
            };
        }
    }
    Answer::error(
        &ApiError::unknown_route(parts.method.as_str(), &path),
        correlation,
    )
}

async fn answer_api(
    shared: &Shared,
    request: Request<Incoming>,
    correlation: &str,
    arrived: Instant,
) -> Answer {
    let (parts, body) = request.into_parts();
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let access = match shared.tokens().authenticate(authorization) {
        Ok(access) => access,
        Err(error) => return Answer::error(&error, correlation),
    };
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let headers = if is_search(&method, &path) {
        match shared.budget().take_search(arrived) {
            Ok(()) => Vec::new(),
            Err(error) => return Answer::error(&error, correlation),
        }
    } else {
        match shared.budget().take(arrived, now_ms(), !access.oauth) {
            Ok(headers) => headers,
            Err(error) => return Answer::error(&error, correlation),
        }
    };
    let body = match read_body(body).await.and_then(|b| json_body(&b)) {
        Ok(body) => body,
        Err(error) => return Answer::error(&error, correlation),
    };
    let call = Call {
        method,
        path,
        query: query_pairs(parts.uri.query()),
        body,
        access,
    };
    let mut answer = match api::handle(shared, &call) {
        Ok((status, body)) => Answer {
            status,
            body,
            headers: Vec::new(),
        },
        Err(error) => Answer::error(&error, correlation),
    };
    answer.headers.extend(headers);
    answer
}

async fn answer_control(shared: &Shared, request: Request<Incoming>, correlation: &str) -> Answer {
    let (parts, body) = request.into_parts();
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    match shared.tokens().authenticate(authorization) {
        Ok(access) if access.scopes.is_none() && !access.oauth => {}
        Ok(_) => {
            return Answer::error(
                &ApiError::new(
                    403,
                    "MISSING_SCOPES",
                    "The control API needs the private app's token.",
                ),
                correlation,
            )
        }
        Err(error) => return Answer::error(&error, correlation),
    }
    let body = match read_body(body).await.and_then(|b| json_body(&b)) {
        Ok(body) => body,
        Err(error) => return Answer::error(&error, correlation),
    };
    match control::handle(shared, parts.method.as_str(), parts.uri.path(), body) {
        Ok(body) => Answer {
            status: 200,
            body,
            headers: Vec::new(),
        },
        Err(error) => Answer::error(&error, correlation),
    }
}

fn respond(answer: Answer, correlation: &str) -> Response<Full<Bytes>> {
    let body = if answer.body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&answer.body).unwrap_or_else(|_| b"{}".to_vec())
    };
    let empty = body.is_empty();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if !empty {
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=utf-8"),
        );
    }
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put("x-hubspot-correlation-id", correlation);
    for (name, value) in &answer.headers {
        put(name, value);
    }
    response
}
