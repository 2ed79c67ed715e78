//! The sync's [`Allowance`] in use, for any source whose vendor keeps a daily budget per
//! account: every request of the sync that the budget counts takes a call from it first and
//! waits while the share is spent (the stream is paused, not failed), every answer's daily
//! budget headers feed it ([`HttpClient::with_daily`](super::HttpClient::with_daily)), and
//! an account that refuses a call for its daily limit (another integration spent it) pauses
//! the sync until it is asked again: after a while for a rolling day, when the day turns for
//! a calendar one ([`Days`]). Each change is told to the sync's meter ([`ApiUsage`]), so
//! `inlet sync status` shows the calls used today and why and until when the sync waits, in
//! the vendor's words ([`Reasons`]); and the day the meter says the sync was in before (an
//! earlier run, another worker) is resumed, so restarts do not each take a fresh share.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::time::Instant as Clock;

use crate::http::{ApiDay, ApiEvent, ApiUsage, Budget, Meter, Paused};

use super::allowance::{Allowance, Days, Spent, Why};

/// Why the sync waits, as `inlet sync status` says it, in the vendor's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reasons {
    /// The sync used its share (or, on a rolling day, the account has none left).
    pub spent: &'static str,
    /// On a calendar day, the account has none left.
    pub empty: &'static str,
    /// The account refused calls for its daily limit.
    pub refused: &'static str,
}

#[derive(Debug)]
pub struct DailyShare {
    allowance: Mutex<Allowance>,
    reasons: Reasons,
    meter: Meter,
    paused: Mutex<Option<Paused>>,
}

/// How long after the Unix epoch `at` is (an `Instant` has no calendar).
pub(crate) fn since_epoch(at: Instant) -> Duration {
    let now = now();
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    match at.checked_duration_since(now) {
        Some(ahead) => wall + ahead,
        None => wall.saturating_sub(now.duration_since(at)),
    }
}

/// `at` in Unix seconds.
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
    /// `share` of the remaining budget per day, the days running as `days` say.
    pub fn new(share: f64, days: Days, meter: Meter, reasons: Reasons) -> DailyShare {
        DailyShare {
            allowance: Mutex::new(Allowance::with_days(share, days)),
            reasons,
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
                Err(Spent { resume_at, why, .. }) => {
                    let until = unix(resume_at);
                    let reason = match why {
                        Why::Refused => self.reasons.refused,
                        Why::Empty => self.reasons.empty,
                        Why::Share => {
                            tracing::info!(
                                until,
                                "daily API share spent: pausing until the day turns"
                            );
                            self.reasons.spent
                        }
                    };
                    self.report(Some(Paused { until, reason }));
                    tokio::time::sleep_until(Clock::from_std(resume_at)).await;
                }
            }
        }
    }

    /// Sends a call within the share: takes one of it first, and sends the call again,
    /// after the wait [`DailyShare::refused`] sets, each time the account refuses it for its
    /// daily limit (`refused_for_the_day`), however long that takes. Any other answer, or an
    /// error, is the caller's.
    pub async fn send<T, E, F: Future<Output = Result<T, E>>>(
        &self,
        mut send: impl FnMut() -> F,
        refused_for_the_day: impl Fn(&T) -> bool,
    ) -> Result<T, E> {
        loop {
            self.take().await;
            let answer = send().await?;
            if !refused_for_the_day(&answer) {
                return Ok(answer);
            }
            self.refused().await;
        }
    }

    /// An answer said what is left of the account's daily budget.
    pub fn observe(&self, budget: Budget) {
        self.allowance().observe(budget, now());
    }

    /// The account refused a call for its daily limit: waits before the call is sent again.
    /// A rolling day frees calls as it moves, so the account is asked again after a while;
    /// a calendar day frees them when it turns, so every call of the sync waits until then,
    /// or an hour (a 24th of the day), whichever is sooner, as the account's day may turn
    /// at another hour than the sync's.
    pub async fn refused(&self) {
        let resume_at = {
            let mut a = self.allowance();
            let days = a.days();
            match days {
                Days::Rolling(_) => days.ask_again(now()),
                Days::Calendar(_) => {
                    let until = days.ask_again(now()).min(days.ends_after(now()));
                    a.refuse_until(until);
                    until
                }
            }
        };
        let until = unix(resume_at);
        tracing::warn!(
            until,
            "the account refused a call for its daily api limit: pausing"
        );
        self.report(Some(Paused {
            until,
            reason: self.reasons.refused,
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

    const REASONS: Reasons = Reasons {
        spent: "share spent",
        empty: "none left",
        refused: "refused",
    };

    #[tokio::test(start_paused = true)]
    async fn a_spent_share_waits_for_its_day_and_says_so() {
        let days = Days::Rolling(Duration::from_secs(100));
        let share = DailyShare::new(0.1, days, Meter::default(), REASONS);
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
        assert_eq!(paused.map(|p| p.reason), Some(REASONS.spent));
        share.take().await;
        assert!(start.elapsed() >= Duration::from_secs(100), "a day later");
        assert_eq!(*share.paused.lock().expect("lock"), None, "going again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_for_the_day_pauses_every_call_until_the_day_turns_or_an_hour_on() {
        let days = Days::Calendar(Duration::from_secs(100));
        let share = DailyShare::new(1.0, days, Meter::default(), REASONS);
        share.take().await;
        share.observe(Budget {
            remaining: 1_000,
            limit: Some(250_000),
            window: Duration::from_secs(86_400),
        });
        let turns = Clock::from_std(days.ends_after(now()));
        let again = turns.min(Clock::now() + Duration::from_secs(100) / 24);
        let refused = tokio::time::timeout(Duration::from_secs(1), share.refused()).await;
        assert!(refused.is_err(), "the refused call waits");
        let reason = || share.paused.lock().expect("lock").map(|p| p.reason);
        assert_eq!(reason(), Some(REASONS.refused));
        let other = tokio::time::timeout_at(again - Duration::from_millis(1), share.take()).await;
        assert!(other.is_err(), "every other call waits");
        assert_eq!(
            reason(),
            Some(REASONS.refused),
            "still the refusal, not the share"
        );
        share.take().await;
        assert!(
            Clock::now() >= again,
            "until the day turned, or an hour later"
        );
        assert_eq!(reason(), None, "going again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_refused_for_the_day_is_sent_again_after_the_wait_and_errors_are_the_callers() {
        let days = Days::Rolling(Duration::from_secs(2_400));
        let share = DailyShare::new(1.0, days, Meter::default(), REASONS);
        let sent = std::cell::Cell::new(0);
        let start = Clock::now();
        // Refused twice for the day, then answered.
        let answer: Result<u32, &str> = share
            .send(
                || async {
                    sent.set(sent.get() + 1);
                    Ok(sent.get())
                },
                |n| *n < 3,
            )
            .await;
        assert_eq!(answer, Ok(3), "the third answer is the caller's");
        let (waited, wait) = (start.elapsed(), days.ask_again(now()) - now());
        assert!(
            waited >= 2 * wait && waited < 2 * wait + Duration::from_millis(10),
            "two waits of {wait:?}: {waited:?}"
        );
        let failed: Result<u32, &str> = share.send(|| async { Err("down") }, |_| true).await;
        assert_eq!(failed, Err("down"), "an error is not sent again");
    }
}
