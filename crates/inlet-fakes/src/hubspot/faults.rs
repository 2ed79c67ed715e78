//! Fault knobs, settable at any time from tests (or over `/_fake/faults`): failing the next
//! requests with a status (5xx, or 429 with a `policyName`), added latency, dropped
//! connections. Expiring OAuth tokens is [`super::FakeHubSpot::expire_tokens`].

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

#[derive(Debug, Default)]
struct State {
    failures: VecDeque<(u32, u16)>,
    latency: Duration,
    drop_connections: u32,
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

    /// The next `n` API requests (search included) fail with `status` and a HubSpot-shaped
    /// body; a 429 names the `TEN_SECONDLY_ROLLING` policy.
    pub fn fail_next(&self, n: u32, status: u16) {
        if n > 0 {
            self.state().failures.push_back((n, status));
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

    /// Turns every knob off.
    pub fn clear(&self) {
        *self.state() = State::default();
    }

    pub(crate) fn take_failure(&self) -> Option<u16> {
        let mut state = self.state();
        let (left, status) = state.failures.front_mut()?;
        let status = *status;
        *left -= 1;
        if *left == 0 {
            state.failures.pop_front();
        }
        Some(status)
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
}
