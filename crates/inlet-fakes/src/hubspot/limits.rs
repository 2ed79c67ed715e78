//! HubSpot's request budgets: a rolling 10-second window and a daily count (midnight UTC) for
//! every call but search, reported in `X-HubSpot-RateLimit-*` headers; search's own
//! per-second limit, whose answers carry no such headers. Past a budget: 429 with the
//! `policyName` HubSpot uses. Refused requests do not count.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::json;

use super::clock::DAY_MS;
use super::errors::ApiError;

const WINDOW: Duration = Duration::from_secs(10);
const SECOND: Duration = Duration::from_secs(1);

/// The budgets; the defaults are a Professional portal's private app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests per rolling 10 seconds (`X-HubSpot-RateLimit-Max`).
    pub per_ten_seconds: u32,
    /// Requests per day (`X-HubSpot-RateLimit-Daily`).
    pub daily: u64,
    /// Search requests per second.
    pub search_per_second: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            per_ten_seconds: 190,
            daily: 625_000,
            search_per_second: 5,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Budget {
    pub limits: Limits,
    window: VecDeque<Instant>,
    searches: VecDeque<Instant>,
    day: i64,
    used_today: u64,
    /// 429s answered (for tests and stats), and of those, search's.
    pub refused: u64,
    pub refused_search: u64,
}

fn expire(queue: &mut VecDeque<Instant>, now: Instant, span: Duration) {
    while queue
        .front()
        .is_some_and(|t| now.duration_since(*t) >= span)
    {
        queue.pop_front();
    }
}

fn rate_limited(policy: &str, message: &str) -> ApiError {
    ApiError::new(429, "RATE_LIMITS", message)
        .with("errorType", json!("RATE_LIMIT"))
        .with("policyName", json!(policy))
}

impl Budget {
    pub fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            ..Budget::default()
        }
    }

    /// Takes one search request from the per-second budget.
    pub fn take_search(&mut self, now: Instant) -> Result<(), ApiError> {
        expire(&mut self.searches, now, SECOND);
        if self.searches.len() >= self.limits.search_per_second as usize {
            self.refused += 1;
            self.refused_search += 1;
            return Err(rate_limited(
                "SECONDLY",
                "You have reached your secondly limit.",
            ));
        }
        self.searches.push_back(now);
        Ok(())
    }

    /// Takes one request from the 10-second and daily budgets; gives the headers to send
    /// (`daily_headers` false for OAuth calls, which HubSpot answers without them).
    pub fn take(
        &mut self,
        now: Instant,
        now_ms: i64,
        daily_headers: bool,
    ) -> Result<Vec<(&'static str, String)>, ApiError> {
        expire(&mut self.window, now, WINDOW);
        let day = now_ms.div_euclid(DAY_MS);
        if day != self.day {
            self.day = day;
            self.used_today = 0;
        }
        let max = self.limits.per_ten_seconds;
        if self.used_today >= self.limits.daily {
            self.refused += 1;
            let mut error = rate_limited("DAILY", "You have reached your daily limit.");
            error.headers = self.headers(now, daily_headers);
            return Err(error);
        }
        if self.window.len() >= max as usize {
            self.refused += 1;
            let mut error = rate_limited(
                "TEN_SECONDLY_ROLLING",
                "You have reached your ten_secondly_rolling limit.",
            );
            error.headers = self.headers(now, daily_headers);
            return Err(error);
        }
        self.window.push_back(now);
        self.used_today += 1;
        Ok(self.headers(now, daily_headers))
    }

    fn headers(&self, now: Instant, daily: bool) -> Vec<(&'static str, String)> {
        let max = self.limits.per_ten_seconds;
        let in_second = self
            .window
            .iter()
            .filter(|t| now.duration_since(**t) < SECOND)
            .count();
        let secondly = (max / 10).max(1);
        let mut headers = vec![
            (
                "X-HubSpot-RateLimit-Interval-Milliseconds",
                "10000".to_string(),
            ),
            ("X-HubSpot-RateLimit-Max", max.to_string()),
            (
                "X-HubSpot-RateLimit-Remaining",
                (max as usize).saturating_sub(self.window.len()).to_string(),
            ),
            ("X-HubSpot-RateLimit-Secondly", secondly.to_string()),
            (
                "X-HubSpot-RateLimit-Secondly-Remaining",
                (secondly as usize).saturating_sub(in_second).to_string(),
            ),
        ];
        if daily {
            headers.push(("X-HubSpot-RateLimit-Daily", self.limits.daily.to_string()));
            headers.push((
                "X-HubSpot-RateLimit-Daily-Remaining",
                self.limits
                    .daily
                    .saturating_sub(self.used_today)
                    .to_string(),
            ));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ten_second_window_refuses_then_recovers() {
        let mut budget = Budget::new(Limits {
            per_ten_seconds: 3,
            daily: 100,
            search_per_second: 2,
        });
        let t0 = Instant::now();
        for left in ["2", "1", "0"] {
            let headers = budget.take(t0, 0, true).expect("within budget");
            let remaining = headers
                .iter()
                .find(|(n, _)| *n == "X-HubSpot-RateLimit-Remaining");
            assert_eq!(remaining.map(|(_, v)| v.as_str()), Some(left));
        }
        let refused = budget.take(t0, 0, true).expect_err("over budget");
        assert_eq!(refused.status, 429);
        assert_eq!(refused.extra["policyName"], json!("TEN_SECONDLY_ROLLING"));
        assert!(budget.take(t0 + WINDOW, 0, true).is_ok(), "a new window");
        assert!(budget.take_search(t0).is_ok());
        assert!(budget.take_search(t0).is_ok());
        let search = budget
            .take_search(t0)
            .expect_err("third search in one second");
        assert_eq!(search.extra["policyName"], json!("SECONDLY"));
        assert!(budget.take_search(t0 + SECOND).is_ok());
    }

    #[test]
    fn the_daily_budget_resets_at_midnight_utc() {
        let mut budget = Budget::new(Limits {
            per_ten_seconds: 100,
            daily: 2,
            search_per_second: 5,
        });
        let t0 = Instant::now();
        assert!(budget.take(t0, 10, true).is_ok());
        assert!(budget.take(t0, 20, false).is_ok());
        let refused = budget.take(t0, 30, true).expect_err("daily budget spent");
        assert_eq!(refused.extra["policyName"], json!("DAILY"));
        assert!(budget.take(t0, DAY_MS + 1, true).is_ok());
    }
}
