//! Faithful fakes of the SaaS APIs inlet syncs from, for tests, benchmarks and `inlet demo`.
//!
//! The contract that matters: what a fake serves over HTTP and what it says is the truth
//! ([`stripe::FakeStripe::objects`]) are the same data, so a test can compare a sync's
//! result with the truth exactly. Lists, cursors, events and errors follow the real API's
//! documented behaviour, including its inconvenient parts (newest-first lists, truncated
//! nested lists, canceled subscriptions hidden by default).

// Module docs are written for people reading and extending the source, and name private
// items; `cargo doc --document-private-items` renders those links.
#![allow(rustdoc::private_intra_doc_links)]
// The generators list every field of an object in one `json!`, which nests deeply.
#![recursion_limit = "512"]

pub mod cli;
mod delivery;
pub mod demo;
pub mod hubspot;
pub mod knobs;
pub mod salesforce;
mod serve;
pub mod stripe;
mod ticks;
