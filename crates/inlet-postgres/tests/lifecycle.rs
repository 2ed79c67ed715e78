//! Rebuild swaps on real PostgreSQL: a reader querying in a loop never sees an empty table
//! or an error; a person's view, index and table in the sync schema keep working (the view
//! shows the new data); a table a person took over is left alone; hostile schema names.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use inlet_core::{Batch, Checkpoint, Column, ColumnType, Phase, Record, Sink, StreamSpec, Version};
use inlet_postgres::lifecycle::{self, Kind};
use inlet_postgres::schema_name::{check_free, swap_schema, Standing};
use inlet_postgres::sink::PgSink;
use inlet_postgres::sql::ident;
use inlet_postgres::swap::swap;
use inlet_postgres::writer::WriteOptions;
use inlet_postgres::{connect, ConnectOptions, ProblemKind, Secret, SslMode};
use inlet_testkit::{shared, versions, wait_until_async, Cluster, ClusterSpec};
use serde_json::json;
use tokio_postgres::Client;

const PASSWORD: &str = "pw";
const USER: &str = "life_sync";
const READ: &str = "life_read";

async fn cluster(major: u32) -> &'static Cluster {
    shared(&format!("lifecycle-{major}"), || {
        ClusterSpec::new(major).password_logins()
    })
}

async fn database(c: &Cluster) -> (ConnectOptions, Client) {
    let db = c.sync_database(USER, PASSWORD, READ).await;
    let o = ConnectOptions {
        host: c.host().into(),
        port: c.port,
        dbname: db.clone(),
        user: USER.into(),
        password: Some(Secret::new(PASSWORD)),
        sslmode: SslMode::Disable,
        ..ConnectOptions::default()
    };
    (o, c.admin_db(&db).await)
}

fn spec() -> StreamSpec {
    StreamSpec::new("customer", vec![Column::new("name", ColumnType::Text)])
}

/// A sink on `schema` holding `n` customers named `name`.
async fn filled(o: &ConnectOptions, schema: &str, n: usize, name: &str) -> PgSink {
    let client = connect(o).await.expect("connect").client;
    let mut sink = PgSink::open(client, schema, READ, &[spec()], WriteOptions::default())
        .await
        .expect("open");
    let records = (0..n)
        .map(|i| {
            let fields = json!({ "name": format!("{name} {i}") });
            Record::upsert(
                format!("cus_{i:06}"),
                Version::new(100, 0),
                fields.as_object().cloned().unwrap_or_default(),
            )
        })
        .collect();
    let batch = Batch::new(records, Checkpoint(json!({ "at": name })), Phase::Backfill);
    sink.write("customer", &batch).await.expect("write");
    sink
}

/// Queries `sql` (one bigint) in a loop until stopped and it has seen `last`; returns every
/// answer, and fails on any error.
fn reader(
    admin: Client,
    sql: String,
    stop: Arc<AtomicBool>,
    last: i64,
) -> tokio::task::JoinHandle<Vec<i64>> {
    tokio::spawn(async move {
        let mut seen: Vec<i64> = Vec::new();
        while !(stop.load(Ordering::Relaxed) && seen.last() == Some(&last)) {
            match admin.query_one(&sql, &[]).await {
                Ok(row) => seen.push(row.get(0)),
                Err(e) => panic!("the reader got an error during the swap: {e}"),
            }
        }
        seen
    })
}

async fn rebuild(live: &mut PgSink, schema: &str) -> inlet_postgres::swap::SwapReport {
    let req = lifecycle::request(live.client_mut(), schema, Kind::Rebuild, None, "test")
        .await
        .expect("request");
    assert_eq!(req.target, swap_schema(schema));
    swap(live.client_mut(), schema, &req.target, req.id)
        .await
        .expect("swap")
}

#[tokio::test]
async fn a_reader_never_sees_an_empty_table_or_an_error_during_the_swap() {
    for v in versions() {
        let (o, admin) = database(cluster(v).await).await;
        let schema = "We \"Quote\" Stripe";
        let mut live = filled(&o, schema, 3_000, "old").await;
        let _copy = filled(&o, &swap_schema(schema), 4_000, "new").await;
        let stop = Arc::new(AtomicBool::new(false));
        let sql = format!("select count(*) from {}.customer", ident(schema));
        let reading = reader(admin, sql, stop.clone(), 4_000);
        let report = rebuild(&mut live, schema).await;
        stop.store(true, Ordering::Relaxed);
        let seen = reading.await.expect("reader");
        assert!(!seen.is_empty(), "PG {v}: the reader ran");
        assert!(
            seen.iter().all(|n| *n == 3_000 || *n == 4_000),
            "PG {v}: only whole tables seen: {:?}",
            seen.iter()
                .filter(|n| **n != 3_000 && **n != 4_000)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            report.replaced,
            vec!["customer".to_string()],
            "PG {v}: {report:?}"
        );
        assert!(
            report.lock_ms < 1_000.0,
            "PG {v}: lock {} ms",
            report.lock_ms
        );
        let c = live.client_mut();
        let n: i64 = c
            .query_one(
                &format!("select count(*) from {}.customer", ident(schema)),
                &[],
            )
            .await
            .expect("count")
            .get(0);
        assert_eq!(n, 4_000, "PG {v}");
        let checkpoint: serde_json::Value = c
            .query_one(
                &format!("select checkpoint from {}._sync_state", ident(schema)),
                &[],
            )
            .await
            .expect("state")
            .get(0);
        assert_eq!(
            checkpoint,
            json!({"at": "new"}),
            "PG {v}: the copy's checkpoint"
        );
        let (state, _) = lifecycle::get(c, schema, 1)
            .await
            .expect("get")
            .expect("row");
        assert_eq!(state.as_str(), "done", "PG {v}");
        // The read role reads the new table.
        let readable: bool = c
            .query_one(
                "select has_table_privilege($1, format('%I.customer', $2::text), 'select')",
                &[&READ, &schema],
            )
            .await
            .expect("privilege")
            .get(0);
        assert!(
            readable,
            "PG {v}: the read role can read the swapped-in table"
        );
    }
}

/// The hard case, made certain: a reader's query arrives while the swap waits for its lock
/// (queued behind it); it must read the new table, not fail on the dropped one.
#[tokio::test]
async fn a_query_queued_behind_the_swap_reads_the_new_table() {
    for v in versions() {
        let c = cluster(v).await;
        let (o, admin) = database(c).await;
        let mut live = filled(&o, "stripe", 100, "old").await;
        let _copy = filled(&o, &swap_schema("stripe"), 150, "new").await;
        // A long reader holds the table, so the swap has to wait for its lock.
        admin
            .batch_execute("begin; select count(*) from stripe.customer")
            .await
            .expect("long reader");
        let swapping = tokio::spawn(async move {
            let report = rebuild(&mut live, "stripe").await;
            (live, report)
        });
        let probe = c.admin_db(&o.dbname).await;
        let waiting = |n: i64| {
            let probe = &probe;
            move || async move {
                let waiting: i64 = probe
                    .query_one(
                        "select count(*) from pg_stat_activity \
                          where datname = current_database() and wait_event_type = 'Lock'",
                        &[],
                    )
                    .await
                    .expect("pg_stat_activity")
                    .get(0);
                waiting >= n
            }
        };
        wait_until_async(
            "the swap to wait for its lock",
            Duration::from_secs(10),
            waiting(1),
        )
        .await;
        let queued = c.admin_db(&o.dbname).await;
        let late = tokio::spawn(async move {
            queued
                .query_one("select count(*) from stripe.customer", &[])
                .await
                .map(|r| r.get::<_, i64>(0))
        });
        wait_until_async(
            "the late reader to queue",
            Duration::from_secs(10),
            waiting(2),
        )
        .await;
        admin.batch_execute("commit").await.expect("commit");
        let n = late
            .await
            .expect("join")
            .expect("the queued reader gets no error");
        assert_eq!(n, 150, "PG {v}: the queued reader reads the new table");
        let (_, report) = swapping.await.expect("swap");
        assert_eq!(report.replaced, vec!["customer".to_string()], "PG {v}");
    }
}

#[tokio::test]
async fn a_persons_view_index_and_table_keep_working_through_a_rebuild() {
    for v in versions() {
        let c = cluster(v).await;
        let (o, admin) = database(c).await;
        let schema = "stripe";
        let mut live = filled(&o, schema, 2_000, "old").await;
        let _copy = filled(&o, &swap_schema(schema), 2_500, "new").await;
        // As a person (the admin): a view, an index, and a table of their own in the schema.
        admin
            .batch_execute(
                "create view stripe.named_new as select count(*) filter (where name like 'new%') \
                   as n from stripe.customer;
                 create index person_customer_name on stripe.customer (name);
                 create table stripe.notes (id int primary key, note text);
                 insert into stripe.notes values (1, 'mine');
                 create function stripe.count_new() returns trigger language plpgsql security definer as
                   $$ begin update stripe.notes set note = note || '+' where id = 1; return null; end $$;
                 create trigger person_counts after insert on stripe.customer
                   for each statement execute procedure stripe.count_new();",
            )
            .await
            .expect("person's objects");
        let stop = Arc::new(AtomicBool::new(false));
        let reading = reader(
            c.admin_db(&o.dbname).await,
            "select count(*) from stripe.customer".into(),
            stop.clone(),
            2_500,
        );
        let report = rebuild(&mut live, schema).await;
        stop.store(true, Ordering::Relaxed);
        let seen = reading.await.expect("reader");
        assert!(seen.iter().all(|n| *n == 2_000 || *n == 2_500), "PG {v}");
        assert!(report.replaced.is_empty(), "PG {v}: {report:?}");
        assert_eq!(report.merged.len(), 1, "PG {v}");
        let bound = &report.merged[0].bound;
        assert!(
            bound.iter().any(|b| b.contains("named_new")),
            "PG {v}: the view is named: {bound:?}"
        );
        assert!(
            bound.iter().any(|b| b.contains("person_customer_name")),
            "PG {v}: the index is named: {bound:?}"
        );
        let n: i64 = admin
            .query_one("select n from stripe.named_new", &[])
            .await
            .expect("view")
            .get(0);
        assert_eq!(n, 2_500, "PG {v}: the person's view shows the new data");
        let note: String = admin
            .query_one("select note from stripe.notes", &[])
            .await
            .expect("notes")
            .get(0);
        assert_eq!(
            note, "mine+",
            "PG {v}: the person's table is there, and their trigger fired once for the merge"
        );
        assert!(
            bound.iter().any(|b| b.contains("person_counts")),
            "PG {v}: the trigger is named: {bound:?}"
        );
        let index: i64 = admin
            .query_one(
                "select count(*) from pg_indexes where schemaname = 'stripe' \
                   and indexname = 'person_customer_name'",
                &[],
            )
            .await
            .expect("index")
            .get(0);
        assert_eq!(index, 1, "PG {v}: the person's index is still there");
    }
}

#[tokio::test]
async fn a_table_a_person_took_over_is_left_alone_by_sync_and_rebuild() {
    for v in versions() {
        let (o, admin) = database(cluster(v).await).await;
        let mut live = filled(&o, "stripe", 10, "old").await;
        let _copy = filled(&o, &swap_schema("stripe"), 20, "new").await;
        admin
            .batch_execute("alter table stripe.customer owner to current_user")
            .await
            .expect("take over");
        let report = rebuild(&mut live, "stripe").await;
        assert_eq!(report.left_alone.len(), 1, "PG {v}: {report:?}");
        assert!(report.left_alone[0].1.contains("postgres") || !report.left_alone[0].1.is_empty());
        let n: i64 = admin
            .query_one("select count(*) from stripe.customer", &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(n, 10, "PG {v}: untouched");
        // A sink opened now syncs the other streams and leaves this one alone.
        let client = live.into_client();
        let sink = PgSink::open(client, "stripe", READ, &[spec()], WriteOptions::default())
            .await
            .expect("open");
        assert_eq!(sink.left_alone.len(), 1, "PG {v}");
        assert!(sink.streams().is_empty(), "PG {v}");
    }
}

#[tokio::test]
async fn schemas_of_others_are_refused_and_long_names_get_a_short_swap_schema() {
    for v in versions() {
        let (o, admin) = database(cluster(v).await).await;
        admin
            .batch_execute("create schema theirs; create table theirs.t (x int)")
            .await
            .expect("person's schema");
        let client = connect(&o).await.expect("connect").client;
        let p = check_free(&client, "theirs").await.expect_err("refused");
        assert_eq!(p.kind, ProblemKind::SchemaTaken, "PG {v}");
        assert!(
            p.fix.contains("alter schema \"theirs\" owner to"),
            "{}",
            p.fix
        );
        assert_eq!(
            check_free(&client, "fresh").await.expect("free"),
            Standing::Missing
        );
        // 63 bytes with capitals and a quote: the sync and its swap schema both work.
        let long = format!("Ab\"{}", "x".repeat(60));
        assert_eq!(long.len(), 63);
        let mut live = filled(&o, &long, 5, "old").await;
        let swap_name = swap_schema(&long);
        assert!(swap_name.len() <= 63);
        let _copy = filled(&o, &swap_name, 7, "new").await;
        let report = rebuild(&mut live, &long).await;
        assert_eq!(report.replaced.len(), 1, "PG {v}");
        let n: i64 = live
            .client_mut()
            .query_one(
                &format!("select count(*) from {}.customer", ident(&long)),
                &[],
            )
            .await
            .expect("count")
            .get(0);
        assert_eq!(n, 7, "PG {v}");
        assert_eq!(
            check_free(&client, &long).await.expect("ours"),
            Standing::Ours
        );
    }
}

async fn live_change(sink: &mut PgSink, id: &str, name: &str, ts: i64) {
    let fields = json!({ "name": name });
    let record = Record::upsert(
        id,
        Version::new(ts, 0),
        fields.as_object().cloned().unwrap_or_default(),
    );
    let batch = Batch::new(vec![record], Checkpoint(json!({ "at": ts })), Phase::Live);
    sink.write("customer", &batch).await.expect("live write");
}

/// A change only the copy saw is added to the live change log at the swap; one both saw is
/// logged once.
#[tokio::test]
async fn the_change_log_keeps_going_through_a_rebuild_without_losing_a_change() {
    for v in versions() {
        let (o, admin) = database(cluster(v).await).await;
        let mut live = filled(&o, "stripe", 10, "old").await;
        let mut copy = filled(&o, &swap_schema("stripe"), 10, "old").await;
        let req = lifecycle::request(live.client_mut(), "stripe", Kind::Rebuild, None, "test")
            .await
            .expect("request");
        live_change(&mut live, "cus_000001", "both saw this", 200).await;
        live_change(&mut copy, "cus_000001", "both saw this", 200).await;
        live_change(&mut copy, "cus_000002", "only the copy saw this", 201).await;
        swap(live.client_mut(), "stripe", &req.target, req.id)
            .await
            .expect("swap");
        let log: Vec<(String, String)> = admin
            .query(
                "select event_type, record_id from stripe._sync_event order by id",
                &[],
            )
            .await
            .expect("log")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(
            log,
            vec![
                ("update".to_string(), "cus_000001".to_string()),
                ("update".to_string(), "cus_000002".to_string())
            ],
            "PG {v}"
        );
    }
}

/// Refreshing in place when the copy's columns differ: a new column is added, a changed
/// type is applied where nothing of a person's uses the column, and kept (with its values)
/// where a person's view does.
#[tokio::test]
async fn a_merge_adds_columns_and_changes_types_a_view_does_not_use() {
    for v in versions() {
        let (o, admin) = database(cluster(v).await).await;
        let mut live = filled(&o, "stripe", 3, "old").await;
        let mut copy = filled(&o, &swap_schema("stripe"), 3, "new").await;
        live.client_mut()
            .batch_execute("alter table stripe.customer add column balance text")
            .await
            .expect("live column");
        copy.client_mut()
            .batch_execute(
                "alter table stripe_swap.customer add column email text, \
                   add column balance bigint default 7, alter column name type varchar(100); \
                 update stripe_swap.customer set email = id || '@example.com'",
            )
            .await
            .expect("copy columns");
        admin
            .batch_execute("create view public.names as select id, name from stripe.customer")
            .await
            .expect("view");
        let report = rebuild(&mut live, "stripe").await;
        assert_eq!(report.merged.len(), 1, "PG {v}: {report:?}");
        assert_eq!(
            report.merged[0].kept_columns,
            vec!["name".to_string()],
            "PG {v}"
        );
        let row = admin
            .query_one(
                "select n.name, c.email, c.balance, pg_typeof(c.balance)::text \
                   from public.names n join stripe.customer c using (id) where id = 'cus_000001'",
                &[],
            )
            .await
            .expect("row");
        let (name, email, balance, ty): (String, String, i64, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        assert_eq!(
            name, "old 1",
            "PG {v}: the view's column kept its type and values"
        );
        assert_eq!(
            email, "cus_000001@example.com",
            "PG {v}: the new column came over"
        );
        assert_eq!(
            (balance, ty.as_str()),
            (7, "bigint"),
            "PG {v}: the type changed"
        );
    }
}

fn links_spec() -> StreamSpec {
    StreamSpec::keyed(
        "association_contact_company",
        vec![
            Column::new("from_id", ColumnType::Text),
            Column::new("to_id", ColumnType::Text),
            Column::new("type_id", ColumnType::Bigint),
            Column::new("label", ColumnType::Text),
        ],
        &["from_id", "to_id", "type_id"],
    )
    .looked_up_by("to_id")
}

/// A sink on `schema` holding an association per `(from, to, type, label)`.
async fn linked(o: &ConnectOptions, schema: &str, links: &[(&str, &str, i64, &str)]) -> PgSink {
    let client = connect(o).await.expect("connect").client;
    let mut sink = PgSink::open(
        client,
        schema,
        READ,
        &[links_spec()],
        WriteOptions::default(),
    )
    .await
    .expect("open");
    let records = links
        .iter()
        .map(|(from, to, ty, label)| {
            let fields = json!({ "label": label });
            Record::upsert_keyed(
                &[*from, *to, &ty.to_string()],
                Version::new(100, 0),
                fields.as_object().cloned().unwrap_or_default(),
            )
        })
        .collect();
    let batch = Batch::new(
        records,
        Checkpoint(json!({ "at": schema })),
        Phase::Backfill,
    );
    sink.write("association_contact_company", &batch)
        .await
        .expect("write");
    sink
}

async fn all_links(admin: &Client) -> Vec<(String, String, i64, String)> {
    admin
        .query(
            "select from_id, to_id, type_id, label from stripe.association_contact_company \
              order by 1, 2, 3",
            &[],
        )
        .await
        .expect("links")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// A composite-keyed table is rebuilt both ways: replaced by its copy (keeping its primary
/// key), and, with a person's view bound to it, refreshed in place matched on its key (rows
/// the copy lacks deleted, changed ones updated, new ones added).
#[tokio::test]
async fn a_composite_keyed_table_is_replaced_or_refreshed_in_place_by_a_rebuild() {
    let old = [("1", "2", 1, "a"), ("1", "2", 5, "b"), ("1", "3", 1, "c")];
    let new = [
        ("1", "2", 1, "a"),
        ("1", "2", 5, "b changed"),
        ("4", "2", 1, "d"),
    ];
    let expected: Vec<(String, String, i64, String)> = new
        .iter()
        .map(|(f, t, ty, l)| (f.to_string(), t.to_string(), *ty, l.to_string()))
        .collect();
    for v in versions() {
        for with_view in [false, true] {
            let (o, admin) = database(cluster(v).await).await;
            let mut live = linked(&o, "stripe", &old).await;
            let _copy = linked(&o, &swap_schema("stripe"), &new).await;
            if with_view {
                admin
                    .batch_execute(
                        "create view public.links as select * from stripe.association_contact_company",
                    )
                    .await
                    .expect("view");
            }
            let report = rebuild(&mut live, "stripe").await;
            assert_eq!(
                (report.replaced.len(), report.merged.len()),
                if with_view { (0, 1) } else { (1, 0) },
                "PG {v}: {report:?}"
            );
            assert_eq!(all_links(&admin).await, expected, "PG {v} view={with_view}");
            let key: String = admin
                .query_one(
                    "select pg_get_constraintdef(oid) from pg_constraint \
                      where conrelid = 'stripe.association_contact_company'::regclass and contype = 'p'",
                    &[],
                )
                .await
                .expect("key")
                .get(0);
            assert_eq!(key, "PRIMARY KEY (from_id, to_id, type_id)", "PG {v}");
            // The lookup's index is inlet's: it did not make the table a person's (replaced
            // above when no view is bound), and the rebuilt table has it.
            let lookups: Vec<String> = admin
                .query(
                    "select pg_get_indexdef(indexrelid) from pg_index \
                      where indrelid = 'stripe.association_contact_company'::regclass \
                        and not indisprimary",
                    &[],
                )
                .await
                .expect("indexes")
                .iter()
                .map(|r| r.get(0))
                .collect();
            assert_eq!(
                lookups,
                ["CREATE INDEX association_contact_company_by_to_id \
                  ON stripe.association_contact_company USING btree (to_id)"],
                "PG {v} view={with_view}"
            );
            // The sync goes on writing the rebuilt table.
            let client = live.into_client();
            let mut sink = PgSink::open(
                client,
                "stripe",
                READ,
                &[links_spec()],
                WriteOptions::default(),
            )
            .await
            .expect("reopen");
            let change = Batch::new(
                vec![Record::delete_keyed(&["4", "2", "1"], Version::new(200, 0))],
                Checkpoint(json!({ "at": "live" })),
                Phase::Live,
            );
            sink.write("association_contact_company", &change)
                .await
                .expect("live delete");
            assert_eq!(
                all_links(&admin).await,
                expected[..2],
                "PG {v} view={with_view}"
            );
        }
    }
}

/// A rebuild that changes a table's key cannot refresh it in place (the rows match on no
/// common key); with a person's view bound to it, it says so instead of failing obscurely.
#[tokio::test]
async fn a_rebuild_that_changes_a_bound_tables_key_says_what_to_do() {
    for v in versions() {
        let (o, admin) = database(cluster(v).await).await;
        let client = connect(&o).await.expect("connect").client;
        let by_id = StreamSpec::new("association_contact_company", links_spec().columns);
        let mut live = PgSink::open(client, "stripe", READ, &[by_id], WriteOptions::default())
            .await
            .expect("open");
        let _copy = linked(&o, &swap_schema("stripe"), &[("1", "2", 1, "a")]).await;
        admin
            .batch_execute(
                "create view public.links as select * from stripe.association_contact_company",
            )
            .await
            .expect("view");
        let req = lifecycle::request(live.client_mut(), "stripe", Kind::Rebuild, None, "test")
            .await
            .expect("request");
        let err = swap(live.client_mut(), "stripe", &req.target, req.id)
            .await
            .expect_err("the key changed under a view");
        assert!(
            err.message.contains("key changed") && err.fix.contains("run the rebuild again"),
            "PG {v}: {err:?}"
        );
    }
}
