//! Exactly-once effect under SIGKILL, against real servers (every version in
//! `INLET_TEST_PG_VERSIONS`).
//!
//! This binary is both the harness and the process it kills: run with `INLET_CRASH_CHILD`,
//! it syncs a deterministic synthetic account (a backfill, then live creates, updates and
//! deletes) through the real engine and writer, logging each batch's phases. The harness
//! starts it, SIGKILLs it right after a chosen phase (batch staged by COPY; merged but not
//! committed; committed) of a chosen batch, at least 30 times, then lets a last run finish.
//! The backfill is read in partitions (ranges of the account, several read at once and
//! split as they go, each page a batch whose checkpoint holds every range's place), so kills
//! land while several partitions are mid-read and their pages mid-write.
//! The tables and the change log must then equal the truth exactly: nothing lost, nothing
//! doubled, no change logged twice.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use inlet_core::{
    read_partitions, run_stream, Batch, BatchStream, Change, Checkpoint, Column, ColumnType,
    Discovery, Outcome, PartitionPage, PartitionReader, Partitions, Phase, Record, Source,
    SourceError, StreamSpec, Version,
};
use inlet_postgres::sink::PgSink;
use inlet_postgres::writer::WriteOptions;
use inlet_postgres::{connect, ConnectOptions, ProblemKind, Secret, SslMode};
use inlet_testkit::{versions, wait_for, ClusterSpec};
use serde_json::json;

const OBJECTS: usize = 600;
const BACKFILL_PAGE: usize = 20;
const CHANGES: usize = 600;
const LIVE_PAGE: usize = 10;
const KILLS: usize = 30;
const PASSWORD: &str = "crash-pw";
/// The writer's log lines the harness kills after (see `writer.rs`).
const PHASES: [&str; 3] = [
    "batch staged",
    "batch applied, not committed",
    "batch committed",
];

fn main() {
    if let Ok(target) = std::env::var("INLET_CRASH_CHILD") {
        child(&target);
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let majors = versions();
    for major in &majors {
        runtime.block_on(harness(*major));
    }
    println!("crash: {} passed, 0 failed", majors.len());
}

fn spec() -> StreamSpec {
    StreamSpec::new("customer", vec![Column::new("name", ColumnType::Text)])
}

/// The account's history: `OBJECTS` customers backfilled, then `CHANGES` live changes
/// (updates that always change something, deletes of live customers, new customers).
fn history() -> Vec<Record> {
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let name = |v: String| {
        json!({ "name": v })
            .as_object()
            .cloned()
            .unwrap_or_default()
    };
    let mut alive: Vec<String> = (0..OBJECTS).map(|i| format!("cus_{i}")).collect();
    let mut out: Vec<Record> = alive
        .iter()
        .enumerate()
        .map(|(i, id)| Record::upsert(id.clone(), Version::new(1, i as i64), name(format!("n{i}"))))
        .collect();
    for j in 0..CHANGES {
        let version = Version::new(2, j as i64);
        let pick = (next() % alive.len() as u64) as usize;
        out.push(match next() % 10 {
            0..=5 => Record::upsert(alive[pick].clone(), version, name(format!("u{j}"))),
            6..=7 => Record::delete(alive.swap_remove(pick), version),
            _ => {
                alive.push(format!("cus_new_{j}"));
                Record::upsert(format!("cus_new_{j}"), version, name(format!("c{j}")))
            }
        });
    }
    out
}

/// Where the live batch starting at `pos` ends (live batches have fixed boundaries, so the
/// change log's truth does not depend on the kills).
fn batch_end(pos: usize, total: usize) -> usize {
    (pos + LIVE_PAGE).min(total)
}

/// Backfill partitions read at once.
const PARTITIONS: usize = 4;

struct Synthetic(Vec<Record>);

/// The backfill as ranges of the history's first `OBJECTS` records, a page at a time.
impl PartitionReader for Synthetic {
    type Partition = (usize, usize);

    async fn page(
        &self,
        (lo, hi): (usize, usize),
    ) -> Result<PartitionPage<(usize, usize)>, SourceError> {
        // A moment per page, as an API takes: the ranges' pages interleave.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let end = (lo + BACKFILL_PAGE).min(hi);
        Ok(PartitionPage {
            records: self.0[lo..end].to_vec(),
            next: (end < hi).then_some((end, hi)),
        })
    }

    fn split(&self, &(lo, hi): &(usize, usize), pieces: usize) -> Vec<(usize, usize)> {
        let size = ((hi - lo) / pieces.max(1)).max(BACKFILL_PAGE);
        let mut out = Vec::new();
        let mut at = lo;
        while at < hi {
            let end = if hi - at < 2 * size { hi } else { at + size };
            out.push((at, end));
            at = end;
        }
        out
    }

    fn concurrency(&self) -> usize {
        PARTITIONS
    }
}

impl Source for Synthetic {
    fn discover(&self) -> Discovery<'_> {
        let specs = vec![spec()];
        Box::pin(async move { Ok(specs) })
    }

    fn read<'a>(&'a self, _: &'a StreamSpec, from: Option<&'a Checkpoint>) -> BatchStream<'a> {
        let parts = match from {
            None => Some(Partitions::new(vec![(0, OBJECTS)])),
            Some(c) => serde_json::from_value(c.0["parts"].clone()).ok(),
        };
        let backfill = futures_util::stream::iter(parts)
            .flat_map(move |parts| read_partitions(self, parts))
            .map(|step| {
                let (records, set) = step?;
                let checkpoint = match set.complete() {
                    true => json!({ "pos": OBJECTS }),
                    false => json!({ "parts": set }),
                };
                Ok(Batch::new(records, Checkpoint(checkpoint), Phase::Backfill))
            });
        let mut pos = from
            .and_then(|c| c.0["pos"].as_u64())
            .unwrap_or(OBJECTS as u64) as usize;
        let mut live = Vec::new();
        while pos < self.0.len() {
            let end = batch_end(pos, self.0.len());
            live.push(Ok(Batch::new(
                self.0[pos..end].to_vec(),
                Checkpoint(json!({ "pos": end })),
                Phase::Live,
            )));
            pos = end;
        }
        Box::pin(backfill.chain(futures_util::stream::iter(live)))
    }
}

/// The synced process: takes over the sync (waiting while a killed predecessor's session
/// still holds the lock), runs it to the end, exits 0.
fn child(target: &str) {
    tracing_subscriber::fmt()
        .with_env_filter("inlet_postgres=debug")
        .with_writer(std::io::stderr)
        .without_time()
        .with_ansi(false)
        .init();
    let mut parts = target.split(' ');
    let opts = ConnectOptions {
        host: "127.0.0.1".into(),
        port: parts.next().and_then(|p| p.parse().ok()).expect("port"),
        dbname: parts.next().expect("database").into(),
        user: "crash_sync".into(),
        password: Some(Secret::new(PASSWORD)),
        sslmode: SslMode::Disable,
        ..ConnectOptions::default()
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        // The predecessor's session is closing: its lock goes with it.
        let mut sink = wait_for("the sync's lock", Duration::from_secs(60), || async {
            let client = connect(&opts).await.expect("connect").client;
            let opened = PgSink::open(
                client,
                "crash",
                "crash_read",
                &[spec()],
                WriteOptions::default(),
            )
            .await;
            match opened {
                Ok(sink) => Ok(sink),
                Err(p) if p.kind == ProblemKind::AlreadyRunning => Err(p.message),
                Err(p) => panic!("cannot open the sink: {p:?}"),
            }
        })
        .await;
        let source = Arc::new(Synthetic(history()));
        let outcome = run_stream(
            source,
            &spec(),
            &mut sink,
            tokio::time::sleep,
            std::future::pending(),
        )
        .await
        .expect("engine");
        assert_eq!(outcome, Outcome::Finished);
    });
}

async fn harness(major: u32) {
    let cluster = ClusterSpec::new(major).password_logins().start();
    let db = cluster
        .sync_database("crash_sync", PASSWORD, "crash_read")
        .await;
    let target = format!("{} {db}", cluster.port);
    let admin = cluster.admin_db(&db).await;
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64 ^ u64::from(major);
    let mut killed_after: BTreeMap<&str, usize> = BTreeMap::new();
    let mut kills = 0;
    while kills < KILLS {
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let phase = PHASES[(rng >> 33) as usize % PHASES.len()];
        let nth = 1 + (rng >> 40) as usize % 2;
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .env("INLET_CRASH_CHILD", &target)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the sync process");
        let stderr = child.stderr.take().expect("stderr");
        let mut seen = 0;
        let mut killed = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(phase) {
                seen += 1;
                if seen == nth {
                    child.kill().expect("SIGKILL");
                    killed = true;
                    break;
                }
            }
        }
        let status = child.wait().expect("wait");
        if killed {
            kills += 1;
            *killed_after.entry(phase).or_default() += 1;
        } else {
            assert!(
                status.success(),
                "PG {major}: the sync process failed on its own"
            );
            break; // it finished before reaching the chosen point
        }
    }
    assert!(
        kills >= KILLS,
        "PG {major}: the sync finished after only {kills} kills; make the account larger"
    );

    let status = Command::new(std::env::current_exe().expect("own path"))
        .env("INLET_CRASH_CHILD", &target)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("final run");
    assert!(status.success(), "PG {major}: the final run failed");

    // The truth, from the history: the final rows, and the change log as the writer keeps
    // it, one row per object per batch with its net change, ordered by that change's
    // version (batch boundaries are fixed by the checkpoints, so this is the same whatever
    // the kills did).
    let history = history();
    let mut truth: BTreeMap<String, String> = BTreeMap::new();
    let mut events = Vec::new();
    let mut pos = 0;
    while pos < history.len() {
        // The backfill, however its partitions went, is the first OBJECTS records, unlogged.
        if pos == 0 {
            for r in &history[..OBJECTS] {
                if let Change::Upsert(fields) = &r.change {
                    truth.insert(
                        r.id.clone(),
                        fields["name"].as_str().unwrap_or_default().into(),
                    );
                }
            }
            pos = OBJECTS;
            continue;
        }
        let end = batch_end(pos, history.len());
        let mut last: BTreeMap<&str, usize> = BTreeMap::new();
        let before: BTreeMap<&str, bool> = history[pos..end]
            .iter()
            .map(|r| (r.id.as_str(), truth.contains_key(&r.id)))
            .collect();
        for (i, r) in history[pos..end].iter().enumerate() {
            last.insert(&r.id, pos + i);
            match &r.change {
                Change::Upsert(fields) => {
                    truth.insert(
                        r.id.clone(),
                        fields["name"].as_str().unwrap_or_default().into(),
                    );
                }
                Change::Delete => {
                    truth.remove(&r.id);
                }
            }
        }
        if pos >= OBJECTS {
            let mut net: Vec<(usize, &str)> = last.iter().map(|(id, at)| (*at, *id)).collect();
            net.sort();
            for (_, id) in net {
                let kind = match (before[id], truth.contains_key(id)) {
                    (false, true) => "insert",
                    (true, true) => "update",
                    (true, false) => "delete",
                    (false, false) => continue, // created and deleted within the batch
                };
                events.push((kind.to_string(), id.to_string()));
            }
        }
        pos = end;
    }
    let rows: BTreeMap<String, String> = admin
        .query("select id, name from crash.customer", &[])
        .await
        .expect("rows")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows.len(), truth.len(), "PG {major}: row count");
    assert!(
        rows == truth,
        "PG {major}: the table differs from the truth"
    );
    let logged: Vec<(String, String)> = admin
        .query(
            "select event_type, record_id from crash._sync_event order by id",
            &[],
        )
        .await
        .expect("events")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        logged.len(),
        events.len(),
        "PG {major}: change-log length (lost or doubled)"
    );
    assert!(
        logged == events,
        "PG {major}: the change log differs from the truth"
    );
    println!(
        "crash: PG {major}: {kills} kills {killed_after:?}; {} rows and {} change-log rows exact",
        rows.len(),
        logged.len()
    );
}
