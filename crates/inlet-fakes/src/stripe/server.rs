//! The HTTP server, on the fakes' shared accept loop (`crate::serve`).
//!
//! Every `/v1` request: maybe dropped, counted, delayed, maybe failed (fault knobs), then
//! authenticated and answered by [`super::api`], with `Request-Id` and `Stripe-Version`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::serve::{is_control, Dropped};

use super::errors::ApiError;
use super::faults::Failure;
use super::{api, control, form, Shared};

/// Request bodies above this are refused (Stripe's requests are small forms).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// What an answer is made of before it becomes a hyper response.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    pub fn ok(body: Value) -> Answer {
        Answer {
            status: 200,
            body,
            headers: Vec::new(),
        }
    }

    pub fn error(error: &ApiError, request_id: &str) -> Answer {
        Answer {
            status: error.status,
            body: error.body(request_id),
            headers: error.headers.clone(),
        }
    }
}

fn injected(failure: Failure) -> ApiError {
    let mut error = if failure.status == 429 {
        ApiError::invalid("Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.")
    } else if failure.status >= 500 {
        ApiError {
            kind: "api_error",
            ..ApiError::invalid("An unknown error occurred (injected by the fake).")
        }
    } else {
        ApiError::invalid("The request failed (injected by the fake).")
    };
    if failure.status == 409 {
        error.code = Some("lock_timeout");
    }
    error.status = failure.status;
    if let Some(seconds) = failure.retry_after {
        error.headers.push(("Retry-After", seconds.to_string()));
    }
    if let Some(retry) = failure.should_retry {
        error
            .headers
            .push(("Stripe-Should-Retry", retry.to_string()));
    }
    error
}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let path = request.uri().path().to_string();
    let control = is_control(&path);
    if !control && shared.faults.take_drop() {
        return Err(Dropped);
    }
    let request_id = shared.request_id();
    let version = request
        .headers()
        .get("stripe-version")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| shared.api_version.clone(), str::to_string);
    let answer = if control {
        answer_control(&shared, request, &request_id).await
    } else {
        shared.requests.fetch_add(1, Ordering::Relaxed);
        // The budget is spent on arrival, as Stripe counts requests; over it, an immediate 429.
        let endpoint = super::api::endpoint(request.method().as_str(), &path);
        if shared.faults.take_budget(&endpoint) {
            let now = shared.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
            shared.in_flight_peak.fetch_max(now, Ordering::Relaxed);
            let latency = shared.faults.current_latency();
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let answer = match shared.faults.take_failure() {
                Some(failure) => Answer::error(&injected(failure), &request_id),
                None => answer_api(&shared, request, &request_id).await,
            };
            shared.in_flight.fetch_sub(1, Ordering::Relaxed);
            answer
        } else {
            shared.rate_limited.fetch_add(1, Ordering::Relaxed);
            Answer::error(&injected(Failure::status(429)), &request_id)
        }
    };
    Ok(respond(answer, &request_id, &version))
}

async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
    crate::serve::read_body(body, MAX_BODY)
        .await
        .ok_or_else(|| {
            ApiError::invalid("The request body could not be read, or is larger than 4 MB.")
        })
}

async fn answer_api(shared: &Shared, request: Request<Incoming>, request_id: &str) -> Answer {
    let (parts, body) = request.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let access = match shared
        .keys()
        .authenticate(header("authorization").as_deref())
    {
        Ok(access) => access,
        Err(error) => return Answer::error(&error, request_id),
    };
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(error) => return Answer::error(&error, request_id),
    };
    let call = api::Call {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: form::decode(parts.uri.query().unwrap_or_default().as_bytes()),
        body: form::decode(&body),
        access,
        request_id,
        idempotency_key: header("idempotency-key"),
    };
    match api::handle(shared, call) {
        Ok(body) => Answer::ok(body),
        Err(error) => Answer::error(&error, request_id),
    }
}

async fn answer_control(shared: &Shared, request: Request<Incoming>, request_id: &str) -> Answer {
    let (parts, body) = request.into_parts();
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    match shared.keys().authenticate(authorization) {
        Ok(super::auth::Access::Secret) => {}
        Ok(_) => {
            return Answer::error(
                &ApiError {
                    status: 403,
                    ..ApiError::invalid("The control API needs the secret key.")
                },
                request_id,
            )
        }
        Err(error) => return Answer::error(&error, request_id),
    }
    let body = match read_body(body).await {
        Ok(body) if body.is_empty() => Value::Null,
        Ok(body) => match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(error) => {
                return Answer::error(
                    &ApiError::invalid(format!("The body is not JSON: {error}")),
                    request_id,
                )
            }
        },
        Err(error) => return Answer::error(&error, request_id),
    };
    match control::handle(shared, parts.method.as_str(), parts.uri.path(), body) {
        Ok(body) => Answer::ok(body),
        Err(error) => Answer::error(&error, request_id),
    }
}

fn respond(answer: Answer, request_id: &str, version: &str) -> Response<Full<Bytes>> {
    let body =
        serde_json::to_vec(&answer.body).unwrap_or_else(|_| json!({}).to_string().into_bytes());
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put("request-id", request_id);
    put("stripe-version", version);
    for (name, value) in &answer.headers {
        put(name, value);
    }
    response
}
