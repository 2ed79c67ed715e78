//! Where a Salesforce stream stands, as its checkpoint stores it.

use inlet_core::{Checkpoint, ErrorKind, Partitions, Record, SourceError, Version};
use serde::{Deserialize, Serialize};

use super::backfill::StampRange;
use super::bulk::BulkRange;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Position {
    /// Copying the records that were live at `since_ms`, in ranges of `SystemModstamp`;
    /// changes from `since_ms` on are read by the polls that follow.
    Backfill {
        parts: Partitions<StampRange>,
        since_ms: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reconcile: Option<Reconcile>,
    },
    /// The same for an object at or above the Bulk threshold: each range read by a Bulk
    /// API 2.0 query job ([`super::bulk`]).
    Bulk {
        parts: Partitions<BulkRange>,
        since_ms: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reconcile: Option<Reconcile>,
    },
    /// Following changes: each poll reads every record whose `SystemModstamp` is at least
    /// `stamp_ms` less the overlap; getDeleted is read from `deleted_ms`; every change
    /// before `complete_ms` is known to be written.
    Live {
        stamp_ms: i64,
        deleted_ms: i64,
        complete_ms: i64,
        /// Fields no longer readable (deleted, or hidden from the integration user) whose
        /// columns stay, for `inlet sync status` to say so.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        gone: Vec<String>,
    },
}

/// A backfill that reads an object again because getDeleted's log no longer reaches back to
/// where the stream read it: every record it lists is written at least at `floor_ms` (the
/// backfill's start less the overlap), and once it is complete the rows still older than
/// that, records purged unseen, are removed (the batch's sweep).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconcile {
    pub floor_ms: i64,
}

impl Reconcile {
    pub fn floor(&self) -> Version {
        Version::new(self.floor_ms.saturating_mul(1000), 0)
    }

    /// `records` as this pass writes them: none older than the floor, so the sweep keeps
    /// every row the pass listed.
    pub fn raise(&self, mut records: Vec<Record>) -> Vec<Record> {
        let floor = self.floor();
        for record in &mut records {
            if record.version < floor {
                record.version = floor;
            }
        }
        records
    }
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
            Position::Backfill { .. } | Position::Bulk { .. } => None,
            Position::Live { complete_ms, .. } => Some(complete_ms.div_euclid(1000)),
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
                parts: Partitions::new(vec![StampRange {
                    from_ms: 0,
                    upto_ms: 9_000,
                    after: Some((
                        "2013-05-20T20:49:32.000+0000".into(),
                        "001000000000001AAA".into(),
                    )),
                }]),
                since_ms: 5,
                reconcile: None,
            },
            Position::Live {
                stamp_ms: 1,
                deleted_ms: 2,
                complete_ms: 4_500,
                gone: vec!["Called__c".into()],
            },
            Position::Bulk {
                parts: Partitions::new(vec![BulkRange {
                    from_ms: 0,
                    upto_ms: 9_000,
                    planned: true,
                    job: Some("750000000000001AAA".into()),
                    locator: Some("MTAwMDA".into()),
                    skip: 2_000,
                }]),
                since_ms: 5,
                reconcile: Some(Reconcile { floor_ms: 3 }),
            },
        ];
        for p in &positions {
            assert_eq!(
                Position::from_checkpoint(&p.checkpoint()).ok().as_ref(),
                Some(p)
            );
        }
        assert_eq!(positions[0].complete_until(), None);
        assert_eq!(positions[1].complete_until(), Some(4));
        let junk = Checkpoint(serde_json::json!({"phase": "nope"}));
        assert_eq!(
            Position::from_checkpoint(&junk).map_err(|e| e.kind),
            Err(ErrorKind::CursorExpired)
        );
    }
}
