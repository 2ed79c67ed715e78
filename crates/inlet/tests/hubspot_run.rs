//! HubSpot through the product's commands, against the fake HubSpot: `inlet sync add
//! --source hubspot` refuses a bad token before writing anything, `inlet run` backfills every
//! object type (custom ones too) with every property typed, survives a SIGKILL mid-backfill,
//! and follows updates, creates, archives, restores, merges, GDPR deletes, new properties
//! and thousands of changes sharing one millisecond, until each table (objects, every
//! association table, owners, pipelines, stages, enumeration options) equals the fake's
//! truth, with each change in `_sync_event`. A missing or revoked scope is named and stops
//! only its own stream.

use std::process::Stdio;
use std::time::Duration;

use inlet_fakes::hubspot::{FakeHubSpot, MutatorOptions, Options};
use inlet_testkit::{versions, wait_for, wait_until_async};
use serde_json::{json, Value};

mod common;
use common::hubspot::{converge, differences, portal, reference_differences, PAIRS};
use common::{text, Inlet, Running};

fn status(inlet: &Inlet) -> Value {
    tokio::task::block_in_place(|| inlet.status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_object_matches_the_fake_after_backfill_a_kill_and_live_changes() {
    let v = *versions().last().expect("a version");
    let c = common::cluster("hubspot", v).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(&[]);
    inlet.add_destination(c, &db);

    let fake = portal(1_000, 60).await;
    let base = fake.url();

    // A refused token: nothing written, the token never shown.
    let out = inlet.sync_add(
        "hubspot",
        &base,
        &["--source", "hubspot"],
        &[("HUBSPOT_ACCESS_TOKEN", "pat-na1-bogus-secret-0000")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!text(&out).contains("bogus-secret"), "{}", text(&out));
    assert!(!std::fs::read_to_string(inlet.config())
        .expect("config")
        .contains("[syncs"));

    let token = fake.access_token();
    let out = inlet.sync_add(
        "hubspot",
        &base,
        &[
            "--source",
            "hubspot",
            "--set",
            "search_lag_ms=2000",
            "--set",
            "reconcile_secs=3600",
            "--set",
            "associations_secs=2",
        ],
        &[("HUBSPOT_ACCESS_TOKEN", token.as_str())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    assert!(!config.contains(&token), "no token in inlet.toml");
    inlet.set_in_sync("hubspot", "poll_interval_ms = 300\nrate_limit = 15\n");

    // Slow enough that the backfill is still going when it is killed.
    fake.faults().latency(Duration::from_millis(150));
    let spawn = || inlet.start(&["run"]);
    let run = spawn();
    wait_until_async("some contacts copied", Duration::from_secs(120), || async {
        let s = status(&inlet);
        let streams = s["syncs"][0]["streams"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        streams.iter().any(|s| {
            s["stream"] == "contact"
                && s["rows"].as_i64().unwrap_or(0) > 0
                && s["state"] == "backfilling"
        })
    })
    .await;
    drop(run); // SIGKILL, mid-backfill
    fake.faults().latency(Duration::ZERO);
    let run = spawn();
    let admin = c.admin_db(&db).await;
    admin
        .execute("set timezone = 'UTC'", &[])
        .await
        .expect("utc");
    converge(&fake, &admin, "after the backfill").await;
    wait_until_async("every stream live", Duration::from_secs(60), || async {
        let s = status(&inlet);
        (s["syncs"][0]["streams"].as_array().into_iter().flatten()).all(|s| s["state"] == "live")
    })
    .await;

    // Every association pair has rows to compare (a pair the fake left empty proves little).
    for (from, to, table) in PAIRS {
        assert!(
            !fake.associations(from, to).expect("truth").is_empty(),
            "{table}: the fake has associations"
        );
    }
    // Reference tables: owners, pipelines with their stages, enumeration options' labels.
    wait_for(
        "the reference tables to equal the fake's",
        Duration::from_secs(60),
        || async {
            let found = reference_differences(&fake, &admin, "hubspot").await;
            match found.is_empty() {
                true => Ok(()),
                false => Err(format!("{found:#?}")),
            }
        },
    )
    .await;

    // Live: updates, creates, archives, restores, merges, a GDPR delete, a new property.
    let contacts: Vec<String> = (fake.objects("contacts").expect("contacts").iter())
        .filter_map(|o| o["id"].as_str().map(str::to_string))
        .collect();
    let first_name_before = (fake.objects("contacts").expect("contacts").iter())
        .find(|o| o["id"] == contacts[0].as_str())
        .and_then(|o| o["properties"]["firstname"].as_str().map(str::to_string))
        .filter(|n| !n.is_empty());
    fake.update("contacts", &contacts[0], json!({"firstname": "Changed"}))
        .expect("update");
    // A property emptied in HubSpot (an empty value clears it) is NULL in its column.
    let named = (fake.objects("contacts").expect("contacts").iter().skip(8))
        .find(|o| {
            o["properties"]["firstname"]
                .as_str()
                .is_some_and(|n| !n.is_empty())
        })
        .and_then(|o| o["id"].as_str().map(str::to_string))
        .expect("a contact with a first name");
    fake.update("contacts", &named, json!({"firstname": ""}))
        .expect("clear");
    let created = fake
        .create(
            "contacts",
            json!({"email": "new@example.com", "firstname": "New"}),
        )
        .expect("create");
    fake.archive("contacts", &contacts[1]).expect("archive");
    // Archived now, restored once it has left the table (below).
    fake.archive("contacts", &contacts[2]).expect("archive");
    fake.merge("contacts", &contacts[3], &contacts[4])
        .expect("merge");
    // A survivor archived before the sync reads it: no search shows its merged ids, and the
    // contact it absorbed must leave all the same.
    let (survivor, absorbed) = (&contacts[contacts.len() - 1], &contacts[contacts.len() - 2]);
    fake.merge("contacts", survivor, absorbed).expect("merge");
    fake.archive("contacts", survivor).expect("archive");
    fake.add_property("contacts", "favourite_number", "number", "number", &[])
        .expect("a new property");
    fake.update(
        "contacts",
        &contacts[6],
        json!({"favourite_number": "42.5"}),
    )
    .expect("update");
    let deals: Vec<String> = (fake.objects("deals").expect("deals").iter())
        .filter_map(|o| o["id"].as_str().map(str::to_string))
        .collect();
    fake.update("deals", &deals[0], json!({"dealname": "Bigger"}))
        .expect("update");
    // Association changes, which change neither record's modified date.
    let companies: Vec<String> = (fake.objects("companies").expect("companies").iter())
        .filter_map(|o| o["id"].as_str().map(str::to_string))
        .collect();
    let linked = fake.associations("contacts", "companies").expect("links");
    let (a, b) = (
        linked[0]["fromId"].as_str().expect("from").to_string(),
        linked[0]["toId"].as_str().expect("to").to_string(),
    );
    assert!(fake
        .dissociate("contacts", &a, "companies", &b)
        .expect("dissociate"));
    fake.associate("contacts", &contacts[7], "companies", &companies[1], None)
        .expect("associate");
    converge(&fake, &admin, "after live changes").await;
    let cleared: Option<String> = admin
        .query_one(
            "select firstname from hubspot.contact where id = $1",
            &[&named],
        )
        .await
        .expect("the emptied contact")
        .get(0);
    assert_eq!(cleared, None, "the emptied first name");
    let gone: i64 = admin
        .query_one(
            "select count(*) from hubspot.contact where id = any($1)",
            &[&vec![
                contacts[1].clone(),
                contacts[2].clone(),
                contacts[4].clone(),
                survivor.clone(),
                absorbed.clone(),
            ]],
        )
        .await
        .expect("query")
        .get(0);
    assert_eq!(gone, 0, "archived and merged contacts leave");
    let created_rows: i64 = admin
        .query_one(
            "select count(*) from hubspot.contact where id = $1",
            &[&created],
        )
        .await
        .expect("query")
        .get(0);
    assert_eq!(created_rows, 1, "a created contact is there");
    let logged: i64 = admin
        .query_one(
            "select count(*) from hubspot._sync_event where object_type = 'contact' and record_id = $1 and event_type = 'delete'",
            &[&contacts[1]],
        )
        .await
        .expect("events")
        .get(0);
    assert_eq!(logged, 1, "an archive is one delete in the change log");
    // Upserts are in the change log too: the update with the changed column (its value
    // before in old_record), the create as an insert with its record.
    let events = |id: String| {
        let admin = &admin;
        async move {
            let rows = admin
                .query(
                    "select event_type, payload from hubspot._sync_event \
                     where object_type = 'contact' and record_id = $1 order by id",
                    &[&id],
                )
                .await
                .expect("events");
            rows.iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, Value>(1)))
                .collect::<Vec<_>>()
        }
    };
    let updated = events(contacts[0].clone()).await;
    let kinds: Vec<&str> = updated.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["update"], "one update: {updated:?}");
    let payload = &updated[0].1;
    assert_eq!(payload["changes"]["firstname"], "Changed", "{payload}");
    assert_eq!(payload["record"]["firstname"], "Changed", "{payload}");
    assert_eq!(
        payload["old_record"]["firstname"].as_str(),
        first_name_before.as_deref(),
        "{payload}"
    );
    assert!(
        payload["changes"].get("email").is_none(),
        "only changed columns: {payload}"
    );
    let inserted = events(created.clone()).await;
    let kinds: Vec<&str> = inserted.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["insert"], "{inserted:?}");
    assert_eq!(inserted[0].1["record"]["email"], "new@example.com");
    assert_eq!(inserted[0].1["record"]["firstname"], "New");

    // The archived contact, restored: it comes back with every property (and its
    // associations), an insert in the change log after its delete.
    fake.restore("contacts", &contacts[2]).expect("restore");
    converge(&fake, &admin, "after a restore").await;
    let back = events(contacts[2].clone()).await;
    let kinds: Vec<&str> = back.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["delete", "insert"], "{back:?}");
    let truth = (fake.objects("contacts").expect("contacts").into_iter())
        .find(|o| o["id"] == contacts[2].as_str())
        .expect("restored in the fake");
    let email = |v: &Value| v.as_str().filter(|e| !e.is_empty()).map(str::to_string);
    assert_eq!(
        email(&back[1].1["record"]["email"]),
        email(&truth["properties"]["email"]),
        "{back:?}"
    );

    // A GDPR delete leaves no trace at HubSpot: the next reconciliation removes the row.
    drop(run);
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    assert!(config.contains("reconcile_secs = \"3600\""), "{config}");
    std::fs::write(
        inlet.config(),
        config.replace("reconcile_secs = \"3600\"", "reconcile_secs = \"2\""),
    )
    .expect("config");
    fake.gdpr_delete(&contacts[5]).expect("gdpr delete");
    let _run = spawn();
    converge(&fake, &admin, "after a GDPR delete").await;
}

/// Every fault the fake can inject, during the backfill and again while live changes flow:
/// the sync retries through each and ends equal to the truth, no stream errored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_429s_and_dropped_connections_lose_no_change() {
    let v = *versions().last().expect("a version");
    let c = common::cluster("hubspot", v).await;
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

    let inject = || {
        let faults = fake.faults();
        faults.fail_next(3, 429); // TEN_SECONDLY_ROLLING, as HubSpot words it
        faults.fail_next(3, 502);
        faults.fail_next(2, 503);
        faults.drop_next_connections(3);
    };
    let all_met = || async {
        wait_until_async(
            "every injected fault met",
            Duration::from_secs(60),
            || async { fake.faults().pending() == 0 },
        )
        .await
    };
    inject();
    let _run = inlet.start(&["run"]);
    all_met().await;
    wait_until_async("every stream live", Duration::from_secs(120), || async {
        let s = status(&inlet);
        let streams = s["syncs"][0]["streams"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        !streams.is_empty() && streams.iter().all(|s| s["state"] == "live")
    })
    .await;

    let changes = fake.start_mutator(MutatorOptions {
        every: Duration::from_millis(50),
        burst: 2,
        ..MutatorOptions::default()
    });
    inject();
    all_met().await;
    drop(changes);
    let admin = c.admin_db(&db).await;
    admin
        .execute("set timezone = 'UTC'", &[])
        .await
        .expect("utc");
    converge(&fake, &admin, "after every fault").await;
    // A stream may be waiting out a 429 of the portal's own 10-second budget at any instant
    // (shown as errored, with when it retries); none stays so.
    wait_for("no stream errored", Duration::from_secs(60), || async {
        let s = status(&inlet);
        let errored: Vec<&Value> = (s["syncs"][0]["streams"].as_array().into_iter().flatten())
            .filter(|s| s["state"] == "errored")
            .collect();
        match errored.is_empty() {
            true => Ok(()),
            false => Err(format!("{errored:#?}")),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_ten_thousand_changes_in_one_millisecond_all_land() {
    let v = *versions().last().expect("a version");
    let c = common::cluster("hubspot", v).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(&[]);
    inlet.add_destination(c, &db);
    let fake = portal(10_050, 20).await;
    let token = fake.access_token();
    let out = inlet.sync_add(
        "hubspot",
        &fake.url(),
        &[
            "--source",
            "hubspot",
            "--streams",
            "contact",
            "--set",
            "search_lag_ms=1000",
        ],
        &[("HUBSPOT_ACCESS_TOKEN", token.as_str())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let _run = inlet.start(&["run"]);
    let admin = c.admin_db(&db).await;
    admin
        .execute("set timezone = 'UTC'", &[])
        .await
        .expect("utc");
    wait_until_async("the contacts copied", Duration::from_secs(180), || async {
        differences(&fake, &admin, "contacts", "contact")
            .await
            .is_empty()
    })
    .await;
    // A bulk edit: every contact modified in the same millisecond, past search's cap.
    let ids: Vec<String> = (fake.objects("contacts").expect("contacts").iter())
        .filter_map(|o| o["id"].as_str().map(str::to_string))
        .collect();
    assert!(ids.len() > 10_000);
    fake.update_together("contacts", &ids, json!({"jobtitle": "Bulk"}))
        .expect("bulk");
    wait_until_async("every bulk change", Duration::from_secs(180), || async {
        let bulk: i64 = admin
            .query_one(
                "select count(*) from hubspot.contact where jobtitle = 'Bulk'",
                &[],
            )
            .await
            .expect("count")
            .get(0);
        bulk == ids.len() as i64
    })
    .await;
    assert!(differences(&fake, &admin, "contacts", "contact")
        .await
        .is_empty());
}

/// A token without a type's scope: the scope is named (not only the type) and the other
/// streams sync; a scope taken away while the sync runs stops its stream alone, with the
/// scope named in its state. The token comes from a variable the sync names
/// (`--api-key-env`): read at every run, never written anywhere, never shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_scope_is_named_and_the_other_streams_sync() {
    let v = *versions().last().expect("a version");
    let c = common::cluster("hubspot", v).await;
    let db = c.create_database().await;
    let fake = FakeHubSpot::start(Options {
        contact_properties: 20,
        search_lag: Duration::from_millis(100),
        ..Options::default()
    })
    .await
    .expect("fake");
    fake.seed(50);
    // Contacts and companies only: neither `tickets` nor `crm.objects.quotes.read`.
    let companies_scope = "crm.objects.companies.read";
    let token = fake.add_token(&["crm.objects.contacts.read", companies_scope]);
    let inlet = Inlet::new(&[("MY_HUBSPOT_TOKEN", token.as_str())]);
    inlet.add_destination(c, &db);
    let add = |var: &str| {
        inlet.sync_add(
            "hubspot",
            &fake.url(),
            &[
                "--source",
                "hubspot",
                "--api-key-env",
                var,
                "--streams",
                "contact,company,ticket,quote",
                "--set",
                "search_lag_ms=500",
            ],
            &[],
        )
    };
    let out = add("NOT_SET_ANYWHERE");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("$NOT_SET_ANYWHERE is not set"),
        "{}",
        text(&out)
    );
    let out = add("MY_HUBSPOT_TOKEN");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains(&token), "{}", text(&out));
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    assert!(
        config.contains("api_key_env = \"MY_HUBSPOT_TOKEN\""),
        "{config}"
    );
    inlet.set_in_sync("hubspot", "poll_interval_ms = 300\n");
    // Its log in a file of inlet's directory, so every file is searched for the token.
    let log = std::fs::File::create(inlet.dir.path().join("run.log")).expect("log");
    let _run = Running(
        inlet
            .cmd(&["run"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("inlet run"),
    );
    let live = |s: &Value, name: &str| {
        (s["syncs"][0]["streams"].as_array().into_iter().flatten())
            .any(|s| s["stream"] == name && s["state"] == "live")
    };
    wait_until_async(
        "contacts and companies live",
        Duration::from_secs(90),
        || async {
            let s = status(&inlet);
            let names: Vec<&str> = (s["syncs"][0]["streams"].as_array().into_iter().flatten())
                .filter_map(|s| s["stream"].as_str())
                .collect();
            names.len() == 2 && live(&s, "contact") && live(&s, "company")
        },
    )
    .await;
    let admin = c.admin_db(&db).await;
    admin
        .execute("set timezone = 'UTC'", &[])
        .await
        .expect("utc");
    assert!(differences(&fake, &admin, "contacts", "contact")
        .await
        .is_empty());
    let said = std::fs::read_to_string(inlet.dir.path().join("run.log")).expect("log");
    for needed in [
        "needs the scope tickets",
        "needs the scope crm.objects.quotes.read",
    ] {
        assert!(said.contains(needed), "the missing scope is named: {said}");
    }

    // The companies scope taken away while the sync runs: the company stream stops, its
    // state naming the scope and the fix; contacts go on syncing.
    assert!(fake.revoke_scope(&token, companies_scope));
    let id = fake.objects("contacts").expect("contacts")[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    fake.update("contacts", &id, json!({"firstname": "StillSyncing"}))
        .expect("update");
    wait_until_async("the contact's change", Duration::from_secs(60), || async {
        admin
            .query_one(
                "select firstname from hubspot.contact where id = $1",
                &[&id],
            )
            .await
            .is_ok_and(|r| r.get::<_, Option<String>>(0).as_deref() == Some("StillSyncing"))
    })
    .await;
    wait_for(
        "the company stream stopped, naming the scope",
        Duration::from_secs(60),
        || async {
            let s = status(&inlet);
            let company = (s["syncs"][0]["streams"].as_array().into_iter().flatten())
                .find(|s| s["stream"] == "company")
                .cloned()
                .unwrap_or_default();
            let reason = company["error"]["reason"].as_str().unwrap_or_default();
            let fix = company["error"]["fix"].as_str().unwrap_or_default();
            match company["state"] == "errored"
                && reason.contains(companies_scope)
                && fix.contains(companies_scope)
            {
                true => Ok(()),
                false => Err(format!("{company:#}")),
            }
        },
    )
    .await;
    assert!(live(&status(&inlet), "contact"), "contacts still live");
    // The token is nowhere: not in inlet's files (config, secrets, the run's log).
    assert!(
        !inlet.files_text().contains(&token),
        "the token was written to a file in inlet's directory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_app_syncs_and_expired_tokens_are_renewed() {
    let v = *versions().last().expect("a version");
    let c = common::cluster("hubspot", v).await;
    let db = c.create_database().await;
    let fake = FakeHubSpot::start(Options {
        contact_properties: 20,
        search_lag: Duration::from_millis(200),
        ..Options::default()
    })
    .await
    .expect("fake");
    fake.seed(50);
    let app = fake.oauth_app();
    // The client secret comes from a variable the config names; the refresh token is the key.
    let inlet = Inlet::new(&[("HUBSPOT_APP_SECRET", app.client_secret.as_str())]);
    inlet.add_destination(c, &db);
    let client_id = format!("oauth_client_id={}", app.client_id);
    let out = inlet.sync_add(
        "hubspot",
        &fake.url(),
        &[
            "--source",
            "hubspot",
            "--streams",
            "contact",
            "--set",
            &client_id,
            "--set",
            "oauth_client_secret_env=HUBSPOT_APP_SECRET",
            "--set",
            "search_lag_ms=1000",
        ],
        &[("HUBSPOT_ACCESS_TOKEN", app.refresh_token.as_str())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    assert!(!config.contains(&app.client_secret) && !config.contains(&app.refresh_token));
    let _run = inlet.start(&["run"]);
    let admin = c.admin_db(&db).await;
    admin
        .execute("set timezone = 'UTC'", &[])
        .await
        .expect("utc");
    wait_until_async("the contacts copied", Duration::from_secs(90), || async {
        differences(&fake, &admin, "contacts", "contact")
            .await
            .is_empty()
    })
    .await;
    // Every access token expires: the next requests are refused, the token is renewed.
    fake.expire_tokens();
    let id = fake.objects("contacts").expect("contacts")[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    fake.update("contacts", &id, json!({"firstname": "Renewed"}))
        .expect("update");
    wait_until_async(
        "the change after renewal",
        Duration::from_secs(60),
        || async {
            let name: Option<String> = admin
                .query_one(
                    "select firstname from hubspot.contact where id = $1",
                    &[&id],
                )
                .await
                .expect("row")
                .get(0);
            name.as_deref() == Some("Renewed")
        },
    )
    .await;
}
