//! Conformance with Stripe's official Python library: the fake must behave so that the
//! real client pages, expands, creates, deletes, raises the right errors and verifies
//! webhook signatures exactly as against Stripe. The checks are in `tests/python/`;
//! `scripts/python-deps` installs the pinned library into the venv this test uses.

use std::path::PathBuf;
use std::time::Duration;

use inlet_fakes::stripe::{FakeStripe, Options};
use serde_json::{json, Value};

fn venv_python() -> PathBuf {
    let cache = std::env::var_os("INLET_CACHE")
        .map_or_else(|| PathBuf::from("/var/cache/inlet"), PathBuf::from);
    let python = cache.join("venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/python-deps (it installs Stripe's Python library for this test)",
        python.display()
    );
    python
}

fn ids(objects: &[Value]) -> Vec<Value> {
    objects.iter().map(|o| o["id"].clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_python_library_works_against_the_fake() {
    let python = venv_python();
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
    let dir = tempfile::tempdir().expect("tempdir");
    let truth_path = dir.path().join("truth.json");
    std::fs::write(&truth_path, truth.to_string()).expect("write truth");

    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/stripe_conformance.py");
    let child = tokio::process::Command::new(&python)
        .arg(&script)
        .env("FAKE_URL", stripe.url())
        .env("FAKE_KEY", stripe.api_key())
        .env("FAKE_RESTRICTED_KEY", &restricted)
        .env("FAKE_WEBHOOK_SECRET", stripe.webhook_secret())
        .env("FAKE_TRUTH", &truth_path)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), child)
        .await
        .expect("the Python checks finish within 4 minutes")
        .expect("run the venv's python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "Python checks failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(" passed, 0 failed"),
        "unexpected output:\n{stdout}\n{stderr}"
    );
    assert!(
        stripe.requests() > 50,
        "the library made only {} requests",
        stripe.requests()
    );
}
