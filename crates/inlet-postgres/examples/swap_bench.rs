//! How long a rebuild's swap blocks readers (BENCHMARKS.md). Usage: `cargo run --release -p
//! inlet-postgres --example swap_bench -- [ROWS]` (default 1000000); PostgreSQL major from
//! `INLET_BENCH_PG` (default 18).
//!
//! Two swaps of a customer-shaped table of ROWS rows, with a reader querying the table in a
//! loop on its own session throughout (its slowest query is how long a reader waited):
//! 1. replace: nothing of a person's is bound to the table, so it is dropped and the copy
//!    moved in under an `access exclusive` lock;
//! 2. merge: a person's view uses the table, so the copy (1% of rows changed) is merged in
//!    place; readers are never blocked, the transaction is longer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use inlet_core::{Column, ColumnType, StreamSpec};
use inlet_postgres::lifecycle::{self, Kind};
use inlet_postgres::schema_name::swap_schema;
use inlet_postgres::swap::{swap, SwapReport};
use inlet_postgres::tables::{ensure_schema, ensure_table};
use inlet_postgres::{connect, ConnectOptions, SslMode};
use inlet_testkit::{ClusterSpec, HbaConn, HbaMethod, HbaRule};
use tokio_postgres::Client;

const LIVE: &str = "bench";

fn spec() -> StreamSpec {
    let columns = [
        ("name", ColumnType::Text),
        ("email", ColumnType::Text),
        ("balance", ColumnType::Bigint),
        ("created", ColumnType::Timestamptz),
        ("delinquent", ColumnType::Boolean),
        ("metadata", ColumnType::Jsonb),
    ];
    StreamSpec::new(
        "customer",
        columns.iter().map(|(n, t)| Column::new(*n, *t)).collect(),
    )
}

/// Fills `schema.customer` with `rows` rows; `changed` of every 100 differ by round.
async fn fill(client: &Client, schema: &str, rows: i64, round: i32) {
    ensure_schema(client, schema, "postgres")
        .await
        .expect("schema");
    ensure_table(client, schema, &spec()).await.expect("table");
    let sql = format!(
        "insert into \"{schema}\".customer (id, name, email, balance, created, delinquent, metadata, \
           _sync_version_ts, _sync_version_seq) \
         select 'cus_' || lpad(i::text, 8, '0'), 'Customer ' || i, \
                'c' || i || case when i % 100 = 0 then '.r' || $2::int else '' end || '@example.com', \
                i % 100000, to_timestamp(1700000000 + i), i % 7 = 0, \
                jsonb_build_object('crm_id', 'crm_' || i, 'plan', 'growth'), 1700000000000000, 0 \
           from generate_series(1, $1::bigint) i"
    );
    client.execute(&sql, &[&rows, &round]).await.expect("fill");
    client
        .batch_execute(&format!("analyze \"{schema}\".customer"))
        .await
        .expect("analyze");
}

/// Runs a swap while a reader loops; returns the report, the reader's slowest query, the
/// number of queries and of errors.
async fn measured(client: &mut Client, reader: Client) -> (SwapReport, Duration, usize, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let reading = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let (mut slowest, mut n, mut errors) = (Duration::ZERO, 0, 0);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let ok = reader
                    .query_one(
                        "select count(*) from bench.customer where id = 'cus_00000042'",
                        &[],
                    )
                    .await
                    .is_ok();
                slowest = slowest.max(t.elapsed());
                n += 1;
                errors += usize::from(!ok);
            }
            (slowest, n, errors)
        })
    };
    let req = lifecycle::request(client, LIVE, Kind::Rebuild, None, "bench")
        .await
        .expect("request");
    let report = swap(client, LIVE, &req.target, req.id).await.expect("swap");
    stop.store(true, Ordering::Relaxed);
    let (slowest, n, errors) = reading.await.expect("reader");
    (report, slowest, n, errors)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows: i64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let major: u32 = std::env::var("INLET_BENCH_PG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(18);
    let cluster = ClusterSpec::new(major)
        .hba(HbaRule::new(HbaConn::Host, "all", "all", HbaMethod::Trust))
        .setting("shared_buffers", "256MB")
        .start();
    let db = cluster.create_database().await;
    let opts = ConnectOptions {
        host: cluster.host().into(),
        port: cluster.port,
        dbname: db,
        user: "postgres".into(),
        sslmode: SslMode::Disable,
        ..ConnectOptions::default()
    };
    let mut client = connect(&opts).await.expect("connect").client;
    let swap_name = swap_schema(LIVE);
    let t = Instant::now();
    fill(&client, LIVE, rows, 0).await;
    fill(&client, &swap_name, rows, 1).await;
    println!(
        "PG {major}, {rows} rows per table, filled in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let reader = connect(&opts).await.expect("reader").client;
    let (r, slowest, n, errors) = measured(&mut client, reader).await;
    println!(
        "replace: lock {:.1} ms, transaction {:.1} ms, reader: {n} queries, slowest {:.1} ms, {errors} errors",
        r.lock_ms,
        r.transaction_ms,
        slowest.as_secs_f64() * 1000.0
    );
    assert_eq!(r.replaced, vec!["customer".to_string()]);

    client
        .batch_execute("create view public.person_view as select id, email from bench.customer")
        .await
        .expect("view");
    fill(&client, &swap_name, rows, 2).await;
    let reader = connect(&opts).await.expect("reader").client;
    let (r, slowest, n, errors) = measured(&mut client, reader).await;
    println!(
        "merge (a view is bound): transaction {:.1} ms (no exclusive lock), reader: {n} queries, slowest {:.1} ms, {errors} errors",
        r.transaction_ms,
        slowest.as_secs_f64() * 1000.0
    );
    assert_eq!(r.merged.len(), 1);
}
