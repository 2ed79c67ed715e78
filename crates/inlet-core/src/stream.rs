//! What a stream looks like in the destination: its table and typed columns.

use serde::{Deserialize, Serialize};

/// The PostgreSQL type of a column (ARCHITECTURE.md, "The destination schema").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Text,
    /// Money amounts and counts.
    Bigint,
    Double,
    /// Decimals given as strings (`unit_amount_decimal`), and integers beyond i64.
    Numeric,
    Boolean,
    /// Unix times.
    Timestamptz,
    /// `metadata`, and anything nested deeper than one level.
    Jsonb,
    /// Lists of scalars.
    TextArray,
    /// Calendar dates sent as `YYYY-MM-DD` (HubSpot and Salesforce `date` fields).
    Date,
    /// Times of day sent as `HH:MM[:SS[.ffffff]]` (Salesforce `time` fields).
    Time,
}

impl ColumnType {
    pub fn sql(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Bigint => "bigint",
            ColumnType::Double => "double precision",
            ColumnType::Numeric => "numeric",
            ColumnType::Boolean => "boolean",
            ColumnType::Timestamptz => "timestamptz",
            ColumnType::Jsonb => "jsonb",
            ColumnType::TextArray => "text[]",
            ColumnType::Date => "date",
            ColumnType::Time => "time",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The column name, already the destination's (flattened, `<field>_id` for references).
    pub name: String,
    pub ty: ColumnType,
}

impl Column {
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Self {
        Column {
            name: name.into(),
            ty,
        }
    }
}

/// One stream: a table named `name` with primary key `id text` and these columns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSpec {
    /// Table name: the object type, singular snake_case (`customer`, `subscription_item`).
    pub name: String,
    pub columns: Vec<Column>,
}

/// Where a stream is: the one spelling of `_sync_state.state`, parsed once where it is read
/// (`pending` → `backfilling` → `live`, or `errored` with its reason beside it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    #[default]
    Pending,
    Backfilling,
    Live,
    Errored,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::Pending,
        Stage::Backfilling,
        Stage::Live,
        Stage::Errored,
    ];

    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Pending => "pending",
            Stage::Backfilling => "backfilling",
            Stage::Live => "live",
            Stage::Errored => "errored",
        }
    }

    /// The stage stored as `text`; `None` for text no version of inlet writes.
    pub fn parse(text: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl crate::engine::StreamState {
    /// The stage this state is stored as.
    pub fn stage(&self) -> Stage {
        use crate::engine::StreamState as S;
        match self {
            S::Pending => Stage::Pending,
            S::Backfilling => Stage::Backfilling,
            S::Live => Stage::Live,
            S::Errored { .. } => Stage::Errored,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_reads_back_as_itself_and_nothing_else_reads() {
        for stage in Stage::ALL {
            assert_eq!(Stage::parse(stage.as_str()), Some(stage));
            assert_eq!(
                serde_json::to_value(stage).ok(),
                Some(serde_json::Value::from(stage.as_str())),
                "serde and the stored text agree"
            );
        }
        assert_eq!(Stage::parse("Live"), None);
        assert_eq!(Stage::parse(""), None);
    }
}
