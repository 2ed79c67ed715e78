//! SSH failures as problems a person can fix, classified by error type: the OS error of the
//! TCP connection to the bastion, the SSH protocol error, the authentication result, and the
//! reason code of a refused channel (RFC 4254, section 5.1).

use std::io;
use std::time::Duration;

use russh::ChannelOpenFailure;

use super::keys::install_steps;
use super::SshOptions;
use crate::problem::{Problem, ProblemKind};

const REACH_FIX: &str = "check --ssh-host and --ssh-port; from this machine, `nc -vz -w 5 HOST \
                         PORT` must connect. The bastion's firewall or security group must \
                         allow SSH from this machine";

pub(crate) fn dns(ssh: &SshOptions, detail: &str) -> Problem {
    Problem::new(
        ProblemKind::SshUnreachable,
        format!(
            "the bastion's host name \"{}\" could not be resolved: {detail}",
            ssh.host
        ),
        format!(
            "check the spelling of --ssh-host; from this machine, `getent hosts {}` must print \
             an address",
            ssh.host
        ),
    )
}

pub(crate) fn connect(ssh: &SshOptions, e: &io::Error) -> Problem {
    let (host, port) = (&ssh.host, ssh.port);
    let message = match e.kind() {
        io::ErrorKind::ConnectionRefused => format!(
            "the bastion {host} refused the connection on port {port}: no SSH server listens there"
        ),
        io::ErrorKind::TimedOut => format!("the bastion {host}:{port} did not answer in time"),
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            format!("the bastion {host}:{port} is unreachable from this machine: {e}")
        }
        _ => format!("could not connect to the bastion {host}:{port}: {e}"),
    };
    Problem::new(ProblemKind::SshUnreachable, message, fix(ssh, REACH_FIX))
}

pub(crate) fn connect_timeout(ssh: &SshOptions, after: Duration) -> Problem {
    Problem::new(
        ProblemKind::SshUnreachable,
        format!(
            "no answer from the bastion {}:{} within {} s: the connection attempt was neither \
             accepted nor refused",
            ssh.host,
            ssh.port,
            after.as_secs()
        ),
        fix(ssh, REACH_FIX),
    )
}

/// The bastion accepted TCP but the SSH handshake (version, key exchange) failed.
pub(crate) fn handshake(ssh: &SshOptions, e: &russh::Error) -> Problem {
    let target = format!("{}:{}", ssh.host, ssh.port);
    let message = match e {
        russh::Error::Version => format!("{target} answered, but it is not an SSH server"),
        russh::Error::NoCommonAlgo { kind, ours, theirs } => format!(
            "the bastion {target} and inlet share no {} algorithm (inlet offers {}; the \
             bastion {})",
            match kind {
                russh::AlgorithmKind::Kex => "key exchange",
                russh::AlgorithmKind::Key => "host key",
                russh::AlgorithmKind::Cipher => "cipher",
                russh::AlgorithmKind::Compression => "compression",
                russh::AlgorithmKind::Mac => "message authentication (MAC)",
            },
            ours.join(", "),
            theirs.join(", ")
        ),
        russh::Error::Disconnect | russh::Error::HUP => {
            format!("the bastion {target} closed the connection during the SSH handshake")
        }
        russh::Error::IO(io) if io.kind() == io::ErrorKind::InvalidData => {
            format!("{target} answered, but it is not an SSH server ({io})")
        }
        other => format!("the SSH handshake with the bastion {target} failed: {other}"),
    };
    Problem::new(
        ProblemKind::SshHandshakeFailed,
        message,
        "check that --ssh-port is the bastion's SSH port; if the bastion closes connections, \
         its sshd log says why (MaxStartups, AllowUsers, a firewall that resets SSH)",
    )
}

pub(crate) fn handshake_timeout(ssh: &SshOptions, after: Duration) -> Problem {
    Problem::new(
        ProblemKind::SshHandshakeFailed,
        format!(
            "the bastion {}:{} accepted the connection but did not complete the SSH handshake \
             within {} s",
            ssh.host,
            ssh.port,
            after.as_secs()
        ),
        "check that --ssh-port is the bastion's SSH port (not another service) and that the \
         bastion is not overloaded; `ssh -v -p PORT USER@HOST` from this machine shows where it \
         stops",
    )
}

/// The bastion rejected the key: say exactly what to install, and where.
pub(crate) fn auth_rejected(ssh: &SshOptions, public_key: &str) -> Problem {
    let mut p = Problem::new(
        ProblemKind::SshAuthRejected,
        format!(
            "the bastion {}:{} rejected inlet's key ({}) for user \"{}\": the public key is not \
             in that user's ~/.ssh/authorized_keys (or the user does not exist, or may not log \
             in)",
            ssh.host,
            ssh.port,
            ssh.key.display(),
            ssh.user
        ),
        format!(
            "log in to the bastion as \"{}\" and install this public key:\n{}\n(`inlet tunnel \
             show` prints it again.) Or pass --ssh-key with a key that is installed",
            ssh.user,
            install_steps(public_key)
        ),
    );
    p.ssh_detail().ssh_public_key = Some(public_key.to_string());
    p
}

/// The bastion refused the `direct-tcpip` channel to the database.
pub(crate) fn forward(
    ssh: &SshOptions,
    host: &str,
    port: u16,
    why: &ChannelOpenFailure,
) -> Problem {
    let via = format!("the bastion {}:{}", ssh.host, ssh.port);
    let (message, fix) = match why {
        ChannelOpenFailure::AdministrativelyProhibited => (
            format!(
                "{via} refused to forward to {host}:{port}: TCP forwarding is disabled for user \
                 \"{}\" (AllowTcpForwarding no, DisableForwarding), or not permitted to that \
                 host and port (PermitOpen, or permitopen= in authorized_keys)",
                ssh.user
            ),
            format!(
                "on the bastion, allow forwarding for this user in sshd_config (`AllowTcpForwarding \
                 yes`, and `PermitOpen {host}:{port}` if PermitOpen is used) or in the key's \
                 authorized_keys options (`permitopen=\"{host}:{port}\"`), then reload sshd. The \
                 database host must be written as the bastion sees it"
            ),
        ),
        ChannelOpenFailure::ConnectFailed => (
            format!(
                "{via} could not connect to {host}:{port}: the name does not resolve there, \
                 nothing listens on that port, or a firewall between the bastion and the \
                 database refuses it"
            ),
            format!(
                "--host and --port name the database as the bastion sees it; on the bastion, \
                 `nc -vz -w 5 {host} {port}` must connect. Check the database's listen_addresses \
                 and the firewall or security group between them"
            ),
        ),
        other => {
            let reason = match other {
                ChannelOpenFailure::UnknownChannelType => "it does not know that channel type",
                ChannelOpenFailure::ResourceShortage => "it is short of resources",
                ChannelOpenFailure::Other { reason, .. } if !reason.is_empty() => reason,
                _ => "it gave no reason",
            };
            (
                format!(
                    "{via} refused to open a channel to {host}:{port}: {reason} (SSH reason \
                     code {})",
                    other.code()
                ),
                "check the bastion's sshd log for the refusal".to_string(),
            )
        }
    };
    Problem::new(ProblemKind::SshForwardFailed, message, fix)
}

/// The bastion neither connected nor refused within the attempt's time.
pub(crate) fn forward_timeout(ssh: &SshOptions, host: &str, port: u16, after: Duration) -> Problem {
    Problem::new(
        ProblemKind::SshForwardFailed,
        format!(
            "the bastion {}:{} did not connect to {host}:{port} within {} s: something between \
             the bastion and the database drops the traffic",
            ssh.host,
            ssh.port,
            after.as_secs()
        ),
        format!(
            "check the firewall or security group between the bastion and the database; on the \
             bastion, `nc -vz -w 5 {host} {port}` shows the same hang"
        ),
    )
}

fn fix(ssh: &SshOptions, text: &str) -> String {
    text.replace("HOST", &ssh.host)
        .replace("PORT", &ssh.port.to_string())
}
