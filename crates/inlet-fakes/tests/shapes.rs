//! Every resource the fake serves has exactly the top-level fields of Stripe's published
//! example object for it (`shared/stripe/fixtures3.json`), whether seeded or created.

use std::collections::BTreeSet;
use std::path::PathBuf;

use inlet_fakes::stripe::{FakeStripe, Options, Stream, STREAMS};
use serde_json::{json, Value};

fn fixtures() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/stripe/fixtures3.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn keys(object: &Value) -> BTreeSet<String> {
    object
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn fixture_keys(fixtures: &Value, stream: Stream) -> BTreeSet<String> {
    let example = &fixtures["resources"][stream.fixture_name()];
    assert!(
        example.is_object(),
        "no fixture for {}",
        stream.fixture_name()
    );
    keys(example)
}

#[tokio::test]
async fn seeded_objects_have_exactly_the_fixture_fields() {
    let fixtures = fixtures();
    let stripe = FakeStripe::start(Options {
        seed: 7,
        ..Options::default()
    })
    .await
    .expect("start");
    stripe.seed(400);
    for name in STREAMS {
        let stream = Stream::from_name(name).expect("stream");
        let expected = fixture_keys(&fixtures, stream);
        let objects = stripe.objects(name).expect("objects");
        assert!(!objects.is_empty(), "seed made no {name}");
        for object in &objects {
            let got = keys(object);
            assert_eq!(
                got,
                expected,
                "{name} {}: extra {:?}, missing {:?}",
                object["id"],
                got.difference(&expected).collect::<Vec<_>>(),
                expected.difference(&got).collect::<Vec<_>>()
            );
            assert_eq!(object["object"], json!(stream.object()), "{name}");
        }
    }
}

#[tokio::test]
async fn created_objects_have_exactly_the_fixture_fields() {
    let fixtures = fixtures();
    let stripe = FakeStripe::start(Options::default()).await.expect("start");
    stripe.seed(3);
    let customer = stripe
        .create("customer", json!({"email": "a@example.com"}))
        .expect("customer");
    let price = stripe.objects("price").expect("prices")[0]["id"].clone();
    let cus = customer["id"].clone();
    let sub = stripe
        .create("subscription", json!({"customer": cus}))
        .expect("subscription");
    let invoice = stripe
        .create("invoice", json!({"customer": cus}))
        .expect("invoice");
    let charge = stripe
        .create("charge", json!({"customer": cus, "amount": 1234}))
        .expect("charge");
    let made = [
        ("customer", customer.clone()),
        ("subscription", sub.clone()),
        ("subscription_item", stripe.create("subscription_item", json!({"subscription": sub["id"], "price": price})).expect("item")),
        ("invoice", invoice.clone()),
        ("invoice_line_item", stripe.create("invoice_line_item", json!({"invoice": invoice["id"], "price": price})).expect("line")),
        ("invoiceitem", stripe.create("invoiceitem", json!({"customer": cus, "price": price})).expect("ii")),
        ("charge", charge.clone()),
        ("refund", stripe.create("refund", json!({"charge": charge["id"], "amount": 100})).expect("refund")),
        ("dispute", stripe.create("dispute", json!({"charge": charge["id"]})).expect("dispute")),
        ("payment_intent", stripe.create("payment_intent", json!({"customer": cus, "amount": 500})).expect("pi")),
        ("setup_intent", stripe.create("setup_intent", json!({"customer": cus})).expect("seti")),
        ("payment_method", stripe.create("payment_method", json!({"customer": cus})).expect("pm")),
        ("payout", stripe.create("payout", json!({"amount": 10000})).expect("payout")),
        ("credit_note", stripe.create("credit_note", json!({"invoice": invoice["id"]})).expect("cn")),
        ("tax_rate", stripe.create("tax_rate", json!({})).expect("txr")),
        ("checkout_session", stripe.create("checkout_session", json!({"customer": cus})).expect("cs")),
        ("product", stripe.create("product", json!({"name": "Widget"})).expect("product")),
        ("price", stripe.create("price", json!({"product": stripe.objects("product").expect("p")[0]["id"], "unit_amount": 700})).expect("price")),
        ("plan", stripe.create("plan", json!({"amount": 900})).expect("plan")),
        ("coupon", stripe.create("coupon", json!({"percent_off": 20})).expect("coupon")),
    ];
    for (name, object) in made {
        let stream = Stream::from_name(name).expect("stream");
        let expected = fixture_keys(&fixtures, stream);
        let got = keys(&object);
        assert_eq!(
            got,
            expected,
            "{name}: extra {:?}, missing {:?}",
            got.difference(&expected).collect::<Vec<_>>(),
            expected.difference(&got).collect::<Vec<_>>()
        );
        let id = object["id"].as_str().expect("id");
        assert!(id.starts_with(stream.prefix()), "{name} id {id}");
    }
    let txn = &stripe.objects("balance_transaction").expect("txn")[0];
    assert_eq!(
        keys(txn),
        fixture_keys(&fixtures, Stream::BalanceTransaction)
    );
}
