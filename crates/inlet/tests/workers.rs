//! Several `inlet run` workers with one config share the syncs: even shares, a killed
//! worker's syncs resumed elsewhere within 15 s, a returning worker given its share back,
//! no sync's lock ever held by two sessions (watched in `pg_locks` throughout), and the data
//! and change log equal to the fakes' truth at the end. A frozen worker's syncs taken over
//! too. And the config reloaded on SIGHUP or a changed file, touching only the syncs that
//! changed.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inlet_fakes::stripe::{FakeStripe, Options};
use inlet_testkit::{versions, wait_for, wait_until_async};
use serde_json::json;
use tokio_postgres::Client;

mod common;
use common::workers::{
    add_syncs, customers, events, held_by, landed, sessions_of, shares, stop_all, truth, two_each,
    two_each_live, watch_locks, worker, Locks,
};
use common::{text, Inlet, Running};

const SYNCS: usize = 9;
const WORKERS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_nine_syncs_and_take_over_from_a_killed_one() {
    let v = *versions().last().expect("a version");
    let c = common::cluster("workers", v).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(&[]);
    inlet.add_destination(c, &db);

    // Three small accounts, three syncs of each.
    let mut fakes = Vec::new();
    for _ in 0..3 {
        let fake = FakeStripe::start(Options::default()).await.expect("fake");
        fake.seed(2);
        fakes.push(fake);
    }
    let schemas: Vec<String> = (0..SYNCS).map(|i| format!("s{i}")).collect();
    // The syncs of each account: every third.
    let of: Vec<Vec<String>> = (0..3)
        .map(|f| schemas.iter().skip(f).step_by(3).cloned().collect())
        .collect();
    add_syncs(&inlet, &fakes, &schemas);

    let admin = c.admin_db(&db).await;
    let done = Arc::new(Mutex::new(false));
    let locks = watch_locks(c.admin_db(&db).await, schemas.clone(), done.clone());

    let logs: Vec<PathBuf> = (0..=WORKERS)
        .map(|i| inlet.dir.path().join(format!("worker{i}.log")))
        .collect();
    let mut workers: Vec<Running> = (0..WORKERS).map(|i| worker(&inlet, &logs[i])).collect();
    let pids = |workers: &[Running]| -> Vec<u32> { workers.iter().map(|w| w.0.id()).collect() };

    // Even shares: every sync held, three by each worker.
    let even = |locks: &Mutex<Locks>, pids: &[u32]| {
        let s = shares(locks);
        s.len() == WORKERS && pids.iter().all(|p| s.get(p) == Some(&3))
    };
    let started = pids(&workers);
    wait_until_async(
        "three syncs on each worker",
        Duration::from_secs(90),
        || async { even(&locks, &started) },
    )
    .await;
    wait_until_async("every sync live", Duration::from_secs(90), || async {
        schemas
            .iter()
            .all(|s| tokio::task::block_in_place(|| inlet.live(s)))
    })
    .await;

    // A change in each account, landing in its three syncs.
    let mut created = Vec::new();
    for (f, fake) in fakes.iter().enumerate() {
        let c = fake
            .create(
                "customer",
                json!({"email": format!("first-{f}@example.com")}),
            )
            .expect("create");
        created.push(c["id"].as_str().expect("id").to_string());
    }
    for (f, fake) in fakes.iter().enumerate() {
        landed(&admin, fake, &of[f], "the new customers in every sync").await;
    }

    // SIGKILL one worker: its syncs run on the others within 15 s, never above their share.
    let killed = workers.remove(0);
    let killed_pid = killed.0.id();
    let orphans = held_by(&locks, killed_pid);
    assert_eq!(orphans.len(), 3);
    let at = Instant::now();
    drop(killed);
    for (f, fake) in fakes.iter().enumerate() {
        fake.update(
            "customer",
            &created[f],
            json!({"email": format!("second-{f}@example.com")}),
        )
        .expect("update");
    }
    let alive = pids(&workers);
    wait_until_async(
        "the killed worker's syncs running elsewhere",
        Duration::from_secs(15),
        || async {
            let l = locks.lock().expect("locks");
            orphans
                .iter()
                .all(|s| l.holders.get(s).is_some_and(|p| alive.contains(p)))
        },
    )
    .await;
    eprintln!("taken over in {:.1} s", at.elapsed().as_secs_f64());
    let s = shares(&locks);
    assert!(s.values().all(|n| *n <= 5), "at most ceil(9/2) each: {s:?}");
    for (f, fake) in fakes.iter().enumerate() {
        landed(&admin, fake, &of[f], "changes made during the takeover").await;
    }

    // It comes back: the others hand over until the shares are even again.
    workers.push(worker(&inlet, &logs[WORKERS]));
    for (f, fake) in fakes.iter().enumerate() {
        let doomed = truth(fake)
            .into_keys()
            .find(|id| *id != created[f])
            .expect("a seeded customer");
        fake.delete("customer", &doomed).expect("delete");
    }
    let back = pids(&workers);
    wait_until_async(
        "three syncs on each worker again",
        Duration::from_secs(60),
        || async { even(&locks, &back) },
    )
    .await;
    for (f, fake) in fakes.iter().enumerate() {
        landed(&admin, fake, &of[f], "changes made while handing over").await;
    }

    // SIGTERM: each stops cleanly.
    stop_all(&mut workers).await;
    *done.lock().expect("flag") = true;

    // The data and the change log equal the truth: each change logged once, in order.
    for (i, schema) in schemas.iter().enumerate() {
        let f = i % 3;
        assert_eq!(
            customers(&admin, schema).await,
            truth(&fakes[f]),
            "{schema}"
        );
        let logged = events(&admin, schema).await;
        let kinds: Vec<(&str, &str)> = logged
            .iter()
            .map(|(k, id, _)| (k.as_str(), id.as_str()))
            .collect();
        let id = created[f].as_str();
        assert_eq!(kinds.len(), 3, "{schema}: {logged:?}");
        assert_eq!(&kinds[..2], &[("insert", id), ("update", id)], "{schema}");
        assert_eq!(kinds[2].0, "delete", "{schema}: {logged:?}");
        assert_eq!(
            logged[1].2.as_deref(),
            Some(format!("second-{f}@example.com").as_str())
        );
    }
    let l = locks.lock().expect("locks");
    assert!(
        l.samples > 100,
        "pg_locks watched throughout ({})",
        l.samples
    );
    assert!(l.doubled.is_empty(), "a lock held twice: {:?}", l.doubled);
}

/// A frozen worker (SIGSTOP) still looks alive to the server: its kernel answers keepalives
/// and acknowledges everything. The other worker sees its membership session silent, ends
/// all its sessions, and runs its syncs within 15 s. Woken (SIGCONT), it finds its sessions
/// gone, reconnects and gets its share back; every change is applied and logged once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_worker_loses_its_syncs_within_15_s_and_gets_them_back() {
    use nix::sys::signal::{kill, Signal};
    // The oldest version: the one where keepalives cover least.
    let v = *versions().first().expect("a version");
    let c = common::cluster("workers", v).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(&[]);
    inlet.add_destination(c, &db);
    let fake = FakeStripe::start(Options::default()).await.expect("fake");
    fake.seed(2);
    let schemas: Vec<String> = (0..4).map(|i| format!("f{i}")).collect();
    add_syncs(&inlet, std::slice::from_ref(&fake), &schemas);
    let admin = c.admin_db(&db).await;
    let done = Arc::new(Mutex::new(false));
    let locks = watch_locks(c.admin_db(&db).await, schemas.clone(), done.clone());
    let log = |name: &str| -> PathBuf { inlet.dir.path().join(name) };
    let mut workers = vec![
        worker(&inlet, &log("awake.log")),
        worker(&inlet, &log("frozen.log")),
    ];
    let (awake, frozen) = (workers[0].0.id(), workers[1].0.id());
    two_each_live(&inlet, &locks, &schemas, awake, frozen).await;

    let orphans = held_by(&locks, frozen);
    let before = sessions_of(&admin, frozen).await;
    let pid = nix::unistd::Pid::from_raw(frozen as i32);
    kill(pid, Signal::SIGSTOP).expect("sigstop");
    let at = Instant::now();
    let created = fake
        .create("customer", json!({"email": "frozen@example.com"}))
        .expect("create")["id"]
        .as_str()
        .expect("id")
        .to_string();
    wait_until_async(
        "the frozen worker's syncs running on the other",
        Duration::from_secs(15),
        || async {
            let l = locks.lock().expect("locks");
            orphans.iter().all(|s| l.holders.get(s) == Some(&awake))
        },
    )
    .await;
    eprintln!(
        "taken over {:.1} s after the freeze",
        at.elapsed().as_secs_f64()
    );
    let after = sessions_of(&admin, frozen).await;
    assert!(before.iter().all(|p| !after.contains(p)), "{after:?}");
    let said = std::fs::read_to_string(log("awake.log")).expect("log");
    let line = said
        .lines()
        .find(|l| l.contains("worker silent for over"))
        .unwrap_or_else(|| panic!("{said}"));
    inlet_testkit::assert_plain_words(line);
    landed(&admin, &fake, &schemas, "a change made while it was frozen").await;

    kill(pid, Signal::SIGCONT).expect("sigcont");
    wait_until_async(
        "two syncs on each worker again",
        Duration::from_secs(60),
        || async { two_each(&locks, awake, frozen) },
    )
    .await;
    fake.update("customer", &created, json!({"email": "awake@example.com"}))
        .expect("update");
    landed(&admin, &fake, &schemas, "a change made after it woke").await;

    stop_all(&mut workers).await;
    *done.lock().expect("flag") = true;
    for schema in &schemas {
        assert_eq!(customers(&admin, schema).await, truth(&fake), "{schema}");
        let logged = events(&admin, schema).await;
        let kinds: Vec<(&str, &str)> = logged
            .iter()
            .map(|(k, id, _)| (k.as_str(), id.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [("insert", created.as_str()), ("update", created.as_str())],
            "{schema}"
        );
    }
    let l = locks.lock().expect("locks");
    assert!(l.doubled.is_empty(), "a lock held twice: {:?}", l.doubled);
}

/// The backend process holding `schema`'s sync lock now, if any.
async fn holder(admin: &Client, schema: &str) -> Option<i32> {
    let key = inlet_postgres::sink::lock_key(schema);
    admin
        .query_opt(
            "select pid from pg_locks where locktype = 'advisory' and granted and objsubid = 1 \
               and mode = 'ExclusiveLock' and (classid::bigint << 32) | objid::bigint = $1",
            &[&key],
        )
        .await
        .expect("pg_locks")
        .map(|r| r.get(0))
}

/// The config without the section `[syncs.NAME]`.
fn without_sync(config: &str, name: &str) -> String {
    let header = format!("[syncs.{name}]\n");
    let start = config.find(&header).expect("the sync's section");
    let rest = &config[start + header.len()..];
    let end = rest
        .find("\n[")
        .map_or(config.len(), |e| start + header.len() + e + 1);
    format!("{}{}", &config[..start], &config[end..])
}

/// Added, changed and removed syncs are applied on a changed file and on SIGHUP, without
/// touching the others (same backend session, same lock); a broken file changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_added_changed_and_removed_syncs_only() {
    let v = *versions().last().expect("a version");
    let c = common::cluster("workers", v).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(&[]);
    inlet.add_destination(c, &db);
    let fake = FakeStripe::start(Options::default()).await.expect("fake");
    fake.seed(2);
    let key = fake.api_key();
    let add = |name: &str| {
        let out = inlet.sync_add(
            name,
            &fake.url(),
            &["--schema", name],
            &[("STRIPE_API_KEY", &key)],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    };
    for name in ["kept", "changed", "removed"] {
        add(name);
    }
    let admin = c.admin_db(&db).await;
    let log = inlet.dir.path().join("run.log");
    let mut run = worker(&inlet, &log);
    let all_held = |names: &'static [&'static str]| {
        let admin = &admin;
        move || async move {
            for n in names {
                if holder(admin, n).await.is_none() {
                    return false;
                }
            }
            true
        }
    };
    wait_until_async(
        "the three syncs running",
        Duration::from_secs(60),
        all_held(&["kept", "changed", "removed"]),
    )
    .await;
    let kept = holder(&admin, "kept").await;
    let changed = holder(&admin, "changed").await;

    // A changed file: `sync add` writes a new sync into it.
    tokio::task::block_in_place(|| add("added"));
    wait_until_async(
        "the added sync running",
        Duration::from_secs(30),
        all_held(&["added"]),
    )
    .await;
    assert_eq!(
        holder(&admin, "kept").await,
        kept,
        "untouched: same session"
    );
    assert_eq!(
        holder(&admin, "changed").await,
        changed,
        "untouched: same session"
    );

    // SIGHUP after an edit: one sync changed, one removed.
    let config = std::fs::read_to_string(inlet.config()).expect("config");
    let edited = without_sync(&config, "removed").replace(
        "[syncs.changed]\n",
        "[syncs.changed]\npoll_interval_ms = 300\n",
    );
    assert!(edited.contains("poll_interval_ms = 300") && !edited.contains("[syncs.removed]"));
    std::fs::write(inlet.config(), &edited).expect("config");
    let pid = nix::unistd::Pid::from_raw(run.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).expect("sighup");
    wait_until_async(
        "the removed sync stopped and the changed one restarted",
        Duration::from_secs(30),
        || async {
            let now = holder(&admin, "changed").await;
            holder(&admin, "removed").await.is_none() && now.is_some() && now != changed
        },
    )
    .await;
    assert_eq!(
        holder(&admin, "kept").await,
        kept,
        "untouched: same session"
    );
    assert!(
        run.0.try_wait().expect("wait").is_none(),
        "SIGHUP does not stop it"
    );
    let said = std::fs::read_to_string(&log).expect("log");
    assert!(said.contains("SIGHUP: reloading the config"), "{said}");

    // A broken file: said in plain words, nothing stops.
    std::fs::write(inlet.config(), format!("{edited}\n[syncs.broken\n")).expect("config");
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).expect("sighup");
    let said = wait_for("the broken file reported", Duration::from_secs(30), || {
        let said = std::fs::read_to_string(&log).expect("log");
        async move {
            said.lines()
                .find(|l| l.contains("the config was not reloaded"))
                .map(str::to_string)
                .ok_or_else(|| "not yet".to_string())
        }
    })
    .await;
    inlet_testkit::assert_plain_words(&said);
    assert!(said.contains("the running syncs go on unchanged"), "{said}");
    for name in ["kept", "changed", "added"] {
        assert!(holder(&admin, name).await.is_some(), "{name} still running");
    }
    assert_eq!(holder(&admin, "kept").await, kept);
}
