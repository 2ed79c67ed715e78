//! A real local HTTP server whose answers a test scripts, and which records every request
//! it was sent (method, path, credentials, body, arrival time).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
    pub at: Instant,
}

/// An answer: status, headers, body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Answer {
    pub fn ok(body: &str) -> Answer {
        Answer::status(200).body(body)
    }

    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn body(mut self, body: &str) -> Answer {
        self.body = body.to_string();
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Answer {
        self.headers.push((name, value.into()));
        self
    }
}

type Script = dyn Fn(&Seen, &[Seen]) -> Answer + Send + Sync;

#[derive(Clone)]
struct Shared {
    script: Arc<Script>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// The server, answering each request with `script(request, earlier requests)`.
pub struct Server {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub async fn start(
        script: impl Fn(&Seen, &[Seen]) -> Answer + Send + Sync + 'static,
    ) -> Server {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            script: Arc::new(script),
            seen: seen.clone(),
        };
        let app = axum::Router::new().fallback(answer).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server { url, seen }
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    /// The requests to `path`.
    pub fn seen_at(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }
}

async fn answer(State(shared): State<Shared>, request: Request) -> Response {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let text = |h: &HeaderMap, name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        authorization: text(&parts.headers, "authorization"),
        content_type: text(&parts.headers, "content-type"),
        body: String::from_utf8_lossy(&body).into_owned(),
        at,
    };
    let answer = {
        let mut log = shared.seen.lock().expect("seen");
        let answer = (shared.script)(&seen, &log);
        log.push(seen);
        answer
    };
    let mut response =
        Response::builder().status(StatusCode::from_u16(answer.status).expect("status"));
    for (name, value) in answer.headers {
        response = response.header(name, value);
    }
    response
        .body(Body::from(answer.body))
        .map(IntoResponse::into_response)
        .expect("response")
}
