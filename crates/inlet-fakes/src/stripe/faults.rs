//! Fault knobs, settable at any time from tests (or over `/_fake/faults`): failing the next
//! requests (429 bursts, 5xx), added latency, dropped connections, duplicate and reordered
//! webhooks, an invalidated list cursor, expired events, and a request budget (Stripe's
//! rate limit: requests beyond it get 429).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How an injected failure answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub status: u16,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
    /// The `Stripe-Should-Retry` header's value.
    pub should_retry: Option<bool>,
}

impl Failure {
    pub fn status(status: u16) -> Failure {
        Failure {
            status,
            retry_after: None,
            should_retry: None,
        }
    }

    pub fn retry_after(self, seconds: u64) -> Failure {
        Failure {
            retry_after: Some(seconds),
            ..self
        }
    }

    pub fn should_retry(self, yes: bool) -> Failure {
        Failure {
            should_retry: Some(yes),
            ..self
        }
    }
}

#[derive(Debug, Default)]
struct State {
    failures: VecDeque<(u32, Failure)>,
    latency: Duration,
    drop_connections: u32,
    webhook_duplicate: bool,
    webhook_reorder: bool,
    invalidate_cursor: bool,
    events_expire_before: Option<i64>,
    budget: Option<Budget>,
}

/// Requests per second allowed, as Stripe enforces it: a bucket of a second's worth that
/// refills continuously; a request finding it empty is answered 429.
#[derive(Debug, Clone, Copy)]
struct Budget {
    per_second: f64,
    tokens: f64,
    at: Instant,
}

/// The knobs; every method takes effect for the next request.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<State>,
}

impl Faults {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next `n` API requests fail with `status` and a Stripe-shaped error body.
    pub fn fail_next(&self, n: u32, status: u16) {
        self.fail_next_with(n, Failure::status(status));
    }

    /// The next `n` API requests fail as `failure` says (after any failures already queued).
    pub fn fail_next_with(&self, n: u32, failure: Failure) {
        if n > 0 {
            self.state().failures.push_back((n, failure));
        }
    }

    /// Every API response waits this long first (zero to stop).
    pub fn latency(&self, delay: Duration) {
        self.state().latency = delay;
    }

    /// The next `n` API requests get their connection closed without any response.
    pub fn drop_next_connections(&self, n: u32) {
        self.state().drop_connections += n;
    }

    /// Deliver every webhook event twice.
    pub fn webhook_duplicate(&self, on: bool) {
        self.state().webhook_duplicate = on;
    }

    /// Deliver webhook events in swapped pairs: a later event before an earlier one.
    pub fn webhook_reorder(&self, on: bool) {
        self.state().webhook_reorder = on;
    }

    /// The next list request with `starting_after` gets 400 `resource_missing`, as if the
    /// cursor's object had just been deleted.
    pub fn invalidate_cursor_next(&self) {
        self.state().invalidate_cursor = true;
    }

    /// Events created before `unix_secs` are gone: not listed, not retrievable, and a cursor
    /// on one is `resource_missing` (Stripe keeps 30 days).
    pub fn expire_events_before(&self, unix_secs: i64) {
        self.state().events_expire_before = Some(unix_secs);
    }

    /// Allows `per_second` API requests a second (a second's worth at once), answering
    /// the rest with Stripe's 429; `None` (or zero) lifts the limit.
    pub fn rate_limit(&self, per_second: Option<f64>) {
        self.state().budget = per_second.filter(|r| *r > 0.0).map(|per_second| Budget {
            per_second,
            tokens: per_second,
            at: Instant::now(),
        });
    }

    /// Turns every knob off.
    pub fn clear(&self) {
        *self.state() = State::default();
    }

    pub(crate) fn take_failure(&self) -> Option<Failure> {
        let mut state = self.state();
        let (left, failure) = state.failures.front_mut()?;
        let failure = *failure;
        *left -= 1;
        if *left == 0 {
            state.failures.pop_front();
        }
        Some(failure)
    }

    /// Whether the budget allows one more request now (it is spent if so).
    pub(crate) fn take_budget(&self) -> bool {
        let mut state = self.state();
        let Some(budget) = state.budget.as_mut() else {
            return true;
        };
        let now = Instant::now();
        let refill = now.duration_since(budget.at).as_secs_f64() * budget.per_second;
        budget.tokens = (budget.tokens + refill).min(budget.per_second.max(1.0));
        budget.at = now;
        if budget.tokens < 1.0 {
            return false;
        }
        budget.tokens -= 1.0;
        true
    }

    pub(crate) fn take_drop(&self) -> bool {
        let mut state = self.state();
        let drop = state.drop_connections > 0;
        state.drop_connections = state.drop_connections.saturating_sub(1);
        drop
    }

    pub(crate) fn current_latency(&self) -> Duration {
        self.state().latency
    }

    pub(crate) fn take_invalidate_cursor(&self) -> bool {
        std::mem::take(&mut self.state().invalidate_cursor)
    }

    pub(crate) fn events_expire_before(&self) -> Option<i64> {
        self.state().events_expire_before
    }

    pub(crate) fn webhook_modes(&self) -> (bool, bool) {
        let state = self.state();
        (state.webhook_duplicate, state.webhook_reorder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_taken_in_order_then_stop() {
        let faults = Faults::default();
        faults.fail_next(2, 500);
        faults.fail_next_with(1, Failure::status(429).retry_after(3));
        let taken: Vec<_> = std::iter::from_fn(|| faults.take_failure()).collect();
        assert_eq!(
            taken,
            vec![
                Failure::status(500),
                Failure::status(500),
                Failure::status(429).retry_after(3)
            ]
        );
        faults.drop_next_connections(1);
        assert!(faults.take_drop());
        assert!(!faults.take_drop());
        faults.invalidate_cursor_next();
        assert!(faults.take_invalidate_cursor());
        assert!(!faults.take_invalidate_cursor());
    }

    #[test]
    fn the_budget_allows_a_seconds_worth_then_refuses_until_it_refills() {
        let faults = Faults::default();
        assert!(faults.take_budget(), "no budget: everything passes");
        faults.rate_limit(Some(5.0));
        let passed = (0..20).filter(|_| faults.take_budget()).count();
        assert!(
            (5..=6).contains(&passed),
            "a second's worth at once: {passed}"
        );
        faults.rate_limit(None);
        assert!((0..20).all(|_| faults.take_budget()));
    }
}
