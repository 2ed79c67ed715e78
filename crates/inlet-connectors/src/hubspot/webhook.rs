//! Checking a webhook's `X-HubSpot-Signature-v3`: base64 of HMAC-SHA256, under the app's
//! client secret, over `method + url + body + timestamp`, where the timestamp is the
//! `X-HubSpot-Request-Timestamp` header (Unix milliseconds) and the URL is the one HubSpot
//! posted to, protocol and host included, with a few characters HubSpot decodes before
//! signing decoded here too. A delivery signed more than five minutes ago is refused
//! (HubSpot's own rule: a replayed one is). The records a verified delivery names
//! ([`touched`], [`relinked`]) are read again from HubSpot at the next poll.

use data_encoding::BASE64;
use ring::hmac;
use serde_json::Value;

use super::associations::PAIRS;
use super::streams::OBJECTS;
use crate::registry::Delivery;

/// HubSpot's rule: a signature older than five minutes is refused.
pub const TOLERANCE_MS: i64 = 300_000;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no X-HubSpot-Signature-v3 header (only v3 signatures are accepted)")]
    Missing,
    #[error("no X-HubSpot-Request-Timestamp header, or not a number of milliseconds")]
    NoTimestamp,
    #[error("the signature is {0} s old, more than the 300 s HubSpot allows")]
    TooOld(i64),
    #[error(
        "the signature does not match the app's client secret for {0} (if a proxy stands \
         in front of inlet, set webhook_base_url to the address HubSpot posts to)"
    )]
    Mismatch(String),
}

/// `url` as HubSpot signs it: these percent-encodings decoded, every other byte as sent.
fn signed_url(url: &str) -> String {
    const DECODED: [(&str, char); 12] = [
        ("%3A", ':'),
        ("%2F", '/'),
        ("%3F", '?'),
        ("%40", '@'),
        ("%21", '!'),
        ("%24", '$'),
        ("%27", '\''),
        ("%28", '('),
        ("%29", ')'),
        ("%2A", '*'),
        ("%2C", ','),
        ("%3B", ';'),
    ];
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at..at + 3).unwrap_or("");
        match DECODED.iter().find(|(c, _)| c.eq_ignore_ascii_case(code)) {
            Some((_, ch)) => {
                out.push(*ch);
                rest = &rest[at + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn signed_bytes(method: &str, url: &str, body: &[u8], timestamp: &str) -> Vec<u8> {
    let mut signed = format!("{method}{}", signed_url(url)).into_bytes();
    signed.extend_from_slice(body);
    signed.extend_from_slice(timestamp.as_bytes());
    signed
}

/// Checks `delivery` against the app's client `secret` at `now_ms`.
pub fn verify(delivery: &Delivery<'_>, secret: &str, now_ms: i64) -> Result<(), SignatureError> {
    let signature = (delivery.header)("x-hubspot-signature-v3").ok_or(SignatureError::Missing)?;
    let timestamp =
        (delivery.header)("x-hubspot-request-timestamp").ok_or(SignatureError::NoTimestamp)?;
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::NoTimestamp)?;
    // The timestamp is the sender's to choose: the difference must not overflow.
    let age = now_ms.saturating_sub(at);
    if age > TOLERANCE_MS {
        return Err(SignatureError::TooOld(age / 1000));
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let signed = signed_bytes(delivery.method, delivery.url, delivery.body, &timestamp);
    let tag = BASE64
        .decode(signature.trim().as_bytes())
        .unwrap_or_default();
    hmac::verify(&key, &signed, &tag) // constant time
        .map_err(|_| SignatureError::Mismatch(delivery.url.to_string()))
}

/// The `X-HubSpot-Signature-v3` HubSpot would send (for tests and the fake).
pub fn sign(method: &str, url: &str, body: &[u8], timestamp_ms: i64, secret: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let signed = signed_bytes(method, url, body, &timestamp_ms.to_string());
    BASE64.encode(hmac::sign(&key, &signed).as_ref())
}

/// The events of a delivery (none if the body is not HubSpot's array of events).
fn events(body: &[u8]) -> Vec<Value> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(events)) => events,
        _ => Vec::new(),
    }
}

/// The API name of the standard type whose table is `table` (`contact` → `contacts`).
fn api_of_table(table: &str) -> Option<&'static str> {
    (OBJECTS.iter())
        .find(|(_, t, _)| *t == table)
        .map(|(api, _, _)| *api)
}

/// Records a delivery says changed, as `(API name, id)`: created, changed, restored,
/// deleted (archived), deleted for privacy (no trace left), merged (the survivor and the
/// records it absorbed). A hint only: the sync reads each from HubSpot as it is now.
/// Anything unreadable in the body is skipped (the polls and the archive pass find those
/// changes anyway).
pub fn touched(body: &[u8]) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for event in &events(body) {
        let Some((prefix, what)) = event["subscriptionType"]
            .as_str()
            .and_then(|t| t.split_once('.'))
        else {
            continue;
        };
        let api = if prefix == "object" {
            event["objectTypeId"].as_str().map(|id| {
                let standard = OBJECTS.iter().find(|(_, _, type_id)| *type_id == id);
                standard.map_or(id, |(api, _, _)| api).to_string()
            })
        } else {
            api_of_table(prefix).map(str::to_string)
        };
        let Some(api) = api else { continue };
        let mut ids: Vec<u64> = match what {
            "creation" | "propertyChange" | "restore" | "deletion" | "privacyDeletion" => {
                event["objectId"].as_u64().into_iter().collect()
            }
            "merge" => (event["objectId"].as_u64().into_iter())
                .chain(event["primaryObjectId"].as_u64())
                .chain(
                    (event["mergedObjectIds"].as_array().into_iter().flatten())
                        .filter_map(Value::as_u64),
                )
                .collect(),
            _ => continue,
        };
        ids.sort_unstable();
        ids.dedup();
        out.extend(ids.into_iter().map(|id| (api.clone(), id)));
    }
    out
}

/// Records a delivery says were associated with or dissociated from a record of another
/// type, as `(API name, other type's API name, id)`, from whichever side has an association
/// table ([`PAIRS`]); and records restored, or that absorbed others in a merge, from their
/// own side (their associations came back, or moved to them). A hint only: their
/// associations are read again from HubSpot.
pub fn relinked(body: &[u8]) -> Vec<(String, String, u64)> {
    let mut out = Vec::new();
    for (api, id) in restored_or_merged(body) {
        let pairs = PAIRS.iter().filter(|(from, _)| *from == api);
        out.extend(pairs.map(|(from, to)| (from.to_string(), to.to_string(), id)));
    }
    for event in &events(body) {
        let is_link =
            (event["subscriptionType"].as_str()).is_some_and(|t| t.ends_with(".associationChange"));
        let kinds = (event["associationType"].as_str())
            .and_then(|t| t.split_once("_TO_"))
            .map(|(a, b)| (a.to_lowercase(), b.to_lowercase()));
        let (Some((a, b)), true) = (kinds, is_link) else {
            continue;
        };
        let (Some(a), Some(b)) = (api_of_table(&a), api_of_table(&b)) else {
            continue;
        };
        let sides = [(a, b, &event["fromObjectId"]), (b, a, &event["toObjectId"])];
        for (from, to, id) in sides {
            if let (Some(id), true) = (id.as_u64(), PAIRS.contains(&(from, to))) {
                out.push((from.to_string(), to.to_string(), id));
            }
        }
    }
    out
}

/// Records restored or merged into, as `(API name of the pair's from type, its to type,
/// id)` for each pair whose to side they are: the records associated with them have their
/// associations read again.
pub fn relinked_to(body: &[u8]) -> Vec<(String, String, u64)> {
    let mut out = Vec::new();
    for (api, id) in restored_or_merged(body) {
        let pairs = PAIRS.iter().filter(|(_, to)| *to == api);
        out.extend(pairs.map(|(from, to)| (from.to_string(), to.to_string(), id)));
    }
    out
}

/// Records a delivery says were restored, or absorbed others in a merge: `(API name, id)`.
fn restored_or_merged(body: &[u8]) -> Vec<(&'static str, u64)> {
    let mut out = Vec::new();
    for event in &events(body) {
        let kind = (event["subscriptionType"].as_str()).and_then(|t| t.split_once('.'));
        let Some((prefix, "restore" | "merge")) = kind else {
            continue;
        };
        // A merge names its survivor `primaryObjectId` (HubSpot's changelog); `objectId` else.
        let id = (event["primaryObjectId"].as_u64()).or(event["objectId"].as_u64());
        if let (Some(api), Some(id)) = (api_of_table(prefix), id) {
            out.push((api, id));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn association_changes_name_the_side_with_a_table() {
        let body = serde_json::json!([
            {"subscriptionType": "contact.associationChange", "associationType": "CONTACT_TO_COMPANY",
             "fromObjectId": 1, "toObjectId": 2, "associationRemoved": true},
            {"subscriptionType": "deal.associationChange", "associationType": "DEAL_TO_LINE_ITEM",
             "fromObjectId": 3, "toObjectId": 4},
            {"subscriptionType": "contact.associationChange", "associationType": "CONTACT_TO_UNICORN",
             "fromObjectId": 5, "toObjectId": 6},
            {"subscriptionType": "contact.propertyChange", "associationType": "CONTACT_TO_COMPANY",
             "fromObjectId": 7, "toObjectId": 8}
        ]);
        let got = relinked(body.to_string().as_bytes());
        // Tables exist for contacts → companies and line items → deals only.
        let want = [("contacts", "companies", 1), ("line_items", "deals", 4)];
        let want: Vec<(String, String, u64)> = (want.iter())
            .map(|(a, b, i)| (a.to_string(), b.to_string(), *i))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_restored_or_surviving_record_has_its_associations_read_again_from_both_sides() {
        let body = serde_json::json!([
            {"subscriptionType": "contact.restore", "objectId": 5},
            {"subscriptionType": "deal.merge", "objectId": 10, "primaryObjectId": 9,
             "mergedObjectIds": [10]},
            {"subscriptionType": "company.restore", "objectId": 11},
            {"subscriptionType": "contact.deletion", "objectId": 12}
        ]);
        let owned = |want: &[(&str, &str, u64)]| -> Vec<(String, String, u64)> {
            (want.iter())
                .map(|(a, b, i)| (a.to_string(), b.to_string(), *i))
                .collect()
        };
        // A deletion leaves the tables without a read.
        let got = relinked(body.to_string().as_bytes());
        let want = [
            ("contacts", "companies", 5),
            ("deals", "contacts", 9),
            ("deals", "companies", 9),
        ];
        assert_eq!(got, owned(&want));
        let got = relinked_to(body.to_string().as_bytes());
        let want = [
            ("deals", "contacts", 5),
            ("tickets", "contacts", 5),
            ("calls", "contacts", 5),
            ("emails", "contacts", 5),
            ("meetings", "contacts", 5),
            ("notes", "contacts", 5),
            ("tasks", "contacts", 5),
            ("line_items", "deals", 9),
            ("quotes", "deals", 9),
            ("contacts", "companies", 11),
            ("deals", "companies", 11),
            ("tickets", "companies", 11),
        ];
        assert_eq!(got, owned(&want));
    }

    #[test]
    fn record_events_name_what_to_read_again() {
        let body = serde_json::json!([
            {"subscriptionType": "contact.deletion", "objectId": 11},
            {"subscriptionType": "contact.privacyDeletion", "objectId": 12},
            {"subscriptionType": "company.merge", "objectId": 20, "primaryObjectId": 20,
             "mergedObjectIds": [21, 22]},
            {"subscriptionType": "object.deletion", "objectTypeId": "0-48", "objectId": 30},
            {"subscriptionType": "object.deletion", "objectTypeId": "2-777", "objectId": 40},
            {"subscriptionType": "contact.propertyChange", "objectId": 50},
            {"subscriptionType": "deal.creation", "objectId": 60},
            {"subscriptionType": "contact.associationChange", "fromObjectId": 70, "toObjectId": 71},
            {"subscriptionType": "contact.deletion"},
            {"subscriptionType": "nonsense"}
        ]);
        let got = touched(body.to_string().as_bytes());
        let want = [
            ("contacts", 11),
            ("contacts", 12),
            ("companies", 20),
            ("companies", 21),
            ("companies", 22),
            ("calls", 30),
            ("2-777", 40),
            ("contacts", 50),
            ("deals", 60),
        ];
        let want: Vec<(String, u64)> = want.iter().map(|(a, i)| (a.to_string(), *i)).collect();
        assert_eq!(got, want);
        assert!(touched(b"not json").is_empty());
        assert!(relinked(body.to_string().as_bytes()).is_empty());
        assert!(touched(b"{\"eventId\": 1}").is_empty());
    }

    fn check(
        url: &str,
        signed_url: &str,
        body: &[u8],
        at: i64,
        secret: &str,
        now: i64,
    ) -> Result<(), SignatureError> {
        let signature = sign("POST", signed_url, br#"[{"eventId":1}]"#, at, "app-secret");
        let header = move |name: &str| match name {
            "x-hubspot-signature-v3" => Some(signature.clone()),
            "x-hubspot-request-timestamp" => Some(at.to_string()),
            _ => None,
        };
        let delivery = Delivery {
            method: "POST",
            url,
            header: &header,
            body,
        };
        verify(&delivery, secret, now)
    }

    #[test]
    fn a_signature_is_accepted_only_for_its_url_body_and_secret_in_time() {
        let url = "https://inlet.example.com/webhooks/hubspot/crm";
        let body = br#"[{"eventId":1}]"#;
        assert_eq!(check(url, url, body, 1_000, "app-secret", 2_000), Ok(()));
        let wrong = |e: Result<(), SignatureError>| matches!(e, Err(SignatureError::Mismatch(_)));
        assert!(wrong(check(url, url, body, 1_000, "other", 2_000)));
        assert!(wrong(check(url, url, b"[]", 1_000, "app-secret", 2_000)));
        assert!(wrong(check(
            "http://10.0.0.5:8080/webhooks/hubspot/crm",
            url,
            body,
            1_000,
            "app-secret",
            2_000
        )));
        assert_eq!(
            check(
                url,
                url,
                body,
                1_000,
                "app-secret",
                1_000 + TOLERANCE_MS + 1_000
            ),
            Err(SignatureError::TooOld(301))
        );
        assert_eq!(
            check(url, url, body, i64::MIN, "app-secret", 2_000),
            Err(SignatureError::TooOld(i64::MAX / 1000))
        );
    }

    #[test]
    fn the_characters_hubspot_decodes_before_signing_are_decoded() {
        assert_eq!(
            signed_url("https://h/w?a=b%3Ac%2Fd%2a%20e%"),
            "https://h/w?a=b:c/d*%20e%"
        );
        let sent = "https://h/w?next=%3Fx%3Dy";
        assert_eq!(
            check(
                sent,
                "https://h/w?next=?x%3Dy",
                b"[{\"eventId\":1}]",
                5,
                "app-secret",
                5
            ),
            Ok(())
        );
    }

    #[test]
    fn a_delivery_without_v3_headers_is_refused_in_plain_words() {
        let none = |_: &str| None;
        let delivery = Delivery {
            method: "POST",
            url: "https://h/w",
            header: &none,
            body: b"[]",
        };
        let refused = verify(&delivery, "s", 0).expect_err("unsigned");
        assert_eq!(refused, SignatureError::Missing);
        assert!(refused.to_string().contains("X-HubSpot-Signature-v3"));
    }
}
