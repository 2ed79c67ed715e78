//! What a stream looks like in the destination: its table and typed columns.

use serde::{Deserialize, Serialize};

use crate::naming::column_name;

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

/// One stream: a table named `name` with these columns and primary key `key`.
///
/// Most streams are keyed on `id text`, a column every such table has besides `columns`
/// ([`StreamSpec::new`]). A stream keyed on several values (HubSpot's associations) names
/// its key columns among `columns` ([`StreamSpec::keyed`]); its records' ids are their key
/// texts ([`crate::key_text`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSpec {
    /// Table name: the object type, singular snake_case (`customer`, `subscription_item`).
    pub name: String,
    pub columns: Vec<Column>,
    /// The primary key's columns, in order: `["id"]` (the default) for the `id text` column,
    /// or names of `columns` (as the destination names them, [`column_name`]), each `text`
    /// or `bigint`.
    #[serde(default = "id_key")]
    pub key: Vec<String>,
    /// Columns rows are looked up by, besides the key (names of `columns`): each gets an
    /// index. For the lookups the sync itself makes (HubSpot sweeps an association table by
    /// `to_id` when a record is gone) and the joins readers make through it; every index
    /// costs each write, so only those.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lookups: Vec<String>,
}

/// The key of a stream keyed on its `id text` column.
pub const ID_KEY: &str = "id";

fn id_key() -> Vec<String> {
    vec![ID_KEY.to_string()]
}

impl StreamSpec {
    /// A stream keyed on `id text`.
    pub fn new(name: impl Into<String>, columns: Vec<Column>) -> Self {
        StreamSpec {
            name: name.into(),
            columns,
            key: id_key(),
            lookups: Vec::new(),
        }
    }

    /// A stream keyed on `key`, columns of `columns` (text or bigint), in key order.
    pub fn keyed(name: impl Into<String>, columns: Vec<Column>, key: &[&str]) -> Self {
        StreamSpec {
            name: name.into(),
            columns,
            key: key.iter().map(|k| k.to_string()).collect(),
            lookups: Vec::new(),
        }
    }

    /// This stream, with rows also looked up by `column` (see [`StreamSpec::lookups`]).
    pub fn looked_up_by(mut self, column: &str) -> Self {
        self.lookups.push(column.to_string());
        self
    }

    /// The key's columns with their types (`id text` for a stream keyed on `id`), or why
    /// the key cannot be one, in words.
    ///
    /// Key columns are `text` or `bigint`: each has exactly one text form, the same in Rust
    /// and in PostgreSQL, so a key text names one row and the destination can compute it
    /// from the row (numeric `1.0` and `1.00`, a time zone dependent timestamptz, or a
    /// floating point `-0` could not).
    pub fn key_columns(&self) -> Result<Vec<Column>, String> {
        let table = &self.name;
        if self.key == [ID_KEY] {
            return Ok(vec![Column::new(ID_KEY, ColumnType::Text)]);
        }
        if self.key.is_empty() {
            return Err(format!("stream {table} declares no key column"));
        }
        let mut columns: Vec<Column> = Vec::with_capacity(self.key.len());
        for name in &self.key {
            if columns.iter().any(|c| &c.name == name) {
                return Err(format!("stream {table} names key column {name} twice"));
            }
            let Some(column) = self.columns.iter().find(|c| column_name(&c.name) == *name) else {
                return Err(format!(
                    "key column {name} of stream {table} is not one of its columns"
                ));
            };
            if !matches!(column.ty, ColumnType::Text | ColumnType::Bigint) {
                return Err(format!(
                    "key column {name} of stream {table} is {}; a key column is text or bigint",
                    column.ty.sql()
                ));
            }
            columns.push(Column::new(name.clone(), column.ty));
        }
        Ok(columns)
    }
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

    #[test]
    fn streams_are_keyed_on_id_unless_they_name_text_or_bigint_columns() {
        let columns = vec![
            Column::new("from_id", ColumnType::Text),
            Column::new("to_id", ColumnType::Text),
            Column::new("type_id", ColumnType::Bigint),
            Column::new("label", ColumnType::Text),
            Column::new("weight", ColumnType::Numeric),
        ];
        let plain = StreamSpec::new("contact", columns.clone());
        assert_eq!(
            plain.key_columns(),
            Ok(vec![Column::new("id", ColumnType::Text)])
        );
        let keyed = StreamSpec::keyed("assoc", columns.clone(), &["from_id", "to_id", "type_id"]);
        assert_eq!(
            keyed.key_columns(),
            Ok(vec![
                Column::new("from_id", ColumnType::Text),
                Column::new("to_id", ColumnType::Text),
                Column::new("type_id", ColumnType::Bigint),
            ])
        );
        for (key, why) in [
            (&[][..], "declares no key column"),
            (
                &["from_id", "from_id"][..],
                "names key column from_id twice",
            ),
            (
                &["from_id", "missing"][..],
                "key column missing of stream assoc is not one of its columns",
            ),
            (
                &["id", "to_id"][..],
                "key column id of stream assoc is not one of its columns",
            ),
            (
                &["weight"][..],
                "key column weight of stream assoc is numeric; a key column is text or bigint",
            ),
        ] {
            let err = StreamSpec::keyed("assoc", columns.clone(), key).key_columns();
            assert!(
                err.as_ref().is_err_and(|e| e.contains(why)),
                "{key:?}: {err:?}"
            );
        }
    }

    #[test]
    fn specs_stored_before_keys_existed_read_as_keyed_on_id() {
        let old = serde_json::json!({"name": "customer", "columns": []});
        let spec: StreamSpec = serde_json::from_value(old).expect("reads");
        assert_eq!(spec, StreamSpec::new("customer", Vec::new()));
    }
}
