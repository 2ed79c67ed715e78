//! What the tests of several workers share: the workers themselves, a watch on who holds
//! each sync's lock (in `pg_locks`, throughout), and the destination's data and change log
//! against a fake's truth.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inlet_fakes::stripe::FakeStripe;
use inlet_testkit::{wait_until_async, Netns};
use tokio_postgres::Client;

use super::{text, Inlet, Running};

/// Who holds each sync's lock (schema → the holder's process id, from its
/// application name), sampled from `pg_locks`; and every sample where a lock had two.
#[derive(Default)]
pub struct Locks {
    pub holders: BTreeMap<String, u32>,
    pub doubled: Vec<String>,
    pub samples: u64,
}

/// Samples `pg_locks` every 20 ms until `done`.
pub fn watch_locks(
    admin: Client,
    schemas: Vec<String>,
    done: Arc<Mutex<bool>>,
) -> Arc<Mutex<Locks>> {
    let locks = Arc::new(Mutex::new(Locks::default()));
    let seen = locks.clone();
    let keys: HashMap<i64, String> = schemas
        .iter()
        .map(|s| (inlet_postgres::sink::lock_key(s), s.clone()))
        .collect();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(20));
        while !*done.lock().expect("flag") {
            every.tick().await;
            let rows = admin
                .query(
                    "select (l.classid::bigint << 32) | l.objid::bigint, a.application_name \
                       from pg_locks l join pg_stat_activity a on a.pid = l.pid \
                      where l.locktype = 'advisory' and l.granted and l.objsubid = 1 \
                        and l.mode = 'ExclusiveLock'",
                    &[],
                )
                .await
                .expect("pg_locks");
            let mut holders: BTreeMap<String, Vec<u32>> = BTreeMap::new();
            for row in rows {
                let (key, app): (i64, String) = (row.get(0), row.get(1));
                if let Some(schema) = keys.get(&key) {
                    holders
                        .entry(schema.clone())
                        .or_default()
                        .push(worker_pid(&app));
                }
            }
            let mut l = seen.lock().expect("locks");
            l.samples += 1;
            for (schema, pids) in &holders {
                if pids.len() > 1 {
                    l.doubled.push(format!("{schema}: {pids:?}"));
                }
            }
            l.holders = holders.into_iter().map(|(s, p)| (s, p[0])).collect();
        }
    });
    locks
}

/// The process id in an application name "inlet pid N on HOST".
fn worker_pid(app: &str) -> u32 {
    app.strip_prefix("inlet pid ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or(0)
}

/// How many syncs each worker (by process id) holds now.
pub fn shares(locks: &Mutex<Locks>) -> BTreeMap<u32, usize> {
    let mut counts = BTreeMap::new();
    for pid in locks.lock().expect("locks").holders.values() {
        *counts.entry(*pid).or_default() += 1;
    }
    counts
}

/// The syncs `pid` holds now.
pub fn held_by(locks: &Mutex<Locks>, pid: u32) -> Vec<String> {
    let l = locks.lock().expect("locks");
    l.holders
        .iter()
        .filter(|(_, p)| **p == pid)
        .map(|(s, _)| s.clone())
        .collect()
}

/// Adds the syncs `schemas` (each into the schema of its name), the i-th of `fakes[i % n]`,
/// each polling every 200 ms.
pub fn add_syncs(inlet: &Inlet, fakes: &[FakeStripe], schemas: &[String]) {
    for (i, schema) in schemas.iter().enumerate() {
        let fake = &fakes[i % fakes.len()];
        let key = fake.api_key();
        let out = inlet.sync_add(
            schema,
            &fake.url(),
            &["--schema", schema],
            &[("STRIPE_API_KEY", &key)],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let mut config = std::fs::read_to_string(inlet.config()).expect("config");
    for schema in schemas {
        config = config.replace(
            &format!("[syncs.{schema}]\n"),
            &format!("[syncs.{schema}]\npoll_interval_ms = 200\n"),
        );
    }
    std::fs::write(inlet.config(), config).expect("config");
}

/// `inlet run`, its log in `log`.
pub fn worker(inlet: &Inlet, log: &Path) -> Running {
    start(inlet.cmd(&["run"]), log)
}

/// `inlet run` inside `netns`, its log in `log`; killed with the test process.
pub fn worker_in(inlet: &Inlet, netns: &Netns, log: &Path) -> Running {
    start(inlet.cmd_in(netns, &["run"]), log)
}

fn start(mut run: std::process::Command, log: &Path) -> Running {
    let log = std::fs::File::create(log).expect("log file");
    let child = run
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("inlet run");
    Running(child)
}

/// Each sync's customers as the destination has them: id → email.
pub async fn customers(admin: &Client, schema: &str) -> BTreeMap<String, Option<String>> {
    admin
        .query(&format!("select id, email from \"{schema}\".customer"), &[])
        .await
        .expect("customers")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// The fake's truth: id → email.
pub fn truth(fake: &FakeStripe) -> BTreeMap<String, Option<String>> {
    fake.objects("customer")
        .expect("customers")
        .iter()
        .map(|c| {
            let id = c["id"].as_str().expect("id").to_string();
            (id, c["email"].as_str().map(str::to_string))
        })
        .collect()
}

/// Waits until every one of `schemas` holds `fake`'s truth.
pub async fn landed(admin: &Client, fake: &FakeStripe, schemas: &[String], what: &str) {
    let want = truth(fake);
    wait_until_async(what, Duration::from_secs(60), || async {
        for schema in schemas {
            if customers(admin, schema).await != want {
                return false;
            }
        }
        true
    })
    .await;
}

/// The customer changes `schema`'s `_sync_event` logged, in order: kind, id, email.
pub async fn events(admin: &Client, schema: &str) -> Vec<(String, String, Option<String>)> {
    admin
        .query(
            &format!(
                "select event_type, record_id, payload->'record'->>'email' \
                   from \"{schema}\"._sync_event where object_type = 'customer' order by id"
            ),
            &[],
        )
        .await
        .expect("events")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// Whether workers `a` and `b` hold two syncs each, and nobody else holds any.
pub fn two_each(locks: &Mutex<Locks>, a: u32, b: u32) -> bool {
    let s = shares(locks);
    s.len() == 2 && s.get(&a) == Some(&2) && s.get(&b) == Some(&2)
}

/// Waits until workers `a` and `b` hold two syncs each and every sync is live.
pub async fn two_each_live(
    inlet: &Inlet,
    locks: &Mutex<Locks>,
    schemas: &[String],
    a: u32,
    b: u32,
) {
    wait_until_async(
        "two syncs on each worker",
        Duration::from_secs(90),
        || async { two_each(locks, a, b) },
    )
    .await;
    wait_until_async("every sync live", Duration::from_secs(90), || async {
        schemas
            .iter()
            .all(|s| tokio::task::block_in_place(|| inlet.live(s)))
    })
    .await;
}

/// The backend process ids of worker `pid`'s sessions now.
pub async fn sessions_of(admin: &Client, pid: u32) -> Vec<i32> {
    admin
        .query(
            "select pid from pg_stat_activity where application_name like $1",
            &[&format!("inlet pid {pid} %")],
        )
        .await
        .expect("pg_stat_activity")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// SIGTERM to each worker; each must stop cleanly (exit 0) within 30 s.
pub async fn stop_all(workers: &mut [Running]) {
    for w in workers.iter() {
        let pid = nix::unistd::Pid::from_raw(w.0.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("sigterm");
    }
    for w in workers.iter_mut() {
        let exited = inlet_testkit::wait_for("a worker to stop", Duration::from_secs(30), || {
            let status = w.0.try_wait().expect("wait");
            async move { status.ok_or_else(|| "still running".to_string()) }
        })
        .await;
        assert_eq!(exited.code(), Some(0));
    }
}
