//! Conformance with Stripe's official Python library: the fake must behave so that the
//! real client pages, expands, creates, deletes, raises the right errors and verifies
//! webhook signatures exactly as against Stripe. The checks are in `tests/python/`;
//! `scripts/python-deps` installs the pinned library into the venv this test uses.

mod conformance;

use inlet_fakes::stripe::{FakeStripe, Options};
use serde_json::{json, Value};

fn ids(objects: &[Value]) -> Vec<Value> {
    objects.iter().map(|o| o["id"].clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_python_library_works_against_the_fake() {
    let stripe = FakeStripe::start(Options {
        seed: 42,
        history_end: Some(1_790_000_000),
        ..Options::default()
    })
    .await
    .expect("start the fake");
    stripe.seed(300);
    let restricted = stripe.add_restricted_key(&["customer"]);

    let customers = stripe.objects("customer").expect("customers");
    let subscriptions = stripe.objects("subscription").expect("subscriptions");
    let invoices = stripe.objects("invoice").expect("invoices");
    let big = invoices
        .iter()
        .find(|i| i["lines"]["has_more"] == json!(true))
        .expect("the seed makes some invoices with more than 10 lines");
    let lines: Vec<Value> = stripe
        .objects("invoice_line_item")
        .expect("lines")
        .into_iter()
        .filter(|l| l["invoice"] == big["id"])
        .collect();
    let payment_method = stripe.objects("payment_method").expect("pms")[0]["id"].clone();
    let truth = json!({
        "customers": ids(&customers),
        "customer_emails": customers.iter().map(|c| c["email"].clone()).collect::<Vec<_>>(),
        "subscriptions": ids(&subscriptions),
        "subscriptions_not_canceled": subscriptions.iter().filter(|s| s["status"] != json!("canceled")).count(),
        "subscriptions_active": ids(&subscriptions.iter().filter(|s| s["status"] == json!("active")).cloned().collect::<Vec<_>>()),
        "big_invoice": big["id"],
        "big_invoice_lines": ids(&lines),
        "payment_method": payment_method,
    });
    let env = [
        ("FAKE_URL", stripe.url()),
        ("FAKE_KEY", stripe.api_key()),
        ("FAKE_RESTRICTED_KEY", restricted.clone()),
        ("FAKE_WEBHOOK_SECRET", stripe.webhook_secret()),
    ];
    conformance::run_checks(
        "Stripe's Python library",
        "stripe_conformance.py",
        &env,
        &truth,
    )
    .await;
    assert!(
        stripe.requests() > 50,
        "the library made only {} requests",
        stripe.requests()
    );
}
