//! Errors: [`SalesforceError`] for the Rust API, and Salesforce-shaped HTTP errors for the
//! wire: REST answers a JSON array `[{"message", "errorCode"}]`, the OAuth token endpoint
//! an object `{"error", "error_description"}`.

use serde_json::{json, Value};

/// Why a call to the fake's Rust API (or the control API) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SalesforceError {
    #[error("unknown object `{0}`")]
    UnknownObject(String),
    #[error("no {object} record with id {id}")]
    NotFound { object: String, id: String },
    #[error("{0}")]
    Invalid(String),
}

/// An HTTP error response in Salesforce's REST shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "MALFORMED_QUERY", message)
    }

    pub fn invalid_field(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "INVALID_FIELD", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "NOT_FOUND", message)
    }

    pub fn session() -> ApiError {
        ApiError::new(401, "INVALID_SESSION_ID", "Session expired or invalid")
    }

    /// Salesforce answers a spent daily allocation with 403, not 429.
    pub fn request_limit() -> ApiError {
        // The message's wording is not verified (apis.md §3.7); the code and status are.
        ApiError::new(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        )
    }

    pub fn body(&self) -> Value {
        json!([{"message": self.message, "errorCode": self.code}])
    }
}

impl From<SalesforceError> for ApiError {
    fn from(error: SalesforceError) -> ApiError {
        match &error {
            SalesforceError::UnknownObject(name) => ApiError::new(
                404,
                "NOT_FOUND",
                format!("The requested resource does not exist: sObject type '{name}' is not supported."),
            ),
            SalesforceError::NotFound { .. } => ApiError::not_found(error.to_string()),
            SalesforceError::Invalid(message) => {
                ApiError::new(400, "INVALID_FIELD", message.clone())
            }
        }
    }
}
