//! A HubSpot source and the source a rebuild's copy reads beside it, against the fake
//! portal: the copy's requests are paced with the sync's (search's 5 a second is the
//! account's), streams starting together without a catalog find it out once, and a
//! catch-up has a table read again whole at once.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use inlet_connectors::hubspot::HubSpot;
use inlet_connectors::registry::{Connector, Settings};
use inlet_core::{Batch, Phase, Source, StreamSpec};
use inlet_fakes::hubspot::{Endpoint, FakeHubSpot, Options};

async fn portal() -> FakeHubSpot {
    let fake = FakeHubSpot::start(Options {
        contact_properties: 20,
        ..Options::default()
    })
    .await
    .expect("fake");
    fake.seed(200);
    fake
}

/// A whole-portal source of `fake`, at a rate no 10-second budget of the fake holds back.
fn source(fake: &FakeHubSpot) -> Arc<dyn Source> {
    let settings = Settings {
        api_base: Some(fake.url()),
        api_key: fake.access_token(),
        rate_limit: Some(15.0),
        ..Settings::default()
    };
    HubSpot.source(&settings).expect("source")
}

/// The object types' streams (their first batch asks search for the highest id).
fn objects(specs: Vec<StreamSpec>) -> Vec<StreamSpec> {
    let types = [
        "contact",
        "company",
        "deal",
        "ticket",
        "product",
        "line_item",
    ];
    (specs.into_iter())
        .filter(|s| types.contains(&s.name.as_str()) || s.name == "car")
        .collect()
}

/// Reads the first batch of each of `specs` from `source`, all at once.
async fn first_batches(source: &Arc<dyn Source>, specs: &[StreamSpec]) {
    let reads = specs.iter().map(|spec| async move {
        let mut stream = source.read(spec, None);
        let first = stream.next().await.expect("a first batch");
        first.unwrap_or_else(|e| panic!("{}: {}", spec.name, e.message));
    });
    futures_util::future::join_all(reads).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_beside_the_live_source_shares_searchs_five_a_second() {
    let fake = portal().await;
    let live = source(&fake);
    let specs = objects(live.discover().await.expect("streams"));
    assert_eq!(specs.len(), 7, "{specs:?}");
    let copy = live
        .beside()
        .expect("HubSpot reads a copy beside the live source");
    copy.discover().await.expect("streams");
    // Both backfills start at once: 14 searches, which two budgets of their own each sent
    // within the same second.
    tokio::join!(first_batches(&live, &specs), first_batches(&copy, &specs));
    assert!(fake.requests_to(Endpoint::Search) >= 14);
    assert_eq!(fake.search_rate_limited(), 0, "no search refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_starts_from_the_catalog_of_the_source_it_is_beside() {
    let fake = portal().await;
    let live = source(&fake);
    let specs = objects(live.discover().await.expect("streams"));
    let asked = fake.requests_to(Endpoint::Other);
    let copy = live.beside().expect("a copy");
    first_batches(&copy, &specs).await;
    assert_eq!(
        fake.requests_to(Endpoint::Other),
        asked,
        "no properties asked again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_starting_together_without_a_catalog_find_it_out_once() {
    let fake = portal().await;
    let specs = objects(source(&fake).discover().await.expect("streams"));
    let one_discovery = fake.requests_to(Endpoint::Other);
    let fresh = source(&fake);
    first_batches(&fresh, &specs).await;
    assert_eq!(
        fake.requests_to(Endpoint::Other),
        2 * one_discovery,
        "one discovery for the seven streams"
    );
}

/// The `read_ms` of a snapshot checkpoint (an association or reference table's pass).
fn read_ms(batch: &Batch) -> i64 {
    batch.checkpoint.0["read_ms"].as_i64().expect("a snapshot")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_reads_an_association_table_again_without_waiting_for_its_next_pass() {
    let fake = portal().await;
    // Passes 15 minutes apart, as by default.
    let live = source(&fake);
    let specs = live.discover().await.expect("streams");
    let spec = (specs.iter())
        .find(|s| s.name == "association_contact_company")
        .expect("the table");
    let mut stream = live.read(spec, None);
    let first = loop {
        let batch = stream.next().await.expect("a batch").expect("read");
        if batch.phase == Phase::Live {
            break read_ms(&batch); // the first pass is done
        }
    };
    live.catch_up();
    let again = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let batch = stream.next().await.expect("a batch").expect("read");
            if read_ms(&batch) > first {
                return read_ms(&batch);
            }
        }
    })
    .await;
    assert!(again.is_ok(), "no pass after the catch-up");
}
