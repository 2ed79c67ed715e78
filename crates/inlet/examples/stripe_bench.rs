//! The Stripe benchmark (BENCHMARKS.md, "Stripe: backfill and live latency"): one run, one
//! PostgreSQL server, one fake Stripe seeded once.
//!
//! Each round, on a fresh database: the fake's drain rate (every customer page fetched and
//! parsed by inlet's Stripe client, nothing written); `inlet run` backfilling the customer
//! stream; raw `psql \copy` of the same rows into a table of the same definition; and the
//! peer, `@supabase/stripe-sync-engine`'s `syncBackfill` (bench/peer). Then, on one more
//! database backfilled with the default settings, the live latency from an update in the fake
//! to the row visible in PostgreSQL, polling (default interval) and with webhooks (the poll
//! interval a minute, so only a webhook explains fast landing).
//!
//! Usage: `cargo build --release -p inlet && cargo run --release -p inlet --example
//! stripe_bench -- [CUSTOMERS] [ROUNDS] [CHANGES]` (defaults 100000, 3, 200).
//! `INLET_BENCH_PG` picks the PostgreSQL major (default 15); `INLET_BENCH_PEER` is where
//! the peer's npm packages are installed (default `$TMPDIR/inlet-bench-peer`; `off` skips
//! the peer).
//!
//! Against a real API's pace: `INLET_BENCH_API_MS` (each call answered after that long)
//! and `INLET_BENCH_API_BUDGET` (requests/s, 429 beyond) set the fake's knobs after seeding,
//! and `INLET_BENCH_API_ENDPOINT_BUDGET` its limit per endpoint (Stripe's is 25);
//! then only the backfills are timed (no drain, copy or live rounds), inlet with
//! `INLET_BENCH_RATE` as its `rate_limit` (default 1000) and `INLET_BENCH_ENDPOINT_RATE` as
//! its `endpoint_rate_limit` (default: the rate), and `INLET_BENCH_BEFORE_BIN`, a
//! second inlet build (e.g. main's), is timed in the same rounds, as are the peer and dlt
//! (`bench/dlt`, installed into the virtual environment `INLET_BENCH_DLT`, default
//! `/var/cache/inlet/bench-dlt`; `off` skips it). `INLET_BENCH_STREAMS=all` syncs every
//! stream (the whole account) and times inlet alone until every stream is live, against
//! the fewest requests the account needs at `INLET_BENCH_RATE`.
//!
//! `INLET_BENCH_CATCHUP=N` adds a catch-up after downtime to the live part: N customers
//! updated while inlet is stopped, then `inlet run` timed until all are in PostgreSQL and
//! `_sync_event` (the change log's path at the pace of the events feed);
//! `INLET_BENCH_CATCHUP_MS` has the fake answer each of its calls after that long.

mod bench_common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench_common::{live_latency, percentile, Rng};
use inlet_connectors::http::RateLimiter;
use inlet_connectors::stripe::client::StripeClient;
use inlet_connectors::stripe::DEFAULT_STRIPE_VERSION;
use inlet_fakes::stripe::{FakeStripe, Options, STREAMS};
use inlet_testkit::{peak_rss_mb, psql_seconds, wait_until_async, Cluster, ClusterSpec};
use serde_json::{json, Value};

const ADMIN_PASSWORD: &str = "bench-admin-5521";
const SCHEMA: &str = "inlet";
/// `rate_limit` for the backfill rounds: high enough never to be what limits them.
const BENCH_RATE_LIMIT: f64 = 1000.0;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let customers = args.first().copied().unwrap_or(100_000);
    let rounds = args.get(1).copied().unwrap_or(3).max(1);
    let changes = args.get(2).copied().unwrap_or(200);
    let major: u32 = std::env::var("INLET_BENCH_PG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench(customers, rounds, changes, major));
}

/// A tiny deterministic generator for the pauses between live changes.
struct Inlet {
    bin: PathBuf,
    dir: tempfile::TempDir,
}

impl Inlet {
    fn config(&self) -> PathBuf {
        self.dir.path().join("inlet.toml")
    }

    fn cmd(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .arg("--config")
            .arg(self.config())
            .args(args)
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn ok(&self, args: &[&str], env: &[(&str, &str)]) {
        let out = self.cmd(args, env).output().expect("run inlet");
        assert!(
            out.status.success(),
            "inlet {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A destination on `db` set up by inlet, and a sync of the customer stream (of every
    /// stream with `INLET_BENCH_STREAMS=all`) into `SCHEMA`, with `extra` lines added to
    /// its `[syncs.stripe]` table.
    fn setup(bin: &Path, c: &Cluster, db: &str, fake: &FakeStripe, extra: &str) -> Inlet {
        let inlet = Inlet {
            bin: bin.to_path_buf(),
            dir: tempfile::tempdir().expect("tempdir"),
        };
        let port = c.port.to_string();
        inlet.ok(
            &[
                "destination",
                "add",
                "dest",
                "--host",
                c.host(),
                "--port",
                &port,
                "--dbname",
                db,
                "--sslmode",
                "disable",
            ],
            &[],
        );
        inlet.ok(
            &["destination", "setup", "dest", "--auto", "--grant-to", ""],
            &[("INLET_ADMIN_PASSWORD", ADMIN_PASSWORD)],
        );
        let (key, secret) = (fake.api_key(), fake.webhook_secret());
        let url = fake.url();
        let mut args = vec!["sync", "add", "stripe", "--destination", "dest"];
        args.extend(["--schema", SCHEMA, "--api-base", &url]);
        if !all_streams() {
            args.extend(["--streams", "customer"]);
        }
        inlet.ok(
            &args,
            &[
                ("STRIPE_API_KEY", key.as_str()),
                ("STRIPE_WEBHOOK_SECRET", secret.as_str()),
            ],
        );
        inlet.set(extra);
        inlet
    }

    /// Replaces the lines this benchmark added to `[syncs.stripe]` by `extra`.
    fn set(&self, extra: &str) {
        let config = std::fs::read_to_string(self.config()).expect("config");
        let (head, tail) = config
            .split_once("[syncs.stripe]\n")
            .expect("[syncs.stripe] in inlet.toml");
        let tail: String = tail
            .lines()
            .filter(|l| {
                !["rate_limit", "endpoint_rate_limit", "poll_interval_ms"]
                    .iter()
                    .any(|k| l.starts_with(k))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(
            self.config(),
            format!("{head}[syncs.stripe]\n{extra}{tail}"),
        )
        .expect("write config");
    }

    fn run(&self, listen: Option<&str>) -> Running {
        let mut args = vec!["run"];
        if let Some(l) = listen {
            args.extend(["--listen", l]);
        }
        let log = std::fs::File::create(self.dir.path().join("run.log")).expect("log");
        Running(
            self.cmd(&args, &[])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("inlet run"),
        )
    }
}

struct Running(Child);

/// CPU seconds (user + system) a process has used, from /proc (USER_HZ is 100 on Linux).
fn cpu_secs(pid: &str) -> f64 {
    let fields = stat_fields(pid);
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime, fields 14 and 15 of stat (index 11 and 12 from field 3).
    (ticks(11) + ticks(12)) / 100.0
}

/// The fields of /proc/PID/stat from the third on (after the command name).
fn stat_fields(pid: &str) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// The pid of the PostgreSQL server `admin` is connected to (its backend's parent).
async fn postmaster_of(admin: &tokio_postgres::Client) -> String {
    let backend: i32 = admin
        .query_one("select pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let parent = stat_fields(&backend.to_string()).get(1).cloned();
    parent.unwrap_or_default()
}

/// CPU seconds of the whole PostgreSQL server: the postmaster, its live children, and the
/// children it has reaped (cutime, cstime).
fn server_cpu_secs(postmaster: &str) -> f64 {
    let tick = |f: &[String], i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let own = stat_fields(postmaster);
    let mut total = tick(&own, 11) + tick(&own, 12) + tick(&own, 13) + tick(&own, 14);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.chars().all(|c| c.is_ascii_digit()) {
            let f = stat_fields(&name);
            if f.get(1).map(String::as_str) == Some(postmaster) {
                total += tick(&f, 11) + tick(&f, 12);
            }
        }
    }
    total / 100.0
}

impl Running {
    fn cpu_secs(&self) -> f64 {
        cpu_secs(&self.0.id().to_string())
    }

    /// SIGTERM, then wait for the exit.
    fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The fake's drain rate: every customer page fetched and parsed by inlet's Stripe client;
/// with `rows`, each object also made into the row inlet writes (nothing is written).
async fn drain(fake: &FakeStripe, rows: bool) -> (usize, f64) {
    let limiter = Arc::new(RateLimiter::new(BENCH_RATE_LIMIT, BENCH_RATE_LIMIT as u32));
    let client = StripeClient::new(
        &fake.url(),
        &fake.api_key(),
        DEFAULT_STRIPE_VERSION,
        limiter,
    )
    .expect("client");
    let started = Instant::now();
    let (mut n, mut after): (usize, Option<String>) = (0, None);
    loop {
        let mut params = vec![("limit", "100".to_string())];
        if let Some(a) = &after {
            params.push(("starting_after", a.clone()));
        }
        let page = client
            .list("/v1/customers", &params)
            .await
            .unwrap_or_else(|e| panic!("list customers: {e:?}"));
        n += page.data.len();
        if rows {
            for o in &page.data {
                std::hint::black_box(inlet_connectors::stripe::row("customer", o));
            }
        }
        after = page
            .data
            .last()
            .and_then(|o| o.get("id"))
            .and_then(Value::as_str)
            .map(String::from);
        if !page.has_more || after.is_none() {
            break;
        }
    }
    (n, started.elapsed().as_secs_f64())
}

async fn count(admin: &tokio_postgres::Client, table: &str) -> i64 {
    admin
        .query_one(&format!("select count(*) from {table}"), &[])
        .await
        .map(|r| r.get(0))
        .unwrap_or(-1)
}

/// Whether the sync reads every stream (`INLET_BENCH_STREAMS=all`: the whole account),
/// not only customers.
fn all_streams() -> bool {
    std::env::var("INLET_BENCH_STREAMS").is_ok_and(|v| v == "all")
}

/// Waits until inlet says every stream of the sync is live (its backfill committed).
async fn wait_live(admin: &tokio_postgres::Client, deadline: Duration) {
    let streams = if all_streams() { STREAMS.len() } else { 1 } as i64;
    let sql = format!("select count(*) filter (where state = 'live') from {SCHEMA}._sync_state");
    wait_until_async("every stream to be live", deadline, || async {
        matches!(admin.query_one(&sql, &[]).await, Ok(row) if row.get::<_, i64>(0) == streams)
    })
    .await;
}

/// The fewest requests that can backfill the whole account, read as inlet reads it, by
/// endpoint (named by the stream whose list it is): each list in pages of 100; the children
/// streams read their parents' list again, plus one page of 100 per parent holding more
/// children than the 10 embedded; payment methods one list per customer (with the customer
/// list to find them). All of them ÷ the rate, or the busiest endpoint's ÷ its own limit,
/// whichever is longer, is the shortest time a backfill read this way can take.
fn fewest_requests(fake: &FakeStripe) -> HashMap<String, u64> {
    let count = |stream: &str| fake.objects(stream).expect("objects").len() as u64;
    let pages = |n: u64| n.div_ceil(100).max(1);
    let beyond_embedded = |child: &str, parent_field: &str| -> u64 {
        let mut per_parent = HashMap::<String, u64>::new();
        for o in fake.objects(child).expect("objects") {
            let parent = o[parent_field].as_str().unwrap_or_default().to_string();
            *per_parent.entry(parent).or_default() += 1;
        }
        per_parent
            .values()
            .map(|n| n.saturating_sub(10).div_ceil(100))
            .sum()
    };
    let mut by_endpoint = HashMap::<String, u64>::new();
    let mut add = |endpoint: &str, n: u64| *by_endpoint.entry(endpoint.into()).or_default() += n;
    for stream in STREAMS {
        match stream {
            "subscription_item" | "invoice_line_item" => {
                let parent = stream.trim_end_matches("_item").trim_end_matches("_line");
                add(parent, pages(count(parent)));
                add(stream, beyond_embedded(stream, parent));
            }
            "payment_method" => {
                add("customer", pages(count("customer")));
                add(stream, count("customer"));
            }
            _ => add(stream, pages(count(stream))),
        }
    }
    by_endpoint
}

struct Backfill {
    secs: f64,
    rss_mb: f64,
    /// CPU seconds of `inlet run`, of this process (the fake, mostly) and of PostgreSQL.
    inlet_cpu: f64,
    fake_cpu: f64,
    pg_cpu: f64,
    /// Seconds from spawning `inlet run` to its first API request and to its last one
    /// (the fake's request counter, sampled every 5 ms): start-up, reading, and after the
    /// last request the writer's tail.
    first_request: f64,
    last_request: f64,
    /// Requests the fake answered in each half second from the spawn.
    timeline: Vec<u64>,
}

/// `inlet run` backfilling the customer stream of a fresh database.
async fn inlet_backfill(
    inlet: &Inlet,
    admin: &tokio_postgres::Client,
    rows: usize,
    fake: &FakeStripe,
) -> Backfill {
    let postmaster = postmaster_of(admin).await;
    let started = Instant::now();
    let (own, server) = (cpu_secs("self"), server_cpu_secs(&postmaster));
    let run = inlet.run(None);
    let (mut seen, mut first, mut last) = (fake.requests(), None, f64::NAN);
    let mut timeline = Vec::new();
    let sample = async {
        let before = seen;
        loop {
            let (n, at) = (fake.requests(), started.elapsed().as_secs_f64());
            if n != seen {
                (seen, last) = (n, at);
                first.get_or_insert(at);
            }
            // Requests answered by the end of each half second, made per-bucket below.
            let bucket = (at * 2.0) as usize;
            if timeline.len() <= bucket {
                timeline.resize(bucket + 1, n - before);
            }
            timeline[bucket] = n - before;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::select! {
        () = wait_live(admin, Duration::from_secs(1800)) => {}
        () = sample => {}
    }
    let took = started.elapsed().as_secs_f64();
    for i in (1..timeline.len()).rev() {
        timeline[i] -= timeline[i - 1];
    }
    let (inlet_cpu, fake_cpu) = (run.cpu_secs(), cpu_secs("self") - own);
    let pg_cpu = server_cpu_secs(&postmaster) - server;
    let rss = peak_rss_mb(run.0.id());
    run.stop();
    let have = count(admin, &format!("{SCHEMA}.customer")).await;
    assert_eq!(have, rows as i64, "inlet's customer rows");
    Backfill {
        first_request: first.unwrap_or(f64::NAN),
        last_request: last,
        timeline,
        secs: took,
        rss_mb: rss,
        inlet_cpu,
        fake_cpu,
        pg_cpu,
    }
}

/// The peer's packages, installed once into `dir` (outside the repository).
fn peer_setup(dir: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/peer");
    std::fs::create_dir_all(dir).expect("peer dir");
    for f in ["package.json", "package-lock.json", "backfill.mjs"] {
        std::fs::copy(src.join(f), dir.join(f)).expect("copy bench/peer");
    }
    if !dir
        .join("node_modules/@supabase/stripe-sync-engine")
        .exists()
    {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dir)
            .output()
            .expect("npm");
        assert!(
            out.status.success(),
            "npm ci: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The peer's backfill of customers into schema `stripe` of `db`: seconds, as it times
/// `syncBackfill` itself (its migrations run before, untimed).
fn peer_backfill(dir: &Path, c: &Cluster, db: &str, fake: &FakeStripe) -> (usize, f64) {
    let url = format!(
        "postgres://postgres:{ADMIN_PASSWORD}@{}:{}/{db}",
        c.host(),
        c.port
    );
    let out = Command::new("node")
        .arg("backfill.mjs")
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env("STRIPE_API_BASE", fake.url())
        .env("STRIPE_API_KEY", fake.api_key())
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "peer: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(line.lines().last().unwrap_or_default())
        .unwrap_or_else(|_| panic!("peer output: {line}"));
    (
        v["synced"].as_u64().unwrap_or(0) as usize,
        v["seconds"].as_f64().unwrap_or(f64::NAN),
    )
}

/// dlt (`bench/dlt`), installed once into a virtual environment at `dir` (outside the
/// repository) from the pinned requirements.
fn dlt_setup(dir: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/dlt");
    if dir.join("bin/python").exists() {
        return;
    }
    let run = |cmd: &mut Command| {
        let out = cmd.output().expect("python");
        assert!(
            out.status.success(),
            "installing dlt: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(dir));
    run(Command::new(dir.join("bin/pip"))
        .args(["install", "-q", "-r"])
        .arg(src.join("requirements.txt")));
}

/// dlt's backfill of customers (its `rest_api` source, merged into schema `dlt` of `db`):
/// rows and seconds, as it times its `pipeline.run` itself.
fn dlt_backfill(dir: &Path, c: &Cluster, db: &str, fake: &FakeStripe) -> (usize, f64) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/dlt/backfill.py");
    let state = tempfile::tempdir().expect("tempdir");
    let url = format!(
        "postgresql://postgres:{ADMIN_PASSWORD}@{}:{}/{db}",
        c.host(),
        c.port
    );
    let out = Command::new(dir.join("bin/python"))
        .arg(script)
        .current_dir(state.path())
        .env("DATABASE_URL", url)
        .env("STRIPE_API_BASE", fake.url())
        .env("STRIPE_API_KEY", fake.api_key())
        .env("DLT_PIPELINES_DIR", state.path())
        .env("RUNTIME__DLTHUB_TELEMETRY", "false")
        .output()
        .expect("dlt");
    assert!(
        out.status.success(),
        "dlt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(line.lines().last().unwrap_or_default())
        .unwrap_or_else(|_| panic!("dlt output: {line}"));
    (
        v["synced"].as_u64().unwrap_or(0) as usize,
        v["seconds"].as_f64().unwrap_or(f64::NAN),
    )
}

/// The `label`'s k-th change of customer `id`'s name, in the fake; the name.
fn change(fake: &FakeStripe, label: &str, k: usize, id: &str) -> String {
    let name = format!("{label} change {k}");
    fake.update("customer", id, json!({ "name": name }))
        .expect("update");
    name
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        f64::NAN
    } else {
        s[s.len() / 2]
    }
}

async fn bench(customers: usize, rounds: usize, changes: usize, major: u32) {
    // `INLET_BENCH_BIN` compares another build of inlet (before and after a change).
    let bin = std::env::var_os("INLET_BENCH_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            Some(
                std::env::current_exe()
                    .ok()?
                    .parent()?
                    .parent()?
                    .join("inlet"),
            )
        })
        .filter(|p| p.exists())
        .expect("the inlet binary next to examples/ (cargo build --release -p inlet first)");
    let peer_dir = match std::env::var("INLET_BENCH_PEER") {
        Ok(v) if v == "off" => None,
        Ok(v) => Some(PathBuf::from(v)),
        Err(_) => Some(std::env::temp_dir().join("inlet-bench-peer")),
    };
    if let Some(dir) = &peer_dir {
        peer_setup(dir);
    }
    // `INLET_BENCH_DLT`: the virtual environment dlt is installed into (default
    // /var/cache/inlet/bench-dlt; `off` skips it). Timed only against a real API's pace.
    let dlt_dir = match std::env::var("INLET_BENCH_DLT") {
        Ok(v) if v == "off" => None,
        Ok(v) => Some(PathBuf::from(v)),
        Err(_) => Some(PathBuf::from("/var/cache/inlet/bench-dlt")),
    };
    let cluster = ClusterSpec::new(major)
        .password_logins()
        .setting("shared_buffers", "256MB")
        .start();
    cluster.create_user("postgres", ADMIN_PASSWORD).await;

    let fake = FakeStripe::start(Options {
        seed: 6,
        history_end: Some(1_780_000_000),
        ..Options::default()
    })
    .await
    .expect("fake");
    let seeding = Instant::now();
    fake.seed(customers);
    let seeded = fake.objects("customer").expect("customers");
    assert_eq!(seeded.len(), customers);
    eprintln!(
        "seeded {customers} customers in {:.1}s; PostgreSQL {major}",
        seeding.elapsed().as_secs_f64()
    );

    let env_f64 = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<f64>().ok());
    let api_ms = env_f64("INLET_BENCH_API_MS").filter(|ms| *ms > 0.0);
    let rate_limit = env_f64("INLET_BENCH_RATE").unwrap_or(BENCH_RATE_LIMIT);
    let before_bin = std::env::var_os("INLET_BENCH_BEFORE_BIN").map(PathBuf::from);
    if let Some(ms) = api_ms {
        fake.faults().latency(Duration::from_secs_f64(ms / 1000.0));
    }
    fake.faults().rate_limit(env_f64("INLET_BENCH_API_BUDGET"));
    fake.faults()
        .endpoint_rate_limit(env_f64("INLET_BENCH_API_ENDPOINT_BUDGET"));
    let (mut befores, mut calls, mut dlts) = (Vec::new(), Vec::new(), Vec::new());
    let dlt_dir = dlt_dir.filter(|_| api_ms.is_some() && !all_streams());
    if let Some(dir) = &dlt_dir {
        dlt_setup(dir);
    }
    // The whole account: only inlet is timed (the peers are wired for customers only),
    // against the fewest requests a backfill read as inlet reads can make.
    let peer_dir = peer_dir.filter(|_| !all_streams());
    let fewest = all_streams().then(|| fewest_requests(&fake));

    let csv = std::env::temp_dir().join(format!("inlet-stripe-bench-{}.csv", std::process::id()));
    let (mut drains, mut builds, mut inlets, mut copies, mut peers) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut rss, mut cpu) = (0.0f64, Vec::new());
    for round in 1..=rounds {
        if api_ms.is_none() {
            let (n, secs) = drain(&fake, false).await;
            assert_eq!(n, customers, "drained customers");
            drains.push(secs);
            let (n, secs) = drain(&fake, true).await;
            assert_eq!(n, customers, "drained customers");
            builds.push(secs);
        }
        if let Some(before) = &before_bin {
            let db = cluster.create_database().await;
            let admin = cluster.admin_db(&db).await;
            // Only the rate: builds before `endpoint_rate_limit` refuse the key.
            let rate_line = format!("rate_limit = {rate_limit}\n");
            let inlet = Inlet::setup(before, &cluster, &db, &fake, &rate_line);
            let (requests, limited) = (fake.requests(), fake.rate_limited());
            let b = inlet_backfill(&inlet, &admin, customers, &fake).await;
            eprintln!(
                "round {round}: inlet before {:.0}/s ({} requests, {} answered 429), peak RSS {:.0} MB",
                customers as f64 / b.secs,
                fake.requests() - requests,
                fake.rate_limited() - limited,
                b.rss_mb
            );
            befores.push(b.secs);
        }

        let db = cluster.create_database().await;
        let admin = cluster.admin_db(&db).await;
        let inlet = Inlet::setup(&bin, &cluster, &db, &fake, &limits(rate_limit));
        let (requests, limited) = (fake.requests(), fake.rate_limited());
        let b = inlet_backfill(&inlet, &admin, customers, &fake).await;
        calls.push((fake.requests() - requests, fake.rate_limited() - limited));
        inlets.push(b.secs);
        rss = rss.max(b.rss_mb);
        cpu.push((b.secs, b.inlet_cpu, b.fake_cpu, b.pg_cpu));
        if api_ms.is_some() {
            if let Some(dir) = &peer_dir {
                let (synced, secs) = peer_backfill(dir, &cluster, &db, &fake);
                assert_eq!(synced, customers, "the peer's synced count");
                peers.push(secs);
            }
            if let Some(dir) = &dlt_dir {
                let (synced, secs) = dlt_backfill(dir, &cluster, &db, &fake);
                assert_eq!(synced, customers, "dlt's rows");
                dlts.push(secs);
            }
            let rate = |s: &[f64]| s.last().map_or(f64::NAN, |s| customers as f64 / s);
            eprintln!(
                "round {round}: inlet {:.0}/s in {:.1} s (first request at {:.2} s, last at {:.2} s; {} requests, {} answered 429, peak RSS {:.0} MB, CPU {:.1} s), peer {:.0}/s, dlt {:.0}/s",
                rate(&inlets), b.secs, b.first_request, b.last_request,
                calls.last().map_or(0, |c| c.0), calls.last().map_or(0, |c| c.1),
                b.rss_mb, b.inlet_cpu, rate(&peers), rate(&dlts)
            );
            eprintln!("  requests per half second: {:?}", b.timeline);
            continue;
        }

        // The rows inlet wrote, exported untimed, loaded raw into a table like inlet's.
        psql_seconds(
            &cluster,
            &db,
            &format!(
                "\\copy (select * from {SCHEMA}.customer) to '{}' csv\n\
                 create schema raw;\ncreate table raw.customer (like {SCHEMA}.customer including all);\n",
                csv.display()
            ),
        );
        copies.push(psql_seconds(
            &cluster,
            &db,
            &format!("\\copy raw.customer from '{}' csv\n", csv.display()),
        ));
        assert_eq!(count(&admin, "raw.customer").await, customers as i64);

        if let Some(dir) = &peer_dir {
            let (synced, secs) = peer_backfill(dir, &cluster, &db, &fake);
            assert_eq!(synced, customers, "the peer's synced count");
            assert_eq!(
                count(&admin, "stripe.customers").await,
                customers as i64,
                "the peer's rows"
            );
            peers.push(secs);
        }
        let rate = |s: &[f64]| s.last().map_or(f64::NAN, |s| customers as f64 / s);
        eprintln!(
            "round {round}: drain {:.0}/s (with rows {:.0}/s), inlet {:.0}/s, psql \\copy {:.0}/s, peer {:.0}/s",
            rate(&drains),
            rate(&builds),
            rate(&inlets),
            rate(&copies),
            rate(&peers)
        );
    }
    let _ = std::fs::remove_file(&csv);
    if let Some(ms) = api_ms {
        let rate = |secs: &[f64]| customers as f64 / median(secs);
        println!("\nPostgreSQL {major}, {customers} customers, {rounds} rounds; the fake answers in {ms} ms, budget {:?} requests/s; inlet rate_limit {rate_limit}\n", env_f64("INLET_BENCH_API_BUDGET"));
        println!("| what | median rows/s |\n|---|---:|");
        println!("| inlet (this build) | {:.0} |", rate(&inlets));
        if !befores.is_empty() {
            println!(
                "| inlet before (INLET_BENCH_BEFORE_BIN) | {:.0} |",
                rate(&befores)
            );
        }
        if !peers.is_empty() {
            println!(
                "| @supabase/stripe-sync-engine syncBackfill | {:.0} |",
                rate(&peers)
            );
        }
        if !dlts.is_empty() {
            println!(
                "| dlt rest_api, merge into PostgreSQL | {:.0} |",
                rate(&dlts)
            );
        }
        println!("requests and 429s per inlet run: {calls:?}; inlet peak RSS {rss:.0} MB");
        if let Some(by_endpoint) = fewest {
            let fewest: u64 = by_endpoint.values().sum();
            let (busiest, most) = (by_endpoint.iter())
                .max_by_key(|(_, n)| **n)
                .expect("an endpoint");
            let endpoint_rate = env_f64("INLET_BENCH_ENDPOINT_RATE").unwrap_or(rate_limit);
            let bound = (fewest as f64 / rate_limit).max(*most as f64 / endpoint_rate);
            println!(
                "whole account: {fewest} requests at least, {:.1} s at {rate_limit} requests/s; the busiest endpoint ({busiest}'s) {most}, {:.1} s at {endpoint_rate}/s; inlet to every stream live: {:?} s, median {:.2}x the bound of {bound:.1} s",
                fewest as f64 / rate_limit,
                *most as f64 / endpoint_rate,
                inlets.iter().map(|s| (s * 10.0).round() / 10.0).collect::<Vec<_>>(),
                median(&inlets) / bound
            );
        }
        return;
    }

    // Live: a fresh database, backfilled with the defaults (rate limit, poll interval).
    let db = cluster.create_database().await;
    let admin = cluster.admin_db(&db).await;
    let inlet = Inlet::setup(&bin, &cluster, &db, &fake, "");
    let started = Instant::now();
    let run = inlet.run(None);
    wait_live(&admin, Duration::from_secs(1800)).await;
    let default_backfill = started.elapsed().as_secs_f64();
    assert_eq!(
        count(&admin, &format!("{SCHEMA}.customer")).await,
        customers as i64
    );
    let ids: Vec<String> = seeded
        .iter()
        .filter_map(|o| o["id"].as_str().map(String::from))
        .take(changes * 2 + 1)
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let check = format!("select name from {SCHEMA}.customer where id = $1");
    let mut polling = live_latency(
        &admin,
        &check,
        &ids[..changes.min(ids.len())],
        Duration::from_millis(1000),
        &mut rng,
        |k, id| change(&fake, "poll", k, id),
    )
    .await;
    run.stop();
    let catch_up = match env_f64("INLET_BENCH_CATCHUP") {
        Some(n) if n >= 1.0 => Some(catch_up(&inlet, &admin, &fake, &seeded, n as usize).await),
        _ => None,
    };

    // Webhooks: the poll a minute away, the fake posting every event to `inlet run`.
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .to_string();
    fake.add_webhook_endpoint(&format!("http://{listen}/webhooks/stripe/stripe"));
    inlet.set("poll_interval_ms = 60000\n");
    let run = inlet.run(Some(&listen));
    wait_until_async("inlet run to listen", Duration::from_secs(30), || {
        let up = std::net::TcpStream::connect(&listen).is_ok();
        async move { up }
    })
    .await;
    // Up when the first change lands: it is measured like the others but not counted.
    let warm = live_latency(
        &admin,
        &check,
        &ids[changes.min(ids.len())..][..1],
        Duration::ZERO,
        &mut rng,
        |k, id| change(&fake, "warm-up", k, id),
    )
    .await;
    let mut webhook = live_latency(
        &admin,
        &check,
        &ids[changes.min(ids.len()) + 1..],
        Duration::from_millis(100),
        &mut rng,
        |k, id| change(&fake, "webhook", k, id),
    )
    .await;
    webhook.truncate(changes);
    run.stop();

    let rate = |secs: &[f64]| customers as f64 / median(secs);
    let best = |secs: &[f64]| customers as f64 / secs.iter().copied().fold(f64::MAX, f64::min);
    println!(
        "\nPostgreSQL {major}, {customers} customers, {rounds} rounds (median and best rows/s)\n"
    );
    println!("| what | median rows/s | best rows/s | vs inlet (median) |");
    println!("|---|---:|---:|---:|");
    let inlet_rate = rate(&inlets);
    let mut lines = vec![
        (
            "fake drain: all pages fetched and parsed, nothing written",
            &drains,
        ),
        (
            "fake drain, each object also made into inlet's row",
            &builds,
        ),
        (
            "inlet run: backfill of the customer stream (rate_limit 1000)",
            &inlets,
        ),
        ("psql \\copy of the same rows (raw)", &copies),
    ];
    if !peers.is_empty() {
        lines.push(("@supabase/stripe-sync-engine 0.48.5 syncBackfill", &peers));
    }
    for (what, secs) in lines {
        println!(
            "| {what} | {:.0} | {:.0} | {:.2}x |",
            rate(secs),
            best(secs),
            rate(secs) / inlet_rate
        );
    }
    println!(
        "| inlet run with the default rate_limit (20 req/s), one run | {:.0} | | {:.2}x |",
        customers as f64 / default_backfill,
        customers as f64 / default_backfill / inlet_rate
    );
    if !peers.is_empty() {
        let per_round: Vec<f64> = inlets
            .iter()
            .zip(&peers)
            .map(|(i, p)| (p / i * 10.0).round() / 10.0)
            .collect();
        println!(
            "\ninlet / peer per round (same round, side by side): {per_round:?}, median {:.1}x",
            median(&per_round)
        );
        println!(
            "inlet / peer: {:.1}x (median rates), rounds: inlet {:?} s, peer {:?} s",
            inlet_rate / rate(&peers),
            inlets
                .iter()
                .map(|s| (s * 100.0).round() / 100.0)
                .collect::<Vec<_>>(),
            peers
                .iter()
                .map(|s| (s * 100.0).round() / 100.0)
                .collect::<Vec<_>>()
        );
    }
    println!("inlet run peak RSS during backfill: {rss:.0} MB");
    for (secs, inlet_cpu, fake_cpu, pg_cpu) in &cpu {
        println!(
            "backfill {secs:.2} s wall: CPU inlet run {inlet_cpu:.2} s ({:.0}%), fake {fake_cpu:.2} s ({:.0}%), PostgreSQL {pg_cpu:.2} s ({:.0}%)",
            100.0 * inlet_cpu / secs,
            100.0 * fake_cpu / secs,
            100.0 * pg_cpu / secs
        );
    }
    polling.sort_by(f64::total_cmp);
    webhook.sort_by(f64::total_cmp);
    println!("\n| live latency, update in the fake → row in PostgreSQL | changes | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    for (what, v) in [
        ("polling, poll_interval_ms 1000 (default)", &polling),
        ("webhooks, poll_interval_ms 60000", &webhook),
    ] {
        println!(
            "| {what} | {} | {:.0} | {:.0} | {:.0} |",
            v.len(),
            percentile(v, 50.0),
            percentile(v, 99.0),
            v.last().copied().unwrap_or(f64::NAN)
        );
    }
    println!(
        "(the first webhook change after the restart, not counted: {:.0} ms)",
        warm.first().copied().unwrap_or(f64::NAN)
    );
    if let Some(c) = catch_up {
        println!(
            "\ncatch-up after downtime: {} customers updated while inlet was stopped, all in PostgreSQL \
             and in _sync_event {:.2} s after `inlet run` started: {:.0} updates/s; {} requests \
             (the events feed, 100 a page; each call answered after {:.0} ms); CPU inlet {:.2} s ({:.0}%), PostgreSQL {:.2} s ({:.0}%)",
            c.updates,
            c.secs,
            c.updates as f64 / c.secs,
            c.requests,
            c.latency_ms,
            c.inlet_cpu,
            100.0 * c.inlet_cpu / c.secs,
            c.pg_cpu,
            100.0 * c.pg_cpu / c.secs
        );
    }
}

async fn logged_updates(admin: &tokio_postgres::Client) -> i64 {
    let sql = format!("select count(*) from {SCHEMA}._sync_event where event_type = 'update'");
    admin.query_one(&sql, &[]).await.expect("events").get(0)
}

/// What a catch-up after downtime took.
struct CatchUp {
    updates: usize,
    secs: f64,
    requests: u64,
    latency_ms: f64,
    inlet_cpu: f64,
    pg_cpu: f64,
}

/// The sync's limits for a timed run: `rate_limit`, and each endpoint's
/// (`INLET_BENCH_ENDPOINT_RATE`; by default the same, so only the rate limits).
fn limits(rate_limit: f64) -> String {
    let endpoint = std::env::var("INLET_BENCH_ENDPOINT_RATE").ok();
    let endpoint = endpoint.and_then(|r| r.parse::<f64>().ok());
    let endpoint = endpoint.unwrap_or(rate_limit);
    format!("rate_limit = {rate_limit}\nendpoint_rate_limit = {endpoint}\n")
}

/// A catch-up after downtime, the change log's case: `n` distinct customers updated while
/// inlet is stopped, then `inlet run` (rate_limit 1000, so the API's pace is not what
/// bounds it) timed until the last update is in the table, each update logged once.
async fn catch_up(
    inlet: &Inlet,
    admin: &tokio_postgres::Client,
    fake: &FakeStripe,
    seeded: &[Value],
    n: usize,
) -> CatchUp {
    let ids: Vec<&str> = (seeded.iter().filter_map(|o| o["id"].as_str()))
        .take(n)
        .collect();
    let names: Vec<String> = (ids.iter().enumerate())
        .map(|(k, id)| change(fake, "catch-up", k, id))
        .collect();
    let before = logged_updates(admin).await;
    let postmaster = postmaster_of(admin).await;
    inlet.set(&limits(BENCH_RATE_LIMIT));
    // `INLET_BENCH_CATCHUP_MS`: each call answered after that long, for the catch-up only.
    let latency = std::env::var("INLET_BENCH_CATCHUP_MS").ok();
    let latency = latency.and_then(|ms| ms.parse::<f64>().ok()).unwrap_or(0.0);
    fake.faults()
        .latency(Duration::from_secs_f64(latency / 1000.0));
    let (requests, server) = (fake.requests(), server_cpu_secs(&postmaster));
    let started = Instant::now();
    let run = inlet.run(None);
    let check = &format!("select name from {SCHEMA}.customer where id = $1");
    let (last_id, last_name) = (ids[ids.len() - 1], &names[names.len() - 1]);
    wait_until_async(
        "the last update",
        Duration::from_secs(1800),
        || async move {
            let row = admin.query_opt(check, &[&last_id]).await.ok().flatten();
            row.is_some_and(|r| r.get::<_, Option<String>>(0).as_deref() == Some(last_name))
        },
    )
    .await;
    let secs = started.elapsed().as_secs_f64();
    let (inlet_cpu, pg_cpu) = (run.cpu_secs(), server_cpu_secs(&postmaster) - server);
    let requests = fake.requests() - requests;
    run.stop();
    fake.faults().latency(Duration::ZERO);
    assert_eq!(
        logged_updates(admin).await - before,
        n as i64,
        "each update logged once"
    );
    CatchUp {
        updates: n,
        secs,
        requests,
        latency_ms: latency,
        inlet_cpu,
        pg_cpu,
    }
}
