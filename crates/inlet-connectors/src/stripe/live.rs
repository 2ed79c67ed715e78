//! Live: turning events into records, in the feed's order.
//!
//! Each record's version is its event's `created` second; events of one second share it,
//! and the writer then keeps the one applied later, which is the feed's order.
//! `*.deleted` removes the row, except `customer.subscription.deleted`, which is a cancel
//! (the subscription stays, `status = canceled`). A detached payment method leaves its
//! customer's list, so it leaves the table.

use std::collections::HashSet;

use inlet_core::{Record, SourceError, Version};
use serde_json::Value;

use super::backfill::{children, page_of, upsert};
use super::client::StripeClient;
use super::events::Event;
use super::position::Cursor;
use super::schema::Schema;
use super::streams::{Following, Listing, StreamDef};

/// The records `events` hold for this stream.
pub async fn records(
    client: &StripeClient,
    def: &StreamDef,
    schema: &Schema,
    events: &[Event],
) -> Result<Vec<Record>, SourceError> {
    let mut out = Vec::new();
    for event in events {
        let Some(object) = event
            .get("data")
            .and_then(|d| d.get("object"))
            .and_then(Value::as_object)
        else {
            continue;
        };
        let kind = object
            .get("object")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let ty = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let version =
            Version::from_secs(event.get("created").and_then(Value::as_i64).unwrap_or(0), 0);
        match def.following {
            Following::Events { object: wanted } if kind == wanted => {
                let Some(id) = object.get("id").and_then(Value::as_str) else {
                    continue;
                };
                let gone = (ty.ends_with(".deleted") && kind != "subscription")
                    || ty == "payment_method.detached";
                out.push(match gone {
                    true => Record::delete(id, version),
                    false => Record::upsert(id, version, schema.row(object.clone())),
                });
            }
            Following::ChildEvents { object: wanted } if kind == wanted => {
                let Listing::Children { field, more, .. } = def.listing else {
                    continue;
                };
                let before: HashSet<String> = child_ids(
                    event.get("data").and_then(|d| d.get("previous_attributes")),
                    field,
                );
                if ty.ends_with(".deleted") && kind != "subscription" {
                    for id in child_ids(event.get("data").and_then(|d| d.get("object")), field) {
                        out.push(Record::delete(id, version));
                    }
                    continue;
                }
                let now = children(client, object, field, more).await?;
                let current: HashSet<&str> = now
                    .iter()
                    .filter_map(|c| c.get("id").and_then(Value::as_str))
                    .collect();
                for gone in before.iter().filter(|id| !current.contains(id.as_str())) {
                    out.push(Record::delete(gone.as_str(), version));
                }
                for child in now {
                    if let Some(id) = child.get("id").and_then(Value::as_str) {
                        let id = id.to_string();
                        out.push(Record::upsert(id, version, schema.row(child)));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The ids of the children listed in `holder[field]` (an object or `previous_attributes`).
fn child_ids(holder: Option<&Value>, field: &str) -> HashSet<String> {
    holder
        .and_then(|h| h.get(field))
        .and_then(|l| l.get("data"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("id").and_then(Value::as_str))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// For a stream without events: the objects newer than `newest`, oldest first, and the new
/// newest.
pub async fn list_forward(
    client: &StripeClient,
    def: &StreamDef,
    schema: &Schema,
    newest: Option<&Cursor>,
) -> Result<(Vec<Record>, Option<Cursor>), SourceError> {
    let Listing::Top { path, params, .. } = def.listing else {
        return Ok((Vec::new(), newest.cloned()));
    };
    let mut query: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, v.to_string())).collect();
    query.push(("limit", "100".into()));
    let mut records = Vec::new();
    let mut newest = newest.cloned();
    loop {
        let mut q = query.clone();
        match newest.as_ref().and_then(|n| n.id.clone()) {
            Some(id) => q.push(("ending_before", id)),
            None => {
                // Nothing seen yet: the newest page is where following starts.
                let page = page_of(client, path, params, false, &Default::default()).await?;
                newest = page.data.first().map(Cursor::of).or(newest);
                let version = Version::from_secs(page.date - 1, 0);
                records.extend(
                    page.data
                        .into_iter()
                        .rev()
                        .map(|o| upsert(schema, o, version)),
                );
                return Ok((records, newest));
            }
        }
        let page = match client.list(path, &q).await {
            Ok(page) => page,
            Err(super::client::CallError::Source(e) | super::client::CallError::Missing(e)) => {
                return Err(e)
            }
            // The newest object went away: start again from the list's newest.
            Err(super::client::CallError::CursorMissing) => {
                newest = None;
                continue;
            }
        };
        let version = Version::from_secs(page.date - 1, 0);
        if let Some(first) = page.data.first() {
            newest = Some(Cursor::of(first));
        }
        let last = !page.has_more || page.data.is_empty();
        records.extend(
            page.data
                .into_iter()
                .rev()
                .map(|o| upsert(schema, o, version)),
        );
        if last {
            return Ok((records, newest));
        }
    }
}
