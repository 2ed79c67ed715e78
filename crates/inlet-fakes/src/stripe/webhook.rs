//! Webhook delivery: every event is POSTed to every endpoint, signed like Stripe
//! (`Stripe-Signature: t=<unix>,v1=<hex hmac-sha256(secret, "{t}.{body}")>`), from a
//! background task. A failed delivery (non-2xx, connection error) is retried a few times in
//! the background, so it arrives after later events, as Stripe's retries do.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::{mpsc, watch};

use super::Shared;
use crate::delivery;

/// How long a reordered event waits for a later one to overtake it.
const REORDER_WINDOW: Duration = Duration::from_millis(300);

#[derive(Debug)]
pub(crate) struct Webhooks {
    pub secret: String,
    pub endpoints: RwLock<Vec<String>>,
    pub tx: mpsc::UnboundedSender<Arc<Value>>,
}

impl Webhooks {
    pub fn endpoints(&self) -> Vec<String> {
        self.endpoints
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// `t=...,v1=...` for `body` signed at `timestamp`.
pub(crate) fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    format!(
        "t={timestamp},v1={}",
        data_encoding::HEXLOWER.encode(tag.as_ref())
    )
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs until the fake shuts down.
pub(crate) async fn dispatch(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Arc<Value>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "webhook client unavailable; events will not be delivered");
            return;
        }
    };
    let mut held: Option<Arc<Value>> = None;
    loop {
        let wait = async {
            if held.is_some() {
                tokio::time::timeout(REORDER_WINDOW, rx.recv())
                    .await
                    .unwrap_or(Some(Arc::new(Value::Null)))
            } else {
                rx.recv().await
            }
        };
        let next = tokio::select! {
            next = wait => next,
            _ = shutdown.changed() => return,
        };
        let Some(event) = next else { return };
        let (duplicate, reorder) = shared.faults.webhook_modes();
        let mut batch = Vec::new();
        if event.is_null() {
            // The reorder window passed with nothing to swap with.
            batch.extend(held.take());
        } else if let Some(earlier) = held.take() {
            batch.push(event);
            batch.push(earlier);
        } else if reorder {
            held = Some(event);
        } else {
            batch.push(event);
        }
        for event in batch {
            for _ in 0..if duplicate { 2 } else { 1 } {
                deliver(&shared, &client, &event).await;
            }
        }
    }
}

async fn deliver(shared: &Arc<Shared>, client: &reqwest::Client, event: &Arc<Value>) {
    let Ok(body) = serde_json::to_vec(&**event) else {
        return;
    };
    let id = event
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    for url in shared.webhooks.endpoints() {
        let (shared, client, body, event) =
            (shared.clone(), client.clone(), body.clone(), id.clone());
        delivery::send(format!("event {id}"), move |_| {
            let (shared, client, body, url, id) = (
                shared.clone(),
                client.clone(),
                body.clone(),
                url.clone(),
                event.clone(),
            );
            async move {
                let sent = post(&client, &url, &shared.webhooks.secret, &body).await;
                if sent {
                    shared.webhook_delivered(&id);
                }
                sent
            }
        })
        .await;
    }
}

async fn post(client: &reqwest::Client, url: &str, secret: &str, body: &[u8]) -> bool {
    let signature = signature_header(secret, unix_now(), body);
    let response = client
        .post(url)
        .header("Content-Type", "application/json; charset=utf-8")
        .header(
            "User-Agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )
        .header("Stripe-Signature", signature)
        .body(body.to_vec())
        .send()
        .await;
    delivery::accepted(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_stripes_scheme() {
        // HMAC-SHA256("whsec_test", "1700000000.{}"), computed independently with Python's hmac.
        let header = signature_header("whsec_test", 1_700_000_000, b"{}");
        assert_eq!(
            header,
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }
}
