//! The HTTP scaffold every source uses, against a real local HTTP server: request bodies,
//! OAuth tokens renewed before expiry and once on a 401, a renewal that fails, every form
//! of `Retry-After`, and budget headers that slow requests down.

mod hubspot;
mod server;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use inlet_connectors::http::{
    budget, HttpClient, HttpError, RateLimiter, RefreshToken, Request, StaticKey,
};
use inlet_core::{ErrorKind, MAX_SERVER_WAIT};
use serde_json::json;
use server::{Answer, Server};

fn client(server: &Server) -> HttpClient {
    HttpClient::new(&server.url, Arc::new(RateLimiter::new(1000.0, 100))).expect("client")
}

/// A refresh-token provider against `server`'s `/oauth/token`.
fn oauth(server: &Server) -> Arc<RefreshToken> {
    let url = format!("{}/oauth/token", server.url);
    Arc::new(RefreshToken::new(&url, "app", Some("app-secret"), "refresh-0").expect("provider"))
}

/// Token `t{n}` for the `n`th call, expiring in `lifetime(n)` seconds, with a rotated
/// refresh token `refresh-{n}`.
fn token(earlier: &[server::Seen], lifetime: impl Fn(usize) -> u64) -> Answer {
    let n = earlier.iter().filter(|s| s.path == "/oauth/token").count() + 1;
    let body = json!({"access_token": format!("t{n}"), "token_type": "bearer",
                      "expires_in": lifetime(n), "refresh_token": format!("refresh-{n}"),
                      "instance_url": "https://example.my.salesforce.com"});
    Answer::ok(&body.to_string())
}

fn bearers(seen: &[server::Seen]) -> Vec<&str> {
    seen.iter()
        .filter_map(|s| s.authorization.as_deref())
        .collect()
}

#[tokio::test]
async fn json_and_form_bodies_go_with_any_method() {
    let server = Server::start(|_, _| Answer::ok("{}")).await;
    let http = client(&server);
    let search = json!({"filterGroups": [], "limit": 100, "after": "abc"});
    let reply = http
        .send(&Request::post("/search").json(&search))
        .await
        .expect("search");
    assert_eq!(reply.status, 200);
    let form = Request::post("/form").form(&[("grant_type", "refresh_token"), ("a b", "c&d")]);
    http.send(&form).await.expect("form");
    http.send(&Request::new(reqwest::Method::PATCH, "/patch"))
        .await
        .expect("patch");

    let seen = server.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
    let sent: serde_json::Value = serde_json::from_str(&seen[0].body).expect("json body");
    assert_eq!(sent, search);
    assert_eq!(
        seen[1].content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen[1].body, "grant_type=refresh_token&a+b=c%26d");
    assert_eq!(
        (seen[2].method.as_str(), seen[2].body.as_str()),
        ("PATCH", "")
    );
}

#[tokio::test]
async fn a_token_about_to_expire_is_renewed_before_it_is_refused() {
    // The first token has less than RENEW_BEFORE left; the second has an hour.
    let server = Server::start(|req, earlier| match req.path.as_str() {
        "/oauth/token" => token(earlier, |n| if n == 1 { 60 } else { 3600 }),
        _ => Answer::ok("{}"),
    })
    .await;
    let provider = oauth(&server);
    let http = client(&server).with_auth(provider.clone());
    for _ in 0..3 {
        assert_eq!(
            http.get("/crm/v3/objects/contacts")
                .await
                .expect("get")
                .status,
            200
        );
    }
    let api = server.seen_at("/crm/v3/objects/contacts");
    assert_eq!(bearers(&api), ["Bearer t1", "Bearer t2", "Bearer t2"]);
    let renewals = server.seen_at("/oauth/token");
    assert_eq!(renewals.len(), 2, "renewed once, then kept");
    assert_eq!(
        renewals[0].content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert!(renewals[0]
        .body
        .contains("grant_type=refresh_token&refresh_token=refresh-0"));
    assert!(renewals[0]
        .body
        .contains("client_id=app&client_secret=app-secret"));
    assert!(
        renewals[1].body.contains("refresh_token=refresh-1"),
        "a rotated refresh token replaces the old one: {}",
        renewals[1].body
    );
    assert_eq!(
        provider
            .instance_url()
            .await
            .expect("instance url")
            .as_deref(),
        Some("https://example.my.salesforce.com"),
        "where Salesforce says the org's API is"
    );
}

#[tokio::test]
async fn a_refused_token_is_renewed_and_the_request_sent_again_exactly_once() {
    // t1 was revoked early; t2 works.
    let server = Server::start(|req, earlier| match req.path.as_str() {
        "/oauth/token" => token(earlier, |_| 3600),
        _ if req.authorization.as_deref() == Some("Bearer t1") => Answer::status(401),
        _ => Answer::ok("{}"),
    })
    .await;
    let http = client(&server).with_auth(oauth(&server));
    assert_eq!(http.get("/data").await.expect("get").status, 200);
    assert_eq!(
        bearers(&server.seen_at("/data")),
        ["Bearer t1", "Bearer t2"]
    );
    assert_eq!(server.seen_at("/oauth/token").len(), 2);

    // Every token refused: one renewal, one more try, then the 401 is the answer.
    let server = Server::start(|req, earlier| match req.path.as_str() {
        "/oauth/token" => token(earlier, |_| 3600),
        _ => Answer::status(401).body(r#"{"message":"INVALID_SESSION_ID"}"#),
    })
    .await;
    let http = client(&server).with_auth(oauth(&server));
    let reply = http.get("/data").await.expect("an answer");
    assert_eq!(reply.status, 401, "a second refusal is a real one");
    assert_eq!(
        bearers(&server.seen_at("/data")),
        ["Bearer t1", "Bearer t2"]
    );
    assert_eq!(server.seen_at("/oauth/token").len(), 2);

    // A static key cannot be renewed: its refusal is final at once.
    let http = client(&server).with_auth(Arc::new(StaticKey::bearer("pat-na1-x").expect("key")));
    assert_eq!(http.get("/static").await.expect("an answer").status, 401);
    assert_eq!(bearers(&server.seen_at("/static")), ["Bearer pat-na1-x"]);
}

#[tokio::test]
async fn a_renewal_the_token_endpoint_refuses_says_so_in_plain_words() {
    let server = Server::start(|req, _| match req.path.as_str() {
        "/oauth/token" => Answer::status(400).body(
            r#"{"error":"invalid_grant","error_description":"expired access/refresh token"}"#,
        ),
        _ => Answer::ok("{}"),
    })
    .await;
    let http = client(&server).with_auth(oauth(&server));
    let Err(HttpError::Auth(e)) = http.get("/data").await else {
        panic!("the renewal's refusal fails the request");
    };
    assert_eq!(
        e.kind,
        ErrorKind::Unauthorized,
        "a person must authorize again"
    );
    assert_eq!(
        e.message,
        "the token endpoint refused to renew the access token \
         (HTTP 400, invalid_grant: expired access/refresh token)"
    );
    assert!(
        e.fix
            .as_deref()
            .is_some_and(|f| f.contains("authorize inlet")),
        "{e:?}"
    );
    assert!(
        !format!("{e:?}").contains("refresh-0"),
        "no token in the error"
    );
    assert!(
        server.seen_at("/data").is_empty(),
        "nothing sent without credentials"
    );

    // A token endpoint that is down is retried by the engine, not a person's job.
    let down = Server::start(|_, _| Answer::status(503)).await;
    let http = client(&down).with_auth(oauth(&down));
    let Err(HttpError::Auth(e)) = http.get("/data").await else {
        panic!("no credentials");
    };
    assert_eq!(e.kind, ErrorKind::ServerError);
}

#[tokio::test]
async fn retry_after_is_honoured_as_seconds_or_an_http_date_and_capped() {
    // 429 with Retry-After: 1, then 200.
    let server = Server::start(|_, earlier| match earlier.len() {
        0 => Answer::status(429).header("retry-after", "1"),
        _ => Answer::ok("{}"),
    })
    .await;
    assert_eq!(client(&server).get("/s").await.expect("get").status, 200);
    let seen = server.seen();
    assert!(
        seen[1].at - seen[0].at >= Duration::from_secs(1),
        "waited as told"
    );

    // Retry-After as a date, two seconds after the server's own Date.
    let server = Server::start(|_, earlier| {
        let now = SystemTime::now();
        match earlier.len() {
            0 => Answer::status(429)
                .header("date", httpdate::fmt_http_date(now))
                .header(
                    "retry-after",
                    httpdate::fmt_http_date(now + Duration::from_secs(2)),
                ),
            _ => Answer::ok("{}"),
        }
    })
    .await;
    assert_eq!(client(&server).get("/d").await.expect("get").status, 200);
    let seen = server.seen();
    assert!(
        seen[1].at - seen[0].at >= Duration::from_secs(2),
        "waited until the date"
    );

    // An absurd Retry-After is capped, and left to the engine (no panic, no retry here).
    let server = Server::start(|_, _| Answer::status(429).header("retry-after", "1e20")).await;
    let reply = client(&server).get("/x").await.expect("an answer");
    assert_eq!(
        (reply.status, reply.hints.retry_after),
        (429, Some(MAX_SERVER_WAIT))
    );
    assert_eq!(server.seen().len(), 1);

    // The server's word beats the status: a 500 it says not to retry is not.
    let server =
        Server::start(|_, _| Answer::status(500).header("stripe-should-retry", "false")).await;
    let http = client(&server).with_should_retry_header("stripe-should-retry");
    assert_eq!(http.get("/n").await.expect("an answer").status, 500);
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn an_exhausted_budget_holds_the_next_request_for_the_window() {
    let server = Server::start(|_, _| {
        Answer::ok("{}")
            .header("x-hubspot-ratelimit-remaining", "0")
            .header("x-hubspot-ratelimit-max", "100")
            .header("x-hubspot-ratelimit-interval-milliseconds", "1500")
    })
    .await;
    let http = client(&server).with_budget(budget::hubspot);
    http.get("/a").await.expect("first");
    http.get("/b").await.expect("second");
    let seen = server.seen();
    assert!(
        seen[1].at - seen[0].at >= Duration::from_millis(1500),
        "the second request waited for the budget's window"
    );
}
