//! Stripe → PostgreSQL end to end: the real connector, engine and writer against the fake
//! Stripe API and real PostgreSQL servers. Every stream is compared with the fake's truth,
//! field by field, after the backfill, after bursts of changes, across restarts, and under
//! the fake's fault knobs.

mod harness;
mod partitions;
mod truth;

use std::time::Duration;

use harness::{client, cluster, database, options, start, wait_for_truth, wait_live, SCHEMA};
use inlet_connectors::stripe::stream_names;
use inlet_core::Outcome;
use inlet_fakes::stripe::{FakeStripe, Options};
use inlet_postgres::writer::WriteOptions;
use inlet_testkit::{versions, wait_until_async};
use serde_json::{json, Value};

async fn fake(customers: usize) -> FakeStripe {
    let fake = FakeStripe::start(Options::default())
        .await
        .expect("fake stripe");
    fake.seed(customers);
    fake
}

fn all() -> Vec<&'static str> {
    stream_names()
}

fn first_id(fake: &FakeStripe, stream: &str) -> String {
    fake.objects(stream).expect("stream")[0]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_then_live_changes_match_the_fake_field_by_field() {
    for v in versions() {
        let db = database(cluster(v).await).await;
        let fake = fake(12).await;
        let sync = start(&db, options(&fake), WriteOptions::default()).await;
        wait_live(&db, all().len()).await;
        wait_for_truth(&db, &fake, &all()).await;

        // A burst of changes in every kind of way.
        let created = fake
            .create(
                "customer",
                json!({"email": "new@example.com", "name": "New"}),
            )
            .expect("create");
        let customers = fake.objects("customer").expect("customers");
        let (a, b) = (
            customers[1]["id"].as_str().expect("id"),
            customers[2]["id"].as_str().expect("id"),
        );
        fake.update("customer", a, json!({"email": "first@example.com"}))
            .expect("update");
        fake.update("customer", a, json!({"email": "second@example.com"}))
            .expect("same second");
        fake.delete("customer", b)
            .expect("delete, cancelling its subscriptions");
        let sub = first_id(&fake, "subscription");
        fake.update("subscription", &sub, json!({"metadata": {"plan": "gold"}}))
            .expect("update sub");
        fake.delete("subscription", &sub).expect("cancel");
        let product = fake
            .create("product", json!({"name": "Gizmo"}))
            .expect("product");
        fake.delete("product", product["id"].as_str().expect("id"))
            .expect("delete product");
        let pm = first_id(&fake, "payment_method");
        fake.delete("payment_method", &pm).expect("detach");
        let invoice = first_id(&fake, "invoice");
        fake.update("invoice", &invoice, json!({"description": "updated"}))
            .expect("invoice");
        assert!(created["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("cus_")));
        wait_for_truth(&db, &fake, &all()).await;

        let c = client(&db).await;
        let log: Vec<(String, String)> = c
            .query(&format!("select event_type, record_id from {SCHEMA}._sync_event where object_type = 'customer' order by id"), &[])
            .await
            .expect("events")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert!(
            log.contains(&("insert".into(), created["id"].as_str().expect("id").into())),
            "PG {v}: {log:?}"
        );
        assert!(
            log.contains(&("delete".into(), b.into())),
            "PG {v}: {log:?}"
        );
        let email: String = c
            .query_one(
                &format!("select email from {SCHEMA}.customer where id = $1"),
                &[&a],
            )
            .await
            .expect("row")
            .get(0);
        assert_eq!(
            email, "second@example.com",
            "PG {v}: two updates in one second end on the later"
        );
        let status: String = c
            .query_one(
                &format!("select status from {SCHEMA}.subscription where id = $1"),
                &[&sub],
            )
            .await
            .expect("a canceled subscription stays")
            .get(0);
        assert_eq!(status, "canceled");
        assert_eq!(sync.stop().await, Outcome::Stopped);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_during_backfill_and_live_lose_and_double_nothing() {
    for v in versions() {
        let db = database(cluster(v).await).await;
        let fake = fake(40).await;
        let mut opts = options(&fake);
        opts.pages_per_batch = 1;
        let c = client(&db).await;
        // Kill after some backfill batches, several times, changing data in between.
        for round in 0..3 {
            let sync = start(&db, opts.clone(), WriteOptions::default()).await;
            let before = written(&c).await;
            wait_until_async("some batches committed", Duration::from_secs(60), || {
                let c = &c;
                async move { written(c).await > before }
            })
            .await;
            sync.kill();
            fake.create(
                "customer",
                json!({"email": format!("r{round}@example.com")}),
            )
            .expect("create");
            let id = first_id(&fake, "charge");
            fake.update(
                "charge",
                &id,
                json!({"description": format!("round {round}")}),
            )
            .expect("update");
        }
        let sync = start(&db, opts, WriteOptions::default()).await;
        wait_live(&db, all().len()).await;
        wait_for_truth(&db, &fake, &all()).await;
        sync.kill();
        fake.create("customer", json!({"email": "after@example.com"}))
            .expect("create");
        let sync = start(&db, options(&fake), WriteOptions::default()).await;
        wait_for_truth(&db, &fake, &all()).await;
        let dup: i64 = c
            .query_one(&format!("select count(*) - count(distinct (event_type, record_id, payload)) from {SCHEMA}._sync_event"), &[])
            .await
            .expect("events")
            .get(0);
        assert_eq!(dup, 0, "PG {v}: no change logged twice");
        sync.stop().await;
    }
}

async fn written(c: &tokio_postgres::Client) -> i64 {
    c.query_one(
        &format!("select coalesce(sum(batch_seq), 0)::bigint from {SCHEMA}._sync_state"),
        &[],
    )
    .await
    .map(|r| r.get(0))
    .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_server_errors_drops_latency_and_lost_cursors_are_ridden_out() {
    let v = *versions().last().expect("a version");
    let db = database(cluster(v).await).await;
    let fake = fake(25).await;
    let mut opts = options(&fake);
    opts.pages_per_batch = 1;
    fake.faults().latency(Duration::from_millis(5));
    fake.faults().fail_next(6, 429);
    fake.faults().fail_next(4, 500);
    fake.faults().drop_next_connections(3);
    fake.faults().invalidate_cursor_next();
    let sync = start(&db, opts, WriteOptions::default()).await;
    wait_live(&db, all().len()).await;
    fake.faults().fail_next(3, 503);
    fake.create("customer", json!({"email": "during-faults@example.com"}))
        .expect("create");
    wait_for_truth(&db, &fake, &all()).await;
    sync.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_events_position_backfills_again() {
    let v = *versions().first().expect("a version");
    let db = database(cluster(v).await).await;
    let fake = fake(5).await;
    // An event exists, so the streams' place in the feed is an event Stripe can lose.
    fake.create("customer", json!({"email": "before@example.com"}))
        .expect("create");
    let sync = start(&db, options(&fake), WriteOptions::default()).await;
    wait_live(&db, all().len()).await;
    sync.stop().await;
    let stopped = unix_now();
    // While inlet is away, changes happen and their events expire.
    let gone = first_id(&fake, "customer");
    fake.delete("customer", &gone).expect("delete");
    fake.create("customer", json!({"email": "while-away@example.com"}))
        .expect("create");
    fake.faults().expire_events_before(unix_now() + 1);
    // Stripe's clock counts seconds: a copy made in the same second as the previous one
    // cannot tell which rows it did not see. Really, events expire after 30 days away.
    wait_until_async("a later second", Duration::from_secs(5), || async {
        unix_now() >= stopped + 2
    })
    .await;
    let sync = start(&db, options(&fake), WriteOptions::default()).await;
    wait_for_truth(&db, &fake, &all()).await;
    let c = client(&db).await;
    let logged: i64 = c
        .query_one(
            &format!("select count(*) from {SCHEMA}._sync_event where event_type = 'delete' and record_id = $1"),
            &[&gone],
        )
        .await
        .expect("log")
        .get(0);
    assert_eq!(logged, 1, "the delete the gap hid is in the change log");
    sync.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_a_permission_errors_that_stream_and_the_others_sync() {
    let v = *versions().last().expect("a version");
    let db = database(cluster(v).await).await;
    let fake = fake(5).await;
    let readable: Vec<&str> = all().into_iter().filter(|s| *s != "payout").collect();
    let mut opts = options(&fake);
    opts.api_key = fake.add_restricted_key(&[&readable[..], &["event"]].concat());
    let sync = start(&db, opts, WriteOptions::default()).await;
    wait_live(&db, all().len() - 1).await;
    wait_for_truth(&db, &fake, &readable).await;
    let c = client(&db).await;
    let row = c
        .query_one(
            &format!("select state, error from {SCHEMA}._sync_state where stream = 'payout'"),
            &[],
        )
        .await
        .expect("payout state");
    let (state, error): (String, Value) = (row.get(0), row.get(1));
    assert_eq!(state, "errored");
    let reason = error["reason"].as_str().expect("reason");
    assert!(
        reason.contains("rk_test_") && reason.contains("/v1/payouts"),
        "{reason}"
    );
    assert!(
        error["fix"]
            .as_str()
            .expect("fix")
            .contains("restricted key"),
        "{error}"
    );
    assert_eq!(error["retry_in_secs"], Value::Null, "a person must act");
    sync.stop().await;
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_batches_estimate_their_progress_from_the_account_age() {
    use futures_util::StreamExt;
    use inlet_connectors::stripe::StripeSource;
    use inlet_core::{Phase, Source};

    let fake = fake(400).await;
    let source = StripeSource::new(inlet_connectors::stripe::StripeOptions {
        pages_per_batch: 1,
        ..options(&fake)
    })
    .expect("source");
    let spec = source
        .discover()
        .await
        .expect("streams")
        .into_iter()
        .find(|s| s.name == "customer")
        .expect("customer stream");
    let mut batches = source.read(&spec, None);
    let mut seen = Vec::new();
    while let Some(batch) = batches.next().await {
        let batch = batch.expect("batch");
        if batch.phase == Phase::Live {
            break;
        }
        seen.push(batch.progress.expect("an estimate on every backfill batch"));
    }
    assert!(seen.len() >= 4, "a page per batch: {seen:?}");
    assert_eq!(seen.last(), Some(&1.0), "the last batch completes it");
    let before_last = &seen[..seen.len() - 1];
    assert!(
        before_last.windows(2).all(|w| w[0] <= w[1]) && before_last.iter().all(|p| *p < 1.0),
        "grows, and is never complete early: {seen:?}"
    );
    assert!(before_last[0] > 0.0 && before_last[0] < 0.5, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_deleted_while_its_payment_methods_are_listed_does_not_fail_the_backfill() {
    use futures_util::StreamExt;
    use inlet_connectors::stripe::StripeSource;
    use inlet_core::{Phase, Source};

    let fake = fake(60).await;
    // Slow answers: the page of customers is read, then each one's payment methods, one
    // request at a time; a customer of that page is deleted in between.
    fake.faults().latency(Duration::from_millis(20));
    let source = StripeSource::new(options(&fake)).expect("source");
    let spec = source
        .discover()
        .await
        .expect("streams")
        .into_iter()
        .find(|s| s.name == "payment_method")
        .expect("payment_method stream");
    // Newest first: the page's last customer is listed first and asked about last.
    let oldest = fake.objects("customer").expect("customers");
    let oldest = oldest
        .iter()
        .min_by_key(|c| c["created"].as_i64())
        .and_then(|c| c["id"].as_str())
        .expect("a customer")
        .to_string();
    let before = fake.requests();
    let reader = async {
        let mut batches = source.read(&spec, None);
        let mut ids = Vec::new();
        while let Some(batch) = batches.next().await {
            let batch = batch.expect("no error: a vanished customer is skipped");
            if batch.phase == Phase::Live {
                break;
            }
            ids.extend(batch.records.iter().map(|r| r.id.clone()));
        }
        ids
    };
    let deleter = async {
        wait_until_async(
            "the backfill under way",
            Duration::from_secs(20),
            || async { fake.requests() >= before + 5 },
        )
        .await;
        fake.delete("customer", &oldest).expect("delete");
    };
    let (ids, ()) = tokio::join!(reader, deleter);
    let truth: Vec<String> = fake
        .objects("payment_method")
        .expect("payment methods")
        .iter()
        .filter_map(|p| p["id"].as_str().map(String::from))
        .collect();
    for id in &truth {
        assert!(ids.contains(id), "{id} copied");
    }
}
