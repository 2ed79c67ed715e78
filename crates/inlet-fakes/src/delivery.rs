//! Sending webhooks as the vendors do: a delivery counts only when the target answers 2xx,
//! and a refused one is sent again in the background a few times, each wait twice the last,
//! so it arrives after later ones (the vendors retry for a day or more; the fakes for
//! seconds).

use std::future::Future;
use std::time::Duration;

/// Attempts after the first failed one, and the first wait (doubling).
const RETRIES: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// Whether the target took a delivery (a 2xx answer); why not is logged.
pub(crate) fn accepted(response: reqwest::Result<reqwest::Response>) -> bool {
    match response {
        Ok(r) if r.status().is_success() => true,
        Ok(r) => {
            tracing::debug!(
                status = r.status().as_u16(),
                "webhook target refused a delivery"
            );
            false
        }
        Err(error) => {
            tracing::debug!(%error, "webhook delivery failed");
            false
        }
    }
}

/// Delivers by `attempt(0)` now; if that is refused, again in the background by
/// `attempt(n)` for the `n`th retry, until one is accepted or the retries run out (`what`
/// names the delivery in the log then).
pub(crate) async fn send<F, Fut>(what: String, mut attempt: F)
where
    F: FnMut(u32) -> Fut + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    if attempt(0).await {
        return;
    }
    tokio::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        for n in 1..=RETRIES {
            tokio::time::sleep(backoff).await;
            if attempt(n).await {
                return;
            }
            backoff *= 2;
        }
        tracing::info!(%what, "webhook delivery gave up after retries");
    });
}
