//! inlet's runtime: everything `inlet run` does, as a library the binary (or a test) drives.
//!
//! It reads the configuration ([`config`], [`sync_config`], [`secrets`], all in the one
//! directory of [`paths`]), builds each sync's source through the connectors' registry
//! ([`sources`]), and runs every sync ([`run`]): reconnecting after a lost destination,
//! pruning the change log, carrying out rebuilds and renames while the sync keeps serving
//! ([`lifecycle`], [`carry_out`]), and serving webhooks, health and metrics ([`server`], [`metrics`]).
//!
//! The contract that matters: a sync is written by one process at a time (the destination's
//! advisory lock), every write is a batch with its checkpoint in one transaction, and
//! stopping lets the batch being written commit first, so a stop or a crash at any instant
//! resumes from the last committed checkpoint with nothing lost or doubled.

// Module docs are written for people reading and extending the source, and name private
// items; `cargo doc --document-private-items` renders those links.
#![allow(rustdoc::private_intra_doc_links)]

pub mod api_token;
pub mod carry_out;
pub mod config;
pub mod connect;
pub mod files;
pub mod lifecycle;
pub mod metrics;
pub mod observer;
pub mod paths;
pub mod readiness;
pub mod reload;
pub mod run;
pub mod secrets;
pub mod server;
pub mod share;
pub mod sources;
pub mod status;
pub mod sync_config;
pub mod workers;

#[cfg(test)]
mod outside_input;
