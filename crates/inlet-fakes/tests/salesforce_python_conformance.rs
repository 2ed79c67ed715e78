//! Conformance with simple-salesforce, the most used Python client for Salesforce: the
//! fake must behave so that the real client logs in (username-password, a session id,
//! client credentials, JWT bearer), queries and pages, reads the Recycle Bin, describes,
//! runs Bulk API 2.0 query jobs and reads their CSV, reads getUpdated/getDeleted windows
//! and raises the right errors, exactly as against Salesforce. The checks are in
//! `tests/python/`; `scripts/python-deps` installs the pinned client into the venv this
//! test uses.

mod conformance;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use inlet_fakes::salesforce::{FakeSalesforce, Options};
use serde_json::{json, Value};

fn id(record: &Value) -> String {
    record["Id"].as_str().expect("an Id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_salesforce_works_against_the_fake() {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let salesforce = FakeSalesforce::start(Options {
        seed: 15,
        // Seeded history ends a day ago, so the window below holds only this test's changes.
        history_end_ms: Some(now_ms - 86_400_000),
        daily_limit: 50_000,
        bulk_processing: Duration::from_millis(300),
        ..Options::default()
    })
    .await
    .expect("start the fake");
    salesforce.seed(1_300);
    let accounts = salesforce.records("Account").expect("accounts");
    let (survivor, loser) = (id(&accounts[10]), id(&accounts[11]));
    salesforce
        .merge("Account", &survivor, std::slice::from_ref(&loser))
        .expect("merge");
    let fresh_deleted = id(&accounts[20]);
    salesforce
        .delete("Account", &fresh_deleted)
        .expect("delete");
    let purged = id(&accounts[21]);
    salesforce.delete("Account", &purged).expect("delete");
    salesforce.purge("Account", &purged).expect("purge");
    let updated = id(&accounts[30]);
    salesforce
        .update(
            "Account",
            std::slice::from_ref(&updated),
            &json!({"Name": "Renamed, \"quoted\"\nand two lines"}),
        )
        .expect("update");
    let window_start = (now_ms - 3_600_000) / 1000;

    let credentials = salesforce.credentials();
    let truth = json!({
        "accounts": salesforce.records("Account").expect("accounts"),
        "deleted": salesforce.deleted_ids("Account").expect("deleted"),
        "merged_survivor": survivor,
        "merged_loser": loser,
        "fresh_deleted": fresh_deleted,
        "purged": purged,
        "updated": updated,
        "window_start": window_start,
        "instance_url": salesforce.instance_url(),
        "session": salesforce.session(),
        "daily_limit": 50_000,
    });
    let env = [
        ("FAKE_URL", salesforce.login_url()),
        ("FAKE_CLIENT_ID", credentials.client_id.clone()),
        ("FAKE_CLIENT_SECRET", credentials.client_secret.clone()),
        ("FAKE_USERNAME", credentials.username.clone()),
        ("FAKE_PASSWORD", credentials.password.clone()),
    ];
    let stdout = conformance::run_checks(
        "simple-salesforce",
        "salesforce_conformance.py",
        &env,
        &truth,
    )
    .await;
    println!("{stdout}");
    assert!(
        salesforce.limit_refused() >= 1,
        "the last check spends the daily allocation"
    );
    assert!(
        salesforce.requests() > 30,
        "the client made only {} requests",
        salesforce.requests()
    );
}
