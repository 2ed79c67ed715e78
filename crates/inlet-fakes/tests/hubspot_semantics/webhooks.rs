//! Webhook deliveries, received over real HTTP: every kind of change as HubSpot names it,
//! batches of at most 100, and a refused delivery sent again with its attempt counted.
//! (The signatures are checked by HubSpot's own Python client, in the conformance test.)

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use super::*;

/// One POST the receiver took: its lower-cased headers and its events.
struct Delivery {
    headers: Vec<(String, String)>,
    events: Vec<Value>,
}

impl Delivery {
    fn header(&self, name: &str) -> Option<&str> {
        (self.headers.iter())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook target that answers 500 to its first `refuse` deliveries, 200 after.
struct Receiver {
    url: String,
    taken: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    async fn start(refuse: u32) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "http://{}/hooks/hubspot",
            listener.local_addr().expect("addr")
        );
        let taken = Arc::new(Mutex::new(Vec::new()));
        let refuse = Arc::new(AtomicU32::new(refuse));
        let (sink, left) = (taken.clone(), refuse.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (sink, left) = (sink.clone(), left.clone());
                tokio::spawn(async move {
                    let Some(delivery) = read_request(&mut socket).await else {
                        return;
                    };
                    let refused = left
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    let status = if refused {
                        "500 Internal Server Error"
                    } else {
                        sink.lock().await.push(delivery);
                        "200 OK"
                    };
                    let reply = format!(
                        "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        Receiver { url, taken }
    }

    /// Every event taken so far, in delivery order.
    async fn events(&self) -> Vec<Value> {
        let taken = self.taken.lock().await;
        taken.iter().flat_map(|d| d.events.clone()).collect()
    }

    /// Waits until `n` events have been taken.
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        wait_until_async("webhook events", Duration::from_secs(20), || async {
            self.events().await.len() >= n
        })
        .await;
        self.events().await
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Delivery> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..n]);
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = (headers.iter())
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())?;
    while data.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&chunk[..n]);
    }
    let events = serde_json::from_slice(&data[head_end..head_end + length]).ok()?;
    Some(Delivery { headers, events })
}

fn contact_ids(hubspot: &FakeHubSpot) -> Vec<String> {
    (hubspot.objects("contacts").expect("contacts").iter())
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect()
}

fn kinds(events: &[Value]) -> Vec<String> {
    let mut events = events.to_vec();
    events.sort_by_key(|e| e["eventId"].as_u64());
    events
        .iter()
        .map(|e| e["subscriptionType"].as_str().expect("type").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_is_delivered_as_the_event_hubspot_names_it() {
    let hubspot = fake(20, generous(), Duration::ZERO).await;
    let receiver = Receiver::start(0).await;
    let ids = contact_ids(&hubspot);
    hubspot
        .update("contacts", &ids[0], json!({"firstname": "Before"}))
        .expect("a change before subscribing");
    hubspot.subscribe_webhooks(&receiver.url);

    let created = hubspot
        .create("contacts", json!({"email": "hook@example.com"}))
        .expect("create");
    hubspot
        .update(
            "contacts",
            &created,
            json!({"firstname": "Ann", "lastname": ""}),
        )
        .expect("update");
    hubspot.archive("contacts", &created).expect("archive");
    hubspot.restore("contacts", &created).expect("restore");
    let (survivor, absorbed) = (ids[1].clone(), ids[2].clone());
    hubspot
        .merge("contacts", &survivor, &absorbed)
        .expect("merge");
    let company = hubspot.objects("companies").expect("companies")[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    hubspot
        .associate("contacts", &created, "companies", &company, None)
        .expect("associate");
    hubspot
        .dissociate("contacts", &created, "companies", &company)
        .expect("dissociate");
    hubspot.gdpr_delete(&ids[3]).expect("gdpr delete");
    let car = hubspot.create("cars", json!({})).expect("a custom object");

    let events = receiver.wait_for(12).await;
    assert_eq!(
        kinds(&events),
        [
            "contact.creation",
            "contact.propertyChange",
            "contact.propertyChange",
            "contact.deletion",
            "contact.restore",
            "contact.merge",
            "contact.associationChange",
            "company.associationChange",
            "contact.associationChange",
            "company.associationChange",
            "contact.privacyDeletion",
            "object.creation",
        ],
        "one event per change, nothing from before the subscription: {events:#?}"
    );
    let by_type = |t: &str| -> Vec<&Value> {
        (events.iter())
            .filter(|e| e["subscriptionType"] == t)
            .collect()
    };
    let id = |text: &str| text.parse::<u64>().expect("numeric id");
    let creation = by_type("contact.creation")[0];
    assert_eq!(creation["objectId"], json!(id(&created)));
    assert_eq!(creation["portalId"], json!(hubspot.portal_id()));
    assert_eq!(creation["attemptNumber"], json!(0));
    assert!(creation["occurredAt"].as_i64().is_some_and(|t| t > END));
    let changes: Vec<(&str, &str)> = by_type("contact.propertyChange")
        .iter()
        .map(|e| {
            (
                e["propertyName"].as_str().expect("name"),
                e["propertyValue"].as_str().expect("value"),
            )
        })
        .collect();
    assert!(
        changes.contains(&("firstname", "Ann")) && changes.contains(&("lastname", "")),
        "{changes:?}"
    );
    let merge = by_type("contact.merge")[0];
    assert_eq!(merge["primaryObjectId"], json!(id(&survivor)));
    assert_eq!(merge["mergedObjectIds"], json!([id(&absorbed)]));
    let links = by_type("contact.associationChange");
    assert_eq!(links[0]["fromObjectId"], json!(id(&created)));
    assert_eq!(links[0]["toObjectId"], json!(id(&company)));
    assert_eq!(links[0]["associationType"], "CONTACT_TO_COMPANY");
    assert_eq!(
        (
            links[0]["associationRemoved"].clone(),
            links[1]["associationRemoved"].clone()
        ),
        (json!(false), json!(true))
    );
    let inverse = by_type("company.associationChange");
    assert_eq!(inverse[0]["fromObjectId"], json!(id(&company)));
    assert_eq!(inverse[0]["associationType"], "COMPANY_TO_CONTACT");
    let custom = by_type("object.creation")[0];
    assert_eq!(custom["objectId"], json!(id(&car)));
    assert!(
        custom["objectTypeId"]
            .as_str()
            .is_some_and(|t| t.starts_with("2-")),
        "{custom}"
    );

    let taken = receiver.taken.lock().await;
    let delivery = &taken[0];
    assert_eq!(delivery.header("x-hubspot-signature-version"), Some("v1"));
    assert!(delivery
        .header("x-hubspot-signature")
        .is_some_and(|s| s.len() == 64));
    assert!(delivery.header("x-hubspot-signature-v3").is_some());
    assert!(delivery
        .header("x-hubspot-request-timestamp")
        .and_then(|t| t.parse::<i64>().ok())
        .is_some_and(|t| t > END));
    drop(taken);
    assert_eq!(hubspot.webhook_events_delivered(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_hold_at_most_a_hundred_and_a_refused_one_comes_again() {
    let hubspot = fake(200, generous(), Duration::ZERO).await;
    let receiver = Receiver::start(1).await;
    hubspot.subscribe_webhooks(&receiver.url);
    let ids = contact_ids(&hubspot)[..150].to_vec();
    hubspot
        .update_together("contacts", &ids, json!({"jobtitle": "Buyer"}))
        .expect("one workflow changing 150 contacts");

    let events = receiver.wait_for(150).await;
    let mut changed: Vec<u64> = events
        .iter()
        .filter_map(|e| e["objectId"].as_u64())
        .collect();
    changed.sort_unstable();
    let mut expected: Vec<u64> = ids.iter().map(|i| i.parse().expect("id")).collect();
    expected.sort_unstable();
    assert_eq!(
        changed, expected,
        "every change once, none lost to the refusal"
    );
    let taken = receiver.taken.lock().await;
    assert!(
        taken.iter().all(|d| d.events.len() <= 100),
        "batches of at most 100"
    );
    // The first delivery was refused: its events came again, counted as a second attempt.
    let retried: Vec<&Value> = events.iter().filter(|e| e["attemptNumber"] == 1).collect();
    assert!(!retried.is_empty(), "no event was sent again");
    assert!(events
        .iter()
        .all(|e| e["attemptNumber"].as_u64() <= Some(1)));
}
