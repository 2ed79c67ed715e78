//! Setting a destination up the safe way, end to end through the binary: automated and
//! manual setup, verify, grant and revoke, and the least-privilege promises, proven by
//! trying what each role must not be able to do. Every version in `INLET_TEST_PG_VERSIONS`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};

use inlet_postgres::{connect, ConnectOptions, Secret, Session, SslMode};
use inlet_testkit::{versions, Cluster, Terminal};
use serde_json::Value;

mod common;
use common::{text, Inlet, ADMIN_PASSWORD};

const PEOPLE_PASSWORD: &str = "people-pw";

async fn cluster(major: u32) -> &'static Cluster {
    common::cluster("setup", major).await
}

/// `destination setup dest --auto --json` with the admin's password, and `extra`.
fn setup_auto(inlet: &Inlet, extra: &[&str]) -> Output {
    let mut args = vec!["destination", "setup", "dest", "--auto", "--json"];
    args.extend_from_slice(extra);
    inlet.run_env(&args, &[("INLET_ADMIN_PASSWORD", ADMIN_PASSWORD)])
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

/// Roles are cluster-wide and the cluster is shared by this binary's tests: unique names.
fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}_{}", N.fetch_add(1, Ordering::Relaxed))
}

async fn login(c: &Cluster, db: &str, user: &str, password: &str) -> Session {
    let o = ConnectOptions {
        host: c.host().into(),
        port: c.port,
        dbname: db.into(),
        user: user.into(),
        password: Some(Secret::new(password)),
        sslmode: SslMode::Disable,
        ..ConnectOptions::default()
    };
    connect(&o)
        .await
        .unwrap_or_else(|p| panic!("{user} cannot log in: {p:?}"))
}

/// Runs `sql` as that session and returns the SQLSTATE it failed with, or None.
async fn sqlstate(s: &Session, sql: &str) -> Option<String> {
    s.client
        .batch_execute(sql)
        .await
        .err()
        .and_then(|e| e.code().map(|c| c.code().to_string()))
}

fn stored_password(config_dir: &Path) -> String {
    let secrets = config_dir.join("secrets.toml");
    let mode = std::fs::metadata(&secrets)
        .expect("secrets.toml exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "secrets.toml must be 0600");
    let t: toml::Table = std::fs::read_to_string(&secrets)
        .expect("read")
        .parse()
        .expect("toml");
    t["destinations"]["dest"]["password"]
        .as_str()
        .expect("a stored password")
        .to_string()
}

#[tokio::test]
async fn auto_setup_gives_least_privilege_and_never_keeps_the_admin_password() {
    for v in versions() {
        let c = cluster(v).await;
        let db = c.create_database().await;
        let (alice, bob) = (unique("alice"), unique("bob"));
        c.create_user(&alice, PEOPLE_PASSWORD).await;
        c.create_user(&bob, PEOPLE_PASSWORD).await;
        let admin = c.admin_db(&db).await;
        admin
            .batch_execute(
                "create table public.app_secret (id int); insert into public.app_secret values (1);
                 create schema app; create table app.orders (id int);",
            )
            .await
            .expect("app tables");

        let inlet = Inlet::new(&[]);
        inlet.add(c, &db);
        let out = setup_auto(&inlet, &["--grant-to", &alice]);
        assert_eq!(out.status.code(), Some(0), "PG {v} setup: {}", text(&out));
        let report = json(&out);
        let sync_user = report["sync_user"].as_str().expect("sync_user").to_string();
        let read_role = report["read_role"].as_str().expect("read_role").to_string();
        assert!(sync_user.starts_with("inlet_"), "{sync_user}");
        assert_eq!(read_role, format!("{sync_user}_read"));
        assert_eq!(report["created_sync_user"], true);

        // The admin password is nowhere: output, config, secrets, role comments.
        assert!(!text(&out).contains(ADMIN_PASSWORD));
        assert!(
            !inlet.files_text().contains(ADMIN_PASSWORD),
            "admin password written to a file"
        );
        let comments = admin
            .query(
                "select coalesce(shobj_description(oid, 'pg_authid'), '') from pg_roles",
                &[],
            )
            .await
            .expect("role comments");
        assert!(comments
            .iter()
            .all(|r| !r.get::<_, String>(0).contains(ADMIN_PASSWORD)));
        let config = std::fs::read_to_string(inlet.config()).expect("config");
        let password = stored_password(inlet.dir.path());
        assert!(
            !config.contains(&password),
            "the sync password must not be in inlet.toml"
        );

        // The sync user cannot touch what existed before it.
        let sync = login(c, &db, &sync_user, &password).await;
        for sql in [
            "select * from public.app_secret",
            "insert into public.app_secret values (2)",
            "delete from public.app_secret",
            "select * from app.orders",
            "create table app.mine (id int)",
        ] {
            assert_eq!(
                sqlstate(&sync, sql).await.as_deref(),
                Some("42501"),
                "PG {v}: {sql}"
            );
        }

        // What it creates, the read role can read and not write; others cannot read.
        inlet_postgres::read_role::create_schema(&sync.client, "synced", &read_role)
            .await
            .expect("create schema");
        sync.client
            .batch_execute("create table synced.customer (id text primary key); insert into synced.customer values ('cus_1');")
            .await
            .expect("sync user writes its own schema");
        let a = login(c, &db, &alice, PEOPLE_PASSWORD).await;
        assert_eq!(
            sqlstate(&a, "select * from synced.customer").await,
            None,
            "PG {v}: alice reads"
        );
        assert_eq!(
            sqlstate(&a, "insert into synced.customer values ('x')")
                .await
                .as_deref(),
            Some("42501")
        );
        sync.client
            .batch_execute("create table synced.invoice (id text)")
            .await
            .expect("later table");
        assert_eq!(
            sqlstate(&a, "select * from synced.invoice").await,
            None,
            "PG {v}: default privileges"
        );
        let b = login(c, &db, &bob, PEOPLE_PASSWORD).await;
        assert_eq!(
            sqlstate(&b, "select * from synced.customer")
                .await
                .as_deref(),
            Some("42501")
        );

        // Grant and revoke take effect (new sessions see the new membership).
        let out = inlet.run(&["destination", "revoke", "dest", &alice]);
        assert_eq!(out.status.code(), Some(0), "PG {v} revoke: {}", text(&out));
        let a = login(c, &db, &alice, PEOPLE_PASSWORD).await;
        assert_eq!(
            sqlstate(&a, "select * from synced.customer")
                .await
                .as_deref(),
            Some("42501")
        );
        let out = inlet.run(&["destination", "grant", "dest", &bob]);
        assert_eq!(out.status.code(), Some(0), "PG {v} grant: {}", text(&out));
        let b = login(c, &db, &bob, PEOPLE_PASSWORD).await;
        assert_eq!(sqlstate(&b, "select * from synced.customer").await, None);

        // Running setup again changes nothing and breaks nothing.
        let again = setup_auto(&inlet, &["--grant-to", ""]);
        assert_eq!(
            again.status.code(),
            Some(0),
            "PG {v} re-run: {}",
            text(&again)
        );
        assert_eq!(json(&again)["sync_user"], sync_user.as_str());
        assert_eq!(json(&again)["created_sync_user"], false);
        assert_eq!(stored_password(inlet.dir.path()), password);
        login(c, &db, &sync_user, &password).await;
        let out = inlet.run(&["destination", "verify", "dest", "--json"]);
        assert_eq!(out.status.code(), Some(0), "PG {v} verify: {}", text(&out));
        assert_eq!(json(&out)["checked"], true);
    }
}

#[tokio::test]
async fn manual_setup_then_verify_finds_each_missing_privilege_with_its_fix() {
    for v in versions() {
        let c = cluster(v).await;
        let db = c.create_database().await;
        let inlet = Inlet::new(&[]);
        inlet.add(c, &db);
        let sync_user = unique("manual_sync");
        let out = inlet.run(&[
            "destination",
            "setup",
            "dest",
            "--manual",
            "--sync-user",
            &sync_user,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let script =
            String::from_utf8_lossy(&out.stdout).replace("CHOOSE-A-STRONG-PASSWORD", "chosen-pw");
        c.admin_db(&db)
            .await
            .batch_execute(&script)
            .await
            .expect("the printed SQL runs as printed");

        let mut store = inlet.cmd(&["destination", "password", "dest"]);
        let mut child = store.stdin(Stdio::piped()).spawn().expect("spawn");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"chosen-pw\n")
            .expect("write");
        assert!(child.wait().expect("wait").success());

        let verify = |schema: Option<&str>| {
            let mut args = vec!["destination", "verify", "dest", "--json"];
            if let Some(s) = schema {
                args.extend(["--schema", s]);
            }
            let out = inlet.run(&args);
            (out.status.code(), json(&out))
        };
        let finding = |j: &Value, check: &str| {
            j["findings"]
                .as_array()
                .and_then(|f| f.iter().find(|f| f["check"] == check).cloned())
        };
        let (code, j) = verify(None);
        assert_eq!(code, Some(0), "PG {v}: {j}");

        // Each privilege taken away is found, and its fix SQL, run as printed, restores it.
        let read_role = format!("{sync_user}_read");
        let breakages = [
            (
                format!("revoke create on database {db} from {sync_user}"),
                "database_privileges",
                None,
                Some(1),
            ),
            (
                format!("revoke {read_role} from {sync_user}"),
                "read_role_admin",
                None,
                Some(0),
            ),
            (
                format!("create schema existing_{sync_user}"),
                "schema_privileges",
                Some(format!("existing_{sync_user}")),
                Some(1),
            ),
            (
                format!("alter role {sync_user} superuser"),
                "superuser",
                None,
                Some(0),
            ),
            (
                format!("alter database {db} owner to {sync_user}"),
                "owns_database",
                None,
                Some(0),
            ),
            (
                format!("drop role {read_role}"),
                "read_role_missing",
                None,
                Some(0),
            ),
        ];
        for (breaking, check, schema, exit) in breakages {
            c.admin_db(&db)
                .await
                .batch_execute(&breaking)
                .await
                .expect("break");
            let (code, j) = verify(schema.as_deref());
            assert_eq!(code, exit, "PG {v} after `{breaking}`: {j}");
            let f = finding(&j, check).unwrap_or_else(|| panic!("PG {v}: no {check} finding: {j}"));
            let fix = f["fix"].as_str().expect("fix").to_string();
            c.admin_db(&db)
                .await
                .batch_execute(&fix)
                .await
                .unwrap_or_else(|e| panic!("fix `{fix}`: {e}"));
            let (code, j) = verify(schema.as_deref());
            assert_eq!(code, Some(0), "PG {v} after the fix `{fix}`: {j}");
            assert!(
                finding(&j, check).is_none(),
                "PG {v}: {check} still reported after `{fix}`: {j}"
            );
        }
        let (_, j) = verify(Some(&format!("existing_{sync_user}")));
        assert!(
            finding(&j, "schema_not_owned").is_some(),
            "warns against an existing schema: {j}"
        );
    }
}

#[tokio::test]
async fn verify_says_when_it_could_not_check() {
    let c = cluster(versions()[0]).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(&[]);
    inlet.add(c, &db);
    let out = inlet.run(&[
        "destination",
        "setup",
        "dest",
        "--manual",
        "--sync-user",
        &unique("nobody_yet"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let out = inlet.run(&["destination", "verify", "dest", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let j = json(&out);
    assert_eq!(j["checked"], false, "{j}");
    assert!(j["problem"].is_string(), "{j}");
}

#[tokio::test]
async fn hostile_names_work_and_inject_nothing() {
    for v in versions() {
        let c = cluster(v).await;
        let n = unique("x");
        let db = format!("My \"DB\"; drop table keep; -- {n}");
        let sync_user = format!("Inlet \"Sync\"; drop role postgres; -- {n}");
        let read_role = format!("Read Role's {n}");
        let person = format!("Al \"ice\"; select 1 {n}");
        let q = inlet_postgres::sql::ident;
        c.exec(&format!("create database {}", q(&db))).await;
        c.exec(&format!(
            "create role {} login password '{PEOPLE_PASSWORD}'",
            q(&person)
        ))
        .await;
        let admin = c.admin_db(&db).await;
        admin
            .batch_execute("create table keep (id int)")
            .await
            .expect("table");

        let inlet = Inlet::new(&[]);
        inlet.add(c, &db);
        let out = setup_auto(
            &inlet,
            &[
                "--sync-user",
                &sync_user,
                "--read-role",
                &read_role,
                "--grant-to",
                &person,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "PG {v}: {}", text(&out));
        assert_eq!(json(&out)["sync_user"], sync_user.as_str());

        let password = stored_password(inlet.dir.path());
        let sync = login(c, &db, &sync_user, &password).await;
        let schema = format!("Schema \"{n}\"; --");
        inlet_postgres::read_role::create_schema(&sync.client, &schema, &read_role)
            .await
            .expect("schema with a hostile name");
        let table = format!("{}.{}", q(&schema), q("Customer's \"table\""));
        sync.client
            .batch_execute(&format!("create table {table} (id int)"))
            .await
            .expect("table");
        let reader = login(c, &db, &person, PEOPLE_PASSWORD).await;
        assert_eq!(
            sqlstate(&reader, &format!("select * from {table}")).await,
            None,
            "PG {v}"
        );
        let count: i64 = admin
            .query_one(
                "select count(*) from pg_roles where rolname = any($1)",
                &[&vec![&sync_user, &read_role, "postgres"]],
            )
            .await
            .expect("roles")
            .get(0);
        assert_eq!(
            count, 3,
            "PG {v}: exactly these roles exist, nothing was dropped"
        );
        admin
            .batch_execute("select * from keep")
            .await
            .expect("nothing was injected");
        let out = inlet.run(&["destination", "revoke", "dest", &person]);
        assert_eq!(out.status.code(), Some(0), "PG {v}: {}", text(&out));
    }
}

#[tokio::test]
async fn admin_without_createrole_is_told_what_to_do() {
    for v in versions() {
        let c = cluster(v).await;
        let db = c.create_database().await;
        let weak = unique("weak_admin");
        c.exec(&format!(
            "create role {weak} login password '{ADMIN_PASSWORD}'"
        ))
        .await;
        let inlet = Inlet::new(&[]);
        inlet.add(c, &db);
        let out = setup_auto(&inlet, &["--admin-user", &weak]);
        assert_eq!(out.status.code(), Some(1), "PG {v}: {}", text(&out));
        let j = json(&out);
        assert_eq!(j["problem"], "permission_denied", "{j}");
        assert!(
            j["fix"].as_str().is_some_and(|f| f.contains("createrole")),
            "{j}"
        );
        assert!(!text(&out).contains(ADMIN_PASSWORD));
    }
}

/// PostgreSQL 16 changed what CREATEROLE allows; a CREATEROLE admin that owns the database
/// must be able to set up, and the sync user to grant and revoke, on every version.
#[tokio::test]
async fn createrole_admin_owning_the_database_can_set_up_on_every_version() {
    for v in versions() {
        let c = cluster(v).await;
        let dba = unique("dba");
        let reader = unique("reader");
        c.exec(&format!(
            "create role {dba} login createrole password '{ADMIN_PASSWORD}'"
        ))
        .await;
        c.create_user(&reader, PEOPLE_PASSWORD).await;
        let db = unique("owned_db");
        c.exec(&format!("create database {db} owner {dba}")).await;
        let inlet = Inlet::new(&[]);
        inlet.add(c, &db);
        let out = setup_auto(&inlet, &["--admin-user", &dba, "--grant-to", &reader]);
        assert_eq!(out.status.code(), Some(0), "PG {v}: {}", text(&out));
        let out = inlet.run(&["destination", "revoke", "dest", &reader]);
        assert_eq!(out.status.code(), Some(0), "PG {v} revoke: {}", text(&out));
        let again = setup_auto(&inlet, &["--admin-user", &dba, "--grant-to", ""]);
        assert_eq!(
            again.status.code(),
            Some(0),
            "PG {v} re-run: {}",
            text(&again)
        );
    }
}

/// At a terminal, setup lists the login roles and grants the read role to the ones picked.
#[tokio::test]
async fn interactive_setup_grants_the_people_picked_from_a_list() {
    let c = cluster(versions()[0]).await;
    let db = c.create_database().await;
    let (picked, skipped) = (unique("picked"), unique("skipped"));
    c.create_user(&picked, PEOPLE_PASSWORD).await;
    c.create_user(&skipped, PEOPLE_PASSWORD).await;
    let inlet = Inlet::new(&[]);
    inlet.add(c, &db);
    let command = format!(
        "{} --config {} destination setup dest --auto",
        env!("CARGO_BIN_EXE_inlet"),
        inlet.config().display()
    );
    let home = inlet.dir.path().display().to_string();
    let who = picked.clone();
    // The terminal's waits block: off the async runtime.
    let (status, screen) = tokio::task::spawn_blocking(move || {
        let mut term = Terminal::spawn(
            &command,
            &[("HOME", &home), ("INLET_ADMIN_PASSWORD", ADMIN_PASSWORD)],
        );
        term.wait_for("Numbers separated by commas");
        let screen = term.screen();
        let number = screen
            .lines()
            .find_map(|l| {
                let mut words = l.split_whitespace();
                let n = words.next()?;
                (words.next()? == who).then(|| n.to_string())
            })
            .unwrap_or_else(|| panic!("{who} is not listed: {screen}"));
        term.type_line(&number);
        term.finish()
    })
    .await
    .expect("the terminal session");
    assert!(status.success(), "{screen}");
    assert!(
        screen.contains(&format!("granted to  {picked}")),
        "{screen}"
    );

    let password = stored_password(inlet.dir.path());
    let sync_user = screen
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("sync user")
                .map(|r| r.split_whitespace().next().unwrap_or("").to_string())
        })
        .expect("sync user named");
    let sync = login(c, &db, &sync_user, &password).await;
    let read_role = format!("{sync_user}_read");
    assert!(
        inlet_postgres::read_role::is_member(&sync.client, &read_role, &picked)
            .await
            .expect("query")
    );
    assert!(
        !inlet_postgres::read_role::is_member(&sync.client, &read_role, &skipped)
            .await
            .expect("query")
    );
}

/// Without INLET_ADMIN_PASSWORD, a terminal asks for the admin password.
#[tokio::test]
async fn admin_password_is_asked_at_the_terminal() {
    let c = cluster(versions()[0]).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(&[]);
    inlet.add(c, &db);
    let command = format!(
        "{} --config {} destination setup dest --auto --grant-to ''",
        env!("CARGO_BIN_EXE_inlet"),
        inlet.config().display()
    );
    let home = inlet.dir.path().display().to_string();
    // The terminal's waits block: off the async runtime.
    let (status, screen) = tokio::task::spawn_blocking(move || {
        let mut term = Terminal::spawn(&command, &[("HOME", &home)]);
        term.wait_for("Password for user postgres:");
        term.type_line(ADMIN_PASSWORD);
        term.finish()
    })
    .await
    .expect("the terminal session");
    assert!(status.success(), "{screen}");
    assert!(screen.contains("is set up"), "{screen}");
    assert!(!screen.contains(ADMIN_PASSWORD), "echoed: {screen}");
    assert!(
        !inlet.files_text().contains(ADMIN_PASSWORD),
        "admin password written to a file"
    );
}
