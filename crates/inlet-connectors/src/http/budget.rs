//! The vendor's own word on how much of its request budget is left, from its response
//! headers, slowing a sync before the vendor refuses it. Each source names the reader of
//! its vendor's headers ([`BudgetHeaders`]); the scaffold feeds what it reads to a
//! [`Pacer`] shared by every request of the sync, alongside its token bucket.
//!
//! * HubSpot: `X-HubSpot-RateLimit-Remaining` requests left in a rolling window of
//!   `X-HubSpot-RateLimit-Interval-Milliseconds`, out of `X-HubSpot-RateLimit-Max`.
//! * Salesforce: `Sforce-Limit-Info: api-usage=USED/LIMIT` over a rolling 24 hours.
//!
//! While more than a tenth of the budget is left, nothing changes. Below that, requests are
//! spaced so that what is left lasts the window (other clients of the account keep their
//! share); with nothing left, the next request waits for the window. No wait is longer than
//! [`MAX_IN_PLACE_WAIT`]: past it the vendor's refusal (a 429, Salesforce's 403) tells the
//! engine to back the stream off, and the state shows it.

use std::time::Duration;

use inlet_core::MAX_IN_PLACE_WAIT;
use reqwest::header::HeaderMap;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// What is left of a budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub remaining: u64,
    /// The whole budget per window, when the vendor says.
    pub limit: Option<u64>,
    /// The window the budget is counted over.
    pub window: Duration,
}

/// A source's reader of its vendor's budget headers: `None` when they are absent or
/// unreadable (vendors omit them now and then), which changes nothing.
pub type BudgetHeaders = fn(&HeaderMap) -> Option<Budget>;

/// HubSpot's `X-HubSpot-RateLimit-*` headers.
pub fn hubspot(headers: &HeaderMap) -> Option<Budget> {
    let number =
        |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
    let window = Duration::from_millis(number("x-hubspot-ratelimit-interval-milliseconds")?);
    Some(Budget {
        remaining: number("x-hubspot-ratelimit-remaining")?,
        limit: number("x-hubspot-ratelimit-max"),
        window,
    })
}

/// Salesforce's `Sforce-Limit-Info: api-usage=USED/LIMIT[; api-bursts=...]`.
pub fn salesforce(headers: &HeaderMap) -> Option<Budget> {
    let info = headers.get("sforce-limit-info")?.to_str().ok()?;
    let usage = info
        .split([';', ','])
        .find_map(|part| part.trim().strip_prefix("api-usage="))?;
    let (used, limit) = usage.split_once('/')?;
    let used: u64 = used.trim().parse().ok()?;
    let limit: u64 = limit.trim().parse().ok()?;
    Some(Budget {
        remaining: limit.saturating_sub(used),
        limit: Some(limit),
        window: Duration::from_secs(24 * 3600),
    })
}

/// Spaces a sync's requests as the last budget read says.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<Pace>,
}

#[derive(Debug)]
struct Pace {
    /// The least time between two requests.
    spacing: Duration,
    /// When the next request may go.
    next: Instant,
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer {
            state: Mutex::new(Pace {
                spacing: Duration::ZERO,
                next: Instant::now(),
            }),
        }
    }
}

impl Pacer {
    /// Takes in a budget just read from a response.
    pub async fn observe(&self, budget: Budget) {
        let mut pace = self.state.lock().await;
        let plenty = budget
            .limit
            .is_some_and(|limit| budget.remaining > limit / 10);
        pace.spacing = match plenty {
            true => Duration::ZERO,
            false => (budget.window
                / u32::try_from(budget.remaining.saturating_add(1)).unwrap_or(u32::MAX))
            .min(MAX_IN_PLACE_WAIT),
        };
        let now = Instant::now();
        if budget.remaining == 0 {
            pace.next = pace.next.max(now + budget.window.min(MAX_IN_PLACE_WAIT));
        } else if plenty {
            // Fresh word that the budget refilled: a turn reserved on older, scarcer word
            // need not be waited for.
            pace.next = pace.next.min(now);
        }
    }

    /// Waits for the next request's turn; true when that meant waiting (the budget is low).
    pub async fn wait(&self) -> bool {
        let (at, now) = {
            let mut pace = self.state.lock().await;
            let now = Instant::now();
            let at = pace.next.max(now);
            pace.next = at + pace.spacing;
            (at, now)
        };
        tokio::time::sleep_until(at).await;
        at > now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("value"));
        }
        map
    }

    #[test]
    fn hubspot_and_salesforce_headers_are_read_and_garbage_says_nothing() {
        let h = headers(&[
            ("x-hubspot-ratelimit-remaining", "149"),
            ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
            ("x-hubspot-ratelimit-max", "150"),
        ]);
        let window = Duration::from_secs(10);
        assert_eq!(
            hubspot(&h),
            Some(Budget {
                remaining: 149,
                limit: Some(150),
                window
            })
        );
        let h = headers(&[
            ("x-hubspot-ratelimit-remaining", "-3"),
            ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
        ]);
        assert_eq!(hubspot(&h), None);
        let s = headers(&[(
            "sforce-limit-info",
            "api-usage=10018/100000; api-bursts=1/750",
        )]);
        let day = Duration::from_secs(86_400);
        assert_eq!(
            salesforce(&s),
            Some(Budget {
                remaining: 89_982,
                limit: Some(100_000),
                window: day
            })
        );
        let over = headers(&[("sforce-limit-info", "api-usage=100200/100000")]);
        assert_eq!(salesforce(&over).map(|b| b.remaining), Some(0));
        assert_eq!(
            salesforce(&headers(&[("sforce-limit-info", "api-usage=1/")])),
            None
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_low_budget_spaces_requests_and_an_empty_one_waits_for_the_window() {
        let pacer = Pacer::default();
        let start = Instant::now();
        let window = Duration::from_secs(10);
        pacer
            .observe(Budget {
                remaining: 100,
                limit: Some(150),
                window,
            })
            .await;
        for _ in 0..5 {
            pacer.wait().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "plenty left: no waiting");

        pacer
            .observe(Budget {
                remaining: 4,
                limit: Some(150),
                window,
            })
            .await;
        pacer.wait().await;
        pacer.wait().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "4 left over 10 s: one every 2 s"
        );

        pacer
            .observe(Budget {
                remaining: 0,
                limit: Some(150),
                window,
            })
            .await;
        let empty = Instant::now();
        pacer.wait().await;
        assert!(
            empty.elapsed() >= window,
            "nothing left: wait for the window"
        );

        pacer
            .observe(Budget {
                remaining: 0,
                limit: None,
                window: Duration::from_secs(86_400),
            })
            .await;
        let day = Instant::now();
        pacer.wait().await;
        assert!(
            day.elapsed() <= MAX_IN_PLACE_WAIT + Duration::from_secs(10),
            "never more than a minute"
        );
    }
}
