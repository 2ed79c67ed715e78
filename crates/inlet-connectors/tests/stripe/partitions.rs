//! Backfills read in partitions: concurrency within the budget, 429 storms, ranges split
//! while objects are created and deleted in them, per-customer lists while customers go,
//! and a restart with some partitions complete and others not.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use futures_util::StreamExt;
use inlet_connectors::stripe::{StripeOptions, StripeSource};
use inlet_core::{Phase, Source};
use inlet_fakes::stripe::FakeStripe;
use inlet_postgres::writer::WriteOptions;
use inlet_testkit::{versions, wait_until_async};
use serde_json::{json, Value};

use super::fake;
use super::harness::{
    client, cluster, database, options, start, wait_for_truth, wait_live, SCHEMA,
};

fn only(fake: &FakeStripe, streams: &[&str], rate_limit: f64) -> StripeOptions {
    StripeOptions {
        streams: Some(streams.iter().map(|s| s.to_string()).collect()),
        rate_limit,
        pages_per_batch: 1,
        ..options(fake)
    }
}

fn ids(fake: &FakeStripe, stream: &str) -> BTreeSet<String> {
    let objects = fake.objects(stream).expect("stream");
    let ids = objects.iter().filter_map(|o| o["id"].as_str());
    ids.map(String::from).collect()
}

/// Reads `stream`'s backfill straight from the source: every record id, in order.
async fn backfill_ids(source: &StripeSource, stream: &str) -> Vec<String> {
    let spec = source
        .discover()
        .await
        .expect("streams")
        .into_iter()
        .find(|s| s.name == stream)
        .expect("stream");
    let mut batches = source.read(&spec, None);
    let mut ids = Vec::new();
    while let Some(batch) = batches.next().await {
        let batch = batch.expect("no error");
        if batch.phase == Phase::Live {
            break;
        }
        ids.extend(batch.records.iter().map(|r| r.id.clone()));
    }
    ids
}

fn counted(ids: &[String]) -> HashMap<&str, usize> {
    let mut seen = HashMap::new();
    for id in ids {
        *seen.entry(id.as_str()).or_insert(0) += 1;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_api_gets_concurrent_requests_within_its_budget_and_no_429() {
    let v = *versions().last().expect("a version");
    let db = database(cluster(v).await).await;
    let fake = fake(300).await;
    fake.faults().latency(Duration::from_millis(80));
    fake.faults().rate_limit(Some(60.0));
    let streams = ["customer", "payment_method", "invoice_line_item"];
    let sync = start(&db, only(&fake, &streams, 50.0), WriteOptions::default()).await;
    wait_live(&db, streams.len()).await;
    wait_for_truth(&db, &fake, &streams).await;
    assert_eq!(
        fake.rate_limited(),
        0,
        "under its budget, a sync sees no 429"
    );
    // One cursor at a time would have one request in flight; the budget (50/s at 80 ms)
    // calls for four or more.
    assert!(
        fake.in_flight_peak() >= 4,
        "requests in flight at once: {}",
        fake.in_flight_peak()
    );
    sync.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_endpoint_stays_under_its_own_limit_while_the_sync_uses_its_whole_budget() {
    let v = *versions().last().expect("a version");
    let db = database(cluster(v).await).await;
    let fake = fake(200).await;
    fake.faults().latency(Duration::from_millis(50));
    // Stripe's live limits: 100 requests a second, 25 of them to any one endpoint.
    fake.faults().rate_limit(Some(100.0));
    fake.faults().endpoint_rate_limit(Some(25.0));
    // Every customer's payment methods are one endpoint: 200 requests, which a sync at
    // 95 a second would send four times too fast.
    let streams = ["customer", "payment_method", "invoice", "invoice_line_item"];
    let options = StripeOptions {
        endpoint_rate_limit: 24.0,
        ..only(&fake, &streams, 95.0)
    };
    let sync = start(&db, options, WriteOptions::default()).await;
    wait_live(&db, streams.len()).await;
    wait_for_truth(&db, &fake, &streams).await;
    assert_eq!(
        fake.rate_limited(),
        0,
        "under each endpoint's limit, a sync sees no 429"
    );
    sync.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_with_partitions_in_flight_loses_and_doubles_nothing() {
    let v = *versions().first().expect("a version");
    let db = database(cluster(v).await).await;
    let fake = fake(200).await;
    fake.faults().latency(Duration::from_millis(10));
    // Far more asked for than allowed: the fake answers most requests 429.
    fake.faults().rate_limit(Some(25.0));
    let streams = ["customer", "payment_method", "invoice", "invoice_line_item"];
    let sync = start(&db, only(&fake, &streams, 1000.0), WriteOptions::default()).await;
    wait_live(&db, streams.len()).await;
    assert!(fake.rate_limited() > 0, "the storm happened");
    fake.faults().rate_limit(None);
    fake.create("customer", json!({"email": "after-the-storm@example.com"}))
        .expect("create");
    wait_for_truth(&db, &fake, &streams).await;
    sync.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_created_and_deleted_inside_ranges_being_read_are_neither_lost_nor_doubled() {
    let fake = fake(600).await;
    fake.faults().latency(Duration::from_millis(30));
    let source = StripeSource::new(only(&fake, &["customer"], 1000.0)).expect("source");
    let before = ids(&fake, "customer");
    // Every 20th customer by age, across the whole range the windows split.
    let mut by_age = fake.objects("customer").expect("customers");
    by_age.sort_by_key(|c| c["created"].as_i64());
    let doomed: Vec<String> = by_age
        .iter()
        .step_by(20)
        .filter_map(|c| c["id"].as_str().map(String::from))
        .collect();
    let requests = fake.requests();
    let changer = async {
        wait_until_async(
            "the backfill under way",
            Duration::from_secs(30),
            || async { fake.requests() >= requests + 4 },
        )
        .await;
        let mut created = Vec::new();
        for (n, id) in doomed.iter().enumerate() {
            fake.delete("customer", id).expect("delete");
            let new = fake
                .create("customer", json!({"email": format!("new{n}@example.com")}))
                .expect("create");
            created.extend(new["id"].as_str().map(String::from));
        }
        created
    };
    let (read, created) = tokio::join!(backfill_ids(&source, "customer"), changer);
    let seen = counted(&read);
    let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "listed twice: {doubled:?}");
    for id in before.iter().filter(|id| !doomed.contains(id)) {
        assert!(seen.contains_key(id.as_str()), "{id} lost");
    }
    // Anything else listed existed at some point: a doomed one before its delete, or a new one.
    for id in seen.keys() {
        assert!(
            before.contains(*id) || created.iter().any(|c| c == id),
            "{id} came from nowhere"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_methods_listed_concurrently_while_customers_are_deleted_miss_none_of_the_rest() {
    let fake = fake(300).await;
    fake.faults().latency(Duration::from_millis(30));
    let source = StripeSource::new(only(&fake, &["payment_method"], 1000.0)).expect("source");
    let customers = fake.objects("customer").expect("customers");
    let doomed: Vec<String> = customers
        .iter()
        .step_by(15)
        .filter_map(|c| c["id"].as_str().map(String::from))
        .collect();
    let requests = fake.requests();
    let deleter = async {
        wait_until_async(
            "the backfill under way",
            Duration::from_secs(30),
            || async { fake.requests() >= requests + 10 },
        )
        .await;
        for id in &doomed {
            fake.delete("customer", id).expect("delete");
        }
    };
    let (read, ()) = tokio::join!(backfill_ids(&source, "payment_method"), deleter);
    let seen = counted(&read);
    assert!(
        seen.values().all(|n| *n == 1),
        "a payment method listed twice"
    );
    // A deleted customer's payment methods go with it (the fake detaches them).
    for id in ids(&fake, "payment_method") {
        assert!(seen.contains_key(id.as_str()), "{id} lost");
    }
}

/// The customer stream's partitions in its stored checkpoint: (complete, still open).
async fn partitions(c: &tokio_postgres::Client) -> Option<(i64, usize)> {
    let sql = format!(
        "select checkpoint -> 'partitioned' -> 'parts' from {SCHEMA}._sync_state where stream = 'customer'"
    );
    let row = c.query_opt(&sql, &[]).await.ok()??;
    let parts: Value = row.get::<_, Option<Value>>(0)?;
    Some((parts["done"].as_i64()?, parts["open"].as_array()?.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_some_partitions_complete_and_others_not_resumes_each_and_completes() {
    for v in versions() {
        let db = database(cluster(v).await).await;
        let fake = fake(800).await;
        fake.faults().latency(Duration::from_millis(40));
        let opts = only(&fake, &["customer"], 1000.0);
        let c = client(&db).await;
        let sync = start(&db, opts.clone(), WriteOptions::default()).await;
        wait_until_async(
            "a partition complete while others are open",
            Duration::from_secs(60),
            || {
                let c = &c;
                async move {
                    matches!(partitions(c).await, Some((done, open)) if done >= 1 && open >= 2)
                }
            },
        )
        .await;
        sync.kill();
        let (done, open) = partitions(&c).await.expect("a partitioned checkpoint");
        fake.create("customer", json!({"email": "between@example.com"}))
            .expect("create");
        let sync = start(&db, opts, WriteOptions::default()).await;
        wait_live(&db, 1).await;
        wait_for_truth(&db, &fake, &["customer"]).await;
        assert!(
            done >= 1 && open >= 2,
            "PG {v}: killed with {done} done, {open} open"
        );
        sync.stop().await;
    }
}
