//! Sessions through the bastion: every version with `verify-full` inside the tunnel, one SSH
//! session for many connections, and recovery when the session dies.

use std::time::Duration;

use inlet_postgres::ssh::keys::KeyType;
use inlet_postgres::ssh::{has_live_session, HostKeyTrust};
use inlet_postgres::ProblemKind;
use inlet_testkit::{versions, wait_until_async, SshdSpec};

use crate::bastion::*;

#[tokio::test]
async fn connects_through_the_bastion_with_verify_full_on_every_version() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let sshd = bastion(SshdSpec::new(), &inlet);
    for v in versions() {
        let cluster = private_cluster(v).await;
        let o = through(cluster, inlet.ssh(&sshd));
        let s = connects(&o).await;
        assert_eq!(s.info.server_version_num / 10_000, v as i32, "{:?}", s.info);
        let tls = s.info.tls.as_ref().expect("TLS inside the tunnel");
        assert_eq!(tls.verified, "full", "the database's name was checked");
        let route = s.info.ssh.as_ref().expect("the session reports its route");
        assert_eq!(
            (route.host.as_str(), route.port),
            (sshd.host.as_str(), sshd.port)
        );
        assert_eq!(s.info.address, format!("localhost:{}", cluster.port));
        // The server sees the bastion's side of the tunnel: its own namespace's loopback.
        assert_eq!(client_address(&s).await, "127.0.0.1");

        // Without the tunnel, the same database cannot be reached from here at all.
        let mut direct = o.clone();
        direct.ssh = None;
        direct.connect_timeout = Duration::from_secs(2);
        let p = fails(&direct, ProblemKind::Refused).await;
        assert!(p.message.contains(&cluster.port.to_string()), "{p:?}");
    }
}

#[tokio::test]
async fn one_ssh_session_carries_every_connection() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let sshd = bastion(SshdSpec::new(), &inlet);
    let o = through(private_cluster(versions()[0]).await, inlet.ssh(&sshd));
    let first = connects(&o).await;
    let (a, b) = tokio::join!(connects(&o), connects(&o));
    for s in [&first, &a, &b] {
        assert_eq!(client_address(s).await, "127.0.0.1");
    }
    assert_eq!(
        sshd.logins(),
        1,
        "three connections, one login:\n{}",
        sshd.log()
    );
}

#[tokio::test]
async fn a_killed_session_is_replaced_by_the_next_connection() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let sshd = bastion(SshdSpec::new(), &inlet);
    let o = through(private_cluster(versions()[0]).await, inlet.ssh(&sshd));
    let ssh = o.ssh.clone().expect("ssh options");
    connects(&o).await;

    // Killed and noticed: the dead session is dropped before the next connection.
    assert!(sshd.kill_sessions() > 0, "no session processes found");
    wait_until_async(
        "the client to notice the dead session",
        Duration::from_secs(10),
        || std::future::ready(!has_live_session(&ssh)),
    )
    .await;
    let s = connects(&o).await;
    assert_eq!(client_address(&s).await, "127.0.0.1");
    assert_eq!(sshd.logins(), 2, "{}", sshd.log());

    // Killed and used at once: whichever notices first, the connection still succeeds.
    assert!(sshd.kill_sessions() > 0);
    let s = connects(&o).await;
    assert_eq!(client_address(&s).await, "127.0.0.1");
    assert_eq!(sshd.logins(), 3, "{}", sshd.log());
}

#[tokio::test]
async fn keepalives_notice_a_bastion_that_stopped_answering() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let sshd = bastion(SshdSpec::new(), &inlet);
    let mut ssh = inlet.ssh(&sshd);
    ssh.keepalive_interval = Duration::from_secs(1);
    let o = through(private_cluster(versions()[0]).await, ssh.clone());
    connects(&o).await;
    assert!(has_live_session(&ssh));

    // Frozen, the session's TCP connection stays open but nothing answers: only keepalives
    // can tell (1 s interval, 3 missed).
    assert!(sshd.pause_sessions() > 0);
    wait_until_async(
        "keepalives to end the silent session",
        Duration::from_secs(20),
        || std::future::ready(!has_live_session(&ssh)),
    )
    .await;
    sshd.resume_sessions();
    let s = connects(&o).await;
    assert_eq!(client_address(&s).await, "127.0.0.1");
    assert_eq!(sshd.logins(), 2, "{}", sshd.log());
}

#[tokio::test]
async fn an_rsa_key_works_for_bastions_without_ed25519() {
    let inlet = Inlet::new(KeyType::Rsa);
    assert!(
        inlet.public_key.starts_with("ssh-rsa "),
        "{}",
        inlet.public_key
    );
    let sshd = bastion(SshdSpec::new(), &inlet);
    let s = connects(&through(
        private_cluster(versions()[0]).await,
        inlet.ssh(&sshd),
    ))
    .await;
    assert_eq!(
        s.info.ssh.as_ref().map(|r| r.host_key),
        Some(HostKeyTrust::PinnedNow)
    );
    assert!(
        sshd.log().contains("Accepted publickey for root"),
        "{}",
        sshd.log()
    );
}

#[tokio::test]
async fn database_refusals_inside_the_tunnel_keep_their_kinds() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let sshd = bastion(SshdSpec::new(), &inlet);
    let mut o = through(private_cluster(versions()[0]).await, inlet.ssh(&sshd));
    o.password = Some(inlet_postgres::Secret::new("wrong"));
    let p = fails(&o, ProblemKind::BadPassword).await;
    assert_eq!(p.sqlstate.as_deref(), Some("28P01"));
    o.password = Some(inlet_postgres::Secret::new(PASSWORD));
    o.sslmode = inlet_postgres::SslMode::Disable;
    let p = fails(&o, ProblemKind::TlsRequiredByServer).await;
    assert!(p.message.contains("from the SSH bastion"), "{p:?}");
}
