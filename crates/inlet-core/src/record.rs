//! Records: one change to one object, with its place in the source's order.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::key::key_text;

/// Where a change sits in the source's order, compared as `(ts_micros, seq)`.
///
/// `ts_micros` is the source's own time for the change (Stripe's event `created`, the time a
/// backfill page was read, Salesforce's `SystemModstamp`, HubSpot's `hs_lastmodifieddate`),
/// in microseconds since the Unix epoch. `seq` orders changes that share a timestamp when the
/// source knows their order (a position in its change feed); 0 otherwise.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Version {
    pub ts_micros: i64,
    pub seq: i64,
}

impl Version {
    pub fn new(ts_micros: i64, seq: i64) -> Self {
        Version { ts_micros, seq }
    }

    /// A version at whole seconds (Stripe's timestamps).
    pub fn from_secs(secs: i64, seq: i64) -> Self {
        Version {
            ts_micros: secs.saturating_mul(1_000_000),
            seq,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// The object's fields as the source returned them (top level of its JSON).
    Upsert(Map<String, Value>),
    /// The object is gone (a hard delete at the source).
    Delete,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The object's identity: its id, or for a stream keyed on several columns its key
    /// text ([`crate::key_text`]), from which the destination fills the key columns, for an
    /// upsert and a delete alike. An upsert's fields need not repeat the key values.
    pub id: String,
    pub version: Version,
    pub change: Change,
}

impl Record {
    pub fn upsert(id: impl Into<String>, version: Version, fields: Map<String, Value>) -> Self {
        Record {
            id: id.into(),
            version,
            change: Change::Upsert(fields),
        }
    }

    pub fn delete(id: impl Into<String>, version: Version) -> Self {
        Record {
            id: id.into(),
            version,
            change: Change::Delete,
        }
    }

    /// An upsert to a stream keyed on several columns: `key` holds its values in key order
    /// (a bigint as its decimal digits).
    pub fn upsert_keyed<S: AsRef<str>>(
        key: &[S],
        version: Version,
        fields: Map<String, Value>,
    ) -> Self {
        Record::upsert(key_text(key), version, fields)
    }

    /// A delete from a stream keyed on several columns: its key values, in key order.
    pub fn delete_keyed<S: AsRef<str>>(key: &[S], version: Version) -> Self {
        Record::delete(key_text(key), version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_by_time_then_sequence() {
        assert!(Version::new(1, 9) < Version::new(2, 0));
        assert!(Version::new(2, 0) < Version::new(2, 1));
        assert_eq!(Version::from_secs(3, 0), Version::new(3_000_000, 0));
        assert_eq!(
            Version::from_secs(i64::MAX, 0).ts_micros,
            i64::MAX,
            "saturates, never wraps"
        );
    }
}
