//! The one HTTP scaffold every connector uses: a base URL, default headers (auth, API
//! version), a shared rate limit, timeouts, and retries on connection errors, 5xx and
//! server-approved 429s. Connectors turn what is left (a final status and body) into
//! their own errors.

mod rate_limit;
mod retry;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

pub use rate_limit::{RateLimiter, MAX_IN_FLIGHT};
pub use retry::{delay, should_retry, Hints};

/// A response, whatever its status.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
    /// The server's clock (`Date`), in Unix seconds.
    pub date: Option<i64>,
    pub hints: Hints,
}

/// Why no response came back (after retries).
#[derive(Clone, Debug, thiserror::Error)]
#[error("{0}")]
pub struct NetworkError(pub String);

#[derive(Clone, Debug)]
pub struct HttpClient {
    http: reqwest::Client,
    base: String,
    limiter: Arc<RateLimiter>,
    /// Attempts per request, the first included.
    attempts: u32,
    /// The header a server uses to say whether to retry (`Stripe-Should-Retry`).
    should_retry_header: Option<HeaderName>,
}

impl HttpClient {
    /// `base` is prefixed to every path (no trailing slash); `headers` go with every request.
    pub fn new(
        base: &str,
        headers: HeaderMap,
        limiter: Arc<RateLimiter>,
        should_retry_header: Option<&'static str>,
    ) -> Result<Self, NetworkError> {
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("inlet/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .map_err(|e| NetworkError(format!("could not set up HTTP: {e}")))?;
        Ok(HttpClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            limiter,
            attempts: 4,
            should_retry_header: should_retry_header.map(HeaderName::from_static),
        })
    }

    /// `GET base + path_and_query`, retried as [`should_retry`] says.
    pub async fn get(&self, path_and_query: &str) -> Result<Reply, NetworkError> {
        let url = format!("{}{}", self.base, path_and_query);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limiter.acquire().await;
            let last = attempt >= self.attempts;
            let sent = tokio::time::Instant::now();
            match self.http.get(&url).send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let (date, hints) = self.read_headers(response.headers());
                    let body = match response.bytes().await {
                        Ok(body) => body,
                        Err(e) if !last => {
                            tracing::debug!(error = %e, "response cut off; retrying");
                            tokio::time::sleep(delay(attempt, Hints::default(), jitter())).await;
                            continue;
                        }
                        Err(e) => return Err(NetworkError(describe(e))),
                    };
                    // The sync's concurrency follows latency; a 429 slows all its requests.
                    self.limiter.observe(sent.elapsed());
                    if status == 429 {
                        self.limiter.slow_down(hints.retry_after);
                    }
                    if status >= 400 && !last && should_retry(status, hints) {
                        tracing::debug!(status, attempt, "retrying");
                        tokio::time::sleep(delay(attempt, hints, jitter())).await;
                        continue;
                    }
                    return Ok(Reply {
                        status,
                        body,
                        date,
                        hints,
                    });
                }
                Err(e) if !last => {
                    tracing::debug!(error = %describe(e), attempt, "request failed; retrying");
                    tokio::time::sleep(delay(attempt, Hints::default(), jitter())).await;
                }
                Err(e) => return Err(NetworkError(describe(e))),
            }
        }
    }

    fn read_headers(&self, headers: &HeaderMap) -> (Option<i64>, Hints) {
        let text = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        let date = text(&reqwest::header::DATE)
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64);
        let retry_after = text(&reqwest::header::RETRY_AFTER)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let should_retry = self
            .should_retry_header
            .as_ref()
            .and_then(text)
            .map(|v| v.eq_ignore_ascii_case("true"));
        (
            date,
            Hints {
                retry_after,
                should_retry,
            },
        )
    }
}

/// A header value from configuration (a key, a version), refused if it can't be one.
pub fn header(value: &str) -> Result<HeaderValue, NetworkError> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| NetworkError("a header value contains characters HTTP cannot carry".into()))?;
    v.set_sensitive(true);
    Ok(v)
}

/// The error and its causes, without the URL's query (which may name ids).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn jitter() -> f64 {
    let mut b = [0u8; 1];
    match getrandom::fill(&mut b) {
        Ok(()) => f64::from(b[0]) / 255.0,
        Err(_) => 1.0,
    }
}
