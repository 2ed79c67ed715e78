//! A HubSpot sync of a whole portal (every stream) through the schema lifecycle commands,
//! as `schema_lifecycle.rs` does for Stripe: `inlet sync rebuild` while the portal keeps
//! changing leaves every table (objects, associations, reference tables) equal to the
//! fake's truth, and a reader of the read role sees the contact table all through;
//! `inlet sync rename-schema` then moves the sync, with its data, and the changes made
//! after land in the new schema.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use inlet_fakes::hubspot::FakeHubSpot;
use inlet_postgres::sql::ident;
use inlet_testkit::{versions, wait_for, wait_until_async};
use serde_json::{json, Value};

mod common;
use common::hubspot::{converge_in, portal, reference_differences, PAIRS, TABLES};
use common::{text, Counting, Inlet};

/// Runs `inlet ARGS` to its end on a thread of its own (the fake answers meanwhile).
async fn command(inlet: &Inlet, args: &[&str]) -> std::process::Output {
    let mut cmd = inlet.cmd(args);
    tokio::task::spawn_blocking(move || cmd.output().expect("inlet"))
        .await
        .expect("join")
}

/// Runs `inlet ARGS` to its end while the portal keeps [`changing`]: the command's output,
/// and the last first name set.
async fn while_changing(
    inlet: &Inlet,
    fake: &FakeHubSpot,
    what: &str,
    args: &[&str],
) -> (std::process::Output, (String, String)) {
    let done = AtomicBool::new(false);
    tokio::join!(
        async {
            let out = command(inlet, args).await;
            done.store(true, Ordering::Relaxed);
            out
        },
        changing(fake, what, &done)
    )
}

/// The ids of a type's live records.
fn ids(fake: &FakeHubSpot, object: &str) -> Vec<String> {
    (fake.objects(object).expect("truth").iter())
        .filter_map(|o| o["id"].as_str().map(str::to_string))
        .collect()
}

/// Changes the portal every 100 ms until `done`: a contact's first name each time, and in
/// turn a contact created, a deal archived, a contact associated with a company and one
/// dissociated. Returns the last first name set, `(contact id, name)`.
async fn changing(fake: &FakeHubSpot, what: &str, done: &AtomicBool) -> (String, String) {
    let contacts = ids(fake, "contacts");
    let companies = ids(fake, "companies");
    let mut pace = tokio::time::interval(Duration::from_millis(100));
    let mut n = 0;
    let mut last = (String::new(), String::new());
    while !done.load(Ordering::Relaxed) || n == 0 {
        pace.tick().await;
        let id = &contacts[n % contacts.len()];
        let name = format!("{what}-{n}");
        fake.update("contacts", id, json!({ "firstname": name }))
            .expect("update");
        last = (id.clone(), name);
        match n % 4 {
            0 => {
                let email = format!("{what}-{n}@example.com");
                fake.create("contacts", json!({ "email": email }))
                    .expect("create");
            }
            1 => {
                if let Some(deal) = ids(fake, "deals").pop() {
                    fake.archive("deals", &deal).expect("archive");
                }
            }
            2 => {
                let company = &companies[n % companies.len()];
                fake.associate("contacts", id, "companies", company, None)
                    .expect("associate");
            }
            _ => {
                let links = fake.associations("contacts", "companies").expect("links");
                if let Some(l) = links.first() {
                    let (from, to) = (l["fromId"].as_str(), l["toId"].as_str());
                    fake.dissociate(
                        "contacts",
                        from.expect("from"),
                        "companies",
                        to.expect("to"),
                    )
                    .expect("dissociate");
                }
            }
        }
        n += 1;
    }
    last
}

/// Contact `id`'s first name in `schema` (`None`: no row, or no name).
async fn firstname(
    admin: &tokio_postgres::Client,
    schema: &str,
    (id, _): &(String, String),
) -> Option<String> {
    let sql = format!(
        "select firstname from {}.contact where id = $1",
        ident(schema)
    );
    admin
        .query_opt(&sql, &[id])
        .await
        .expect("contact")
        .and_then(|r| r.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_while_the_portal_changes_and_a_rename_keep_every_table_equal_to_the_truth() {
    let v = *versions().last().expect("a version");
    let c = common::cluster("hubspot-lifecycle", v).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(&[]);
    inlet.add_destination(c, &db);
    let fake = portal(200, 20).await;
    let token = fake.access_token();
    let out = inlet.sync_add(
        "hubspot",
        &fake.url(),
        &[
            "--source",
            "hubspot",
            "--set",
            "search_lag_ms=1000",
            "--set",
            "associations_secs=2",
        ],
        &[("HUBSPOT_ACCESS_TOKEN", token.as_str())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    inlet.set_in_sync("hubspot", "poll_interval_ms = 300\nrate_limit = 15\n");
    let _run = inlet.start(&["run"]);
    let admin = c.admin_db(&db).await;
    admin
        .execute("set timezone = 'UTC'", &[])
        .await
        .expect("utc");
    let started = std::time::Instant::now();
    converge_in(&fake, &admin, "hubspot", "after the backfill").await;
    println!("backfilled at {:?}", started.elapsed());

    // A reader of the read role counts contacts in a loop: never an error, never empty.
    let role = inlet.read_role();
    let reader = c.admin_db(&db).await;
    reader
        .execute(&format!("set role {}", ident(&role)), &[])
        .await
        .expect("the read role");
    let reading = Counting::start(reader, "select count(*) from hubspot.contact".into());

    // The portal keeps changing all through the rebuild, up to the swap and past it.
    let rebuild = ["sync", "rebuild", "hubspot", "--json"];
    let (out, last) = while_changing(&inlet, &fake, "rebuild", &rebuild).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    common::carried_out_by_the_run(&text(&out), "hubspot");
    let (reader, seen) = reading.stop().await;
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|n| *n > 0),
        "the reader saw an empty table: {:?}",
        seen.iter().filter(|n| **n == 0).count()
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let mut replaced: Vec<&str> = (report["report"]["replaced"]
        .as_array()
        .into_iter()
        .flatten())
    .filter_map(Value::as_str)
    .collect();
    let every: Vec<String> = (admin
        .query(
            "select stream from hubspot._sync_state order by stream",
            &[],
        )
        .await
        .expect("streams")
        .iter())
    .map(|r| r.get(0))
    .collect();
    assert!(every.len() > TABLES.len() + PAIRS.len(), "{every:?}");
    replaced.sort();
    assert_eq!(replaced, every, "every table rebuilt: {report}");
    let done: i64 = admin
        .query_one(
            "select count(*) from hubspot._sync_lifecycle where kind = 'rebuild' and state = 'done'",
            &[],
        )
        .await
        .expect("lifecycle")
        .get(0);
    assert_eq!(done, 1);
    println!("rebuilt at {:?}", started.elapsed());
    converge_in(&fake, &admin, "hubspot", "after the rebuild").await;
    assert_eq!(
        firstname(&admin, "hubspot", &last).await.as_deref(),
        Some(last.1.as_str())
    );
    println!("equal after the rebuild at {:?}", started.elapsed());

    // Rename while the changes go on.
    let rename = ["sync", "rename-schema", "hubspot", "hubspot 2"];
    let (out, _) = while_changing(&inlet, &fake, "rename", &rename).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    common::carried_out_by_the_run(&text(&out), "hubspot");
    assert!(
        text(&out).contains("drop schema \"hubspot\" cascade;"),
        "{}",
        text(&out)
    );
    println!("renamed at {:?}", started.elapsed());
    converge_in(
        &fake,
        &admin,
        "hubspot 2",
        "after the rebuild and the rename",
    )
    .await;
    wait_for(
        "the reference tables in the new schema",
        Duration::from_secs(60),
        || async {
            let found = reference_differences(&fake, &admin, "hubspot 2").await;
            match found.is_empty() {
                true => Ok(()),
                false => Err(format!("{found:#?}")),
            }
        },
    )
    .await;

    // The reader sees every table in the new schema.
    for table in (TABLES.iter().map(|(_, t)| *t)).chain(PAIRS.iter().map(|(_, _, t)| *t)) {
        let sql = format!("select count(*) from \"hubspot 2\".{table}");
        reader
            .query_one(&sql, &[])
            .await
            .unwrap_or_else(|e| panic!("the read role cannot read {table}: {e}"));
    }

    // Syncing goes on, into the new schema.
    let id = fake.objects("contacts").expect("contacts")[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    fake.update("contacts", &id, json!({"firstname": "Renamed"}))
        .expect("update");
    wait_until_async(
        "a change after the rename, in the new schema",
        Duration::from_secs(60),
        || async {
            admin
                .query_one(
                    "select firstname from \"hubspot 2\".contact where id = $1",
                    &[&id],
                )
                .await
                .is_ok_and(|r| r.get::<_, Option<String>>(0).as_deref() == Some("Renamed"))
        },
    )
    .await;
}
