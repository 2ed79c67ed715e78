//! Conformance with HubSpot's official Python client (`hubspot-api-client`): the fake must
//! behave so that the real client pages with `get_all`, searches, batch-reads, reads
//! properties, owners, pipelines, schemas and associations, refreshes an OAuth token and
//! raises the right errors, exactly as against HubSpot. The checks are in `tests/python/`;
//! `scripts/python-deps` installs the pinned client into the venv this test uses.

use std::path::PathBuf;
use std::time::Duration;

use inlet_fakes::hubspot::{FakeHubSpot, Limits, Options};
use serde_json::json;

fn venv_python() -> PathBuf {
    let cache = std::env::var_os("INLET_CACHE")
        .map_or_else(|| PathBuf::from("/var/cache/inlet"), PathBuf::from);
    let python = cache.join("venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/python-deps (it installs HubSpot's Python client for this test)",
        python.display()
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_python_client_works_against_the_fake() {
    let python = venv_python();
    let hubspot = FakeHubSpot::start(Options {
        seed: 14,
        history_end_ms: Some(1_790_000_000_000),
        contact_properties: 120,
        limits: Limits {
            per_ten_seconds: 10_000,
            daily: 1_000_000,
            search_per_second: 1_000,
        },
        search_lag: Duration::ZERO,
        ..Options::default()
    })
    .await
    .expect("start the fake");
    hubspot.seed(350);
    let contacts = hubspot.objects("contacts").expect("contacts");
    // One archived contact, and one merged into another: the client must see HubSpot's
    // answers for both.
    let archived = contacts[3]["id"].as_str().expect("id").to_string();
    hubspot.archive("contacts", &archived).expect("archive");
    let (survivor, absorbed) = (
        contacts[5]["id"].as_str().expect("id").to_string(),
        contacts[6]["id"].as_str().expect("id").to_string(),
    );
    hubspot
        .merge("contacts", &survivor, &absorbed)
        .expect("merge");
    let scoped = hubspot.add_token(&["crm.objects.contacts.read"]);
    let oauth = hubspot.oauth_app();

    let truth = json!({
        "contacts": hubspot.objects("contacts").expect("contacts"),
        "archived": hubspot.archived("contacts").expect("archived"),
        "properties": hubspot.properties("contacts").expect("properties"),
        "contact_companies": hubspot.associations("contacts", "companies").expect("associations"),
        "deals": hubspot.objects("deals").expect("deals").len(),
        "cars": hubspot.objects("cars").expect("cars").len(),
        "survivor": survivor,
        "absorbed": absorbed,
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let truth_path = dir.path().join("truth.json");
    std::fs::write(&truth_path, truth.to_string()).expect("write truth");

    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/hubspot_conformance.py");
    let child = tokio::process::Command::new(&python)
        .arg(&script)
        .env("FAKE_URL", hubspot.url())
        .env("FAKE_TOKEN", hubspot.access_token())
        .env("FAKE_SCOPED_TOKEN", &scoped)
        .env("FAKE_CLIENT_ID", &oauth.client_id)
        .env("FAKE_CLIENT_SECRET", &oauth.client_secret)
        .env("FAKE_REFRESH_TOKEN", &oauth.refresh_token)
        .env("FAKE_TRUTH", &truth_path)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), child)
        .await
        .expect("the Python checks finish within 4 minutes")
        .expect("run the venv's python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "Python checks failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(" passed, 0 failed"),
        "unexpected output:\n{stdout}\n{stderr}"
    );
    println!("{stdout}");
    assert!(
        hubspot.requests() > 30,
        "the client made only {} requests",
        hubspot.requests()
    );
}
