//! Search: the 10,000-result cap, an id keyset past it, and the indexing lag.

use super::*;

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
