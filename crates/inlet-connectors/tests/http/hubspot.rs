//! The scaffold against the fake HubSpot (faithful to HubSpot's OAuth and its rolling
//! 10-second budget): expiring OAuth tokens are renewed, and reading the budget headers
//! keeps a client under the limit where one that ignores them is refused.

use std::sync::Arc;

use inlet_connectors::http::{budget, HttpClient, HttpError, RateLimiter, RefreshToken};
use inlet_core::ErrorKind;
use inlet_fakes::hubspot::{FakeHubSpot, Limits, Options};

const CONTACTS: &str = "/crm/v3/objects/contacts?limit=1";

async fn fake(per_ten_seconds: u32) -> FakeHubSpot {
    let limits = Limits {
        per_ten_seconds,
        ..Limits::default()
    };
    FakeHubSpot::start(Options {
        limits,
        ..Options::default()
    })
    .await
    .expect("fake hubspot")
}

fn oauth_client(hubspot: &FakeHubSpot, refresh_token: &str) -> HttpClient {
    let app = hubspot.oauth_app();
    let token_url = format!("{}/oauth/v1/token", hubspot.url());
    let auth = RefreshToken::new(
        &token_url,
        &app.client_id,
        Some(&app.client_secret),
        refresh_token,
    )
    .expect("provider");
    HttpClient::new(&hubspot.url(), Arc::new(RateLimiter::new(1000.0, 100)))
        .expect("client")
        .with_auth(Arc::new(auth))
}

#[tokio::test]
async fn hubspot_oauth_tokens_are_renewed_when_they_expire_and_a_bad_refresh_token_is_plain() {
    let hubspot = fake(190).await;
    let http = oauth_client(&hubspot, &hubspot.oauth_app().refresh_token);
    assert_eq!(http.get(CONTACTS).await.expect("get").status, 200);
    hubspot.expire_tokens();
    assert_eq!(
        http.get(CONTACTS).await.expect("get").status,
        200,
        "the expired token was renewed on its 401, and the request sent again"
    );

    let http = oauth_client(&hubspot, "revoked-refresh-token");
    let Err(HttpError::Auth(e)) = http.get(CONTACTS).await else {
        panic!("no access token without a good refresh token");
    };
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert!(
        e.message
            .contains("(HTTP 400, BAD_REFRESH_TOKEN: missing or unknown refresh token)"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn hubspot_budget_headers_keep_requests_under_the_ten_second_limit() {
    // Seven requests against a budget of five per rolling ten seconds.
    let (heeded, ignored) = (fake(5).await, fake(5).await);
    let pacing =
        oauth_client(&heeded, &heeded.oauth_app().refresh_token).with_budget(budget::hubspot);
    let blind = oauth_client(&ignored, &ignored.oauth_app().refresh_token);
    let mut unpaced = Vec::new();
    for _ in 0..7 {
        unpaced.push(blind.get(CONTACTS).await.expect("unpaced").status);
    }
    let mut paced = Vec::new();
    for _ in 0..7 {
        paced.push(pacing.get(CONTACTS).await.expect("paced").status);
    }
    assert_eq!(
        paced, [200; 7],
        "waited for the budget instead of being refused"
    );
    assert_eq!(heeded.rate_limited(), 0);
    assert!(
        unpaced.contains(&429) && ignored.rate_limited() > 0,
        "{unpaced:?}"
    );
}
