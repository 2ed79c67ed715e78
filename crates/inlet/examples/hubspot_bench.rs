//! The HubSpot benchmark of issue 14 (BENCHMARKS.md, "HubSpot: backfill against Airbyte and
//! tap-hubspot"): one run, one PostgreSQL server, one fake HubSpot seeded once with
//! `CONTACTS` contacts (and, in proportion, the portal's other objects), each contact with
//! `INLET_BENCH_PROPERTIES` properties (default 200: HubSpot's common ones, then custom
//! ones of every type: text, number, datetime, date, bool, select, multi-select checkbox,
//! textarea, phone number).
//!
//! The fake keeps HubSpot's budgets: `INLET_BENCH_TIER` requests per rolling 10 seconds
//! (default 100, the smallest tier; 190 is Professional's), search's own 5 requests/s
//! (outside the 10-second budget; `INLET_BENCH_SEARCH` sets it lower, as when other apps of
//! the account search too), and answers every call after `INLET_BENCH_API_MS`
//! (default 0). Each round, on a fresh database per tool: `inlet run` syncing the contact
//! stream alone (`--streams contact`; with `INLET_BENCH_STREAMS=all`, every stream of the
//! portal), timed from spawning it until `_sync_state` says every stream is live; then,
//! when the peers are on, Airbyte's `source-hubspot` through PyAirbyte into its Postgres
//! cache (`bench/hubspot/airbyte_backfill.py`), and `tap-hubspot` piped
//! into `meltanolabs-target-postgres` (`bench/hubspot/tap_backfill.py`), both selecting
//! the contacts stream. Each tool's rows are counted after; the fake counts every API
//! request each one made and every 429 it answered because a budget was spent; for inlet it
//! also prints the list pages and searches answered in each half second from the spawn. After the
//! last round's inlet backfill, the live latency: `CHANGES` updates of different contacts
//! in the fake, each after a random pause of up to a poll interval, timed until a
//! primary-key lookup sees the new first name. Then deletes: contacts archived in the fake,
//! each timed until its row is gone, with polling alone (the archive is read every ten
//! polls, so each after a random pause of up to that). Then the same updates and more
//! deletes with the fake delivering its webhooks to `inlet run --listen`.
//!
//! Usage: `cargo build --release -p inlet --bin inlet --example hubspot_bench`, then
//! `target/release/examples/hubspot_bench [CONTACTS] [ROUNDS] [CHANGES]` (defaults 20000, 1,
//! 50). `INLET_BENCH_RATE` is inlet's `rate_limit` (requests/s of the 10-second budget;
//! default: inlet's own); `INLET_BENCH_PG` the PostgreSQL major (default 15).
//!
//! The peers call `https://api.hubapi.com`, so with `INLET_BENCH_TLS=on` (as root) the fake
//! is served over TLS under that name on 127.0.0.1:443 (bench_common: a throwaway CA, an
//! `/etc/hosts` line, the CA appended to each peer's `certifi` bundle, all undone at the
//! end), and inlet reaches it there too (`SSL_CERT_FILE`), so every tool pays the same TLS.
//! Every tool authenticates with the portal's private-app token. The peers are installed
//! into virtual environments outside the repository from `bench/hubspot/*-requirements.txt`:
//! `INLET_BENCH_AIRBYTE` (PyAirbyte, default `/var/cache/inlet/bench-hs-airbyte`),
//! `INLET_BENCH_SOURCE` (`source-hubspot`, `.../bench-hs-source`: its airbyte-cdk 6 cannot
//! share PyAirbyte's 7, which is how PyAirbyte runs connectors anyway), `INLET_BENCH_TAP`
//! and `INLET_BENCH_TARGET` (`.../bench-hs-tap`, `.../bench-hs-target`); `off` skips a peer.
//! Without TLS only inlet runs, against the fake's plain URL.

mod bench_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bench_common::{
    count_rows, inlet_bin, live_latency, peer_dir, percentile, seconds_of, tls_front,
    trust_in_certifi, venv, Inlet, Restore, Rng, Running, ADMIN_PASSWORD,
};
use inlet_fakes::hubspot::{Endpoint, FakeHubSpot, Limits, Options};
use inlet_testkit::{peak_rss_mb, wait_until_async, Cluster, ClusterSpec};
use serde_json::{json, Value};

const SCHEMA: &str = "inlet";
const API_HOST: &str = "api.hubapi.com";
/// inlet's `poll_interval_ms` for the live changes (its default).
const POLL_MS: u64 = 1000;
/// Records a search page holds: search alone reads at most that times its requests a
/// second, whatever the 10-second tier.
const SEARCH_PAGE: f64 = 200.0;
/// Records a list page holds at most.
const LIST_PAGE: f64 = 100.0;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let contacts = args.first().copied().unwrap_or(20_000);
    let rounds = args.get(1).copied().unwrap_or(1).max(1);
    let changes = args.get(2).copied().unwrap_or(50);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench(contacts, rounds, changes));
}

/// A destination on `db` set up by inlet, and a sync of the contact stream into `SCHEMA`
/// reading `api_base`, with `extra` lines in its `[syncs.hubspot]`.
fn setup(
    bin: &Path,
    ca: Option<&Path>,
    c: &Cluster,
    db: &str,
    api_base: &str,
    fake: &FakeHubSpot,
    extra: &str,
) -> Inlet {
    let inlet = Inlet::new(bin, ca);
    inlet.add_destination(c.host(), c.port, db);
    let mut args = vec![
        "sync",
        "add",
        "hubspot",
        "--source",
        "hubspot",
        "--destination",
        "dest",
        "--schema",
        SCHEMA,
        "--api-base",
        api_base,
    ];
    if !whole_portal() {
        args.extend(["--streams", "contact"]);
    }
    inlet.ok(
        &args,
        &[
            ("HUBSPOT_ACCESS_TOKEN", &fake.access_token()),
            ("HUBSPOT_CLIENT_SECRET", &fake.oauth_app().client_secret),
        ],
    );
    inlet.add_to_sync("hubspot", extra);
    inlet
}

/// Whether the sync reads every stream (`INLET_BENCH_STREAMS=all`: the whole portal, every
/// object type, owners, pipelines and association tables), not only contacts.
fn whole_portal() -> bool {
    std::env::var("INLET_BENCH_STREAMS").is_ok_and(|v| v == "all")
}

struct Run {
    rows: i64,
    secs: f64,
    requests: u64,
    /// 429s the fake answered because a budget was spent, and of those, search's.
    refused: u64,
    refused_search: u64,
    /// Peak RSS of each process of the tool, in MB, as printed.
    rss: String,
    /// Of the requests, list pages of live records and searches.
    lists: u64,
    searches: u64,
    /// inlet only: seconds from the spawn to its first request, and the list pages and
    /// searches the fake answered in each half second from the spawn.
    first_request: f64,
    timeline: Vec<(u64, u64)>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.secs
    }
}

/// `inlet run --listen LISTEN` backfilling the contact stream of a fresh database, until it
/// is live; the process is handed back still running.
async fn inlet_backfill(
    inlet: &Inlet,
    admin: &tokio_postgres::Client,
    fake: &FakeHubSpot,
    listen: &str,
) -> (Run, Running) {
    let (requests, refused) = (fake.requests(), fake.rate_limited());
    let refused_search = fake.search_rate_limited();
    let (lists, searches) = (
        fake.requests_to(Endpoint::List),
        fake.requests_to(Endpoint::Search),
    );
    let started = Instant::now();
    let run = inlet.run_with(&["--listen", listen]);
    // Every stream's state is set as it starts, a moment after the spawn: at least one per
    // object type, all live.
    let streams = match whole_portal() {
        true => fake.object_types().len() as i64,
        false => 1,
    };
    let sql = format!(
        "select count(*) >= {streams} and bool_and(state = 'live') from {SCHEMA}._sync_state"
    );
    let mut rss = 0.0f64;
    let (mut first_request, mut timeline) = (f64::NAN, Vec::<(u64, u64)>::new());
    wait_until_async(
        "the contact stream to be live",
        Duration::from_secs(3600),
        || {
            rss = rss.max(peak_rss_mb(run.0.id()));
            // Counts by the end of each half second, made per half second below.
            let at = started.elapsed().as_secs_f64();
            let counts = (
                fake.requests_to(Endpoint::List) - lists,
                fake.requests_to(Endpoint::Search) - searches,
            );
            if first_request.is_nan() && fake.requests() > requests {
                first_request = at;
            }
            let bucket = (at * 2.0) as usize;
            if timeline.len() <= bucket {
                let last = timeline.last().copied().unwrap_or_default();
                timeline.resize(bucket + 1, last);
            }
            timeline[bucket] = counts;
            async {
                matches!(admin.query_opt(&sql, &[]).await, Ok(Some(row)) if row.get::<_, Option<bool>>(0) == Some(true))
            }
        },
    )
    .await;
    let secs = started.elapsed().as_secs_f64();
    let rss = rss.max(peak_rss_mb(run.0.id()));
    for i in (1..timeline.len()).rev() {
        timeline[i] = (
            timeline[i].0 - timeline[i - 1].0,
            timeline[i].1 - timeline[i - 1].1,
        );
    }
    (
        Run {
            rows: count_rows(admin, SCHEMA, &["contact", "contacts"]).await,
            secs,
            requests: fake.requests() - requests,
            refused: fake.rate_limited() - refused,
            rss: format!("{rss:.0} MB"),
            refused_search: fake.search_rate_limited() - refused_search,
            lists: fake.requests_to(Endpoint::List) - lists,
            searches: fake.requests_to(Endpoint::Search) - searches,
            first_request,
            timeline,
        },
        run,
    )
}

/// What every peer's process is given: the token, the database, the CA.
fn peer_env(cmd: &mut Command, token: &str, c: &Cluster, db: &str, ca: &Path) -> String {
    let workdir = tempfile::tempdir().expect("tempdir").keep();
    cmd.current_dir(&workdir)
        .env("HUBSPOT_ACCESS_TOKEN", token)
        .env("PGHOST", c.host())
        .env("PGPORT", c.port.to_string())
        .env("PGUSER", "postgres")
        .env("PGPASSWORD", ADMIN_PASSWORD)
        .env("PGDATABASE", db)
        .env("REQUESTS_CA_BUNDLE", ca)
        .env("SSL_CERT_FILE", ca)
        .env("DO_NOT_TRACK", "1")
        .env("AIRBYTE_OFFLINE_MODE", "1")
        .stdin(std::process::Stdio::null());
    workdir.display().to_string()
}

/// The peak RSS of each process a driver script names (`{"rss_mb": {"tap": ..}}`).
fn rss_of(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value =
        serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap_or_default();
    v["rss_mb"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{} MB {k}", v.as_f64().unwrap_or(f64::NAN).round()))
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .unwrap_or_default()
}

/// A peer's run: the driver's command, timed by the driver, counted by the fake.
async fn peer_run(
    mut cmd: Command,
    what: &str,
    workdir: String,
    c: &Cluster,
    db: &str,
    schema: &str,
    fake: &FakeHubSpot,
) -> Run {
    let (requests, refused) = (fake.requests(), fake.rate_limited());
    let refused_search = fake.search_rate_limited();
    let (lists, searches) = (
        fake.requests_to(Endpoint::List),
        fake.requests_to(Endpoint::Search),
    );
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("python"))
        .await
        .expect("peer");
    let (requests, refused) = (fake.requests() - requests, fake.rate_limited() - refused);
    let lists = fake.requests_to(Endpoint::List) - lists;
    let searches = fake.requests_to(Endpoint::Search) - searches;
    let secs = seconds_of(&out, what, &workdir);
    let admin = c.admin_db(db).await;
    Run {
        rows: count_rows(&admin, schema, &["contact", "contacts"]).await,
        secs,
        requests,
        refused,
        refused_search: fake.search_rate_limited() - refused_search,
        rss: rss_of(&out),
        lists,
        searches,
        first_request: f64::NAN,
        timeline: Vec::new(),
    }
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bench/hubspot")
        .join(name)
}

/// Airbyte's source through PyAirbyte into schema `airbyte` of `db`.
async fn airbyte(
    airbyte_dir: &Path,
    source_dir: &Path,
    ca: &Path,
    token: &str,
    c: &Cluster,
    db: &str,
    fake: &FakeHubSpot,
) -> Run {
    let mut cmd = Command::new(airbyte_dir.join("bin/python"));
    cmd.arg(script("airbyte_backfill.py"))
        .env("AIRBYTE_SOURCE", source_dir.join("bin/source-hubspot"));
    let workdir = peer_env(&mut cmd, token, c, db, ca);
    peer_run(cmd, "Airbyte", workdir, c, db, "airbyte", fake).await
}

/// tap-hubspot into meltanolabs-target-postgres, schema `tap` of `db`; the discovery
/// before is neither timed nor counted (its calls are printed).
async fn tap(
    tap_dir: &Path,
    target_dir: &Path,
    ca: &Path,
    token: &str,
    c: &Cluster,
    db: &str,
    fake: &FakeHubSpot,
) -> Run {
    let command = |mode: &str, workdir: Option<&str>| {
        let mut cmd = Command::new(tap_dir.join("bin/python"));
        cmd.env("TAP", tap_dir.join("bin/tap-hubspot"))
            .env("TARGET", target_dir.join("bin/target-postgres"));
        let w = peer_env(&mut cmd, token, c, db, ca);
        let workdir = workdir.map_or(w, String::from);
        cmd.current_dir(&workdir)
            .arg(script("tap_backfill.py"))
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
        "tap-hubspot --discover failed (its files are in {workdir}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "tap-hubspot discovery: {} requests",
        fake.requests() - requests
    );
    let (sync, workdir) = command("sync", Some(&workdir));
    peer_run(
        sync,
        "tap-hubspot | target-postgres",
        workdir,
        c,
        db,
        "tap",
        fake,
    )
    .await
}

async fn bench(contacts: usize, rounds: usize, changes: usize) {
    let bin = inlet_bin();
    let env_f64 = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<f64>().ok());
    let api_ms = env_f64("INLET_BENCH_API_MS").unwrap_or(0.0);
    let rate = env_f64("INLET_BENCH_RATE");
    let tier = env_f64("INLET_BENCH_TIER").unwrap_or(100.0) as u32;
    let search_per_second = env_f64("INLET_BENCH_SEARCH").unwrap_or(5.0) as u32;
    let properties = env_f64("INLET_BENCH_PROPERTIES").unwrap_or(200.0) as usize;
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

    let fake = FakeHubSpot::start(Options {
        seed: 14,
        contact_properties: properties,
        limits: Limits {
            per_ten_seconds: tier,
            // Plenty: the daily budget is not what this measures.
            daily: 100_000_000,
            search_per_second,
        },
        ..Options::default()
    })
    .await
    .expect("fake");
    let seeding = Instant::now();
    fake.seed(contacts);
    let truth = fake.objects("contacts").expect("contacts");
    let kinds = fake.properties("contacts").expect("properties");
    let mut types: Vec<&str> = kinds.iter().filter_map(|p| p["type"].as_str()).collect();
    types.sort_unstable();
    types.dedup();
    eprintln!(
        "seeded {} contacts, {} properties each (types {}), in {:.1} s; PostgreSQL {major}",
        truth.len(),
        kinds.len(),
        types.join(", "),
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
                &[API_HOST],
                "inlet hubspot_bench",
                &mut restore,
            )
            .await,
        )
    } else {
        None
    };
    let api_base = if tls {
        format!("https://{API_HOST}")
    } else {
        fake.url()
    };
    let (airbyte_dirs, tap_dirs) = if let Some(ca) = &ca {
        let airbyte_dirs = peer_dir("INLET_BENCH_AIRBYTE", "bench-hs-airbyte")
            .zip(peer_dir("INLET_BENCH_SOURCE", "bench-hs-source"));
        if let Some((airbyte, source)) = &airbyte_dirs {
            venv(airbyte, "hubspot", "airbyte-requirements.txt");
            venv(source, "hubspot", "source-requirements.txt");
            trust_in_certifi(source, ca, &mut restore);
        }
        let tap_dirs = peer_dir("INLET_BENCH_TAP", "bench-hs-tap")
            .zip(peer_dir("INLET_BENCH_TARGET", "bench-hs-target"));
        if let Some((tap, target)) = &tap_dirs {
            venv(tap, "hubspot", "tap-requirements.txt");
            venv(target, "hubspot", "target-requirements.txt");
            trust_in_certifi(tap, ca, &mut restore);
        }
        (airbyte_dirs, tap_dirs)
    } else {
        (None, None)
    };

    let token = fake.access_token();
    let extra = rate.map_or(String::new(), |r| format!("rate_limit = {r}\n"));
    let mut lines = Vec::new();
    let mut latencies = Vec::new();
    let (mut polled_deletes, mut hooked_deletes) = (Vec::new(), Vec::new());
    let mut hooked_updates = Vec::new();
    for round in 1..=rounds {
        let db = cluster.create_database().await;
        let admin = cluster.admin_db(&db).await;
        let set_up = Instant::now();
        let inlet = setup(&bin, ca.as_deref(), &cluster, &db, &api_base, &fake, &extra);
        eprintln!(
            "round {round}: inlet's setup (destination add and setup, sync add) took {:.1} s",
            set_up.elapsed().as_secs_f64()
        );
        let listen = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .to_string();
        let (i, running) = inlet_backfill(&inlet, &admin, &fake, &listen).await;
        assert_eq!(i.rows, truth.len() as i64, "inlet's contact rows");
        eprintln!(
            "round {round}: inlet {:.0} rows/s ({} rows in {:.1} s, {} requests: {} list pages, {} searches; {} 429s, {} of them search's, peak RSS {})",
            i.rate(),
            i.rows,
            i.secs,
            i.requests,
            i.lists,
            i.searches,
            i.refused,
            i.refused_search,
            i.rss
        );
        eprintln!(
            "round {round}: inlet's first request {:.2} s after its spawn; list pages and searches per half second: {:?}",
            i.first_request, i.timeline
        );
        if round == rounds && changes > 0 {
            let ids: Vec<String> = truth
                .iter()
                .filter_map(|r| r["id"].as_str().map(String::from))
                .step_by((truth.len() / changes).max(1))
                .take(changes)
                .collect();
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            let check = format!("select firstname from {SCHEMA}.contact where id = $1");
            let spread = Duration::from_millis(POLL_MS);
            latencies = live_latency(&admin, &check, &ids, spread, &mut rng, |k, id| {
                let name = format!("Live {k}");
                fake.update("contacts", id, json!({ "firstname": name }))
                    .expect("update");
                name
            })
            .await;
            // Deletes: other contacts, archived; gone when the primary-key lookup finds none.
            let gone = format!(
                "select 'gone' where not exists (select 1 from {SCHEMA}.contact where id = $1)"
            );
            let doomed: Vec<String> = truth
                .iter()
                .filter_map(|r| r["id"].as_str().map(String::from))
                .skip(1)
                .step_by((truth.len() / (2 * changes)).max(1))
                .take(2 * changes)
                .collect();
            let (polled, hooked) = doomed.split_at(changes.min(10));
            let archive = |_: usize, id: &str| {
                fake.archive("contacts", id).expect("archive");
                "gone".to_string()
            };
            // Polling alone: the archive is read every ten polls.
            let every = Duration::from_millis(POLL_MS * 10);
            polled_deletes = live_latency(&admin, &gone, polled, every, &mut rng, archive).await;
            fake.subscribe_webhooks(&format!("http://{listen}/webhooks/hubspot/hubspot"));
            let spread = Duration::from_millis(POLL_MS);
            hooked_updates = live_latency(&admin, &check, &ids, spread, &mut rng, |k, id| {
                let name = format!("Hooked {k}");
                fake.update("contacts", id, json!({ "firstname": name }))
                    .expect("update");
                name
            })
            .await;
            let hooked = &hooked[..changes.min(hooked.len())];
            hooked_deletes = live_latency(&admin, &gone, hooked, spread, &mut rng, archive).await;
        }
        running.stop();
        let mut line = vec![("inlet".to_string(), i)];
        if let (Some((airbyte_dir, source_dir)), Some(ca)) = (&airbyte_dirs, &ca) {
            let db = cluster.create_database().await;
            let a = airbyte(airbyte_dir, source_dir, ca, &token, &cluster, &db, &fake).await;
            eprintln!(
                "round {round}: Airbyte {:.0} rows/s ({} rows in {:.1} s, {} requests, {} 429s, {})",
                a.rate(),
                a.rows,
                a.secs,
                a.requests,
                a.refused,
                a.rss
            );
            line.push(("Airbyte".to_string(), a));
        }
        if let (Some((tap_dir, target_dir)), Some(ca)) = (&tap_dirs, &ca) {
            let db = cluster.create_database().await;
            let t = tap(tap_dir, target_dir, ca, &token, &cluster, &db, &fake).await;
            eprintln!(
                "round {round}: tap-hubspot {:.0} rows/s ({} rows in {:.1} s, {} requests, {} 429s, {})",
                t.rate(),
                t.rows,
                t.secs,
                t.requests,
                t.refused,
                t.rss
            );
            line.push(("tap-hubspot".to_string(), t));
        }
        lines.push(line);
    }
    drop(restore);

    // What the budgets allow: search alone, and search beside one list cursor spending the
    // whole 10-second budget.
    let search_bound = SEARCH_PAGE * f64::from(search_per_second);
    let both_bound = search_bound + LIST_PAGE * f64::from(tier) / 10.0;
    println!(
        "\nPostgreSQL {major}, {} contacts of {} properties, the fake answering after {api_ms} ms, {tier} requests per 10 s and search {search_per_second}/s, inlet rate_limit {}, {}; bounds: search alone {search_bound:.0} contacts/s, list + search {both_bound:.0}\n",
        truth.len(),
        kinds.len(),
        rate.map_or("default".to_string(), |r| r.to_string()),
        if tls { "over TLS" } else { "plain HTTP" }
    );
    println!("| round | tool | rows | seconds | rows/s | of the list + search bound | API requests | per 1,000 contacts | 429s | peak RSS | inlet / this |");
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|");
    for (round, line) in lines.iter().enumerate() {
        let inlet_rate = line[0].1.rate();
        for (tool, r) in line {
            println!(
                "| {} | {tool} | {} | {:.1} | {:.0} | {:.2} | {} | {:.1} | {} | {} | {:.1}× |",
                round + 1,
                r.rows,
                r.secs,
                r.rate(),
                r.rate() / both_bound,
                r.requests,
                r.requests as f64 * 1000.0 / r.rows as f64,
                r.refused,
                r.rss,
                inlet_rate / r.rate()
            );
        }
    }
    let report = |what: &str, mut latencies: Vec<f64>| {
        if latencies.is_empty() {
            return;
        }
        latencies.sort_by(f64::total_cmp);
        println!(
            "{what}: {} changes, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            latencies.len(),
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
            latencies.last().copied().unwrap_or(f64::NAN)
        );
    };
    println!();
    report(&format!("live latency, update in the fake → row in PostgreSQL, poll_interval_ms {POLL_MS}, the fake's search lag 1 s"), latencies);
    report("the same updates, with webhooks", hooked_updates);
    report(
        "deletes, archive in the fake → row gone, polling alone",
        polled_deletes,
    );
    report(
        "deletes, archive in the fake → row gone, with webhooks",
        hooked_deletes,
    );
}
