//! A worker cut off from the database by the network (its packets vanish; nothing closes
//! its connections) loses its syncs to the other worker within 15 s of the cut, and every
//! session it had ends (the other sees it silent and ends them, or the server's keepalives
//! do): no sync's lock is ever held by two sessions (watched in `pg_locks` throughout).
//! When the network returns, its old sessions fail, it reconnects and gets its share back;
//! the data and the change log equal the fake's truth. On every PostgreSQL version the kit
//! tests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use inlet_fakes::stripe::{FakeStripe, Options};
use inlet_testkit::{shared, versions, wait_until_async, ClusterSpec, Netns};
use serde_json::json;

mod common;
use common::workers::{
    add_syncs, customers, events, held_by, landed, sessions_of, shares, stop_all, truth, two_each,
    two_each_live, watch_locks, worker, worker_in,
};
use common::{Inlet, ADMIN_PASSWORD};

/// The promise: a cut-off worker's syncs run elsewhere within this.
const TAKEOVER: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_cut_off_by_the_network_loses_its_syncs_within_15_s_and_gets_them_back() {
    for v in versions() {
        cut_off_and_back(Netns::shared(), v).await;
    }
}

async fn cut_off_and_back(netns: &'static Netns, v: u32) {
    let c = shared(&format!("netcut-{v}"), || {
        ClusterSpec::new(v).password_logins().reachable_from(netns)
    });
    c.create_user("postgres", ADMIN_PASSWORD).await;
    let db = c.create_database().await;
    let inlet = Inlet::new(&[]);
    // Both workers reach the server (and the fake) at this side of the namespace's link.
    inlet.add_destination_at(c, &db, &netns.host_addr.to_string());
    let listen = SocketAddr::from((netns.host_addr, 0));
    let fake = FakeStripe::start(Options {
        listen,
        ..Options::default()
    })
    .await
    .expect("fake");
    fake.seed(2);
    let schemas: Vec<String> = (0..4).map(|i| format!("s{i}")).collect();
    add_syncs(&inlet, std::slice::from_ref(&fake), &schemas);

    let admin = c.admin_db(&db).await;
    let done = Arc::new(Mutex::new(false));
    let locks = watch_locks(c.admin_db(&db).await, schemas.clone(), done.clone());
    let log = |name: &str| -> PathBuf { inlet.dir.path().join(name) };
    let mut workers = vec![
        worker(&inlet, &log("here.log")),
        worker_in(&inlet, netns, &log("there.log")),
    ];
    let (here, there) = (workers[0].0.id(), workers[1].0.id());
    two_each_live(&inlet, &locks, &schemas, here, there).await;
    let created = fake
        .create("customer", json!({"email": "before@example.com"}))
        .expect("create")["id"]
        .as_str()
        .expect("id")
        .to_string();
    landed(&admin, &fake, &schemas, "the new customer in every sync").await;

    // The cut, while the namespaced worker runs two syncs and the account changes.
    let cut_off = held_by(&locks, there);
    assert_eq!(cut_off.len(), 2, "{:?}", shares(&locks));
    let before = sessions_of(&admin, there).await;
    let cut = netns.cut();
    let at = Instant::now();
    fake.update("customer", &created, json!({"email": "cut@example.com"}))
        .expect("update");
    wait_until_async(
        "the cut-off worker's syncs running on the other worker",
        TAKEOVER,
        || async {
            let l = locks.lock().expect("locks");
            cut_off.iter().all(|s| l.holders.get(s) == Some(&here))
        },
    )
    .await;
    eprintln!(
        "PostgreSQL {v}: taken over {:.1} s after the cut",
        at.elapsed().as_secs_f64()
    );
    assert!(
        workers[1].0.try_wait().expect("wait").is_none(),
        "the cut-off worker still runs"
    );
    // Every session it had is gone, the idle ones too: none is left to take a connection
    // slot until the server's retransmissions give up.
    let left = at + TAKEOVER;
    wait_until_async(
        "the server to end every session of the cut-off worker",
        left.saturating_duration_since(Instant::now()),
        || async {
            let after = sessions_of(&admin, there).await;
            before.iter().all(|p| !after.contains(p))
        },
    )
    .await;
    landed(&admin, &fake, &schemas, "the change made at the cut").await;
    let during = fake
        .create("customer", json!({"email": "during@example.com"}))
        .expect("create")["id"]
        .as_str()
        .expect("id")
        .to_string();
    landed(&admin, &fake, &schemas, "a change made while cut off").await;

    // The network returns: the cut-off worker's sessions fail, it reconnects and takes its
    // share again, the other handing over.
    let at = Instant::now();
    cut.restore();
    wait_until_async(
        "two syncs on each worker again",
        Duration::from_secs(120),
        || async { two_each(&locks, here, there) },
    )
    .await;
    eprintln!(
        "PostgreSQL {v}: shares even again {:.1} s after the network returned",
        at.elapsed().as_secs_f64()
    );
    // Its old sessions failed once packets flowed again (nothing had closed them on its
    // side), and it said so in plain words.
    let said = std::fs::read_to_string(log("there.log")).expect("log");
    let failed: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("connection closed"))
        .collect();
    assert!(!failed.is_empty(), "{said}");
    failed
        .iter()
        .for_each(|l| inlet_testkit::assert_plain_words(l));
    let doomed = truth(&fake)
        .into_keys()
        .find(|id| *id != created && *id != during)
        .expect("a seeded customer");
    fake.delete("customer", &doomed).expect("delete");
    landed(&admin, &fake, &schemas, "a change made after the return").await;

    stop_all(&mut workers).await;
    *done.lock().expect("flag") = true;

    // Each change applied and logged once, in order, in every sync.
    for schema in &schemas {
        assert_eq!(customers(&admin, schema).await, truth(&fake), "{schema}");
        let logged = events(&admin, schema).await;
        let kinds: Vec<(&str, &str)> = logged
            .iter()
            .map(|(k, id, _)| (k.as_str(), id.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("insert", created.as_str()),
                ("update", created.as_str()),
                ("insert", during.as_str()),
                ("delete", doomed.as_str()),
            ],
            "{schema}: {logged:?}"
        );
        assert_eq!(logged[1].2.as_deref(), Some("cut@example.com"), "{schema}");
    }
    let l = locks.lock().expect("locks");
    assert!(
        l.samples > 100,
        "pg_locks watched throughout ({})",
        l.samples
    );
    assert!(l.doubled.is_empty(), "a lock held twice: {:?}", l.doubled);
}
