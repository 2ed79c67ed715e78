//! Errors say who must act and how: every kind maps, in one place ([`crate::retry`]), to
//! retrying after a delay, needing a person (with a one-sentence fix), or starting over.

use std::time::Duration;

use serde::Serialize;

/// What went wrong, as far as deciding what to do about it goes. Source (API) kinds and
/// destination kinds share one list, so every retry loop asks the same policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Connection failed, reset or timed out.
    Network,
    /// The API asked us to slow down (429).
    RateLimited,
    /// The API failed (5xx).
    ServerError,
    /// The credentials were refused (401).
    Unauthorized,
    /// The credentials lack a permission (403, restricted keys).
    Forbidden,
    /// The saved cursor is too old or was invalidated: the stream must backfill again.
    CursorExpired,
    /// The API answered something we cannot interpret.
    InvalidResponse,
    /// A bug in inlet stopped a stream's reader (it panicked). Retrying would most likely
    /// meet it again, so a person decides.
    Internal,
    /// The destination could not be reached, or refused or dropped the session. Retried:
    /// a person may fix the database meanwhile, and the sync resumes by itself.
    DestinationUnavailable,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    pub kind: ErrorKind,
    pub message: String,
    /// What a person should do, when one must act. [`SourceError::new`] starts it as the
    /// kind's own sentence ([`ErrorKind::fix`]); a connector that knows better replaces it.
    pub fix: Option<String>,
    /// The server's own word on when to retry (`Retry-After`), already capped at
    /// [`crate::MAX_SERVER_WAIT`] by whoever read it.
    pub retry_after: Option<Duration>,
}

impl SourceError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        SourceError {
            kind,
            message: message.into(),
            fix: kind.fix().map(str::to_string),
            retry_after: None,
        }
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// What to do about this failure, the `attempt`th in a row (from 1). Retry loops ask
    /// this, and nothing else.
    pub fn action(&self, attempt: u32) -> Action {
        self.kind.action(attempt, self.retry_after)
    }
}

/// What to do about an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    RetryAfter(Duration),
    /// Stop this stream until a person acts; the error's fix says how.
    NeedsPerson,
    /// Start the stream over (a fresh backfill).
    Restart,
}
