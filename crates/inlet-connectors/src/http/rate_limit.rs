//! A token bucket: at most `rate` requests a second on average, bursts up to `burst`.
//! One bucket per sync, shared by all its streams, so a sync's share of an API's quota is
//! one number whatever it is doing.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// `rate` requests per second (at least 0.01); bursts up to `burst` (at least 1).
    pub fn new(rate: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        RateLimiter {
            rate: rate.max(0.01),
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Waits for a token. Waiters are served in order (the lock is fair).
    pub async fn acquire(&self) {
        let mut state = self.state.lock().await;
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate).min(self.burst);
        *last = now;
        if *tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - *tokens) / self.rate);
            tokio::time::sleep(wait).await;
            *tokens = 1.0;
            *last = Instant::now();
        }
        *tokens -= 1.0;
    }
}

#[cfg(test)]
mod tests {
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
}
