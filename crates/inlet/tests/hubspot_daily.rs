//! HubSpot's daily API limit, through the product's commands, against the fake HubSpot: a
//! sync whose share of the account's daily limit (`api_share`) is spent waits for the day
//! to turn and says so in `inlet sync status`, as it does when HubSpot refuses calls with
//! `DAILY` (another app spent the account's limit); no stream fails and nothing is lost.
//! Days last seconds here (`INLET_TEST_HUBSPOT_DAY_SECS`), so they turn within a test.

use std::time::Duration;

use inlet_fakes::hubspot::{FakeHubSpot, Limits};
use inlet_testkit::{versions, wait_for, wait_until_async};
use serde_json::{json, Value};

mod common;
use common::hubspot::{converge_of, portal};
use common::{text, Inlet, Running};

/// The streams synced, and their tables.
const TABLES: [(&str, &str); 2] = [("contacts", "contact"), ("companies", "company")];

/// An inlet whose days last `day_secs`, with a `hubspot` sync of the contacts and companies
/// of a fake portal of `contacts` contacts, set with `extra`.
async fn setup(
    day_secs: &str,
    contacts: usize,
    extra: &[&str],
) -> (Inlet, FakeHubSpot, tokio_postgres::Client) {
    let v = *versions().last().expect("a version");
    let c = common::cluster("hubspot", v).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(&[("INLET_TEST_HUBSPOT_DAY_SECS", day_secs)]);
    inlet.add_destination(c, &db);
    let fake = portal(contacts, 10).await;
    let token = fake.access_token();
    let mut args = vec!["--source", "hubspot", "--streams", "contact,company"];
    args.extend_from_slice(extra);
    let out = inlet.sync_add(
        "hubspot",
        &fake.url(),
        &args,
        &[("HUBSPOT_ACCESS_TOKEN", token.as_str())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    inlet.set_in_sync("hubspot", "poll_interval_ms = 300\n");
    let admin = c.admin_db(&db).await;
    admin
        .execute("set timezone = 'UTC'", &[])
        .await
        .expect("utc");
    (inlet, fake, admin)
}

/// `inlet run`, its log kept for what a failed wait says.
fn run(inlet: &Inlet) -> Running {
    common::workers::worker(inlet, &inlet.dir.path().join("run.log"))
}

/// The end of `inlet run`'s log.
fn log_tail(inlet: &Inlet) -> String {
    let log = std::fs::read_to_string(inlet.dir.path().join("run.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The sync's `api` in `inlet sync status --json`, and the streams that errored.
fn api_status(inlet: &Inlet) -> (Value, Vec<Value>) {
    let s = tokio::task::block_in_place(|| inlet.status());
    let sync = &s["syncs"][0];
    let errored = (sync["streams"].as_array().into_iter().flatten())
        .filter(|s| s["state"] == "errored" || !s["error"].is_null())
        .cloned()
        .collect();
    (sync["api"].clone(), errored)
}

/// Waits until `inlet sync status --json` says the sync is paused for a reason containing
/// one of `why`, with when it goes on (and, if `backfilling`, while a stream backfills); no stream
/// may error meanwhile.
async fn paused_for(inlet: &Inlet, why: &[&str], backfilling: bool) -> Value {
    wait_for(
        &format!("status to say the sync is paused: {why:?}"),
        Duration::from_secs(90),
        || async {
            let (api, errored) = api_status(inlet);
            assert!(
                errored.is_empty(),
                "a paused sync is no error: {errored:#?}"
            );
            let streams = tokio::task::block_in_place(|| inlet.streams("hubspot"));
            let said = api["paused"]["reason"]
                .as_str()
                .is_some_and(|r| why.iter().any(|w| r.contains(w)))
                && api["paused"]["until"].as_str().is_some()
                && (!backfilling || streams.iter().any(|s| s["state"] == "backfilling"));
            match said {
                true => Ok(api),
                false => Err(format!("{api}\n{}", log_tail(inlet))),
            }
        },
    )
    .await
}

/// Waits until `inlet sync status` says every one of `words`, in words.
async fn says(inlet: &Inlet, words: &[&str], within: Duration) {
    wait_for("status to say why, in words", within, || async {
        let said = text(&inlet.run(&["sync", "status"]));
        match words.iter().all(|w| said.contains(w)) {
            true => Ok(()),
            false => Err(said),
        }
    })
    .await;
}

/// Waits until every table equals the truth, and no stream errored.
async fn converge(inlet: &Inlet, fake: &FakeHubSpot, db: &tokio_postgres::Client, what: &str) {
    // The sync names no association stream, so it keeps no association table.
    converge_of(fake, db, "hubspot", &TABLES, &[], what).await;
    let (_, errored) = api_status(inlet);
    assert!(errored.is_empty(), "no stream errored: {errored:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_api_share_pauses_the_backfill_until_the_day_turns_and_nothing_is_lost() {
    // 0.0025% of the 625,000 calls the account has a day: 15 calls a 10-second day, enough
    // to find the streams, far fewer than backfilling 20,000 contacts by list needs (search,
    // which the daily limit does not count, alone takes 20 s at its 5 requests a second).
    let (inlet, fake, admin) = setup("10", 20_000, &["--set", "api_share=0.000025"]).await;
    let refused = "api_share must be a number above 0 and at most 1";
    inlet.refuses_set("hubspot", "api_share=0", refused);

    let _run = run(&inlet);
    let api = paused_for(&inlet, &["api_share"], true).await;
    assert!(api["calls_today"].as_u64().is_some_and(|n| n > 0), "{api}");
    assert_eq!(api["day_calls"], 15, "{api}");
    // The pause ends each time a day turns: the words are waited for, as the JSON was.
    says(
        &inlet,
        &[
            "calls today of the 15 its share allows until",
            "paused until",
            "its share (api_share) of the HubSpot account's daily API limit",
        ],
        Duration::from_secs(60),
    )
    .await;
    // A change made while the sync waits lands too, once the days have turned.
    let contact = fake
        .create("contacts", json!({"firstname": "Later"}))
        .expect("create");
    converge(&inlet, &fake, &admin, "after the share's days turned").await;
    let held = admin
        .query_opt("select 1 from hubspot.contact where id = $1", &[&contact])
        .await
        .expect("query");
    assert!(held.is_some(), "the contact made while paused");
    // Search's own per-second limit may refuse a request on a busy machine; nothing else.
    assert_eq!(
        fake.rate_limited() - fake.search_rate_limited(),
        0,
        "the share paused the sync before HubSpot refused anything"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_refusing_with_daily_pauses_the_sync_which_catches_up_once_the_account_has_calls() {
    let (inlet, fake, admin) = setup("10", 5_000, &["--set", "api_share=1"]).await;
    let _run = run(&inlet);
    wait_until_async(
        "the backfill under way",
        Duration::from_secs(60),
        || async {
            let streams = tokio::task::block_in_place(|| inlet.streams("hubspot"));
            streams
                .iter()
                .any(|s| s["rows"].as_i64().is_some_and(|n| n > 0))
        },
    )
    .await;
    // Another app of the account spends its daily limit: HubSpot answers 429 DAILY.
    let spent = Limits {
        daily: 1,
        ..Limits::default()
    };
    fake.set_limits(spent);
    let contact = fake
        .create("contacts", json!({"firstname": "Meanwhile"}))
        .expect("create");
    paused_for(&inlet, &["HubSpot refused calls"], false).await;
    assert!(fake.rate_limited() >= 1, "HubSpot refused");
    says(
        &inlet,
        &[
            "paused until",
            "HubSpot refused calls for the account's daily API limit (DAILY)",
            "asks again every hour until the day turns",
        ],
        Duration::from_secs(30),
    )
    .await;
    // The account is asked again (hourly: a 24th of a day, here a second): still spent,
    // still paused, no error.
    let refused = fake.rate_limited();
    wait_until_async("HubSpot asked again", Duration::from_secs(30), || async {
        fake.rate_limited() > refused
    })
    .await;
    paused_for(&inlet, &["HubSpot refused calls", "has none left"], false).await;

    fake.set_limits(Limits::default());
    converge(&inlet, &fake, &admin, "once the account had calls again").await;
    let held = admin
        .query_opt("select 1 from hubspot.contact where id = $1", &[&contact])
        .await
        .expect("query");
    assert!(held.is_some(), "the contact made while refused");
}
