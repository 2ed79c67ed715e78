//! Writer throughput against raw `psql \copy`, same rows, same table shape, same server,
//! same run (BENCHMARKS.md). Usage: `cargo run --release -p inlet-postgres --example
//! writer_bench -- [ROWS] [BATCH] [backfill-only]` (defaults 100000 and 1000;
//! `backfill-only` skips the update rounds, for large row counts); PostgreSQL major from
//! `INLET_BENCH_PG` (default 15).

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use inlet_core::{
    run_sync, Batch, BatchStream, Checkpoint, Column, ColumnType, Discovery, Outcome, Phase,
    Record, Source, StreamSpec, Version,
};
use inlet_postgres::sink::PgSink;
use inlet_postgres::tables::{ensure_schema, ensure_table, Table};
use inlet_postgres::writer::{prefer_lz4, write_batch, WriteOptions};
use inlet_postgres::{connect, ConnectOptions, SslMode};
use inlet_testkit::{peak_rss_mb, psql_seconds, ClusterSpec, HbaConn, HbaMethod, HbaRule};
use serde_json::{json, Map, Value};

/// The inlet binary's allocator, so the engine row measures the product's path.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const COLUMNS: [(&str, ColumnType); 24] = [
    ("name", ColumnType::Text),
    ("email", ColumnType::Text),
    ("description", ColumnType::Text),
    ("phone", ColumnType::Text),
    ("currency", ColumnType::Text),
    ("balance", ColumnType::Bigint),
    ("created", ColumnType::Timestamptz),
    ("delinquent", ColumnType::Boolean),
    ("livemode", ColumnType::Boolean),
    ("invoice_prefix", ColumnType::Text),
    ("next_invoice_sequence", ColumnType::Bigint),
    ("tax_exempt", ColumnType::Text),
    ("preferred_locales", ColumnType::TextArray),
    ("metadata", ColumnType::Jsonb),
    ("address_city", ColumnType::Text),
    ("address_country", ColumnType::Text),
    ("address_line1", ColumnType::Text),
    ("address_line2", ColumnType::Text),
    ("address_postal_code", ColumnType::Text),
    ("address_state", ColumnType::Text),
    ("invoice_settings", ColumnType::Jsonb),
    ("default_source_id", ColumnType::Text),
    ("test_clock_id", ColumnType::Text),
    ("discount", ColumnType::Jsonb),
];

/// A Stripe-customer-sized object (about 1 KB of JSON); `round` changes what updates change.
fn customer(i: usize, round: usize) -> Map<String, Value> {
    let v = json!({
        "name": format!("Customer {i} of the benchmark"),
        "email": format!("customer{i}.round{round}@example.com"),
        "description": "A customer created by inlet's writer benchmark, about as long as real ones",
        "phone": "+1 555 0100 1234",
        "currency": "usd",
        "balance": (i * 37 % 100_000) as i64 - 50_000,
        "created": 1_700_000_000 + i as i64,
        "delinquent": i.is_multiple_of(7),
        "livemode": false,
        "invoice_prefix": format!("PFX{:05}", i % 100_000),
        "next_invoice_sequence": (i % 50) as i64 + round as i64,
        "tax_exempt": "none",
        "preferred_locales": ["en-US", "fr-FR"],
        "metadata": {"crm_id": format!("crm_{i}"), "plan": "growth", "segment": "mid-market", "round": round},
        "address_city": "San Francisco",
        "address_country": "US",
        "address_line1": "510 Townsend St",
        "address_line2": format!("Suite {}", i % 900),
        "address_postal_code": "94103",
        "address_state": "CA",
        "invoice_settings": {"custom_fields": null, "default_payment_method": format!("pm_{i:024}"), "footer": null, "rendering_options": null},
        "default_source_id": format!("card_{i:024}"),
        "test_clock_id": null,
        "discount": null,
    });
    v.as_object().cloned().unwrap_or_default()
}

fn csv_field(v: &Value, ty: ColumnType) -> String {
    let raw = match (v, ty) {
        (Value::Null, _) => return String::new(),
        (Value::Number(n), ColumnType::Timestamptz) => format!("{}", n.as_i64().unwrap_or(0)),
        (Value::String(s), _) => s.clone(),
        (Value::Array(a), ColumnType::TextArray) => {
            format!(
                "{{{}}}",
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
        (other, _) => other.to_string(),
    };
    let raw = if ty == ColumnType::Timestamptz {
        iso_utc(raw.parse().unwrap_or(0))
    } else {
        raw
    };
    format!("\"{}\"", raw.replace('"', "\"\""))
}

/// `YYYY-MM-DD hh:mm:ss+00` for Unix seconds (civil-from-days, proleptic Gregorian).
fn iso_utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}+00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The batch of customers from `start` (of `rows`, `size` at most), as of round `round`.
fn batch((start, rows, size): (usize, usize, usize), round: usize, phase: Phase) -> Batch {
    let version = Version::new(1_700_000_000_000_000 + round as i64, 0);
    let records = (start..(start + size).min(rows))
        .map(|i| Record::upsert(format!("cus_{i:08}"), version, customer(i, round)))
        .collect();
    Batch::new(records, Checkpoint(json!({ "at": start })), phase)
}

/// Writes every row once through the writer (round `round`); returns the seconds it took.
async fn write_all(
    client: &mut tokio_postgres::Client,
    table: &Table,
    (rows, batch_size): (usize, usize),
    round: usize,
    phase: Phase,
) -> f64 {
    let started = Instant::now();
    let mut seq = (round * rows.div_ceil(batch_size)) as i64;
    for start in (0..rows).step_by(batch_size) {
        seq += 1;
        let batch = batch((start, rows, batch_size), round, phase);
        // As the sink does: a stream without tombstones may take the backfill fast path
        // (only the first load; the sink stops trying once a batch finds its rows present).
        let options = WriteOptions {
            direct_backfill: round == 0,
            ..WriteOptions::default()
        };
        write_batch(client, table, "customer", &batch, seq, options)
            .await
            .expect("write");
    }
    started.elapsed().as_secs_f64()
}

/// The same records as an in-process source, built batch by batch as the engine pulls
/// them: the product's path, where reading the next batch overlaps writing this one.
struct Generated {
    spec: StreamSpec,
    rows: usize,
    batch_size: usize,
    /// What the records are as of (see `customer`), and whether they are read as a
    /// backfill or as live changes (logged).
    round: usize,
    phase: Phase,
}

impl Source for Generated {
    fn discover(&self) -> Discovery<'_> {
        let specs = vec![self.spec.clone()];
        Box::pin(async move { Ok(specs) })
    }

    fn read<'a>(&'a self, _: &'a StreamSpec, _: Option<&'a Checkpoint>) -> BatchStream<'a> {
        let (rows, size, round, phase) = (self.rows, self.batch_size, self.round, self.phase);
        Box::pin(
            futures_util::stream::iter((0..rows).step_by(size))
                .map(move |start| Ok(batch((start, rows, size), round, phase))),
        )
    }
}

/// Through the engine and the sink into a fresh schema: a backfill, then every row updated
/// as live changes (logged, as a catch-up after downtime is) unless `updates` is false;
/// returns the seconds of each (NaN for updates not run).
async fn engine_runs(
    opts: &ConnectOptions,
    spec: &StreamSpec,
    run: (usize, usize),
    updates: bool,
) -> (f64, f64) {
    let client = connect(opts).await.expect("connect").client;
    client
        .batch_execute("create role bench_read nologin")
        .await
        .expect("read role");
    let started = Instant::now();
    let mut sink = PgSink::open(
        client,
        "engine",
        "bench_read",
        std::slice::from_ref(spec),
        WriteOptions::default(),
    )
    .await
    .expect("sink");
    let mut seconds = Vec::new();
    let rounds = [(0, Phase::Backfill), (2, Phase::Live)];
    for (round, phase) in rounds.into_iter().take(if updates { 2 } else { 1 }) {
        let source = Arc::new(Generated {
            spec: spec.clone(),
            rows: run.0,
            batch_size: run.1,
            round,
            phase,
        });
        let outcome = run_sync(
            source,
            std::slice::from_ref(spec),
            &mut sink,
            tokio::time::sleep,
            std::future::pending(),
        )
        .await
        .expect("engine");
        assert_eq!(outcome, Outcome::Finished);
        seconds.push(started.elapsed().as_secs_f64() - seconds.iter().sum::<f64>());
    }
    (seconds[0], seconds.get(1).copied().unwrap_or(f64::NAN))
}

#[tokio::main]
async fn main() {
    let backfill_only = std::env::args().any(|a| a == "backfill-only");
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rows = args.first().copied().unwrap_or(100_000);
    let batch_size = args.get(1).copied().unwrap_or(1_000);
    let major = std::env::var("INLET_BENCH_PG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let cluster = ClusterSpec::new(major)
        .hba(HbaRule::new(HbaConn::Host, "all", "all", HbaMethod::Trust))
        .setting("shared_buffers", "256MB")
        .start();
    let db = cluster.create_database().await;
    let opts = ConnectOptions {
        host: cluster.host().into(),
        port: cluster.port,
        dbname: db.clone(),
        user: "postgres".into(),
        sslmode: SslMode::Disable,
        ..ConnectOptions::default()
    };
    let mut client = connect(&opts).await.expect("connect").client;
    // As the sink does for its session.
    prefer_lz4(&client).await;
    let spec = StreamSpec::new(
        "customer",
        COLUMNS.iter().map(|(n, t)| Column::new(*n, *t)).collect(),
    );
    ensure_schema(&client, "bench", "postgres")
        .await
        .expect("schema");
    let table: Table = ensure_table(&client, "bench", &spec)
        .await
        .expect("table")
        .0;

    // The same rows as CSV for psql, written before any timing starts.
    let csv = std::env::temp_dir().join(format!("inlet-bench-{}.csv", std::process::id()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&csv).expect("csv"));
    for i in 0..rows {
        let c = customer(i, 0);
        let mut fields = vec![format!("cus_{i:08}")];
        fields.extend(COLUMNS.iter().map(|(n, t)| csv_field(&c[*n], *t)));
        fields.extend(["1700000000000000".into(), "0".into()]);
        writeln!(file, "{}", fields.join(",")).expect("write csv");
    }
    file.flush().expect("flush");
    drop(file);

    // What the in-process source itself costs (building the records), to tell apart.
    let started = Instant::now();
    for start in (0..rows).step_by(batch_size) {
        let end = (start + batch_size).min(rows);
        let records: Vec<_> = (start..end).map(|i| customer(i, 0)).collect();
        std::hint::black_box(records);
    }
    let generation = started.elapsed().as_secs_f64();
    let run = (rows, batch_size);
    let backfill = write_all(&mut client, &table, run, 0, Phase::Backfill).await;
    let (engine, engine_updates) = engine_runs(&opts, &spec, run, !backfill_only).await;
    let (updates_no_events, updates_with_events) = if backfill_only {
        (f64::NAN, f64::NAN)
    } else {
        (
            write_all(&mut client, &table, run, 1, Phase::Backfill).await,
            write_all(&mut client, &table, run, 2, Phase::Live).await,
        )
    };

    // psql: the same table shape, loaded raw, then the hand-made staging merge.
    let cols = std::iter::once("id".to_string())
        .chain(COLUMNS.iter().map(|(n, _)| n.to_string()))
        .chain(["_sync_version_ts".into(), "_sync_version_seq".into()])
        .collect::<Vec<_>>()
        .join(", ");
    psql_seconds(
        &cluster,
        &db,
        "create table bench.raw (like bench.customer including all);",
    );
    let raw_copy = psql_seconds(
        &cluster,
        &db,
        &format!("\\copy bench.raw ({cols}) from '{}' csv\n", csv.display()),
    );
    let sets = COLUMNS
        .iter()
        .map(|(n, _)| format!("{n} = excluded.{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let by_hand = psql_seconds(
        &cluster,
        &db,
        &format!(
            "begin;\ncreate temp table stage (like bench.raw including defaults) on commit drop;\n\
             \\copy stage ({cols}) from '{}' csv\n\
             insert into bench.raw ({cols}) select {cols} from stage on conflict (id) do update set {sets};\ncommit;\n",
            csv.display()
        ),
    );
    let _ = std::fs::remove_file(&csv);

    let rate = |secs: f64| rows as f64 / secs;
    println!("| what | rows/s | seconds | vs raw psql \\copy |");
    println!("|---|---:|---:|---:|");
    for (what, secs) in [
        ("psql \\copy into an empty table (raw)", raw_copy),
        ("inlet backfill into an empty table", backfill),
        (
            "inlet backfill through the engine (reading overlaps writing)",
            engine,
        ),
        (
            "psql: copy to staging + insert ... on conflict (by hand)",
            by_hand,
        ),
        ("inlet updates, no change log", updates_no_events),
        ("inlet updates, with _sync_event", updates_with_events),
        (
            "inlet updates, with _sync_event, through the engine",
            engine_updates,
        ),
    ] {
        if secs.is_nan() {
            continue;
        }
        println!(
            "| {what} | {:.0} | {secs:.2} | {:.2}x |",
            rate(secs),
            raw_copy / secs
        );
    }
    println!(
        "\nPostgreSQL {major}, {rows} rows, batches of {batch_size}; building the records \
         alone runs at {:.0} rows/s (included in inlet's times); inlet peak RSS {:.0} MB",
        rate(generation),
        peak_rss_mb(std::process::id())
    );
}
