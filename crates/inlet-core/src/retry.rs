//! The one retry policy: for every kind of failure, whether to try again, after how long,
//! and what a person should do. The engine (a stream's reader), the run loop (the
//! destination) and the HTTP scaffold (one request, in place) all ask here, so there is one
//! delay curve per situation and no retry loop of its own anywhere else.

use std::time::Duration;

use crate::error::{Action, ErrorKind};

/// Delays that double from `first` up to `max`. With `jitter`, each delay is 50–100 % of
/// the curve's value, so many clients failing together do not retry in step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Curve {
    pub first: Duration,
    pub max: Duration,
    pub jitter: bool,
}

impl Curve {
    /// The wait before retry `attempt` (from 1). `jitter` is a random number in `[0, 1]`
    /// (anything else counts as 1); curves without jitter ignore it.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let doubled = self
            .first
            .saturating_mul(1 << attempt.saturating_sub(1).min(20))
            .min(self.max);
        if !self.jitter {
            return doubled;
        }
        let jitter = if (0.0..=1.0).contains(&jitter) {
            jitter
        } else {
            1.0
        };
        doubled.mul_f64(0.5 + 0.5 * jitter)
    }
}

/// One HTTP request sent again within the call (connection errors, 5xx, a 429 the server
/// says to retry): 0.5 s doubling to 5 s with jitter, the official Stripe libraries' curve.
pub const IN_PLACE: Curve = Curve {
    first: Duration::from_millis(500),
    max: Duration::from_secs(5),
    jitter: true,
};

/// Attempts per HTTP request within one call, the first included; after them the failure
/// goes to the engine, which records it and resumes the stream on [`STREAM`].
pub const IN_PLACE_ATTEMPTS: u32 = 4;

/// The longest `Retry-After` waited within a call; a longer one goes to the engine, which
/// shows the stream's state while it waits.
pub const MAX_IN_PLACE_WAIT: Duration = Duration::from_secs(60);

/// A stream's reader resumed by the engine from its last checkpoint: 1 s doubling to 5
/// minutes.
pub const STREAM: Curve = Curve {
    first: Duration::from_secs(1),
    max: Duration::from_secs(300),
    jitter: false,
};

/// Reconnecting to the destination: 2 s doubling to a minute.
pub const DESTINATION: Curve = Curve {
    first: Duration::from_secs(2),
    max: Duration::from_secs(60),
    jitter: false,
};

/// The longest wait a server may ask for (`Retry-After`). Whatever it says (a year, or
/// `1e20` seconds), inlet asks again after this; a server that still refuses says so again.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(3600);

impl ErrorKind {
    /// What to do about the `attempt`th failure of this kind in a row (from 1);
    /// `server_wait` is the server's `Retry-After`, if it gave one.
    pub fn action(self, attempt: u32, server_wait: Option<Duration>) -> Action {
        let stream = STREAM.delay(attempt, 1.0);
        match self {
            ErrorKind::Network | ErrorKind::ServerError | ErrorKind::InvalidResponse => {
                Action::RetryAfter(stream)
            }
            ErrorKind::RateLimited => {
                Action::RetryAfter(server_wait.map_or(stream, |wait| wait.min(MAX_SERVER_WAIT)))
            }
            ErrorKind::Unauthorized | ErrorKind::Forbidden | ErrorKind::Internal => {
                Action::NeedsPerson
            }
            ErrorKind::CursorExpired => Action::Restart,
            ErrorKind::DestinationUnavailable => {
                Action::RetryAfter(DESTINATION.delay(attempt, 1.0))
            }
        }
    }

    /// The sentence telling a person what to do, for errors whose source knows no better.
    pub fn fix(self) -> Option<&'static str> {
        Some(match self {
            ErrorKind::Network => {
                "nothing, if it passes: inlet retries by itself; if it lasts, check that this \
                 machine reaches the API (DNS, proxy, firewall)"
            }
            ErrorKind::RateLimited => {
                "nothing: inlet waits as the API asks, then resumes; if it lasts, other programs \
                 may be using up the same account's limit"
            }
            ErrorKind::ServerError => {
                "nothing, if it passes: inlet retries by itself; the API's status page says \
                 whether it is having an outage"
            }
            ErrorKind::Unauthorized => {
                "check the credentials this sync uses, and store working ones (`inlet sync add` \
                 again)"
            }
            ErrorKind::Forbidden => {
                "give the credentials read access to this data; the other streams keep syncing"
            }
            ErrorKind::CursorExpired => return None,
            ErrorKind::InvalidResponse => {
                "inlet retries by itself; if it lasts, report it to inlet's maintainers with \
                 this message"
            }
            ErrorKind::Internal => {
                "this is a bug in inlet: report it with this message; restarting `inlet run` \
                 tries the stream again"
            }
            ErrorKind::DestinationUnavailable => {
                "inlet reconnects by itself; `inlet destination check` says what is wrong"
            }
        })
    }

    /// The kind of a failed HTTP response, for the sources (all of them speak HTTP).
    pub fn of_http_status(status: u16) -> ErrorKind {
        match status {
            401 => ErrorKind::Unauthorized,
            403 => ErrorKind::Forbidden,
            429 => ErrorKind::RateLimited,
            // 409: a conflict on the server's side (Stripe's lock timeouts), which passes.
            409 | 500..=599 => ErrorKind::ServerError,
            _ => ErrorKind::InvalidResponse,
        }
    }
}

/// What the server said about a failed HTTP request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerWord {
    /// `Retry-After`, capped at [`MAX_SERVER_WAIT`].
    pub retry_after: Option<Duration>,
    /// Whether to send it again (`Stripe-Should-Retry`, or an API's equivalent).
    pub should_retry: Option<bool>,
}

/// Whether a request that failed for the `attempt`th time (from 1) is sent again within the
/// call, and after how long. `status` is `None` when no response came back (a connection
/// error, a body cut off). `None`: the failure goes to the caller, and from there to the
/// engine ([`ErrorKind::action`]).
pub fn retry_in_place(
    status: Option<u16>,
    word: ServerWord,
    attempt: u32,
    jitter: f64,
) -> Option<Duration> {
    if attempt >= IN_PLACE_ATTEMPTS {
        return None;
    }
    let backoff = IN_PLACE.delay(attempt, jitter);
    let wait = word.retry_after.filter(|d| *d <= MAX_IN_PLACE_WAIT);
    let Some(status) = status else {
        return Some(backoff);
    };
    let retry = match word.should_retry {
        Some(said) => said,
        None => match ErrorKind::of_http_status(status) {
            ErrorKind::ServerError => true,
            // Without the server's word, a 429 is retried in place only after the wait it
            // names; otherwise the engine backs the stream off.
            ErrorKind::RateLimited => wait.is_some(),
            _ => false,
        },
    };
    retry.then(|| wait.unwrap_or(backoff))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceError;

    #[test]
    fn transient_errors_back_off_and_credentials_need_a_person() {
        let net = SourceError::new(ErrorKind::Network, "reset");
        assert_eq!(net.action(1), Action::RetryAfter(Duration::from_secs(1)));
        assert_eq!(net.action(3), Action::RetryAfter(Duration::from_secs(4)));
        assert_eq!(net.action(40), Action::RetryAfter(Duration::from_secs(300)));
        let mut limited = SourceError::new(ErrorKind::RateLimited, "429");
        limited.retry_after = Some(Duration::from_secs(7));
        assert_eq!(
            limited.action(5),
            Action::RetryAfter(Duration::from_secs(7))
        );
        limited.retry_after = Some(Duration::MAX);
        assert_eq!(limited.action(1), Action::RetryAfter(MAX_SERVER_WAIT));
        for needs_person in [
            ErrorKind::Forbidden,
            ErrorKind::Unauthorized,
            ErrorKind::Internal,
        ] {
            assert_eq!(needs_person.action(1, None), Action::NeedsPerson);
            assert!(
                needs_person.fix().is_some(),
                "{needs_person:?} says what to do"
            );
        }
        assert_eq!(ErrorKind::CursorExpired.action(1, None), Action::Restart);
    }

    #[test]
    fn the_destination_is_retried_from_two_seconds_to_a_minute() {
        let waits: Vec<_> = (1..=7)
            .map(|n| ErrorKind::DestinationUnavailable.action(n, None))
            .collect();
        let secs = |s| Action::RetryAfter(Duration::from_secs(s));
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60].map(secs));
    }

    #[test]
    fn a_connector_fix_replaces_the_kinds_sentence() {
        let e = SourceError::new(ErrorKind::Forbidden, "no");
        assert_eq!(e.fix.as_deref(), ErrorKind::Forbidden.fix());
        assert_eq!(e.with_fix("grant it").fix.as_deref(), Some("grant it"));
    }

    #[test]
    fn requests_are_retried_in_place_as_the_server_says_then_by_status() {
        let none = ServerWord::default();
        let again = |status, word| retry_in_place(Some(status), word, 1, 1.0);
        assert_eq!(again(500, none), Some(Duration::from_millis(500)));
        assert!(again(503, none).is_some() && again(409, none).is_some());
        assert!(again(400, none).is_none() && again(401, none).is_none());
        assert!(again(429, none).is_none(), "429 alone goes to the engine");
        let after = ServerWord {
            retry_after: Some(Duration::from_secs(2)),
            ..none
        };
        assert_eq!(again(429, after), Some(Duration::from_secs(2)));
        let long = ServerWord {
            retry_after: Some(Duration::from_secs(61)),
            ..none
        };
        assert!(again(429, long).is_none(), "a long wait is the engine's");
        let told_no = ServerWord {
            should_retry: Some(false),
            ..none
        };
        assert!(again(500, told_no).is_none());
        let told_yes = ServerWord {
            should_retry: Some(true),
            ..none
        };
        assert!(again(429, told_yes).is_some() && again(400, told_yes).is_some());
        assert!(retry_in_place(None, none, 1, 0.0).is_some(), "no response");
        assert!(retry_in_place(Some(500), none, IN_PLACE_ATTEMPTS, 1.0).is_none());
    }

    #[test]
    fn in_place_backoff_doubles_to_five_seconds_with_jitter() {
        assert_eq!(IN_PLACE.delay(1, 1.0), Duration::from_millis(500));
        assert_eq!(IN_PLACE.delay(2, 1.0), Duration::from_secs(1));
        assert_eq!(IN_PLACE.delay(9, 1.0), Duration::from_secs(5));
        assert_eq!(IN_PLACE.delay(1, 0.0), Duration::from_millis(250));
        assert_eq!(IN_PLACE.delay(u32::MAX, f64::NAN), Duration::from_secs(5));
    }
}
