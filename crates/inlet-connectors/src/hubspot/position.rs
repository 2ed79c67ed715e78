//! Where a HubSpot stream stands, as its checkpoint stores it.

use inlet_core::{Checkpoint, ErrorKind, Partitions, SourceError};
use serde::{Deserialize, Serialize};

/// Ids `above < id <= upto` of one object type, read upward by search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    pub above: u64,
    pub upto: u64,
    /// After its next page, the list reads the rest, from a cursor made of an id that page
    /// found ([`super::listed`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub list: bool,
}

/// Ids `last < id <= upto` of one object type, read by the list endpoint from where the
/// list stands: from the first record, from a cursor the list gave, or from one inlet made
/// of the id `last` ([`super::listed`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    /// The list's cursor for the next page (`None`: the first page).
    pub after: Option<String>,
    /// The highest id listed so far (0: none yet), or the id below the range.
    pub last: u64,
    pub upto: u64,
    /// `after` was made by inlet of the id `last`, and the list has not yet been seen to
    /// take it as that: the first record it gives above `last` must be this one, which
    /// search found there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<u64>,
    /// With `expect`: the list's own cursor from that record on, which the range goes on
    /// from if the made cursor is not taken (a list that takes only its own cursors still
    /// lists it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own: Option<String>,
}

impl Listed {
    /// The highest id read: the record search found for a made cursor, else the last listed.
    pub fn read(&self) -> u64 {
        self.expect.unwrap_or(self.last)
    }
}

/// A backfill partition. Untagged, so a checkpoint written before lists were read (its
/// partitions plain `{"above", "upto"}` ranges) still reads back: as searched ranges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Part {
    Listed(Listed),
    Searched(IdRange),
}

impl Part {
    /// Read by the list, or to be handed to it after a search page.
    pub fn for_list(&self) -> bool {
        matches!(
            self,
            Part::Listed(_) | Part::Searched(IdRange { list: true, .. })
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Position {
    /// Copying the records that existed at `since_ms`, in id ranges; changes from
    /// `since_ms` on are read by search once every range is done.
    Backfill {
        parts: Partitions<Part>,
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
                parts: Partitions::new(vec![
                    Part::Listed(Listed {
                        after: Some("MTAx".into()),
                        last: 100,
                        upto: 400,
                        expect: None,
                        own: None,
                    }),
                    Part::Listed(Listed {
                        after: None,
                        last: 0,
                        upto: 400,
                        expect: None,
                        own: None,
                    }),
                    Part::Listed(Listed {
                        after: Some("NDAwCg==".into()),
                        last: 400,
                        upto: 500,
                        expect: Some(401),
                        own: None,
                    }),
                    Part::Searched(IdRange {
                        above: 500,
                        upto: 900,
                        list: false,
                    }),
                ]),
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

    #[test]
    fn a_backfill_saved_before_lists_were_read_resumes_as_searched_ranges() {
        // As a checkpoint of the search-only backfill stored it.
        let old = Checkpoint(serde_json::json!({
            "phase": "backfill",
            "parts": {"open": [{"above": 0, "upto": 500}, {"above": 700, "upto": 900}], "done": 3},
            "since_ms": 42,
        }));
        let Ok(Position::Backfill { parts, since_ms }) = Position::from_checkpoint(&old) else {
            panic!("an old backfill reads back")
        };
        assert_eq!(since_ms, 42);
        assert_eq!(parts.done, 3);
        assert_eq!(
            parts.open,
            vec![
                Part::Searched(IdRange {
                    above: 0,
                    upto: 500,
                    list: false,
                }),
                Part::Searched(IdRange {
                    above: 700,
                    upto: 900,
                    list: false,
                }),
            ]
        );
    }
}
