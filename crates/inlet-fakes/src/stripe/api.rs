//! The `/v1` routes: list, retrieve, create, update, delete for each collection, the
//! nested lists (`/v1/invoices/{id}/lines`, `/v1/customers/{id}/payment_methods`, ...),
//! status endpoints (`/finalize`, `/detach`, ...) and the events API.

use serde_json::{json, Map, Value};

use super::auth::Access;
use super::deletes;
use super::errors::ApiError;
use super::list::{self, Cursor, Index, ListParams};
use super::mutate;
use super::render::{self, deleted_stub};
use super::store::Store;
use super::stream::Stream;
use super::Shared;

/// One decoded `/v1` request.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Map<String, Value>,
    pub body: Map<String, Value>,
    pub access: Access,
    pub request_id: &'a str,
    pub idempotency_key: Option<String>,
}

/// The path's segments after `/v1/`: a collection (`checkout/sessions` is one), then an id
/// and what under it, as the routes read them.
fn segments(path: &str) -> Option<Vec<&str>> {
    let rest = path.strip_prefix("/v1/")?;
    let mut segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    if segments.len() >= 2 && segments[0] == "checkout" && segments[1] == "sessions" {
        segments.splice(0..2, ["checkout/sessions"]);
    }
    Some(segments)
}

/// The endpoint a request counts against in Stripe's per-endpoint limit: each named
/// operation is one, whatever the id (`GET /v1/customers/{id}/payment_methods`).
pub(crate) fn endpoint(method: &str, path: &str) -> String {
    let mut named = format!("{method} /v1");
    for (i, segment) in segments(path).unwrap_or_default().iter().enumerate() {
        named.push('/');
        named.push_str(if i == 1 { "{id}" } else { segment });
    }
    named
}

pub(crate) fn handle(shared: &Shared, call: Call<'_>) -> Result<Value, ApiError> {
    let unrecognized = || ApiError::unrecognized(call.method, call.path);
    let segments = segments(call.path).ok_or_else(unrecognized)?;
    if call.method == "GET" && segments.as_slice() == ["account"] {
        return Ok(shared.account());
    }
    if segments.first() == Some(&"events") {
        call.access.check_read("event", None)?;
        return match (call.method, segments.as_slice()) {
            ("GET", [_]) => super::control::list_events(shared, &call.query),
            ("GET", [_, id]) => super::control::retrieve_event(shared, id),
            _ => Err(unrecognized()),
        };
    }
    let stream = segments
        .first()
        .and_then(|c| Stream::from_collection(c))
        .ok_or_else(unrecognized)?;
    let read = |s: Stream, parent: Option<Stream>| {
        call.access.check_read(s.name(), parent.map(Stream::name))
    };
    match (call.method, segments.as_slice()) {
        ("GET", [_]) => {
            let parent = (stream == Stream::SubscriptionItem).then_some(Stream::Subscription);
            read(stream, parent)?;
            list_collection(shared, stream, &call.query)
        }
        ("GET", [_, id]) => {
            read(stream, None)?;
            retrieve(shared, stream, id, &call.query)
        }
        ("GET", [_, id, sub]) => {
            let (child, field) = match (stream, *sub) {
                (Stream::Invoice, "lines") => (Stream::InvoiceLineItem, "invoice"),
                (Stream::Customer, "payment_methods") => (Stream::PaymentMethod, "customer"),
                (Stream::Customer, "subscriptions") => (Stream::Subscription, "customer"),
                (Stream::Charge, "refunds") => (Stream::Refund, "charge"),
                _ => return Err(unrecognized()),
            };
            read(child, Some(stream))?;
            let mut query = call.query.clone();
            query.insert(field.to_string(), Value::from(*id));
            let url = format!("/v1/{}/{id}/{sub}", segments[0]);
            list_children(shared, child, stream, id, &query, url)
        }
        ("POST", [_]) => {
            if matches!(stream, Stream::Dispute | Stream::BalanceTransaction) {
                return Err(unrecognized());
            }
            call.access.check_write(stream.name())?;
            let ctx = shared.ctx(
                Some(call.request_id.to_string()),
                call.idempotency_key.clone(),
            );
            let object = shared.mutate(&ctx, |store, ctx| {
                mutate::create(store, ctx, stream, call.body.clone())
            })?;
            expanded(shared, stream, object, &call.body)
        }
        ("POST", [_, id]) => {
            call.access.check_write(stream.name())?;
            let ctx = shared.ctx(
                Some(call.request_id.to_string()),
                call.idempotency_key.clone(),
            );
            let mut fields = call.body.clone();
            fields.remove("expand");
            let object = shared.mutate(&ctx, |store, ctx| {
                mutate::update(store, ctx, stream, id, fields, true)
            })?;
            expanded(shared, stream, object, &call.body)
        }
        ("POST", [_, id, action]) => {
            call.access.check_write(stream.name())?;
            let ctx = shared.ctx(
                Some(call.request_id.to_string()),
                call.idempotency_key.clone(),
            );
            let customer = call
                .body
                .get("customer")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let status = match (stream, *action) {
                (Stream::Invoice, "finalize") => "open",
                (Stream::Invoice, "pay") => "paid",
                (Stream::Invoice, "void") => "void",
                (Stream::Invoice, "mark_uncollectible") => "uncollectible",
                (Stream::PaymentIntent | Stream::SetupIntent | Stream::Payout, "cancel") => {
                    "canceled"
                }
                (Stream::PaymentIntent | Stream::SetupIntent, "confirm") => "succeeded",
                (Stream::CheckoutSession, "expire") => "expired",
                (Stream::CreditNote, "void") => "void",
                (Stream::PaymentMethod, "attach") => {
                    return shared
                        .mutate(&ctx, |store, ctx| {
                            deletes::attach(store, ctx, id, &customer)
                        })
                        .map(Value::Object)
                        .map_err(Into::into)
                }
                (Stream::PaymentMethod, "detach") => {
                    return shared
                        .mutate(&ctx, |store, ctx| deletes::detach(store, ctx, id))
                        .map(Value::Object)
                        .map_err(Into::into)
                }
                _ => return Err(unrecognized()),
            };
            Ok(Value::Object(shared.mutate(&ctx, |store, ctx| {
                deletes::transition(store, ctx, stream, id, status)
            })?))
        }
        ("DELETE", [_, id]) => {
            call.access.check_write(stream.name())?;
            let ctx = shared.ctx(
                Some(call.request_id.to_string()),
                call.idempotency_key.clone(),
            );
            Ok(Value::Object(shared.mutate(&ctx, |store, ctx| {
                deletes::delete(store, ctx, stream, id)
            })?))
        }
        _ => Err(unrecognized()),
    }
}

/// A created or updated object, with `expand[]` applied when the request asked.
fn expanded(
    shared: &Shared,
    stream: Stream,
    mut object: Map<String, Value>,
    body: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let paths = list::string_list(body, "expand")?;
    let store = shared.read();
    apply_expand(&store, &mut object, &paths, false)?;
    let _ = stream;
    Ok(Value::Object(object))
}

fn apply_expand(
    store: &Store,
    object: &mut Map<String, Value>,
    paths: &[String],
    in_list: bool,
) -> Result<(), ApiError> {
    for path in paths {
        let parts: Vec<&str> = path.split('.').collect();
        if parts.len() > 4 + usize::from(in_list) {
            return Err(ApiError::invalid_param(
                "expand",
                format!("You cannot expand more than 4 levels of a property. Property: {path}"),
            ));
        }
        let parts = if in_list {
            match parts.split_first() {
                Some((&"data", rest)) => rest.to_vec(),
                _ => return Err(ApiError::invalid_param("expand", format!("This property cannot be expanded ({path}). You may want to try expanding 'data.{path}' instead."))),
            }
        } else {
            parts
        };
        render::expand(store, object, &parts).map_err(|bad| {
            ApiError::invalid_param(
                "expand",
                format!("This property cannot be expanded ({}).", bad.0),
            )
        })?;
    }
    Ok(())
}

fn retrieve(
    shared: &Shared,
    stream: Stream,
    id: &str,
    query: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let store = shared.read();
    let table = store.table(stream);
    let slot = table
        .get(id)
        .ok_or_else(|| ApiError::no_such(stream.object(), id))?;
    if !table.slot(slot).live {
        // Customers answer with their deleted stub; other deleted objects are gone.
        return if stream == Stream::Customer {
            Ok(Value::Object(deleted_stub(stream, id)))
        } else {
            Err(ApiError::no_such(stream.object(), id))
        };
    }
    let mut object = render::render(&store, stream, slot);
    apply_expand(
        &store,
        &mut object,
        &list::string_list(query, "expand")?,
        false,
    )?;
    Ok(Value::Object(object))
}

/// Query parameters that filter a list by a field of its objects.
const FIELD_FILTERS: &[&str] = &[
    "customer",
    "subscription",
    "invoice",
    "charge",
    "payment_intent",
    "status",
    "type",
    "product",
    "active",
    "currency",
    "source",
    "payout",
    "price",
    "payment_link",
    "setup_intent",
];

fn matches_value(value: &Value, expected: &str) -> bool {
    match value {
        Value::String(s) => s == expected,
        Value::Bool(b) => b.to_string() == expected,
        Value::Number(n) => n.to_string() == expected,
        Value::Null => expected.is_empty(),
        Value::Object(map) => map.get("id").and_then(Value::as_str) == Some(expected),
        Value::Array(_) => false,
    }
}

/// The filter a list request asks for, as a predicate over rendered objects.
fn filter(stream: Stream, query: &Map<String, Value>) -> impl Fn(&Map<String, Value>) -> bool {
    let mut equal: Vec<(String, String)> = Vec::new();
    let mut subscription_status = Some("default".to_string());
    for &field in FIELD_FILTERS {
        if let Some(expected) = query.get(field).and_then(Value::as_str) {
            if stream == Stream::Subscription && field == "status" {
                subscription_status = Some(expected.to_string());
            } else if !(stream == Stream::Subscription && field == "price") {
                equal.push((field.to_string(), expected.to_string()));
            }
        }
    }
    if stream != Stream::Subscription {
        subscription_status = None;
    }
    let pending = query
        .get("pending")
        .and_then(Value::as_str)
        .map(|p| p == "true");
    move |object: &Map<String, Value>| {
        let fields_ok = equal
            .iter()
            .all(|(field, expected)| object.get(field).is_none_or(|v| matches_value(v, expected)));
        let status = object
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let status_ok = match subscription_status.as_deref() {
            None | Some("all") => true,
            Some("default") => status != "canceled",
            Some("ended") => matches!(status, "canceled" | "incomplete_expired"),
            Some(wanted) => status == wanted,
        };
        let pending_ok =
            pending.is_none_or(|p| object.get("invoice").is_some_and(Value::is_null) == p);
        fields_ok && status_ok && pending_ok
    }
}

fn list_collection(
    shared: &Shared,
    stream: Stream,
    query: &Map<String, Value>,
) -> Result<Value, ApiError> {
    if let Some((parent, field)) = stream.parent() {
        if let Some(id) = query.get(field).and_then(Value::as_str) {
            let url = format!("/v1/{}", stream.collection().unwrap_or_default());
            return list_children(shared, stream, parent, id, query, url);
        }
        if stream == Stream::SubscriptionItem {
            return Err(ApiError::invalid_param(
                "subscription",
                "Missing required param: subscription.",
            ));
        }
    }
    let store = shared.read();
    let url = format!("/v1/{}", stream.collection().unwrap_or_default());
    list_page(
        shared,
        &store,
        stream,
        Index::Tree(&store.table(stream).order),
        None,
        query,
        url,
    )
}

fn list_children(
    shared: &Shared,
    child: Stream,
    parent: Stream,
    parent_id: &str,
    query: &Map<String, Value>,
    url: String,
) -> Result<Value, ApiError> {
    let store = shared.read();
    let parent_slot = store
        .table(parent)
        .live(parent_id)
        .ok_or_else(|| ApiError::no_such(parent.object(), parent_id))?;
    let index = Index::Sorted(store.table(child).children_of(parent_slot));
    list_page(shared, &store, child, index, Some(parent_slot), query, url)
}

fn list_page(
    shared: &Shared,
    store: &Store,
    stream: Stream,
    index: Index<'_>,
    parent: Option<u32>,
    query: &Map<String, Value>,
    url: String,
) -> Result<Value, ApiError> {
    let params = ListParams::parse(query)?;
    let keep = filter(stream, query);
    let table = store.table(stream);
    let cursor_key = match &params.cursor {
        None => None,
        Some(cursor) => {
            let missing = || ApiError::missing_cursor(stream.object(), cursor.param(), cursor.id());
            if matches!(cursor, Cursor::StartingAfter(_)) && shared.faults.take_invalidate_cursor()
            {
                return Err(missing());
            }
            let slot = table.live(cursor.id()).ok_or_else(missing)?;
            let in_list = parent.is_none_or(|p| table.slot(slot).parent == p);
            if !in_list || !keep(&render::render(store, stream, slot)) {
                return Err(missing());
            }
            Some(table.slot(slot).key)
        }
    };
    let page = list::page(index, &params, cursor_key, |slot| {
        let object = render::render(store, stream, slot);
        keep(&object).then_some(object)
    });
    let mut data = Vec::with_capacity(page.data.len());
    for mut object in page.data {
        apply_expand(store, &mut object, &params.expand, true)?;
        data.push(Value::Object(object));
    }
    Ok(json!({"object": "list", "data": data, "has_more": page.has_more, "url": url}))
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn an_endpoint_is_a_method_and_a_path_without_its_ids() {
        let pm = "GET /v1/customers/{id}/payment_methods";
        assert_eq!(endpoint("GET", "/v1/customers/cus_A1/payment_methods"), pm);
        assert_eq!(endpoint("GET", "/v1/customers/cus_B2/payment_methods"), pm);
        assert_eq!(endpoint("GET", "/v1/customers"), "GET /v1/customers");
        assert_eq!(endpoint("POST", "/v1/customers"), "POST /v1/customers");
        assert_eq!(
            endpoint("GET", "/v1/checkout/sessions/cs_1/line_items"),
            "GET /v1/checkout/sessions/{id}/line_items"
        );
    }
}
