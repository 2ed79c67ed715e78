//! Webhooks as an app subscribed to every CRM event receives them. Each change (creation,
//! property change, deletion, restore, merge, privacy deletion, association change) becomes
//! an event; events go to every target as a JSON array of up to 100, signed with the app's
//! client secret in both HubSpot's v1 (`X-HubSpot-Signature`) and v3
//! (`X-HubSpot-Signature-v3` + `X-HubSpot-Request-Timestamp`) headers. A delivery that
//! fails (not 2xx, refused, or unanswered in 5 s) is sent again in the background with its
//! events' `attemptNumber` counted up, so it arrives after later ones, as HubSpot's retries
//! do; HubSpot retries for a day, the fake for a few seconds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, watch};

use super::clock::{mix, now_ms};
use super::store::Store;
use super::Shared;
use crate::delivery;

/// Events in one delivery at most (HubSpot's batch size).
const BATCH: usize = 100;
/// How long a target has to answer (HubSpot's timeout).
const TIMEOUT: Duration = Duration::from_secs(5);

/// The store's end: events are made under the store's lock, in the order of the changes.
#[derive(Debug)]
pub(crate) struct Outbox {
    /// Set once a target subscribes; until then changes make no events.
    tx: Option<mpsc::UnboundedSender<Value>>,
    next_event: u64,
    app_id: u64,
}

impl Outbox {
    pub fn new(seed: u64) -> Outbox {
        Outbox {
            tx: None,
            next_event: 1,
            app_id: 1_000_000 + mix(seed, 0xa99) % 8_999_999,
        }
    }
}

/// The subscription's end: where events go and how they are signed.
#[derive(Debug)]
pub(crate) struct Webhooks {
    targets: RwLock<Vec<String>>,
    tx: mpsc::UnboundedSender<Value>,
    /// Events a target accepted (2xx), counting each target once.
    pub delivered: AtomicU64,
}

impl Webhooks {
    /// The dispatcher's receiver goes to [`dispatch`].
    pub fn new() -> (Webhooks, mpsc::UnboundedReceiver<Value>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let webhooks = Webhooks {
            targets: RwLock::new(Vec::new()),
            tx,
            delivered: AtomicU64::new(0),
        };
        (webhooks, rx)
    }

    fn targets(&self) -> Vec<String> {
        self.targets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Shared {
    /// Every change from now on is also POSTed to `target_url`.
    pub(crate) fn subscribe(&self, target_url: &str) {
        self.webhooks
            .targets
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(target_url.to_string());
        self.write().outbox.tx = Some(self.webhooks.tx.clone());
    }
}

/// The kinds of event a change makes.
const EVENTS: [&str; 7] = [
    "creation",
    "propertyChange",
    "deletion",
    "restore",
    "merge",
    "privacyDeletion",
    "associationChange",
];

/// The webhook name of a type: the six with their own subscriptions, else the generic one.
fn subscription_prefix(name: &str) -> Option<&'static str> {
    Some(match name {
        "contacts" => "contact",
        "companies" => "company",
        "deals" => "deal",
        "tickets" => "ticket",
        "line_items" => "line_item",
        "products" => "product",
        _ => return None,
    })
}

impl Store {
    /// Queues the event `what` (`creation`, `propertyChange`, ...) about record `id` of
    /// `kind`, with `fields` added to the common ones.
    pub fn notice(&mut self, kind: usize, id: u64, what: &str, fields: Value) {
        let Some(tx) = &self.outbox.tx else { return };
        let ty = &self.types[kind];
        // One subscription per type and kind of event, as an app subscribed to all has.
        let nth = EVENTS
            .iter()
            .position(|e| *e == what)
            .unwrap_or(EVENTS.len());
        let mut event = Map::new();
        event.insert("eventId".into(), json!(self.outbox.next_event));
        event.insert(
            "subscriptionId".into(),
            json!(100_000 + (kind * (EVENTS.len() + 1) + nth) as u64),
        );
        event.insert("portalId".into(), json!(self.portal_id));
        event.insert("appId".into(), json!(self.outbox.app_id));
        event.insert("occurredAt".into(), json!(now_ms()));
        let name = match subscription_prefix(&ty.name) {
            // Products have no association subscription; the generic one stands in.
            Some(prefix) if !(prefix == "product" && what == "associationChange") => {
                format!("{prefix}.{what}")
            }
            _ => {
                event.insert("objectTypeId".into(), json!(ty.type_id));
                format!("object.{what}")
            }
        };
        event.insert("subscriptionType".into(), json!(name));
        event.insert("attemptNumber".into(), json!(0));
        if what != "associationChange" {
            event.insert("objectId".into(), json!(id));
        }
        event.insert("changeSource".into(), json!("CRM"));
        if let Value::Object(fields) = fields {
            event.extend(fields);
        }
        self.outbox.next_event += 1;
        let _ = tx.send(Value::Object(event));
    }

    /// Association events, one from each side as HubSpot sends them.
    pub fn notice_association(&mut self, from: usize, a: u64, to: usize, b: u64, removed: bool) {
        for (f, x, t, y) in [(from, a, to, b), (to, b, from, a)] {
            let label = format!(
                "{}_TO_{}",
                self.types[f].singular.to_uppercase(),
                self.types[t].singular.to_uppercase()
            )
            .replace(' ', "_");
            self.notice(
                f,
                x,
                "associationChange",
                json!({"associationType": label, "fromObjectId": x, "toObjectId": y,
                       "associationRemoved": removed, "isPrimaryAssociation": false}),
            );
        }
    }
}

/// `X-HubSpot-Signature` (v1): hex SHA-256 of the client secret followed by the body.
fn signature_v1(secret: &str, body: &[u8]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(secret.as_bytes());
    ctx.update(body);
    data_encoding::HEXLOWER.encode(ctx.finish().as_ref())
}

/// `X-HubSpot-Signature-v3`: base64 of HMAC-SHA256 under the client secret over method,
/// URL, body and the timestamp in milliseconds.
fn signature_v3(secret: &str, url: &str, body: &[u8], timestamp_ms: i64) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(b"POST");
    ctx.update(url.as_bytes());
    ctx.update(body);
    ctx.update(timestamp_ms.to_string().as_bytes());
    data_encoding::BASE64.encode(ctx.sign().as_ref())
}

/// Runs until the fake shuts down: takes what the store queued, up to [`BATCH`] events at
/// a time, and delivers it to every target.
pub(crate) async fn dispatch(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Value>,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "webhook client unavailable; events will not be delivered");
            return;
        }
    };
    loop {
        let first = tokio::select! {
            first = rx.recv() => first,
            _ = shutdown.changed() => return,
        };
        let Some(first) = first else { return };
        let mut events = vec![first];
        while events.len() < BATCH {
            match rx.try_recv() {
                Ok(event) => events.push(event),
                Err(_) => break,
            }
        }
        let secret = shared.tokens().client_secret.clone();
        for url in shared.webhooks.targets() {
            let what = format!("{} events to {url}", events.len());
            let (shared, client, secret, events) = (
                shared.clone(),
                client.clone(),
                secret.clone(),
                events.clone(),
            );
            delivery::send(what, move |attempt| {
                let (shared, client, secret, url) =
                    (shared.clone(), client.clone(), secret.clone(), url.clone());
                let mut events = events.clone();
                for event in &mut events {
                    event["attemptNumber"] = json!(attempt);
                }
                async move {
                    let sent = post(&client, &url, &secret, &events).await;
                    if sent {
                        let n = events.len() as u64;
                        shared.webhooks.delivered.fetch_add(n, Ordering::Relaxed);
                    }
                    sent
                }
            })
            .await;
        }
    }
}

async fn post(client: &reqwest::Client, url: &str, secret: &str, events: &[Value]) -> bool {
    let Ok(body) = serde_json::to_vec(events) else {
        return false;
    };
    let at = now_ms();
    let response = client
        .post(url)
        .header("Content-Type", "application/json")
        .header(
            "User-Agent",
            "HubSpot Connect 2.0 (http://dev.hubspot.com/)",
        )
        .header("X-HubSpot-Signature", signature_v1(secret, &body))
        .header("X-HubSpot-Signature-Version", "v1")
        .header(
            "X-HubSpot-Signature-v3",
            signature_v3(secret, url, &body, at),
        )
        .header("X-HubSpot-Request-Timestamp", at.to_string())
        .body(body)
        .send()
        .await;
    delivery::accepted(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_hubspots_schemes() {
        // Computed independently with Python's hashlib and hmac.
        assert_eq!(
            signature_v1("secret", b"[]"),
            "e54739419ee05866a0e9d8df6b398edcb6c4e7b4c1e1a8c66b5fc889d024eb54"
        );
        assert_eq!(
            signature_v3("secret", "https://h/w", b"[]", 1_700_000_000_000),
            "PH8Vedut7ZUypUwsBeMXkN4uX53/WAc3yygZCEKrPYA="
        );
    }
}
