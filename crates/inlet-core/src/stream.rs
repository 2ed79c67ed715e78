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
