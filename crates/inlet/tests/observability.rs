//! `inlet run` watched the way an operator watches it: a real Prometheus scrapes its
//! `/metrics` and sees the sync move; every API request counted, a rebuild's included; `/readyz` follows the destination going away and
//! coming back, and a stream's error; and no log line, in either format, nor any output
//! holds a key, a password or a token.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inlet_fakes::stripe::{Failure, FakeStripe, Options};
use inlet_testkit::{versions, wait_for, wait_until_async, Cluster};
use serde_json::{json, Value};

mod common;
use common::{text, Inlet, Running};

/// A destination on the newest PostgreSQL (its database name too) and a sync `stripe` of a
/// fresh fake Stripe, reading the feed every 300 ms.
async fn stripe_sync(env: &[(&str, &str)]) -> (&'static Cluster, String, Inlet, FakeStripe) {
    let v = *versions().last().expect("a version");
    let c = common::cluster("observability", v).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(env);
    inlet.add_destination(c, &db);
    let fake = FakeStripe::start(Options::default()).await.expect("fake");
    fake.seed(3);
    let key = fake.api_key();
    let secret = fake.webhook_secret();
    let out = inlet.sync_add(
        "stripe",
        &fake.url(),
        &[],
        &[("STRIPE_API_KEY", &key), ("STRIPE_WEBHOOK_SECRET", &secret)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    inlet.set_in_sync("stripe", "poll_interval_ms = 300\n");
    (c, db, inlet, fake)
}

fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
}

/// `inlet run` with `args`, its stderr read as it comes (a full pipe would stall it).
struct Run {
    child: Running,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Run {
    fn start(mut cmd: Command) -> Run {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("inlet run");
        let log = Arc::new(Mutex::new(String::new()));
        let (mut err, into) = (child.stderr.take().expect("stderr"), log.clone());
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut log = into.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Run {
            child: Running(child),
            log,
            reader: Some(reader),
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// SIGTERM, then everything it printed (stderr, stdout) once it exited 0.
    fn stop(mut self) -> String {
        let pid = nix::unistd::Pid::from_raw(self.child.0.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let status = tokio::task::block_in_place(|| self.child.0.wait()).expect("wait");
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let mut out = String::new();
        if let Some(mut stdout) = self.child.0.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        let log = self.log();
        assert_eq!(status.code(), Some(0), "{log}");
        format!("{log}{out}")
    }
}

/// A Prometheus server of its own (Debian's `prometheus`), killed when dropped.
struct Prometheus {
    _child: Running,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes `target`'s `/metrics` every second, with `token` as its bearer token.
    async fn start(target: &str, token: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: inlet\n    authorization:\n      \
                 credentials: {token}\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("config");
        let addr = free_addr().to_string();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (scripts/install-deps installs it)");
        let prometheus = Prometheus {
            _child: Running(child),
            addr,
            _dir: dir,
        };
        let ready = format!("http://{}/-/ready", prometheus.addr);
        wait_until_async("Prometheus ready", Duration::from_secs(60), || async {
            reqwest::get(&ready)
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        prometheus
    }

    /// The value of `query` (one series) now, as Prometheus's HTTP API answers it; `None`
    /// while it has no such series.
    async fn value(&self, query: &str) -> Option<f64> {
        let url = format!("http://{}/api/v1/query", self.addr);
        let reply = reqwest::Client::new()
            .get(url)
            .query(&[("query", query)])
            .send()
            .await
            .ok()?;
        let body: Value = serde_json::from_str(&reply.text().await.ok()?).ok()?;
        assert_eq!(body["status"], "success", "{query}: {body}");
        body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Waits until `query`'s value satisfies `ok`; returns it.
    async fn wait(&self, query: &str, ok: impl Fn(f64) -> bool) -> f64 {
        wait_for(query, Duration::from_secs(90), || async {
            match self.value(query).await {
                Some(v) if ok(v) => Ok(v),
                other => Err(format!("{other:?}")),
            }
        })
        .await
    }
}

/// A real Prometheus scrapes `inlet run --listen` (with the API token, as it must on an
/// address others can reach) and sees, through its query API: the target up; every
/// stream live with its backfill done; rows inserted and batches written with their
/// durations; API requests, a 429 and its retry; the sync owned and its database
/// sessions; lag; and rows written growing after a live change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_sync_moving() {
    let (_, _, inlet, fake) = stripe_sync(&[]).await;
    let token = "metrics-token-for-this-test-8812";
    let port = free_addr().port();
    let mut cmd = inlet.cmd(&["run", "--listen", &format!("0.0.0.0:{port}")]);
    cmd.env("INLET_API_TOKEN", token);
    let run = Run::start(cmd);
    let target = format!("127.0.0.1:{port}");
    wait_until_async("inlet listening", Duration::from_secs(30), || async {
        std::net::TcpStream::connect(&target).is_ok()
    })
    .await;
    let refused = reqwest::get(format!("http://{target}/metrics"))
        .await
        .expect("GET /metrics");
    assert_eq!(refused.status(), 401, "/metrics needs the token here");

    let prom = Prometheus::start(&target, token).await;
    prom.wait("up{job=\"inlet\"}", |v| v == 1.0).await;
    let streams = inlet_connectors::stripe::stream_names().len() as f64;
    prom.wait(
        "sum(inlet_stream_state{sync=\"stripe\",state=\"live\"})",
        |v| v == streams,
    )
    .await;
    prom.wait("min(inlet_backfill_progress_ratio{sync=\"stripe\"})", |v| {
        v == 1.0
    })
    .await;
    let customers = fake.objects("customer").expect("customers").len() as f64;
    prom.wait(
        "inlet_rows_written_total{sync=\"stripe\",stream=\"customer\",op=\"insert\"}",
        |v| v == customers,
    )
    .await;
    prom.wait(
        "sum(inlet_batch_write_duration_seconds_count{sync=\"stripe\"})",
        |v| v >= streams,
    )
    .await;
    prom.wait("sum(inlet_batches_written_total{sync=\"stripe\"})", |v| {
        v >= streams
    })
    .await;
    prom.wait(
        "inlet_api_requests_total{sync=\"stripe\",class=\"2xx\"}",
        |v| v > 0.0,
    )
    .await;
    prom.wait(
        "inlet_api_request_duration_seconds_count{sync=\"stripe\"}",
        |v| v > 0.0,
    )
    .await;
    prom.wait("inlet_syncs_owned", |v| v == 1.0).await;
    prom.wait("inlet_sync_state{sync=\"stripe\",state=\"running\"}", |v| {
        v == 1.0
    })
    .await;
    prom.wait("inlet_database_connections", |v| v >= 1.0).await;
    prom.wait("max(inlet_stream_lag_seconds{sync=\"stripe\"})", |v| {
        (0.0..60.0).contains(&v)
    })
    .await;

    // A live change: the customer's update is counted once it is written.
    let updates = "inlet_rows_written_total{sync=\"stripe\",stream=\"customer\",op=\"update\"}";
    let before = prom.value(updates).await.unwrap_or(0.0);
    let id = fake.objects("customer").expect("customers")[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    fake.update("customer", &id, json!({"email": "moved@example.com"}))
        .expect("update");
    prom.wait(updates, |v| v > before).await;

    // Stripe says 429 once: counted as throttling, and the request is retried.
    fake.faults()
        .fail_next_with(1, Failure::status(429).retry_after(1));
    prom.wait(
        "inlet_api_throttled_total{sync=\"stripe\",reason=\"too_many_requests\"}",
        |v| v >= 1.0,
    )
    .await;
    prom.wait("inlet_api_retries_total{sync=\"stripe\"}", |v| v >= 1.0)
        .await;
    prom.wait(
        "inlet_api_requests_total{sync=\"stripe\",class=\"4xx\"}",
        |v| v >= 1.0,
    )
    .await;
    let said = run.stop();
    assert!(!said.contains(token), "the token is never logged");
}

/// The API requests `/metrics` at `target` counts for sync `stripe`, all classes together.
async fn requests_counted(target: &str, token: &str) -> Option<u64> {
    let body = reqwest::Client::new()
        .get(format!("http://{target}/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let counts = body
        .lines()
        .filter(|l| l.starts_with("inlet_api_requests_total{") && l.contains("sync=\"stripe\""))
        .map(|l| l.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()));
    counts.sum()
}

/// A rebuild's copy reads the whole account again through a source of its own: its requests
/// count in `/metrics` with the sync's, so every request the account answered `inlet run` is
/// counted, before the rebuild and after it. (A new `Stripe-Version` makes `inlet run`
/// rebuild by itself, with no other process to take the copy on.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilds_api_requests_count_with_the_syncs() {
    const FIRST: &str = "2025-03-31.basil";
    const SECOND: &str = "2026-01-28.clover";
    let v = *versions().last().expect("a version");
    let c = common::cluster("observability", v).await;
    let db = c.create_database().await;
    let fake = FakeStripe::start(Options::default()).await.expect("fake");
    fake.seed(3);
    let inlet = Inlet::new(&[("STRIPE_API_KEY", &fake.api_key())]);
    inlet.add_destination(c, &db);
    let pin = format!("stripe_version={FIRST}");
    let out = inlet.sync_add("stripe", &fake.url(), &["--set", &pin], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let token = "metrics-token-for-the-rebuild-4471";
    let target = format!("127.0.0.1:{}", free_addr().port());
    // `sync add` checked the key: requests of its own, not `inlet run`'s.
    let before = fake.requests();
    let mut cmd = inlet.cmd(&["run", "--listen", &target]);
    cmd.env("INLET_API_TOKEN", token);
    let run = Run::start(cmd);
    // Read in this order, the count can only fall short by requests still in flight.
    let all_counted = || async {
        let answered = fake.requests() - before;
        requests_counted(&target, token)
            .await
            .is_some_and(|n| n >= answered)
    };
    wait_until_async("the sync live", Duration::from_secs(60), || async {
        tokio::task::block_in_place(|| inlet.live("stripe"))
    })
    .await;
    wait_until_async(
        "every request counted",
        Duration::from_secs(30),
        all_counted,
    )
    .await;

    let at_rebuild = fake.requests();
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    let config = config.replace(
        &format!("stripe_version = \"{FIRST}\""),
        &format!("stripe_version = \"{SECOND}\""),
    );
    std::fs::write(inlet.config(), config).expect("config");
    wait_until_async(
        "the rebuild swapped in",
        Duration::from_secs(90),
        || async { run.log().contains("rebuild swapped in") },
    )
    .await;
    let streams = inlet_connectors::stripe::stream_names().len() as u64;
    assert!(
        fake.requests() - at_rebuild >= streams,
        "the copy listed every stream again"
    );
    wait_until_async(
        "the rebuild's requests counted too",
        Duration::from_secs(30),
        all_counted,
    )
    .await;
    run.stop();
}

/// `/readyz` (body and status) now.
async fn readyz(listen: &str) -> (u16, String) {
    match reqwest::get(format!("http://{listen}/readyz")).await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}

/// Waits until `/readyz` answers `code` with a body containing `says`; returns the body.
async fn wait_ready(listen: &str, code: u16, says: &str) -> String {
    wait_for(
        &format!("/readyz {code} saying {says:?}"),
        Duration::from_secs(90),
        || async {
            match readyz(listen).await {
                (c, body) if c == code && body.contains(says) => Ok(body),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
}

/// Every secret the test's inlet knows: the ones it was given and every value it stored
/// in `secrets.toml` (the sync user's generated password among them).
fn secrets_of(inlet: &Inlet, given: &[&str]) -> Vec<String> {
    fn strings(v: &toml::Value, out: &mut Vec<String>) {
        match v {
            toml::Value::String(s) => out.push(s.clone()),
            toml::Value::Table(t) => t.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let stored = std::fs::read_to_string(inlet.dir.path().join("secrets.toml")).expect("secrets");
    let mut all: Vec<String> = given.iter().map(|s| s.to_string()).collect();
    strings(&toml::from_str(&stored).expect("secrets.toml"), &mut all);
    assert!(
        all.len() >= given.len() + 3,
        "key, webhook secret, password"
    );
    all
}

/// A full run logged as JSON: backfill, live changes, a webhook, a stream errored by the
/// API (`/readyz` 503 naming it, then 200), the destination refusing connections and
/// coming back (`/readyz` 503 "not connected", then 200 after the reconnect). Every log
/// line is a JSON object with timestamp, level and message, the sync (and stream) as
/// fields. Then a run logged as text. Neither log, nor any output of the commands, holds
/// the API key, the webhook secret, a database password or the API token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_destination_and_no_log_holds_a_secret() {
    let token = "api-token-never-logged-6310";
    let (c, db, inlet, fake) = stripe_sync(&[("INLET_API_TOKEN", token)]).await;
    let secrets = secrets_of(
        &inlet,
        &[
            &fake.api_key(),
            &fake.webhook_secret(),
            token,
            common::ADMIN_PASSWORD,
        ],
    );
    let listen = free_addr().to_string();
    fake.add_webhook_endpoint(&format!("http://{listen}/webhooks/stripe/stripe"));
    let run = Run::start(inlet.cmd(&["-vv", "run", "--listen", &listen, "--log-format", "json"]));
    wait_ready(&listen, 200, "ready").await;
    wait_until_async("every stream live", Duration::from_secs(120), || async {
        tokio::task::block_in_place(|| inlet.live("stripe"))
    })
    .await;
    let admin = c.admin_db(&db).await;
    let created = fake
        .create("customer", json!({"email": "logged@example.com"}))
        .expect("create");
    let id = created["id"].as_str().expect("id").to_string();
    wait_until_async(
        "the new customer's row",
        Duration::from_secs(30),
        || async {
            admin
                .query_opt("select 1 from stripe.customer where id = $1", &[&id])
                .await
                .expect("query")
                .is_some()
        },
    )
    .await;

    // The API fails the next reads (no retry in place): the stream that read them is
    // errored, and not ready, until a read succeeds again.
    fake.faults()
        .fail_next_with(3, Failure::status(500).should_retry(false));
    let errored = wait_ready(&listen, 503, "is errored: ").await;
    assert!(
        errored.starts_with("not ready\nsync \"stripe\" stream \""),
        "{errored}"
    );
    inlet_testkit::assert_plain_words(&errored);
    wait_ready(&listen, 200, "ready").await;

    // The destination goes away (no new connections; the sessions ended), then comes back.
    let server = c.admin().await;
    let quoted = format!("\"{db}\"");
    server
        .batch_execute(&format!("alter database {quoted} allow_connections false"))
        .await
        .expect("block");
    server
        .execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1",
            &[&db],
        )
        .await
        .expect("terminate");
    let gone = wait_ready(&listen, 503, "is not connected").await;
    assert!(
        gone.starts_with("not ready\nsync \"stripe\" is not connected: "),
        "{gone}"
    );
    inlet_testkit::assert_plain_words(&gone);
    server
        .batch_execute(&format!("alter database {quoted} allow_connections true"))
        .await
        .expect("unblock");
    wait_ready(&listen, 200, "ready").await;
    fake.update("customer", &id, json!({"email": "after@example.com"}))
        .expect("update");
    let admin = c.admin_db(&db).await;
    common::wait_for_customer_email(
        &admin,
        &id,
        "after@example.com",
        "the update after the reconnect",
        Duration::from_secs(30),
    )
    .await;
    let json_log = run.stop();

    let mut with_stream = 0;
    for line in json_log.lines().filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        for key in ["timestamp", "level", "message"] {
            assert!(v[key].is_string(), "no {key}: {line}");
        }
        if v["stream"].is_string() {
            assert_eq!(v["sync"], "stripe", "{line}");
            with_stream += 1;
        }
    }
    assert!(
        with_stream > 0,
        "the errored stream is logged with its sync and stream"
    );
    assert!(
        json_log.lines().any(|l| l.contains("\"sync\":\"stripe\"")
            && l.contains("\"fix\":")
            && l.contains("reconnecting")),
        "the lost destination is logged with the sync as a field"
    );

    // The same, briefly, as text.
    let run = Run::start(inlet.cmd(&["-vv", "run", "--listen", &listen]));
    wait_ready(&listen, 200, "ready").await;
    fake.update("customer", &id, json!({"email": "text@example.com"}))
        .expect("update");
    common::wait_for_customer_email(
        &admin,
        &id,
        "text@example.com",
        "the update, logged as text",
        Duration::from_secs(30),
    )
    .await;
    let text_log = run.stop();
    assert!(text_log.contains("sync=stripe"), "{text_log}");

    let status = tokio::task::block_in_place(|| inlet.run(&["sync", "status", "--json"]));
    for (what, said) in [
        ("the JSON log", &json_log),
        ("the text log", &text_log),
        ("sync status", &text(&status)),
    ] {
        for secret in &secrets {
            assert!(!said.contains(secret.as_str()), "{what} holds a secret");
        }
    }
}
