//! A sync's share of an account's daily API budget, shared with every other integration
//! of the account (Salesforce's org allocation, issue #15 item 5; HubSpot's daily limit,
//! issue #14 item 7): a sync takes at most `share` of what was *remaining* when its day
//! began (20% by default), never more than what remains now, and pauses when that is spent
//! until its day turns. How days run is the vendor's ([`Days`]).

use std::time::{Duration, Instant};

use crate::http::budget::Budget;

use super::daily_share::since_epoch;

/// The default share of the remaining budget a sync may use in a day.
pub const DEFAULT_SHARE: f64 = 0.2;
/// A day.
pub const DAY: Duration = Duration::from_secs(24 * 3600);

/// How much more an account may seem to have left than when the sync's day began before
/// its day is taken to have turned: answers to requests sent together arrive in any order.
const TURNED_MARGIN: u64 = 100;

/// How a vendor's days run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Days {
    /// A rolling day of this length from the first answer of the sync's day (Salesforce
    /// counts its allocation over a rolling 24 hours).
    Rolling(Duration),
    /// Days of this length that turn at fixed times, counted from the Unix epoch: with
    /// [`DAY`], at midnight UTC (HubSpot turns its day at midnight in the account's time
    /// zone). Shorter only in tests.
    Calendar(Duration),
}

impl Days {
    /// When to ask an account that has no calls left again: a calendar day turns where the
    /// account is, at another hour, maybe (HubSpot's at midnight in the account's time
    /// zone), so hourly (a 24th of the day); a rolling one frees calls as it moves, so
    /// every five minutes (a 288th); never more often than every second.
    pub fn ask_again(self, now: Instant) -> Instant {
        let wait = match self {
            Days::Rolling(length) => length / 288,
            Days::Calendar(length) => length / 24,
        };
        now + wait.max(Duration::from_secs(1))
    }

    /// When a day begun at `now` ends.
    pub fn ends_after(self, now: Instant) -> Instant {
        match self {
            Days::Rolling(length) => now + length,
            Days::Calendar(length) => {
                let length_ms = length.as_millis().max(1);
                let into = since_epoch(now).as_millis() % length_ms;
                now + Duration::from_millis((length_ms - into) as u64)
            }
        }
    }
}

/// The `api_share` option as written (a number, or text from `--set`): `Ok(None)` when
/// absent; unless above 0 and at most 1, what it must be.
pub fn share_option(value: Option<&serde_json::Value>) -> Result<Option<f64>, &'static str> {
    use serde_json::Value;
    let share = match value {
        None => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    };
    match share {
        Some(s) if s > 0.0 && s <= 1.0 => Ok(Some(s)),
        _ => Err("a number above 0 and at most 1, e.g. 0.2"),
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Allowance {
    share: f64,
    /// How the days of the share run.
    days: Days,
    /// When this sync's day ends, the calls it may make in it, and those it made.
    day: Option<(Instant, u64)>,
    used: u64,
    /// While no answer said what remains (HubSpot's OAuth calls carry no daily headers):
    /// when the day the calls are counted in ends.
    counting: Option<Instant>,
    /// What the account had left at the last answer.
    remaining: Option<u64>,
    /// What the account had left when this sync's day began.
    began_with: u64,
    /// No call goes until then, and why: the account refused calls for its daily limit, or
    /// said it had none left (a calendar day's account is asked again at that time).
    held: Option<(Instant, Why)>,
    /// The hold is over: one call goes, to ask the account again.
    probe: bool,
}

/// Why calls wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// The sync used its share of the day.
    Share,
    /// The account has none left (a calendar day's, whose account is asked again hourly).
    Empty,
    /// The account refused calls for its daily limit.
    Refused,
}

/// Why a call must wait, and until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spent {
    pub used: u64,
    pub resume_at: Instant,
    pub why: Why,
}

impl Allowance {
    /// A share whose days are a rolling 24 hours (Salesforce's).
    pub fn new(share: f64) -> Allowance {
        Allowance::with_days(share, Days::Rolling(DAY))
    }

    /// A share whose days run as `days` say (tests make them seconds long).
    pub fn with_days(share: f64, days: Days) -> Allowance {
        Allowance {
            share: share.clamp(0.0, 1.0),
            days,
            day: None,
            used: 0,
            counting: None,
            remaining: None,
            began_with: 0,
            held: None,
            probe: false,
        }
    }

    pub fn days(&self) -> Days {
        self.days
    }

    /// What an answer's daily budget headers said (`budget::salesforce`,
    /// `budget::hubspot_daily`).
    /// On a calendar day, more left than when the sync's day began (beyond what answers
    /// sent together may differ by) means the account's day turned, at its own midnight:
    /// the sync's day begins again then.
    pub fn observe(&mut self, budget: Budget, now: Instant) {
        self.remaining = Some(budget.remaining);
        let turned = matches!(self.days, Days::Calendar(_))
            && budget.remaining > self.began_with.saturating_add(TURNED_MARGIN);
        if turned || self.day.is_none_or(|(ends, _)| now >= ends) {
            let calls = (budget.remaining as f64 * self.share).floor() as u64;
            self.day = Some((self.days.ends_after(now), calls));
            self.began_with = budget.remaining;
            self.used = 0;
            self.counting = None;
        }
    }

    /// The account refused a call for its daily limit: no call goes until `until`.
    pub fn refuse_until(&mut self, until: Instant) {
        let until = self.held.map_or(until, |(u, _)| u.max(until));
        self.held = Some((until, Why::Refused));
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
        // What the account had then is not kept: at most what gave one call more.
        self.began_with = match self.share > 0.0 {
            true => ((calls + 1) as f64 / self.share).ceil() as u64,
            false => u64::MAX,
        };
    }

    /// Takes one call, or says until when the sync must pause.
    pub fn take(&mut self, now: Instant) -> Result<(), Spent> {
        let spent = |used, resume_at, why| {
            Err(Spent {
                used,
                resume_at,
                why,
            })
        };
        if let Some((until, why)) = self.held {
            if now < until {
                return spent(self.used, until, why);
            }
            // Time to ask again: what the account has left is no longer known.
            self.held = None;
            self.remaining = None;
            self.probe = true;
        }
        if let Some((ends, calls)) = self.day {
            if now >= ends {
                self.day = None;
                self.used = 0;
                self.counting = Some(self.days.ends_after(now));
            } else if let Days::Rolling(_) = self.days {
                if self.used >= calls || self.remaining == Some(0) {
                    return spent(self.used, ends, Why::Share);
                }
            } else if std::mem::take(&mut self.probe) {
                // One call asks the account again; its answer says what it has left.
            } else if self.began_with > 0 && self.used >= calls {
                return spent(self.used, ends, Why::Share);
            } else if self.remaining == Some(0) || self.began_with == 0 {
                // The account has none left: its day may turn before the sync's does.
                let until = self.days.ask_again(now).min(ends);
                self.held = Some((until, Why::Empty));
                return spent(self.used, until, Why::Empty);
            }
        } else if self.counting.is_none_or(|ends| now >= ends) {
            // No answer said what remains: the calls are only counted, day by day.
            self.counting = Some(self.days.ends_after(now));
            self.used = 0;
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
                resume_at: start + DAY,
                why: Why::Share,
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

    #[test]
    fn calendar_days_turn_at_fixed_times_and_without_word_calls_are_only_counted() {
        let now = Instant::now();
        let days = Days::Calendar(Duration::from_secs(10));
        let ends = days.ends_after(now);
        assert!(ends > now && ends <= now + Duration::from_secs(10));
        let into = since_epoch(ends).as_millis() % 10_000;
        assert!(
            !(50..9_950).contains(&into),
            "a whole 10 s since 1970: {into} ms"
        );

        // No answer says what remains (HubSpot's OAuth calls): counted, never held.
        let mut allowance = Allowance::with_days(DEFAULT_SHARE, days);
        for _ in 0..1_000 {
            allowance.take(now).expect("nothing known, nothing held");
        }
        assert_eq!((allowance.used_today(), allowance.day()), (1_000, None));
        let next = ends + Duration::from_millis(100);
        allowance.take(next).expect("a new day");
        assert_eq!(
            allowance.used_today(),
            1,
            "counted afresh when the day turned"
        );

        // Word of what remains: the share lasts until the next fixed time, not a day on.
        allowance.observe(budget(100), next);
        let (day_ends, calls) = allowance.day().expect("a day");
        assert_eq!(calls, 20);
        assert!(day_ends > next && day_ends <= next + Duration::from_secs(10));
    }

    #[test]
    fn a_refusal_for_the_day_holds_every_call_until_then_then_forgets_what_remained() {
        let now = Instant::now();
        let mut allowance = Allowance::with_days(1.0, Days::Calendar(DAY));
        allowance.observe(budget(1_000), now);
        allowance.take(now).expect("a call");
        let turns = now + Duration::from_secs(60);
        allowance.refuse_until(turns);
        allowance.refuse_until(now + Duration::from_secs(1));
        assert_eq!(
            allowance.take(now + Duration::from_secs(30)),
            Err(Spent {
                used: 1,
                resume_at: turns,
                why: Why::Refused
            }),
            "an earlier time does not shorten the refusal"
        );
        allowance.observe(budget(0), now);
        assert_eq!(allowance.take(turns), Ok(()), "asked again");

        // An answer says the account has none left: asked again in an hour.
        allowance.observe(budget(0), turns);
        let (ends, _) = allowance.day().expect("a day");
        let hour = (turns + Duration::from_secs(3600)).min(ends);
        let spent = Spent {
            used: 2,
            resume_at: hour,
            why: Why::Empty,
        };
        assert_eq!(allowance.take(turns), Err(spent));
        assert_eq!(allowance.take(hour - Duration::from_millis(1)), Err(spent));
        assert_eq!(allowance.take(hour), Ok(()), "asked again");
    }

    #[test]
    fn an_account_with_none_left_is_asked_hourly_and_its_own_midnight_begins_a_new_day() {
        let now = Instant::now();
        let mut allowance = Allowance::with_days(DEFAULT_SHARE, Days::Calendar(DAY));
        allowance.observe(budget(1_000), now);
        let (ends, calls) = allowance.day().expect("a day");
        assert_eq!(calls, 200);
        allowance.take(now).expect("a call");
        // Answers to requests sent together, out of order: the same day.
        allowance.observe(budget(1_050), now);
        assert_eq!(allowance.day(), Some((ends, 200)));
        // Other apps spent the account: asked again within the hour.
        allowance.observe(budget(0), now);
        let hour = (now + Duration::from_secs(3600)).min(ends);
        assert_eq!(
            allowance.take(now).map_err(|s| (s.why, s.resume_at)),
            Err((Why::Empty, hour))
        );
        allowance.take(hour).expect("one call asks again");
        // Its answer: the account's day turned at its own midnight, before the sync's.
        allowance.observe(budget(250_000), hour);
        assert_eq!(allowance.day().map(|(_, calls)| calls), Some(50_000));
        assert_eq!(allowance.used_today(), 0);
        allowance.take(hour).expect("a fresh share");
    }

    #[test]
    fn a_resumed_calendar_day_is_not_taken_for_a_turned_one() {
        let now = Instant::now();
        let ends = now + Duration::from_secs(3600);
        let mut allowance = Allowance::with_days(0.00002, Days::Calendar(DAY));
        // 12 calls: 0.002% of up to 649,999 the account had when the day began.
        allowance.resume(ends, 12, 12, now);
        allowance.observe(budget(624_000), now);
        assert_eq!(allowance.day(), Some((ends, 12)), "the same day");
        assert!(allowance.take(now).is_err(), "its share still spent");
    }

    #[test]
    fn the_share_option_is_a_number_above_0_and_at_most_1() {
        use serde_json::json;
        assert_eq!(share_option(None), Ok(None));
        assert_eq!(share_option(Some(&json!("0.05"))), Ok(Some(0.05)));
        assert_eq!(share_option(Some(&json!(1))), Ok(Some(1.0)));
        for bad in [
            json!(0),
            json!("2"),
            json!("lots"),
            json!(true),
            json!(-0.1),
        ] {
            assert!(share_option(Some(&bad)).is_err(), "{bad}");
        }
    }
}
