//! SSH tunnels: reaching a database in a private network through a bastion host, natively
//! (no `ssh -L` subprocess).
//!
//! The PostgreSQL session runs over an SSH `direct-tcpip` channel to the database host *as
//! the bastion sees it*; TLS and the startup run inside the channel exactly as over TCP, so
//! `verify-full` checks the database's host name, never the bastion's.
//!
//! The contracts that matter:
//! * the bastion's host key is verified before anything else is sent: against a known_hosts
//!   file when one is given, else against the key pinned on first use; a mismatch is
//!   refused, never accepted silently ([`host_key`]);
//! * one SSH session per bastion, user and key serves every connection of the process, and
//!   a dead session (noticed by keepalives, or by a channel that cannot be opened) is
//!   replaced on the next connection attempt ([`tunnel`]).

pub(crate) mod diagnose;
mod host_key;
pub mod keys;
pub mod known_hosts;
mod tunnel;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use host_key::HostKeyTrust;
pub(crate) use tunnel::open_channel;
pub use tunnel::{has_live_session, session};

/// The SSH port when none is given.
pub const DEFAULT_SSH_PORT: u16 = 22;
/// How long the bastion may stay silent before a keepalive asks whether it is still there.
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
/// Unanswered keepalives after which a session is declared dead.
pub const KEEPALIVE_MAX_MISSED: usize = 3;

/// How to reach the database through a bastion. A plain value: it (de)serialises as the
/// `ssh` part of a destination (`keepalive_interval` in whole seconds).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SshOptions {
    /// The bastion's host name or address, as this machine reaches it.
    pub host: String,
    /// The bastion's SSH port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// The user inlet logs in as on the bastion.
    pub user: String,
    /// inlet's private key: OpenSSH (or PEM) format, no passphrase, not readable by others.
    /// By default `ssh/id_ed25519` (else `ssh/id_rsa`) in inlet's directory.
    pub key: PathBuf,
    /// An OpenSSH known_hosts file that must list the bastion's host key (plain, `[host]:port`
    /// and hashed entries). When unset, the key is pinned on first use in `pins`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
    /// Where host keys are pinned on first use: inlet's own `known_hosts` file (OpenSSH
    /// format), beside its config file.
    pub pins: PathBuf,
    /// Send a keepalive when the bastion has been silent this long; after
    /// [`KEEPALIVE_MAX_MISSED`] unanswered ones the session is dropped and replaced.
    #[serde(default = "default_keepalive", with = "whole_seconds")]
    pub keepalive_interval: Duration,
}

impl SshOptions {
    /// A bastion on port 22 with the default keepalive, pinning host keys in `pins`.
    pub fn new(
        host: impl Into<String>,
        user: impl Into<String>,
        key: PathBuf,
        pins: PathBuf,
    ) -> Self {
        SshOptions {
            host: host.into(),
            port: DEFAULT_SSH_PORT,
            user: user.into(),
            key,
            known_hosts: None,
            pins,
            keepalive_interval: DEFAULT_KEEPALIVE_INTERVAL,
        }
    }

    /// `user@host:port`, for messages.
    pub fn target(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }

    /// The host as OpenSSH writes it in known_hosts: `host`, or `[host]:port` off port 22.
    pub fn known_hosts_name(&self) -> String {
        known_hosts::host_name(&self.host, self.port)
    }
}

/// The route a session took through a bastion, reported with the session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SshRoute {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// `SHA256:...`, as `ssh-keygen -lf` prints it.
    pub host_key_fingerprint: String,
    /// Why the host key was trusted.
    pub host_key: HostKeyTrust,
    /// The known_hosts file that vouched for the key, or now holds its pin.
    pub host_key_file: PathBuf,
}

fn default_port() -> u16 {
    DEFAULT_SSH_PORT
}

fn default_keepalive() -> Duration {
    DEFAULT_KEEPALIVE_INTERVAL
}

mod whole_seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = u64::deserialize(d)?;
        if secs == 0 {
            return Err(serde::de::Error::custom(
                "keepalive_interval must be at least 1 second",
            ));
        }
        Ok(Duration::from_secs(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_round_trip_through_json_with_defaults() {
        let o: SshOptions = serde_json::from_value(serde_json::json!({
            "host": "bastion.example.com",
            "user": "inlet",
            "key": "/etc/inlet/ssh/id_ed25519",
            "pins": "/etc/inlet/known_hosts",
        }))
        .expect("minimal ssh options parse");
        assert_eq!(o.port, 22);
        assert_eq!(o.keepalive_interval, DEFAULT_KEEPALIVE_INTERVAL);
        assert_eq!(o.known_hosts, None);
        let again: SshOptions =
            serde_json::from_value(serde_json::to_value(&o).expect("serialises"))
                .expect("parses back");
        assert_eq!(again, o);
        assert_eq!(o.target(), "inlet@bastion.example.com:22");
    }

    #[test]
    fn zero_keepalive_is_refused() {
        let r: Result<SshOptions, _> = serde_json::from_value(serde_json::json!({
            "host": "b", "user": "u", "key": "k", "pins": "p", "keepalive_interval": 0,
        }));
        assert!(r.is_err());
    }
}
