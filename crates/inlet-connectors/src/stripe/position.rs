//! Where a Stripe stream stands: the checkpoint stored with each batch.

use inlet_core::{Checkpoint, ErrorKind, Partitions, SourceError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::partition::Window;

/// A place in a newest-first list: an object's id and its `created` second. Without an id
/// (an account with no events yet), the place is "from `created` on".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub id: Option<String>,
    pub created: i64,
}

impl Cursor {
    pub fn of(object: &Map<String, Value>) -> Cursor {
        Cursor {
            id: object.get("id").and_then(Value::as_str).map(String::from),
            created: object.get("created").and_then(Value::as_i64).unwrap_or(0),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Copying the list in `created` windows read concurrently (see [`super::partition`]).
    /// `events` is where live changes are read from, so nothing changed during the backfill
    /// is missed: the second before the first page was served (no `id`), until the newest
    /// event older than that second is found; in checkpoints of older versions, the newest
    /// event when the backfill began.
    Partitioned {
        events: Cursor,
        /// The windows still to read, each at its own place, and how many are done.
        parts: Partitions<Window>,
        /// The newest object when the backfill began, for streams that follow their list.
        head: Option<Cursor>,
        /// Stripe's clock when the backfill began: when its first page was served (see
        /// `Backfill::since`).
        since: i64,
        /// The oldest second the backfill reads (the account's opening), for progress.
        from: i64,
    },
    /// Copying the list from one cursor (checkpoints written before partitions; read as
    /// one window). `events` is the newest event when the backfill began: live
    /// changes are read from there, so nothing changed during the backfill is missed.
    Backfill {
        events: Cursor,
        /// The last object copied (the list resumes after it).
        after: Option<Cursor>,
        /// The newest object of the list, for streams that follow their list afterwards.
        head: Option<Cursor>,
        /// Stripe's clock when the backfill began. Every object it copies is stored with a
        /// version from then on, so when it ends, rows older than this were not listed:
        /// Stripe no longer has them (deleted while inlet could not follow events).
        since: i64,
    },
    /// Following the events feed after `events`. `checked`: Stripe's clock when the
    /// feed was last read to its end (the stream is complete up to then).
    Live { events: Cursor, checked: i64 },
    /// Following the list itself (no events exist): objects newer than `newest`.
    /// `checked`: this machine's clock when the list was last read (0 in older checkpoints).
    LiveList {
        newest: Option<Cursor>,
        #[serde(default)]
        checked: i64,
    },
}

/// Stripe's second up to which a stream stored at `checkpoint` is known complete: every
/// change made before it is applied. `None` while backfilling (or for older checkpoints).
pub fn complete_until(checkpoint: &Checkpoint) -> Option<i64> {
    match Position::from_checkpoint(checkpoint).ok()? {
        Position::Live { checked, .. } | Position::LiveList { checked, .. } if checked > 0 => {
            Some(checked)
        }
        _ => None,
    }
}

/// A partitioned backfill's (partitions complete, in all so far) at `checkpoint`.
pub fn partitions(checkpoint: &Checkpoint) -> Option<(u32, u32)> {
    match Position::from_checkpoint(checkpoint).ok()? {
        Position::Partitioned { parts, .. } => Some(parts.counts()),
        _ => None,
    }
}

impl Position {
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint(serde_json::to_value(self).unwrap_or(Value::Null))
    }

    /// The position a stored checkpoint names. One this version cannot read means the
    /// stream starts over (a fresh backfill), which is always correct, never wrong data.
    pub fn from_checkpoint(c: &Checkpoint) -> Result<Position, SourceError> {
        serde_json::from_value(c.0.clone()).map_err(|e| {
            SourceError::new(
                ErrorKind::CursorExpired,
                format!("the stored checkpoint is not one this inlet reads ({e}); the stream backfills again"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_through_checkpoints() {
        let p = Position::Backfill {
            events: Cursor {
                id: None,
                created: 5,
            },
            after: Some(Cursor {
                id: Some("cus_1".into()),
                created: 4,
            }),
            head: None,
            since: 5,
        };
        assert_eq!(
            Position::from_checkpoint(&p.checkpoint()).expect("reads"),
            p
        );
        let e = Position::from_checkpoint(&Checkpoint(serde_json::json!({"v0": 1})))
            .expect_err("unknown");
        assert_eq!(e.kind, ErrorKind::CursorExpired);
    }
}
