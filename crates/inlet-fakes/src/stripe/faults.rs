//! Fault knobs, settable at any time from tests (or over `/_fake/faults`): failing the next
//! requests (429 bursts, 5xx), added latency, dropped connections, duplicate and reordered
//! webhooks, an invalidated list cursor, expired events, and request budgets (Stripe's
//! rate limits, the whole account's and each endpoint's: requests beyond them get 429).

use std::collections::HashMap;
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
    /// Each endpoint's own budget, at this rate, by endpoint (see [`Faults::take_budget`]).
    endpoint_rate: Option<f64>,
    endpoints: HashMap<String, Budget>,
}

/// Requests per second allowed, as Stripe enforces it: a bucket of a second's worth that
/// refills continuously; a request finding it empty is answered 429.
#[derive(Debug, Clone, Copy)]
struct Budget {
    per_second: f64,
    tokens: f64,
    at: Instant,
}

impl Budget {
    fn full(per_second: f64) -> Self {
        Budget {
            per_second,
            tokens: per_second.max(1.0),
            at: Instant::now(),
        }
    }

    /// Whether a request may pass now, refilling first (nothing is spent).
    fn has_room(&mut self, now: Instant) -> bool {
        let refill = now.duration_since(self.at).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.per_second.max(1.0));
        self.at = now;
        self.tokens >= 1.0
    }
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
        self.state().budget = per_second.filter(|r| *r > 0.0).map(Budget::full);
    }

    /// Allows `per_second` requests a second to each endpoint besides the whole budget, as
    /// Stripe's default per-endpoint limit (25/s): an endpoint is a method and a path with
    /// its ids left out, so `GET /v1/customers/{id}/payment_methods` for every customer is
    /// one. `None` (or zero) lifts it.
    pub fn endpoint_rate_limit(&self, per_second: Option<f64>) {
        let mut state = self.state();
        state.endpoint_rate = per_second.filter(|r| *r > 0.0);
        state.endpoints.clear();
    }

    /// Turns every knob off, the common ones too.
    pub fn clear(&self) {
        self.common.clear();
        *self.state() = State::default();
    }

    /// Whether the budgets allow one more request to `endpoint` now: the whole budget and
    /// the endpoint's own. Both are spent if so; a refused request spends neither.
    pub(crate) fn take_budget(&self, endpoint: &str) -> bool {
        let now = Instant::now();
        let state = &mut *self.state();
        let whole = state.budget.as_mut();
        let own = match state.endpoint_rate {
            Some(rate) => Some(
                (state.endpoints)
                    .entry(endpoint.to_string())
                    .or_insert_with(|| Budget::full(rate)),
            ),
            None => None,
        };
        let mut budgets: Vec<&mut Budget> = whole.into_iter().chain(own).collect();
        if !budgets.iter_mut().all(|b| b.has_room(now)) {
            return false;
        }
        budgets.iter_mut().for_each(|b| b.tokens -= 1.0);
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
        let take = || faults.take_budget("GET /v1/customers");
        assert!(take(), "no budget: everything passes");
        faults.rate_limit(Some(5.0));
        let passed = (0..20).filter(|_| take()).count();
        assert!(
            (5..=6).contains(&passed),
            "a second's worth at once: {passed}"
        );
        faults.rate_limit(None);
        assert!((0..20).all(|_| take()));
    }

    #[test]
    fn each_endpoint_has_its_own_budget_within_the_whole_one() {
        let faults = Faults::default();
        faults.rate_limit(Some(8.0));
        faults.endpoint_rate_limit(Some(3.0));
        let take = |endpoint: &str| (0..10).filter(|_| faults.take_budget(endpoint)).count();
        let customers = take("GET /v1/customers");
        assert!((3..=4).contains(&customers), "{customers}");
        let invoices = take("GET /v1/invoices");
        assert!((3..=4).contains(&invoices), "{invoices}");
        let third = take("GET /v1/charges");
        assert!(
            customers + invoices + third <= 9,
            "the whole budget holds: {customers} + {invoices} + {third}"
        );
        assert!(
            third < 3,
            "what the others spent is gone for it too: {third}"
        );
        faults.endpoint_rate_limit(None);
        faults.rate_limit(None);
        assert_eq!(take("GET /v1/customers"), 10);
    }
}
