//! A request to an API: any method, a path under the client's base URL, and an optional
//! body (JSON, or a form). Kept as bytes so a retry sends exactly the same request again.
//!
//! inlet only reads from the APIs it syncs, so every request, a `POST` search included, is
//! safe to send twice; the scaffold retries them all the same way.

use bytes::Bytes;
use reqwest::header::HeaderValue;
use reqwest::Method;

#[derive(Clone, Debug)]
pub struct Request {
    pub(super) method: Method,
    /// Path and query, appended to the client's base URL.
    pub(super) path: String,
    /// The body and its `Content-Type`.
    pub(super) body: Option<(HeaderValue, Bytes)>,
}

impl Request {
    pub fn new(method: Method, path_and_query: impl Into<String>) -> Self {
        Request {
            method,
            path: path_and_query.into(),
            body: None,
        }
    }

    pub fn get(path_and_query: impl Into<String>) -> Self {
        Request::new(Method::GET, path_and_query)
    }

    pub fn post(path_and_query: impl Into<String>) -> Self {
        Request::new(Method::POST, path_and_query)
    }

    /// A JSON body (HubSpot's search).
    pub fn json(mut self, body: &serde_json::Value) -> Self {
        let bytes = Bytes::from(body.to_string());
        self.body = Some((HeaderValue::from_static("application/json"), bytes));
        self
    }

    /// A form body, `application/x-www-form-urlencoded` (OAuth token endpoints).
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.extend_pairs(pairs);
        let content_type = HeaderValue::from_static("application/x-www-form-urlencoded");
        self.body = Some((content_type, Bytes::from(form.finish())));
        self
    }

    /// The path without its query (which may name ids), for messages.
    pub fn path(&self) -> &str {
        self.path.split('?').next().unwrap_or_default()
    }
}
