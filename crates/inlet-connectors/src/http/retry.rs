//! When to retry an HTTP request, and how long to wait: the rules of the official Stripe
//! libraries, which suit any API that says what it wants (`Retry-After`, `*-Should-Retry`).

use std::time::Duration;

/// What the server said about a failed request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hints {
    /// `Retry-After`, in seconds.
    pub retry_after: Option<Duration>,
    /// `Stripe-Should-Retry` (or an API's equivalent).
    pub should_retry: Option<bool>,
}

/// Longest `Retry-After` honoured in place; longer waits go back to the engine, which
/// records the stream's state while it waits.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Whether a response with `status` is worth sending again.
pub fn should_retry(status: u16, hints: Hints) -> bool {
    if let Some(said) = hints.should_retry {
        return said;
    }
    match status {
        409 | 500..=599 => true,
        // Without the server's word, a 429 is retried only after the wait it names.
        429 => hints.retry_after.is_some_and(|d| d <= MAX_RETRY_AFTER),
        _ => false,
    }
}

/// The wait before retry `attempt` (from 1): the server's `Retry-After` when it gave one,
/// else 0.5 s doubling up to 5 s, with 50–100 % jitter so clients don't retry in step.
pub fn delay(attempt: u32, hints: Hints, jitter: f64) -> Duration {
    if let Some(after) = hints.retry_after.filter(|d| *d <= MAX_RETRY_AFTER) {
        return after;
    }
    let base = (0.5 * 2f64.powi(attempt.saturating_sub(1).min(10) as i32)).min(5.0);
    Duration::from_secs_f64(base * (0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_servers_word_then_the_status() {
        let none = Hints::default();
        assert!(should_retry(500, none) && should_retry(503, none) && should_retry(409, none));
        assert!(!should_retry(400, none) && !should_retry(401, none) && !should_retry(404, none));
        assert!(
            !should_retry(429, none),
            "429 alone is not retried in place"
        );
        let after = Hints {
            retry_after: Some(Duration::from_secs(2)),
            ..none
        };
        assert!(should_retry(429, after));
        let told_no = Hints {
            should_retry: Some(false),
            ..none
        };
        assert!(!should_retry(500, told_no));
        let told_yes = Hints {
            should_retry: Some(true),
            ..none
        };
        assert!(should_retry(429, told_yes) && should_retry(400, told_yes));
    }

    #[test]
    fn backoff_doubles_to_five_seconds_with_jitter_and_honours_retry_after() {
        let none = Hints::default();
        assert_eq!(delay(1, none, 1.0), Duration::from_millis(500));
        assert_eq!(delay(2, none, 1.0), Duration::from_secs(1));
        assert_eq!(delay(9, none, 1.0), Duration::from_secs(5));
        assert_eq!(delay(1, none, 0.0), Duration::from_millis(250));
        let after = Hints {
            retry_after: Some(Duration::from_secs(7)),
            ..none
        };
        assert_eq!(delay(1, after, 0.3), Duration::from_secs(7));
    }
}
