//! The event log: which event types a change produces (the ones Stripe uses, no more), and
//! appending events with a full snapshot of the object.
//!
//! Notable absences, as in Stripe: no `charge.created` (a new charge is `charge.succeeded`,
//! `.failed` or `.pending`), no `payment_intent.updated` or `setup_intent.updated` (only
//! status events), no `invoiceitem.updated`, no `checkout.session.created` (sessions are
//! announced when `completed` or `expired`), nothing for balance transactions. Subscription
//! items and invoice lines are announced through their parent's `*.updated`.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::store::{Body, Store};
use super::stream::Stream;

/// Who caused a change and when: the HTTP request (for `request.id`) and the time.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub now: i64,
    pub request: Option<String>,
    pub api_version: String,
    pub idempotency_key: Option<String>,
}

/// Appends an event of `kind` about `object` (and the prior values of changed keys).
pub(crate) fn emit(
    store: &mut Store,
    ctx: &Ctx,
    kind: &str,
    object: Map<String, Value>,
    previous: Option<Map<String, Value>>,
) {
    let id = store.new_event_id();
    let mut data = Map::new();
    data.insert("object".into(), Value::Object(object));
    if let Some(previous) = previous {
        data.insert("previous_attributes".into(), Value::Object(previous));
    }
    let event = json!({
        "id": &*id,
        "object": "event",
        "api_version": ctx.api_version,
        "created": ctx.now,
        "data": data,
        "livemode": false,
        "pending_webhooks": store.webhook_endpoints,
        "request": {"id": ctx.request, "idempotency_key": ctx.idempotency_key},
        "type": kind,
    });
    let Value::Object(map) = event else { return };
    let key = store.next_key(ctx.now);
    store.outbox.push(Arc::new(Value::Object(map.clone())));
    store
        .events
        .push(id, key, super::store::NONE, Body::Full(Box::new(map)), true);
}

/// The events Stripe sends for a new object, in order.
pub(crate) fn created_types(stream: Stream, object: &Map<String, Value>) -> Vec<String> {
    let status = object
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match stream {
        Stream::Charge => vec![format!(
            "charge.{}",
            if status.is_empty() {
                "succeeded"
            } else {
                status
            }
        )],
        Stream::PaymentMethod if object.get("customer").is_some_and(|c| !c.is_null()) => {
            vec!["payment_method.attached".into()]
        }
        Stream::PaymentMethod | Stream::CheckoutSession | Stream::BalanceTransaction => Vec::new(),
        Stream::SubscriptionItem | Stream::InvoiceLineItem => Vec::new(),
        Stream::PaymentIntent | Stream::SetupIntent => {
            let prefix = stream.name();
            let mut types = vec![format!("{prefix}.created")];
            types.extend(status_event(stream, status));
            types
        }
        other => other
            .event_prefix()
            .map(|p| vec![format!("{p}.created")])
            .unwrap_or_default(),
    }
}

/// The status-transition event for an object entering `status`, if Stripe has one.
fn status_event(stream: Stream, status: &str) -> Option<String> {
    let name = match (stream, status) {
        (Stream::PaymentIntent, "succeeded" | "canceled" | "processing" | "requires_action") => {
            status
        }
        (Stream::PaymentIntent, "requires_payment_method") => return None,
        (Stream::SetupIntent, "succeeded" | "canceled" | "requires_action") => status,
        (Stream::Invoice, "open") => "finalized",
        (Stream::Invoice, "paid") => "paid",
        (Stream::Invoice, "void") => "voided",
        (Stream::Invoice, "uncollectible") => "marked_uncollectible",
        (Stream::Charge, "succeeded" | "failed" | "pending") => status,
        (Stream::Dispute, "won" | "lost" | "warning_closed") => "closed",
        (Stream::Payout, "paid" | "failed" | "canceled") => status,
        (Stream::CheckoutSession, "complete") => "completed",
        (Stream::CheckoutSession, "expired") => "expired",
        (Stream::CreditNote, "void") => "voided",
        (Stream::Subscription, "paused") => "paused",
        _ => return None,
    };
    Some(format!("{}.{name}", stream.event_prefix()?))
}

/// The events Stripe sends when an object changes from `before` to `after`.
pub(crate) fn updated_types(
    stream: Stream,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Vec<String> {
    let status = |m: &Map<String, Value>| {
        m.get("status")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (old, new) = (status(before), status(after));
    let mut types = Vec::new();
    let has_updated = !matches!(
        stream,
        Stream::PaymentIntent
            | Stream::SetupIntent
            | Stream::CheckoutSession
            | Stream::Invoiceitem
            | Stream::BalanceTransaction
    );
    if has_updated {
        if let Some(prefix) = stream.event_prefix() {
            types.push(format!("{prefix}.updated"));
        }
    }
    if old != new {
        types.extend(status_event(stream, &new));
        if stream == Stream::Subscription && old == "paused" {
            types.push("customer.subscription.resumed".into());
        }
        if stream == Stream::Invoice && new == "paid" {
            types.push("invoice.payment_succeeded".into());
        }
    }
    let refunded = |m: &Map<String, Value>| {
        m.get("amount_refunded")
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    if stream == Stream::Charge && refunded(after) > refunded(before) {
        types.push("charge.refunded".into());
    }
    types
}

/// Old values of the keys whose values differ, as `data.previous_attributes` carries them.
pub(crate) fn previous_attributes(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Map<String, Value> {
    let mut previous = Map::new();
    for (key, old) in before {
        if after.get(key) != Some(old) {
            previous.insert(key.clone(), old.clone());
        }
    }
    for key in after.keys() {
        if !before.contains_key(key) {
            previous.insert(key.clone(), Value::Null);
        }
    }
    previous
}

/// Whether an event is still retained, and matches the `type` / `types[]` filters.
pub(crate) fn type_matches(kind: &str, single: Option<&str>, any_of: &[String]) -> bool {
    if let Some(pattern) = single {
        let ok = match pattern.strip_suffix('*') {
            Some(prefix) => kind.starts_with(prefix),
            None => kind == pattern,
        };
        if !ok {
            return false;
        }
    }
    any_of.is_empty() || any_of.iter().any(|t| t == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn event_types_follow_stripe() {
        let before = obj(json!({"status": "draft"}));
        let after = obj(json!({"status": "open"}));
        assert_eq!(
            updated_types(Stream::Invoice, &before, &after),
            ["invoice.updated", "invoice.finalized"]
        );
        let pi = obj(json!({"status": "succeeded"}));
        assert_eq!(
            updated_types(
                Stream::PaymentIntent,
                &obj(json!({"status": "processing"})),
                &pi
            ),
            ["payment_intent.succeeded"]
        );
        assert!(updated_types(Stream::Invoiceitem, &before, &before).is_empty());
        assert_eq!(
            created_types(Stream::Charge, &obj(json!({"status": "failed"}))),
            ["charge.failed"]
        );
        assert_eq!(
            created_types(Stream::Subscription, &after),
            ["customer.subscription.created"]
        );
        assert!(created_types(Stream::CheckoutSession, &after).is_empty());
        assert_eq!(
            updated_types(
                Stream::Dispute,
                &obj(json!({"status": "under_review"})),
                &obj(json!({"status": "won"}))
            ),
            ["charge.dispute.updated", "charge.dispute.closed"]
        );
    }

    #[test]
    fn previous_attributes_hold_old_values_of_changed_keys() {
        let before = obj(json!({"a": 1, "b": {"x": 1}, "c": "same"}));
        let after = obj(json!({"a": 2, "b": {"x": 2}, "c": "same", "d": true}));
        assert_eq!(
            Value::Object(previous_attributes(&before, &after)),
            json!({"a": 1, "b": {"x": 1}, "d": null})
        );
    }

    #[test]
    fn type_filters_take_wildcards_and_lists() {
        assert!(type_matches(
            "customer.subscription.updated",
            Some("customer.*"),
            &[]
        ));
        assert!(!type_matches("charge.succeeded", Some("customer.*"), &[]));
        assert!(type_matches(
            "charge.succeeded",
            None,
            &["invoice.paid".into(), "charge.succeeded".into()]
        ));
        assert!(!type_matches(
            "charge.failed",
            None,
            &["charge.succeeded".into()]
        ));
    }
}
