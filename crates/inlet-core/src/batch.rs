//! Batches and checkpoints: the unit the writer makes durable in one transaction.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::record::Record;

/// Where a stream's reading resumes. Opaque to the writer, meaningful to its source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Checkpoint(pub Value);

/// Whether a batch is part of the initial copy or of the live change feed (the change log,
/// `_sync_event`, records live changes only, unless configured to include the backfill).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Backfill,
    Live,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub records: Vec<Record>,
    /// True once `records` are written; stored in the same transaction.
    pub checkpoint: Checkpoint,
    pub phase: Phase,
}
