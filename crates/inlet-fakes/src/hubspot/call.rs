//! One API request as the handlers see it: method, path segments, query parameters, JSON
//! body and who is calling.

use serde_json::Value;

use super::auth::Access;
use super::errors::ApiError;

#[derive(Debug)]
pub(crate) struct Call {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Value,
    pub access: Access,
}

impl Call {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A list parameter, comma-separated and/or repeated (`properties=a,b&properties=c`).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.param(name) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(ApiError::validation(format!(
                "{name} must be true or false, not {v:?}"
            ))),
        }
    }

    /// An integer parameter in `1..=max` (default `default`); 400 outside it.
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        match self.param("limit") {
            None => Ok(default),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::validation(format!(
                    "limit must be a whole number from 1 to {max}, not {text:?}"
                ))),
            },
        }
    }
}

/// A JSON body field as a list of strings (`["a","b"]`), empty when absent.
pub(crate) fn strings(body: &Value, field: &str) -> Result<Vec<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::validation(format!("{field} must be a list of strings"))
                })
            })
            .collect(),
        Some(_) => Err(ApiError::validation(format!(
            "{field} must be a list of strings"
        ))),
    }
}

/// A record id from text: HubSpot ids are positive integers.
pub(crate) fn parse_id(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().filter(|id| *id > 0)
}
