//! The sync's [`Allowance`] in use: every request of the sync takes a call from it first and
//! waits while the share is spent (the stream is paused, not failed), every answer's
//! `Sforce-Limit-Info` feeds it, and an org that refuses with `REQUEST_LIMIT_EXCEEDED`
//! (another integration spent the allocation) pauses the sync until it is asked again.
//! Each change is told to the sync's meter ([`ApiUsage`]), so `inlet sync status` shows
//! the calls used today and why and until when the sync waits; and the day the meter says
//! the sync was in before (an earlier run, another worker) is resumed, so restarts do not
//! each take a fresh share.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::time::Instant as Clock;

use crate::http::{ApiDay, ApiEvent, ApiUsage, Budget, Meter, Paused};

use super::allowance::{Allowance, Spent};

/// Why the sync waits, as `inlet sync status` says it.
pub const SHARE_SPENT: &str = "this sync used its share of the org's daily API allocation \
     (api_share); it goes on when its day turns";
pub const ORG_REFUSED: &str = "Salesforce refused calls with REQUEST_LIMIT_EXCEEDED: the org's \
     daily API allocation, shared by every integration, is spent (or too many long requests \
     run at once); the sync asks again then";

#[derive(Debug)]
pub struct DailyShare {
    allowance: Mutex<Allowance>,
    /// How long to wait before asking a refusing org again: calls free up as the rolling
    /// 24 hours move on, so asking often only spends what little frees.
    ask_again: Duration,
    meter: Meter,
    paused: Mutex<Option<Paused>>,
}

/// `at` in Unix seconds (an `Instant` has no calendar).
fn unix(at: Instant) -> i64 {
    let now = now();
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    match at.checked_duration_since(now) {
        Some(ahead) => secs(wall + ahead),
        None => secs(wall.saturating_sub(now.duration_since(at))),
    }
}

/// Unix seconds `at` as an instant, if still to come.
fn instant_of(at: i64) -> Option<Instant> {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let ahead = u64::try_from(at).ok()?.checked_sub(wall)?;
    Some(now() + Duration::from_secs(ahead))
}

/// Now, on tokio's clock, which tests pause and move on.
fn now() -> Instant {
    Clock::now().into_std()
}

impl DailyShare {
    /// `share` of the remaining allocation per `day` (24 hours but in tests).
    pub fn new(share: f64, day: Duration, meter: Meter) -> DailyShare {
        DailyShare {
            allowance: Mutex::new(Allowance::with_day(share, day)),
            // Every five minutes in a day of 24 hours; never more than once a second.
            ask_again: (day / 288).max(Duration::from_secs(1)),
            meter,
            paused: Mutex::new(None),
        }
    }

    fn allowance(&self) -> std::sync::MutexGuard<'_, Allowance> {
        self.allowance.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn report(&self, paused: Option<Paused>) {
        *self.paused.lock().unwrap_or_else(|e| e.into_inner()) = paused;
        let (calls_today, day) = {
            let a = self.allowance();
            (a.used_today(), a.day())
        };
        self.meter.record(ApiEvent::Usage(ApiUsage {
            calls_today,
            paused,
            day: day.map(|(ends, calls)| ApiDay {
                ends: unix(ends),
                calls,
            }),
        }));
    }

    /// Takes one call of the share, first waiting while it is spent.
    pub async fn take(&self) {
        loop {
            let earlier = self.meter.earlier().and_then(|u| {
                let day = u.day?;
                Some((instant_of(day.ends)?, day.calls, u.calls_today))
            });
            let taken = {
                let mut a = self.allowance();
                if let Some((ends, calls, used)) = earlier {
                    a.resume(ends, calls, used, now());
                }
                a.take(now())
            };
            match taken {
                Ok(()) => {
                    self.report(None);
                    return;
                }
                Err(Spent { resume_at, .. }) => {
                    let until = unix(resume_at);
                    tracing::info!(until, "daily API share spent: pausing until the day turns");
                    self.report(Some(Paused {
                        until,
                        reason: SHARE_SPENT,
                    }));
                    tokio::time::sleep_until(Clock::from_std(resume_at)).await;
                }
            }
        }
    }

    /// An answer said what is left of the org's allocation.
    pub fn observe(&self, budget: Budget) {
        self.allowance().observe(budget, now());
    }

    /// The org refused a call for its limit: waits before the call is sent again.
    pub async fn refused(&self) {
        let resume_at = now() + self.ask_again;
        let until = unix(resume_at);
        tracing::warn!(
            until,
            "salesforce refused a call with request_limit_exceeded: pausing"
        );
        self.report(Some(Paused {
            until,
            reason: ORG_REFUSED,
        }));
        tokio::time::sleep_until(Clock::from_std(resume_at)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_become_unix_seconds_either_side_of_now() {
        let now = now();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs() as i64;
        assert!((unix(now + Duration::from_secs(60)) - (wall + 60)).abs() <= 1);
        if let Some(before) = now.checked_sub(Duration::from_secs(60)) {
            assert!((unix(before) - (wall - 60)).abs() <= 1);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_spent_share_waits_for_its_day_and_says_so() {
        let share = DailyShare::new(0.1, Duration::from_secs(100), Meter::default());
        share.take().await; // one call to learn
        share.observe(Budget {
            remaining: 20,
            limit: Some(100),
            window: Duration::from_secs(86_400),
        });
        let start = Clock::now();
        share.take().await;
        share.take().await;
        assert_eq!(start.elapsed(), Duration::ZERO, "2 calls: 10% of 20");
        let third = tokio::time::timeout(Duration::from_secs(1), share.take()).await;
        assert!(third.is_err(), "the third waits");
        let paused = *share.paused.lock().expect("lock");
        assert_eq!(paused.map(|p| p.reason), Some(SHARE_SPENT));
        share.take().await;
        assert!(start.elapsed() >= Duration::from_secs(100), "a day later");
        assert_eq!(*share.paused.lock().expect("lock"), None, "going again");
    }
}
