//! A steady stream of random, realistic changes (for `inlet demo` and soak tests): new
//! customers who subscribe, payments, refunds, invoices paid, plan changes, cancellations,
//! customers leaving. Everything goes through the same code as the Rust API, so each change
//! sends its events.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::watch;

use super::store::Store;
use super::stream::Stream;
use super::{deletes, mutate, Shared};

/// Keeps the trickle going; dropping it (or `stop`) stops it.
pub type TrickleHandle = crate::ticks::MutatorHandle;

pub(crate) fn start(
    runtime: &tokio::runtime::Handle,
    shared: Arc<Shared>,
    every: Duration,
    fake_down: watch::Receiver<bool>,
) -> TrickleHandle {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(shared.seed ^ 0x7121c);
    crate::ticks::every(runtime, every, fake_down, move || {
        let ctx = shared.ctx(None, None);
        let roll = rng.random_range(0..100u32);
        let pick = rng.random_range(0..u64::MAX);
        let result = shared.mutate(&ctx, |store, ctx| step(store, ctx, roll, pick));
        if let Err(error) = result {
            tracing::debug!(%error, "trickle step refused");
        }
    })
}

/// A random live object of `stream`, chosen by `pick`.
fn any(store: &Store, stream: Stream, pick: u64) -> Option<String> {
    let table = store.table(stream);
    let n = table.len();
    if n == 0 {
        return None;
    }
    // Walk from a random point of the newest 200 (cheap on huge tables, and recent objects
    // are the ones real accounts touch).
    let skip = (pick % n.min(200) as u64) as usize;
    table
        .order
        .values()
        .nth(skip)
        .map(|&slot| table.slot(slot).id.to_string())
}

fn status_of(store: &Store, stream: Stream, id: &str) -> String {
    store
        .table(stream)
        .live(id)
        .map(|slot| super::render::base(store, stream, slot))
        .and_then(|doc| {
            doc.get("status")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default()
}

fn step(
    store: &mut Store,
    ctx: &super::events::Ctx,
    roll: u32,
    pick: u64,
) -> Result<(), super::FakeError> {
    let object = |v: Value| v.as_object().cloned().unwrap_or_default();
    match roll {
        0..25 => {
            let n = pick % 10_000;
            let customer = mutate::create(
                store,
                ctx,
                Stream::Customer,
                object(
                    json!({"email": format!("new.customer{n}@example.com"), "name": format!("New Customer {n}")}),
                ),
            )?;
            let id = customer
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let pm = mutate::create(
                store,
                ctx,
                Stream::PaymentMethod,
                object(json!({"customer": id})),
            )?;
            let pm_id = pm
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if !pick.is_multiple_of(3) {
                mutate::create(
                    store,
                    ctx,
                    Stream::Subscription,
                    object(json!({"customer": id, "default_payment_method": pm_id})),
                )?;
            }
        }
        25..40 => {
            if let Some(customer) = any(store, Stream::Customer, pick) {
                let charge = json!({"customer": customer, "amount": 500 + (pick % 200) * 100, "status": if pick.is_multiple_of(10) { "failed" } else { "succeeded" }});
                mutate::create(store, ctx, Stream::Charge, object(charge))?;
            }
        }
        40..55 => {
            if let Some(customer) = any(store, Stream::Customer, pick) {
                let fields = json!({"metadata": {"last_seen": ctx.now.to_string()}, "phone": format!("+1555{:07}", pick % 10_000_000)});
                mutate::update(
                    store,
                    ctx,
                    Stream::Customer,
                    &customer,
                    object(fields),
                    true,
                )?;
            }
        }
        55..63 => {
            if let Some(charge) = any(store, Stream::Charge, pick) {
                if status_of(store, Stream::Charge, &charge) == "succeeded" {
                    mutate::create(
                        store,
                        ctx,
                        Stream::Refund,
                        object(json!({"charge": charge})),
                    )?;
                }
            }
        }
        63..75 => {
            if let Some(customer) = any(store, Stream::Customer, pick) {
                let invoice = mutate::create(
                    store,
                    ctx,
                    Stream::Invoice,
                    object(json!({"customer": customer})),
                )?;
                let id = invoice
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if !pick.is_multiple_of(4) {
                    deletes::transition(store, ctx, Stream::Invoice, &id, "open")?;
                    deletes::transition(store, ctx, Stream::Invoice, &id, "paid")?;
                }
            }
        }
        75..85 => {
            if let Some(sub) = any(store, Stream::Subscription, pick) {
                if !matches!(
                    status_of(store, Stream::Subscription, &sub).as_str(),
                    "canceled" | "incomplete_expired"
                ) {
                    let fields = json!({"cancel_at_period_end": pick.is_multiple_of(2), "metadata": {"seats": (pick % 50).to_string()}});
                    mutate::update(store, ctx, Stream::Subscription, &sub, object(fields), true)?;
                }
            }
        }
        85..92 => {
            if let Some(sub) = any(store, Stream::Subscription, pick) {
                if !matches!(
                    status_of(store, Stream::Subscription, &sub).as_str(),
                    "canceled" | "incomplete_expired"
                ) {
                    deletes::cancel_subscription(store, ctx, &sub)?;
                }
            }
        }
        92..96 => {
            if let Some(customer) = any(store, Stream::Customer, pick) {
                deletes::delete(store, ctx, Stream::Customer, &customer)?;
            }
        }
        _ => {
            mutate::create(
                store,
                ctx,
                Stream::Payout,
                object(json!({"amount": 10_000 + (pick % 1000) * 100})),
            )?;
        }
    }
    Ok(())
}
