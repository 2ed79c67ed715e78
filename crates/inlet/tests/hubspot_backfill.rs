//! A HubSpot backfill reads by list and by search at once, each on its own budget, and a
//! SIGKILL in the middle of it loses no record: `inlet run` against the fake HubSpot, the
//! contact stream alone, killed while both endpoints are being read, then run again until
//! the table equals the fake's truth. A type with too many properties for a list URL is
//! listed for its ids and read whole by batch read.

use std::time::Duration;

use inlet_fakes::hubspot::{Endpoint, FakeHubSpot, ListCursors};
use inlet_testkit::{versions, wait_for, wait_until_async};

mod common;
use common::hubspot::{differences, portal};
use common::{text, Inlet};

fn contact_stream(inlet: &Inlet) -> serde_json::Value {
    let streams = tokio::task::block_in_place(|| inlet.streams("hubspot"));
    (streams.into_iter())
        .find(|s| s["stream"] == "contact")
        .unwrap_or_default()
}

/// An inlet with a `hubspot` sync of `fake`'s contacts (not yet running), and an admin
/// connection to its database, in UTC.
async fn sync_of_contacts(fake: &FakeHubSpot) -> (Inlet, tokio_postgres::Client) {
    let v = *versions().last().expect("a version");
    let c = common::cluster("hubspot-backfill", v).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(&[]);
    inlet.add_destination(c, &db);
    let token = fake.access_token();
    let out = inlet.sync_add(
        "hubspot",
        &fake.url(),
        &["--source", "hubspot", "--streams", "contact"],
        &[("HUBSPOT_ACCESS_TOKEN", token.as_str())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let admin = c.admin_db(&db).await;
    admin
        .execute("set timezone = 'UTC'", &[])
        .await
        .expect("utc");
    (inlet, admin)
}

/// Waits for the contact stream to be live and its table to hold every contact once: none
/// missing, none extra, every property as the fake holds it.
async fn live_and_equal_to_the_truth(
    inlet: &Inlet,
    fake: &FakeHubSpot,
    admin: &tokio_postgres::Client,
) {
    wait_until_async(
        "the contact stream live",
        Duration::from_secs(120),
        || async { contact_stream(inlet)["state"] == "live" },
    )
    .await;
    wait_for(
        "the contact table to equal the truth",
        Duration::from_secs(60),
        || async {
            let found = differences(fake, admin, "contacts", "contact").await;
            match found.is_empty() {
                true => Ok(()),
                false => Err(format!("{found:#?}")),
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_reads_by_list_and_search_at_once_and_resumes_after_a_kill() {
    let fake = portal(6_000, 60).await;
    let (inlet, admin) = sync_of_contacts(&fake).await;
    inlet.set_in_sync("hubspot", "poll_interval_ms = 300\nrate_limit = 10\n");

    // Slow enough that the backfill is still going when it is killed.
    fake.faults().latency(Duration::from_millis(300));
    let spawn = || inlet.start(&["run"]);
    let run = spawn();
    wait_until_async(
        "contacts copied by list and by search, the backfill still going",
        Duration::from_secs(120),
        || async {
            let s = contact_stream(&inlet);
            fake.requests_to(Endpoint::List) >= 2
                && fake.requests_to(Endpoint::Search) >= 3
                && s["rows"].as_i64().unwrap_or(0) > 0
                && s["state"] == "backfilling"
        },
    )
    .await;
    drop(run); // SIGKILL, mid-backfill
    let before = contact_stream(&inlet);
    assert_eq!(before["state"], "backfilling", "killed mid-backfill");
    let lists_at_kill = fake.requests_to(Endpoint::List);

    fake.faults().latency(Duration::from_millis(50));
    let _run = spawn();
    live_and_equal_to_the_truth(&inlet, &fake, &admin).await;
    let truth = fake.objects("contacts").expect("truth").len() as i64;
    let rows: i64 = admin
        .query_one("select count(*) from hubspot.contact", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(rows, truth);
    let (lists, searches) = (
        fake.requests_to(Endpoint::List),
        fake.requests_to(Endpoint::Search),
    );
    // 6,000 contacts: by search alone 30 pages of 200; here the list read a share too.
    assert!(
        lists > lists_at_kill,
        "the list went on after the restart: {lists_at_kill} then {lists}"
    );
    assert!(searches > 3, "search read its ranges: {searches}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_type_too_wide_for_a_list_url_is_listed_for_ids_and_batch_read() {
    // 500 properties: their names pass any list URL's length.
    let fake = portal(3_000, 500).await;
    let (inlet, admin) = sync_of_contacts(&fake).await;
    fake.faults().latency(Duration::from_millis(50));
    let _run = inlet.start(&["run"]);
    live_and_equal_to_the_truth(&inlet, &fake, &admin).await;
    let (lists, reads) = (
        fake.requests_to(Endpoint::List),
        fake.requests_to(Endpoint::BatchRead),
    );
    // Nothing else reads by batch here (no webhook, no reconciliation yet).
    assert!(
        lists > 0 && reads > 0,
        "listed ids, then read them whole: {lists} list pages, {reads} batch reads"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_listed_from_cursors_made_of_ids_keep_several_list_pages_in_flight() {
    let fake = portal(6_000, 60).await;
    let (inlet, admin) = sync_of_contacts(&fake).await;
    fake.faults().latency(Duration::from_millis(50));
    // Held after the first (which a backfill asks for as it starts, with the highest id),
    // the list's pages pile up: one cursor would have one waiting, never two.
    fake.hold_after(Endpoint::List, 1);
    let _run = inlet.start(&["run"]);
    wait_until_async(
        "two list pages in flight at once",
        Duration::from_secs(120),
        || async { fake.held_requests() >= 2 },
    )
    .await;
    fake.release(Endpoint::List);
    live_and_equal_to_the_truth(&inlet, &fake, &admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_that_takes_no_cursor_but_its_own_still_gives_a_whole_backfill() {
    // A list that refuses made cursors, and one that reads them as counts of records
    // (contacts' ids are sparse, so a count names a record further on): either way the
    // check finds out, search reads those ranges, and no contact is missing.
    for cursors in [ListCursors::Opaque, ListCursors::Offsets] {
        let fake = portal(3_000, 60).await;
        fake.set_list_cursors(cursors);
        let (inlet, admin) = sync_of_contacts(&fake).await;
        fake.faults().latency(Duration::from_millis(50));
        let _run = inlet.start(&["run"]);
        live_and_equal_to_the_truth(&inlet, &fake, &admin).await;
        assert!(
            fake.requests_to(Endpoint::List) > 1,
            "{cursors:?}: the list read its own range"
        );
        // Its first page, the made cursor not taken, then its own cursor on from there.
        assert!(
            fake.requests_to(Endpoint::List) > 2,
            "{cursors:?}: the list went on from its own cursor once the made one failed"
        );
    }
}
