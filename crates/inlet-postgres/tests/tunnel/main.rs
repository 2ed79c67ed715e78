//! SSH tunnel tests against a real OpenSSH server (the bastion) and real PostgreSQL servers
//! of every version in `INLET_TEST_PG_VERSIONS`.
//!
//! The databases listen only on the loopback of a private network namespace: the bastion,
//! running in that namespace, reaches them; this test process cannot. So a session that
//! works went through the tunnel. One binary, so the namespace and clusters are shared.
//! Needs root (network namespaces), as `scripts/test` and CI run.

mod bastion;
mod failures;
mod host_keys;
mod sessions;
