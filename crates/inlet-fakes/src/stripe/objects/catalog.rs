//! What an account sells: product, price, plan, coupon, tax_rate.
//!
//! For prices and plans `Facts::status` carries the billing interval (`month`, `year`) or
//! `one_time`; `Facts::amount` is the unit amount in cents.

use serde_json::{json, Value};

use super::{opt, Dice, Facts};

/// (name, description, unit label)
pub(crate) const PRODUCTS: &[(&str, &str, Option<&str>)] = &[
    ("Starter", "For small teams getting started", None),
    ("Pro", "Everything a growing business needs", None),
    ("Enterprise", "Advanced controls, SSO and support", None),
    ("Extra seats", "Additional team members", Some("seat")),
    (
        "API calls",
        "Metered API usage above the plan's quota",
        Some("1k calls"),
    ),
    ("Onboarding", "One-time guided onboarding", None),
    (
        "Premium support",
        "24/7 support with a 1-hour response time",
        None,
    ),
    ("Storage add-on", "100 GB of extra storage", Some("100 GB")),
];

pub(super) fn product(f: &Facts<'_>) -> Value {
    let mut d = Dice::new(f.salt);
    let (name, description, unit_label) = PRODUCTS[(f.salt as usize) % PRODUCTS.len()];
    json!({
        "active": f.status != "archived",
        "created": f.created,
        "default_price": opt(f.price),
        "description": description,
        "id": f.id,
        "images": [],
        "livemode": false,
        "marketing_features": [],
        "metadata": if d.chance(50) { json!({"tier": name.to_lowercase()}) } else { json!({}) },
        "name": name,
        "object": "product",
        "package_dimensions": null,
        "shippable": null,
        "statement_descriptor": null,
        "tax_code": "txcd_10103001",
        "unit_label": unit_label,
        "updated": f.created,
        "url": null,
        "type": "service",
    })
}

fn recurring(interval: &str) -> Value {
    if interval == "one_time" {
        Value::Null
    } else {
        json!({
            "interval": interval,
            "interval_count": 1,
            "meter": null,
            "usage_type": "licensed",
            "trial_period_days": null,
        })
    }
}

pub(super) fn price(f: &Facts<'_>) -> Value {
    let interval = if f.status.is_empty() {
        "month"
    } else {
        f.status
    };
    json!({
        "active": true,
        "billing_scheme": "per_unit",
        "created": f.created,
        "currency": "usd",
        "custom_unit_amount": null,
        "id": f.id,
        "livemode": false,
        "lookup_key": null,
        "metadata": {},
        "nickname": match interval { "month" => Value::from("Monthly"), "year" => Value::from("Yearly"), _ => Value::Null },
        "object": "price",
        "product": opt(f.product),
        "recurring": recurring(interval),
        "tax_behavior": "exclusive",
        "tiers_mode": null,
        "transform_quantity": null,
        "type": if interval == "one_time" { "one_time" } else { "recurring" },
        "unit_amount": f.amount,
        "unit_amount_decimal": f.amount.to_string(),
    })
}

pub(super) fn plan(f: &Facts<'_>) -> Value {
    let interval = if f.status.is_empty() || f.status == "one_time" {
        "month"
    } else {
        f.status
    };
    json!({
        "active": true,
        "amount": f.amount,
        "amount_decimal": f.amount.to_string(),
        "billing_scheme": "per_unit",
        "created": f.created,
        "currency": "usd",
        "id": f.id,
        "interval": interval,
        "interval_count": 1,
        "livemode": false,
        "metadata": {},
        "meter": null,
        "nickname": if interval == "year" { "Legacy yearly" } else { "Legacy monthly" },
        "object": "plan",
        "product": opt(f.product),
        "tiers_mode": null,
        "transform_usage": null,
        "trial_period_days": null,
        "usage_type": "licensed",
    })
}

/// The legacy `plan` view of a recurring price, as subscription items carry it.
pub(crate) fn plan_of_price(price: &serde_json::Map<String, Value>) -> Value {
    let recurring = price.get("recurring");
    let field = |name: &str| {
        recurring
            .and_then(|r| r.get(name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    json!({
        "active": price.get("active").cloned().unwrap_or(Value::Bool(true)),
        "amount": price.get("unit_amount").cloned().unwrap_or(Value::Null),
        "amount_decimal": price.get("unit_amount_decimal").cloned().unwrap_or(Value::Null),
        "billing_scheme": price.get("billing_scheme").cloned().unwrap_or(Value::Null),
        "created": price.get("created").cloned().unwrap_or(Value::Null),
        "currency": price.get("currency").cloned().unwrap_or(Value::Null),
        "id": price.get("id").cloned().unwrap_or(Value::Null),
        "interval": field("interval"),
        "interval_count": field("interval_count"),
        "livemode": false,
        "metadata": price.get("metadata").cloned().unwrap_or(Value::Null),
        "meter": null,
        "nickname": price.get("nickname").cloned().unwrap_or(Value::Null),
        "object": "plan",
        "product": price.get("product").cloned().unwrap_or(Value::Null),
        "tiers_mode": null,
        "transform_usage": null,
        "trial_period_days": null,
        "usage_type": field("usage_type"),
    })
}

pub(super) fn coupon(f: &Facts<'_>) -> Value {
    let mut d = Dice::new(f.salt);
    let percent = d.chance(70);
    let (duration, months) = *d.pick(&[
        ("once", None),
        ("forever", None),
        ("repeating", Some(3)),
        ("repeating", Some(12)),
    ]);
    let percent_off = *d.pick(&[10.0, 15.0, 20.0, 25.5, 50.0]);
    let amount_off = d.range(5, 50) * 100;
    let name = if percent {
        format!("{percent_off}% off")
    } else {
        format!("{} off", super::money(amount_off))
    };
    json!({
        "amount_off": if percent { Value::Null } else { Value::from(amount_off) },
        "created": f.created,
        "currency": if percent { Value::Null } else { Value::from("usd") },
        "duration": duration,
        "duration_in_months": months,
        "id": f.id,
        "livemode": false,
        "max_redemptions": if d.chance(30) { Value::from(d.range(10, 500)) } else { Value::Null },
        "metadata": {},
        "name": name,
        "object": "coupon",
        "percent_off": if percent { Value::from(percent_off) } else { Value::Null },
        "redeem_by": null,
        "times_redeemed": d.range(0, 40),
        "valid": true,
    })
}

/// (display name, description, jurisdiction, country, state, percentage, tax type)
type TaxRateRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    f64,
    &'static str,
);
const TAX_RATES: &[TaxRateRow] = &[
    ("VAT", "VAT Germany", "DE", "DE", None, 19.0, "vat"),
    (
        "Sales Tax",
        "California sales tax",
        "US - CA",
        "US",
        Some("CA"),
        7.25,
        "sales_tax",
    ),
    ("VAT", "VAT France", "FR", "FR", None, 20.0, "vat"),
    ("GST", "GST Australia", "AU", "AU", None, 10.0, "gst"),
    ("VAT", "VAT United Kingdom", "GB", "GB", None, 20.0, "vat"),
];

pub(super) fn tax_rate(f: &Facts<'_>) -> Value {
    let (display, description, jurisdiction, country, state, percentage, tax_type) =
        TAX_RATES[(f.salt as usize) % TAX_RATES.len()];
    json!({
        "active": f.status != "archived",
        "country": country,
        "created": f.created,
        "description": description,
        "display_name": display,
        "effective_percentage": percentage,
        "id": f.id,
        "inclusive": false,
        "jurisdiction": jurisdiction,
        "jurisdiction_level": if state.is_some() { "state" } else { "country" },
        "livemode": false,
        "metadata": {},
        "object": "tax_rate",
        "percentage": percentage,
        "state": state,
        "tax_type": tax_type,
        "flat_amount": null,
        "rate_type": "percentage",
    })
}
