//! inlet's sync contract, shared by every source and the writer.
//!
//! A [`Source`] describes its streams ([`StreamSpec`]) and reads one stream from a
//! [`Checkpoint`] as a stream of [`Batch`]es. Each batch carries its records and the
//! checkpoint that becomes true once those records are written: the writer stores both in
//! one transaction, so a crash anywhere means "resume from the last committed checkpoint",
//! and replaying a batch changes nothing.
//!
//! **Partitioned backfills.** A source whose list can be cut into ranges of its ordering
//! (Stripe `created` windows, HubSpot id or date windows, Salesforce result chunks) reads
//! its backfill as independent [`Partitions`] through [`read_partitions`]: it supplies a
//! [`PartitionReader`] (read one page of a range, split a range, how many pages to have in
//! flight) and stores the partition set it is given with each page in that batch's
//! checkpoint. The stream's one exactly-once write path stays: a batch and the set it
//! leaves commit together, so after a crash every partition resumes at its own position and
//! a split is durable exactly when the batch that decided it is. The contract a connector
//! keeps (see [`source`](Source)): record the change feed's position *before* the first
//! partition is read and follow changes from there once every partition is complete, put
//! the sweep on the batch that completes the last partition (so it sees the whole stream),
//! and emit live batches only after it. Concurrency comes from the sync's request budget
//! and the latency observed (about latency × rate requests in flight), never a constant.
//!
//! **Keys.** A stream's table is keyed on `id text` unless its [`StreamSpec::key`] names
//! other columns (text or bigint); a record's [`Record::id`] is then its [`key_text`], one
//! unambiguous text for the key values, which the destination's change log also shows. A
//! stream looked up by other columns, by the source itself (a [`SweepWithin`] on them) or
//! by the joins its readers make, names them in [`StreamSpec::lookups`]: each gets an index.
//!
//! Every record carries a source [`Version`]. The writer never lets an older version
//! overwrite a newer one, and on a tie the later-applied change wins, so a tie never loses
//! the later change.

// Module docs are written for people reading and extending the source, and name private
// items; `cargo doc --document-private-items` renders those links.
#![allow(rustdoc::private_intra_doc_links)]

mod batch;
pub mod calendar;
mod engine;
mod error;
mod key;
mod naming;
mod partition;
mod record;
mod retry;
mod source;
mod stream;

pub use batch::{Batch, Checkpoint, Phase, SweepWithin};
pub use engine::{run_stream, run_sync, EngineError, Outcome, Sink, StreamState};
pub use error::{Action, ErrorKind, SourceError};
pub use key::{key_text, key_values};
pub use naming::{column_name, MAX_IDENTIFIER_BYTES};
pub use partition::{read_partitions, PartitionPage, PartitionReader, PartitionStep, Partitions};
pub use record::{Change, Record, Version};
pub use retry::{
    retry_in_place, Curve, ServerWord, DESTINATION, IN_PLACE, IN_PLACE_ATTEMPTS, MAX_IN_PLACE_WAIT,
    MAX_SERVER_WAIT, STREAM,
};
pub use source::{BatchStream, Discovery, Source};
pub use stream::{Column, ColumnType, Stage, StreamSpec, ID_KEY};
