//! Test kit for inlet: real PostgreSQL clusters (10 to 18) started on demand
//! with chosen `pg_hba.conf` rules and TLS, shared TLS material, wait helpers,
//! misbehaving TCP ports (black holes, silent servers), private networks
//! (network namespaces, and cuts of their link) and real OpenSSH servers as
//! bastions. Used by tests only.
//!
//! Errors are not returned: every helper panics with a message that says what
//! failed, which is what a test wants.
//!
//! Server binaries come from `scripts/fetch-postgres` (see [`bin_dir`]).

// One `unsafe` block only: `CommandExt::pre_exec` in `spawn.rs`, which sets the
// postmaster's parent-death signal so a killed test process leaves no server behind.
#![allow(unsafe_code)]

mod binaries;
mod cert_shapes;
mod cluster;
mod cluster_tls;
mod hba;
mod measure;
mod net;
mod netcut;
mod netns;
mod plain_words;
mod server;
mod shared;
mod spawn;
mod sql;
mod sshd;
mod template;
mod terminal;
mod tls;
mod wait;
mod workdir;

pub use binaries::{bin_dir, versions};
pub use cert_shapes::{server_cert_shapes, ServerCertShape};
pub use cluster::{Cluster, ClusterSpec};
pub use hba::{HbaConn, HbaMethod, HbaRule};
pub use measure::{peak_rss_mb, psql_seconds};
pub use net::{blackhole_port, free_port, silent_port, BlackholePort, SilentPort};
pub use netcut::Cut;
pub use netns::Netns;
pub use plain_words::{assert_plain_words, debug_fragments};
pub use shared::shared;
pub use sshd::{Sshd, SshdSpec};
pub use terminal::Terminal;
pub use tls::TlsMaterial;
pub use wait::{wait_for, wait_until, wait_until_async};
