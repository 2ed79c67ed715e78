//! Errors: [`FakeError`] for the Rust API, and Stripe-shaped HTTP errors
//! (`{"error": {"type", "code", "message", "param"}}`) for the wire.

use serde_json::{json, Map, Value};

use super::stream::Stream;

/// Why a call to the fake's Rust API was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FakeError {
    #[error("unknown stream `{0}`; the fake serves: {list}", list = stream_names())]
    UnknownStream(String),
    #[error("no such {stream}: '{id}'")]
    NotFound { stream: String, id: String },
    /// Stripe would refuse it too (a product with prices, a finalized invoice, a bad field).
    #[error("{message}")]
    Invalid {
        message: String,
        param: Option<String>,
    },
}

impl FakeError {
    pub(crate) fn invalid(message: impl Into<String>) -> FakeError {
        FakeError::Invalid {
            message: message.into(),
            param: None,
        }
    }

    pub(crate) fn invalid_param(param: &str, message: impl Into<String>) -> FakeError {
        FakeError::Invalid {
            message: message.into(),
            param: Some(param.to_string()),
        }
    }

    pub(crate) fn not_found(stream: Stream, id: &str) -> FakeError {
        FakeError::NotFound {
            stream: stream.object().to_string(),
            id: id.to_string(),
        }
    }
}

fn stream_names() -> String {
    Stream::ALL
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// An HTTP error response in Stripe's shape.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: u16,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub message: String,
    pub param: Option<String>,
    /// Extra response headers (`Retry-After`, `Stripe-Should-Retry`).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            kind: "invalid_request_error",
            code: None,
            message: message.into(),
            param: None,
            headers: Vec::new(),
        }
    }

    pub fn invalid_param(param: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            param: Some(param.to_string()),
            ..ApiError::invalid(message)
        }
    }

    /// 404 for an object that does not exist (`param: id`).
    pub fn no_such(object: &str, id: &str) -> ApiError {
        ApiError {
            status: 404,
            code: Some("resource_missing"),
            param: Some("id".to_string()),
            ..ApiError::invalid(format!("No such {object}: '{id}'"))
        }
    }

    /// 400 for a list cursor whose object is gone or no longer in the list.
    pub fn missing_cursor(object: &str, param: &str, id: &str) -> ApiError {
        ApiError {
            code: Some("resource_missing"),
            param: Some(param.to_string()),
            ..ApiError::invalid(format!("No such {object}: '{id}'"))
        }
    }

    pub fn unrecognized(method: &str, path: &str) -> ApiError {
        ApiError {
            status: 404,
            ..ApiError::invalid(format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
            ))
        }
    }

    pub fn body(&self, request_id: &str) -> Value {
        let mut error = Map::new();
        if let Some(code) = self.code {
            error.insert("code".into(), Value::from(code));
            error.insert(
                "doc_url".into(),
                Value::from(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        error.insert("message".into(), Value::from(self.message.clone()));
        if let Some(param) = &self.param {
            error.insert("param".into(), Value::from(param.clone()));
        }
        error.insert(
            "request_log_url".into(),
            Value::from(format!(
                "https://dashboard.stripe.com/test/logs/{request_id}"
            )),
        );
        error.insert("type".into(), Value::from(self.kind));
        json!({ "error": error })
    }
}

impl From<FakeError> for ApiError {
    fn from(error: FakeError) -> ApiError {
        match error {
            FakeError::UnknownStream(name) => {
                ApiError::invalid(format!("Unknown resource: {name}"))
            }
            FakeError::NotFound { stream, id } => ApiError::no_such(&stream, &id),
            FakeError::Invalid { message, param } => ApiError {
                param,
                ..ApiError::invalid(message)
            },
        }
    }
}
