//! A sync's share of the org's daily API allocation (issue #15, item 5). The allocation is
//! per org, per rolling 24 hours, and shared with every other integration, so a sync takes
//! at most `share` of what was *remaining* when its day began (20% by default), never more
//! than what remains now, and pauses when that is spent until its day turns.

use std::time::{Duration, Instant};

use crate::http::budget::Budget;

/// The default share of the remaining allocation a sync may use in a day.
pub const DEFAULT_SHARE: f64 = 0.2;
/// Salesforce counts the allocation over a rolling 24 hours.
pub const DAY: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone, Debug, PartialEq)]
pub struct Allowance {
    share: f64,
    /// How long a day of the share lasts (24 hours; shorter only in tests).
    length: Duration,
    /// When this sync's day ends, the calls it may make in it, and those it made.
    day: Option<(Instant, u64)>,
    used: u64,
    /// What the org had left at the last answer.
    remaining: Option<u64>,
}

/// Why a call must wait: the sync's share is spent until `resume_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spent {
    pub used: u64,
    pub resume_at: Instant,
}

impl Allowance {
    pub fn new(share: f64) -> Allowance {
        Allowance::with_day(share, DAY)
    }

    /// A share whose day lasts `length` (tests make it seconds long).
    pub fn with_day(share: f64, length: Duration) -> Allowance {
        Allowance {
            share: share.clamp(0.0, 1.0),
            length,
            day: None,
            used: 0,
            remaining: None,
        }
    }

    /// What an answer's `Sforce-Limit-Info` said (`budget::salesforce`).
    pub fn observe(&mut self, budget: Budget, now: Instant) {
        self.remaining = Some(budget.remaining);
        if self.day.is_none_or(|(ends, _)| now >= ends) {
            let calls = (budget.remaining as f64 * self.share).floor() as u64;
            self.day = Some((now + self.length, calls));
            self.used = 0;
        }
    }

    /// The day the share counts in (when it ends, the calls it allows), once an answer
    /// said what remained.
    pub fn day(&self) -> Option<(Instant, u64)> {
        self.day
    }

    /// Resumes a day reported before (an earlier run, another worker) unless it is over:
    /// a day that ends later than this one wins, and of the same day the count with more
    /// calls used. Before any answer it wins, and the calls made to learn add to it.
    pub fn resume(&mut self, ends: Instant, calls: u64, used: u64, now: Instant) {
        if now >= ends {
            return;
        }
        // Ends rebuilt from Unix seconds are off by under a second.
        let same = |e: Instant| e.max(ends) - e.min(ends) < Duration::from_secs(2);
        let used = match self.day {
            None => used + self.used,
            Some((e, _)) if same(e) && used > self.used => used,
            Some((e, _)) if !same(e) && ends > e => used,
            Some(_) => return,
        };
        self.day = Some((ends, calls));
        self.used = used;
    }

    /// Takes one call, or says until when the sync must pause.
    pub fn take(&mut self, now: Instant) -> Result<(), Spent> {
        if let Some((ends, calls)) = self.day {
            if now >= ends {
                self.day = None;
                self.used = 0;
            } else if self.used >= calls || self.remaining == Some(0) {
                return Err(Spent {
                    used: self.used,
                    resume_at: ends,
                });
            }
        }
        self.used += 1;
        self.remaining = self.remaining.map(|r| r.saturating_sub(1));
        Ok(())
    }

    /// Calls this sync made in its current day (for `inlet sync status`).
    pub fn used_today(&self) -> u64 {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(remaining: u64) -> Budget {
        Budget {
            remaining,
            limit: Some(100_000),
            window: DAY,
        }
    }

    #[test]
    fn a_sync_takes_its_share_of_what_remained_then_pauses_until_its_day_turns() {
        let start = Instant::now();
        let mut allowance = Allowance::new(DEFAULT_SHARE);
        assert_eq!(
            allowance.take(start),
            Ok(()),
            "before any answer, one call to learn"
        );
        allowance.observe(budget(50), start);
        for _ in 0..10 {
            allowance
                .take(start)
                .expect("10 calls: 20% of the 50 remaining");
        }
        assert_eq!(
            allowance.take(start),
            Err(Spent {
                used: 10,
                resume_at: start + DAY
            })
        );
        assert_eq!(allowance.used_today(), 10);
        let tomorrow = start + DAY;
        allowance.observe(budget(1_000), tomorrow);
        assert_eq!(allowance.take(tomorrow), Ok(()));
        assert_eq!(allowance.used_today(), 1);
    }

    #[test]
    fn a_restart_resumes_its_day_rather_than_taking_a_fresh_share() {
        let now = Instant::now();
        let ends = now + Duration::from_secs(3600);
        let mut fresh = Allowance::new(DEFAULT_SHARE);
        fresh.take(now).expect("a call to learn");
        fresh.resume(ends, 10, 9, now);
        assert_eq!(fresh.day(), Some((ends, 10)));
        assert_eq!(fresh.used_today(), 10, "9 before, 1 to learn");
        assert!(fresh.take(now).is_err(), "spent: the day is the one before");
        fresh.observe(budget(100_000), now);
        assert!(
            fresh.take(now).is_err(),
            "an answer does not begin a new day"
        );

        // The same day, reported again with fewer calls (a stale copy): ignored.
        fresh.resume(ends - Duration::from_millis(600), 10, 3, now);
        assert_eq!(fresh.used_today(), 10);
        // A day that is over: ignored.
        let mut running = Allowance::new(DEFAULT_SHARE);
        running.observe(budget(100), now);
        running.resume(now, 5, 5, now);
        assert_eq!(running.day(), Some((now + DAY, 20)));
        // A later day (another worker's): it wins.
        running.resume(now + DAY + Duration::from_secs(60), 7, 2, now);
        assert_eq!(running.used_today(), 2);
    }

    #[test]
    fn other_integrations_spending_the_org_pause_the_sync_before_salesforce_refuses() {
        let now = Instant::now();
        let mut allowance = Allowance::new(0.5);
        allowance.observe(budget(1_000), now);
        allowance.take(now).expect("a call");
        allowance.observe(budget(0), now);
        assert!(allowance.take(now).is_err(), "nothing remains for anyone");
    }
}
