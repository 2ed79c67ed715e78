//! Fault knobs, settable at any time from tests (or over `/_fake/faults`): failing the next
//! requests (429 bursts, 5xx), added latency, dropped connections, duplicate and reordered
//! webhooks, an invalidated list cursor, expired events, and a request budget (Stripe's
//! rate limit: requests beyond it get 429).

use std::ops::Deref;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::knobs::Knobs;

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

impl From<u16> for Failure {
    fn from(status: u16) -> Failure {
        Failure::status(status)
    }
}

#[derive(Debug, Default)]
struct State {
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

/// The knobs: every fake's ([`Knobs`]: failures, latency, dropped connections, reached
/// through `Deref`) and Stripe's own; every method takes effect for the next request.
#[derive(Debug, Default)]
pub struct Faults {
    common: Knobs<Failure>,
    state: Mutex<State>,
}

impl Deref for Faults {
    type Target = Knobs<Failure>;

    fn deref(&self) -> &Knobs<Failure> {
        &self.common
    }
}

impl Faults {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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

    /// Turns every knob off, the common ones too.
    pub fn clear(&self) {
        self.common.clear();
        *self.state() = State::default();
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
