//! The engine through the Postgres sink: failures resume from the last committed batch with
//! nothing lost or doubled, a person is asked when only a person can help, a stale cursor
//! starts over, and a second process on the same sync is refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use inlet_core::{
    run_stream, Batch, BatchStream, Checkpoint, Column, ColumnType, Discovery, ErrorKind, Outcome,
    Phase, Record, Source, SourceError, StreamSpec, Version,
};
use inlet_postgres::sink::PgSink;
use inlet_postgres::writer::WriteOptions;
use inlet_postgres::{connect, ConnectOptions, ProblemKind, Secret, SslMode};
use inlet_testkit::{shared, versions, wait_for, wait_until_async, Cluster, ClusterSpec};
use serde_json::{json, Value};
use tokio_postgres::Client;

const PASSWORD: &str = "pw";
const PAGE: usize = 2;
/// Records from this position on are live changes (the rest is the backfill).
const LIVE_FROM: usize = 6;

async fn cluster(major: u32) -> &'static Cluster {
    shared(&format!("engine-{major}"), || {
        ClusterSpec::new(major).password_logins()
    })
}

/// A database, and a way to open sync-user sessions to it.
async fn database(c: &Cluster) -> ConnectOptions {
    let db = c
        .sync_database("engine_sync", PASSWORD, "engine_read")
        .await;
    ConnectOptions {
        host: c.host().into(),
        port: c.port,
        dbname: db,
        user: "engine_sync".into(),
        password: Some(Secret::new(PASSWORD)),
        sslmode: SslMode::Disable,
        ..ConnectOptions::default()
    }
}

async fn session(o: &ConnectOptions) -> Client {
    connect(o).await.expect("connect").client
}

fn spec() -> StreamSpec {
    StreamSpec::new("customer", vec![Column::new("name", ColumnType::Text)])
}

/// Ten changes: six backfilled customers, then live updates and a delete.
fn changes() -> Vec<Record> {
    let mut r: Vec<Record> = (0..LIVE_FROM)
        .map(|i| {
            Record::upsert(
                format!("cus_{i}"),
                Version::new(100, 0),
                obj(json!({"name": format!("c{i}")})),
            )
        })
        .collect();
    r.push(Record::upsert(
        "cus_1",
        Version::new(200, 1),
        obj(json!({"name": "c1 renamed"})),
    ));
    r.push(Record::upsert(
        "cus_9",
        Version::new(200, 2),
        obj(json!({"name": "new"})),
    ));
    r.push(Record::delete("cus_2", Version::new(200, 3)));
    r.push(Record::upsert(
        "cus_1",
        Version::new(200, 4),
        obj(json!({"name": "c1 again"})),
    ));
    r
}

fn obj(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Pages of two records, checkpoint = next position; fails once at each scripted position.
struct Scripted {
    records: Vec<Record>,
    failures: Mutex<Vec<(usize, ErrorKind)>>,
}

impl Source for Scripted {
    fn discover(&self) -> Discovery<'_> {
        let specs = vec![spec()];
        Box::pin(async move { Ok(specs) })
    }

    fn read<'a>(&'a self, _: &'a StreamSpec, from: Option<&'a Checkpoint>) -> BatchStream<'a> {
        let start = from.and_then(|c| c.0["pos"].as_u64()).unwrap_or(0) as usize;
        let mut out = Vec::new();
        let mut failures = self.failures.lock().expect("lock");
        for pos in (start..self.records.len()).step_by(PAGE) {
            if let Some(i) = failures.iter().position(|(at, _)| *at == pos) {
                let (_, kind) = failures.remove(i);
                out.push(Err(
                    SourceError::new(kind, format!("injected at {pos}")).with_fix("grant it")
                ));
                break;
            }
            let end = (pos + PAGE).min(self.records.len());
            out.push(Ok(Batch::new(
                self.records[pos..end].to_vec(),
                Checkpoint(json!({ "pos": end })),
                if pos < LIVE_FROM {
                    Phase::Backfill
                } else {
                    Phase::Live
                },
            )));
        }
        Box::pin(futures_util::stream::iter(out))
    }
}

async fn table(client: &Client) -> Vec<(String, String)> {
    client
        .query("select id, name from stripe.customer order by id", &[])
        .await
        .expect("select")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn expected() -> Vec<(String, String)> {
    [
        ("cus_0", "c0"),
        ("cus_1", "c1 again"),
        ("cus_3", "c3"),
        ("cus_4", "c4"),
        ("cus_5", "c5"),
        ("cus_9", "new"),
    ]
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .to_vec()
}

async fn events(client: &Client) -> Vec<(String, String)> {
    client
        .query(
            "select event_type, record_id from stripe._sync_event order by id",
            &[],
        )
        .await
        .expect("events")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn run(
    source: &Arc<Scripted>,
    o: &ConnectOptions,
    pauses: &Arc<Mutex<Vec<Duration>>>,
) -> Outcome {
    // The session of a run before this one ends (and frees the sync's lock) a moment after
    // its sink is dropped: wait for that, as a restarted `inlet run` does.
    let mut sink = wait_for("the sync's lock", Duration::from_secs(10), || async {
        let open = PgSink::open(
            session(o).await,
            "stripe",
            "engine_read",
            &[spec()],
            WriteOptions::default(),
        )
        .await;
        match open {
            Err(p) if p.kind == ProblemKind::AlreadyRunning => Err(p.message),
            open => Ok(open.expect("open sink")),
        }
    })
    .await;
    let pauses = pauses.clone();
    let pause = move |d| {
        pauses.lock().expect("lock").push(d);
        std::future::ready(())
    };
    run_stream(
        source.clone(),
        &spec(),
        &mut sink,
        pause,
        std::future::pending(),
    )
    .await
    .expect("engine")
}

fn live_events() -> Vec<(String, String)> {
    [
        ("update", "cus_1"),
        ("insert", "cus_9"),
        ("delete", "cus_2"),
        ("update", "cus_1"),
    ]
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .to_vec()
}

#[tokio::test]
async fn transient_failures_resume_from_the_last_commit_with_nothing_lost_or_doubled() {
    for v in versions() {
        let o = database(cluster(v).await).await;
        let source = Arc::new(Scripted {
            records: changes(),
            failures: Mutex::new(vec![(4, ErrorKind::Network), (8, ErrorKind::RateLimited)]),
        });
        let pauses = Arc::new(Mutex::new(Vec::new()));
        assert_eq!(run(&source, &o, &pauses).await, Outcome::Finished, "PG {v}");
        let client = session(&o).await;
        assert_eq!(table(&client).await, expected(), "PG {v}");
        assert_eq!(
            events(&client).await,
            live_events(),
            "PG {v}: each live change logged once"
        );
        assert_eq!(
            *pauses.lock().expect("lock"),
            vec![Duration::from_secs(1); 2],
            "backoff restarts after success"
        );
        let state: String = client
            .query_one("select state from stripe._sync_state", &[])
            .await
            .expect("state")
            .get(0);
        assert_eq!(state, "live");
    }
}

#[tokio::test]
async fn a_missing_permission_stops_the_stream_with_its_fix() {
    for v in versions() {
        let o = database(cluster(v).await).await;
        let source = Arc::new(Scripted {
            records: changes(),
            failures: Mutex::new(vec![(2, ErrorKind::Forbidden)]),
        });
        let pauses = Arc::new(Mutex::new(Vec::new()));
        assert_eq!(
            run(&source, &o, &pauses).await,
            Outcome::NeedsPerson,
            "PG {v}"
        );
        let client = session(&o).await;
        let row = client
            .query_one("select state, error from stripe._sync_state", &[])
            .await
            .expect("state");
        assert_eq!(row.get::<_, String>(0), "errored");
        let error: Value = row.get(1);
        assert_eq!(error["fix"], "grant it", "PG {v}: {error}");
        assert_eq!(error["retry_in_secs"], Value::Null, "waits for a person");
        assert_eq!(
            table(&client).await.len(),
            2,
            "the batch before the failure stays committed"
        );

        // Once fixed, the next run continues where it stopped.
        assert_eq!(run(&source, &o, &pauses).await, Outcome::Finished);
        assert_eq!(table(&client).await, expected(), "PG {v}");
    }
}

#[tokio::test]
async fn an_expired_cursor_starts_the_stream_over_without_doubling_events() {
    for v in versions() {
        let o = database(cluster(v).await).await;
        let source = Arc::new(Scripted {
            records: changes(),
            failures: Mutex::new(vec![(8, ErrorKind::CursorExpired)]),
        });
        let pauses = Arc::new(Mutex::new(Vec::new()));
        assert_eq!(run(&source, &o, &pauses).await, Outcome::Finished, "PG {v}");
        let client = session(&o).await;
        assert_eq!(table(&client).await, expected(), "PG {v}");
        assert_eq!(
            events(&client).await,
            live_events(),
            "PG {v}: replayed changes are not logged twice"
        );
    }
}

#[tokio::test]
async fn a_second_process_on_the_same_sync_is_refused_until_the_first_stops() {
    for v in versions() {
        let o = database(cluster(v).await).await;
        let opts = WriteOptions::default();
        let first = PgSink::open(session(&o).await, "stripe", "engine_read", &[spec()], opts)
            .await
            .expect("first");
        let refused =
            PgSink::open(session(&o).await, "stripe", "engine_read", &[spec()], opts).await;
        let problem = refused.expect_err("second process must be refused");
        assert_eq!(problem.kind, ProblemKind::AlreadyRunning, "PG {v}");
        assert!(
            problem.message.contains("server process"),
            "names the holder: {problem:?}"
        );
        drop(first);
        wait_until_async(
            "the lock to be released",
            Duration::from_secs(10),
            || async {
                PgSink::open(session(&o).await, "stripe", "engine_read", &[spec()], opts)
                    .await
                    .is_ok()
            },
        )
        .await;
    }
}
