//! The fake HubSpot's semantics that a sync depends on, checked over real HTTP: the search
//! cap and indexing lag, many changes in one millisecond, rate budgets and their headers,
//! merges, archive/restore/GDPR delete, OAuth expiry, fault knobs, schema changes and
//! value validation.

use std::time::Duration;

use inlet_fakes::hubspot::{FakeHubSpot, Limits, MutatorOptions, Options, RESULT_CAP};
use inlet_testkit::wait_until_async;
use serde_json::{json, Value};

const END: i64 = 1_790_000_000_000;

async fn fake(contacts: usize, limits: Limits, lag: Duration) -> FakeHubSpot {
    let hubspot = FakeHubSpot::start(Options {
        seed: 3,
        history_end_ms: Some(END),
        contact_properties: 60,
        limits,
        search_lag: lag,
        ..Options::default()
    })
    .await
    .expect("start the fake");
    hubspot.seed(contacts);
    hubspot
}

fn generous() -> Limits {
    Limits {
        per_ten_seconds: 100_000,
        daily: 10_000_000,
        search_per_second: 100_000,
    }
}

/// One answer: status, headers, JSON body (`Null` when empty).
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn call(
    hubspot: &FakeHubSpot,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = client
        .request(method, format!("{}{path}", hubspot.url()))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("the fake answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    Reply {
        status,
        headers,
        body,
    }
}

async fn get(hubspot: &FakeHubSpot, path: &str) -> Reply {
    call(hubspot, &hubspot.access_token(), "GET", path, None).await
}

async fn post(hubspot: &FakeHubSpot, path: &str, body: Value) -> Reply {
    call(hubspot, &hubspot.access_token(), "POST", path, Some(body)).await
}

fn ids(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

fn header(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_changes_in_one_millisecond_hit_the_search_cap_and_an_id_keyset_reads_them_all() {
    let hubspot = fake(10_100, generous(), Duration::ZERO).await;
    let ids_all: Vec<String> = hubspot
        .objects("contacts")
        .expect("contacts")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect();
    let at = hubspot
        .update_together("contacts", &ids_all, json!({"jobtitle": "Bulk edit"}))
        .expect("bulk update");
    let window = |after: Value, above: &str| {
        json!({
            "filterGroups": [{"filters": [
                {"propertyName": "lastmodifieddate", "operator": "EQ", "value": at.to_string()},
                {"propertyName": "hs_object_id", "operator": "GT", "value": above},
            ]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": ["jobtitle"], "limit": 200, "after": after,
        })
    };
    let page = post(
        &hubspot,
        "/crm/v3/objects/contacts/search",
        window(json!(9_800), "0"),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        page.body["total"],
        json!(10_100),
        "total counts every match, past the cap"
    );
    assert_eq!(page.body["paging"]["next"]["after"], json!("10000"));
    assert!(
        header(&page, "x-hubspot-ratelimit-remaining").is_none(),
        "search answers carry no rate-limit headers"
    );
    let past = post(
        &hubspot,
        "/crm/v3/objects/contacts/search",
        window(json!(RESULT_CAP), "0"),
    )
    .await;
    assert_eq!(
        past.status, 400,
        "paging past 10,000 results is refused: {}",
        past.body
    );
    assert_eq!(past.body["category"], json!("VALIDATION_ERROR"));

    // What a sync does: restart the query above the last id it saw, until it runs dry.
    let mut seen: Vec<String> = Vec::new();
    let mut above = "0".to_string();
    loop {
        let mut after = 0;
        let mut last = None;
        loop {
            let page = post(
                &hubspot,
                "/crm/v3/objects/contacts/search",
                window(json!(after), &above),
            )
            .await;
            assert_eq!(page.status, 200, "{}", page.body);
            for result in page.body["results"].as_array().expect("results") {
                assert_eq!(result["properties"]["jobtitle"], json!("Bulk edit"));
                seen.push(result["id"].as_str().expect("id").to_string());
                last = Some(result["id"].as_str().expect("id").to_string());
            }
            match page.body["paging"]["next"]["after"].as_str() {
                Some(next) if next.parse::<usize>().expect("numeric offset") < RESULT_CAP => {
                    after = next.parse().expect("offset")
                }
                Some(_) => break,
                None => {
                    last = None;
                    break;
                }
            }
        }
        match last {
            Some(id) => above = id,
            None => break,
        }
    }
    assert_eq!(
        seen, ids_all,
        "every record sharing the millisecond, once each, in id order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_reaches_search_only_after_the_indexing_lag() {
    let hubspot = fake(200, generous(), Duration::from_secs(3600)).await;
    let contacts = hubspot.objects("contacts").expect("contacts");
    let (changed, archived) = (
        contacts[0]["id"].as_str().expect("id"),
        contacts[1]["id"].as_str().expect("id"),
    );
    hubspot
        .update("contacts", changed, json!({"jobtitle": "Lagging"}))
        .expect("update");
    hubspot.archive("contacts", archived).expect("archive");
    let by_title = json!({"filterGroups": [{"filters": [{"propertyName": "jobtitle", "operator": "EQ", "value": "Lagging"}]}]});
    let by_id = json!({"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": archived}]}]});
    let read = get(
        &hubspot,
        &format!("/crm/v3/objects/contacts/{changed}?properties=jobtitle"),
    )
    .await;
    assert_eq!(
        read.body["properties"]["jobtitle"],
        json!("Lagging"),
        "reads see the change at once"
    );
    let search = post(
        &hubspot,
        "/crm/v3/objects/contacts/search",
        by_title.clone(),
    )
    .await;
    assert_eq!(
        search.body["total"],
        json!(0),
        "search does not see it yet: {}",
        search.body
    );
    let search = post(&hubspot, "/crm/v3/objects/contacts/search", by_id.clone()).await;
    assert_eq!(
        search.body["total"],
        json!(1),
        "an archived record stays in search until indexed"
    );
    hubspot.index_now();
    let search = post(&hubspot, "/crm/v3/objects/contacts/search", by_title).await;
    assert_eq!(ids(&search.body), vec![changed.to_string()]);
    let search = post(&hubspot, "/crm/v3/objects/contacts/search", by_id).await;
    assert_eq!(
        search.body["total"],
        json!(0),
        "archived records never appear in search"
    );

    // With a short lag, the change shows up on its own.
    hubspot.set_search_lag(Duration::from_millis(300));
    hubspot
        .update("contacts", changed, json!({"jobtitle": "Soon"}))
        .expect("update");
    let soon = json!({"filterGroups": [{"filters": [{"propertyName": "jobtitle", "operator": "EQ", "value": "Soon"}]}]});
    let fake = hubspot.clone();
    wait_until_async(
        "the change to reach search",
        Duration::from_secs(30),
        || {
            let (fake, soon) = (fake.clone(), soon.clone());
            async move {
                post(&fake, "/crm/v3/objects/contacts/search", soon)
                    .await
                    .body["total"]
                    == json!(1)
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_budgets_count_down_in_headers_and_refuse_with_the_policy_name() {
    let hubspot = fake(
        50,
        Limits {
            per_ten_seconds: 5,
            daily: 1_000,
            search_per_second: 2,
        },
        Duration::ZERO,
    )
    .await;
    for left in (0..5).rev() {
        let reply = get(&hubspot, "/crm/v3/objects/contacts?limit=1").await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            header(&reply, "x-hubspot-ratelimit-remaining"),
            Some(left.to_string())
        );
        assert_eq!(
            header(&reply, "x-hubspot-ratelimit-max"),
            Some("5".to_string())
        );
        assert_eq!(
            header(&reply, "x-hubspot-ratelimit-interval-milliseconds"),
            Some("10000".to_string())
        );
        assert_eq!(
            header(&reply, "x-hubspot-ratelimit-daily"),
            Some("1000".to_string())
        );
        assert!(header(&reply, "x-hubspot-correlation-id").is_some());
    }
    let refused = get(&hubspot, "/crm/v3/objects/contacts?limit=1").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.body["policyName"], json!("TEN_SECONDLY_ROLLING"));
    assert_eq!(refused.body["errorType"], json!("RATE_LIMIT"));
    assert_eq!(
        header(&refused, "x-hubspot-ratelimit-remaining"),
        Some("0".to_string())
    );
    assert_eq!(hubspot.rate_limited(), 1);

    // Search is outside the 10-second budget but has its own per-second one.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let reply = post(
            &hubspot,
            "/crm/v3/objects/contacts/search",
            json!({"limit": 1}),
        )
        .await;
        assert!(header(&reply, "x-hubspot-ratelimit-remaining").is_none());
        statuses.push(reply.status);
        if reply.status == 429 {
            assert_eq!(
                reply.body["policyName"],
                json!("SECONDLY"),
                "{}",
                reply.body
            );
            break;
        }
    }
    assert_eq!(
        statuses.first(),
        Some(&200),
        "search works while the 10-second budget is spent"
    );
    assert_eq!(
        statuses.last(),
        Some(&429),
        "a burst of searches meets the per-second limit: {statuses:?}"
    );

    hubspot.set_limits(Limits {
        per_ten_seconds: 100,
        daily: 5,
        search_per_second: 2,
    });
    let daily = get(&hubspot, "/crm/v3/objects/contacts?limit=1").await;
    assert_eq!(daily.status, 429);
    assert_eq!(daily.body["policyName"], json!("DAILY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_hides_the_absorbed_record_moves_its_associations_and_reads_land_on_the_survivor() {
    let hubspot = fake(100, generous(), Duration::ZERO).await;
    let contacts = hubspot.objects("contacts").expect("contacts");
    let (survivor, absorbed) = (
        contacts[0]["id"].as_str().expect("id"),
        contacts[1]["id"].as_str().expect("id"),
    );
    let companies_before: Vec<Value> = hubspot
        .associations("contacts", "companies")
        .expect("assoc")
        .into_iter()
        .filter(|a| a["fromId"] == json!(absorbed))
        .map(|a| a["toId"].clone())
        .collect();
    assert!(
        !companies_before.is_empty(),
        "the seed links every contact to a company"
    );
    let merged = post(
        &hubspot,
        "/crm/v3/objects/contacts/merge",
        json!({"primaryObjectId": survivor, "objectIdToMerge": absorbed}),
    )
    .await;
    assert_eq!(merged.status, 200, "{}", merged.body);
    assert_eq!(merged.body["id"], json!(survivor));

    let read = get(
        &hubspot,
        &format!("/crm/v3/objects/contacts/{absorbed}?properties=hs_merged_object_ids"),
    )
    .await;
    assert_eq!(
        read.body["id"],
        json!(survivor),
        "the absorbed id reads as the survivor"
    );
    assert_eq!(
        read.body["properties"]["hs_merged_object_ids"],
        json!(absorbed)
    );
    let live: Vec<String> = hubspot
        .objects("contacts")
        .expect("contacts")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect();
    assert!(!live.contains(&absorbed.to_string()), "not in the truth");
    let listed = get(&hubspot, "/crm/v3/objects/contacts?limit=100").await;
    assert!(
        !ids(&listed.body).contains(&absorbed.to_string()),
        "not listed"
    );
    let archived = get(&hubspot, "/crm/v3/objects/contacts?archived=true").await;
    assert!(ids(&archived.body).is_empty(), "not archived either");
    let search = post(&hubspot, "/crm/v3/objects/contacts/search", json!({"filterGroups": [{"filters": [{"propertyName": "hs_merged_object_ids", "operator": "HAS_PROPERTY"}]}]})).await;
    assert_eq!(
        ids(&search.body),
        vec![survivor.to_string()],
        "syncs find merges by hs_merged_object_ids"
    );
    let moved = post(
        &hubspot,
        "/crm/v4/associations/contacts/companies/batch/read",
        json!({"inputs": [{"id": survivor}, {"id": absorbed}]}),
    )
    .await;
    assert_eq!(
        moved.status, 207,
        "the absorbed id has no associations of its own: {}",
        moved.body
    );
    let to: Vec<Value> = moved.body["results"][0]["to"]
        .as_array()
        .expect("to")
        .iter()
        .map(|t| t["toObjectId"].clone())
        .collect();
    for company in companies_before {
        assert!(to.contains(&company), "{company} moved to the survivor");
    }
    let again = post(
        &hubspot,
        "/crm/v3/objects/contacts/merge",
        json!({"primaryObjectId": survivor, "objectIdToMerge": absorbed}),
    )
    .await;
    assert_eq!(
        again.status, 400,
        "merging a record into itself is refused: {}",
        again.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_restore_and_gdpr_delete_behave_as_hubspot_does() {
    let hubspot = fake(60, generous(), Duration::ZERO).await;
    let contacts = hubspot.objects("contacts").expect("contacts");
    let (one, two) = (
        contacts[0]["id"].as_str().expect("id"),
        contacts[1]["id"].as_str().expect("id"),
    );
    let token = hubspot.access_token();
    let deleted = call(
        &hubspot,
        &token,
        "DELETE",
        &format!("/crm/v3/objects/contacts/{one}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        get(&hubspot, &format!("/crm/v3/objects/contacts/{one}"))
            .await
            .status,
        404
    );
    let archived = get(&hubspot, "/crm/v3/objects/contacts?archived=true").await;
    assert_eq!(ids(&archived.body), vec![one.to_string()]);
    assert!(archived.body["results"][0]["archivedAt"].is_string());
    assert_eq!(
        get(
            &hubspot,
            &format!("/crm/v3/objects/contacts/{one}?archived=true")
        )
        .await
        .status,
        200
    );
    let before = contacts[0]["updatedAt"].clone();
    hubspot.restore("contacts", one).expect("restore");
    let back = get(&hubspot, &format!("/crm/v3/objects/contacts/{one}")).await;
    assert_eq!(back.status, 200);
    assert_ne!(
        back.body["updatedAt"], before,
        "a restore modifies the record"
    );
    assert!(ids(&get(&hubspot, "/crm/v3/objects/contacts?archived=true")
        .await
        .body)
    .is_empty());

    let gone = post(
        &hubspot,
        "/crm/v3/objects/contacts/gdpr-delete",
        json!({"objectId": two}),
    )
    .await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    assert_eq!(
        get(&hubspot, &format!("/crm/v3/objects/contacts/{two}"))
            .await
            .status,
        404
    );
    assert_eq!(
        get(
            &hubspot,
            &format!("/crm/v3/objects/contacts/{two}?archived=true")
        )
        .await
        .status,
        404
    );
    assert!(hubspot
        .associations("contacts", "companies")
        .expect("assoc")
        .iter()
        .all(|a| a["fromId"] != json!(two)));
    assert!(hubspot
        .associations("companies", "contacts")
        .expect("assoc")
        .iter()
        .all(|a| a["toId"] != json!(two)));
}

/// Trades the OAuth app's refresh token for a new access token.
async fn refresh(hubspot: &FakeHubSpot) -> String {
    let app = hubspot.oauth_app();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.client_secret.as_str()),
        ("refresh_token", app.refresh_token.as_str()),
    ];
    let reply = reqwest::Client::new()
        .post(format!("{}/oauth/v1/token", hubspot.url()))
        .form(&form)
        .send()
        .await
        .expect("token endpoint");
    assert_eq!(reply.status().as_u16(), 200);
    let body: Value = serde_json::from_slice(&reply.bytes().await.expect("body")).expect("JSON");
    assert_eq!(body["expires_in"], json!(1800));
    body["access_token"]
        .as_str()
        .expect("access token")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_access_tokens_expire_and_a_refresh_gets_a_new_one() {
    let hubspot = fake(20, generous(), Duration::ZERO).await;
    let first = refresh(&hubspot).await;
    let ok = call(
        &hubspot,
        &first,
        "GET",
        "/crm/v3/objects/companies?limit=1",
        None,
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(
        header(&ok, "x-hubspot-ratelimit-daily").is_none(),
        "OAuth calls carry no daily headers"
    );
    assert!(header(&ok, "x-hubspot-ratelimit-remaining").is_some());
    hubspot.expire_tokens();
    let expired = call(
        &hubspot,
        &first,
        "GET",
        "/crm/v3/objects/companies?limit=1",
        None,
    )
    .await;
    assert_eq!(expired.status, 401);
    assert_eq!(expired.body["category"], json!("EXPIRED_AUTHENTICATION"));
    let second = refresh(&hubspot).await;
    assert_ne!(first, second);
    assert_eq!(
        call(
            &hubspot,
            &second,
            "GET",
            "/crm/v3/objects/companies?limit=1",
            None
        )
        .await
        .status,
        200
    );
    let stranger = call(
        &hubspot,
        "pat-na1-not-a-token",
        "GET",
        "/crm/v3/objects/companies",
        None,
    )
    .await;
    assert_eq!(stranger.status, 401);
    assert_eq!(stranger.body["category"], json!("INVALID_AUTHENTICATION"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_knobs_fail_then_recover() {
    let hubspot = fake(20, generous(), Duration::ZERO).await;
    hubspot.faults().fail_next(2, 502);
    for _ in 0..2 {
        let failed = get(&hubspot, "/crm/v3/objects/contacts").await;
        assert_eq!(failed.status, 502);
        assert_eq!(failed.body["status"], json!("error"));
    }
    assert_eq!(get(&hubspot, "/crm/v3/objects/contacts").await.status, 200);
    hubspot.faults().fail_next(1, 429);
    let limited = get(&hubspot, "/crm/v3/objects/contacts").await;
    assert_eq!(
        (limited.status, limited.body["policyName"].clone()),
        (429, json!("TEN_SECONDLY_ROLLING"))
    );
    hubspot.faults().drop_next_connections(1);
    let dropped = reqwest::Client::new()
        .get(format!("{}/crm/v3/objects/contacts", hubspot.url()))
        .bearer_auth(hubspot.access_token())
        .send()
        .await;
    assert!(dropped.is_err(), "the connection closes without an answer");
    assert_eq!(get(&hubspot, "/crm/v3/objects/contacts").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_properties_type_changes_and_bad_values_look_as_in_hubspot() {
    let hubspot = fake(20, generous(), Duration::ZERO).await;
    let id = hubspot.objects("contacts").expect("contacts")[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    hubspot
        .add_property(
            "contacts",
            "favourite_colour",
            "enumeration",
            "select",
            &[("red", "Red"), ("blue", "Blue")],
        )
        .expect("add");
    let property = get(&hubspot, "/crm/v3/properties/contacts/favourite_colour").await;
    assert_eq!(property.body["type"], json!("enumeration"));
    assert_eq!(property.body["options"][1]["label"], json!("Blue"));
    let token = hubspot.access_token();
    let path = format!("/crm/v3/objects/contacts/{id}");
    let patch = |body: Value| call(&hubspot, &token, "PATCH", &path, Some(body));
    assert_eq!(
        patch(json!({"properties": {"favourite_colour": "blue"}}))
            .await
            .status,
        200
    );
    let bad = patch(json!({"properties": {"favourite_colour": "green"}})).await;
    assert_eq!(
        (bad.status, bad.body["category"].clone()),
        (400, json!("VALIDATION_ERROR"))
    );
    let bad = patch(json!({"properties": {"hs_analytics_num_page_views": "many"}})).await;
    assert_eq!(bad.status, 400, "a number property refuses text");
    let bad = patch(json!({"properties": {"contract_start": "1700000000001"}})).await;
    assert_eq!(bad.status, 400, "a date must be midnight UTC");
    let bad = patch(json!({"properties": {"hs_object_id": "5"}})).await;
    assert_eq!(bad.status, 400, "computed properties are read only");
    assert_eq!(
        patch(json!({"properties": {"contract_start": "1699920000000"}}))
            .await
            .status,
        200
    );
    let read = get(&hubspot, &format!("/crm/v3/objects/contacts/{id}?properties=contract_start,favourite_colour&propertiesWithHistory=favourite_colour")).await;
    assert_eq!(
        read.body["properties"]["contract_start"],
        json!("2023-11-14")
    );
    assert_eq!(
        read.body["propertiesWithHistory"]["favourite_colour"][0]["value"],
        json!("blue")
    );
    hubspot
        .change_property_type("contacts", "hs_analytics_num_page_views", "string", "text")
        .expect("type change");
    let changed = get(
        &hubspot,
        "/crm/v3/properties/contacts/hs_analytics_num_page_views",
    )
    .await;
    assert_eq!(changed.body["type"], json!("string"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_refuse_bad_paging_and_the_same_seed_gives_the_same_portal() {
    let a = fake(40, generous(), Duration::ZERO).await;
    let b = fake(40, generous(), Duration::ZERO).await;
    for t in a.object_types() {
        assert_eq!(a.objects(&t).expect("a"), b.objects(&t).expect("b"), "{t}");
    }
    assert_eq!(
        a.associations("deals", "contacts").expect("a"),
        b.associations("deals", "contacts").expect("b")
    );
    assert_eq!(
        get(&a, "/crm/v3/objects/contacts?limit=101").await.status,
        400
    );
    assert_eq!(
        get(&a, "/crm/v3/objects/contacts?after=%21%21")
            .await
            .status,
        400
    );
    let history = get(
        &a,
        "/crm/v3/objects/contacts?limit=100&propertiesWithHistory=email",
    )
    .await;
    assert_eq!(ids(&history.body).len(), 40);
    let unknown = get(&a, "/crm/v3/objects/widgets").await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mutator_keeps_changing_the_portal() {
    let hubspot = fake(200, generous(), Duration::ZERO).await;
    let before = hubspot.objects("contacts").expect("contacts");
    let links_before = hubspot
        .associations("contacts", "companies")
        .expect("assoc");
    let _mutator = hubspot.start_mutator(MutatorOptions {
        every: Duration::from_millis(2),
        schema_changes: true,
        burst: 10,
    });
    let fake = hubspot.clone();
    wait_until_async(
        "contacts, associations and properties to change",
        Duration::from_secs(60),
        || {
            let (fake, before, links_before) = (fake.clone(), before.clone(), links_before.clone());
            async move {
                fake.objects("contacts").expect("contacts") != before
                    && fake.associations("contacts", "companies").expect("assoc") != links_before
                    && fake.properties("contacts").expect("props").iter().any(|p| {
                        p["name"]
                            .as_str()
                            .is_some_and(|n| n.starts_with("mutator_field_"))
                    })
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_changes_the_portal_and_tells_the_truth() {
    let hubspot = fake(0, generous(), Duration::ZERO).await;
    let seeded = post(&hubspot, "/_fake/seed", json!({"contacts": 30})).await;
    assert_eq!(seeded.status, 200, "{}", seeded.body);
    let truth = get(&hubspot, "/_fake/objects/contacts").await;
    assert_eq!(truth.body.as_array().map(Vec::len), Some(30));
    let created = post(
        &hubspot,
        "/_fake/objects/contacts",
        json!({"properties": {"email": "new@example.com"}}),
    )
    .await;
    let id = created.body["id"].as_str().expect("id").to_string();
    let read = get(&hubspot, &format!("/crm/v3/objects/contacts/{id}")).await;
    assert_eq!(read.body["properties"]["email"], json!("new@example.com"));
    assert_eq!(
        read.body["properties"]["firstname"],
        Value::Null,
        "a created record has only what it was given"
    );
    let token = hubspot.access_token();
    let archived = call(
        &hubspot,
        &token,
        "DELETE",
        &format!("/_fake/objects/contacts/{id}"),
        None,
    )
    .await;
    assert_eq!(archived.status, 200);
    let listed = get(&hubspot, "/_fake/objects/contacts/archived").await;
    assert_eq!(listed.body[0]["id"], json!(id));
    let faults = post(
        &hubspot,
        "/_fake/faults",
        json!({"fail_next": {"count": 1, "status": 503}}),
    )
    .await;
    assert_eq!(faults.status, 200);
    assert_eq!(get(&hubspot, "/crm/v3/owners").await.status, 503);
    let bad = post(&hubspot, "/_fake/faults", json!({"explode": true})).await;
    assert_eq!(
        bad.status, 400,
        "an unknown knob is named, not ignored: {}",
        bad.body
    );
    let stats = get(&hubspot, "/_fake/stats").await;
    assert_eq!(stats.body["objects"]["contacts"], json!(30));
    let scoped = hubspot.add_token(&["crm.objects.contacts.read"]);
    assert_eq!(
        call(&hubspot, &scoped, "GET", "/_fake/stats", None)
            .await
            .status,
        403
    );
}
