//! Errors say who must act and how: every kind maps, in one place, to retrying after a
//! delay, needing a person (with a one-sentence fix), or never retrying.

use std::time::Duration;

use serde::Serialize;

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
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    pub kind: ErrorKind,
    pub message: String,
    /// What a person should do, when one must act.
    pub fix: Option<String>,
    /// The server's own word on when to retry (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl SourceError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        SourceError {
            kind,
            message: message.into(),
            fix: None,
            retry_after: None,
        }
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
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

impl SourceError {
    /// The one place that decides: retry loops ask this, and nothing else. `attempt` counts
    /// from 1; backoff doubles from 1 s to at most 5 minutes.
    pub fn action(&self, attempt: u32) -> Action {
        let backoff = Duration::from_secs(1u64 << attempt.saturating_sub(1).min(8))
            .min(Duration::from_secs(300));
        match self.kind {
            ErrorKind::Network | ErrorKind::ServerError | ErrorKind::InvalidResponse => {
                Action::RetryAfter(backoff)
            }
            ErrorKind::RateLimited => Action::RetryAfter(self.retry_after.unwrap_or(backoff)),
            ErrorKind::Unauthorized | ErrorKind::Forbidden => Action::NeedsPerson,
            ErrorKind::CursorExpired => Action::Restart,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors_back_off_and_credentials_need_a_person() {
        let net = SourceError::new(ErrorKind::Network, "reset");
        assert_eq!(net.action(1), Action::RetryAfter(Duration::from_secs(1)));
        assert_eq!(net.action(3), Action::RetryAfter(Duration::from_secs(4)));
        assert_eq!(net.action(40), Action::RetryAfter(Duration::from_secs(256)));
        let mut limited = SourceError::new(ErrorKind::RateLimited, "429");
        limited.retry_after = Some(Duration::from_secs(7));
        assert_eq!(
            limited.action(5),
            Action::RetryAfter(Duration::from_secs(7))
        );
        assert_eq!(
            SourceError::new(ErrorKind::Forbidden, "").action(1),
            Action::NeedsPerson
        );
        assert_eq!(
            SourceError::new(ErrorKind::CursorExpired, "").action(1),
            Action::Restart
        );
    }
}
