//! A token bucket: at most `rate` requests a second on average, bursts up to `burst`.
//! One bucket per sync, shared by all its streams, so a sync's share of an API's quota is
//! one number whatever it is doing.
//!
//! The bucket also says how many requests a sync should keep in flight to use its budget
//! ([`RateLimiter::in_flight`]: the rate times the latency it observes, so a slow API gets
//! more concurrent reads, never more requests a second), and a 429 ([`RateLimiter::slow_down`])
//! holds every request of the sync back for the server's `Retry-After`, then resumes at
//! half the rate it had, which climbs back to the configured one (doubling over
//! [`RECOVERY`]): a budget set above what the API allows settles near what it allows.
//!
//! A limit counted in a rolling window ("5 a second") is kept by [`RateLimiter::windowed`]:
//! a bucket at that rate, and a log of when the last requests went, so no window ever holds
//! one too many even when a timer fires late.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The most requests one sync keeps in flight, however slow the API: bounds memory (each
/// holds a page) and connections.
pub const MAX_IN_FLIGHT: usize = 64;

/// The latency assumed before any is observed: a typical list call against a real API.
const FIRST_LATENCY: f64 = 0.3;

/// After a 429 the rate halves, then doubles back over this long (up to the configured one).
pub const RECOVERY: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    /// The bucket: tokens and when they were counted, and the last sends when a window is
    /// kept. Taken in order (the lock is fair).
    bucket: tokio::sync::Mutex<Bucket>,
    /// At most this many requests in any window of this length, if set.
    window: Option<(usize, Duration)>,
    /// Observed request latency (a moving average, seconds) and the last 429's end.
    seen: Mutex<Seen>,
    /// Requests waiting for a token now.
    waiting: AtomicUsize,
}

/// Counts a request waiting for its token until it has one (or stops waiting).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    /// When `tokens` was counted.
    last: Instant,
    /// When the requests of the last window went, oldest first.
    sent: VecDeque<Instant>,
}

#[derive(Debug)]
struct Seen {
    latency: f64,
    /// When the last 429's wait ends; requests start no earlier.
    paused_until: Option<Instant>,
    /// The rate the last 429 cut to; it climbs back from `paused_until`.
    cut_to: f64,
    /// What 429s have added to a window's length (see [`RateLimiter::slow_down`]).
    widened: Duration,
}

impl RateLimiter {
    /// `rate` requests per second (at least 0.01); bursts up to `burst` (at least 1).
    pub fn new(rate: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        RateLimiter {
            rate: rate.max(0.01),
            burst,
            bucket: tokio::sync::Mutex::new(Bucket {
                tokens: burst,
                last: Instant::now(),
                sent: VecDeque::new(),
            }),
            window: None,
            seen: Mutex::new(Seen {
                latency: FIRST_LATENCY,
                paused_until: None,
                cut_to: rate.max(0.01),
                widened: Duration::ZERO,
            }),
            waiting: AtomicUsize::new(0),
        }
    }

    /// At most `count` requests in any `span`: requests a `span / count` apart, and none sent
    /// while the window ending now holds `count` (a request sent late never lets the next one
    /// close in on it, as a bucket counting from when tokens were due would).
    pub fn windowed(count: u32, span: Duration) -> Self {
        let count = count.max(1);
        RateLimiter {
            window: Some((count as usize, span)),
            ..Self::new(f64::from(count) / span.as_secs_f64(), 1)
        }
    }

    /// Whether requests are waiting for a token now: the budget has no room to spare.
    pub fn queued(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) > 0
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The rate now: the configured one, or less while recovering from a 429.
    fn current_rate(&self, now: Instant) -> f64 {
        Self::rate_at(&self.seen(), self.rate, now)
    }

    fn rate_at(seen: &Seen, rate: f64, now: Instant) -> f64 {
        let Some(until) = seen.paused_until else {
            return rate;
        };
        let since = now.saturating_duration_since(until).as_secs_f64();
        (seen.cut_to * (1.0 + since / RECOVERY.as_secs_f64())).min(rate)
    }

    /// Waits for a token. Waiters are served in order (the lock is fair).
    pub async fn acquire(&self) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        let mut bucket = self.bucket.lock().await;
        let paused_until = self.seen().paused_until;
        if let Some(until) = paused_until.filter(|u| *u > Instant::now()) {
            // A 429: nobody goes before its wait is over, and then without a burst.
            tokio::time::sleep_until(until).await;
            (bucket.tokens, bucket.last) = (0.0, until);
        }
        let now = Instant::now();
        let rate = self.current_rate(now);
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.last).as_secs_f64() * rate).min(self.burst);
        bucket.last = now;
        if bucket.tokens < 1.0 {
            let due = now + Duration::from_secs_f64((1.0 - bucket.tokens) / rate);
            tokio::time::sleep_until(due).await;
            // Counted from when the token was due, not from when this task woke: a timer
            // fires a millisecond or more late (more on a busy machine), and at 95/s, one
            // request every 10.5 ms, losing that on every request cost a tenth of the budget.
            (bucket.tokens, bucket.last) = (1.0, due);
        }
        bucket.tokens -= 1.0;
        if let Some((count, span)) = self.window {
            if bucket.sent.len() >= count {
                let oldest = bucket.sent.pop_front().expect("a full window");
                let widened = self.seen().widened;
                tokio::time::sleep_until(oldest + span + widened).await;
            }
            bucket.sent.push_back(Instant::now());
        }
    }

    /// Records how long a request took, from sending it to its last byte.
    pub fn observe(&self, latency: Duration) {
        let mut seen = self.seen();
        seen.latency = 0.8 * seen.latency + 0.2 * latency.as_secs_f64();
    }

    /// The server said 429: every request of the sync waits `retry_after` (1 s if it named
    /// none), then the rate starts again from half what it was. The 429s of requests that
    /// were in flight together cut it once. A window's limit is not halved: the window
    /// grows by a twentieth (up to twice its length), since requests reached the server
    /// less evenly than they went.
    pub fn slow_down(&self, retry_after: Option<Duration>) {
        let now = Instant::now();
        let until = now + retry_after.unwrap_or(Duration::from_secs(1));
        let mut seen = self.seen();
        if seen.paused_until.is_none_or(|u| u <= now) {
            match self.window {
                Some((_, span)) => seen.widened = (seen.widened + span / 20).min(span),
                None => seen.cut_to = (Self::rate_at(&seen, self.rate, now) / 2.0).max(0.5),
            }
        }
        seen.paused_until = Some(seen.paused_until.map_or(until, |u| u.max(until)));
    }

    /// The latency observed (a moving average).
    pub fn latency(&self) -> Duration {
        Duration::from_secs_f64(self.seen().latency)
    }

    /// Requests a second that `in_flight` requests at a time get at the latency observed,
    /// within the rate (for sharing work between budgets by what each can do).
    pub fn throughput(&self, in_flight: usize) -> f64 {
        let latency = self.seen().latency.max(0.001);
        (in_flight as f64 / latency).min(self.current_rate(Instant::now()))
    }

    /// Requests to keep in flight so the budget is used: the rate times the observed
    /// latency, with a fifth more for the time between a reply and the next request; at
    /// least 2 (one waiting while one is read), at most [`MAX_IN_FLIGHT`].
    pub fn in_flight(&self) -> usize {
        let latency = self.seen().latency;
        let want = (self.current_rate(Instant::now()) * latency * 1.2).ceil();
        (want as usize).clamp(2, MAX_IN_FLIGHT)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced_to_the_rate_after_the_burst() {
        let limiter = RateLimiter::new(10.0, 5);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst goes at once");
        for _ in 0..10 {
            limiter.acquire().await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!(
            (0.99..1.01).contains(&elapsed),
            "10 more at 10/s: {elapsed}s"
        );
        tokio::time::advance(Duration::from_secs(60)).await;
        let idle = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        assert_eq!(
            idle.elapsed(),
            Duration::ZERO,
            "the bucket refills, up to the burst"
        );
        limiter.acquire().await;
        assert!(idle.elapsed() >= Duration::from_millis(99));
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_wake_up_does_not_delay_the_requests_after_it() {
        let limiter = Arc::new(RateLimiter::new(100.0, 1));
        let start = Instant::now();
        limiter.acquire().await; // the burst
        let second = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire().await }
        });
        tokio::task::yield_now().await; // it waits for its token, due at 10 ms
                                        // The runtime was busy: it wakes 4 ms late.
        tokio::time::advance(Duration::from_millis(14)).await;
        second.await.expect("second request");
        limiter.acquire().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(20),
            "the third request keeps its time: 10 ms after the second was due"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_never_holds_one_too_many_even_after_a_late_wake_up() {
        let limiter = Arc::new(RateLimiter::windowed(5, Duration::from_secs(1)));
        let start = Instant::now();
        limiter.acquire().await;
        let mut sent = vec![start.elapsed()];
        let second = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire().await }
        });
        tokio::task::yield_now().await; // it waits for its token, due at 200 ms
                                        // The runtime was busy: it wakes 100 ms late.
        tokio::time::advance(Duration::from_millis(300)).await;
        second.await.expect("second request");
        sent.push(start.elapsed());
        for _ in 0..8 {
            limiter.acquire().await;
            sent.push(start.elapsed());
        }
        for six in sent.windows(6) {
            assert!(
                six[5] - six[0] >= Duration::from_secs(1),
                "six requests within a second: {sent:?}"
            );
        }
        assert_eq!(
            sent[9],
            Duration::from_millis(1800),
            "otherwise 200 ms apart: {sent:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_widens_a_window_instead_of_halving_its_rate() {
        let limiter = RateLimiter::windowed(5, Duration::from_secs(1));
        for _ in 0..5 {
            limiter.acquire().await;
        }
        limiter.slow_down(None);
        let start = Instant::now();
        let mut sent = Vec::new();
        for _ in 0..10 {
            limiter.acquire().await;
            sent.push(start.elapsed());
        }
        assert_eq!(
            sent[0],
            Duration::from_millis(1_200),
            "the 429's second is waited, then a request's spacing"
        );
        for six in sent.windows(6) {
            assert!(six[5] - six[0] >= Duration::from_millis(1050), "{sent:?}");
        }
        assert_eq!(
            sent[9],
            Duration::from_millis(3_050),
            "5 a window still, not half that: {sent:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_waiting_for_its_token_shows_the_budget_has_none_to_spare() {
        let limiter = Arc::new(RateLimiter::new(10.0, 1));
        limiter.acquire().await; // the burst
        assert!(!limiter.queued(), "nobody waits");
        let waiter = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire().await }
        });
        tokio::task::yield_now().await; // it waits for its token, due at 100 ms
        assert!(limiter.queued(), "a request waits for a token");
        waiter.await.expect("the waiting request");
        assert!(!limiter.queued(), "it has its token");
        // A request that stops waiting (its read dropped) is no longer counted.
        let dropped = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire().await }
        });
        tokio::task::yield_now().await;
        assert!(limiter.queued());
        dropped.abort();
        let _ = dropped.await;
        assert!(!limiter.queued(), "a dropped wait is not counted");
    }

    #[tokio::test(start_paused = true)]
    async fn in_flight_follows_the_latency_observed_within_bounds() {
        let limiter = RateLimiter::new(95.0, 95);
        for _ in 0..50 {
            limiter.observe(Duration::from_millis(250));
        }
        assert_eq!(limiter.in_flight(), 29, "95/s × 0.25 s × 1.2");
        for _ in 0..50 {
            limiter.observe(Duration::from_millis(1));
        }
        assert_eq!(
            limiter.in_flight(),
            2,
            "an instant API still overlaps reading and waiting"
        );
        for _ in 0..50 {
            limiter.observe(Duration::from_secs(5));
        }
        assert_eq!(limiter.in_flight(), MAX_IN_FLIGHT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_every_request_for_retry_after_then_resumes_slower() {
        let limiter = RateLimiter::new(10.0, 10);
        limiter.acquire().await;
        let start = Instant::now();
        limiter.slow_down(Some(Duration::from_secs(3)));
        limiter.acquire().await;
        assert!(
            start.elapsed() >= Duration::from_secs(3),
            "Retry-After is honoured"
        );
        let resumed = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        let elapsed = resumed.elapsed().as_secs_f64();
        assert!(
            elapsed >= 0.9,
            "no burst after a 429, about half the rate: {elapsed}s for 5"
        );
        tokio::time::advance(RECOVERY * 2).await;
        assert_eq!(
            limiter.in_flight(),
            4,
            "the full rate again: 10/s × 0.3 s × 1.2"
        );
        let recovered = Instant::now();
        for _ in 0..20 {
            limiter.acquire().await;
        }
        let elapsed = recovered.elapsed().as_secs_f64();
        assert!(
            elapsed <= 1.01,
            "back to the full rate and burst: {elapsed}s for 20"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn each_wave_of_429s_halves_the_rate_once_and_it_climbs_back() {
        let limiter = RateLimiter::new(1000.0, 1000);
        for _ in 0..3 {
            // Two requests in flight together both get 429: one cut.
            limiter.slow_down(None);
            limiter.slow_down(None);
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert_eq!(limiter.current_rate(Instant::now()), 125.0);
        tokio::time::advance(RECOVERY).await;
        assert_eq!(limiter.current_rate(Instant::now()), 250.0, "doubled back");
        tokio::time::advance(RECOVERY * 10).await;
        assert_eq!(
            limiter.current_rate(Instant::now()),
            1000.0,
            "never above the budget"
        );
    }
}
