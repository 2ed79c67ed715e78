//! Stripe's deletion semantics, which differ per resource:
//!
//! * customer, product, plan, price, coupon, invoiceitem, draft invoice: gone from lists,
//!   a `{id, object, deleted: true}` stub, and `<type>.deleted` carrying the full object as
//!   it was. Deleting a customer first cancels its subscriptions and detaches its payment
//!   methods (with their events).
//! * subscription: a cancel; it stays listable with `status=all`; `customer.subscription.deleted`.
//! * subscription item, line of a draft invoice: gone; announced by the parent's `*.updated`.
//! * payment method: a detach (`payment_method.detached`); it leaves the customer's list.
//! * everything else (charges, payment intents, payouts, ...) cannot be deleted.

use serde_json::{json, Map, Value};

use super::errors::FakeError;
use super::events::{self, Ctx};
use super::mutate;
use super::render::{self, deleted_stub};
use super::store::{Body, Store};
use super::stream::Stream;

pub(crate) fn delete(
    store: &mut Store,
    ctx: &Ctx,
    stream: Stream,
    id: &str,
) -> Result<Map<String, Value>, FakeError> {
    let slot = store
        .table(stream)
        .live(id)
        .ok_or_else(|| FakeError::not_found(stream, id))?;
    match stream {
        Stream::Subscription => cancel_subscription(store, ctx, id),
        Stream::PaymentMethod => detach(store, ctx, id),
        Stream::Customer => {
            let subscriptions: Vec<String> = store
                .table(Stream::Subscription)
                .children_of(slot)
                .iter()
                .filter(|&&(_, s)| {
                    let doc = render::base(store, Stream::Subscription, s);
                    !matches!(
                        doc.get("status").and_then(Value::as_str),
                        Some("canceled" | "incomplete_expired")
                    )
                })
                .map(|&(_, s)| store.table(Stream::Subscription).slot(s).id.to_string())
                .collect();
            for sub in subscriptions {
                cancel_subscription(store, ctx, &sub)?;
            }
            let methods: Vec<String> = store
                .table(Stream::PaymentMethod)
                .children_of(slot)
                .iter()
                .map(|&(_, s)| store.table(Stream::PaymentMethod).slot(s).id.to_string())
                .collect();
            for pm in methods {
                detach(store, ctx, &pm)?;
            }
            remove(store, ctx, stream, slot)
        }
        Stream::Product => {
            let prices = store.table(Stream::Price);
            let has_prices = prices.order.values().any(|&p| {
                matches!(&prices.slot(p).body, Body::Full(doc) if doc.get("product").and_then(Value::as_str) == Some(id))
            });
            if has_prices {
                return Err(FakeError::invalid("This product cannot be deleted because it has one or more user-created prices."));
            }
            remove(store, ctx, stream, slot)
        }
        Stream::Invoice => {
            require_draft(store, slot, "You can only delete draft invoices.")?;
            let lines: Vec<u32> = store
                .table(Stream::InvoiceLineItem)
                .children_of(slot)
                .iter()
                .map(|&(_, l)| l)
                .collect();
            for line in lines {
                store.table_mut(Stream::InvoiceLineItem).remove(line);
            }
            remove(store, ctx, stream, slot)
        }
        Stream::Invoiceitem => {
            let doc = render::base(store, stream, slot);
            if let Some(invoice) = doc
                .get("invoice")
                .and_then(Value::as_str)
                .and_then(|i| store.table(Stream::Invoice).live(i))
            {
                require_draft(
                    store,
                    invoice,
                    "Invoice items on a finalized invoice cannot be deleted.",
                )?;
            }
            remove(store, ctx, stream, slot)
        }
        Stream::Plan | Stream::Price | Stream::Coupon => remove(store, ctx, stream, slot),
        Stream::SubscriptionItem | Stream::InvoiceLineItem => {
            let parent = store.table(stream).slot(slot).parent;
            if stream == Stream::InvoiceLineItem {
                require_draft(
                    store,
                    parent,
                    "Lines can only be removed from draft invoices.",
                )?;
            }
            let parent_stream = if stream == Stream::SubscriptionItem {
                Stream::Subscription
            } else {
                Stream::Invoice
            };
            let before = render::render(store, parent_stream, parent);
            store.table_mut(stream).remove(slot);
            let after = render::render(store, parent_stream, parent);
            let previous = events::previous_attributes(&before, &after);
            if let Some(prefix) = parent_stream.event_prefix() {
                events::emit(
                    store,
                    ctx,
                    &format!("{prefix}.updated"),
                    after,
                    Some(previous),
                );
            }
            Ok(deleted_stub(stream, id))
        }
        other => Err(FakeError::invalid(format!(
            "{} objects cannot be deleted in Stripe; change their status instead",
            other.object()
        ))),
    }
}

fn require_draft(store: &Store, invoice: u32, message: &str) -> Result<(), FakeError> {
    let doc = render::base(store, Stream::Invoice, invoice);
    if doc.get("status").and_then(Value::as_str) == Some("draft") {
        Ok(())
    } else {
        Err(FakeError::invalid(message))
    }
}

/// Takes the object out of every list; `<type>.deleted` carries it as it was.
fn remove(
    store: &mut Store,
    ctx: &Ctx,
    stream: Stream,
    slot: u32,
) -> Result<Map<String, Value>, FakeError> {
    let object = render::render(store, stream, slot);
    let id = store.table(stream).slot(slot).id.clone();
    store.table_mut(stream).remove(slot);
    if let Some(prefix) = stream.event_prefix() {
        events::emit(store, ctx, &format!("{prefix}.deleted"), object, None);
    }
    Ok(deleted_stub(stream, &id))
}

/// `DELETE /v1/subscriptions/{id}`: status `canceled`, still listable with `status=all`.
pub(crate) fn cancel_subscription(
    store: &mut Store,
    ctx: &Ctx,
    id: &str,
) -> Result<Map<String, Value>, FakeError> {
    let slot = store
        .table(Stream::Subscription)
        .live(id)
        .ok_or_else(|| FakeError::not_found(Stream::Subscription, id))?;
    let mut doc = render::base(store, Stream::Subscription, slot);
    if doc.get("status").and_then(Value::as_str) == Some("canceled") {
        return Err(FakeError::invalid(format!(
            "This subscription has already been canceled: '{id}'"
        )));
    }
    doc.insert("status".into(), Value::from("canceled"));
    doc.insert("canceled_at".into(), Value::from(ctx.now));
    doc.insert("ended_at".into(), Value::from(ctx.now));
    doc.insert("cancel_at_period_end".into(), Value::Bool(false));
    doc.insert(
        "cancellation_details".into(),
        json!({"comment": null, "feedback": null, "reason": "cancellation_requested"}),
    );
    store.table_mut(Stream::Subscription).slots[slot as usize].body = Body::Full(Box::new(doc));
    let object = render::render(store, Stream::Subscription, slot);
    events::emit(
        store,
        ctx,
        "customer.subscription.deleted",
        object.clone(),
        None,
    );
    Ok(object)
}

/// `POST /v1/payment_methods/{id}/detach`.
pub(crate) fn detach(
    store: &mut Store,
    ctx: &Ctx,
    id: &str,
) -> Result<Map<String, Value>, FakeError> {
    set_customer(store, ctx, id, None)
}

/// `POST /v1/payment_methods/{id}/attach`.
pub(crate) fn attach(
    store: &mut Store,
    ctx: &Ctx,
    id: &str,
    customer: &str,
) -> Result<Map<String, Value>, FakeError> {
    if store.table(Stream::Customer).live(customer).is_none() {
        return Err(FakeError::invalid_param(
            "customer",
            format!("No such customer: '{customer}'"),
        ));
    }
    set_customer(store, ctx, id, Some(customer))
}

fn set_customer(
    store: &mut Store,
    ctx: &Ctx,
    id: &str,
    customer: Option<&str>,
) -> Result<Map<String, Value>, FakeError> {
    let slot = store
        .table(Stream::PaymentMethod)
        .live(id)
        .ok_or_else(|| FakeError::not_found(Stream::PaymentMethod, id))?;
    let before = render::render(store, Stream::PaymentMethod, slot);
    let current = before.get("customer").and_then(Value::as_str);
    if current.is_none() && customer.is_none() {
        return Err(FakeError::invalid(format!(
            "The payment method you provided is not attached to a customer: '{id}'"
        )));
    }
    let mut doc = render::base(store, Stream::PaymentMethod, slot);
    doc.insert("customer".into(), customer.map_or(Value::Null, Value::from));
    let parent = customer
        .and_then(|c| store.table(Stream::Customer).live(c))
        .unwrap_or(super::store::NONE);
    store.table_mut(Stream::PaymentMethod).slots[slot as usize].body = Body::Full(Box::new(doc));
    store
        .table_mut(Stream::PaymentMethod)
        .set_parent(slot, parent);
    let after = render::render(store, Stream::PaymentMethod, slot);
    let kind = if customer.is_some() {
        "payment_method.attached"
    } else {
        "payment_method.detached"
    };
    let previous = events::previous_attributes(&before, &after);
    events::emit(store, ctx, kind, after.clone(), Some(previous));
    Ok(after)
}

/// Status changes with their own endpoints (`/finalize`, `/pay`, `/void`, `/expire`, ...).
pub(crate) fn transition(
    store: &mut Store,
    ctx: &Ctx,
    stream: Stream,
    id: &str,
    status: &str,
) -> Result<Map<String, Value>, FakeError> {
    let mut fields = Map::new();
    fields.insert("status".into(), Value::from(status));
    if stream == Stream::Invoice {
        let slot = store
            .table(stream)
            .live(id)
            .ok_or_else(|| FakeError::not_found(stream, id))?;
        let doc = render::base(store, stream, slot);
        let total = doc.get("total").cloned().unwrap_or(Value::from(0));
        let mut transitions = doc
            .get("status_transitions")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let stamp = match status {
            "open" => "finalized_at",
            "paid" => "paid_at",
            "void" => "voided_at",
            _ => "marked_uncollectible_at",
        };
        transitions.insert(stamp.into(), Value::from(ctx.now));
        fields.insert("status_transitions".into(), Value::Object(transitions));
        if status == "paid" {
            fields.insert("amount_paid".into(), total);
            fields.insert("amount_remaining".into(), Value::from(0));
        }
    }
    mutate::update(store, ctx, stream, id, fields, false)
}
