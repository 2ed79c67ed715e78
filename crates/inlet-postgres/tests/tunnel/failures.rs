//! Every way reaching the database through a bastion can fail, each with its own kind.

use std::time::{Duration, Instant};

use inlet_postgres::ssh::keys::KeyType;
use inlet_postgres::ProblemKind;
use inlet_testkit::{blackhole_port, free_port, silent_port, versions, Netns, SshdSpec};

use crate::bastion::*;

#[tokio::test]
async fn a_key_the_bastion_does_not_know_is_ssh_auth_rejected_with_the_key_to_install() {
    let installed = Inlet::new(KeyType::Ed25519);
    let sshd = bastion(SshdSpec::new(), &installed);
    let stranger = Inlet::new(KeyType::Ed25519);
    let o = through(private_cluster(versions()[0]).await, stranger.ssh(&sshd));
    let p = fails(&o, ProblemKind::SshAuthRejected).await;
    assert_eq!(
        detail(&p).ssh_public_key.as_deref(),
        Some(stranger.public_key.as_str())
    );
    assert!(
        p.fix.contains(&format!(
            "echo '{}' >> ~/.ssh/authorized_keys",
            stranger.public_key
        )),
        "{p:#?}"
    );
    assert!(
        p.fix.contains("mkdir -p ~/.ssh") && p.fix.contains("chmod 600"),
        "{p:#?}"
    );
    assert!(p.message.contains(SSH_USER), "{p:#?}");
    assert_eq!(sshd.logins(), 0);
}

#[tokio::test]
async fn forwarding_disabled_on_the_bastion_is_ssh_forward_failed() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let sshd = bastion(SshdSpec::new().no_forwarding(), &inlet);
    let o = through(private_cluster(versions()[0]).await, inlet.ssh(&sshd));
    let p = fails(&o, ProblemKind::SshForwardFailed).await;
    assert!(p.message.contains("AllowTcpForwarding"), "{p:#?}");
    assert!(p.fix.contains("AllowTcpForwarding yes"), "{p:#?}");
}

#[tokio::test]
async fn permit_open_excluding_the_database_is_ssh_forward_failed() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let cluster = private_cluster(versions()[0]).await;
    let sshd = bastion(SshdSpec::new().permit_open("localhost:1"), &inlet);
    let p = fails(
        &through(cluster, inlet.ssh(&sshd)),
        ProblemKind::SshForwardFailed,
    )
    .await;
    assert!(
        p.fix
            .contains(&format!("PermitOpen localhost:{}", cluster.port)),
        "{p:#?}"
    );

    // And the same bastion permitting exactly the database works.
    let sshd = bastion(
        SshdSpec::new().permit_open(&format!("localhost:{}", cluster.port)),
        &inlet,
    );
    connects(&through(cluster, inlet.ssh(&sshd))).await;
}

#[tokio::test]
async fn nothing_listening_behind_the_bastion_is_ssh_forward_failed_connect_failed() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let cluster = private_cluster(versions()[0]).await;
    let sshd = bastion(SshdSpec::new(), &inlet);
    let mut o = through(cluster, inlet.ssh(&sshd));
    o.port = free_port(); // nothing listens on it inside the private network
    let p = fails(&o, ProblemKind::SshForwardFailed).await;
    assert!(p.message.contains("could not connect"), "{p:#?}");
    assert!(
        p.fix.contains(&format!("nc -vz -w 5 localhost {}", o.port)),
        "{p:#?}"
    );

    o.host = "no-such-database.invalid".into();
    o.port = cluster.port;
    let p = fails(&o, ProblemKind::SshForwardFailed).await;
    assert!(p.message.contains("does not resolve there"), "{p:#?}");
}

#[tokio::test]
async fn a_bastion_whose_connection_to_the_database_hangs_is_ssh_forward_failed() {
    // This bastion runs beside the test (127.0.0.1), where a port that drops connections is.
    let inlet = Inlet::new(KeyType::Ed25519);
    let sshd = SshdSpec::new().authorize(&inlet.public_key).start();
    let hole = blackhole_port();
    let mut o = through(private_cluster(versions()[0]).await, inlet.ssh(&sshd));
    o.host = "127.0.0.1".into();
    o.port = hole.port;
    o.connect_timeout = Duration::from_secs(2);
    let started = Instant::now();
    let p = fails(&o, ProblemKind::SshForwardFailed).await;
    assert!(p.message.contains("within 2 s"), "{p:#?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_closed_bastion_port_is_ssh_unreachable() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let mut o = through(
        private_cluster(versions()[0]).await,
        inlet.ssh(&SshdSpec::new().in_netns(Netns::shared()).start()),
    );
    let ssh = o.ssh.as_mut().expect("ssh");
    ssh.port = free_port(); // the bastion host exists; nothing listens on this port
    let p = fails(&o, ProblemKind::SshUnreachable).await;
    assert!(p.message.contains("refused"), "{p:#?}");
    assert!(p.fix.contains("nc -vz -w 5"), "{p:#?}");
}

#[tokio::test]
async fn a_bastion_name_that_does_not_resolve_is_ssh_unreachable() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let mut ssh = inlet_postgres::ssh::SshOptions::new(
        "bastion.invalid",
        SSH_USER,
        inlet.key.clone(),
        inlet.pins(),
    );
    ssh.port = 2222;
    let o = through(private_cluster(versions()[0]).await, ssh);
    let p = fails(&o, ProblemKind::SshUnreachable).await;
    assert!(p.message.contains("bastion.invalid"), "{p:#?}");
}

#[tokio::test]
async fn a_bastion_dropping_packets_is_ssh_unreachable_after_connect_timeout() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let hole = blackhole_port();
    let mut ssh = inlet_postgres::ssh::SshOptions::new(
        "127.0.0.1",
        SSH_USER,
        inlet.key.clone(),
        inlet.pins(),
    );
    ssh.port = hole.port;
    let mut o = through(private_cluster(versions()[0]).await, ssh);
    o.connect_timeout = Duration::from_secs(1);
    let started = Instant::now();
    let p = fails(&o, ProblemKind::SshUnreachable).await;
    let waited = started.elapsed();
    assert!(p.message.contains("within 1 s"), "{p:#?}");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_port_that_never_speaks_ssh_is_ssh_handshake_failed() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let silent = silent_port();
    let mut ssh = inlet_postgres::ssh::SshOptions::new(
        "127.0.0.1",
        SSH_USER,
        inlet.key.clone(),
        inlet.pins(),
    );
    ssh.port = silent.port;
    let mut o = through(private_cluster(versions()[0]).await, ssh);
    o.connect_timeout = Duration::from_secs(1);
    let p = fails(&o, ProblemKind::SshHandshakeFailed).await;
    assert!(
        p.message.contains("did not complete the SSH handshake"),
        "{p:#?}"
    );
}

#[tokio::test]
async fn a_missing_key_is_ssh_key_and_says_how_to_make_one() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let sshd = bastion(SshdSpec::new(), &inlet);
    let mut ssh = inlet.ssh(&sshd);
    ssh.key = inlet.dir.path().join("ssh/id_missing");
    let p = fails(
        &through(private_cluster(versions()[0]).await, ssh),
        ProblemKind::SshKey,
    )
    .await;
    assert!(p.fix.contains("inlet tunnel keygen"), "{p:#?}");
    assert_eq!(sshd.logins(), 0);
}
