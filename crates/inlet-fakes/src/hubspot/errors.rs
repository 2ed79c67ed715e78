//! Errors: [`HubSpotError`] for the Rust API, and HubSpot-shaped HTTP errors
//! (`{"status":"error","message","correlationId","category",...}`) for the wire.

use serde_json::{json, Map, Value};

/// Why a call to the fake's Rust API (or the control API) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubSpotError {
    #[error("unknown object type `{0}`")]
    UnknownType(String),
    #[error("no {kind} with id {id}")]
    NotFound { kind: String, id: String },
    #[error("{0}")]
    Invalid(String),
}

/// An HTTP error response in HubSpot's shape.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: u16,
    pub category: &'static str,
    pub message: String,
    /// Extra top-level fields (`context`, `policyName`, `errorType`, `errors`), boxed so
    /// results carrying an error stay small.
    pub extra: Box<Map<String, Value>>,
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(status: u16, category: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            category,
            message: message.into(),
            extra: Box::default(),
            headers: Vec::new(),
        }
    }

    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "VALIDATION_ERROR", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "OBJECT_NOT_FOUND", message)
    }

    pub fn unknown_route(method: &str, path: &str) -> ApiError {
        ApiError::new(
            404,
            "OBJECT_NOT_FOUND",
            format!("No route for {method} {path}"),
        )
    }

    pub fn with(mut self, key: &str, value: Value) -> ApiError {
        self.extra.insert(key.to_string(), value);
        self
    }

    pub fn body(&self, correlation_id: &str) -> Value {
        let mut body = Map::new();
        body.insert("status".into(), json!("error"));
        body.insert("message".into(), json!(self.message));
        body.insert("correlationId".into(), json!(correlation_id));
        body.insert("category".into(), json!(self.category));
        for (k, v) in self.extra.iter() {
            body.insert(k.clone(), v.clone());
        }
        Value::Object(body)
    }
}

impl From<HubSpotError> for ApiError {
    fn from(error: HubSpotError) -> ApiError {
        match &error {
            HubSpotError::UnknownType(name) => {
                ApiError::validation(format!("Unable to infer object type from: {name}"))
            }
            HubSpotError::NotFound { .. } => ApiError::not_found(error.to_string()),
            HubSpotError::Invalid(_) => ApiError::validation(error.to_string()),
        }
    }
}
