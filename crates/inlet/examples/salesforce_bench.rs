//! The Salesforce benchmark of issue 15 (BENCHMARKS.md, "Salesforce: backfill against
//! Airbyte and tap-salesforce"): one run, one PostgreSQL server, one fake Salesforce seeded
//! once with Accounts (48 fields, 45 of them columns: every standard Account field and a few
//! custom ones, two compound addresses; one record in fifty already in the Recycle Bin).
//!
//! Each round, on a fresh database per tool: `inlet run` syncing the Account stream alone
//! (`--streams account`), timed from spawning it until `_sync_state` says the stream is
//! live; then, when the peers are on, Airbyte's `source-salesforce` through PyAirbyte into
//! its Postgres cache (`bench/salesforce/airbyte_backfill.py`), and `tap-salesforce` (REST)
//! piped into `meltanolabs-target-postgres` (`bench/salesforce/tap_backfill.py`). Each
//! tool's rows are counted after; the fake counts every API request each one made (the
//! token request and describes included). After the last round's inlet backfill, the live
//! latency: `CHANGES` updates of different Accounts in the fake, each after a random pause
//! of up to a poll interval, timed until a primary-key lookup sees the new name.
//!
//! Usage: `cargo build --release -p inlet --bin inlet --example salesforce_bench`, then
//! `target/release/examples/salesforce_bench [ACCOUNTS] [ROUNDS] [CHANGES]` (defaults
//! 20000, 1, 50). `INLET_BENCH_API_MS` makes the fake answer every call after that long;
//! `INLET_BENCH_RATE` is inlet's `rate_limit` (requests/s; default: inlet's own default);
//! `INLET_BENCH_PG` the PostgreSQL major (default 15); `INLET_BENCH_SET` more `--set
//! KEY=VALUE` settings for the sync, separated by spaces (`bulk_threshold=...`).
//!
//! The peers reach `https://login.salesforce.com` and the `instance_url` the token names,
//! so with `INLET_BENCH_TLS=on` (as root) the fake is served over TLS as
//! `login.salesforce.com` and `bench.my.salesforce.com` on 127.0.0.1:443: a throwaway CA
//! made here, a line added to `/etc/hosts`, and the CA appended to each peer's `certifi`
//! bundle (airbyte-cdk's prepared requests ignore `REQUESTS_CA_BUNDLE`); all three undone
//! when the run ends. inlet then logs in there too (`SSL_CERT_FILE` names the CA), so every
//! tool pays the same TLS. The peers are installed into virtual environments outside the
//! repository from `bench/salesforce/*-requirements.txt`: `INLET_BENCH_AIRBYTE` (default
//! `/var/cache/inlet/bench-sf-airbyte`), `INLET_BENCH_TAP` and `INLET_BENCH_TARGET`
//! (`.../bench-sf-tap`, `.../bench-sf-target`); `off` skips a peer. Without TLS only inlet
//! runs, against the fake's plain URL.

mod bench_common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bench_common::{
    count_rows, inlet_bin, live_latency, peer_dir, percentile, seconds_of, tls_front,
    trust_in_certifi, venv, Inlet, Restore, Rng, Running, ADMIN_PASSWORD,
};

use inlet_fakes::salesforce::{Credentials, FakeSalesforce, Options};
use inlet_testkit::{peak_rss_mb, wait_until_async, Cluster, ClusterSpec};
use serde_json::{json, Value};

const SCHEMA: &str = "inlet";
const LOGIN_HOST: &str = "login.salesforce.com";
const INSTANCE_HOST: &str = "bench.my.salesforce.com";
/// inlet's `poll_interval_ms` for the live changes (its default).
const POLL_MS: u64 = 1000;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let accounts = args.first().copied().unwrap_or(20_000);
    let rounds = args.get(1).copied().unwrap_or(1).max(1);
    let changes = args.get(2).copied().unwrap_or(50);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench(accounts, rounds, changes));
}

/// A destination on `db` set up by inlet, and a sync of the Account stream into `SCHEMA`
/// logging in at `login`, with `extra` lines in its `[syncs.salesforce]`.
fn setup(
    bin: &Path,
    ca: Option<&Path>,
    c: &Cluster,
    db: &str,
    login: &str,
    credentials: &Credentials,
    extra: &str,
) -> Inlet {
    let inlet = Inlet::new(bin, ca);
    inlet.add_destination(c.host(), c.port, db);
    let client_id = format!("client_id={}", credentials.client_id);
    // `INLET_BENCH_SET`: more `--set KEY=VALUE` for the sync, separated by spaces
    // (e.g. `bulk_threshold=1000000000` to keep 100,000 Accounts on REST).
    let more = std::env::var("INLET_BENCH_SET").unwrap_or_default();
    let mut args = vec![
        "sync",
        "add",
        "salesforce",
        "--source",
        "salesforce",
        "--destination",
        "dest",
        "--schema",
        SCHEMA,
        "--login-url",
        login,
        "--set",
        &client_id,
        "--streams",
        "account",
    ];
    for setting in more.split_whitespace() {
        args.extend(["--set", setting]);
    }
    inlet.ok(
        &args,
        &[("SALESFORCE_SECRET", credentials.refresh_token.as_str())],
    );
    inlet.add_to_sync("salesforce", extra);
    inlet
}

struct Run {
    rows: i64,
    secs: f64,
    requests: u64,
    rss_mb: f64,
    /// inlet only: seconds from spawning to its first and its last API request.
    first_request: f64,
    last_request: f64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.secs
    }
}

/// `inlet run` backfilling the Account stream of a fresh database, until it is live; the
/// process is handed back still running.
async fn inlet_backfill(
    inlet: &Inlet,
    admin: &tokio_postgres::Client,
    fake: &FakeSalesforce,
) -> (Run, Running) {
    let requests = fake.requests();
    let started = Instant::now();
    let run = inlet.run();
    let sql = format!("select count(*) filter (where state = 'live') from {SCHEMA}._sync_state");
    let mut rss = 0.0f64;
    // The fake's request counter, sampled every 5 ms: when the first and the last request
    // of the backfill were made (start-up before, the writer's tail after).
    let (mut seen, mut first, mut last) = (requests, None, f64::NAN);
    let sample = async {
        loop {
            let (n, at) = (fake.requests(), started.elapsed().as_secs_f64());
            if n != seen {
                (seen, last) = (n, at);
                first.get_or_insert(at);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let live = wait_until_async(
        "the account stream to be live",
        Duration::from_secs(3600),
        || {
            rss = rss.max(peak_rss_mb(run.0.id()));
            async {
                matches!(admin.query_one(&sql, &[]).await, Ok(row) if row.get::<_, i64>(0) == 1)
            }
        },
    );
    tokio::select! {
        () = live => {}
        () = sample => {}
    }
    let secs = started.elapsed().as_secs_f64();
    let requests = fake.requests() - requests;
    let rss_mb = rss.max(peak_rss_mb(run.0.id()));
    let rows = count_rows(admin, SCHEMA, &["account"]).await;
    (
        Run {
            rows,
            secs,
            requests,
            rss_mb,
            first_request: first.unwrap_or(f64::NAN),
            last_request: last,
        },
        run,
    )
}

/// What every peer's process is given: the login, the database, the CA.
fn peer_env(
    cmd: &mut Command,
    credentials: &Credentials,
    c: &Cluster,
    db: &str,
    ca: &Path,
) -> String {
    let workdir = tempfile::tempdir().expect("tempdir").keep();
    cmd.current_dir(&workdir)
        .env("SF_CLIENT_ID", &credentials.client_id)
        .env("SF_CLIENT_SECRET", &credentials.client_secret)
        .env("SF_REFRESH_TOKEN", &credentials.refresh_token)
        .env("PGHOST", c.host())
        .env("PGPORT", c.port.to_string())
        .env("PGUSER", "postgres")
        .env("PGPASSWORD", ADMIN_PASSWORD)
        .env("PGDATABASE", db)
        .env("REQUESTS_CA_BUNDLE", ca)
        .env("SSL_CERT_FILE", ca)
        .env("DO_NOT_TRACK", "1")
        .env("AIRBYTE_OFFLINE_MODE", "1")
        .stdin(Stdio::null());
    workdir.display().to_string()
}

/// Airbyte's source through PyAirbyte into schema `airbyte` of `db`.
async fn airbyte(
    dir: &Path,
    ca: &Path,
    credentials: &Credentials,
    c: &Cluster,
    db: &str,
    fake: &FakeSalesforce,
) -> Run {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/salesforce/airbyte_backfill.py");
    let mut cmd = Command::new(dir.join("bin/python"));
    cmd.arg(script)
        .env("AIRBYTE_SOURCE", dir.join("bin/source-salesforce"));
    let workdir = peer_env(&mut cmd, credentials, c, db, ca);
    let requests = fake.requests();
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("python"))
        .await
        .expect("airbyte");
    let requests = fake.requests() - requests;
    let secs = seconds_of(&out, "Airbyte", &workdir);
    let admin = c.admin_db(db).await;
    Run {
        rows: count_rows(&admin, "airbyte", &["account"]).await,
        secs,
        requests,
        rss_mb: f64::NAN,
        first_request: f64::NAN,
        last_request: f64::NAN,
    }
}

/// tap-salesforce (REST) into meltanolabs-target-postgres, schema `tap` of `db`; the
/// discovery before is neither timed nor counted (its calls are printed).
async fn tap(
    tap_dir: &Path,
    target_dir: &Path,
    ca: &Path,
    credentials: &Credentials,
    c: &Cluster,
    db: &str,
    fake: &FakeSalesforce,
) -> Run {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/salesforce/tap_backfill.py");
    let command = |mode: &str, workdir: Option<&str>| {
        let mut cmd = Command::new(tap_dir.join("bin/python"));
        cmd.env("TAP", tap_dir.join("bin/tap-salesforce"))
            .env("TARGET", target_dir.join("bin/target-postgres"));
        let w = peer_env(&mut cmd, credentials, c, db, ca);
        let workdir = workdir.map_or(w, String::from);
        cmd.current_dir(&workdir)
            .arg(&script)
            .args([mode, &workdir]);
        (cmd, workdir)
    };
    let (mut discover, workdir) = command("discover", None);
    let requests = fake.requests();
    let out = tokio::task::spawn_blocking(move || discover.output().expect("python"))
        .await
        .expect("tap");
    assert!(
        out.status.success(),
        "tap-salesforce --discover failed (its files are in {workdir}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "tap-salesforce discovery: {} requests",
        fake.requests() - requests
    );
    let (mut sync, workdir) = command("sync", Some(&workdir));
    let requests = fake.requests();
    let out = tokio::task::spawn_blocking(move || sync.output().expect("python"))
        .await
        .expect("tap");
    let requests = fake.requests() - requests;
    let secs = seconds_of(&out, "tap-salesforce | target-postgres", &workdir);
    let admin = c.admin_db(db).await;
    Run {
        rows: count_rows(&admin, "tap", &["account"]).await,
        secs,
        requests,
        rss_mb: f64::NAN,
        first_request: f64::NAN,
        last_request: f64::NAN,
    }
}

async fn bench(accounts: usize, rounds: usize, changes: usize) {
    let bin = inlet_bin();
    let env_f64 = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<f64>().ok());
    let api_ms = env_f64("INLET_BENCH_API_MS").unwrap_or(0.0);
    let rate = env_f64("INLET_BENCH_RATE");
    let major: u32 = std::env::var("INLET_BENCH_PG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let tls = std::env::var("INLET_BENCH_TLS").is_ok_and(|v| v == "on");

    let cluster = ClusterSpec::new(major)
        .password_logins()
        .setting("shared_buffers", "256MB")
        .start();
    cluster.create_user("postgres", ADMIN_PASSWORD).await;

    let fake = FakeSalesforce::start(Options {
        seed: 15,
        // Plenty: the daily allocation is not what this measures.
        daily_limit: 100_000_000,
        instance_url: tls.then(|| format!("https://{INSTANCE_HOST}")),
        ..Options::default()
    })
    .await
    .expect("fake");
    let seeding = Instant::now();
    fake.seed_object("User", accounts / 50 + 3).expect("users");
    fake.seed_object("Account", accounts).expect("accounts");
    let live = fake.records("Account").expect("accounts");
    let in_bin = fake.deleted_ids("Account").expect("deleted").len();
    let fields = live
        .first()
        .and_then(Value::as_object)
        .map_or(0, |m| m.len());
    eprintln!(
        "seeded {accounts} accounts ({} live, {in_bin} in the Recycle Bin, {fields} fields each as the truth shows them) in {:.1} s; PostgreSQL {major}",
        live.len(),
        seeding.elapsed().as_secs_f64()
    );
    fake.faults()
        .latency(Duration::from_secs_f64(api_ms / 1000.0));

    let tls_dir = tempfile::tempdir().expect("tempdir");
    let mut restore = Restore(Vec::new());
    let ca = if tls {
        Some(
            tls_front(
                fake.local_addr(),
                tls_dir.path(),
                &[LOGIN_HOST, INSTANCE_HOST],
                "inlet salesforce_bench",
                &mut restore,
            )
            .await,
        )
    } else {
        None
    };
    let login = if tls {
        format!("https://{LOGIN_HOST}")
    } else {
        fake.login_url()
    };
    let (airbyte_dir, tap_dirs) = if let Some(ca) = &ca {
        let airbyte_dir = peer_dir("INLET_BENCH_AIRBYTE", "bench-sf-airbyte");
        if let Some(dir) = &airbyte_dir {
            venv(dir, "salesforce", "airbyte-requirements.txt");
            trust_in_certifi(dir, ca, &mut restore);
        }
        let tap_dirs = peer_dir("INLET_BENCH_TAP", "bench-sf-tap")
            .zip(peer_dir("INLET_BENCH_TARGET", "bench-sf-target"));
        if let Some((tap, target)) = &tap_dirs {
            venv(tap, "salesforce", "tap-requirements.txt");
            venv(target, "salesforce", "target-requirements.txt");
            trust_in_certifi(tap, ca, &mut restore);
        }
        (airbyte_dir, tap_dirs)
    } else {
        (None, None)
    };

    let credentials = fake.credentials();
    let extra = rate.map_or(String::new(), |r| format!("rate_limit = {r}\n"));
    let mut lines = Vec::new();
    let mut latencies = Vec::new();
    for round in 1..=rounds {
        let db = cluster.create_database().await;
        let admin = cluster.admin_db(&db).await;
        let inlet = setup(
            &bin,
            ca.as_deref(),
            &cluster,
            &db,
            &login,
            &credentials,
            &extra,
        );
        let (i, running) = inlet_backfill(&inlet, &admin, &fake).await;
        assert_eq!(i.rows, live.len() as i64, "inlet's account rows");
        eprintln!(
            "round {round}: inlet {:.0} rows/s ({} rows in {:.1} s, {} requests, the first at {:.2} s and the last at {:.2} s, peak RSS {:.0} MB)",
            i.rate(),
            i.rows,
            i.secs,
            i.requests,
            i.first_request,
            i.last_request,
            i.rss_mb
        );
        if round == rounds && changes > 0 {
            let ids: Vec<String> = live
                .iter()
                .filter_map(|r| r["Id"].as_str().map(String::from))
                .step_by((live.len() / changes).max(1))
                .take(changes)
                .collect();
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            let check = format!("select name from {SCHEMA}.account where id = $1");
            let spread = Duration::from_millis(POLL_MS);
            latencies = live_latency(&admin, &check, &ids, spread, &mut rng, |k, id| {
                let name = format!("live change {k}");
                let change = json!({ "Name": name });
                fake.update("Account", &[id.to_string()], &change)
                    .expect("update");
                name
            })
            .await;
        }
        running.stop();
        let mut line = vec![("inlet".to_string(), i)];
        if let (Some(dir), Some(ca)) = (&airbyte_dir, &ca) {
            let db = cluster.create_database().await;
            let a = airbyte(dir, ca, &credentials, &cluster, &db, &fake).await;
            eprintln!(
                "round {round}: Airbyte {:.0} rows/s ({} rows in {:.1} s, {} requests)",
                a.rate(),
                a.rows,
                a.secs,
                a.requests
            );
            line.push(("airbyte".to_string(), a));
        }
        if let (Some((tap_dir, target_dir)), Some(ca)) = (&tap_dirs, &ca) {
            let db = cluster.create_database().await;
            let t = tap(tap_dir, target_dir, ca, &credentials, &cluster, &db, &fake).await;
            eprintln!(
                "round {round}: tap-salesforce {:.0} rows/s ({} rows in {:.1} s, {} requests)",
                t.rate(),
                t.rows,
                t.secs,
                t.requests
            );
            line.push(("tap".to_string(), t));
        }
        lines.push(line);
    }
    drop(restore);

    println!(
        "\nPostgreSQL {major}, {accounts} Accounts ({} live, {in_bin} in the Recycle Bin), the fake answering after {api_ms} ms, inlet rate_limit {}, {}\n",
        live.len(),
        rate.map_or("default".to_string(), |r| r.to_string()),
        if tls { "over TLS" } else { "plain HTTP" }
    );
    println!("| round | tool | rows | seconds | rows/s | API requests | requests per 100,000 rows | peak RSS | inlet / this |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for (round, line) in lines.iter().enumerate() {
        let inlet_rate = line[0].1.rate();
        for (tool, r) in line {
            println!(
                "| {} | {tool} | {} | {:.1} | {:.0} | {} | {:.0} | {} | {:.1}× |",
                round + 1,
                r.rows,
                r.secs,
                r.rate(),
                r.requests,
                r.requests as f64 * 100_000.0 / r.rows as f64,
                if r.rss_mb.is_nan() {
                    String::new()
                } else {
                    format!("{:.0} MB", r.rss_mb)
                },
                inlet_rate / r.rate()
            );
        }
    }
    if !latencies.is_empty() {
        latencies.sort_by(f64::total_cmp);
        println!(
            "\nlive latency, update in the fake → row in PostgreSQL, poll_interval_ms {POLL_MS}: {} changes, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            latencies.len(),
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
            latencies.last().copied().unwrap_or(f64::NAN)
        );
    }
}
