//! inlet's sources: one shared HTTP scaffold ([`http`]) and a connector per SaaS API, each
//! with the same files (`client.rs`, `schema.rs`, `streams.rs`, `backfill.rs`, `live.rs`,
//! `webhook.rs`), so anyone knows where to look.
//!
//! The contract that matters: a connector's batches carry the checkpoint that is true once
//! they are written, and every record's version orders it against every other change to
//! the same object, whichever path (backfill or live) produced it.

// Module docs are written for people reading and extending the source, and name private
// items; `cargo doc --document-private-items` renders those links.
#![allow(rustdoc::private_intra_doc_links)]

mod backfilling;
mod beside;
pub mod http;
pub mod hubspot;
pub mod json;
pub mod registry;
pub mod salesforce;
pub mod stripe;
