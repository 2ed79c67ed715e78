//! Schemas through the product: two syncs share one database (and its sync user and read
//! role); a schema another sync writes, builds rebuilds in, or a person owns is refused at
//! `sync add`; `sync rename-schema` while changes keep arriving loses nothing in the new
//! schema and prints the drop lines; `sync rebuild` with a reader querying in a loop never
//! shows it an empty table or an error, and a person's view, index and table in the schema
//! keep working (the view shows data that arrives after the swap); a column type change or
//! a new `Stripe-Version` makes `inlet run` rebuild by itself, once.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use inlet_fakes::stripe::{FakeStripe, Options};
use inlet_testkit::{versions, wait_until, wait_until_async};
use serde_json::{json, Value};
use tokio::task::block_in_place;

mod common;
use common::{text, Counting, Inlet, Running};

/// A name with a quote, a space and capitals: quoted everywhere, or this test fails.
const B_SCHEMA: &str = "Billing \"B\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_syncs_rename_while_changing_and_rebuild_under_a_reader() {
    for v in versions() {
        one_version(v).await;
    }
}

async fn one_version(v: u32) {
    let c = common::cluster("life", v).await;
    let db = c.create_database().await;
    let fake = FakeStripe::start(Options::default()).await.expect("fake");
    fake.seed(30);
    let inlet = Inlet::new(&[("STRIPE_API_KEY", &fake.api_key())]);
    inlet.add_destination(c, &db);
    let admin = c.admin_db(&db).await;
    admin
        .batch_execute("create schema theirs; create table theirs.t (x int)")
        .await
        .expect("a person's schema");

    let base = fake.url();
    let add = |name: &str, schema: &str| {
        inlet.sync_add(
            name,
            &base,
            &["--schema", schema, "--streams", "customer"],
            &[],
        )
    };
    let out = add("a", "stripe");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = add("b", B_SCHEMA);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Refused: another sync's schema, its swap schema, a person's schema.
    let out = add("c", "stripe");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("sync \"a\" already writes schema \"stripe\""),
        "{}",
        text(&out)
    );
    let out = add("c", "stripe_swap");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("where sync \"a\" builds its rebuilds"),
        "{}",
        text(&out)
    );
    let out = add("c", "theirs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("schema_taken"), "{}", text(&out));

    let child = inlet
        .cmd(&["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("inlet run");
    let _run = Running(child);
    let customers = || {
        fake.objects("customer")
            .map(|o| o.len() as i64)
            .unwrap_or(0)
    };
    block_in_place(|| {
        wait_until("both syncs live", Duration::from_secs(120), || {
            inlet.live("a") && inlet.live("b")
        })
    });
    assert_eq!(inlet.rows("a"), customers(), "PG {v}");
    assert_eq!(inlet.rows("b"), customers(), "PG {v}");

    // A person's objects in b's schema, and a person's table in a's.
    let b = inlet_postgres::sql::ident(B_SCHEMA);
    admin
        .batch_execute(&format!(
            "create view public.b_customers as select id from {b}.customer;
             create index person_email on {b}.customer (email);
             create table {b}.notes (note text); insert into {b}.notes values ('mine');
             create table stripe.notes (note text); insert into stripe.notes values ('mine');"
        ))
        .await
        .expect("a person's objects");

    // Rename a while customers keep being created.
    let rename = inlet.cmd(&["sync", "rename-schema", "a", "stripe 2"]);
    let renaming = tokio::task::spawn_blocking(move || {
        let mut rename = rename;
        rename.output().expect("rename")
    });
    // Pacing the changes (not waiting for anything): a steady trickle during the copy.
    let mut pace = tokio::time::interval(Duration::from_millis(50));
    let mut made = 0;
    while !renaming.is_finished() {
        pace.tick().await;
        fake.create(
            "customer",
            json!({ "email": format!("during{made}@example.com") }),
        )
        .expect("create");
        made += 1;
    }
    let out = renaming.await.expect("join");
    assert_eq!(out.status.code(), Some(0), "PG {v}: {}", text(&out));
    assert!(made > 0, "changes arrived during the rename");
    let said = text(&out);
    assert!(said.contains("drop schema \"stripe\" cascade;"), "{said}");
    common::carried_out_by_the_run(&said, "a");
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    assert!(config.contains("schema = \"stripe 2\""), "{config}");
    // Nothing lost in the new schema: every customer, including those made during the copy.
    let last = fake
        .create("customer", json!({ "email": "after@example.com" }))
        .expect("create");
    block_in_place(|| {
        wait_until(
            "the new schema to hold every customer",
            Duration::from_secs(60),
            || inlet.rows("a") == customers(),
        )
    });
    let id = last["id"].as_str().expect("id").to_string();
    let found: i64 = admin
        .query_one(
            "select count(*) from \"stripe 2\".customer where id = $1",
            &[&id],
        )
        .await
        .expect("new schema")
        .get(0);
    assert_eq!(found, 1, "PG {v}");
    let note: String = admin
        .query_one("select note from stripe.notes", &[])
        .await
        .expect("the old schema and the person's table stay")
        .get(0);
    assert_eq!(note, "mine");

    // Rebuild b under a reader that must never see an empty table or an error.
    block_in_place(|| {
        wait_until("b caught up", Duration::from_secs(60), || {
            inlet.rows("b") == customers()
        })
    });
    let expected = customers();
    let reading = Counting::start(
        c.admin_db(&db).await,
        format!("select count(*) from {b}.customer"),
    );
    // Customers keep changing all through the rebuild, up to the swap and past it.
    let ids: Vec<String> = fake
        .objects("customer")
        .expect("customers")
        .iter()
        .filter_map(|c| c["id"].as_str().map(String::from))
        .collect();
    let rebuild = inlet.cmd(&["sync", "rebuild", "b", "--json"]);
    let stop = AtomicBool::new(false);
    let rebuilding = async {
        let out = tokio::task::spawn_blocking(move || {
            let mut rebuild = rebuild;
            rebuild.output().expect("rebuild")
        })
        .await
        .expect("join");
        stop.store(true, Ordering::Relaxed);
        out
    };
    let updating = async {
        let mut pace = tokio::time::interval(Duration::from_millis(100));
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            pace.tick().await;
            let email = format!("rebuild-{n}@example.com");
            fake.update("customer", &ids[n % ids.len()], json!({ "email": email }))
                .expect("update");
            n += 1;
        }
        n
    };
    let (out, updates) = tokio::join!(rebuilding, updating);
    let (_, seen) = reading.stop().await;
    let last = format!("rebuild-{}@example.com", updates - 1);
    wait_until_async(
        "the last change made during the rebuild",
        Duration::from_secs(60),
        || {
            let (admin, sql, last) = (
                &admin,
                format!("select count(*) from {b}.customer where email = $1"),
                &last,
            );
            async move {
                admin
                    .query_one(&sql, &[last])
                    .await
                    .map(|r| r.get::<_, i64>(0) == 1)
                    .unwrap_or(false)
            }
        },
    )
    .await;
    let doubled: i64 = admin
        .query_one(
            &format!(
                "select count(*) from (select record_id, payload->'record'->>'email' \
                   from {b}._sync_event where event_type = 'update' \
                  group by 1, 2 having count(*) > 1) d"
            ),
            &[],
        )
        .await
        .expect("change log")
        .get(0);
    assert_eq!(
        doubled, 0,
        "PG {v}: no change logged twice around the rebuild ({updates} updates)"
    );
    assert_eq!(out.status.code(), Some(0), "PG {v}: {}", text(&out));
    common::carried_out_by_the_run(&text(&out), "b");
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|n| *n == expected),
        "PG {v}: the reader saw {:?}",
        seen.iter()
            .filter(|n| **n != expected)
            .take(5)
            .collect::<Vec<_>>()
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let merged = report["report"]["merged"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        merged.len(),
        1,
        "PG {v}: customer is refreshed in place: {report}"
    );
    println!(
        "PG {v}: rebuild lock {} ms, transaction {} ms",
        report["report"]["lock_ms"], report["report"]["transaction_ms"]
    );
    // The person's view follows the live table after the rebuild.
    let after = fake
        .create("customer", json!({ "email": "after-rebuild@example.com" }))
        .expect("create");
    let id = after["id"].as_str().expect("id").to_string();
    wait_until_async(
        "the person's view to show a change made after the rebuild",
        Duration::from_secs(60),
        || {
            let (admin, id) = (&admin, &id);
            async move {
                admin
                    .query_one(
                        "select count(*) from public.b_customers where id = $1",
                        &[id],
                    )
                    .await
                    .map(|r| r.get::<_, i64>(0) == 1)
                    .unwrap_or(false)
            }
        },
    )
    .await;
    let note: String = admin
        .query_one(&format!("select note from {b}.notes"), &[])
        .await
        .expect("the person's table survives")
        .get(0);
    assert_eq!(note, "mine");
    let index: i64 = admin
        .query_one(
            "select count(*) from pg_indexes where indexname = 'person_email'",
            &[],
        )
        .await
        .expect("index")
        .get(0);
    assert_eq!(index, 1, "PG {v}: the person's index survives");
    // Taken over by a person: shown as left alone, no longer synced.
    admin
        .batch_execute(&format!("alter table {b}.customer owner to current_user"))
        .await
        .expect("take over");
    let streams = inlet.streams("b");
    assert_eq!(streams[0]["state"], "left_alone", "PG {v}: {streams:?}");
}

/// SIGKILL in the middle of a copy changes nothing visible; running the command again
/// resumes it (the same request), and the end state is complete. Here the command does the
/// work itself: no `inlet run` holds the sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_rename_or_rebuild_resumes_when_run_again() {
    for v in versions() {
        killed_and_resumed(v).await;
    }
}

async fn killed_and_resumed(v: u32) {
    let c = common::cluster("life", v).await;
    let db = c.create_database().await;
    let fake = FakeStripe::start(Options::default()).await.expect("fake");
    fake.seed(250);
    let inlet = Inlet::new(&[("STRIPE_API_KEY", &fake.api_key())]);
    inlet.add_destination(c, &db);
    let base = fake.url();
    let out = inlet.sync_add("a", &base, &["--streams", "customer"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let customers = || {
        fake.objects("customer")
            .map(|o| o.len() as i64)
            .unwrap_or(0)
    };
    {
        let child = inlet
            .cmd(&["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let _run = Running(child.expect("inlet run"));
        block_in_place(|| {
            wait_until("the sync live", Duration::from_secs(120), || {
                inlet.live("a")
            })
        });
    } // SIGKILL
    let admin = c.admin_db(&db).await;
    let state = |sql: &'static str| {
        let admin = &admin;
        move || async move {
            admin
                .query_opt(sql, &[])
                .await
                .ok()
                .flatten()
                .is_some_and(|r| r.get::<_, String>(0) == "copying")
        }
    };

    // Rename, killed while copying (a slow API keeps the copy going).
    fake.faults().latency(Duration::from_millis(300));
    let killed = Running(
        inlet
            .cmd(&["sync", "rename-schema", "a", "stripe 2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rename"),
    );
    wait_until_async(
        "the rename to be copying",
        Duration::from_secs(60),
        state("select state from stripe._sync_lifecycle where kind = 'rename'"),
    )
    .await;
    drop(killed); // SIGKILL
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    assert!(
        config.contains("schema = \"stripe\""),
        "PG {v}: not switched: {config}"
    );
    fake.create("customer", json!({ "email": "between@example.com" }))
        .expect("create");
    fake.faults().latency(Duration::ZERO);
    let out = inlet.run(&["sync", "rename-schema", "a", "stripe 2", "--json"]);
    assert_eq!(out.status.code(), Some(0), "PG {v}: {}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["to"], "stripe 2");
    let rows: i64 = admin
        .query_one(
            "select count(*) from stripe._sync_lifecycle where kind = 'rename'",
            &[],
        )
        .await
        .expect("requests")
        .get(0);
    assert_eq!(rows, 1, "PG {v}: the same request resumed");
    assert_eq!(
        inlet.rows("a"),
        customers(),
        "PG {v}: complete in the new schema"
    );

    // Rebuild, killed while copying, then resumed.
    fake.faults().latency(Duration::from_millis(300));
    let killed = Running(
        inlet
            .cmd(&["sync", "rebuild", "a"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rebuild"),
    );
    wait_until_async(
        "the rebuild to be copying",
        Duration::from_secs(60),
        state("select state from \"stripe 2\"._sync_lifecycle where kind = 'rebuild'"),
    )
    .await;
    drop(killed);
    fake.faults().latency(Duration::ZERO);
    let out = inlet.run(&["sync", "rebuild", "a", "--json"]);
    assert_eq!(out.status.code(), Some(0), "PG {v}: {}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        report["report"]["replaced"],
        json!(["customer"]),
        "PG {v}: {report}"
    );
    assert_eq!(
        inlet.rows("a"),
        customers(),
        "PG {v}: complete after the rebuild"
    );

    // A change that cannot be made by adding a column (a column's type): `inlet run`
    // rebuilds by itself, and the column has its type again.
    admin
        .batch_execute("alter table \"stripe 2\".customer alter column email type varchar(300)")
        .await
        .expect("alter");
    let child = inlet
        .cmd(&["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let _run = Running(child.expect("inlet run"));
    wait_until_async("the automatic rebuild", Duration::from_secs(60), || {
        let admin = &admin;
        async move {
            admin
                .query_one(
                    "select count(*) from \"stripe 2\"._sync_lifecycle where kind = 'rebuild' \
                       and state = 'done' and reason like 'column types changed: customer.email%'",
                    &[],
                )
                .await
                .is_ok_and(|r| r.get::<_, i64>(0) == 1)
        }
    })
    .await;
    let ty: String = admin
        .query_one(
            "select format_type(atttypid, atttypmod) from pg_attribute \
              where attrelid = '\"stripe 2\".customer'::regclass and attname = 'email'",
            &[],
        )
        .await
        .expect("type")
        .get(0);
    assert_eq!(ty, "text", "PG {v}");
    assert_eq!(
        inlet.rows("a"),
        customers(),
        "PG {v}: complete after the automatic rebuild"
    );

    // Back to the first name: its stale rows and checkpoints are not trusted (a full copy),
    // and its old "moved away" record does not send the sync back.
    fake.create("customer", json!({ "email": "before-return@example.com" }))
        .expect("create");
    let out = inlet.run(&["sync", "rename-schema", "a", "stripe"]);
    assert_eq!(out.status.code(), Some(0), "PG {v}: {}", text(&out));
    assert!(
        text(&out).contains("drop schema \"stripe 2\" cascade;"),
        "{}",
        text(&out)
    );
    let last = fake
        .create("customer", json!({ "email": "returned@example.com" }))
        .expect("create");
    let id = last["id"].as_str().expect("id").to_string();
    wait_until_async(
        "the change in the first schema again",
        Duration::from_secs(60),
        || {
            let (admin, id) = (&admin, &id);
            async move {
                admin
                    .query_one("select count(*) from stripe.customer where id = $1", &[id])
                    .await
                    .is_ok_and(|r| r.get::<_, i64>(0) == 1)
            }
        },
    )
    .await;
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    assert!(config.contains("schema = \"stripe\""), "PG {v}: {config}");
    assert_eq!(inlet.rows("a"), customers(), "PG {v}");

    // Killed between the switch (recorded in the database) and writing inlet.toml: the
    // next start finds the sync moved and follows it, and fixes the file.
    drop(_run);
    let stale = config.replace("schema = \"stripe\"", "schema = \"stripe 2\"");
    std::fs::write(inlet.config(), stale).expect("config");
    let child = inlet
        .cmd(&["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let _run = Running(child.expect("inlet run"));
    block_in_place(|| {
        wait_until(
            "inlet.toml to follow the switch",
            Duration::from_secs(30),
            || {
                std::fs::read_to_string(inlet.config())
                    .is_ok_and(|c| c.contains("schema = \"stripe\""))
            },
        )
    });
}

/// A new `Stripe-Version` in inlet.toml cannot be applied by adding columns: the next `inlet
/// run` rebuilds by itself, once, under a reader that never sees an empty table, and the
/// data is the fake's, row for row. Started again with the same version, it does not rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_stripe_version_makes_inlet_run_rebuild_by_itself_once() {
    for v in versions() {
        new_stripe_version(v).await;
    }
}

async fn new_stripe_version(v: u32) {
    const FIRST: &str = "2025-03-31.basil";
    const SECOND: &str = "2026-01-28.clover";
    let c = common::cluster("life", v).await;
    let db = c.create_database().await;
    let fake = FakeStripe::start(Options::default()).await.expect("fake");
    fake.seed(30);
    let inlet = Inlet::new(&[("STRIPE_API_KEY", &fake.api_key())]);
    inlet.add_destination(c, &db);
    let base = fake.url();
    let pin = format!("stripe_version={FIRST}");
    let out = inlet.sync_add("a", &base, &["--streams", "customer", "--set", &pin], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    assert!(
        config.contains(&format!("stripe_version = \"{FIRST}\"")),
        "{config}"
    );
    let admin = c.admin_db(&db).await;
    // `inlet run`, its log kept in a file of its own.
    let start = |log: &str| {
        let log = std::fs::File::create(inlet.dir.path().join(log)).expect("log");
        Running(
            inlet
                .cmd(&["run"])
                .env("NO_COLOR", "1")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("inlet run"),
        )
    };
    let log = |name: &str| std::fs::read_to_string(inlet.dir.path().join(name)).expect("log");
    let count = |sql: &'static str| {
        let admin = &admin;
        async move {
            admin
                .query_one(sql, &[])
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .get::<_, i64>(0)
        }
    };
    let truth = || {
        let mut rows: Vec<(String, Option<String>)> = fake
            .objects("customer")
            .expect("customers")
            .iter()
            .map(|o| {
                (
                    o["id"].as_str().expect("id").to_string(),
                    o["email"].as_str().map(str::to_string),
                )
            })
            .collect();
        rows.sort();
        rows
    };
    let synced = || {
        let admin = &admin;
        async move {
            admin
                .query("select id, email from stripe.customer order by id", &[])
                .await
                .expect("synced rows")
                .iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1)))
                .collect::<Vec<_>>()
        }
    };
    // Waits for a customer made now to be in the table: the run is past its opening.
    let arrives = |email: &str| {
        let id = fake
            .create("customer", json!({ "email": email }))
            .expect("create")["id"]
            .as_str()
            .expect("id")
            .to_string();
        let admin = &admin;
        async move {
            wait_until_async("a change to arrive", Duration::from_secs(60), || {
                let id = &id;
                async move {
                    admin
                        .query_one("select count(*) from stripe.customer where id = $1", &[id])
                        .await
                        .is_ok_and(|r| r.get::<_, i64>(0) == 1)
                }
            })
            .await;
        }
    };

    // Live with the first version: noted, nothing rebuilt.
    {
        let _run = start("run1.log");
        block_in_place(|| {
            wait_until("the sync live", Duration::from_secs(120), || {
                inlet.live("a")
            })
        });
        arrives("first@example.com").await;
    } // SIGKILL
    assert_eq!(synced().await, truth(), "PG {v}");
    let noted: String = admin
        .query_one(
            "select target from stripe._sync_lifecycle where kind = 'source_version' \
             order by id desc limit 1",
            &[],
        )
        .await
        .expect("the version the tables follow")
        .get(0);
    assert_eq!(noted, FIRST, "PG {v}");
    assert_eq!(
        count("select count(*) from stripe._sync_lifecycle where kind = 'rebuild'").await,
        0,
        "PG {v}"
    );
    assert!(
        !log("run1.log").contains("rebuild needed"),
        "{}",
        log("run1.log")
    );

    // The version changed in inlet.toml, and a change made while nothing runs.
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    std::fs::write(
        inlet.config(),
        config.replace(
            &format!("stripe_version = \"{FIRST}\""),
            &format!("stripe_version = \"{SECOND}\""),
        ),
    )
    .expect("config");
    fake.create("customer", json!({ "email": "while-stopped@example.com" }))
        .expect("create");
    let before = count("select count(*) from stripe.customer").await;
    assert!(before > 0);

    // The next run rebuilds by itself, under a reader.
    let reading = Counting::start(
        c.admin_db(&db).await,
        "select count(*) from stripe.customer".into(),
    );
    let reason = format!("Stripe-Version changed from {FIRST} to {SECOND}");
    {
        let _run = start("run2.log");
        wait_until_async("the automatic rebuild", Duration::from_secs(60), || {
            let (admin, reason) = (&admin, &reason);
            async move {
                admin
                    .query_one(
                        "select count(*) from stripe._sync_lifecycle where kind = 'rebuild' \
                           and state = 'done' and reason = $1",
                        &[reason],
                    )
                    .await
                    .is_ok_and(|r| r.get::<_, i64>(0) == 1)
            }
        })
        .await;
        let (_, seen) = reading.stop().await;
        assert!(!seen.is_empty());
        assert!(
            seen.iter().all(|n| *n >= before),
            "PG {v}: the reader saw {:?} (fewer than {before})",
            seen.iter()
                .filter(|n| **n < before)
                .take(5)
                .collect::<Vec<_>>()
        );
        let replaced: Value = admin
            .query_one(
                "select report->'replaced' from stripe._sync_lifecycle \
                  where kind = 'rebuild' and state = 'done'",
                &[],
            )
            .await
            .expect("report")
            .get(0);
        assert_eq!(replaced, json!(["customer"]), "PG {v}");
        arrives("after-rebuild@example.com").await;
        assert_eq!(
            synced().await,
            truth(),
            "PG {v}: complete after the rebuild"
        );
    } // SIGKILL
    let said = log("run2.log");
    assert_eq!(said.matches("rebuild needed").count(), 1, "{said}");
    assert!(said.contains(&reason), "{said}");
    let noted: String = admin
        .query_one(
            "select target from stripe._sync_lifecycle where kind = 'source_version' \
             order by id desc limit 1",
            &[],
        )
        .await
        .expect("the version the tables follow")
        .get(0);
    assert_eq!(noted, SECOND, "PG {v}");

    // Started again with the same version: no second rebuild.
    {
        let _run = start("run3.log");
        arrives("third-run@example.com").await;
    } // SIGKILL
    assert_eq!(
        count("select count(*) from stripe._sync_lifecycle where kind = 'rebuild'").await,
        1,
        "PG {v}: rebuilt once"
    );
    assert_eq!(
        count("select count(*) from stripe._sync_lifecycle where kind = 'source_version'").await,
        2,
        "PG {v}"
    );
    assert!(
        !log("run3.log").contains("rebuild needed"),
        "{}",
        log("run3.log")
    );
    assert_eq!(synced().await, truth(), "PG {v}");
}
