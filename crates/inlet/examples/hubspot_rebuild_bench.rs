//! How long `inlet sync rebuild` and then `inlet sync rename-schema` of a whole HubSpot
//! portal (every stream) take while `inlet run` keeps the sync live and the portal changes
//! (a contact's first name every 100 ms), as `crates/inlet/tests/hubspot_lifecycle.rs` runs
//! them: a fake portal of `CONTACTS` contacts (default 200, 20 properties each) and the
//! fake's default budgets (190 requests per 10 s, search 5 a second), the sync at
//! `rate_limit = 15`, `poll_interval_ms = 300`, `search_lag_ms = 1000`,
//! `associations_secs = 2`. Each round, on a fresh database: the backfill until every
//! stream is live, then each command timed from its start to its exit, with the requests
//! the fake answered meanwhile, its searches, and the 429s it sent (of them, search's).
//!
//! Usage: `cargo build --release -p inlet --bin inlet --example hubspot_rebuild_bench`,
//! then `target/release/examples/hubspot_rebuild_bench [CONTACTS] [ROUNDS]` (defaults 200,
//! 1). `INLET_BENCH_BIN`: the inlet binary to time (default: the one next to examples/);
//! `INLET_BENCH_API_MS`: the fake answers every call after that long (default 0);
//! `INLET_BENCH_PG`: the PostgreSQL major (default 15); `INLET_BENCH_ASSOC_SECS`: the
//! sync's `associations_secs` (default 2, as the test); `INLET_BENCH_REBUILD_AFTER`: seconds
//! to wait between the backfill and the rebuild (default 0).

mod bench_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bench_common::{inlet_bin, Inlet, ADMIN_PASSWORD};
use inlet_fakes::hubspot::{Endpoint, FakeHubSpot, Options};
use inlet_testkit::{wait_until_async, ClusterSpec};
use serde_json::json;

const SCHEMA: &str = "inlet";
const RENAMED: &str = "inlet_renamed";

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let contacts = args.first().copied().unwrap_or(200);
    let rounds = args.get(1).copied().unwrap_or(1).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench(contacts, rounds));
}

/// The fake's counters: requests, searches, 429s, search's 429s.
fn counters(fake: &FakeHubSpot) -> [u64; 4] {
    [
        fake.requests(),
        fake.requests_to(Endpoint::Search),
        fake.rate_limited(),
        fake.search_rate_limited(),
    ]
}

/// One command timed: seconds, and the fake's counters over it.
struct Timed {
    secs: f64,
    counts: [u64; 4],
}

/// Runs `inlet ARGS` to its end (it must succeed) while a contact's first name changes
/// every 100 ms.
async fn timed(inlet: &Inlet, fake: &FakeHubSpot, args: &[&str]) -> Timed {
    let before = counters(fake);
    let started = Instant::now();
    let done = AtomicBool::new(false);
    let ids: Vec<String> = (fake.objects("contacts").expect("contacts").iter())
        .filter_map(|o| o["id"].as_str().map(str::to_string))
        .collect();
    let mut cmd = inlet.cmd(args, &[]);
    let (out, ()) = tokio::join!(
        async {
            let out = tokio::task::spawn_blocking(move || cmd.output().expect("inlet"))
                .await
                .expect("join");
            done.store(true, Ordering::Relaxed);
            out
        },
        async {
            let mut pace = tokio::time::interval(Duration::from_millis(100));
            let mut n = 0;
            while !done.load(Ordering::Relaxed) {
                pace.tick().await;
                let name = format!("bench-{n}");
                (fake.update(
                    "contacts",
                    &ids[n % ids.len()],
                    json!({ "firstname": name }),
                ))
                .expect("update");
                n += 1;
            }
        }
    );
    assert!(
        out.status.success(),
        "inlet {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let after = counters(fake);
    Timed {
        secs: started.elapsed().as_secs_f64(),
        counts: [0, 1, 2, 3].map(|i| after[i] - before[i]),
    }
}

async fn bench(contacts: usize, rounds: usize) {
    let bin = inlet_bin();
    let api_ms: f64 = std::env::var("INLET_BENCH_API_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let major: u32 = std::env::var("INLET_BENCH_PG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let assoc = std::env::var("INLET_BENCH_ASSOC_SECS").unwrap_or_else(|_| "2".into());
    let assoc = format!("associations_secs={assoc}");
    let cluster = ClusterSpec::new(major).password_logins().start();
    cluster.create_user("postgres", ADMIN_PASSWORD).await;
    let mut rows = Vec::new();
    for round in 1..=rounds {
        // A fresh portal each round: the changes of the last one do not pile up.
        let fake = FakeHubSpot::start(Options {
            contact_properties: 20,
            search_lag: Duration::from_millis(300),
            ..Options::default()
        })
        .await
        .expect("fake");
        fake.seed(contacts);
        fake.faults()
            .latency(Duration::from_secs_f64(api_ms / 1000.0));
        let db = cluster.create_database().await;
        let admin = cluster.admin_db(&db).await;
        let inlet = Inlet::new(&bin, None);
        inlet.add_destination(cluster.host(), cluster.port, &db);
        let token = fake.access_token();
        let (base, schema) = (fake.url(), format!("--schema={SCHEMA}"));
        inlet.ok(
            &[
                "sync",
                "add",
                "hubspot",
                "--source",
                "hubspot",
                "--destination",
                "dest",
                &schema,
                "--api-base",
                &base,
                "--set",
                "search_lag_ms=1000",
                "--set",
                &assoc,
            ],
            &[("HUBSPOT_ACCESS_TOKEN", &token)],
        );
        inlet.add_to_sync("hubspot", "poll_interval_ms = 300\nrate_limit = 15\n");
        let started = Instant::now();
        let run = inlet.run();
        let types = fake.object_types().len() as i64;
        let sql = format!(
            "select count(*) >= {types} and bool_and(state = 'live') from {SCHEMA}._sync_state"
        );
        wait_until_async("every stream live", Duration::from_secs(600), || async {
            (admin.query_one(&sql, &[]).await)
                .is_ok_and(|r| r.get::<_, Option<bool>>(0) == Some(true))
        })
        .await;
        let backfill = started.elapsed().as_secs_f64();
        let after: u64 = (std::env::var("INLET_BENCH_REBUILD_AFTER").ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        tokio::time::sleep(Duration::from_secs(after)).await;
        let rebuild = timed(&inlet, &fake, &["sync", "rebuild", "hubspot", "--json"]).await;
        let rename = timed(
            &inlet,
            &fake,
            &["sync", "rename-schema", "hubspot", RENAMED],
        )
        .await;
        run.stop();
        eprintln!(
            "round {round}: backfill {backfill:.1} s, rebuild {:.1} s, rename {:.1} s",
            rebuild.secs, rename.secs
        );
        rows.push((round, backfill, rebuild, rename));
    }
    println!(
        "\n{contacts} contacts, the fake answering after {api_ms} ms, PostgreSQL {major}, {}\n",
        bin.display()
    );
    println!("| round | backfill s | rebuild s | requests | searches | 429s (search) | rename s | requests | searches | 429s (search) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (round, backfill, rebuild, rename) in rows {
        let c = |t: &Timed| {
            format!(
                "{:.1} | {} | {} | {} ({})",
                t.secs, t.counts[0], t.counts[1], t.counts[2], t.counts[3]
            )
        };
        println!(
            "| {round} | {backfill:.1} | {} | {} |",
            c(&rebuild),
            c(&rename)
        );
    }
}
