//! The destination side of inlet: connecting to the user's PostgreSQL, explaining in words
//! a person can act on every way that can fail, and setting it up the safe way (a
//! least-privilege sync user, a read role for people).
//!
//! The contract that matters: [`connect`] speaks every libpq `sslmode` with libpq's meaning,
//! and every failure is a [`Problem`] with a stable [`ProblemKind`], classified by error type
//! and SQLSTATE (never by message text), a message, and a fix. Passwords never appear in
//! either. Through an SSH bastion ([`ssh`]), the same holds: the session runs over an SSH
//! channel, and the bastion's host key is verified (known_hosts, or pinned on first use).

// Module docs are written for people reading and extending the source, and name private
// items; `cargo doc --document-private-items` renders those links.
#![allow(rustdoc::private_intra_doc_links)]

pub mod api_usage;
mod calendar;
mod cell;
mod cert_info;
mod cert_verify;
mod connect;
mod copy_rows;
mod diagnose;
pub mod evolve;
mod key;
pub mod lifecycle;
mod merge;
mod options;
pub mod ownership;
mod peer_name;
mod probe;
mod problem;
pub mod read_role;
pub mod schema_name;
pub mod setup;
pub mod sink;
pub mod sql;
pub mod ssh;
pub mod stream_status;
pub mod swap;
pub mod tables;
mod tls;
mod tls_problem;
mod transport;
pub mod verify;
pub mod workers;
pub mod writer;

pub use connect::{
    connect, open_sessions, version_gate, Session, SessionInfo, TlsInfo, MIN_SERVER_VERSION_NUM,
};
pub use options::{
    ConnectOptions, Environment, RootCert, Secret, SslMode, DEFAULT_APPLICATION_NAME,
    DEFAULT_CONNECT_TIMEOUT,
};
pub use problem::{Problem, ProblemKind, SshDetail};
pub use read_role::sql_problem;
