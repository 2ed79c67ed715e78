//! The diagnosis vocabulary: every way a connection can fail, in words a person can act on.
//!
//! `ProblemKind` names are a stable contract (`--json` prints them as `problem`); add new
//! kinds, never rename one. README.md documents each.

use std::fmt;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A setting given to inlet is malformed or contradictory (nothing was tried).
    InvalidOption,
    /// The host name does not resolve.
    Dns,
    /// Nothing answered the TCP connection in time: a firewall or routing problem.
    Timeout,
    /// The host answered that nothing listens on that port.
    Refused,
    /// The network says the host cannot be reached (no route).
    Unreachable,
    /// TCP connected, but nothing answered the PostgreSQL handshake in time.
    ServerNotResponding,
    /// The server closed the connection before the session was ready.
    ConnectionLost,
    /// Whatever answered does not speak the PostgreSQL protocol.
    NotPostgres,
    /// TLS was required, but the server does not offer it.
    TlsNotSupportedByServer,
    /// The server refused a connection without TLS, and accepts one with TLS.
    TlsRequiredByServer,
    /// The server's certificate failed verification (unknown CA, wrong host name, expired).
    TlsVerifyFailed,
    /// TLS could not be set up for another reason (protocol, or our client certificate refused).
    TlsHandshakeFailed,
    /// The client certificate or key (`sslcert`/`sslkey`) cannot be used.
    ClientCert,
    /// The server has no `pg_hba.conf` rule admitting this connection as made (SQLSTATE 28000).
    AuthMethodMismatch,
    /// The password was rejected (SQLSTATE 28P01).
    BadPassword,
    /// The server asks for a password and none was given.
    PasswordRequired,
    /// The role does not exist or may not log in.
    UnknownRole,
    /// The database does not exist (SQLSTATE 3D000).
    UnknownDatabase,
    /// The role lacks `CONNECT` on the database (SQLSTATE 42501).
    PermissionDenied,
    /// The server or the role/database limit has no free connection slot (SQLSTATE 53300).
    TooManyConnections,
    /// The server is starting up, shutting down or in recovery (SQLSTATE 57P03).
    ServerStarting,
    /// The server is older than PostgreSQL 10.
    VersionTooOld,
    /// Another inlet process holds this sync's lock.
    AlreadyRunning,
    /// The server refused for a reason not listed above; its own message is included.
    ServerError,
    /// The SSH bastion cannot be reached: its name does not resolve, nothing listens on its
    /// port, or the TCP connection times out.
    SshUnreachable,
    /// The bastion answered, but the SSH handshake did not complete (not an SSH server, no
    /// common algorithms, or it closed the connection).
    SshHandshakeFailed,
    /// The bastion presented a host key other than the pinned or known one.
    SshHostKeyMismatch,
    /// A known_hosts file was given and does not list the bastion.
    SshHostKeyUnknown,
    /// inlet's SSH private key is missing, unreadable, readable by others, or has a passphrase.
    SshKey,
    /// The bastion rejected inlet's key: the public key is not in `authorized_keys`.
    SshAuthRejected,
    /// The bastion refused to forward to the database, or could not reach it.
    SshForwardFailed,
    /// The schema exists and belongs to someone else (or to another sync): inlet will not
    /// sync into it.
    SchemaTaken,
}

impl ProblemKind {
    /// The stable name used in `--json` output and the README.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::InvalidOption => "invalid_option",
            ProblemKind::Dns => "dns",
            ProblemKind::Timeout => "timeout",
            ProblemKind::Refused => "refused",
            ProblemKind::Unreachable => "unreachable",
            ProblemKind::ServerNotResponding => "server_not_responding",
            ProblemKind::ConnectionLost => "connection_lost",
            ProblemKind::NotPostgres => "not_postgres",
            ProblemKind::TlsNotSupportedByServer => "tls_not_supported_by_server",
            ProblemKind::TlsRequiredByServer => "tls_required_by_server",
            ProblemKind::TlsVerifyFailed => "tls_verify_failed",
            ProblemKind::TlsHandshakeFailed => "tls_handshake_failed",
            ProblemKind::ClientCert => "client_cert",
            ProblemKind::AuthMethodMismatch => "auth_method_mismatch",
            ProblemKind::BadPassword => "bad_password",
            ProblemKind::PasswordRequired => "password_required",
            ProblemKind::UnknownRole => "unknown_role",
            ProblemKind::UnknownDatabase => "unknown_database",
            ProblemKind::PermissionDenied => "permission_denied",
            ProblemKind::TooManyConnections => "too_many_connections",
            ProblemKind::ServerStarting => "server_starting",
            ProblemKind::VersionTooOld => "version_too_old",
            ProblemKind::AlreadyRunning => "already_running",
            ProblemKind::ServerError => "server_error",
            ProblemKind::SshUnreachable => "ssh_unreachable",
            ProblemKind::SshHandshakeFailed => "ssh_handshake_failed",
            ProblemKind::SshHostKeyMismatch => "ssh_host_key_mismatch",
            ProblemKind::SshHostKeyUnknown => "ssh_host_key_unknown",
            ProblemKind::SshKey => "ssh_key",
            ProblemKind::SshAuthRejected => "ssh_auth_rejected",
            ProblemKind::SshForwardFailed => "ssh_forward_failed",
            ProblemKind::SchemaTaken => "schema_taken",
        }
    }

    pub const ALL: [ProblemKind; 32] = [
        ProblemKind::InvalidOption,
        ProblemKind::Dns,
        ProblemKind::Timeout,
        ProblemKind::Refused,
        ProblemKind::Unreachable,
        ProblemKind::ServerNotResponding,
        ProblemKind::ConnectionLost,
        ProblemKind::NotPostgres,
        ProblemKind::TlsNotSupportedByServer,
        ProblemKind::TlsRequiredByServer,
        ProblemKind::TlsVerifyFailed,
        ProblemKind::TlsHandshakeFailed,
        ProblemKind::ClientCert,
        ProblemKind::AuthMethodMismatch,
        ProblemKind::BadPassword,
        ProblemKind::PasswordRequired,
        ProblemKind::UnknownRole,
        ProblemKind::UnknownDatabase,
        ProblemKind::PermissionDenied,
        ProblemKind::TooManyConnections,
        ProblemKind::ServerStarting,
        ProblemKind::VersionTooOld,
        ProblemKind::AlreadyRunning,
        ProblemKind::ServerError,
        ProblemKind::SshUnreachable,
        ProblemKind::SshHandshakeFailed,
        ProblemKind::SshHostKeyMismatch,
        ProblemKind::SshHostKeyUnknown,
        ProblemKind::SshKey,
        ProblemKind::SshAuthRejected,
        ProblemKind::SshForwardFailed,
        ProblemKind::SchemaTaken,
    ];
}

/// One diagnosed failure: what happened, and what the person should do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct Problem {
    #[serde(rename = "problem")]
    pub kind: ProblemKind,
    /// What happened, in a sentence.
    pub message: String,
    /// What to do about it, in a sentence or two.
    pub fix: String,
    /// The server's SQLSTATE, when the server itself refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sqlstate: Option<String>,
    /// The server's own words, verbatim, when the server itself refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_message: Option<String>,
    /// Details of an SSH problem, as extra top-level JSON fields.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<Box<SshDetail>>,
}

impl Problem {
    pub fn new(kind: ProblemKind, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Problem {
            kind,
            message: message.into(),
            fix: fix.into(),
            sqlstate: None,
            server_message: None,
            ssh: None,
        }
    }

    pub fn with_server(mut self, sqlstate: &str, server_message: &str) -> Self {
        self.sqlstate = Some(sqlstate.to_string());
        self.server_message = Some(server_message.to_string());
        self
    }
}

/// What an SSH problem adds for a person (or a program) to act on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SshDetail {
    /// inlet's public key line, when the bastion must be given it (`ssh_auth_rejected`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_public_key: Option<String>,
    /// The host key fingerprint(s) on record (`ssh_host_key_mismatch`), e.g. `SHA256:...`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_key_expected: Option<String>,
    /// The fingerprint of the host key the bastion presented (`ssh_host_key_*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_key_presented: Option<String>,
}

impl Problem {
    /// The SSH details, created empty on first use.
    pub fn ssh_detail(&mut self) -> &mut SshDetail {
        self.ssh.get_or_insert_with(Default::default)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once_and_named_as_serialised() {
        let names: std::collections::HashSet<_> =
            ProblemKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), ProblemKind::ALL.len());
        for kind in ProblemKind::ALL {
            let json = serde_json::to_value(kind).expect("a kind serialises");
            assert_eq!(json.as_str(), Some(kind.as_str()));
        }
    }

    #[test]
    fn readme_documents_every_kind() {
        let readme = include_str!("../../../README.md");
        for kind in ProblemKind::ALL {
            assert!(
                readme.contains(&format!("| `{}` |", kind.as_str())),
                "README.md's problem table lacks `{}`",
                kind.as_str()
            );
        }
    }
}
