//! Recurring billing: subscription, subscription_item, invoice, invoice line, invoiceitem,
//! credit_note. Nested lists (`items`, `lines`) are placeholders here; the renderer fills
//! them from the child tables so they always match what the list endpoints return.

use serde_json::{json, Value};

use super::{address, invoice_prefix, opt, person, tail, Dice, Facts};

const DAY: i64 = 86_400;

/// Length of a billing interval named by `status` on items and lines.
fn interval_secs(interval: &str) -> i64 {
    if interval == "year" {
        365 * DAY
    } else {
        30 * DAY
    }
}

/// The billing period around `now` for something billed every `interval` since `anchor`.
fn current_period(anchor: i64, now: i64, interval: i64) -> (i64, i64) {
    let periods = ((now - anchor).max(0)) / interval;
    let start = anchor + periods * interval;
    (start, start + interval)
}

pub(super) fn subscription(f: &Facts<'_>) -> Value {
    let mut d = Dice::new(f.salt);
    let status = f.status;
    let trialing = status == "trialing" || d.chance(15);
    let trial_end = f.created + 14 * DAY;
    let ended = matches!(status, "canceled" | "incomplete_expired");
    let ended_at = if status == "incomplete_expired" {
        (f.created + 23 * 3600).min(f.now)
    } else {
        (f.created + d.range(DAY, 300 * DAY)).min(f.now)
    };
    let cancel_at_period_end = status == "active" && d.chance(8);
    let period_end = current_period(f.created, f.now, 30 * DAY).1;
    json!({
        "application": null,
        "application_fee_percent": null,
        "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
        "billing_cycle_anchor": if trialing { trial_end } else { f.created },
        "billing_cycle_anchor_config": null,
        "cancel_at": if cancel_at_period_end { Value::from(period_end) } else { Value::Null },
        "canceled_at": if ended || cancel_at_period_end { Value::from(ended_at) } else { Value::Null },
        "cancellation_details": {
            "comment": null,
            "feedback": if status == "canceled" { Value::from(*d.pick(&["too_expensive", "unused", "switched_service", "missing_features"])) } else { Value::Null },
            "reason": if status == "canceled" { Value::from("cancellation_requested") } else if status == "incomplete_expired" { Value::from("payment_failed") } else { Value::Null },
        },
        "collection_method": "charge_automatically",
        "created": f.created,
        "currency": "usd",
        "customer": opt(f.customer),
        "days_until_due": null,
        "default_payment_method": opt(f.payment_method),
        "default_source": null,
        "default_tax_rates": [],
        "description": null,
        "discounts": [],
        "ended_at": if ended { Value::from(ended_at) } else { Value::Null },
        "id": f.id,
        "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
        "items": null,
        "latest_invoice": opt(f.invoice),
        "livemode": false,
        "metadata": {},
        "next_pending_invoice_item_invoice": null,
        "object": "subscription",
        "on_behalf_of": null,
        "pause_collection": null,
        "payment_settings": {
            "payment_method_options": null,
            "payment_method_types": null,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": null,
        "pending_setup_intent": null,
        "pending_update": null,
        "schedule": null,
        "start_date": f.created,
        "status": status,
        "test_clock": null,
        "transfer_data": null,
        "trial_end": if trialing { Value::from(trial_end) } else { Value::Null },
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": if trialing { Value::from(f.created) } else { Value::Null },
        "cancel_at_period_end": cancel_at_period_end,
        "billing_thresholds": null,
        "billing_mode": {"type": "classic"},
        "customer_account": null,
        "managed_payments": null,
        "billing_schedules": [],
    })
}

pub(super) fn subscription_item(f: &Facts<'_>) -> Value {
    let (start, end) = current_period(f.created, f.now, interval_secs(f.status));
    json!({
        "created": f.created,
        "discounts": [],
        "id": f.id,
        "metadata": {},
        "object": "subscription_item",
        "price": opt(f.price),
        "quantity": f.quantity,
        "subscription": opt(f.subscription),
        "tax_rates": [],
        "plan": null,
        "current_period_end": end,
        "current_period_start": start,
        "billing_thresholds": null,
    })
}

pub(super) fn invoice(f: &Facts<'_>) -> Value {
    let mut d = Dice::new(f.customer_salt);
    let (name, email, phone) = person(&mut d);
    let customer_address = address(&mut d);
    let status = f.status;
    let draft = status == "draft";
    let finalized_at = f.created + 3600;
    let paid = status == "paid";
    let total = f.amount;
    let number = format!(
        "{}-{:04}",
        invoice_prefix(f.customer_salt),
        f.quantity.max(1)
    );
    let hosted = format!(
        "https://invoice.stripe.com/i/acct_1Fake/test_{}",
        tail(f.id)
    );
    let at = |on: bool, t: i64| if on { Value::from(t) } else { Value::Null };
    let parent = f.subscription.map_or(Value::Null, |sub| {
        json!({
            "quote_details": null,
            "subscription_details": {"metadata": {}, "subscription": sub},
            "type": "subscription_details",
        })
    });
    json!({
        "account_country": "US",
        "account_name": "Inlet Demo Co",
        "account_tax_ids": null,
        "amount_due": total,
        "amount_paid": if paid { total } else { 0 },
        "amount_remaining": if paid || status == "void" { 0 } else { total },
        "amount_shipping": 0,
        "application": null,
        "attempt_count": if draft { 0 } else { 1 },
        "attempted": !draft,
        "auto_advance": matches!(status, "draft" | "open"),
        "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null, "provider": null, "status": null},
        "billing_reason": if f.subscription.is_some() { if f.quantity <= 1 { "subscription_create" } else { "subscription_cycle" } } else { "manual" },
        "collection_method": "charge_automatically",
        "created": f.created,
        "currency": "usd",
        "custom_fields": null,
        "customer": opt(f.customer),
        "customer_address": customer_address,
        "customer_email": email,
        "customer_name": name,
        "customer_phone": phone,
        "customer_shipping": null,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": null,
        "default_source": null,
        "default_tax_rates": [],
        "description": null,
        "discounts": [],
        "due_date": null,
        "effective_at": at(!draft, finalized_at),
        "ending_balance": if draft { Value::Null } else { Value::from(0) },
        "footer": null,
        "from_invoice": null,
        "hosted_invoice_url": if draft { Value::Null } else { Value::from(hosted.clone()) },
        "id": f.id,
        "invoice_pdf": if draft { Value::Null } else { Value::from(format!("{hosted}/pdf?s=ap")) },
        "issuer": {"type": "self"},
        "last_finalization_error": null,
        "latest_revision": null,
        "lines": null,
        "livemode": false,
        "metadata": {},
        "next_payment_attempt": if status == "open" { Value::from(f.created + 3 * DAY) } else { Value::Null },
        "number": if draft { Value::Null } else { Value::from(number) },
        "object": "invoice",
        "on_behalf_of": null,
        "payment_settings": {"default_mandate": null, "payment_method_options": null, "payment_method_types": null},
        "period_end": f.created,
        "period_start": if f.subscription.is_some() { f.created - 30 * DAY } else { f.created },
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": null,
        "rendering": {"amount_tax_display": null, "pdf": {"page_size": "letter"}, "template": null, "template_version": null},
        "shipping_cost": null,
        "shipping_details": null,
        "starting_balance": 0,
        "statement_descriptor": null,
        "status": status,
        "status_transitions": {
            "finalized_at": at(!draft, finalized_at),
            "marked_uncollectible_at": at(status == "uncollectible", finalized_at + 30 * DAY),
            "paid_at": at(paid, finalized_at),
            "voided_at": at(status == "void", finalized_at + DAY),
        },
        "subscription": opt(f.subscription),
        "subtotal": total,
        "subtotal_excluding_tax": total,
        "test_clock": null,
        "total": total,
        "total_discount_amounts": [],
        "total_excluding_tax": total,
        "webhooks_delivered_at": at(!draft, f.created),
        "automatically_finalizes_at": if draft { Value::from(f.created + 3600) } else { Value::Null },
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "amount_overpaid": 0,
        "parent": parent,
        "customer_account": null,
    })
}

fn pricing(f: &Facts<'_>) -> Value {
    json!({
        "price_details": {"price": opt(f.price), "product": opt(f.product)},
        "type": "price_details",
        "unit_amount_decimal": f.amount.to_string(),
    })
}

/// An invoice line: `aux` is the subscription item when `subscription` is set, else the
/// invoice item it bills.
pub(super) fn line_item(f: &Facts<'_>) -> Value {
    let period_end = f.created;
    let (period_start, details) = match f.subscription {
        Some(sub) => (
            f.created - interval_secs(f.status),
            json!({
                "invoice_item_details": null,
                "subscription_item_details": {
                    "invoice_item": null,
                    "proration": false,
                    "proration_details": {"credited_items": null},
                    "subscription": sub,
                    "subscription_item": opt(f.aux),
                },
                "type": "subscription_item_details",
            }),
        ),
        None => (
            f.created,
            json!({
                "invoice_item_details": {
                    "invoice_item": opt(f.aux),
                    "proration": false,
                    "proration_details": {"credited_items": null},
                    "subscription": null,
                },
                "subscription_item_details": null,
                "type": "invoice_item_details",
            }),
        ),
    };
    let label = f.label.as_deref().unwrap_or("Services");
    let amount = f.amount * f.quantity;
    json!({
        "amount": amount,
        "currency": "usd",
        "description": format!("{} × {}", f.quantity, label),
        "discount_amounts": [],
        "discountable": true,
        "discounts": [],
        "id": f.id,
        "invoice": opt(f.invoice),
        "livemode": false,
        "metadata": {},
        "object": "line_item",
        "period": {"end": period_end, "start": period_start},
        "quantity": f.quantity,
        "subscription": opt(f.subscription),
        "pretax_credit_amounts": [],
        "taxes": [],
        "parent": details,
        "pricing": pricing(f),
        "subtotal": amount,
        "quantity_decimal": f.quantity.to_string(),
    })
}

pub(super) fn invoiceitem(f: &Facts<'_>) -> Value {
    let amount = f.amount * f.quantity;
    let label = f.label.as_deref().unwrap_or("One-time charge");
    json!({
        "amount": amount,
        "currency": "usd",
        "customer": opt(f.customer),
        "date": f.created,
        "description": label,
        "discountable": true,
        "discounts": [],
        "id": f.id,
        "invoice": opt(f.invoice),
        "livemode": false,
        "metadata": {},
        "object": "invoiceitem",
        "period": {"end": f.created, "start": f.created},
        "proration": false,
        "quantity": f.quantity,
        "tax_rates": [],
        "test_clock": null,
        "parent": null,
        "pricing": pricing(f),
        "net_amount": amount,
        "customer_account": null,
        "quantity_decimal": f.quantity.to_string(),
    })
}

/// A credit note on `invoice`, crediting the invoice line in `aux`.
pub(super) fn credit_note(f: &Facts<'_>) -> Value {
    let mut d = Dice::new(f.salt);
    let void = f.status == "void";
    let reason = *d.pick(&[
        "product_unsatisfactory",
        "order_change",
        "duplicate",
        "fraudulent",
    ]);
    let line = json!({
        "amount": f.amount,
        "description": "Credit for unused service",
        "discount_amount": 0,
        "discount_amounts": [],
        "id": format!("cnli_{}", d.alnum(24)),
        "invoice_line_item": opt(f.aux),
        "livemode": false,
        "object": "credit_note_line_item",
        "quantity": 1,
        "tax_rates": [],
        "type": "invoice_line_item",
        "unit_amount": null,
        "unit_amount_decimal": null,
        "pretax_credit_amounts": [],
        "taxes": [],
        "metadata": {},
    });
    json!({
        "amount": f.amount,
        "amount_shipping": 0,
        "created": f.created,
        "currency": "usd",
        "customer": opt(f.customer),
        "customer_balance_transaction": null,
        "discount_amount": 0,
        "discount_amounts": [],
        "effective_at": f.created,
        "id": f.id,
        "invoice": opt(f.invoice),
        "lines": {"object": "list", "data": [line], "has_more": false, "url": format!("/v1/credit_notes/{}/lines", f.id)},
        "livemode": false,
        "memo": if d.chance(40) { Value::from("Partial refund after support ticket") } else { Value::Null },
        "metadata": {},
        "number": format!("{}-{:04}-CN-01", invoice_prefix(f.customer_salt), d.range(1, 40)),
        "object": "credit_note",
        "out_of_band_amount": null,
        "pdf": format!("https://pay.stripe.com/credit_notes/acct_1Fake/test_{}/pdf", tail(f.id)),
        "shipping_cost": null,
        "status": f.status,
        "subtotal": f.amount,
        "subtotal_excluding_tax": f.amount,
        "total": f.amount,
        "total_excluding_tax": f.amount,
        "type": "post_payment",
        "voided_at": if void { Value::from((f.created + DAY).min(f.now.max(f.created))) } else { Value::Null },
        "pretax_credit_amounts": [],
        "total_taxes": [],
        "refunds": [],
        "post_payment_amount": f.amount,
        "pre_payment_amount": 0,
        "reason": reason,
        "customer_account": null,
    })
}
