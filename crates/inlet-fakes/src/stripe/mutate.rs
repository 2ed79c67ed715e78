//! Creating and updating objects with Stripe's side effects: the events it sends, balance
//! transactions for money movements, a refund updating its charge, a subscription's items
//! announced through the subscription.

use serde_json::{Map, Value};

use super::errors::FakeError;
use super::events::{self, Ctx};
use super::form::typed;
use super::objects::{self, Facts};
use super::render::{self, customer_salt, id_salt, price_label};
use super::store::{Body, Link, Store, NONE};
use super::stream::Stream;

/// Fields that reference another object, and the stream they point into.
const REFERENCES: &[(&str, Stream)] = &[
    ("customer", Stream::Customer),
    ("subscription", Stream::Subscription),
    ("invoice", Stream::Invoice),
    ("charge", Stream::Charge),
    ("payment_intent", Stream::PaymentIntent),
    ("payment_method", Stream::PaymentMethod),
    ("default_payment_method", Stream::PaymentMethod),
    ("latest_invoice", Stream::Invoice),
    ("price", Stream::Price),
    ("product", Stream::Product),
];

/// References a new object of `stream` cannot do without.
fn required(stream: Stream) -> &'static [&'static str] {
    match stream {
        Stream::Subscription | Stream::Invoice | Stream::Invoiceitem => &["customer"],
        Stream::SubscriptionItem => &["subscription", "price"],
        Stream::InvoiceLineItem | Stream::CreditNote => &["invoice"],
        Stream::Refund | Stream::Dispute => &["charge"],
        Stream::Price => &["product"],
        _ => &[],
    }
}

/// Keys rendered from child tables; they cannot be set directly.
pub(crate) fn computed(stream: Stream) -> &'static [&'static str] {
    match stream {
        Stream::Subscription => &["items"],
        Stream::Invoice => &["lines"],
        Stream::Charge => &["refunds"],
        Stream::SubscriptionItem => &["plan"],
        _ => &[],
    }
}

fn str_field<'a>(fields: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    fields
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn int_field(fields: &Map<String, Value>, key: &str) -> Option<i64> {
    match fields.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn check_references(
    store: &Store,
    stream: Stream,
    fields: &Map<String, Value>,
) -> Result<(), FakeError> {
    for &(field, target) in REFERENCES {
        if let Some(id) = str_field(fields, field) {
            if store.table(target).live(id).is_none() {
                return Err(FakeError::invalid_param(
                    field,
                    format!("No such {}: '{id}'", target.object()),
                ));
            }
        }
    }
    for &field in required(stream) {
        if str_field(fields, field).is_none() {
            return Err(FakeError::invalid_param(
                field,
                format!("Missing required param: {field}."),
            ));
        }
    }
    Ok(())
}

/// The slot a child's parent field points at (see [`Stream::parent`]).
fn parent_slot(store: &Store, stream: Stream, doc: &Map<String, Value>) -> Link {
    stream
        .parent()
        .and_then(|(parent, field)| {
            doc.get(field)
                .and_then(Value::as_str)
                .and_then(|id| store.table(parent).live(id))
        })
        .unwrap_or(NONE)
}

/// Renders the parent a child's change is announced through (subscription, invoice).
fn announcing_parent(
    store: &Store,
    stream: Stream,
    slot: u32,
) -> Option<(Stream, u32, Map<String, Value>)> {
    let parent = match stream {
        Stream::SubscriptionItem => Stream::Subscription,
        Stream::InvoiceLineItem => Stream::Invoice,
        _ => return None,
    };
    let link = store.table(stream).slot(slot).parent;
    (link != NONE).then(|| (parent, link, render::render(store, parent, link)))
}

fn announce_parent(
    store: &mut Store,
    ctx: &Ctx,
    before: Option<(Stream, u32, Map<String, Value>)>,
) {
    if let Some((parent, slot, before)) = before {
        let after = render::render(store, parent, slot);
        if before != after {
            let previous = events::previous_attributes(&before, &after);
            if let Some(prefix) = parent.event_prefix() {
                events::emit(
                    store,
                    ctx,
                    &format!("{prefix}.updated"),
                    after,
                    Some(previous),
                );
            }
        }
    }
}

/// Creates a full object of `stream` from `fields`, with the events Stripe would send.
pub(crate) fn create(
    store: &mut Store,
    ctx: &Ctx,
    stream: Stream,
    fields: Map<String, Value>,
) -> Result<Map<String, Value>, FakeError> {
    check_references(store, stream, &fields)?;
    let id = match str_field(&fields, "id") {
        Some(id) if store.table(stream).get(id).is_some() => {
            return Err(FakeError::invalid_param(
                "id",
                format!("{} already exists: '{id}'", stream.object()),
            ))
        }
        Some(id) => id.into(),
        None => store.new_id(stream),
    };
    let created = int_field(&fields, "created").unwrap_or(ctx.now);
    let doc = generate(store, ctx, stream, &id, created, &fields)?;
    let parent = parent_slot(store, stream, &doc);
    let key = store.next_key(created);
    let announce = matches!(stream, Stream::SubscriptionItem | Stream::InvoiceLineItem);
    let parent_before = if announce && parent != NONE {
        let p = if stream == Stream::SubscriptionItem {
            Stream::Subscription
        } else {
            Stream::Invoice
        };
        Some((p, parent, render::render(store, p, parent)))
    } else {
        None
    };
    let slot = store
        .table_mut(stream)
        .push(id, key, parent, Body::Full(Box::new(doc)), true);
    if stream == Stream::Subscription {
        create_items(store, ctx, slot, created, fields.get("items"))?;
    }
    announce_parent(store, ctx, parent_before);
    let object = render::render(store, stream, slot);
    for kind in events::created_types(stream, &object) {
        events::emit(store, ctx, &kind, object.clone(), None);
    }
    if stream == Stream::Refund {
        refund_charge(store, ctx, &object)?;
    }
    Ok(object)
}

/// Builds the stored fields of a new object: the generator's defaults, then the caller's.
fn generate(
    store: &mut Store,
    ctx: &Ctx,
    stream: Stream,
    id: &str,
    created: i64,
    fields: &Map<String, Value>,
) -> Result<Map<String, Value>, FakeError> {
    let lookup = |stream: Stream, field: &str| {
        str_field(fields, field).and_then(|id| store.table(stream).live(id))
    };
    let charge =
        lookup(Stream::Charge, "charge").map(|slot| render::base(store, Stream::Charge, slot));
    let invoice =
        lookup(Stream::Invoice, "invoice").map(|slot| render::base(store, Stream::Invoice, slot));
    let from = |doc: &Option<Map<String, Value>>, key: &str| {
        doc.as_ref()
            .and_then(|d| d.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let customer = str_field(fields, "customer")
        .map(str::to_string)
        .or_else(|| from(&charge, "customer"))
        .or_else(|| from(&invoice, "customer"));
    let payment_intent = str_field(fields, "payment_intent")
        .map(str::to_string)
        .or_else(|| from(&charge, "payment_intent"));
    let price = str_field(fields, "price");
    let (price_product, label) = price.map_or((None, None), |p| price_label(store, p));
    let price_amount = price
        .and_then(|p| store.table(Stream::Price).live(p))
        .and_then(|slot| {
            render::base(store, Stream::Price, slot)
                .get("unit_amount")
                .and_then(Value::as_i64)
        });
    let charge_amount = charge.as_ref().map(|c| {
        let amount = c.get("amount").and_then(Value::as_i64).unwrap_or(0);
        amount
            - c.get("amount_refunded")
                .and_then(Value::as_i64)
                .unwrap_or(0)
    });
    let amount = int_field(fields, "amount")
        .or_else(|| int_field(fields, "unit_amount"))
        .or(price_amount)
        .or(charge_amount)
        .or_else(|| {
            invoice
                .as_ref()
                .and_then(|i| i.get("total"))
                .and_then(Value::as_i64)
                .map(|t| (t / 2).max(100))
        })
        .unwrap_or(match stream {
            Stream::Price | Stream::Plan => 2000,
            Stream::Subscription | Stream::Invoice => 0,
            _ => 5000,
        });
    let customer_slot = customer
        .as_deref()
        .and_then(|c| store.table(Stream::Customer).get(c))
        .unwrap_or(NONE);
    let facts = Facts {
        id,
        created,
        now: ctx.now.max(created),
        salt: id_salt(id),
        customer_salt: customer_salt(store, customer_slot),
        status: str_field(fields, "status").unwrap_or(objects::default_status(stream)),
        amount,
        quantity: int_field(fields, "quantity").unwrap_or(1),
        refunded: 0,
        customer: customer.as_deref(),
        subscription: str_field(fields, "subscription"),
        invoice: str_field(fields, "invoice"),
        charge: str_field(fields, "charge"),
        payment_intent: payment_intent.as_deref(),
        payment_method: str_field(fields, "payment_method")
            .or_else(|| str_field(fields, "default_payment_method")),
        price,
        product: str_field(fields, "product").or(price_product),
        txn: None,
        aux: None,
        label,
    };
    let mut doc = objects::build(stream, &facts);
    let skip = computed(stream);
    for (key, value) in fields {
        // Create parameters that are not fields of the object (a line's `price`, a
        // subscription's `items`) shape it through the facts above, not as fields.
        if key == "id" || key == "object" || skip.contains(&key.as_str()) || !doc.contains_key(key)
        {
            continue;
        }
        let value = typed(key, doc.get(key), value.clone());
        doc.insert(key.clone(), value);
    }
    let moves_money = match stream {
        Stream::Charge => doc.get("status").and_then(Value::as_str) == Some("succeeded"),
        Stream::Refund | Stream::Payout => true,
        _ => false,
    };
    if moves_money && doc.get("balance_transaction").is_none_or(Value::is_null) {
        let txn = balance_transaction(store, ctx, stream, id, created, &doc);
        doc.insert("balance_transaction".into(), Value::from(txn));
    }
    Ok(doc)
}

/// The balance transaction a charge, refund or payout makes (Stripe sends no event for it).
fn balance_transaction(
    store: &mut Store,
    ctx: &Ctx,
    source: Stream,
    source_id: &str,
    created: i64,
    doc: &Map<String, Value>,
) -> String {
    let amount = doc.get("amount").and_then(Value::as_i64).unwrap_or(0);
    let (kind, amount) = match source {
        Stream::Refund => ("refund", -amount),
        Stream::Payout => ("payout", -amount),
        _ => ("charge", amount),
    };
    let id = store.new_id(Stream::BalanceTransaction);
    let facts = Facts {
        id: &id,
        created,
        now: ctx.now,
        status: kind,
        amount,
        charge: Some(source_id),
        ..Facts::default()
    };
    let txn = objects::build(Stream::BalanceTransaction, &facts);
    let key = store.next_key(created);
    store.table_mut(Stream::BalanceTransaction).push(
        id.clone(),
        key,
        NONE,
        Body::Full(Box::new(txn)),
        true,
    );
    id.to_string()
}

/// A new subscription's items: the given `items[]`, else one of the first recurring price.
fn create_items(
    store: &mut Store,
    ctx: &Ctx,
    subscription: u32,
    created: i64,
    items: Option<&Value>,
) -> Result<(), FakeError> {
    let sub_id = store
        .table(Stream::Subscription)
        .slot(subscription)
        .id
        .to_string();
    let mut wanted: Vec<(String, i64)> = Vec::new();
    match items {
        Some(Value::Array(items)) => {
            for item in items {
                let price = item
                    .get("price")
                    .and_then(Value::as_str)
                    .ok_or_else(|| FakeError::invalid_param("items", "Each item needs a price."))?;
                let quantity = item
                    .get("quantity")
                    .and_then(|q| {
                        q.as_i64()
                            .or_else(|| q.as_str().and_then(|s| s.parse().ok()))
                    })
                    .unwrap_or(1);
                wanted.push((price.to_string(), quantity));
            }
        }
        Some(_) => {
            return Err(FakeError::invalid_param(
                "items",
                "items must be a list of {price, quantity}.",
            ))
        }
        None => {
            let prices = store.table(Stream::Price);
            let recurring = prices.order.values().rev().find(|&&slot| {
                matches!(&prices.slot(slot).body, Body::Full(doc) if doc.get("type").and_then(Value::as_str) == Some("recurring"))
            });
            if let Some(&slot) = recurring {
                wanted.push((prices.slot(slot).id.to_string(), 1));
            }
        }
    }
    for (price, quantity) in wanted {
        let mut fields = Map::new();
        fields.insert("subscription".into(), Value::from(sub_id.clone()));
        fields.insert("price".into(), Value::from(price));
        fields.insert("quantity".into(), Value::from(quantity));
        fields.insert("created".into(), Value::from(created));
        check_references(store, Stream::SubscriptionItem, &fields)?;
        let id = store.new_id(Stream::SubscriptionItem);
        let doc = generate(store, ctx, Stream::SubscriptionItem, &id, created, &fields)?;
        let key = store.next_key(created);
        store.table_mut(Stream::SubscriptionItem).push(
            id,
            key,
            subscription,
            Body::Full(Box::new(doc)),
            true,
        );
    }
    Ok(())
}

/// A refund raises its charge's `amount_refunded` (`charge.refunded`, `charge.updated`).
fn refund_charge(
    store: &mut Store,
    ctx: &Ctx,
    refund: &Map<String, Value>,
) -> Result<(), FakeError> {
    let Some(charge_id) = refund.get("charge").and_then(Value::as_str) else {
        return Ok(());
    };
    let Some(slot) = store.table(Stream::Charge).live(charge_id) else {
        return Ok(());
    };
    let doc = render::base(store, Stream::Charge, slot);
    let amount = doc.get("amount").and_then(Value::as_i64).unwrap_or(0);
    let refunded = doc
        .get("amount_refunded")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        + refund.get("amount").and_then(Value::as_i64).unwrap_or(0);
    let mut fields = Map::new();
    fields.insert("amount_refunded".into(), Value::from(refunded.min(amount)));
    fields.insert("refunded".into(), Value::Bool(refunded >= amount));
    update(store, ctx, Stream::Charge, charge_id, fields, false).map(|_| ())
}

/// Changes top-level fields of an object (`metadata` key by key when `merge_metadata`, as
/// Stripe's POST does) and sends the events Stripe would.
pub(crate) fn update(
    store: &mut Store,
    ctx: &Ctx,
    stream: Stream,
    id: &str,
    fields: Map<String, Value>,
    merge_metadata: bool,
) -> Result<Map<String, Value>, FakeError> {
    let slot = store
        .table(stream)
        .live(id)
        .ok_or_else(|| FakeError::not_found(stream, id))?;
    if let Some(key) = computed(stream).iter().find(|k| fields.contains_key(**k)) {
        return Err(FakeError::invalid_param(
            key,
            format!("`{key}` is rendered from its own stream; change those objects instead"),
        ));
    }
    let mut refs = fields.clone();
    refs.retain(|k, _| REFERENCES.iter().any(|(f, _)| f == k));
    check_references(store, Stream::Customer, &refs)?;
    let before = render::render(store, stream, slot);
    let parent_before = announcing_parent(store, stream, slot);
    let mut doc = render::base(store, stream, slot);
    for (key, value) in fields {
        if key == "id" || key == "object" {
            continue;
        }
        if key == "metadata" && merge_metadata {
            let mut merged = doc
                .get("metadata")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            match value {
                Value::Object(changes) => {
                    for (k, v) in changes {
                        match v {
                            Value::String(s) if s.is_empty() => {
                                merged.remove(&k);
                            }
                            Value::Null => {
                                merged.remove(&k);
                            }
                            v => {
                                merged.insert(k, v);
                            }
                        }
                    }
                }
                _ => merged.clear(),
            }
            doc.insert(key, Value::Object(merged));
            continue;
        }
        let value = typed(&key, doc.get(&key), value);
        doc.insert(key, value);
    }
    let parent = parent_slot(store, stream, &doc);
    store.table_mut(stream).slots[slot as usize].body = Body::Full(Box::new(doc));
    if stream.parent().is_some() {
        store.table_mut(stream).set_parent(slot, parent);
    }
    let after = render::render(store, stream, slot);
    if before == after {
        return Ok(after);
    }
    announce_parent(store, ctx, parent_before);
    let previous = events::previous_attributes(&before, &after);
    for kind in events::updated_types(stream, &before, &after) {
        let prev = kind.ends_with(".updated").then(|| previous.clone());
        events::emit(store, ctx, &kind, after.clone(), prev);
    }
    Ok(after)
}
