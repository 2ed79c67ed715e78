//! Where a HubSpot stream stands, as its checkpoint stores it.

use inlet_core::{Checkpoint, ErrorKind, Partitions, SourceError};
use serde::{Deserialize, Serialize};

/// Ids `above < id <= upto` of one object type: a backfill partition, read upward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    pub above: u64,
    pub upto: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Position {
    /// Copying the records that existed at `since_ms`, in id ranges; changes from
    /// `since_ms` on are read by search once every range is done.
    Backfill {
        parts: Partitions<IdRange>,
        since_ms: i64,
    },
    /// Following changes: search windows from `modified_ms`, the archive from
    /// `archived_ms`, the last full reconciliation at `reconciled_ms`; every change before
    /// `complete_ms` is known to be written.
    Live {
        modified_ms: i64,
        archived_ms: i64,
        reconciled_ms: i64,
        complete_ms: i64,
    },
    /// A reference table, last read whole at `read_ms`.
    Snapshot { read_ms: i64 },
}

impl Position {
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint(serde_json::to_value(self).unwrap_or_default())
    }

    pub fn from_checkpoint(c: &Checkpoint) -> Result<Position, SourceError> {
        serde_json::from_value(c.0.clone()).map_err(|_| {
            SourceError::new(
                ErrorKind::CursorExpired,
                "the stream's saved position is not one this version of inlet reads",
            )
        })
    }

    /// The Unix second up to which every change is written.
    pub fn complete_until(&self) -> Option<i64> {
        match self {
            Position::Backfill { .. } => None,
            Position::Live { complete_ms, .. } => Some(complete_ms.div_euclid(1000)),
            Position::Snapshot { read_ms } => Some(read_ms.div_euclid(1000)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_back_as_written_and_junk_asks_for_a_fresh_backfill() {
        let positions = [
            Position::Backfill {
                parts: Partitions::new(vec![IdRange { above: 0, upto: 9 }]),
                since_ms: 5,
            },
            Position::Live {
                modified_ms: 1,
                archived_ms: 2,
                reconciled_ms: 3,
                complete_ms: 4_500,
            },
            Position::Snapshot { read_ms: 7_000 },
        ];
        for p in &positions {
            assert_eq!(
                Position::from_checkpoint(&p.checkpoint()).ok().as_ref(),
                Some(p)
            );
        }
        assert_eq!(positions[1].complete_until(), Some(4));
        let junk = Checkpoint(serde_json::json!({"phase": "nope"}));
        assert_eq!(
            Position::from_checkpoint(&junk).map_err(|e| e.kind),
            Err(ErrorKind::CursorExpired)
        );
    }
}
