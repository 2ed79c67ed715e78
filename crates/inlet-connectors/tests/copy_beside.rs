//! The source a rebuild's copy reads beside the live one, for Stripe and Salesforce (HubSpot's
//! is in `hubspot_copy.rs`): the copy sends within the sync's budgets, and a Salesforce copy
//! shares the live source's login, which a rotated refresh token allows only once.

use std::sync::Arc;

use futures_util::StreamExt;
use inlet_connectors::registry::{Connector, Settings};
use inlet_connectors::salesforce::Salesforce;
use inlet_connectors::stripe::Stripe;
use inlet_core::{Phase, Source, StreamSpec};
use inlet_fakes::salesforce::{FakeSalesforce, Options as SalesforceOptions};
use inlet_fakes::stripe::{FakeStripe, Options as StripeOptions};
use serde_json::json;

/// `name`'s spec, as `source` describes it.
async fn spec(source: &Arc<dyn Source>, name: &str) -> StreamSpec {
    let specs = source.discover().await.expect("streams");
    specs.into_iter().find(|s| s.name == name).expect(name)
}

/// Reads `spec`'s backfill to its end: the records read.
async fn backfill(source: &Arc<dyn Source>, spec: &StreamSpec) -> usize {
    let mut batches = source.read(spec, None);
    let mut records = 0;
    while let Some(batch) = batches.next().await {
        let batch = batch.unwrap_or_else(|e| panic!("{}: {}", spec.name, e.message));
        if batch.phase == Phase::Live {
            break;
        }
        records += batch.records.len();
    }
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_copy_beside_the_live_source_shares_its_rate() {
    let fake = FakeStripe::start(StripeOptions::default())
        .await
        .expect("fake");
    fake.seed(1_200);
    // Stripe's budget is the account's: two sources each at 9 a second would send 18.
    fake.faults().rate_limit(Some(10.0));
    let settings = Settings {
        api_base: Some(fake.url()),
        api_key: fake.api_key(),
        rate_limit: Some(9.0),
        streams: Some(vec!["customer".into()]),
        ..Settings::default()
    };
    let live = Stripe.source(&settings).expect("source");
    let copy = live
        .beside()
        .expect("Stripe reads a copy beside the live source");
    let customer = spec(&live, "customer").await;
    let (read, copied) = tokio::join!(backfill(&live, &customer), backfill(&copy, &customer));
    let customers = fake.objects("customer").expect("customers").len();
    assert_eq!((read, copied), (customers, customers));
    assert!(fake.requests() >= 24, "{} requests", fake.requests());
    assert_eq!(fake.rate_limited(), 0, "no request refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_salesforce_copy_beside_the_live_source_logs_in_no_second_time() {
    let fake = FakeSalesforce::start(SalesforceOptions::default())
        .await
        .expect("fake");
    fake.seed(5);
    fake.rotate_refresh_tokens(true);
    let credentials = fake.credentials();
    let settings = Settings {
        api_base: Some(fake.login_url()),
        api_key: credentials.refresh_token,
        options: json!({ "client_id": credentials.client_id })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        ..Settings::default()
    };
    let live = Salesforce.source(&settings).expect("source");
    let account = spec(&live, "account").await;
    let token = fake.credentials().refresh_token;
    let copy = live
        .beside()
        .expect("Salesforce reads a copy beside the live source");
    assert_eq!(spec(&copy, "account").await.name, "account");
    assert!(backfill(&copy, &account).await > 0);
    assert_eq!(
        fake.credentials().refresh_token,
        token,
        "the copy used the live source's session: no login spent the token"
    );
    // Every session expires: both go on, on the login one of them makes.
    fake.expire_sessions();
    let (read, copied) = tokio::join!(backfill(&live, &account), backfill(&copy, &account));
    assert_eq!(read, copied);
    assert_ne!(fake.credentials().refresh_token, token, "logged in again");
}
