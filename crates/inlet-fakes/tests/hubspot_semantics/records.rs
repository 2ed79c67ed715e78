//! Records over their life: merges, archive, restore and GDPR delete, properties and their
//! types, paging, the seed, the mutator and the control API.

use super::*;

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
async fn list_cursors_are_next_ids_by_default_and_can_be_opaque_or_offsets() {
    let hubspot = fake(40, generous(), Duration::ZERO).await;
    let all = ids(&get(&hubspot, "/crm/v3/objects/contacts?limit=100")
        .await
        .body);
    let page = |after: String| {
        let hubspot = hubspot.clone();
        async move {
            let path = format!("/crm/v3/objects/contacts?limit=5&after={after}");
            get(&hubspot, &path).await
        }
    };
    // By default, as HubSpot's example: base64 of the next id and a newline; a plain id too.
    let first = get(&hubspot, "/crm/v3/objects/contacts?limit=5").await;
    let given = first.body["paging"]["next"]["after"]
        .as_str()
        .expect("after");
    let next = ids(&page(given.to_string()).await.body);
    assert_eq!(next, all[5..10]);
    let made = data_encoding::BASE64.encode(format!("{}\n", all[20]).as_bytes());
    let made = url::form_urlencoded::byte_serialize(made.as_bytes()).collect::<String>();
    assert_eq!(ids(&page(made.clone()).await.body), all[20..25]);
    assert_eq!(ids(&page(all[20].to_string()).await.body), all[20..25]);

    let set = |kind: &str| {
        let hubspot = hubspot.clone();
        let kind = kind.to_string();
        async move { post(&hubspot, "/_fake/faults", json!({"list_cursors": kind})).await }
    };
    assert_eq!(set("opaque").await.status, 200);
    assert_eq!(
        page(made.clone()).await.status,
        400,
        "a made cursor is refused"
    );
    let first = get(&hubspot, "/crm/v3/objects/contacts?limit=5").await;
    let given = first.body["paging"]["next"]["after"]
        .as_str()
        .expect("after");
    assert_eq!(ids(&page(given.to_string()).await.body), all[5..10]);

    assert_eq!(set("offsets").await.status, 200);
    assert_eq!(ids(&page("20".to_string()).await.body), all[20..25]);
    assert_eq!(
        ids(&page(all[20].to_string()).await.body),
        Vec::<String>::new(),
        "an id read as a count of records passes the end"
    );
    assert_eq!(set("sideways").await.status, 400);
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

/// What the peers of the benchmark call besides CRM v3: the legacy properties APIs (a bare
/// array of the same properties) and the singular type names in object paths.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_property_lists_and_singular_type_names_answer_as_in_hubspot() {
    let hubspot = fake(30, generous(), Duration::ZERO).await;
    let v3 = get(&hubspot, "/crm/v3/properties/contacts").await;
    let names = |list: &Value| -> Vec<String> {
        list.as_array()
            .expect("a list of properties")
            .iter()
            .map(|p| p["name"].as_str().expect("a name").to_string())
            .collect()
    };
    let want = names(&v3.body["results"]);
    for path in [
        "/properties/v1/contacts/properties",
        "/properties/v2/contacts/properties",
        "/properties/v2/contact/properties",
    ] {
        let reply = get(&hubspot, path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        assert_eq!(names(&reply.body), want, "{path}");
        let email = reply
            .body
            .as_array()
            .and_then(|all| all.iter().find(|p| p["name"] == "email"))
            .expect("email");
        assert_eq!(email["type"], "string");
        assert!(email["createdAt"].is_i64(), "legacy times are Unix ms");
        assert!(email["readOnlyValue"].is_boolean());
    }
    let companies = get(&hubspot, "/companies/v2/properties").await;
    assert_eq!(companies.status, 200);
    assert_eq!(
        names(&companies.body),
        names(&get(&hubspot, "/crm/v3/properties/companies").await.body["results"])
    );
    let plural = get(&hubspot, "/crm/v3/objects/contacts?limit=5").await;
    let singular = get(&hubspot, "/crm/v3/objects/contact?limit=5").await;
    assert_eq!(singular.status, 200);
    assert_eq!(singular.body["results"], plural.body["results"]);
    let leads = get(&hubspot, "/properties/v2/leads/properties").await;
    assert_eq!(leads.status, 200, "every portal has leads");
    assert!(names(&leads.body).contains(&"hs_object_id".to_string()));
    let unknown = get(&hubspot, "/properties/v2/spaceships/properties").await;
    assert!(unknown.status >= 400, "an unknown type is refused");
}
