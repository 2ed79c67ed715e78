//! The product through its commands: `inlet sync add` checks the key and the schema,
//! `inlet run` backfills and follows the fake Stripe (webhooks make changes land at once,
//! a bad signature changes nothing, duplicated and reordered deliveries are harmless),
//! `inlet sync status --json` tells each stream's state, a webhook secret and a rolled key
//! stored while it runs are taken in, and SIGTERM stops cleanly with exit code 0.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use inlet_fakes::stripe::{FakeStripe, Options};
use inlet_testkit::{versions, wait_for, wait_until_async};
use serde_json::{json, Value};

mod common;
use common::{text, Inlet, Running};

/// `inlet sync status --json`: a process run to its end, so off the async workers.
fn status(inlet: &Inlet) -> Value {
    tokio::task::block_in_place(|| inlet.status())
}

/// A raw HTTP POST (the test needs no client library for one request): the status code.
fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &str) -> u16 {
    request(addr, "POST", path, headers, body).0
}

/// A raw HTTP GET: the status code and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    request(addr, "GET", path, &[], "")
}

/// One raw HTTP/1.1 request: the status code and the body.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to inlet");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("send");
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    let code = reply
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (code, body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_run_status_webhooks_and_a_clean_stop() {
    let v = *versions().last().expect("a version");
    let c = common::cluster("run", v).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(&[]);
    inlet.add_destination(c, &db);

    let fake = FakeStripe::start(Options::default()).await.expect("fake");
    fake.seed(4);
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr");
    fake.add_webhook_endpoint(&format!("http://{listen}/webhooks/stripe/stripe"));
    let base = fake.url();

    // A bad key: refused before anything is written, naming the key's kind, not the key.
    let bad = "sk_test_bogus5ecret000000009999";
    let out = inlet.sync_add("stripe", &base, &[], &[("STRIPE_API_KEY", bad)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("sk_test_…9999") && !said.contains("bogus5ecret"),
        "{said}"
    );
    assert!(
        !std::fs::read_to_string(inlet.config())
            .expect("config")
            .contains("[syncs"),
        "nothing written"
    );

    let key = fake.api_key();
    let secret = fake.webhook_secret();
    let env = [
        ("STRIPE_API_KEY", key.as_str()),
        ("STRIPE_WEBHOOK_SECRET", secret.as_str()),
    ];
    let out = inlet.sync_add("stripe", &base, &[], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = inlet.sync_add("other", &base, &["--schema", "stripe"], &env);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("sync \"stripe\" already writes schema \"stripe\""),
        "{}",
        text(&out)
    );
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    assert!(
        !config.contains(&key) && !config.contains(&secret),
        "no secret in inlet.toml"
    );
    // Polling once an hour, far beyond every deadline below: the first poll goes at once
    // (the feed's starting point), and from then on only a webhook's nudge reads the feed,
    // so a change that lands within a deadline here landed because of its webhook.
    inlet.set_in_sync("stripe", "poll_interval_ms = 3600000\n");

    let listen_arg = listen.to_string();
    let child = inlet
        .cmd(&["run", "--listen", &listen_arg])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("inlet run");
    let mut run = Running(child);
    let streams = inlet_connectors::stripe::stream_names().len();
    wait_until_async("every stream live", Duration::from_secs(120), || async {
        let s = status(&inlet);
        s["syncs"][0]["streams"]
            .as_array()
            .is_some_and(|a| a.len() == streams && a.iter().all(|s| s["state"] == "live"))
    })
    .await;
    let status = status(&inlet);
    let customers = status["syncs"][0]["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .find(|s| s["stream"] == "customer")
        .cloned()
        .expect("customer");
    assert_eq!(
        customers["rows"],
        json!(fake.objects("customer").expect("customers").len())
    );
    assert!(customers["lag_seconds"].as_f64().is_some(), "{customers}");
    let ready = tokio::task::block_in_place(|| get(&listen_arg, "/readyz"));
    assert_eq!(
        ready,
        (200, "ready\n".to_string()),
        "a running sync is ready"
    );

    // The status API serves the document `inlet sync status --json` prints (lag aside: it
    // grows between the two reads).
    let without_lag = |mut doc: Value| {
        for s in doc["syncs"][0]["streams"].as_array_mut().expect("streams") {
            s["lag_seconds"] = Value::Null;
        }
        doc
    };
    let (all, all_body) = tokio::task::block_in_place(|| get(&listen_arg, "/api/v1/syncs"));
    assert_eq!(all, 200, "{all_body}");
    let served: Value = serde_json::from_str(&all_body).expect("JSON");
    assert_eq!(without_lag(served), without_lag(status.clone()));
    let (one, one_body) = tokio::task::block_in_place(|| get(&listen_arg, "/api/v1/syncs/stripe"));
    assert_eq!(one, 200, "{one_body}");
    let served: Value = serde_json::from_str(&one_body).expect("JSON");
    assert_eq!(without_lag(served), without_lag(status.clone()));
    let (none, none_body) = tokio::task::block_in_place(|| get(&listen_arg, "/api/v1/syncs/nope"));
    assert_eq!(none, 404, "{none_body}");
    assert!(none_body.contains("there is no sync"), "{none_body}");

    let forged = tokio::task::block_in_place(|| {
        post(
            &listen_arg,
            "/webhooks/stripe/stripe",
            &[("Stripe-Signature", "t=1,v1=00")],
            "{}",
        )
    });
    assert_eq!(forged, 401, "a bad signature is refused");

    let created = fake
        .create("customer", json!({"email": "webhook@example.com"}))
        .expect("create");
    let id = created["id"].as_str().expect("id").to_string();
    // The next poll is an hour away: only the webhook's nudge can land it.
    let admin = c.admin_db(&db).await;
    common::wait_for_customer_email(
        &admin,
        &id,
        "webhook@example.com",
        "the new customer's row, through the webhook",
        Duration::from_secs(20),
    )
    .await;
    assert!(id.starts_with("cus_"));

    // Every webhook now arrives twice and out of order: harmless, since a webhook only
    // makes inlet read the events feed now, and the feed is ordered and read once.
    fake.faults().webhook_duplicate(true);
    fake.faults().webhook_reorder(true);
    fake.update("customer", &id, json!({"email": "first@example.com"}))
        .expect("update");
    fake.update("customer", &id, json!({"email": "second@example.com"}))
        .expect("update again");
    let doomed = fake.objects("customer").expect("customers")[3]["id"]
        .as_str()
        .expect("id")
        .to_string();
    fake.delete("customer", &doomed).expect("delete");
    wait_until_async(
        "duplicated, reordered webhooks landing every change, in order",
        Duration::from_secs(20),
        || async {
            let email: Option<String> = admin
                .query_opt("select email from stripe.customer where id = $1", &[&id])
                .await
                .expect("query")
                .and_then(|r| r.get(0));
            let gone = admin
                .query_opt("select 1 from stripe.customer where id = $1", &[&doomed])
                .await
                .expect("query")
                .is_none();
            email.as_deref() == Some("second@example.com") && gone
        },
    )
    .await;
    // One event per change read; two changes read in one poll are one update (the writer
    // keeps the newest change of a record in a batch). Never the same change twice.
    let logged: Vec<(String, Option<String>)> = admin
        .query(
            "select event_type, payload->'record'->>'email' from stripe._sync_event \
             where record_id = $1 order by id",
            &[&id],
        )
        .await
        .expect("events")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let kinds: Vec<&str> = logged.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        kinds == ["insert", "update"] || kinds == ["insert", "update", "update"],
        "{logged:?}"
    );
    assert_eq!(
        logged.last().and_then(|(_, e)| e.as_deref()),
        Some("second@example.com")
    );
    let emails: Vec<_> = logged.iter().map(|(_, e)| e).collect();
    let mut unique = emails.clone();
    unique.dedup();
    assert_eq!(emails, unique, "no change logged twice: {logged:?}");

    let pid = nix::unistd::Pid::from_raw(run.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("sigterm");
    let exited = wait_for(
        "inlet run to stop after SIGTERM",
        Duration::from_secs(20),
        || {
            let status = run.0.try_wait().expect("wait");
            async move { status.ok_or_else(|| "still running".to_string()) }
        },
    )
    .await;
    assert_eq!(exited.code(), Some(0), "SIGTERM is a clean stop");
    let mut log = String::new();
    if let Some(mut err) = run.0.stderr.take() {
        let _ = err.read_to_string(&mut log);
    }
    assert!(
        !log.contains(&key) && !log.contains(&secret),
        "no secret in the logs"
    );
}

/// `/readyz` is 503 while a sync cannot reach its destination, naming the sync and why;
/// `/healthz` still says the process is alive.
/// A webhook secret, then a rolled API key, stored with `inlet sync add --force` while
/// `inlet run` runs (inlet.toml as it was): the run takes each in within seconds, without
/// a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_secret_and_a_rolled_key_stored_while_running_are_taken_in() {
    let v = *versions().last().expect("a version");
    let c = common::cluster("run", v).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(&[]);
    inlet.add_destination(c, &db);
    let fake = FakeStripe::start(Options::default()).await.expect("fake");
    fake.seed(2);
    let base = fake.url();
    let add = |key: &str, secret: Option<&str>| {
        let mut env = vec![("STRIPE_API_KEY", key)];
        env.extend(secret.map(|s| ("STRIPE_WEBHOOK_SECRET", s)));
        let out = inlet.sync_add("stripe", &base, &["--force"], &env);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    };
    add(&fake.api_key(), None);
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .to_string();
    let _run = inlet.start(&["run", "--listen", &listen]);
    wait_until_async("the customers live", Duration::from_secs(120), || async {
        let s = status(&inlet);
        (s["syncs"][0]["streams"].as_array().into_iter().flatten())
            .any(|s| s["stream"] == "customer" && s["state"] == "live")
    })
    .await;

    // A delivery signed with the secret Stripe gave: refused while inlet has no secret.
    let secret = fake.webhook_secret();
    let deliver = || {
        let body = r#"{"id":"evt_1","object":"event","type":"customer.updated"}"#;
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs() as i64;
        let signed = inlet_connectors::stripe::webhook::sign(body.as_bytes(), &secret, t);
        let headers = [("Stripe-Signature", signed.as_str())];
        tokio::task::block_in_place(|| post(&listen, "/webhooks/stripe/stripe", &headers, body))
    };
    assert_eq!(deliver(), 400, "no webhook secret yet");
    add(&fake.api_key(), Some(&secret));
    let same = std::fs::read_to_string(inlet.config()).expect("config");
    assert_eq!(same, config, "inlet.toml as it was");
    wait_until_async("the secret taken in", Duration::from_secs(30), || async {
        deliver() == 200
    })
    .await;

    // The key is rolled: the old one is refused from now on, and the new one stored.
    let rolled = fake.roll_api_key();
    add(&rolled, Some(&secret));
    let created = fake
        .create("customer", json!({"email": "after-the-roll@example.com"}))
        .expect("create");
    let id = created["id"].as_str().expect("id").to_string();
    let admin = c.admin_db(&db).await;
    common::wait_for_customer_email(
        &admin,
        &id,
        "after-the-roll@example.com",
        "a customer created after the key was rolled",
        Duration::from_secs(60),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_while_the_destination_is_unreachable() {
    let (c, inlet, _fake) = stripe_sync().await;
    // The destination moves to a port nothing listens on.
    let dead = free_addr().port();
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    let moved = config.replace(&format!("port = {}", c.port), &format!("port = {dead}"));
    assert_ne!(moved, config, "the destination's port is in inlet.toml");
    std::fs::write(inlet.config(), moved).expect("config");

    let listen = free_addr().to_string();
    let child = inlet
        .cmd(&["run", "--listen", &listen])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("inlet run");
    let _run = Running(child);
    let reply = wait_for(
        "a failed connection on /readyz",
        Duration::from_secs(60),
        || {
            let reply = std::net::TcpStream::connect(&listen)
                .ok()
                .map(|_| tokio::task::block_in_place(|| get(&listen, "/readyz")))
                .filter(|(_, body)| {
                    body.contains("is not connected") && !body.contains("starting")
                });
            async move { reply.ok_or_else(|| "not yet".to_string()) }
        },
    )
    .await;
    assert_eq!(reply.0, 503, "{}", reply.1);
    assert!(
        reply
            .1
            .starts_with("not ready\nsync \"stripe\" is not connected: "),
        "{}",
        reply.1
    );
    inlet_testkit::assert_plain_words(&reply.1);
    let alive = tokio::task::block_in_place(|| get(&listen, "/healthz"));
    assert_eq!(alive.0, 200);
}

/// A destination on the newest PostgreSQL and a sync `stripe` from a fresh fake Stripe.
async fn stripe_sync() -> (&'static inlet_testkit::Cluster, Inlet, FakeStripe) {
    let (c, _, inlet, fake) = stripe_sync_with(&[]).await;
    (c, inlet, fake)
}

/// [`stripe_sync`] added with `args` (e.g. `--streams`), and the destination's database.
async fn stripe_sync_with(
    args: &[&str],
) -> (&'static inlet_testkit::Cluster, String, Inlet, FakeStripe) {
    let v = *versions().last().expect("a version");
    let c = common::cluster("run", v).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(&[]);
    inlet.add_destination(c, &db);
    let fake = FakeStripe::start(Options::default()).await.expect("fake");
    let key = fake.api_key();
    let out = inlet.sync_add("stripe", &fake.url(), args, &[("STRIPE_API_KEY", &key)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    (c, db, inlet, fake)
}

fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
}

/// A `--listen` other machines can reach needs `INLET_API_TOKEN`: without it `inlet run`
/// refuses to start and says how to fix it; with it, `/api/*` answers only requests that
/// carry the token, while webhooks keep their own signatures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_listen_needs_the_api_token() {
    let (_, inlet, _fake) = stripe_sync().await;

    let port = free_addr().port();
    let public = format!("0.0.0.0:{port}");
    let out = tokio::task::block_in_place(|| inlet.run(&["run", "--listen", &public]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("INLET_API_TOKEN"), "{}", text(&out));

    let token = "an-api-token-only-for-this-test-5521";
    let child = inlet
        .cmd(&["run", "--listen", &public])
        .env("INLET_API_TOKEN", token)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("inlet run");
    let mut run = Running(child);
    let local = format!("127.0.0.1:{port}");
    wait_until_async("inlet listening", Duration::from_secs(30), || async {
        TcpStream::connect(&local).is_ok()
    })
    .await;
    let (refused, said) = tokio::task::block_in_place(|| get(&local, "/api/v1/syncs"));
    assert_eq!(refused, 401, "{said}");
    assert!(!said.contains(token));
    let wrong = tokio::task::block_in_place(|| {
        request(
            &local,
            "GET",
            "/api/v1/syncs/stripe",
            &[("Authorization", "Bearer not-the-token")],
            "",
        )
    });
    assert_eq!(wrong.0, 401, "{}", wrong.1);
    let right = format!("Bearer {token}");
    let (ok, body) = tokio::task::block_in_place(|| {
        request(
            &local,
            "GET",
            "/api/v1/syncs",
            &[("Authorization", &right)],
            "",
        )
    });
    assert_eq!(ok, 200, "{body}");
    let doc: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(doc["syncs"][0]["name"], "stripe");
    // Webhooks are judged by their signature, not the API token.
    let forged = tokio::task::block_in_place(|| {
        post(
            &local,
            "/webhooks/stripe/stripe",
            &[("Stripe-Signature", "t=1,v1=00")],
            "{}",
        )
    });
    assert_eq!(forged, 400);
    let _ = run.0.kill();
    let mut log = String::new();
    if let Some(mut err) = run.0.stderr.take() {
        let _ = err.read_to_string(&mut log);
    }
    assert!(!log.contains(token), "the token is never logged");
}

/// Down a while, then back at a real API's pace: the changes made meanwhile are hundreds of
/// pages of the events feed, more than one heartbeat's worth (each call answered after
/// 600 ms, so ten pages take 6 s); every one lands, each logged once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_after_downtime_at_a_real_apis_pace_lands_every_change() {
    let (c, db, inlet, fake) = stripe_sync_with(&["--streams", "customer"]).await;
    fake.seed(4);
    let run = inlet.start(&["run"]);
    wait_until_async("the backfill", Duration::from_secs(60), || async {
        tokio::task::block_in_place(|| inlet.live("stripe"))
    })
    .await;
    drop(run); // killed

    let made: Vec<String> = (0..1_500)
        .map(|n| {
            let c = fake.create("customer", json!({"email": format!("down{n}@example.com")}));
            c.expect("create")["id"].as_str().expect("id").to_string()
        })
        .collect();
    fake.faults().latency(Duration::from_millis(600));
    let _run = inlet.start(&["run"]);
    let admin = c.admin_db(&db).await;
    wait_until_async(
        "every change made while down",
        Duration::from_secs(120),
        || {
            let (admin, made) = (&admin, &made);
            async move {
                let landed = admin
                    .query_one(
                        "select count(*) from stripe.customer where id = any($1)",
                        &[made],
                    )
                    .await;
                landed.is_ok_and(|r| r.get::<_, i64>(0) == made.len() as i64)
            }
        },
    )
    .await;
    let logged: i64 = admin
        .query_one(
            "select count(*) from stripe._sync_event where record_id = any($1)",
            &[&made],
        )
        .await
        .expect("events")
        .get(0);
    assert_eq!(logged, made.len() as i64, "each change logged once");
}
