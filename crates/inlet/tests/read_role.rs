//! A sync needs no read role: a sync user a DBA made by hand (`grant connect, create on
//! database` and nothing else) syncs; `destination verify` and `sync status` warn, with the
//! SQL that creates one; and a read role added later gets the tables that exist by then.

use std::process::Stdio;
use std::time::Duration;

use inlet_fakes::stripe::{FakeStripe, Options};
use inlet_testkit::{versions, wait_until};
use serde_json::Value;
use tokio::task::block_in_place;

mod common;
use common::{text, Inlet, Running};

const SYNC_USER: &str = "by_hand";
const SYNC_PASSWORD: &str = "Made-by-the-DBA-41";

// Multi-threaded: the fake Stripe answers while the test waits on inlet's commands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_runs_without_a_read_role_and_a_later_one_gets_the_tables() {
    let v = *versions().last().expect("a version");
    let c = common::cluster("readrole", v).await;
    c.create_user(SYNC_USER, SYNC_PASSWORD).await;
    let db = c.create_database().await;
    c.exec(&format!(
        "grant connect, create on database \"{db}\" to {SYNC_USER}"
    ))
    .await;

    let fake = FakeStripe::start(Options::default()).await.expect("fake");
    fake.seed(5);
    let inlet = Inlet::new(&[
        ("STRIPE_API_KEY", &fake.api_key()),
        ("INLET_DESTINATION_DEST_PASSWORD", SYNC_PASSWORD),
    ]);
    let port = c.port.to_string();
    let out = inlet.run(&[
        "destination",
        "add",
        "dest",
        "--host",
        c.host(),
        "--port",
        &port,
        "--dbname",
        &db,
        "--user",
        SYNC_USER,
        "--sslmode",
        "disable",
    ]);
    assert_eq!(out.status.code(), Some(0), "add: {}", text(&out));

    // verify: a warning (exit 0), with the SQL that makes a read role.
    let out = inlet.run(&["destination", "verify", "dest", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let verify: Value = serde_json::from_slice(&out.stdout).expect("verify json");
    let finding = read_role_warning(&verify["findings"]);
    assert!(
        finding["fix"]
            .as_str()
            .is_some_and(|f| f.contains("create role \"by_hand_read\" with nologin")),
        "{finding}"
    );

    let out = inlet.sync_add("stripe", &fake.url(), &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let log_path = inlet.dir.path().join("run.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let child = inlet
        .cmd(&["run"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("inlet run");
    let run = Running(child);
    let customers = fake.objects("customer").expect("customers").len() as i64;
    block_in_place(|| {
        wait_until("the customers synced", Duration::from_secs(120), || {
            inlet.rows("stripe") == customers
        })
    });
    let status = inlet.status();
    read_role_warning(&status["syncs"][0]["warnings"]);

    // A DBA adds the read role later, running the warning's fix as it is; the first grant
    // applies it to what was synced before.
    c.exec(finding["fix"].as_str().expect("a fix")).await;
    c.exec("create role reader_later login password 'Reader-9'")
        .await;
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    let config = config.replace(
        "[destinations.dest]\n",
        "[destinations.dest]\nread_role = \"by_hand_read\"\n",
    );
    std::fs::write(inlet.config(), config).expect("config");
    let out = inlet.run(&["destination", "grant", "dest", "reader_later"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let admin = c.admin_db(&db).await;
    let readable: bool = admin
        .query_one(
            "select has_table_privilege('reader_later', 'stripe.customer', 'select')",
            &[],
        )
        .await
        .expect("privilege")
        .get(0);
    assert!(readable, "the later read role can read the synced table");
    let status = inlet.status();
    assert_eq!(
        status["syncs"][0]["warnings"],
        Value::Array(vec![]),
        "{status}"
    );

    // What `inlet run` logged (info and above) is plain words too, and says why no grants.
    drop(run);
    let logged = std::fs::read_to_string(&log_path).expect("run log");
    inlet_testkit::assert_plain_words(&logged);
    assert!(logged.contains("no read role"), "{logged}");
}

/// The `read_role_missing` warning among `findings`.
fn read_role_warning(findings: &Value) -> Value {
    findings
        .as_array()
        .and_then(|all| all.iter().find(|f| f["check"] == "read_role_missing"))
        .filter(|f| f["severity"] == "warning")
        .cloned()
        .unwrap_or_else(|| panic!("no read_role_missing warning in {findings}"))
}
