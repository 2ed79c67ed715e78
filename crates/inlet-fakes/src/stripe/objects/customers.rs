//! Customers and how they pay: customer, payment_method, setup_intent.

use serde_json::{json, Value};

use super::{address, card, invoice_prefix, metadata, opt, person, Dice, Facts};

pub(super) fn customer(f: &Facts<'_>) -> Value {
    let mut d = Dice::new(f.salt);
    let (name, email, phone) = person(&mut d);
    let addr = address(&mut d);
    let business = d.chance(30);
    let shipping = if d.chance(35) {
        json!({"address": addr.clone(), "name": name.clone(), "phone": phone.clone()})
    } else {
        Value::Null
    };
    json!({
        "address": addr,
        "balance": if d.chance(5) { -d.range(100, 5000) } else { 0 },
        "created": f.created,
        "currency": "usd",
        "default_source": null,
        "delinquent": f.status == "delinquent",
        "description": if business { Value::from(format!("{} account", name)) } else { Value::Null },
        "discount": null,
        "email": email,
        "id": f.id,
        "invoice_prefix": invoice_prefix(f.salt),
        "invoice_settings": {
            "custom_fields": null,
            "default_payment_method": opt(f.payment_method),
            "footer": null,
            "rendering_options": null,
        },
        "livemode": false,
        "metadata": metadata(&mut d),
        "name": name,
        "next_invoice_sequence": f.quantity.max(1),
        "object": "customer",
        "phone": if d.chance(60) { Value::from(phone) } else { Value::Null },
        "preferred_locales": if d.chance(30) { json!(["en-US"]) } else { json!([]) },
        "shipping": shipping,
        "tax_exempt": if d.chance(3) { "exempt" } else { "none" },
        "test_clock": null,
    })
}

pub(super) fn payment_method(f: &Facts<'_>) -> Value {
    let mut d = Dice::new(f.salt);
    let (name, email, phone) = person(&mut d);
    let (brand, last4, exp_month, exp_year, funding, fingerprint) = card(&mut d);
    json!({
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": address(&mut d),
            "email": email,
            "name": name,
            "phone": phone,
            "tax_id": null,
        },
        "card": {
            "brand": brand,
            "checks": {"address_line1_check": null, "address_postal_code_check": "pass", "cvc_check": "pass"},
            "country": "US",
            "display_brand": brand,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": fingerprint,
            "funding": funding,
            "generated_from": null,
            "last4": last4,
            "networks": {"available": [brand], "preferred": null},
            "three_d_secure_usage": {"supported": true},
            "wallet": null,
            "regulated_status": "unregulated",
        },
        "created": f.created,
        "customer": opt(f.customer),
        "id": f.id,
        "livemode": false,
        "metadata": {},
        "object": "payment_method",
        "type": "card",
        "customer_account": null,
    })
}

pub(super) fn setup_intent(f: &Facts<'_>) -> Value {
    let mut d = Dice::new(f.salt);
    let canceled = f.status == "canceled";
    json!({
        "application": null,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": true},
        "cancellation_reason": if canceled { Value::from("abandoned") } else { Value::Null },
        "client_secret": format!("{}_secret_{}", f.id, d.alnum(25)),
        "created": f.created,
        "customer": opt(f.customer),
        "description": null,
        "flow_directions": null,
        "id": f.id,
        "last_setup_error": null,
        "latest_attempt": null,
        "livemode": false,
        "mandate": null,
        "metadata": {},
        "next_action": null,
        "object": "setup_intent",
        "on_behalf_of": null,
        "payment_method": opt(f.payment_method),
        "payment_method_configuration_details": null,
        "payment_method_options": {
            "card": {"mandate_options": null, "network": null, "request_three_d_secure": "automatic"}
        },
        "payment_method_types": ["card"],
        "single_use_mandate": null,
        "status": f.status,
        "usage": "off_session",
        "excluded_payment_method_types": null,
    })
}
