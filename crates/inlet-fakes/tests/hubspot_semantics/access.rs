//! Budgets, tokens and faults: rate-limit headers and 429 policy names, OAuth expiry and
//! refresh, fault knobs.

use super::*;

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
