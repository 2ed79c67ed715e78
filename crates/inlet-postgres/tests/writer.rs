//! The writer against real servers (every version in `INLET_TEST_PG_VERSIONS`): ordering by
//! source version, deletes that stay deleted, the change log, checkpoints that never move
//! backward, additive evolution, and values kept when they do not fit their column.

use futures_util::StreamExt;
use inlet_core::{Batch, Checkpoint, Column, ColumnType, Phase, Record, StreamSpec, Version};
use inlet_postgres::tables::{ensure_schema, ensure_table, Table};
use inlet_postgres::writer::{
    prune_events, write_batch, DeleteMode, WriteError, WriteOptions, WriteStats,
};
use inlet_postgres::{connect, ConnectOptions, Secret, SslMode};
use inlet_testkit::{shared, versions, Cluster, ClusterSpec};
use serde_json::{json, Value};
use tokio_postgres::Client;

const SYNC: &str = "writer_sync";
const READER: &str = "writer_read";
const PASSWORD: &str = "pw";

async fn cluster(major: u32) -> &'static Cluster {
    shared(&format!("writer-{major}"), || {
        ClusterSpec::new(major).password_logins()
    })
}

/// A fresh database with a sync user that owns nothing but what it creates.
async fn sync_client(c: &Cluster) -> Client {
    let db = c.sync_database(SYNC, PASSWORD, READER).await;
    let o = ConnectOptions {
        host: c.host().into(),
        port: c.port,
        dbname: db,
        user: SYNC.into(),
        password: Some(Secret::new(PASSWORD)),
        sslmode: SslMode::Disable,
        ..ConnectOptions::default()
    };
    connect(&o).await.expect("sync user connects").client
}

fn spec(columns: &[(&str, ColumnType)]) -> StreamSpec {
    StreamSpec {
        name: "customer".into(),
        columns: columns.iter().map(|(n, t)| Column::new(*n, *t)).collect(),
    }
}

async fn prepared(client: &Client, columns: &[(&str, ColumnType)]) -> Table {
    ensure_schema(client, "stripe", READER)
        .await
        .expect("schema");
    ensure_table(client, "stripe", &spec(columns))
        .await
        .expect("table")
        .0
}

fn up(id: &str, ts: i64, fields: Value) -> Record {
    Record::upsert(
        id,
        Version::new(ts, 0),
        fields.as_object().cloned().unwrap_or_default(),
    )
}

fn batch(records: Vec<Record>, phase: Phase, n: i64) -> Batch {
    Batch::new(records, Checkpoint(json!({"page": n})), phase)
}

struct Stream {
    table: Table,
    seq: i64,
    options: WriteOptions,
}

impl Stream {
    async fn write(
        &mut self,
        client: &mut Client,
        records: Vec<Record>,
        phase: Phase,
    ) -> WriteStats {
        self.seq += 1;
        let b = batch(records, phase, self.seq);
        write_batch(client, &self.table, "customer", &b, self.seq, self.options)
            .await
            .unwrap_or_else(|e| panic!("batch {} failed: {e}", self.seq))
    }
}

async fn names(client: &Client) -> Vec<(String, Option<String>)> {
    client
        .query("select id, name from stripe.customer order by id", &[])
        .await
        .expect("select")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn row(id: &str, name: &str) -> (String, Option<String>) {
    (id.to_string(), Some(name.to_string()))
}

const NAME: [(&str, ColumnType); 1] = [("name", ColumnType::Text)];

#[tokio::test]
async fn live_changes_are_merged_and_logged_with_old_record_and_changes() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = Stream {
            table: prepared(&client, &NAME).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        let backfill = vec![
            up("cus_1", 10, json!({"name": "Ada"})),
            up("cus_2", 10, json!({"name": "Bob"})),
        ];
        let stats = s.write(&mut client, backfill, Phase::Backfill).await;
        assert_eq!(
            (stats.inserted, stats.events),
            (2, 0),
            "PG {v}: backfill is not logged"
        );

        let live = vec![
            up("cus_1", 20, json!({"name": "Ada L."})),
            up("cus_3", 20, json!({"name": "Cy"})),
            Record::delete("cus_2", Version::new(20, 0)),
        ];
        let stats = s.write(&mut client, live, Phase::Live).await;
        assert_eq!(
            (stats.inserted, stats.updated, stats.deleted, stats.events),
            (1, 1, 1, 3),
            "PG {v}"
        );
        assert_eq!(
            names(&client).await,
            vec![row("cus_1", "Ada L."), row("cus_3", "Cy")]
        );

        let events = client
            .query(
                "select event_type, record_id, payload from stripe._sync_event order by id",
                &[],
            )
            .await
            .expect("events");
        let by_type = |t: &str| -> Value {
            events
                .iter()
                .find(|r| r.get::<_, String>(0) == t)
                .map(|r| r.get(2))
                .expect(t)
        };
        let update = by_type("update");
        assert_eq!(update["record_id"], "cus_1");
        assert_eq!(update["record"]["name"], "Ada L.");
        assert_eq!(update["old_record"]["name"], "Ada");
        assert_eq!(
            update["changes"],
            json!({"name": "Ada L."}),
            "PG {v}: {update}"
        );
        assert_eq!(by_type("insert")["record"]["name"], "Cy");
        assert_eq!(
            by_type("delete")["record"]["name"],
            "Bob",
            "a delete logs what was deleted"
        );
        assert!(
            update["record"].get("_sync_version_ts").is_none(),
            "internal columns stay out"
        );

        let state = client
            .query_one(
                "select state, checkpoint, batch_seq, rows_written from stripe._sync_state",
                &[],
            )
            .await
            .expect("state");
        assert_eq!(state.get::<_, String>(0), "live");
        assert_eq!(state.get::<_, Value>(1), json!({"page": 2}));
        assert_eq!((state.get::<_, i64>(2), state.get::<_, i64>(3)), (2, 5));
    }
}

#[tokio::test]
async fn older_version_never_overwrites_newer_and_a_tie_keeps_the_later_change() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = Stream {
            table: prepared(&client, &NAME).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        s.write(
            &mut client,
            vec![up("cus_1", 50, json!({"name": "new"}))],
            Phase::Live,
        )
        .await;
        let stats = s
            .write(
                &mut client,
                vec![up("cus_1", 40, json!({"name": "old"}))],
                Phase::Live,
            )
            .await;
        assert_eq!((stats.updated, stats.events), (0, 0), "PG {v}");
        assert_eq!(names(&client).await, vec![row("cus_1", "new")]);
        // Same version, applied later: the later change wins.
        s.write(
            &mut client,
            vec![up("cus_1", 50, json!({"name": "same second, later"}))],
            Phase::Live,
        )
        .await;
        assert_eq!(
            names(&client).await,
            vec![row("cus_1", "same second, later")],
            "PG {v}"
        );
        // Within one batch: the newest version, then the later position, wins.
        let mixed = vec![
            up("cus_2", 70, json!({"name": "b-70"})),
            up("cus_2", 60, json!({"name": "b-60"})),
            up("cus_2", 70, json!({"name": "b-70-later"})),
        ];
        s.write(&mut client, mixed, Phase::Live).await;
        assert_eq!(
            names(&client).await[1],
            row("cus_2", "b-70-later"),
            "PG {v}"
        );
    }
}

#[tokio::test]
async fn a_deleted_row_stays_deleted_when_an_older_change_arrives_late() {
    for v in versions() {
        for mode in [DeleteMode::Hard, DeleteMode::Soft] {
            let mut client = sync_client(cluster(v).await).await;
            let options = WriteOptions {
                deletes: mode,
                ..WriteOptions::default()
            };
            let mut s = Stream {
                table: prepared(&client, &NAME).await,
                seq: 0,
                options,
            };
            s.write(
                &mut client,
                vec![up("cus_1", 10, json!({"name": "a"}))],
                Phase::Live,
            )
            .await;
            s.write(
                &mut client,
                vec![Record::delete("cus_1", Version::new(30, 0))],
                Phase::Live,
            )
            .await;
            s.write(
                &mut client,
                vec![up("cus_1", 20, json!({"name": "late"}))],
                Phase::Live,
            )
            .await;
            // Deleted before it was ever seen: still no resurrection by an older change.
            s.write(
                &mut client,
                vec![Record::delete("cus_9", Version::new(30, 0))],
                Phase::Live,
            )
            .await;
            s.write(
                &mut client,
                vec![up("cus_9", 20, json!({"name": "late"}))],
                Phase::Live,
            )
            .await;
            let live = client
                .query(
                    "select id, name from stripe.customer where _sync_deleted_at is null",
                    &[],
                )
                .await
                .expect("select");
            assert!(
                live.is_empty(),
                "PG {v} {mode:?}: resurrected {:?}",
                live.len()
            );
            if mode == DeleteMode::Soft {
                let kept: i64 = client
                    .query_one(
                        "select count(*) from stripe.customer where _sync_deleted_at is not null",
                        &[],
                    )
                    .await
                    .expect("count")
                    .get(0);
                assert_eq!(kept, 1, "PG {v}: a soft delete keeps the row");
            }
            s.write(
                &mut client,
                vec![up("cus_1", 40, json!({"name": "back"}))],
                Phase::Live,
            )
            .await;
            let back = client
                .query(
                    "select name from stripe.customer where _sync_deleted_at is null",
                    &[],
                )
                .await
                .expect("select");
            assert_eq!(
                back.len(),
                1,
                "PG {v} {mode:?}: a newer change brings it back"
            );
        }
    }
}

#[tokio::test]
async fn replaying_a_batch_changes_nothing_and_a_stale_writer_is_fenced() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let table = prepared(&client, &NAME).await;
        let records = vec![
            up("cus_1", 10, json!({"name": "a"})),
            Record::delete("cus_2", Version::new(10, 0)),
        ];
        let opts = WriteOptions::default();
        let first = write_batch(
            &mut client,
            &table,
            "customer",
            &batch(records.clone(), Phase::Live, 1),
            1,
            opts,
        )
        .await
        .expect("first");
        assert_eq!(first.inserted, 1);
        let replay = write_batch(
            &mut client,
            &table,
            "customer",
            &batch(records.clone(), Phase::Live, 2),
            2,
            opts,
        )
        .await
        .expect("replay");
        assert_eq!(
            (replay.inserted, replay.updated, replay.events),
            (0, 0, 0),
            "PG {v}: {replay:?}"
        );

        // A writer still at batch 2 (it lost its lock) cannot commit anything.
        let stale = vec![up("cus_1", 99, json!({"name": "stale writer"}))];
        let err = write_batch(
            &mut client,
            &table,
            "customer",
            &batch(stale, Phase::Live, 2),
            2,
            opts,
        )
        .await;
        assert!(
            matches!(err, Err(WriteError::Fenced { batch_seq: 2, .. })),
            "PG {v}: {err:?}"
        );
        assert_eq!(
            names(&client).await,
            vec![row("cus_1", "a")],
            "PG {v}: the fenced batch left no trace"
        );
        let seq: i64 = client
            .query_one("select batch_seq from stripe._sync_state", &[])
            .await
            .expect("seq")
            .get(0);
        assert_eq!(seq, 2, "progress never moves backward");
    }
}

#[tokio::test]
async fn new_fields_become_columns_and_misfits_are_kept_in_sync_extra() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = Stream {
            table: prepared(&client, &NAME).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        s.write(
            &mut client,
            vec![up("cus_1", 10, json!({"name": "a", "surprise": {"x": 1}}))],
            Phase::Live,
        )
        .await;

        let wider = [
            ("name", ColumnType::Text),
            ("balance", ColumnType::Bigint),
            ("created", ColumnType::Timestamptz),
        ];
        let (table, conflicts) = ensure_table(&client, "stripe", &spec(&wider))
            .await
            .expect("evolve");
        assert!(conflicts.is_empty());
        s.table = table;
        let stats = s
            .write(
                &mut client,
                vec![up(
                    "cus_2",
                    10,
                    json!({"name": "b", "balance": "not a number", "created": 1700000000}),
                )],
                Phase::Live,
            )
            .await;
        assert_eq!(stats.extra_values, 1, "PG {v}");
        let r = client
            .query_one("select balance, _sync_extra, extract(epoch from created)::bigint from stripe.customer where id = 'cus_2'", &[])
            .await
            .expect("row");
        assert_eq!(r.get::<_, Option<i64>>(0), None);
        assert_eq!(
            r.get::<_, Value>(1),
            json!({"balance": "not a number"}),
            "PG {v}: kept, readable"
        );
        assert_eq!(r.get::<_, i64>(2), 1_700_000_000);
        let first: Value = client
            .query_one(
                "select _sync_extra from stripe.customer where id = 'cus_1'",
                &[],
            )
            .await
            .expect("row")
            .get(0);
        assert_eq!(
            first,
            json!({"surprise": {"x": 1}}),
            "a field without a column is kept too"
        );

        let retyped = [("name", ColumnType::Bigint)];
        let (_, conflicts) = ensure_table(&client, "stripe", &spec(&retyped))
            .await
            .expect("evolve");
        assert_eq!(
            conflicts.len(),
            1,
            "PG {v}: a type change is reported, not applied"
        );
        assert_eq!(conflicts[0].in_table, "text");
    }
}

#[tokio::test]
async fn committed_changes_notify_listeners() {
    for v in versions() {
        let c = cluster(v).await;
        let mut client = sync_client(c).await;
        let db: String = client
            .query_one("select current_database()::text", &[])
            .await
            .expect("db")
            .get(0);
        let mut s = Stream {
            table: prepared(&client, &NAME).await,
            seq: 0,
            options: WriteOptions::default(),
        };

        let mut cfg = tokio_postgres::Config::new();
        cfg.host_path(c.socket_dir())
            .port(c.port)
            .user("postgres")
            .dbname(&db);
        let (listener, mut conn) = cfg.connect(tokio_postgres::NoTls).await.expect("listener");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
            while let Some(Ok(m)) = messages.next().await {
                if let tokio_postgres::AsyncMessage::Notification(n) = m {
                    let _ = tx.send((n.channel().to_string(), n.payload().to_string()));
                }
            }
        });
        listener
            .batch_execute("listen inlet_sync_event")
            .await
            .expect("listen");
        s.write(
            &mut client,
            vec![up("cus_1", 10, json!({"name": "a"}))],
            Phase::Live,
        )
        .await;
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await;
        assert_eq!(
            got.ok().flatten(),
            Some((
                "inlet_sync_event".to_string(),
                "stripe.customer".to_string()
            )),
            "PG {v}"
        );
    }
}

#[tokio::test]
async fn old_change_log_rows_are_pruned_in_small_steps_and_recent_ones_kept() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = Stream {
            table: prepared(&client, &NAME).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        let records = (0..25)
            .map(|i| up(&format!("cus_{i}"), 10, json!({"name": "x"})))
            .collect();
        s.write(&mut client, records, Phase::Live).await;
        client
            .batch_execute("update stripe._sync_event set inserted_at = now() - interval '8 days' where id in (select id from stripe._sync_event order by id limit 20)")
            .await
            .expect("age some events");
        let week = std::time::Duration::from_secs(7 * 24 * 3600);
        let pruned = prune_events(&client, "stripe", week, 3)
            .await
            .expect("prune");
        assert_eq!(pruned, 20, "PG {v}");
        let left: i64 = client
            .query_one("select count(*) from stripe._sync_event", &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(left, 5, "PG {v}: recent events are kept");
    }
}

/// The backfill fast path (COPY straight into the table) ends exactly where the merge ends,
/// including when a batch repeats rows already there (it then falls back to the merge).
#[tokio::test]
async fn direct_backfill_ends_exactly_where_the_merge_ends() {
    for v in versions() {
        let mut results = Vec::new();
        for direct in [false, true] {
            let mut client = sync_client(cluster(v).await).await;
            let options = WriteOptions {
                direct_backfill: direct,
                ..WriteOptions::default()
            };
            let mut s = Stream {
                table: prepared(&client, &NAME).await,
                seq: 0,
                options,
            };
            let first = s
                .write(
                    &mut client,
                    vec![
                        up("cus_1", 10, json!({"name": "a"})),
                        up("cus_2", 10, json!({"name": "b", "x": 1})),
                    ],
                    Phase::Backfill,
                )
                .await;
            assert_eq!(
                (first.inserted, first.extra_values),
                (2, 0),
                "PG {v} direct={direct}"
            );
            // cus_2 again (newer) and cus_1 again (older): a present row forces the merge.
            let second = s
                .write(
                    &mut client,
                    vec![
                        up("cus_2", 20, json!({"name": "b2"})),
                        up("cus_1", 5, json!({"name": "old"})),
                        up("cus_3", 10, json!({"name": "c"})),
                    ],
                    Phase::Backfill,
                )
                .await;
            assert_eq!(
                (second.inserted, second.updated),
                (1, 1),
                "PG {v} direct={direct}"
            );
            let rows = client
                .query("select id, name, _sync_extra, _sync_version_ts from stripe.customer order by id", &[])
                .await
                .expect("select")
                .iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1), r.get::<_, Option<Value>>(2), r.get::<_, i64>(3)))
                .collect::<Vec<_>>();
            results.push(rows);
        }
        assert_eq!(
            results[0], results[1],
            "PG {v}: the fast path must change nothing"
        );
        assert_eq!(results[1][1].1.as_deref(), Some("b2"));
    }
}

/// The binary numeric encoding, checked by PostgreSQL itself: random decimals (signs,
/// leading zeros, long fractions, zero) go in through binary COPY and must come back as the
/// same number, printed by the server.
#[tokio::test]
async fn decimals_survive_the_binary_encoding_exactly() {
    use proptest::strategy::{Strategy, ValueTree};
    let decimal = (
        proptest::bool::ANY,
        "[0-9]{1,30}",
        proptest::option::of("[0-9]{0,20}"),
    )
        .prop_map(|(neg, int, frac)| {
            let sign = if neg { "-" } else { "" };
            match frac {
                Some(f) => format!("{sign}{int}.{f}"),
                None => format!("{sign}{int}"),
            }
        });
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let values: Vec<String> = (0..300)
        .map(|_| decimal.new_tree(&mut runner).expect("sample").current())
        .chain(["0", "-0", "0.000", "-0.0001", "10000", "99999999.99990000"].map(String::from))
        .collect();
    let expected = |v: &str| {
        let (neg, rest) = v.strip_prefix('-').map_or((false, v), |r| (true, r));
        let (int, frac) = rest
            .split_once('.')
            .map_or((rest, None), |(i, f)| (i, Some(f)));
        let int = match int.trim_start_matches('0') {
            "" => "0",
            digits => digits,
        };
        let zero = int == "0" && frac.is_none_or(|f| f.bytes().all(|b| b == b'0'));
        let sign = if neg && !zero { "-" } else { "" };
        match frac {
            Some(f) if !f.is_empty() => format!("{sign}{int}.{f}"),
            _ => format!("{sign}{int}"),
        }
    };
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = Stream {
            table: prepared(&client, &[("amount", ColumnType::Numeric)]).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        let records = values
            .iter()
            .enumerate()
            .map(|(i, d)| up(&format!("n{i}"), 1, json!({ "amount": d })))
            .collect();
        let stats = s.write(&mut client, records, Phase::Backfill).await;
        assert_eq!(stats.extra_values, 0, "PG {v}: every decimal fits numeric");
        for (i, d) in values.iter().enumerate() {
            let got: String = client
                .query_one(
                    "select amount::text from stripe.customer where id = $1",
                    &[&format!("n{i}")],
                )
                .await
                .expect("row")
                .get(0);
            assert_eq!(got, expected(d), "PG {v}: {d}");
        }
    }
}

/// Names PostgreSQL would mangle or that are inlet's own, huge and deeply nested values,
/// numbers beyond i64, and ids no key can hold: each is stored faithfully, kept readable in
/// `_sync_extra`, or quarantined in `_sync_rejected` with the reason; nothing is lost, and
/// the rest of the batch is written.
#[tokio::test]
async fn hostile_names_huge_values_and_unusable_ids_are_stored_or_quarantined() {
    use inlet_core::column_name;
    use inlet_postgres::sql::ident;
    let long = "a_field_name_that_is_far_longer_than_the_sixty_three_bytes_postgres_allows";
    let names = ["Name", "name", "select", "a.b c\"d", long, "_sync_extra"];
    let mut deep = json!("bottom");
    for _ in 0..1000 {
        deep = json!([deep]);
    }
    let big = "x".repeat(10 * 1024 * 1024);
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut columns: Vec<(&str, ColumnType)> =
            names.iter().map(|n| (*n, ColumnType::Text)).collect();
        columns.extend([
            ("big", ColumnType::Text),
            ("deep", ColumnType::Jsonb),
            ("huge", ColumnType::Bigint),
        ]);
        let mut s = Stream {
            table: prepared(&client, &columns).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        let mut fields = serde_json::Map::new();
        for n in names {
            fields.insert(n.to_string(), json!(format!("value of {n}")));
        }
        fields.insert("big".into(), json!(big));
        fields.insert("deep".into(), deep.clone());
        fields.insert("huge".into(), json!(u64::MAX));
        let records = vec![
            Record::upsert("cus_ok", Version::new(1, 0), fields),
            up(
                &"i".repeat(2000),
                1,
                json!({"name": "an id too long for a key"}),
            ),
            up("nul\0id", 1, json!({"name": "an id with NUL"})),
        ];
        let stats = s.write(&mut client, records, Phase::Live).await;
        assert_eq!(
            (stats.inserted, stats.rejected, stats.extra_values),
            (1, 2, 1),
            "PG {v}"
        );

        for n in names {
            let sql = format!(
                "select {}::text from stripe.customer where id = 'cus_ok'",
                ident(&column_name(n))
            );
            let got: String = client
                .query_one(&sql, &[])
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .get(0);
            assert_eq!(got, format!("value of {n}"), "PG {v}: field {n:?}");
        }
        let row = client
            .query_one("select length(big), deep::text, _sync_extra -> 'huge' from stripe.customer where id = 'cus_ok'", &[])
            .await
            .expect("row");
        assert_eq!(
            row.get::<_, i32>(0),
            10 * 1024 * 1024,
            "PG {v}: the 10 MB value"
        );
        assert_eq!(
            row.get::<_, String>(1),
            deep.to_string(),
            "PG {v}: 1000 levels deep"
        );
        assert_eq!(
            row.get::<_, Value>(2),
            json!(u64::MAX),
            "PG {v}: beyond i64, kept exactly"
        );

        let rejected = client
            .query("select reason, record -> 'fields' ->> 'name' from stripe._sync_rejected order by id", &[])
            .await
            .expect("rejected");
        let reasons: Vec<(String, String)> =
            rejected.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(reasons.len(), 2, "PG {v}");
        assert!(
            reasons[0].0.contains("2000 bytes") && reasons[0].1 == "an id too long for a key",
            "{reasons:?}"
        );
        assert!(
            reasons[1].0.contains("NUL") && reasons[1].1 == "an id with NUL",
            "{reasons:?}"
        );
    }
}

/// The `update` events of the change log, in order: (record_id, changes, old_record, record).
async fn updates(client: &Client) -> Vec<(String, Value, Value, Value)> {
    client
        .query(
            "select record_id, payload -> 'changes', payload -> 'old_record', payload -> 'record' \
               from stripe._sync_event where event_type = 'update' order by id",
            &[],
        )
        .await
        .expect("events")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// What changed is decided by comparing typed values, as a reader comparing the JSON would:
/// a jsonb object with its keys in another order, `1.0` then `1.00`, or an equal array are
/// no change (and nothing is logged); a NULL becoming a value, a value becoming NULL, an
/// array's order, a timestamp and a double are changes, each with its new value exactly as
/// the record shows it.
#[tokio::test]
async fn changes_compare_typed_values_as_the_json_a_reader_sees() {
    let columns = [
        ("doc", ColumnType::Jsonb),
        ("amount", ColumnType::Numeric),
        ("tags", ColumnType::TextArray),
        ("note", ColumnType::Text),
        ("at", ColumnType::Timestamptz),
        ("ratio", ColumnType::Double),
        ("n", ColumnType::Bigint),
        ("flag", ColumnType::Boolean),
    ];
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = Stream {
            table: prepared(&client, &columns).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        let first = json!({"doc": {"a": 1, "b": [1, 2]}, "amount": "1.0", "tags": ["x", "y"],
                           "note": null, "at": 1_700_000_000, "ratio": 0.1, "n": 7, "flag": true});
        s.write(&mut client, vec![up("cus_1", 10, first)], Phase::Backfill)
            .await;

        // The same values, written differently: nothing changed, nothing is logged.
        let same = json!({"doc": {"b": [1, 2], "a": 1.0}, "amount": "1.00", "tags": ["x", "y"],
                          "note": null, "at": 1_700_000_000, "ratio": 0.1, "n": 7, "flag": true});
        let stats = s
            .write(&mut client, vec![up("cus_1", 20, same)], Phase::Live)
            .await;
        assert_eq!((stats.updated, stats.events), (0, 0), "PG {v}");
        assert!(updates(&client).await.is_empty(), "PG {v}");

        let changed = json!({"doc": {"a": 1, "b": [2, 1]}, "amount": "1.00", "tags": ["y", "x"],
                             "note": "now set", "at": 1_700_000_001, "ratio": 0.25, "n": null,
                             "flag": true});
        let stats = s
            .write(&mut client, vec![up("cus_1", 30, changed)], Phase::Live)
            .await;
        assert_eq!((stats.updated, stats.events), (1, 1), "PG {v}");
        let logged = updates(&client).await;
        let (id, changes, old, record) = &logged[0];
        assert_eq!(id, "cus_1");
        let mut names: Vec<&String> = changes.as_object().expect("object").keys().collect();
        names.sort();
        assert_eq!(
            names,
            ["at", "doc", "n", "note", "ratio", "tags"],
            "PG {v}: {changes}"
        );
        for name in names {
            assert_eq!(
                changes[name], record[name],
                "PG {v}: {name} as the record shows it"
            );
            assert_ne!(changes[name], old[name], "PG {v}: {name}");
        }
        assert_eq!(changes["note"], json!("now set"), "PG {v}: NULL to a value");
        assert_eq!(changes["n"], Value::Null, "PG {v}: a value to NULL");
        assert_eq!(old["n"], json!(7), "PG {v}");
        assert_eq!(changes["tags"], json!(["y", "x"]), "PG {v}");
        assert_eq!(
            record["amount"].to_string(),
            "1.00",
            "PG {v}: the record is the row as it is"
        );
        assert!(record.get("_sync_version_ts").is_none() && old.get("_sync_version_seq").is_none());
        for system in [
            "_sync_extra",
            "_sync_deleted_at",
            "_sync_inserted_at",
            "_sync_updated_at",
        ] {
            assert!(
                record.get(system).is_some() && old.get(system).is_some(),
                "PG {v}: {system}"
            );
        }
    }
}

/// A field that appears in the middle of live changes gets its column, and the update that
/// brings it logs it as changed from NULL; a column a person retyped to something inlet does
/// not write is left alone but still shown in the records, as it is.
#[tokio::test]
async fn a_column_added_mid_stream_and_a_persons_column_show_in_the_change_log() {
    use inlet_postgres::evolve::{add_columns, new_columns};
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let columns = [("name", ColumnType::Text), ("code", ColumnType::Text)];
        let mut s = Stream {
            table: prepared(&client, &columns).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        s.write(
            &mut client,
            vec![up("cus_1", 10, json!({"name": "a", "code": "12"}))],
            Phase::Backfill,
        )
        .await;
        client
            .batch_execute(
                "alter table stripe.customer alter column code type integer using code::integer",
            )
            .await
            .expect("a person retypes a column");
        s.table = ensure_table(&client, "stripe", &spec(&columns))
            .await
            .expect("table")
            .0;
        assert_eq!(s.table.other_columns, ["code"], "PG {v}");

        let records = vec![up(
            "cus_1",
            20,
            json!({"name": "b", "tier": "gold", "code": "13"}),
        )];
        let added = new_columns(&s.table, &records);
        add_columns(&client, &mut s.table, added)
            .await
            .expect("new column");
        let stats = s.write(&mut client, records, Phase::Live).await;
        assert_eq!(stats.updated, 1, "PG {v}");
        let logged = updates(&client).await;
        let (_, changes, old, record) = &logged[0];
        assert_eq!(changes, &json!({"name": "b", "tier": "gold"}), "PG {v}");
        assert_eq!(old["tier"], Value::Null, "PG {v}");
        assert_eq!(
            (&old["code"], &record["code"]),
            (&json!(12), &json!(12)),
            "PG {v}"
        );
        assert_eq!(record["_sync_extra"], json!({"code": "13"}), "PG {v}");
    }
}

/// One batch's changes are logged in source order whatever their kind, each object once
/// with its net effect: created then updated is one `insert` with the final record.
#[tokio::test]
async fn one_batch_is_logged_in_source_order_with_net_effects() {
    for v in versions() {
        for mode in [DeleteMode::Hard, DeleteMode::Soft] {
            let mut client = sync_client(cluster(v).await).await;
            let options = WriteOptions {
                deletes: mode,
                ..WriteOptions::default()
            };
            let mut s = Stream {
                table: prepared(&client, &NAME).await,
                seq: 0,
                options,
            };
            let existing = ["cus_a", "cus_b", "cus_c"]
                .map(|id| up(id, 10, json!({"name": format!("{id} before")})))
                .to_vec();
            s.write(&mut client, existing, Phase::Backfill).await;
            let live = vec![
                up("cus_c", 30, json!({"name": "c after"})),
                up("cus_new", 20, json!({"name": "new"})),
                Record::delete("cus_a", Version::new(25, 0)),
                up("cus_new", 40, json!({"name": "new, then renamed"})),
                up("cus_b", 20, json!({"name": "cus_b before"})),
                up("cus_b", 35, json!({"name": "b after"})),
            ];
            let stats = s.write(&mut client, live, Phase::Live).await;
            assert_eq!(
                (stats.inserted, stats.updated, stats.deleted, stats.events),
                (1, 2, 1, 4),
                "PG {v} {mode:?}"
            );
            let events: Vec<(String, String, Option<String>)> = client
                .query(
                    "select event_type, record_id, payload -> 'record' ->> 'name' \
                       from stripe._sync_event order by id",
                    &[],
                )
                .await
                .expect("events")
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            let expected = [
                ("delete", "cus_a", "cus_a before"),
                ("update", "cus_c", "c after"),
                ("update", "cus_b", "b after"),
                ("insert", "cus_new", "new, then renamed"),
            ]
            .map(|(k, id, name)| (k.to_string(), id.to_string(), Some(name.to_string())));
            assert_eq!(events, expected, "PG {v} {mode:?}");
        }
    }
}
