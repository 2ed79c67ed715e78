//! Waiting on a condition with a deadline, instead of sleeping and hoping.

use std::future::Future;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(20);

/// Polls `condition` every 20 ms until it returns true or `deadline` passes;
/// panics naming `what` on timeout.
pub fn wait_until(what: &str, deadline: Duration, condition: impl FnMut() -> bool) {
    if !poll_until(deadline, condition) {
        panic!("timed out after {deadline:?} waiting for {what}");
    }
}

/// Polls `condition` every 20 ms; false when `deadline` passed first.
pub(crate) fn poll_until(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Async [`wait_until`]: awaits `condition()` every 20 ms until it yields true
/// or `deadline` passes; panics naming `what` on timeout.
pub async fn wait_until_async<F, Fut>(what: &str, deadline: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for(what, deadline, || {
        let met = condition();
        async move {
            met.await
                .then_some(())
                .ok_or_else(|| "still false".to_string())
        }
    })
    .await
}

/// Awaits `attempt()` every 20 ms until it returns `Ok`, and gives its value; panics
/// naming `what` and the last `Err` (why it was not there yet) when `deadline` passes.
pub async fn wait_for<T, F, Fut>(what: &str, deadline: Duration, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let end = Instant::now() + deadline;
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(last) if Instant::now() >= end => {
                panic!("timed out after {deadline:?} waiting for {what}: {last}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}
