//! What happens in a HubSpot portal while `inlet run` follows it, beyond records changing:
//! a property created gets its typed column at the next poll, a property whose type changes
//! has the sync rebuild its table, a signed webhook makes the sync read what it names at
//! once (changes, deletes, associations), and the slow passes (the archive read whole, a
//! reconciliation) do not hold changes back.

use std::time::Duration;

use inlet_connectors::hubspot::webhook::sign;
use inlet_fakes::hubspot::{Endpoint, FakeHubSpot, Options};
use inlet_testkit::{free_port, versions, wait_until_async};
use serde_json::json;

mod common;
use common::{text, Inlet};

/// A fake portal with `contacts` contacts, and an inlet with a `hubspot` sync of its
/// contacts polling every `poll_ms`, with the app's client secret (not yet running).
async fn portal(contacts: usize, poll_ms: u64) -> (FakeHubSpot, Inlet, tokio_postgres::Client) {
    portal_of(contacts, poll_ms, "contact").await
}

/// [`portal`], syncing `streams`.
async fn portal_of(
    contacts: usize,
    poll_ms: u64,
    streams: &str,
) -> (FakeHubSpot, Inlet, tokio_postgres::Client) {
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
    fake.seed(contacts);
    // The app's client secret, which HubSpot (and the fake) sign webhooks with.
    let secret = fake.oauth_app().client_secret;
    let inlet = Inlet::new(&[]);
    inlet.add_destination(c, &db);
    let token = fake.access_token();
    let out = inlet.sync_add(
        "hubspot",
        &fake.url(),
        &[
            "--source",
            "hubspot",
            "--streams",
            streams,
            "--set",
            "search_lag_ms=500",
        ],
        &[
            ("HUBSPOT_ACCESS_TOKEN", token.as_str()),
            ("HUBSPOT_CLIENT_SECRET", secret.as_str()),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    inlet.set_in_sync("hubspot", &format!("poll_interval_ms = {poll_ms}\n"));
    let admin = c.admin_db(&db).await;
    (fake, inlet, admin)
}

/// The type of `hubspot.contact`'s column `column` (`None`: no such column yet).
async fn column_type(admin: &tokio_postgres::Client, column: &str) -> Option<String> {
    admin
        .query_opt(
            "select data_type from information_schema.columns \
             where table_schema = 'hubspot' and table_name = 'contact' and column_name = $1",
            &[&column],
        )
        .await
        .expect("columns")
        .map(|r| r.get(0))
}

/// Contact `id`'s `column`, as text (`None`: no row, or no value).
async fn value(admin: &tokio_postgres::Client, id: &str, column: &str) -> Option<String> {
    let sql = format!("select \"{column}\"::text from hubspot.contact where id = $1");
    match admin.query_opt(&sql, &[&id]).await {
        Ok(row) => row.and_then(|r| r.get(0)),
        Err(_) => None, // the column is not there yet
    }
}

/// The ids in `hubspot.contact`, in order.
async fn contact_rows(admin: &tokio_postgres::Client) -> Vec<String> {
    let rows = admin
        .query("select id from hubspot.contact order by id", &[])
        .await
        .expect("rows");
    rows.iter().map(|r| r.get(0)).collect()
}

fn contact_ids(fake: &FakeHubSpot) -> Vec<String> {
    (fake.objects("contacts").expect("contacts").iter())
        .filter_map(|o| o["id"].as_str().map(str::to_string))
        .collect()
}

async fn contacts_live(inlet: &Inlet) {
    wait_until_async("contacts live", Duration::from_secs(90), || async {
        tokio::task::block_in_place(|| inlet.live("hubspot"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_property_gets_a_typed_column_and_a_retyped_one_rebuilds_the_table() {
    let (fake, inlet, admin) = portal(50, 300).await;
    let _run = inlet.start(&["run"]);
    contacts_live(&inlet).await;
    let ids = contact_ids(&fake);

    // Created in HubSpot while the sync runs: numeric from its first value on.
    fake.add_property("contacts", "favourite_number", "number", "number", &[])
        .expect("a new property");
    fake.update("contacts", &ids[0], json!({"favourite_number": "42.50"}))
        .expect("update");
    wait_until_async("the new property's value", Duration::from_secs(60), || {
        let (admin, id) = (&admin, &ids[0]);
        async move { value(admin, id, "favourite_number").await.as_deref() == Some("42.50") }
    })
    .await;
    assert_eq!(
        column_type(&admin, "favourite_number").await.as_deref(),
        Some("numeric"),
        "typed as HubSpot declares it, not as text"
    );

    // Its type changes to text: the table is rebuilt with a text column, every row kept.
    fake.change_property_type("contacts", "favourite_number", "string", "text")
        .expect("a new type");
    fake.update(
        "contacts",
        &ids[1],
        json!({"favourite_number": "forty-two"}),
    )
    .expect("update");
    wait_until_async("the rebuild for the new type", Duration::from_secs(120), || {
        let admin = &admin;
        async move {
            admin
                .query_one(
                    "select count(*) from hubspot._sync_lifecycle where kind = 'rebuild' and state = 'done' \
                     and reason like 'column types changed: contact.favourite_number%'",
                    &[],
                )
                .await
                .is_ok_and(|r| r.get::<_, i64>(0) == 1)
        }
    })
    .await;
    assert_eq!(
        column_type(&admin, "favourite_number").await.as_deref(),
        Some("text")
    );
    wait_until_async("the new type's value", Duration::from_secs(60), || {
        let (admin, id) = (&admin, &ids[1]);
        async move { value(admin, id, "favourite_number").await.as_deref() == Some("forty-two") }
    })
    .await;
    let rows: i64 = admin
        .query_one("select count(*) from hubspot.contact", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(rows as usize, ids.len(), "every contact is still there");
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_webhook_lands_a_change_long_before_the_next_poll() {
    // Ten minutes between polls: within the test's deadlines, only a webhook brings a change.
    let (fake, inlet, admin) = portal(50, 600_000).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let _run = inlet.start(&["run", "--listen", &listen]);
    contacts_live(&inlet).await;
    let id = contact_ids(&fake)[0].clone();
    let url = format!("http://{listen}/webhooks/hubspot/hubspot");

    // Deliveries not signed by the app's secret, or signed too long ago, are refused.
    let body = json!([{"eventId": 1, "subscriptionId": 7, "portalId": fake.portal_id(),
        "occurredAt": now_ms(), "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
        "objectId": id.parse::<u64>().expect("numeric id"), "propertyName": "firstname",
        "propertyValue": "Hooked", "changeSource": "CRM"}])
    .to_string();
    let http = reqwest::Client::new();
    let deliver = |secret: &str, at: i64| {
        let signature = sign("POST", &url, body.as_bytes(), at, secret);
        let request = http
            .post(&url)
            .header("Content-Type", "application/json")
            .header("X-HubSpot-Signature-v3", signature)
            .header("X-HubSpot-Request-Timestamp", at.to_string())
            .body(body.clone());
        async move {
            let response = request.send().await.expect("delivery");
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
    };
    let (status, said) = deliver("not-the-app-secret", now_ms()).await;
    assert_eq!(status, 401, "{said}");
    assert!(
        said.contains("does not match the app's client secret"),
        "{said}"
    );
    let secret = fake.oauth_app().client_secret;
    let (status, said) = deliver(&secret, now_ms() - 6 * 60_000).await;
    assert_eq!(status, 401, "{said}");
    assert!(said.contains("old, more than the 300 s"), "{said}");

    // HubSpot's own delivery of a change, as the fake sends it, signed v1 and v3. Search is
    // held: the change lands because the record is read by id, not waiting for the index.
    fake.hold(Endpoint::Search);
    fake.subscribe_webhooks(&url);
    fake.update("contacts", &id, json!({"firstname": "Hooked"}))
        .expect("update");
    wait_until_async(
        "the change the webhook told of",
        Duration::from_secs(60),
        || {
            let (admin, id) = (&admin, &id);
            async move { value(admin, id, "firstname").await.as_deref() == Some("Hooked") }
        },
    )
    .await;
    assert!(
        fake.webhook_events_delivered() >= 1,
        "inlet accepted the fake's delivery"
    );
    fake.release(Endpoint::Search);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_keep_landing_while_the_archive_and_a_reconciliation_are_read() {
    // Polls every 300 ms; the archive is read whole every 5 s, and the whole type every 2 s.
    let (fake, inlet, admin) = portal(50, 300).await;
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    let config = config.replace(
        "search_lag_ms = \"500\"",
        "search_lag_ms = \"500\"\nreconcile_secs = \"2\"",
    );
    std::fs::write(inlet.config(), config).expect("config");
    let _run = inlet.start(&["run"]);
    contacts_live(&inlet).await;
    let ids = contact_ids(&fake);

    // The archive, and the batch reads a reconciliation makes, answer only when released:
    // both passes stay in flight for as long as it takes (a large portal's take minutes).
    fake.hold(Endpoint::ListArchived);
    fake.hold(Endpoint::BatchRead);
    wait_until_async("both passes in flight", Duration::from_secs(60), || {
        let held = fake.held_requests();
        async move { held >= 2 }
    })
    .await;
    fake.update("contacts", &ids[0], json!({"firstname": "Meanwhile"}))
        .expect("update");
    wait_until_async(
        "a change made while both passes wait",
        Duration::from_secs(60),
        || {
            let (admin, id) = (&admin, &ids[0]);
            async move { value(admin, id, "firstname").await.as_deref() == Some("Meanwhile") }
        },
    )
    .await;
    assert!(fake.held_requests() >= 2, "both passes are still waiting");

    // Once HubSpot answers, the passes end, and what they found leaves the table: an
    // archived contact, and one deleted for GDPR (which leaves no trace but its absence).
    fake.archive("contacts", &ids[1]).expect("archive");
    fake.gdpr_delete(&ids[2]).expect("gdpr delete");
    fake.release(Endpoint::ListArchived);
    fake.release(Endpoint::BatchRead);
    wait_until_async("both contacts gone", Duration::from_secs(60), || {
        let (admin, gone) = (&admin, vec![ids[1].clone(), ids[2].clone()]);
        async move {
            (admin
                .query_one(
                    "select count(*) from hubspot.contact where id = any($1)",
                    &[&gone],
                )
                .await)
                .is_ok_and(|row| row.get::<_, i64>(0) == 0)
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_a_webhook_says_were_deleted_leave_at_once_once_hubspot_agrees() {
    // Ten minutes between polls, so the archive is read every 100 minutes and the whole type
    // once a day: within the test's deadlines only the webhooks can bring these deletes.
    let (fake, inlet, admin) = portal(50, 600_000).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let _run = inlet.start(&["run", "--listen", &listen]);
    contacts_live(&inlet).await;
    fake.subscribe_webhooks(&format!("http://{listen}/webhooks/hubspot/hubspot"));
    let ids = contact_ids(&fake);
    let (archived, erased, survivor, absorbed) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    // Deleted and restored at once: the webhook tells of a deletion HubSpot no longer agrees with.
    fake.archive("contacts", &ids[4]).expect("archive");
    fake.restore("contacts", &ids[4]).expect("restore");
    fake.archive("contacts", archived).expect("archive");
    fake.gdpr_delete(erased).expect("GDPR delete");
    fake.merge("contacts", survivor, absorbed).expect("merge");

    wait_until_async("the deleted contacts gone", Duration::from_secs(60), || {
        let admin = &admin;
        async move {
            let rows = contact_rows(admin).await;
            [archived, erased, absorbed]
                .iter()
                .all(|id| !rows.contains(id))
        }
    })
    .await;
    let mut truth = contact_ids(&fake);
    truth.sort();
    assert_eq!(
        contact_rows(&admin).await,
        truth,
        "the table is HubSpot's live contacts"
    );
    let logged: i64 = admin
        .query_one(
            "select count(*) from hubspot._sync_event where object_type = 'contact' \
             and event_type = 'delete' and record_id = any($1)",
            &[&vec![archived.clone(), erased.clone(), absorbed.clone()]],
        )
        .await
        .expect("events")
        .get(0);
    assert_eq!(logged, 3, "each removal in the change log once");
}

/// An association row: (from id, to id, type id).
type Link = (String, String, i64);

/// HubSpot's associations from `from` to `to` between live records, in order.
fn links_truth(fake: &FakeHubSpot, from: &str, to: &str) -> Vec<Link> {
    let id = |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let mut rows: Vec<Link> = (fake.associations(from, to))
        .expect("associations")
        .iter()
        .map(|a| {
            let type_id = a["typeId"].as_i64().expect("type");
            (id(&a["fromId"]), id(&a["toId"]), type_id)
        })
        .collect();
    rows.sort();
    rows
}

/// The rows of `hubspot.TABLE`, in order (`None` if it cannot be read yet).
async fn links(admin: &tokio_postgres::Client, table: &str) -> Option<Vec<Link>> {
    let sql = format!("select from_id, to_id, type_id from hubspot.{table} order by 1, 2, 3");
    let rows = admin.query(&sql, &[]).await.ok()?;
    Some(
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect(),
    )
}

/// Waits until each `(table, from type, to type)` holds what HubSpot has.
async fn links_as_hubspot_has_them(
    what: &str,
    fake: &FakeHubSpot,
    admin: &tokio_postgres::Client,
    tables: &[(&str, &str, &str)],
) {
    wait_until_async(what, Duration::from_secs(60), || async move {
        for (table, from, to) in tables {
            if links(admin, table).await != Some(links_truth(fake, from, to)) {
                return false;
            }
        }
        true
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn associations_a_webhook_tells_of_are_read_again_at_once() {
    // The association table is read whole every 15 minutes by default: within the test's
    // deadlines only the webhooks can bring these changes.
    let streams = "contact,company,association_contact_company";
    let (fake, inlet, admin) = portal_of(50, 600_000, streams).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let _run = inlet.start(&["run", "--listen", &listen]);
    contacts_live(&inlet).await;
    fake.subscribe_webhooks(&format!("http://{listen}/webhooks/hubspot/hubspot"));
    let before = links_truth(&fake, "contacts", "companies");
    let (linked_from, linked_to, _) = before.first().expect("an association").clone();
    let companies: Vec<String> = (fake.objects("companies").expect("companies").iter())
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    let other = (companies.iter())
        .find(|c| !before.iter().any(|(f, t, _)| *f == linked_from && t == *c))
        .expect("a company the contact is not associated with");
    fake.dissociate("contacts", &linked_from, "companies", &linked_to)
        .expect("dissociate");
    fake.associate("contacts", &linked_from, "companies", other, None)
        .expect("associate");
    assert_ne!(before, links_truth(&fake, "contacts", "companies"));
    let table = [("association_contact_company", "contacts", "companies")];
    links_as_hubspot_has_them(
        "the association table as HubSpot has it",
        &fake,
        &admin,
        &table,
    )
    .await;
}

/// Two association tables a contact can be on either side of: (table, from, to).
const BOTH_SIDES: [(&str, &str, &str); 2] = [
    ("association_contact_company", "contacts", "companies"),
    ("association_deal_contact", "deals", "contacts"),
];
const BOTH_SIDES_STREAMS: &str =
    "contact,company,deal,association_contact_company,association_deal_contact";

/// A contact on both sides: associated with a company, and a deal associated with it.
fn contact_on_both_sides(fake: &FakeHubSpot) -> String {
    let deal_links = links_truth(fake, "deals", "contacts");
    let company_links = links_truth(fake, "contacts", "companies");
    (deal_links.iter().map(|(_, to, _)| to))
        .find(|c| company_links.iter().any(|(from, _, _)| from == *c))
        .expect("a contact with a company and a deal")
        .clone()
}

/// Without webhooks, a restored record is found by the archive pass (it is no longer
/// there): its associations, and those of the records associated with it, come back then,
/// not at the next association pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_restored_without_a_webhook_brings_its_associations_back_at_the_archive_pass() {
    // Association tables are read whole every 15 minutes by default; the archive every 5 s.
    let (fake, inlet, admin) = portal_of(50, 300, BOTH_SIDES_STREAMS).await;
    let _run = inlet.start(&["run"]);
    contacts_live(&inlet).await;
    let tables = BOTH_SIDES;
    let contact = contact_on_both_sides(&fake);
    fake.archive("contacts", &contact).expect("archive");
    links_as_hubspot_has_them("its rows gone from both tables", &fake, &admin, &tables).await;
    fake.restore("contacts", &contact).expect("restore");
    let truth = |t: &(&str, &str, &str)| links_truth(&fake, t.1, t.2);
    assert!(tables.iter().all(|t| truth(t)
        .iter()
        .any(|(f, to, _)| *f == contact || *to == contact)));
    links_as_hubspot_has_them("its rows back in both tables", &fake, &admin, &tables).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_gone_takes_its_associations_and_one_restored_brings_them_back() {
    // Association tables are read whole every 15 minutes by default: within the test's
    // deadlines, only what the archive pass finds (every 5 s here) or a webhook can change
    // them.
    let (fake, inlet, admin) = portal_of(50, 300, BOTH_SIDES_STREAMS).await;
    let listen = format!("127.0.0.1:{}", free_port());
    let _run = inlet.start(&["run", "--listen", &listen]);
    contacts_live(&inlet).await;
    let tables = BOTH_SIDES;
    let contact = contact_on_both_sides(&fake);
    let deal_links = links_truth(&fake, "deals", "contacts");
    let company_links = links_truth(&fake, "contacts", "companies");

    // No webhook: the archive pass finds it gone, and its rows leave both tables.
    fake.archive("contacts", &contact).expect("archive");
    let truth = |t: &(&str, &str, &str)| links_truth(&fake, t.1, t.2);
    assert!(tables.iter().all(|t| truth(t)
        .iter()
        .all(|(f, to, _)| *f != contact && *to != contact)));
    links_as_hubspot_has_them("its rows gone from both tables", &fake, &admin, &tables).await;

    // Restored, and a webhook says so: its associations, and those of the deals
    // associated with it, are read again.
    fake.subscribe_webhooks(&format!("http://{listen}/webhooks/hubspot/hubspot"));
    fake.restore("contacts", &contact).expect("restore");
    assert!(tables.iter().all(|t| truth(t)
        .iter()
        .any(|(f, to, _)| *f == contact || *to == contact)));
    links_as_hubspot_has_them("its rows back in both tables", &fake, &admin, &tables).await;

    // Merged: the absorbed contact's rows leave, and the survivor's (its own and the
    // deals') are what HubSpot has now.
    let other = (company_links.iter().map(|(from, _, _)| from))
        .find(|c| **c != contact && deal_links.iter().any(|(_, to, _)| to == *c))
        .expect("another contact with a company and a deal")
        .clone();
    fake.merge("contacts", &contact, &other).expect("merge");
    links_as_hubspot_has_them("the merge in both tables", &fake, &admin, &tables).await;
}
