//! Money movement: charge, refund, dispute, payment_intent, balance_transaction, payout,
//! checkout_session.
//!
//! Charges: `Facts::aux` is the dispute (when disputed) and `Facts::refunded` the amount
//! refunded. Balance transactions: `Facts::status` is the transaction's `type`, its source
//! is `charge` or `aux`.

use serde_json::{json, Value};

use super::{address, card, opt, person, tail, Dice, Facts};

const DAY: i64 = 86_400;

/// Stripe's standard card fee: 2.9% + 30¢.
pub(crate) fn card_fee(amount: i64) -> i64 {
    (amount * 29 + 500) / 1000 + 30
}

fn card_details(d: &mut Dice, amount: i64) -> Value {
    let (brand, last4, exp_month, exp_year, funding, fingerprint) = card(d);
    json!({
        "card": {
            "amount_authorized": amount,
            "authorization_code": d.digits(6),
            "brand": brand,
            "checks": {"address_line1_check": null, "address_postal_code_check": "pass", "cvc_check": "pass"},
            "country": "US",
            "exp_month": exp_month,
            "exp_year": exp_year,
            "extended_authorization": {"status": "disabled"},
            "fingerprint": fingerprint,
            "funding": funding,
            "incremental_authorization": {"status": "unavailable"},
            "installments": null,
            "last4": last4,
            "mandate": null,
            "multicapture": {"status": "unavailable"},
            "network": brand,
            "network_token": {"used": false},
            "network_transaction_id": d.digits(15),
            "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
            "regulated_status": "unregulated",
            "three_d_secure": null,
            "wallet": null,
        },
        "type": "card",
    })
}

pub(super) fn charge(f: &Facts<'_>) -> Value {
    let mut d = Dice::new(f.salt);
    let (name, email, phone) = person(&mut Dice::new(f.customer_salt));
    let failed = f.status == "failed";
    let succeeded = f.status == "succeeded";
    let outcome = if failed {
        json!({"advice_code": "try_again_later", "network_advice_code": null, "network_decline_code": null,
               "network_status": "declined_by_network", "reason": "generic_decline", "risk_level": "normal",
               "risk_score": d.range(5, 60), "seller_message": "The bank did not return any further details with this decline.",
               "type": "issuer_declined"})
    } else {
        json!({"advice_code": null, "network_advice_code": null, "network_decline_code": null,
               "network_status": "approved_by_network", "reason": null, "risk_level": "normal",
               "risk_score": d.range(5, 60), "seller_message": "Payment complete.", "type": "authorized"})
    };
    json!({
        "amount": f.amount,
        "amount_captured": if succeeded { f.amount } else { 0 },
        "amount_refunded": f.refunded,
        "application": null,
        "application_fee": null,
        "application_fee_amount": null,
        "balance_transaction": opt(f.txn),
        "billing_details": {"address": address(&mut d), "email": email, "name": name, "phone": phone, "tax_id": null},
        "calculated_statement_descriptor": "INLET DEMO CO",
        "captured": succeeded,
        "created": f.created,
        "currency": "usd",
        "customer": opt(f.customer),
        "description": if f.invoice.is_some() { "Subscription update" } else { "Payment" },
        "disputed": f.aux.is_some(),
        "failure_balance_transaction": null,
        "failure_code": if failed { Value::from("card_declined") } else { Value::Null },
        "failure_message": if failed { Value::from("Your card was declined.") } else { Value::Null },
        "fraud_details": {},
        "id": f.id,
        "livemode": false,
        "metadata": {},
        "object": "charge",
        "on_behalf_of": null,
        "outcome": outcome,
        "paid": succeeded,
        "payment_intent": opt(f.payment_intent),
        "payment_method": opt(f.payment_method),
        "payment_method_details": card_details(&mut d, f.amount),
        "receipt_email": null,
        "receipt_number": null,
        "receipt_url": format!("https://pay.stripe.com/receipts/payment/test_{}", tail(f.id)),
        "refunded": f.refunded > 0 && f.refunded >= f.amount,
        "refunds": null,
        "review": null,
        "shipping": null,
        "source_transfer": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": f.status,
        "transfer_data": null,
        "transfer_group": null,
        "source": null,
    })
}

pub(super) fn refund(f: &Facts<'_>) -> Value {
    let mut d = Dice::new(f.salt);
    json!({
        "amount": f.amount,
        "balance_transaction": opt(f.txn),
        "charge": opt(f.charge),
        "created": f.created,
        "currency": "usd",
        "destination_details": {"card": {"reference": d.digits(12), "reference_status": "available", "reference_type": "acquirer_reference_number", "type": "refund"}, "type": "card"},
        "id": f.id,
        "metadata": {},
        "object": "refund",
        "payment_intent": opt(f.payment_intent),
        "reason": *d.pick(&["requested_by_customer", "requested_by_customer", "duplicate", "fraudulent"]),
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": f.status,
        "transfer_reversal": null,
        "customer": opt(f.customer),
        "customer_account": null,
        "payment_method": opt(f.payment_method),
    })
}

pub(super) fn dispute(f: &Facts<'_>) -> Value {
    let mut d = Dice::new(f.salt);
    let open = matches!(f.status, "needs_response" | "warning_needs_response");
    json!({
        "amount": f.amount,
        "balance_transactions": [],
        "charge": opt(f.charge),
        "created": f.created,
        "currency": "usd",
        "evidence": {"access_activity_log": null, "billing_address": null, "cancellation_policy": null,
                     "customer_email_address": null, "customer_name": null, "product_description": null,
                     "receipt": null, "refund_policy": null, "service_date": null, "uncategorized_text": null},
        "evidence_details": {"due_by": f.created + 21 * DAY, "has_evidence": !open, "past_due": false, "submission_count": if open { 0 } else { 1 }},
        "id": f.id,
        "is_charge_refundable": false,
        "livemode": false,
        "metadata": {},
        "object": "dispute",
        "payment_intent": opt(f.payment_intent),
        "payment_method_details": {"card": {"brand": "visa", "case_type": "chargeback", "network_reason_code": "10.4"}, "type": "card"},
        "reason": *d.pick(&["fraudulent", "product_not_received", "duplicate", "subscription_canceled", "general"]),
        "status": f.status,
        "enhanced_eligibility_types": [],
    })
}

pub(super) fn payment_intent(f: &Facts<'_>) -> Value {
    let mut d = Dice::new(f.salt);
    let succeeded = f.status == "succeeded";
    let canceled = f.status == "canceled";
    json!({
        "amount": f.amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": if succeeded { f.amount } else { 0 },
        "application": null,
        "application_fee_amount": null,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": true},
        "canceled_at": if canceled { Value::from((f.created + DAY).min(f.now.max(f.created))) } else { Value::Null },
        "cancellation_reason": if canceled { Value::from("abandoned") } else { Value::Null },
        "capture_method": "automatic_async",
        "client_secret": format!("{}_secret_{}", f.id, d.alnum(25)),
        "confirmation_method": "automatic",
        "created": f.created,
        "currency": "usd",
        "customer": opt(f.customer),
        "description": if f.invoice.is_some() { Value::from("Subscription update") } else { Value::Null },
        "id": f.id,
        "last_payment_error": null,
        "latest_charge": opt(f.charge),
        "livemode": false,
        "metadata": {},
        "next_action": null,
        "object": "payment_intent",
        "on_behalf_of": null,
        "payment_method": opt(f.payment_method),
        "payment_method_configuration_details": null,
        "payment_method_options": {"card": {"installments": null, "mandate_options": null, "network": null, "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "processing": null,
        "receipt_email": null,
        "review": null,
        "setup_future_usage": if f.invoice.is_some() { Value::from("off_session") } else { Value::Null },
        "shipping": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": f.status,
        "transfer_data": null,
        "transfer_group": null,
        "source": null,
        "excluded_payment_method_types": null,
        "customer_account": null,
        "managed_payments": null,
    })
}

pub(super) fn balance_transaction(f: &Facts<'_>) -> Value {
    let kind = if f.status.is_empty() {
        "charge"
    } else {
        f.status
    };
    let fee = if kind == "charge" {
        card_fee(f.amount)
    } else {
        0
    };
    let available_on = f.created + 2 * DAY;
    let (category, description) = match kind {
        "refund" => ("refund", Value::from("REFUND FOR CHARGE")),
        "payout" => ("payout", Value::from("STRIPE PAYOUT")),
        _ => ("charge", Value::Null),
    };
    json!({
        "amount": f.amount,
        "available_on": available_on,
        "created": f.created,
        "currency": "usd",
        "description": description,
        "exchange_rate": null,
        "fee": fee,
        "fee_details": if fee > 0 { json!([{"amount": fee, "application": null, "currency": "usd", "description": "Stripe processing fees", "type": "stripe_fee"}]) } else { json!([]) },
        "id": f.id,
        "net": f.amount - fee,
        "object": "balance_transaction",
        "reporting_category": category,
        "source": opt(f.charge.or(f.aux)),
        "status": if available_on <= f.now { "available" } else { "pending" },
        "type": kind,
        "balance_type": "payments",
    })
}

pub(super) fn payout(f: &Facts<'_>) -> Value {
    let mut d = Dice::new(f.salt);
    let failed = f.status == "failed";
    json!({
        "amount": f.amount,
        "application_fee": null,
        "application_fee_amount": null,
        "arrival_date": f.created + 2 * DAY,
        "automatic": true,
        "balance_transaction": opt(f.txn),
        "created": f.created,
        "currency": "usd",
        "description": "STRIPE PAYOUT",
        "destination": format!("ba_{}", d.alnum(24)),
        "failure_balance_transaction": null,
        "failure_code": if failed { Value::from("account_closed") } else { Value::Null },
        "failure_message": if failed { Value::from("The bank account has been closed.") } else { Value::Null },
        "id": f.id,
        "livemode": false,
        "metadata": {},
        "method": "standard",
        "object": "payout",
        "original_payout": null,
        "reconciliation_status": if f.status == "paid" { "completed" } else { "not_applicable" },
        "reversed_by": null,
        "source_type": "card",
        "statement_descriptor": null,
        "status": f.status,
        "type": "bank_account",
        "trace_id": {"status": if f.status == "paid" { "supported" } else { "pending" }, "value": null},
        "payout_method": null,
    })
}

/// A Checkout Session: `subscription` set means subscription mode, `payment_intent`
/// payment mode, neither setup mode.
pub(super) fn checkout_session(f: &Facts<'_>) -> Value {
    let mut d = Dice::new(f.salt);
    let (name, email, phone) = person(&mut Dice::new(f.customer_salt));
    let mode = if f.subscription.is_some() {
        "subscription"
    } else if f.payment_intent.is_some() {
        "payment"
    } else {
        "setup"
    };
    let complete = f.status == "complete";
    let amount = if mode == "setup" {
        Value::Null
    } else {
        Value::from(f.amount)
    };
    let payment_status = match (mode, complete) {
        ("setup", _) => "no_payment_required",
        (_, true) => "paid",
        _ => "unpaid",
    };
    json!({
        "after_expiration": null,
        "allow_promotion_codes": d.chance(30),
        "amount_subtotal": amount.clone(),
        "amount_total": amount,
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "billing_address_collection": "auto",
        "cancel_url": "https://shop.example.com/cart",
        "client_reference_id": null,
        "client_secret": null,
        "consent": null,
        "consent_collection": null,
        "created": f.created,
        "currency": if mode == "setup" { Value::Null } else { Value::from("usd") },
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "customer": opt(f.customer),
        "customer_creation": if f.customer.is_some() { Value::Null } else { Value::from("if_required") },
        "customer_details": if complete {
            json!({"address": address(&mut d), "email": email, "name": name, "phone": phone,
                   "tax_exempt": "none", "tax_ids": [], "business_name": null, "individual_name": null})
        } else { Value::Null },
        "customer_email": null,
        "expires_at": f.created + DAY,
        "id": f.id,
        "invoice": opt(f.invoice),
        "invoice_creation": null,
        "livemode": false,
        "locale": null,
        "metadata": {},
        "mode": mode,
        "object": "checkout.session",
        "payment_intent": opt(f.payment_intent),
        "payment_link": null,
        "payment_method_collection": if mode == "subscription" { Value::from("always") } else { Value::Null },
        "payment_method_configuration_details": null,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "payment_status": payment_status,
        "phone_number_collection": {"enabled": false},
        "recovered_from": null,
        "saved_payment_method_options": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_options": [],
        "status": f.status,
        "submit_type": if mode == "payment" { Value::from("pay") } else { Value::Null },
        "subscription": opt(f.subscription),
        "success_url": "https://shop.example.com/thanks?session_id={CHECKOUT_SESSION_ID}",
        "total_details": if mode == "setup" { Value::Null } else { json!({"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0}) },
        "ui_mode": "hosted",
        "url": if f.status == "open" { Value::from(format!("https://checkout.stripe.com/c/pay/{}", f.id)) } else { Value::Null },
        "adaptive_pricing": {"enabled": false},
        "discounts": [],
        "collected_information": null,
        "permissions": null,
        "wallet_options": null,
        "origin_context": null,
        "currency_conversion": null,
        "customer_account": null,
        "integration_identifier": null,
        "managed_payments": null,
    })
}
