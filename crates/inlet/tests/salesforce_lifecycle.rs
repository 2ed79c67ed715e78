//! A Salesforce sync through the schema lifecycle commands, as `schema_lifecycle.rs` does
//! for Stripe and `hubspot_lifecycle.rs` for HubSpot, with the org's connected app rotating
//! refresh tokens at every login: `inlet sync rebuild` while the org keeps changing (creates,
//! updates, deletes, undeletes, purges, merges) and its sessions expire leaves every
//! table equal to the fake's truth (but for cross-object formulas, which no poll sees
//! change) and logs no change twice, and a reader of the read role
//! sees the account table all through; `inlet sync rename-schema` then moves the sync, with
//! its data, and a change made after lands in the new schema.

use std::time::Duration;

use inlet_fakes::salesforce::{FakeSalesforce, MutatorOptions, Options};
use inlet_postgres::sql::ident;
use inlet_testkit::{versions, wait_until_async};
use serde_json::{json, Value};

mod common;
use common::salesforce::{add_sync, converge, converge_following, ids, utc_admin};
use common::{text, Counting, Inlet};

/// Runs `inlet ARGS` to its end while the org's mutator changes it every 100 ms, and
/// `during` beside it.
async fn while_changing(
    inlet: &Inlet,
    fake: &FakeSalesforce,
    args: &[&str],
    during: impl std::future::Future<Output = ()>,
) -> std::process::Output {
    let changes = fake.start_mutator(MutatorOptions {
        every: Duration::from_millis(100),
        burst: 2,
        schema_changes: false,
    });
    let mut cmd = inlet.cmd(args);
    let command = tokio::task::spawn_blocking(move || cmd.output().expect("inlet"));
    let (out, ()) = tokio::join!(command, during);
    drop(changes);
    out.expect("join")
}

/// The state of the sync's newest lifecycle request in `schema` (`None`: none yet).
async fn request_state(admin: &tokio_postgres::Client, schema: &str) -> Option<String> {
    let sql = format!(
        "select state from {}._sync_lifecycle order by id desc limit 1",
        ident(schema)
    );
    admin
        .query_opt(&sql, &[])
        .await
        .ok()
        .flatten()
        .map(|r| r.get(0))
}

/// Once the copy is under way, every session expires: the sync logs in again (the copy on
/// the live source's login), and the login rotates the refresh token.
async fn sessions_expire_during_the_copy(
    fake: &FakeSalesforce,
    admin: &tokio_postgres::Client,
    schema: &str,
) {
    wait_until_async("the copy under way", Duration::from_secs(60), || async {
        request_state(admin, schema).await.as_deref() == Some("copying")
    })
    .await;
    let before = fake.credentials().refresh_token;
    fake.expire_sessions();
    wait_until_async(
        "a login after the sessions expired",
        Duration::from_secs(30),
        || async { fake.credentials().refresh_token != before },
    )
    .await;
}

/// Updates logged more than once for the same record as it was (every field the same but
/// when inlet wrote it; two updates within one second share a `SystemModstamp`).
async fn logged_twice(admin: &tokio_postgres::Client, schema: &str) -> i64 {
    let sql = format!(
        "select count(*) from (select object_type, record_id, \
                  (payload->'record') - '_sync_updated_at' - '_sync_inserted_at' \
           from {}._sync_event where event_type = 'update' group by 1, 2, 3 having count(*) > 1) d",
        ident(schema)
    );
    admin.query_one(&sql, &[]).await.expect("change log").get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_while_the_org_changes_and_a_rename_keep_every_table_equal_to_the_truth() {
    let v = *versions().last().expect("a version");
    let c = common::cluster("salesforce-lifecycle", v).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(&[]);
    inlet.add_destination(c, &db);
    let fake = FakeSalesforce::start(Options::default())
        .await
        .expect("fake");
    fake.seed(60);
    fake.rotate_refresh_tokens(true);
    add_sync(&inlet, &fake, &fake.credentials().refresh_token, &[]);
    inlet.set_in_sync("salesforce", "poll_interval_ms = 300\nrate_limit = 50\n");
    let _run = inlet.start(&["run"]);
    let admin = utc_admin(c, &db).await;
    converge(&fake, &admin, "salesforce", "after the backfill").await;

    // A reader of the read role counts accounts in a loop: never an error, never empty.
    let reader = c.admin_db(&db).await;
    reader
        .execute(&format!("set role {}", ident(&inlet.read_role())), &[])
        .await
        .expect("the read role");
    let reading = Counting::start(reader, "select count(*) from salesforce.account".into());

    let rebuild = ["sync", "rebuild", "salesforce", "--json"];
    let expiring = sessions_expire_during_the_copy(&fake, &admin, "salesforce");
    let out = while_changing(&inlet, &fake, &rebuild, expiring).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    common::carried_out_by_the_run(&text(&out), "salesforce");
    let (reader, seen) = reading.stop().await;
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|n| *n > 0),
        "the reader saw an empty table {} times",
        seen.iter().filter(|n| **n == 0).count()
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let replaced = report["report"]["replaced"].as_array().cloned();
    assert!(
        replaced.is_some_and(|r| r.contains(&json!("account")) && r.contains(&json!("contact"))),
        "the tables rebuilt: {report}"
    );
    converge_following(&fake, &admin, "salesforce", "after the rebuild").await;
    assert_eq!(logged_twice(&admin, "salesforce").await, 0);

    let rename = ["sync", "rename-schema", "salesforce", "salesforce 2"];
    let out = while_changing(&inlet, &fake, &rename, async {}).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    common::carried_out_by_the_run(&text(&out), "salesforce");
    assert!(
        text(&out).contains("drop schema \"salesforce\" cascade;"),
        "{}",
        text(&out)
    );
    converge_following(&fake, &admin, "salesforce 2", "after the rename").await;
    assert_eq!(logged_twice(&admin, "salesforce 2").await, 0);
    reader
        .query_one("select count(*) from \"salesforce 2\".account", &[])
        .await
        .expect("the read role reads the new schema");

    // Syncing goes on, into the new schema.
    let contact = ids(&fake, "Contact")[0].clone();
    fake.update(
        "Contact",
        std::slice::from_ref(&contact),
        &json!({"LastName": "Renamed"}),
    )
    .expect("update");
    wait_until_async(
        "a change after the rename, in the new schema",
        Duration::from_secs(60),
        || async {
            admin
                .query_one(
                    "select lastname from \"salesforce 2\".contact where id = $1",
                    &[&contact],
                )
                .await
                .is_ok_and(|r| r.get::<_, Option<String>>(0).as_deref() == Some("Renamed"))
        },
    )
    .await;
}
