//! The fault knobs every fake has, settable at any time from tests or over its control API
//! (`POST /_fake/faults`): failing the next requests, added latency, dropped connections.
//! A fake with more knobs (Stripe's webhooks, cursors, budget) keeps them beside these.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;

#[derive(Debug)]
struct State<F> {
    failures: VecDeque<(u32, F)>,
    latency: Duration,
    drop_connections: u32,
}

impl<F> Default for State<F> {
    fn default() -> State<F> {
        State {
            failures: VecDeque::new(),
            latency: Duration::ZERO,
            drop_connections: 0,
        }
    }
}

/// The knobs; every method takes effect for the next request. `F` is how an injected
/// failure answers: a status, or a status with the vendor's retry headers.
#[derive(Debug)]
pub struct Knobs<F> {
    state: Mutex<State<F>>,
}

impl<F> Default for Knobs<F> {
    fn default() -> Knobs<F> {
        Knobs {
            state: Mutex::new(State::default()),
        }
    }
}

impl<F: Copy + From<u16>> Knobs<F> {
    fn state(&self) -> MutexGuard<'_, State<F>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next `n` API requests fail with `status` and a body in the vendor's shape.
    pub fn fail_next(&self, n: u32, status: u16) {
        self.fail_next_with(n, F::from(status));
    }

    /// The next `n` API requests fail as `failure` says (after any failures already queued).
    pub fn fail_next_with(&self, n: u32, failure: F) {
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

    /// Injected failures and dropped connections not served yet (0: every one was met).
    pub fn pending(&self) -> u32 {
        let state = self.state();
        state.failures.iter().map(|(n, _)| n).sum::<u32>() + state.drop_connections
    }

    /// Turns every knob off.
    pub fn clear(&self) {
        *self.state() = State::default();
    }

    pub(crate) fn take_failure(&self) -> Option<F> {
        let mut state = self.state();
        let (left, failure) = state.failures.front_mut()?;
        let failure = *failure;
        *left -= 1;
        if *left == 0 {
            state.failures.pop_front();
        }
        Some(failure)
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

    /// Sets the knob `name` of a control API request (`clear`, `latency_ms`,
    /// `drop_next_connections`, `fail_next` as `{"count", "status"}`): `Ok(false)` when the
    /// name is not one of these, an error in plain words when the value is wrong.
    pub(crate) fn set(&self, name: &str, value: &Value) -> Result<bool, String> {
        match name {
            "clear" => {
                if flag(value, name)? {
                    self.clear();
                }
            }
            "latency_ms" => self.latency(Duration::from_millis(int(value, name)?)),
            "drop_next_connections" => self.drop_next_connections(count(int(value, name)?)),
            "fail_next" => {
                let (n, status) = fail_next(value)?;
                self.fail_next(n, status);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// A control API value that must be a non-negative integer.
pub(crate) fn int(value: &Value, name: &str) -> Result<u64, String> {
    value
        .as_u64()
        .ok_or_else(|| format!("{name} must be a non-negative integer"))
}

/// A control API value that must be `true` or `false`.
pub(crate) fn flag(value: &Value, name: &str) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("{name} must be true or false"))
}

fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `{"count": 3, "status": 502}` (count 1 and status 500 by default).
pub(crate) fn fail_next(value: &Value) -> Result<(u32, u16), String> {
    let n = value
        .get("count")
        .map_or(Ok(1), |c| int(c, "fail_next.count"))?;
    let status = value
        .get("status")
        .map_or(Ok(500), |s| int(s, "fail_next.status"))?;
    let status = u16::try_from(status)
        .ok()
        .filter(|s| (400..600).contains(s))
        .ok_or_else(|| "fail_next.status must be an HTTP error status (400-599)".to_string())?;
    Ok((count(n), status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failures_are_taken_in_order_then_stop() {
        let knobs = Knobs::<u16>::default();
        knobs.fail_next(2, 500);
        knobs.fail_next(1, 429);
        let taken: Vec<_> = std::iter::from_fn(|| knobs.take_failure()).collect();
        assert_eq!(taken, vec![500, 500, 429]);
        knobs.drop_next_connections(1);
        assert!(knobs.take_drop());
        assert!(!knobs.take_drop());
    }

    #[test]
    fn control_values_are_checked_and_unknown_names_left_to_the_fake() {
        let knobs = Knobs::<u16>::default();
        assert_eq!(
            knobs.set("fail_next", &json!({"count": 2, "status": 503})),
            Ok(true)
        );
        assert_eq!(knobs.take_failure(), Some(503));
        assert_eq!(knobs.set("latency_ms", &json!(25)), Ok(true));
        assert_eq!(knobs.current_latency(), Duration::from_millis(25));
        assert_eq!(knobs.set("webhook_reorder", &json!(true)), Ok(false));
        assert_eq!(
            knobs.set("fail_next", &json!({"status": 200})),
            Err("fail_next.status must be an HTTP error status (400-599)".to_string())
        );
        assert_eq!(
            knobs.set("latency_ms", &json!("fast")),
            Err("latency_ms must be a non-negative integer".to_string())
        );
        assert_eq!(knobs.set("clear", &json!(true)), Ok(true));
        assert_eq!(knobs.current_latency(), Duration::ZERO);
        assert_eq!(knobs.take_failure(), None);
    }
}
