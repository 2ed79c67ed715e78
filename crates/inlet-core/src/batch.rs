//! Batches and checkpoints: the unit the writer makes durable in one transaction.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::record::{Record, Version};
use crate::stream::Column;

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
    /// Set on the batch that completes a full listing of the stream (a backfill): every
    /// record of that listing had at least this version, so a row older than this was not
    /// listed: the source no longer has it, and it is deleted in the same transaction. This
    /// is how a backfill after a gap (an expired cursor) catches deletes it never saw.
    pub sweep: Option<Version>,
    /// Narrows [`Batch::sweep`] to the rows whose column `column` holds one of `values`:
    /// the batch is a re-read of that part of the stream (one record's associations, say)
    /// and holds every row the source now has there.
    pub sweep_within: Option<SweepWithin>,
    /// The source's estimate of how much of its backfill is done once this batch is
    /// written, from 0 to 1 (`None`: it cannot tell). For progress and an ETA only.
    pub progress: Option<f64>,
    /// Set when the stream's columns changed at the source since it was discovered (a field
    /// added, or one whose type changed): every column as the source now declares it. The
    /// writer adds the new ones with their declared types before writing `records`; a column
    /// whose type changed is reported and the sync rebuilds (a table's column never changes
    /// type under its readers).
    pub columns: Option<Vec<Column>>,
}

/// The part of a stream a [`Batch::sweep`] covers: rows whose `column` is one of `values`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepWithin {
    pub column: String,
    pub values: Vec<String>,
}

impl Batch {
    /// A batch of `records` that leaves the stream at `checkpoint`.
    pub fn new(records: Vec<Record>, checkpoint: Checkpoint, phase: Phase) -> Self {
        Batch {
            records,
            checkpoint,
            phase,
            sweep: None,
            sweep_within: None,
            progress: None,
            columns: None,
        }
    }
}
