//! Turns stored objects into the JSON a retrieve returns: seeded objects through their
//! generator, nested lists (`subscription.items`, `invoice.lines`, `charge.refunds`) from
//! the child tables, and `expand[]` paths resolved against the store.

use serde_json::{json, Map, Value};

use super::objects::{self, Facts};
use super::store::{Body, Link, Seeded, Slot, Store, NONE};
use super::stream::Stream;

/// How many children a parent carries inline; the rest is paged through the nested `url`.
pub(crate) const NESTED_LIMIT: usize = 10;

/// The object in `slot` of `stream`, as `GET /v1/<collection>/{id}` returns it.
pub(crate) fn render(store: &Store, stream: Stream, slot: u32) -> Map<String, Value> {
    let mut map = base(store, stream, slot);
    decorate(store, stream, slot, &mut map);
    map
}

/// The object's own fields, without what is rendered from other tables (nested lists, a
/// subscription item's price object): what an update starts from and stores.
pub(crate) fn base(store: &Store, stream: Stream, slot: u32) -> Map<String, Value> {
    let s = store.table(stream).slot(slot);
    match &s.body {
        Body::Full(map) => (**map).clone(),
        Body::Seeded(spec) => objects::build(stream, &facts_of(store, stream, s, spec)),
    }
}

fn link(store: &Store, stream: Stream, link: Link) -> Option<&str> {
    if link == NONE {
        None
    } else {
        store.table(stream).id(link)
    }
}

/// A customer's salt, from its id: the same before and after the customer is updated (its
/// body then stops being seeded), so objects rendered from it never change silently.
pub(crate) fn customer_salt(store: &Store, customer: Link) -> u64 {
    if customer == NONE {
        return 0;
    }
    match store.table(Stream::Customer).slots.get(customer as usize) {
        Some(slot) => id_salt(&slot.id),
        None => 0,
    }
}

/// A stable salt from an id (FNV-1a), for objects that were not seeded.
pub(crate) fn id_salt(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn facts_of<'a>(store: &'a Store, stream: Stream, slot: &'a Slot, spec: &'a Seeded) -> Facts<'a> {
    let price = link(store, Stream::Price, spec.price);
    let (product, label) = price.map_or((None, None), |p| price_label(store, p));
    let aux_stream = match stream {
        Stream::InvoiceLineItem if spec.subscription != NONE => Some(Stream::SubscriptionItem),
        Stream::InvoiceLineItem => Some(Stream::Invoiceitem),
        Stream::Charge => Some(Stream::Dispute),
        Stream::CreditNote => Some(Stream::InvoiceLineItem),
        Stream::BalanceTransaction if spec.status == "refund" => Some(Stream::Refund),
        Stream::BalanceTransaction if spec.status == "payout" => Some(Stream::Payout),
        _ => None,
    };
    Facts {
        id: &slot.id,
        created: slot.key.created,
        now: store.history_end.max(slot.key.created),
        salt: spec.salt,
        customer_salt: customer_salt(store, spec.customer),
        status: spec.status,
        amount: spec.amount,
        quantity: if stream == Stream::Charge {
            1
        } else {
            i64::from(spec.quantity)
        },
        refunded: if stream == Stream::Charge {
            i64::from(spec.quantity)
        } else {
            0
        },
        customer: link(store, Stream::Customer, spec.customer),
        subscription: link(store, Stream::Subscription, spec.subscription),
        invoice: link(store, Stream::Invoice, spec.invoice),
        charge: link(store, Stream::Charge, spec.charge),
        payment_intent: link(store, Stream::PaymentIntent, spec.payment_intent),
        payment_method: link(store, Stream::PaymentMethod, spec.payment_method),
        price,
        product,
        txn: link(store, Stream::BalanceTransaction, spec.txn),
        aux: aux_stream.and_then(|s| link(store, s, spec.aux)),
        label,
    }
}

/// The product a price belongs to and a line description such as "Pro (at $20.00 / month)".
pub(crate) fn price_label<'a>(store: &'a Store, price: &str) -> (Option<&'a str>, Option<String>) {
    let table = store.table(Stream::Price);
    let Some(Body::Full(doc)) = table.get(price).map(|s| &table.slot(s).body) else {
        return (None, None);
    };
    let product = doc.get("product").and_then(Value::as_str);
    let products = store.table(Stream::Product);
    let name = product
        .and_then(|p| products.get(p))
        .and_then(|s| match &products.slot(s).body {
            Body::Full(doc) => doc.get("name").and_then(Value::as_str),
            Body::Seeded(_) => None,
        })
        .unwrap_or("Service");
    let amount = doc.get("unit_amount").and_then(Value::as_i64).unwrap_or(0);
    let interval = doc
        .get("recurring")
        .and_then(|r| r.get("interval"))
        .and_then(Value::as_str);
    let label = match interval {
        Some(interval) => format!("{name} (at {} / {interval})", objects::money(amount)),
        None => name.to_string(),
    };
    (product, Some(label))
}

/// A nested list of `parent`'s children in `child`, the first [`NESTED_LIMIT`] inline.
pub(crate) fn nested_list(store: &Store, child: Stream, parent: u32, url: String) -> Value {
    let children = store.table(child).children_of(parent);
    let data: Vec<Value> = children
        .iter()
        .take(NESTED_LIMIT)
        .map(|&(_, slot)| Value::Object(render(store, child, slot)))
        .collect();
    json!({"object": "list", "data": data, "has_more": children.len() > NESTED_LIMIT, "url": url})
}

fn decorate(store: &Store, stream: Stream, slot: u32, map: &mut Map<String, Value>) {
    let id = &store.table(stream).slot(slot).id;
    match stream {
        Stream::Subscription => {
            let url = format!("/v1/subscription_items?subscription={id}");
            map.insert(
                "items".into(),
                nested_list(store, Stream::SubscriptionItem, slot, url),
            );
        }
        Stream::Invoice => {
            let url = format!("/v1/invoices/{id}/lines");
            map.insert(
                "lines".into(),
                nested_list(store, Stream::InvoiceLineItem, slot, url),
            );
        }
        Stream::Charge => {
            let url = format!("/v1/charges/{id}/refunds");
            map.insert(
                "refunds".into(),
                nested_list(store, Stream::Refund, slot, url),
            );
        }
        Stream::SubscriptionItem => {
            let price = map
                .get("price")
                .and_then(Value::as_str)
                .and_then(|p| store.table(Stream::Price).get(p));
            if let Some(price) = price {
                let price = render(store, Stream::Price, price);
                map.insert("plan".into(), objects::plan_of_price(&price));
                map.insert("price".into(), Value::Object(price));
            }
        }
        _ => {}
    }
}

/// Why an `expand[]` path cannot be followed.
#[derive(Debug)]
pub(crate) struct BadExpand(pub String);

/// Fields of a customer that are only present when expanded.
const CUSTOMER_INCLUDABLE: &[&str] = &[
    "sources",
    "subscriptions",
    "tax_ids",
    "tax",
    "cash_balance",
    "invoice_credit_balance",
];

/// Expands one dotted path (`customer`, `data.customer`, `latest_invoice.customer`) in place.
pub(crate) fn expand(
    store: &Store,
    map: &mut Map<String, Value>,
    path: &[&str],
) -> Result<(), BadExpand> {
    let Some((&field, rest)) = path.split_first() else {
        return Ok(());
    };
    if field == "data" && map.get("object").and_then(Value::as_str) == Some("list") {
        if let Some(Value::Array(items)) = map.get_mut("data") {
            for item in items {
                if let Value::Object(item) = item {
                    expand(store, item, rest)?;
                }
            }
        }
        return Ok(());
    }
    if map.get("object").and_then(Value::as_str) == Some("customer")
        && CUSTOMER_INCLUDABLE.contains(&field)
    {
        let id = map
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        map.insert(field.to_string(), customer_includable(store, &id, field));
    }
    let value = map
        .get_mut(field)
        .ok_or_else(|| BadExpand(field.to_string()))?;
    if let Value::String(id) = value {
        let target = store.find(id).ok_or_else(|| BadExpand(field.to_string()))?;
        *value = Value::Object(render_reference(store, target.0, target.1));
    }
    match value {
        Value::Object(inner) => expand(store, inner, rest),
        Value::Null => Ok(()),
        _ if rest.is_empty() => Ok(()),
        _ => Err(BadExpand(field.to_string())),
    }
}

/// A referenced object: rendered when it exists, a deleted stub when it was deleted.
pub(crate) fn render_reference(store: &Store, stream: Stream, slot: u32) -> Map<String, Value> {
    let s = store.table(stream).slot(slot);
    if s.live {
        render(store, stream, slot)
    } else {
        deleted_stub(stream, &s.id)
    }
}

pub(crate) fn deleted_stub(stream: Stream, id: &str) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("id".into(), Value::from(id));
    map.insert("object".into(), Value::from(stream.object()));
    map.insert("deleted".into(), Value::Bool(true));
    map
}

fn customer_includable(store: &Store, id: &str, field: &str) -> Value {
    let empty = |path: &str| json!({"object": "list", "data": [], "has_more": false, "url": format!("/v1/customers/{id}/{path}")});
    match field {
        "subscriptions" => match store.table(Stream::Customer).get(id) {
            Some(slot) => {
                let url = format!("/v1/customers/{id}/subscriptions");
                let mut list = nested_list(store, Stream::Subscription, slot, url);
                // The customer's list, like `/v1/subscriptions`, leaves out canceled ones.
                if let Some(Value::Array(data)) = list.get_mut("data") {
                    data.retain(|s| s.get("status").and_then(Value::as_str) != Some("canceled"));
                }
                list
            }
            None => empty("subscriptions"),
        },
        "sources" => empty("sources"),
        "tax_ids" => empty("tax_ids"),
        "tax" => {
            json!({"automatic_tax": "unrecognized_location", "ip_address": null, "location": null, "provider": "stripe"})
        }
        "invoice_credit_balance" => json!({}),
        _ => Value::Null,
    }
}
