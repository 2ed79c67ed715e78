//! Conformance with HubSpot's official Python client (`hubspot-api-client`): the fake must
//! behave so that the real client pages with `get_all`, searches, batch-reads, reads
//! properties, owners, pipelines, schemas and associations, refreshes an OAuth token and
//! raises the right errors, exactly as against HubSpot. The checks are in `tests/python/`;
//! `scripts/python-deps` installs the pinned client into the venv this test uses.

mod conformance;

use std::time::Duration;

use inlet_fakes::hubspot::{FakeHubSpot, Limits, Options};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_python_client_works_against_the_fake() {
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
    let env = [
        ("FAKE_URL", hubspot.url()),
        ("FAKE_TOKEN", hubspot.access_token()),
        ("FAKE_SCOPED_TOKEN", scoped.clone()),
        ("FAKE_CLIENT_ID", oauth.client_id.clone()),
        ("FAKE_CLIENT_SECRET", oauth.client_secret.clone()),
        ("FAKE_REFRESH_TOKEN", oauth.refresh_token.clone()),
    ];
    let stdout = conformance::run_checks(
        "HubSpot's Python client",
        "hubspot_conformance.py",
        &env,
        &truth,
    )
    .await;
    println!("{stdout}");
    assert!(
        hubspot.requests() > 30,
        "the client made only {} requests",
        hubspot.requests()
    );
}
