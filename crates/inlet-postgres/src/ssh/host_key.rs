//! Is this really the bastion? Host key verification, before anything else is sent.
//!
//! With a known_hosts file configured, the bastion must be listed there with the key it
//! presents (the person vouched for it out of band). Without one, the first key seen is pinned
//! in inlet's own known_hosts file (trust on first use, reported to the person), and every
//! later connection must present that same key. A mismatch is always refused, with both
//! fingerprints and the exact command that updates the pin once the new key is verified.

use std::path::{Path, PathBuf};

use russh::keys::{Algorithm, HashAlg, PublicKey};
use serde::Serialize;

use super::known_hosts::{self, Lookup};
use super::SshOptions;
use crate::problem::{Problem, ProblemKind};

/// Why a host key was trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostKeyTrust {
    /// Listed in the configured known_hosts file.
    KnownHosts,
    /// Matches the key pinned on an earlier first use.
    Pinned,
    /// Seen for the first time, and pinned now.
    PinnedNow,
}

/// The verdict on a presented key, and the file behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub trust: HostKeyTrust,
    pub file: PathBuf,
    pub fingerprint: String,
}

/// The file whose word counts for this bastion.
fn source(ssh: &SshOptions) -> (&Path, bool) {
    match &ssh.known_hosts {
        Some(path) => (path, true),
        None => (&ssh.pins, false),
    }
}

/// Checks `key` against the known_hosts file or the pins. A first use is accepted as
/// [`HostKeyTrust::PinnedNow`], but not yet written: see [`pin`].
pub(crate) fn verify(ssh: &SshOptions, key: &PublicKey) -> Result<Verdict, Problem> {
    let (file, strict) = source(ssh);
    let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
    let entries = known_hosts::read(file).map_err(|e| {
        Problem::new(
            ProblemKind::SshHostKeyUnknown,
            format!("cannot read the known_hosts file {}: {e}", file.display()),
            "check the path and its permissions",
        )
    })?;
    let verdict = |trust| Verdict {
        trust,
        file: file.to_path_buf(),
        fingerprint: fingerprint.clone(),
    };
    match known_hosts::lookup(&entries, &ssh.host, ssh.port, key) {
        Lookup::Matched { .. } if strict => Ok(verdict(HostKeyTrust::KnownHosts)),
        Lookup::Matched { .. } => Ok(verdict(HostKeyTrust::Pinned)),
        Lookup::NotListed if !strict => Ok(verdict(HostKeyTrust::PinnedNow)),
        Lookup::NotListed => Err(unknown(ssh, file, &fingerprint)),
        Lookup::Revoked { line } => Err(mismatch(
            ssh,
            file,
            format!("the key is marked @revoked on line {line}"),
            &fingerprint,
        )),
        Lookup::Changed { recorded } => {
            let expected = recorded
                .iter()
                .map(|e| e.key.fingerprint(HashAlg::Sha256).to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let lines = recorded
                .iter()
                .map(|e| e.line.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let mut p = mismatch(
                ssh,
                file,
                format!("expected {expected} (line {lines})"),
                &fingerprint,
            );
            p.ssh_detail().host_key_expected = Some(expected);
            Err(p)
        }
    }
}

/// Records a first-use key, once the session is fully established.
pub(crate) fn pin(ssh: &SshOptions, key: &PublicKey) -> Result<(), Problem> {
    known_hosts::append(&ssh.pins, &ssh.host, ssh.port, key).map_err(|e| {
        Problem::new(
            ProblemKind::SshKey,
            format!(
                "cannot pin the bastion's host key in {}: {e}",
                ssh.pins.display()
            ),
            "check that inlet's directory is writable by the user inlet runs as",
        )
    })
}

/// Host key algorithms to ask for, those already on record for this bastion first, so a
/// bastion with several keys presents the one we know (as OpenSSH orders them).
pub(crate) fn preferred_algorithms(ssh: &SshOptions, defaults: &[Algorithm]) -> Vec<Algorithm> {
    let (file, _) = source(ssh);
    let entries = known_hosts::read(file).unwrap_or_default();
    let known: Vec<Algorithm> = known_hosts::entries_for(&entries, &ssh.host, ssh.port)
        .iter()
        .filter(|e| !e.revoked)
        .map(|e| e.key.algorithm())
        .collect();
    let is_known = |a: &Algorithm| {
        known
            .iter()
            .any(|k| k == a || (k.clone().is_rsa() && a.clone().is_rsa()))
    };
    let (mut first, rest): (Vec<Algorithm>, Vec<Algorithm>) =
        defaults.iter().cloned().partition(is_known);
    first.extend(rest);
    first
}

fn mismatch(ssh: &SshOptions, file: &Path, expected: String, presented: &str) -> Problem {
    let name = ssh.known_hosts_name();
    let mut p = Problem::new(
        ProblemKind::SshHostKeyMismatch,
        format!(
            "the bastion {name} presented host key {presented}, which does not match {}: \
             {expected}. Someone may be intercepting the connection, or the bastion's keys \
             were replaced; inlet refused to connect",
            file.display()
        ),
        format!(
            "do not connect until you know why. If the bastion was reinstalled or its keys \
             rotated, check the new fingerprint out of band (on the bastion: `ssh-keygen -lf \
             /etc/ssh/ssh_host_ed25519_key.pub`), then remove the old entry with `ssh-keygen \
             -R '{name}' -f {}`{}",
            file.display(),
            if ssh.known_hosts.is_some() {
                " and add the new key to that file"
            } else {
                ": the next connection pins the new key"
            }
        ),
    );
    p.ssh_detail().host_key_presented = Some(presented.to_string());
    p
}

fn unknown(ssh: &SshOptions, file: &Path, presented: &str) -> Problem {
    let name = ssh.known_hosts_name();
    let mut p = Problem::new(
        ProblemKind::SshHostKeyUnknown,
        format!(
            "the bastion {name} is not listed in the known_hosts file {} (it presented host \
             key {presented}); inlet refused to connect",
            file.display()
        ),
        format!(
            "check the fingerprint out of band (on the bastion: `ssh-keygen -lf \
             /etc/ssh/ssh_host_ed25519_key.pub`), then add the key: `ssh-keyscan -p {} {} >> \
             {}`; or leave out --ssh-known-hosts to pin the key on first use",
            ssh.port,
            ssh.host,
            file.display()
        ),
    );
    p.ssh_detail().host_key_presented = Some(presented.to_string());
    p
}
