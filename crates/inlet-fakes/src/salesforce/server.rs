//! The HTTP server, on the fakes' shared accept loop (`crate::serve`).
//!
//! Every request but the control API's: maybe dropped, counted, delayed, maybe failed
//! (fault knobs); then the token endpoint, the versions list (no session needed), or a
//! REST call: authenticated (401 `INVALID_SESSION_ID`), charged to the daily allocation
//! (403 `REQUEST_LIMIT_EXCEEDED`, `Sforce-Limit-Info` on every answer) and routed.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde_json::Value;

use crate::serve::{is_control, Dropped};

use super::errors::ApiError;
use super::{auth, control, describe, limits, query, render, replication, Shared};
use super::{LATEST_VERSION, OLDEST_VERSION};

const MAX_BODY: usize = 8 * 1024 * 1024;

pub(crate) enum Body {
    Json(Value),
    Csv(String),
    Empty,
}

pub(crate) struct Answer {
    pub status: u16,
    pub body: Body,
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    pub fn ok(body: Value) -> Answer {
        Answer {
            status: 200,
            body: Body::Json(body),
            headers: Vec::new(),
        }
    }

    pub fn error(error: &ApiError) -> Answer {
        Answer {
            status: error.status,
            body: Body::Json(error.body()),
            headers: Vec::new(),
        }
    }
}

fn injected(status: u16) -> ApiError {
    match status {
        401 => ApiError::session(),
        403 => ApiError::request_limit(),
        503 => ApiError::new(
            503,
            "SERVER_UNAVAILABLE",
            "Server temporarily unavailable (injected by the fake)",
        ),
        s if s >= 500 => ApiError::new(
            s,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred (injected by the fake)",
        ),
        s => ApiError::new(
            s,
            "UNKNOWN_EXCEPTION",
            "The request failed (injected by the fake)",
        ),
    }
}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    if is_control(request.uri().path()) {
        return Ok(respond(answer_control(&shared, request).await));
    }
    if shared.faults.take_drop() {
        return Err(Dropped);
    }
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let now = shared.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    shared.in_flight_peak.fetch_max(now, Ordering::Relaxed);
    let latency = shared.faults.current_latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let answer = match shared.faults.take_failure() {
        Some(status) => Answer::error(&injected(status)),
        None => answer(&shared, request).await,
    };
    shared.in_flight.fetch_sub(1, Ordering::Relaxed);
    Ok(respond(answer))
}

async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
    crate::serve::read_body(body, MAX_BODY)
        .await
        .ok_or_else(|| {
            ApiError::new(
                400,
                "JSON_PARSER_ERROR",
                "The request body could not be read, or is larger than 8 MB.",
            )
        })
}

fn json_body(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            400,
            "JSON_PARSER_ERROR",
            format!("The request body is not JSON: {e}"),
        )
    })
}

async fn answer(shared: &Shared, request: Request<Incoming>) -> Answer {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if path.trim_end_matches('/') == "/services/oauth2/token" && parts.method == "POST" {
        let body = match read_body(body).await {
            Ok(body) => body,
            Err(error) => return Answer::error(&error),
        };
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(&body).into_owned().collect();
        let basic = auth::basic(header("authorization").as_deref());
        return match shared.auth().token(&form, basic) {
            Ok(body) => Answer::ok(body),
            Err((status, body)) => Answer {
                status,
                body: Body::Json(body),
                headers: Vec::new(),
            },
        };
    }
    let Some(rest) = path.strip_prefix("/services/data") else {
        return Answer::error(&ApiError::not_found(
            "The requested resource does not exist",
        ));
    };
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let Some((version, segments)) = segments.split_first() else {
        // The versions list needs no session and is not counted against the allocation.
        return Answer::ok(describe::versions());
    };
    let version = match version
        .strip_prefix('v')
        .and_then(|v| v.strip_suffix(".0"))
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|v| (OLDEST_VERSION..=LATEST_VERSION).contains(v))
    {
        Some(v) => format!("{v}.0"),
        None => {
            return Answer::error(&ApiError::not_found(
                "The requested resource does not exist",
            ))
        }
    };
    if let Err(error) = shared
        .auth()
        .authenticate(header("authorization").as_deref())
    {
        return Answer::error(&error);
    }
    let usage = match shared.allocation().take(Instant::now()) {
        Ok(usage) => usage,
        Err(error) => return Answer::error(&error),
    };
    let body = match read_body(body).await.and_then(|b| json_body(&b)) {
        Ok(body) => body,
        Err(error) => return Answer::error(&error),
    };
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let call = Call {
        method: parts.method.as_str(),
        version: &version,
        segments,
        params: &params,
        body: &body,
        batch: query::batch_size(header("sforce-query-options").as_deref()),
    };
    let mut answer = match route(shared, &call) {
        Ok(answer) => answer,
        Err(error) => Answer::error(&error),
    };
    answer.headers.push(("Sforce-Limit-Info", usage));
    answer
}

struct Call<'a> {
    method: &'a str,
    version: &'a str,
    segments: &'a [&'a str],
    params: &'a HashMap<String, String>,
    body: &'a Value,
    batch: usize,
}

impl Call<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

fn route(shared: &Shared, call: &Call<'_>) -> Result<Answer, ApiError> {
    let version = call.version;
    let ok = |v: Value| Ok(Answer::ok(v));
    match (call.method, call.segments) {
        ("GET", []) => ok(describe::resources(version)),
        ("GET", ["limits"]) => ok(shared.allocation().limits(Instant::now())),
        ("GET", ["limits", "recordCount"]) => ok(limits::record_counts(
            &shared.read(),
            call.param("sObjects"),
        )),
        ("GET", ["sobjects"]) => {
            let store = shared.read();
            let objects: Vec<_> = store.tables.iter().map(|t| &t.object).collect();
            ok(describe::global(&objects, version))
        }
        ("GET", ["sobjects", name]) => {
            let store = shared.read();
            ok(describe::basic(
                &store.tables[store.table(name)?].object,
                version,
            ))
        }
        ("GET", ["sobjects", name, "describe"]) => {
            let store = shared.read();
            ok(describe::describe(
                &store.tables[store.table(name)?].object,
                version,
            ))
        }
        ("GET", ["sobjects", name, kind @ ("updated" | "deleted")]) => {
            let store = shared.read();
            let t = store.table(name)?;
            if !store.tables[t].object.replicateable {
                return Err(ApiError::new(
                    400,
                    "INVALID_TYPE",
                    format!("{name} is not replicateable"),
                ));
            }
            let now = super::clock::now_ms();
            let (start, end) = (call.param("start"), call.param("end"));
            ok(if *kind == "updated" {
                replication::updated(&store, t, start, end, now)?
            } else {
                replication::deleted(&store, t, start, end, now)?
            })
        }
        ("GET", ["sobjects", name, id]) => {
            let store = shared.read();
            let t = store.table(name)?;
            let record = store.tables[t]
                .records
                .get(*id)
                .filter(|r| r.deleted_ms.is_none())
                .ok_or_else(|| {
                    ApiError::not_found(
                        "Provided external ID field does not exist or is not accessible: "
                            .to_string()
                            + id,
                    )
                })?;
            let columns: Vec<usize> = (0..store.tables[t].object.fields.len()).collect();
            ok(render::rest_record(&store, t, record, &columns))
        }
        ("GET", [kind @ ("query" | "queryAll")]) => {
            let soql = call
                .param("q")
                .ok_or_else(|| ApiError::malformed("A query string (q) is required"))?;
            let store = shared.read();
            ok(query::first(
                &store,
                &mut shared.cursors(),
                soql,
                *kind == "queryAll",
                call.batch,
                version,
            )?)
        }
        ("GET", ["query" | "queryAll", next]) => {
            let store = shared.read();
            ok(query::more(
                &store,
                &mut shared.cursors(),
                next,
                call.batch,
                version,
            )?)
        }
        ("POST", ["jobs", "query"]) => {
            let store = shared.read();
            let user = store.api_user.clone();
            ok(shared.jobs().create(&store, version, call.body, &user)?)
        }
        ("GET", ["jobs", "query"]) => ok(shared.jobs().list()),
        ("GET", ["jobs", "query", id]) => ok(shared.jobs().get(id)?),
        ("PATCH", ["jobs", "query", id]) => ok(shared.jobs().abort(id, call.body)?),
        ("DELETE", ["jobs", "query", id]) => {
            shared.jobs().delete(id)?;
            Ok(Answer {
                status: 204,
                body: Body::Empty,
                headers: Vec::new(),
            })
        }
        ("GET", ["jobs", "query", id, "results"]) => {
            let (csv, rows, locator) = shared.jobs().results(
                id,
                version,
                call.param("locator"),
                call.param("maxRecords"),
            )?;
            Ok(Answer {
                status: 200,
                body: Body::Csv(csv),
                headers: vec![
                    ("Sforce-NumberOfRecords", rows.to_string()),
                    ("Sforce-Locator", locator),
                ],
            })
        }
        _ => Err(ApiError::not_found("The requested resource does not exist")),
    }
}

async fn answer_control(shared: &Shared, request: Request<Incoming>) -> Answer {
    let (parts, body) = request.into_parts();
    let secret = shared.auth().client_secret.clone();
    let authorized = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|token| token.trim() == secret);
    if !authorized {
        return Answer::error(&ApiError::new(
            401,
            "INVALID_SESSION_ID",
            "The control API needs `Authorization: Bearer <the connected app's client secret>`.",
        ));
    }
    let body = match read_body(body).await.and_then(|b| json_body(&b)) {
        Ok(body) => body,
        Err(error) => return Answer::error(&error),
    };
    match control::handle(shared, parts.method.as_str(), parts.uri.path(), body) {
        Ok(body) => Answer::ok(body),
        Err(error) => Answer::error(&error),
    }
}

fn respond(answer: Answer) -> Response<Full<Bytes>> {
    let (bytes, content_type) = match answer.body {
        Body::Json(value) => (
            serde_json::to_vec(&value).unwrap_or_else(|_| b"[]".to_vec()),
            Some("application/json;charset=UTF-8"),
        ),
        Body::Csv(text) => (text.into_bytes(), Some("text/csv")),
        Body::Empty => (Vec::new(), None),
    };
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    if let Some(content_type) = content_type {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    for (name, value) in &answer.headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(*name, value);
        }
    }
    response
}
