//! Connection tests against real PostgreSQL servers, every version in
//! `INLET_TEST_PG_VERSIONS` (default "10 15 18"). One binary, so clusters are shared.

mod auth;
mod clusters;
mod network;
mod tls;
