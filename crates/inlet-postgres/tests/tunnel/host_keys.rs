//! Is it really the bastion? Pinning on first use, known_hosts files, and refusing a key
//! that changed, with the fix that works.

use std::fs;
use std::process::Command;

use inlet_postgres::ssh::keys::KeyType;
use inlet_postgres::ssh::HostKeyTrust;
use inlet_postgres::ProblemKind;
use inlet_testkit::{versions, Sshd, SshdSpec};

use crate::bastion::*;

fn fingerprint(public_key: &str) -> String {
    let key = russh::keys::PublicKey::from_openssh(public_key).expect("host key parses");
    key.fingerprint(russh::keys::HashAlg::Sha256).to_string()
}

/// `[addr]:port`, as known_hosts names a bastion off port 22.
fn name(sshd: &Sshd) -> String {
    format!("[{}]:{}", sshd.host, sshd.port)
}

fn ssh_keygen(args: &[&str]) {
    let out = Command::new("ssh-keygen")
        .args(args)
        .output()
        .expect("run ssh-keygen");
    assert!(out.status.success(), "ssh-keygen {args:?}: {out:?}");
}

#[tokio::test]
async fn first_use_pins_the_host_key_and_later_sessions_must_match_it() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let sshd = bastion(SshdSpec::new(), &inlet);
    let o = through(private_cluster(versions()[0]).await, inlet.ssh(&sshd));
    let s = connects(&o).await;
    let route = s.info.ssh.clone().expect("route");
    assert_eq!(route.host_key, HostKeyTrust::PinnedNow);
    assert_eq!(route.host_key_fingerprint, fingerprint(&sshd.host_key()));
    assert_eq!(route.host_key_file, inlet.pins());
    let pins = fs::read_to_string(inlet.pins()).expect("pins file written");
    assert_eq!(pins, format!("{} {}\n", name(&sshd), sshd.host_key()));

    // A new session (the old one killed) checks the pin instead of pinning again.
    sshd.kill_sessions();
    let s = connects(&o).await;
    assert_eq!(s.info.ssh.map(|r| r.host_key), Some(HostKeyTrust::Pinned));
    assert_eq!(fs::read_to_string(inlet.pins()).ok(), Some(pins));
}

#[tokio::test]
async fn a_changed_host_key_is_refused_until_the_pin_is_removed_as_the_fix_says() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let mut sshd = bastion(SshdSpec::new(), &inlet);
    let o = through(private_cluster(versions()[0]).await, inlet.ssh(&sshd));
    connects(&o).await;
    let old = fingerprint(&sshd.host_key());

    sshd.change_host_key();
    let new = fingerprint(&sshd.host_key());
    let p = fails(&o, ProblemKind::SshHostKeyMismatch).await;
    assert!(
        p.message.contains(&old) && p.message.contains(&new),
        "{p:#?}"
    );
    assert_eq!(detail(&p).host_key_expected.as_deref(), Some(old.as_str()));
    assert_eq!(detail(&p).host_key_presented.as_deref(), Some(new.as_str()));
    let command = format!(
        "ssh-keygen -R '{}' -f {}",
        name(&sshd),
        inlet.pins().display()
    );
    assert!(
        p.fix.contains(&command),
        "the fix names the exact command: {p:#?}"
    );
    assert_eq!(
        sshd.logins(),
        1,
        "nothing was sent to the impostor:\n{}",
        sshd.log()
    );

    // The documented fix, after checking the new key out of band: remove the old pin.
    let (pins, host) = (inlet.pins().display().to_string(), name(&sshd));
    ssh_keygen(&["-R", &host, "-f", &pins]);
    let s = connects(&o).await;
    let route = s.info.ssh.expect("route");
    assert_eq!(
        (route.host_key, route.host_key_fingerprint),
        (HostKeyTrust::PinnedNow, new)
    );
}

#[tokio::test]
async fn a_hashed_known_hosts_file_is_honoured_and_nothing_is_pinned() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let sshd = bastion(SshdSpec::new(), &inlet);
    let known_hosts = inlet.dir.path().join("ssh_known_hosts");
    fs::write(
        &known_hosts,
        format!("{} {}\n", name(&sshd), sshd.host_key()),
    )
    .expect("write");
    ssh_keygen(&["-H", "-f", &known_hosts.display().to_string()]);
    let hashed = fs::read_to_string(&known_hosts).expect("read");
    assert!(hashed.starts_with("|1|"), "{hashed}");

    let mut ssh = inlet.ssh(&sshd);
    ssh.known_hosts = Some(known_hosts.clone());
    let s = connects(&through(private_cluster(versions()[0]).await, ssh)).await;
    let route = s.info.ssh.expect("route");
    assert_eq!(route.host_key, HostKeyTrust::KnownHosts);
    assert_eq!(route.host_key_file, known_hosts);
    assert!(
        !inlet.pins().exists(),
        "a known_hosts file replaces pinning"
    );
}

#[tokio::test]
async fn a_bastion_missing_from_the_known_hosts_file_is_refused() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let sshd = bastion(SshdSpec::new(), &inlet);
    let known_hosts = inlet.dir.path().join("ssh_known_hosts");
    fs::write(&known_hosts, format!("other-host {}\n", sshd.host_key())).expect("write");
    let mut ssh = inlet.ssh(&sshd);
    ssh.known_hosts = Some(known_hosts);
    let o = through(private_cluster(versions()[0]).await, ssh);
    let p = fails(&o, ProblemKind::SshHostKeyUnknown).await;
    assert!(p.fix.contains("ssh-keyscan"), "{p:#?}");
    assert_eq!(
        detail(&p).host_key_presented,
        Some(fingerprint(&sshd.host_key()))
    );
}

#[tokio::test]
async fn another_key_in_the_known_hosts_file_is_a_mismatch() {
    let inlet = Inlet::new(KeyType::Ed25519);
    let sshd = bastion(SshdSpec::new(), &inlet);
    let impostor = Inlet::new(KeyType::Ed25519); // any other ed25519 key will do
    let other = impostor
        .public_key
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let known_hosts = inlet.dir.path().join("ssh_known_hosts");
    fs::write(&known_hosts, format!("{} {other}\n", name(&sshd))).expect("write");
    let mut ssh = inlet.ssh(&sshd);
    ssh.known_hosts = Some(known_hosts.clone());
    let p = fails(
        &through(private_cluster(versions()[0]).await, ssh),
        ProblemKind::SshHostKeyMismatch,
    )
    .await;
    assert!(
        p.fix.contains(&format!("-f {}", known_hosts.display())),
        "{p:#?}"
    );
    assert_eq!(detail(&p).host_key_expected, Some(fingerprint(&other)));
}
