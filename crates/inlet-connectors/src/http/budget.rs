//! The vendor's own word on how much of its request budget is left, from its response
//! headers, slowing a sync before the vendor refuses it. Each source names the reader of
//! its vendor's headers ([`BudgetHeaders`]); the scaffold feeds what it reads to a
//! [`Pacer`] shared by every request of the sync, alongside its token bucket.
//!
//! * HubSpot: `X-HubSpot-RateLimit-Remaining` requests left in a rolling window of
//!   `X-HubSpot-RateLimit-Interval-Milliseconds`, out of `X-HubSpot-RateLimit-Max`.
//! * Salesforce: `Sforce-Limit-Info: api-usage=USED/LIMIT` over a rolling 24 hours.
//!
//! How requests are spaced depends on how long the window is:
//!
//! * A window no longer than a request may wait in place ([`MAX_IN_PLACE_WAIT`]; HubSpot's
//!   10 seconds) is counted request by request: each request goes when what the last answer
//!   said was left, less this sync's requests since, plus those of its requests that have
//!   left the window since, is more than a reserve (a fiftieth of the budget) for others of
//!   the account; else it waits for its own oldest request to leave. Requests sent together
//!   reach the vendor in any order, so of their answers the one that found least left is
//!   the latest word, and counts only those that found more. A turn that waited is asked
//!   again when newer word came meanwhile. So a sync whose `rate_limit` is the whole tier
//!   uses the whole tier and meets no 429 (its whole portal, 31 streams at once, met one
//!   in most runs before these two rules, and lost 8 s to it). Spacing requests
//!   so that what is left lasts the window, as for a store, held such a sync back for
//!   seconds at a time while the window refilled under it (a third of the tier, measured).
//! * A longer window (Salesforce's day) is a store: while more than a tenth is left, nothing
//!   changes; below that, requests are spaced so that what is left lasts the window (other
//!   clients of the account keep their share); with nothing left, the next request waits
//!   for the window.
//!
//! No wait is longer than [`MAX_IN_PLACE_WAIT`]: past it the vendor's refusal (a 429,
//! Salesforce's 403) tells the engine to back the stream off, and the state shows it.

use std::collections::VecDeque;
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

/// HubSpot's daily budget per account: `X-HubSpot-RateLimit-Daily-Remaining` calls left of
/// `X-HubSpot-RateLimit-Daily` today (the day turns at midnight in the account's time
/// zone). OAuth calls, and answers HubSpot could not count, come without them.
pub fn hubspot_daily(headers: &HeaderMap) -> Option<Budget> {
    let number =
        |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
    Some(Budget {
        remaining: number("x-hubspot-ratelimit-daily-remaining")?,
        limit: number("x-hubspot-ratelimit-daily"),
        window: Duration::from_secs(24 * 3600),
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

/// Turns remembered: enough for any budget per window that is counted request by request.
const TURNS_KEPT: usize = 4_096;

/// Spaces a sync's requests as the last budget read says.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<Pace>,
    /// The latest turn given, readable without waiting for the state.
    latest: std::sync::Mutex<Option<Instant>>,
}

#[derive(Debug)]
struct Pace {
    /// A store's least time between two requests.
    spacing: Duration,
    /// When the next request may go, by a store's spacing.
    next: Instant,
    /// The last word on a short window, which each request is counted against.
    word: Option<Word>,
    /// How many times `word` has changed: a turn given on older word is asked again.
    heard: u64,
    /// Turns given so far.
    given: u64,
    /// This sync's latest requests, in order of when they went (or will go).
    turns: VecDeque<Sent>,
}

/// A request of this sync: its turn, and what its answer said was left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Sent {
    at: Instant,
    seq: u64,
    told: Option<u64>,
}

/// A request's turn: the how-manyth it is, and when it may go.
#[derive(Clone, Copy, Debug)]
pub struct Turn {
    seq: u64,
    at: Instant,
}

/// What a short window's budget had left as the request of turn `seq` found it.
#[derive(Clone, Copy, Debug)]
struct Word {
    remaining: u64,
    seq: u64,
    at: Instant,
    window: Duration,
    /// The window's pace (the window over the budget): the margin given to a request
    /// leaving it, since the vendor counts it from when it arrives, a little after it went.
    each: Duration,
    /// Requests left to others of the account: a fiftieth of the budget, at least one.
    reserve: u64,
}

impl Word {
    /// Whether this word counted `sent`: its own request; one that went well before it; or
    /// one that went together with it (within a pace) and found more left, so reached
    /// HubSpot before it. Requests sent together reach it in any order (measured: of eight,
    /// the last given its turn was the first to arrive, and trusting its word as counting
    /// the other seven let the next requests meet a 429).
    fn counted(&self, sent: &Sent) -> bool {
        sent.seq == self.seq
            || sent.at + self.each <= self.at
            || (sent.at <= self.at + self.each
                && sent.told.is_some_and(|told| told > self.remaining))
    }

    /// Whether this word is later than `other`: its request went after it, or together
    /// with it and found less left.
    fn later_than(&self, other: &Word) -> bool {
        if self.at > other.at + other.each || other.at > self.at + other.each {
            return self.at > other.at;
        }
        (self.remaining, other.seq) < (other.remaining, self.seq)
    }

    /// The first instant from `now` at which a request finds more than the reserve left:
    /// what the word said, less this sync's requests it did not count, plus those that
    /// were in the window then and have left it since. `None`: not before requests of
    /// others leave it. `me`: the turn asked about again, when it has one; only the turns
    /// ahead of it count against it.
    fn free_at(&self, turns: &VecDeque<Sent>, me: Option<Turn>, now: Instant) -> Option<Instant> {
        if now >= self.at + self.window + self.each {
            // Whatever it counted has left the window since; the next answer says more.
            return Some(now);
        }
        let others = turns.iter().filter(|t| me.is_none_or(|me| t.seq != me.seq));
        let ahead = |t: &&Sent| me.is_none_or(|me| (t.at, t.seq) < (me.at, me.seq));
        let since = (others.clone())
            .filter(|t| !self.counted(t))
            .filter(ahead)
            .count() as u64;
        // In the window as the word was said: went after `at - window`.
        let from = self.at.checked_sub(self.window);
        let left_by = now.checked_sub(self.window + self.each);
        let then = |t: &Instant| from.is_none_or(|f| *t > f);
        let gone = match left_by {
            Some(l) => others.clone().filter(|t| then(&t.at) && t.at <= l).count(),
            None => 0,
        };
        let have = self.remaining.saturating_add(gone as u64);
        let short = (self.reserve + 1)
            .saturating_add(since)
            .saturating_sub(have);
        if short == 0 {
            return Some(now);
        }
        // The `short`-th of this sync's requests still in the window, leaving it.
        others
            .filter(|t| then(&t.at) && left_by.is_none_or(|l| t.at > l))
            .nth(usize::try_from(short - 1).unwrap_or(usize::MAX))
            .map(|t| t.at + self.window + self.each)
    }

    /// When a request asking now may go: [`Word::free_at`], and if not before others'
    /// requests leave the window, when all the word counted has left it; never later than
    /// the longest wait.
    fn turn_at(&self, turns: &VecDeque<Sent>, me: Option<Turn>) -> Instant {
        let now = Instant::now();
        (self.free_at(turns, me, now))
            .unwrap_or(self.at + self.window + self.each)
            .min(now + MAX_IN_PLACE_WAIT)
    }
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer {
            state: Mutex::new(Pace {
                spacing: Duration::ZERO,
                next: Instant::now(),
                word: None,
                heard: 0,
                given: 0,
                turns: VecDeque::new(),
            }),
            latest: std::sync::Mutex::new(None),
        }
    }
}

impl Pacer {
    /// Takes in a budget just read from the answer to the request of `turn`. The requests
    /// given turns after it are not counted in what it says is left.
    pub async fn observe(&self, budget: Budget, turn: Turn) {
        let mut pace = self.state.lock().await;
        let limit = budget.limit.filter(|&l| l > 0);
        if let Some(limit) = limit.filter(|_| budget.window <= MAX_IN_PLACE_WAIT) {
            if let Some(sent) = pace.turns.iter_mut().find(|t| t.seq == turn.seq) {
                sent.told = Some(budget.remaining);
            }
            let word = Word {
                remaining: budget.remaining,
                seq: turn.seq,
                at: turn.at,
                window: budget.window,
                each: budget.window / u32::try_from(limit).unwrap_or(u32::MAX),
                reserve: (limit / 50).max(1),
            };
            // An answer overtaken by a later request's is older word.
            if pace.word.is_none_or(|w| word.later_than(&w)) {
                pace.word = Some(word);
                pace.heard += 1;
            }
            return;
        }
        // A store.
        let remaining = budget
            .remaining
            .saturating_sub(pace.given.saturating_sub(turn.seq));
        let plenty = limit.is_some_and(|limit| remaining > limit / 10);
        let left = u32::try_from(remaining.saturating_add(1)).unwrap_or(u32::MAX);
        pace.spacing = match plenty {
            true => Duration::ZERO,
            false => (budget.window / left).min(MAX_IN_PLACE_WAIT),
        };
        let now = Instant::now();
        if remaining == 0 {
            pace.next = pace.next.max(now + budget.window.min(MAX_IN_PLACE_WAIT));
        } else if plenty {
            // Fresh word that the budget refilled: a turn reserved on older, scarcer word
            // need not be waited for.
            pace.next = pace.next.min(now);
        }
    }

    /// How long from now until the latest turn given: requests wait that long for the budget
    /// (zero when none waits).
    pub fn ahead(&self) -> Duration {
        let latest = *self
            .latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        latest.map_or(Duration::ZERO, |at| {
            at.saturating_duration_since(Instant::now())
        })
    }

    /// Waits for the next request's turn, and gives it with whether it meant waiting (the
    /// budget is low).
    pub async fn wait(&self) -> (Turn, bool) {
        let (mut turn, asked, mut told) = {
            let mut pace = self.state.lock().await;
            let now = Instant::now();
            let at = match pace.word {
                Some(word) => word.turn_at(&pace.turns, None),
                None => {
                    let at = pace.next.max(now);
                    pace.next = at + pace.spacing;
                    at
                }
            };
            // Only a short window's turns are counted: none older than the longest.
            let old = now.checked_sub(2 * MAX_IN_PLACE_WAIT);
            while pace.turns.len() == TURNS_KEPT
                || (pace.turns.front()).is_some_and(|t| old.is_some_and(|o| t.at < o))
            {
                pace.turns.pop_front();
            }
            pace.given += 1;
            let turn = Turn {
                seq: pace.given,
                at,
            };
            pace.place(turn);
            self.note_latest(at);
            (turn, now, pace.heard)
        };
        loop {
            tokio::time::sleep_until(turn.at).await;
            // Word that came while this turn waited may find less room than the word it was
            // given on (others of the account spent some): the turn is asked again.
            let mut pace = self.state.lock().await;
            let Some(word) = pace.word.filter(|_| pace.heard > told) else {
                break;
            };
            told = pace.heard;
            let at = word.turn_at(&pace.turns, Some(turn));
            if at <= Instant::now() {
                break;
            }
            turn.at = at;
            pace.place(turn);
            self.note_latest(at);
        }
        (turn, turn.at > asked)
    }

    fn note_latest(&self, at: Instant) {
        let mut latest = (self.latest.lock()).unwrap_or_else(std::sync::PoisonError::into_inner);
        *latest = Some(latest.map_or(at, |l| l.max(at)));
    }
}

impl Pace {
    /// Puts `turn` among the turns in order of when they go (moved, if it had a place).
    fn place(&mut self, turn: Turn) {
        if let Some(i) = self.turns.iter().position(|t| t.seq == turn.seq) {
            self.turns.remove(i);
        }
        let place = self.turns.partition_point(|t| t.at <= turn.at);
        let sent = Sent {
            at: turn.at,
            seq: turn.seq,
            told: None,
        };
        self.turns.insert(place, sent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HubSpot's smallest 10-second budget, with `remaining` left.
    fn tier_100(remaining: u64) -> Budget {
        Budget {
            remaining,
            limit: Some(100),
            window: Duration::from_secs(10),
        }
    }

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

    #[test]
    fn hubspots_daily_headers_are_read_apart_and_their_absence_says_nothing() {
        // A private app's answer, as HubSpot captured it (reference §2.8).
        let h = headers(&[
            ("x-hubspot-ratelimit-daily", "500000"),
            ("x-hubspot-ratelimit-daily-remaining", "498677"),
            ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
            ("x-hubspot-ratelimit-max", "150"),
            ("x-hubspot-ratelimit-remaining", "149"),
        ]);
        assert_eq!(
            hubspot_daily(&h),
            Some(Budget {
                remaining: 498_677,
                limit: Some(500_000),
                window: Duration::from_secs(86_400)
            })
        );
        assert_eq!(hubspot(&h).map(|b| b.remaining), Some(149), "the 10-second");
        // An OAuth call's answer: the 10-second headers only.
        let oauth = headers(&[
            ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
            ("x-hubspot-ratelimit-remaining", "149"),
        ]);
        assert_eq!(hubspot_daily(&oauth), None);
        let garbage = headers(&[("x-hubspot-ratelimit-daily-remaining", "lots")]);
        assert_eq!(hubspot_daily(&garbage), None);
        let no_limit = headers(&[("x-hubspot-ratelimit-daily-remaining", " 7 ")]);
        assert_eq!(
            hubspot_daily(&no_limit).map(|b| (b.remaining, b.limit)),
            Some((7, None))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_window_spent_waits_for_its_oldest_requests_to_leave() {
        let pacer = Pacer::default();
        let start = Instant::now();
        // Ten requests a second for 4 s, then word from the last that nothing is left.
        let mut last = None;
        for _ in 0..40 {
            last = Some(pacer.wait().await.0);
            tokio::time::advance(Duration::from_millis(100)).await;
        }
        let budget = tier_100(0);
        pacer.observe(budget, last.expect("a turn")).await;
        pacer.wait().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(10_300),
            "two kept for others: when the third request leaves the window, 10 s after it went \
             (and a pace's margin)"
        );
        pacer.wait().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(10_400),
            "then as the sync's own requests leave it"
        );

        // Others spent it: nothing left, and none of it this sync's. A window later, what
        // that word counted has all left: the next request goes, and its answer says more.
        let shared = Pacer::default();
        let (turn, _) = shared.wait().await;
        shared.observe(budget, turn).await;
        tokio::time::advance(Duration::from_secs(11)).await;
        let stale = Instant::now();
        shared.wait().await;
        assert_eq!(stale.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_window_counts_the_requests_in_flight_and_leaves_plenty_alone() {
        let window = Duration::from_secs(10);
        let budget = |remaining| Budget {
            remaining,
            limit: Some(150),
            window,
        };
        let pacer = Pacer::default();
        let start = Instant::now();
        let (first, _) = pacer.wait().await;
        pacer.observe(budget(100), first).await;
        for _ in 0..5 {
            pacer.wait().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "plenty left: no waiting");

        // 10 left as the first of these found it, but six more went after it: 4 left, and
        // 3 kept for others, so one more may go, then the next waits for one to leave.
        let busy = Pacer::default();
        let (sent, _) = busy.wait().await;
        for _ in 0..6 {
            busy.wait().await;
        }
        busy.observe(budget(10), sent).await;
        let paced = Instant::now();
        busy.wait().await;
        assert_eq!(paced.elapsed(), Duration::ZERO, "one more may go");
        let (_, waited) = busy.wait().await;
        assert!(waited && paced.elapsed() >= window, "{:?}", paced.elapsed());
        // An answer overtaken by a later one's is older word: it changes nothing.
        busy.observe(budget(0), sent).await;
        let (later, _) = busy.wait().await;
        busy.observe(budget(100), later).await;
        busy.observe(budget(0), sent).await;
        let fresh = Instant::now();
        busy.wait().await;
        assert_eq!(fresh.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn turns_given_before_the_latest_word_that_go_after_it_are_counted_against_it() {
        use futures_util::FutureExt;
        let pacer = Pacer::default();
        let start = Instant::now();
        let (first, _) = pacer.wait().await;
        tokio::time::advance(Duration::from_secs(1)).await;
        let (second, _) = pacer.wait().await;
        // The first's answer: nothing left. The next two are given turns a window away.
        pacer.observe(tier_100(0), first).await;
        for _ in 0..2 {
            assert!(pacer.wait().now_or_never().is_none(), "it waits");
        }
        // The second's answer: others' requests have left the window. One goes now.
        pacer.observe(tier_100(50), second).await;
        let (third, waited) = pacer.wait().await;
        assert!(!waited);
        // Its answer: 3 left. The two waiting go after it, so it did not count them: one
        // is left, and the reserve (2) is kept for others. The next waits for the window.
        pacer.observe(tier_100(3), third).await;
        let (_, waited) = pacer.wait().await;
        assert!(waited);
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(11_100),
            "when the second request leaves the window (and a pace's margin)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_sent_together_are_counted_by_the_answer_that_found_least_left() {
        let pacer = Pacer::default();
        let start = Instant::now();
        let mut together = Vec::new();
        for _ in 0..4 {
            together.push(pacer.wait().await.0);
        }
        // The last given its turn reached HubSpot first, and the first last: only the
        // first's answer counted all four.
        pacer.observe(tier_100(6), together[3]).await;
        pacer.observe(tier_100(5), together[1]).await;
        pacer.observe(tier_100(4), together[2]).await;
        let (_, waited) = pacer.wait().await;
        assert!(!waited, "4 left, 3 of them kept: one may go");
        pacer.observe(tier_100(3), together[0]).await;
        let (_, waited) = pacer.wait().await;
        assert!(waited, "3 left, all kept, and one more went since");
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(10_100),
            "when those sent together leave the window"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_turn_is_asked_again_when_newer_word_finds_less_room() {
        let pacer = std::sync::Arc::new(Pacer::default());
        let start = Instant::now();
        pacer.wait().await;
        tokio::time::advance(Duration::from_secs(1)).await;
        let (second, _) = pacer.wait().await;
        let (third, _) = pacer.wait().await;
        // The second's answer: 3 left, and the third went since. The reserve (2) is kept for
        // others: the next goes when the first leaves the window.
        pacer.observe(tier_100(3), second).await;
        let fourth = tokio::spawn({
            let pacer = pacer.clone();
            async move {
                pacer.wait().await;
                Instant::now()
            }
        });
        for _ in 0..100 {
            if pacer.ahead() > Duration::ZERO {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(pacer.ahead(), Duration::from_millis(9_100), "at 10.1 s");
        // The third's answer, while the fourth waits: others of the account spent the rest.
        pacer.observe(tier_100(0), third).await;
        let went = fourth.await.expect("the fourth request");
        assert_eq!(
            went - start,
            Duration::from_millis(11_100),
            "when the second and third have left the window too"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn how_long_requests_wait_for_a_spent_window_is_told_without_waiting() {
        let pacer = std::sync::Arc::new(Pacer::default());
        assert_eq!(pacer.ahead(), Duration::ZERO, "nothing asked yet");
        let (turn, _) = pacer.wait().await;
        assert_eq!(pacer.ahead(), Duration::ZERO, "that one went at once");
        let spent = tier_100(0);
        pacer.observe(spent, turn).await;
        let waiting = tokio::spawn({
            let pacer = pacer.clone();
            async move { pacer.wait().await }
        });
        for _ in 0..100 {
            if pacer.ahead() > Duration::ZERO {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(
            pacer.ahead(),
            Duration::from_millis(10_100),
            "a window (and a pace's margin) later: what the word counted has left it"
        );
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(pacer.ahead(), Duration::from_millis(6_100));
        let (_, waited) = waiting.await.expect("the waiting request");
        assert!(waited);
        assert_eq!(pacer.ahead(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_spaces_what_is_left_over_the_window() {
        let budget = |remaining, limit| Budget {
            remaining,
            limit,
            window: Duration::from_secs(86_400),
        };
        // 4 left: one every 4.8 hours, so a minute, the longest wait in place.
        let store = Pacer::default();
        let (turn, _) = store.wait().await;
        store.observe(budget(4, Some(100_000)), turn).await;
        let start = Instant::now();
        store.wait().await;
        store.wait().await;
        assert_eq!(start.elapsed(), MAX_IN_PLACE_WAIT);
        // Just under a tenth left: one every 8.64 s.
        let (turn, _) = store.wait().await;
        store.observe(budget(9_999, Some(100_000)), turn).await;
        store.wait().await; // the turn the last spacing reserved
        let spaced = Instant::now();
        store.wait().await;
        assert_eq!(spaced.elapsed(), Duration::from_millis(8_640));
        // The same word, but with two requests gone since: 9,997 left.
        store.observe(budget(9_999, Some(100_000)), turn).await;
        store.wait().await;
        let fewer = Instant::now();
        store.wait().await;
        let spacing = fewer.elapsed().as_secs_f64();
        assert!(
            (spacing - 86_400.0 / 9_998.0).abs() < 0.002,
            "the timer counts whole milliseconds: {spacing}"
        );
        // Plenty again: at once.
        let (turn, _) = store.wait().await;
        store.observe(budget(50_000, Some(100_000)), turn).await;
        let plenty = Instant::now();
        store.wait().await;
        store.wait().await;
        assert_eq!(plenty.elapsed(), Duration::ZERO);
        // Nothing left, the budget unknown: wait, but never more than a minute.
        let (turn, _) = store.wait().await;
        store.observe(budget(0, None), turn).await;
        let empty = Instant::now();
        store.wait().await;
        assert_eq!(empty.elapsed(), MAX_IN_PLACE_WAIT);
    }
}
