//! From HubSpot's properties API to typed columns (issue #14, item 4): `number` → numeric
//! (the exact text kept), `datetime` → timestamptz, `date` → date, `bool` → boolean,
//! multi-select enumerations (`fieldType` `checkbox`, values joined by `;`) → text[],
//! everything else → text. Columns come from the properties API, never from the few
//! properties a list returns by default. A value that does not fit its column is reported
//! (it belongs in `_sync_extra`), never dropped and never a panic.

use serde_json::Value;

use super::time::{date, is_midnight, parse_ms};

/// The column a property lands in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PropertyColumn {
    Text,
    Numeric,
    Timestamptz,
    Date,
    Boolean,
    TextArray,
}

impl PropertyColumn {
    /// The column for a property's `type` and `fieldType`.
    pub fn of(kind: &str, field_type: &str) -> PropertyColumn {
        match (kind, field_type) {
            ("number", _) => PropertyColumn::Numeric,
            ("datetime", _) => PropertyColumn::Timestamptz,
            ("date", _) => PropertyColumn::Date,
            ("bool", _) => PropertyColumn::Boolean,
            ("enumeration", "booleancheckbox") => PropertyColumn::Boolean,
            ("enumeration", "checkbox") => PropertyColumn::TextArray,
            _ => PropertyColumn::Text,
        }
    }

    pub fn sql(self) -> &'static str {
        match self {
            PropertyColumn::Text => "text",
            PropertyColumn::Numeric => "numeric",
            PropertyColumn::Timestamptz => "timestamptz",
            PropertyColumn::Date => "date",
            PropertyColumn::Boolean => "boolean",
            PropertyColumn::TextArray => "text[]",
        }
    }
}

/// One property as the properties API describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    pub label: String,
    pub kind: String,
    pub field_type: String,
    /// Enumeration options: `(value, label)` in display order.
    pub options: Vec<(String, String)>,
}

impl Property {
    pub fn column(&self) -> PropertyColumn {
        PropertyColumn::of(&self.kind, &self.field_type)
    }
}

/// Why a properties answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("the properties API answered without a `results` list")]
    NoResults,
    #[error("property {index} of the properties API answer has no `{field}`")]
    Missing { index: usize, field: &'static str },
}

/// Reads `GET /crm/v3/properties/{type}`'s answer.
pub fn parse_properties(body: &Value) -> Result<Vec<Property>, SchemaError> {
    let results = body
        .get("results")
        .and_then(Value::as_array)
        .ok_or(SchemaError::NoResults)?;
    results
        .iter()
        .enumerate()
        .map(|(index, p)| {
            let text = |field: &'static str| {
                p.get(field)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or(SchemaError::Missing { index, field })
            };
            let options = p
                .get("options")
                .and_then(Value::as_array)
                .map(|options| {
                    options
                        .iter()
                        .filter_map(|o| {
                            Some((
                                o.get("value")?.as_str()?.to_string(),
                                o.get("label")?.as_str()?.to_string(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Ok(Property {
                name: text("name")?,
                label: text("label").unwrap_or_default(),
                kind: text("type")?,
                field_type: text("fieldType").unwrap_or_default(),
                options,
            })
        })
        .collect()
}

/// A value ready for its column.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    /// The exact decimal text HubSpot sent (PostgreSQL `numeric` keeps every digit).
    Numeric(String),
    /// Unix milliseconds.
    Timestamp(i64),
    /// `YYYY-MM-DD`.
    Date(String),
    Bool(bool),
    Array(Vec<String>),
}

/// A value that does not fit its column: kept as text elsewhere, and counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {column} value")]
pub struct Misfit {
    pub value: String,
    pub column: &'static str,
}

fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match digits.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['-', '+']).unwrap_or(e))),
        None => (digits, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    (!whole.is_empty() || !fraction.is_empty())
        && all_digits(whole)
        && all_digits(fraction)
        && exponent.is_none_or(|e| !e.is_empty() && all_digits(e))
}

/// Converts one property value (always a string, or absent/null) for its column. Empty
/// strings are no value, as HubSpot treats them.
pub fn cell(column: PropertyColumn, raw: Option<&str>) -> Result<Cell, Misfit> {
    let Some(text) = raw.filter(|t| !t.is_empty()) else {
        return Ok(Cell::Null);
    };
    let misfit = || Misfit {
        value: text.to_string(),
        column: column.sql(),
    };
    match column {
        PropertyColumn::Text => Ok(Cell::Text(text.to_string())),
        PropertyColumn::Numeric => {
            let trimmed = text.trim();
            if is_decimal(trimmed) {
                Ok(Cell::Numeric(trimmed.to_string()))
            } else {
                Err(misfit())
            }
        }
        PropertyColumn::Timestamptz => parse_ms(text).map(Cell::Timestamp).ok_or_else(misfit),
        PropertyColumn::Date => match parse_ms(text) {
            Some(ms) if is_midnight(ms) => Ok(Cell::Date(date(ms))),
            _ => Err(misfit()),
        },
        PropertyColumn::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Cell::Bool(true)),
            "false" => Ok(Cell::Bool(false)),
            _ => Err(misfit()),
        },
        PropertyColumn::TextArray => Ok(Cell::Array(
            text.split(';')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        )),
    }
}

/// What changed between two readings of a type's properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaChange {
    /// A new property: a new column, added in place.
    Added {
        name: String,
        column: PropertyColumn,
    },
    /// A property whose column type changed: the rebuild flow.
    Retyped {
        name: String,
        from: PropertyColumn,
        to: PropertyColumn,
    },
}

/// The changes from `before` to `after` (removed properties keep their column: no change).
pub fn diff(before: &[Property], after: &[Property]) -> Vec<SchemaChange> {
    after
        .iter()
        .filter_map(|p| match before.iter().find(|b| b.name == p.name) {
            None => Some(SchemaChange::Added {
                name: p.name.clone(),
                column: p.column(),
            }),
            Some(b) if b.column() != p.column() => Some(SchemaChange::Retyped {
                name: p.name.clone(),
                from: b.column(),
                to: p.column(),
            }),
            Some(_) => None,
        })
        .collect()
}

/// The rows of a property-options table: `(property, value, label, display order)`, so
/// enumeration labels are queryable next to the internal values the records hold.
pub fn option_rows(properties: &[Property]) -> Vec<(String, String, String, usize)> {
    properties
        .iter()
        .flat_map(|p| {
            p.options
                .iter()
                .enumerate()
                .map(|(i, (value, label))| (p.name.clone(), value.clone(), label.clone(), i))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn property(name: &str, kind: &str, field_type: &str) -> Property {
        Property {
            name: name.into(),
            label: name.into(),
            kind: kind.into(),
            field_type: field_type.into(),
            options: Vec::new(),
        }
    }

    #[test]
    fn property_types_map_to_the_issue_columns() {
        let cases = [
            ("number", "number", PropertyColumn::Numeric),
            ("datetime", "date", PropertyColumn::Timestamptz),
            ("date", "date", PropertyColumn::Date),
            ("bool", "booleancheckbox", PropertyColumn::Boolean),
            ("enumeration", "booleancheckbox", PropertyColumn::Boolean),
            ("enumeration", "checkbox", PropertyColumn::TextArray),
            ("enumeration", "select", PropertyColumn::Text),
            ("phone_number", "phonenumber", PropertyColumn::Text),
            ("string", "textarea", PropertyColumn::Text),
            ("object_coordinates", "text", PropertyColumn::Text),
        ];
        for (kind, field, want) in cases {
            assert_eq!(PropertyColumn::of(kind, field), want, "{kind}/{field}");
        }
    }

    #[test]
    fn values_convert_or_are_reported_as_misfits() {
        use PropertyColumn as C;
        assert_eq!(
            cell(C::Numeric, Some("12345678901234567890.125")),
            Ok(Cell::Numeric("12345678901234567890.125".into()))
        );
        assert_eq!(
            cell(C::Numeric, Some("-1e5")),
            Ok(Cell::Numeric("-1e5".into()))
        );
        assert!(cell(C::Numeric, Some("12 apples")).is_err());
        assert!(cell(C::Numeric, Some(".")).is_err());
        assert_eq!(
            cell(C::Timestamptz, Some("2019-10-30T03:30:17.883Z")),
            Ok(Cell::Timestamp(1_572_406_217_883))
        );
        assert_eq!(
            cell(C::Timestamptz, Some("1572406217883")),
            Ok(Cell::Timestamp(1_572_406_217_883))
        );
        assert_eq!(
            cell(C::Date, Some("2019-10-31")),
            Ok(Cell::Date("2019-10-31".into()))
        );
        assert_eq!(
            cell(C::Date, Some("1572480000000")),
            Ok(Cell::Date("2019-10-31".into()))
        );
        assert!(
            cell(C::Date, Some("1572480000001")).is_err(),
            "dates are midnight UTC"
        );
        assert_eq!(cell(C::Boolean, Some("TRUE")), Ok(Cell::Bool(true)));
        assert!(cell(C::Boolean, Some("yes")).is_err());
        assert_eq!(
            cell(C::TextArray, Some("a;b;;c")),
            Ok(Cell::Array(vec!["a".into(), "b".into(), "c".into()]))
        );
        assert_eq!(cell(C::Numeric, Some("")), Ok(Cell::Null));
        assert_eq!(cell(C::Text, None), Ok(Cell::Null));
        let misfit = cell(C::Boolean, Some("maybe")).expect_err("misfit");
        assert_eq!(misfit.to_string(), "\"maybe\" is not a valid boolean value");
    }

    #[test]
    fn properties_parse_and_diff_into_added_and_retyped() {
        let body = json!({"results": [
            {"name": "email", "label": "Email", "type": "string", "fieldType": "text", "options": []},
            {"name": "stage", "label": "Stage", "type": "enumeration", "fieldType": "select",
             "options": [{"value": "lead", "label": "Lead"}, {"value": "customer", "label": "Customer"}]},
        ]});
        let before = parse_properties(&body).expect("parse");
        assert_eq!(
            option_rows(&before),
            vec![
                ("stage".into(), "lead".into(), "Lead".into(), 0),
                ("stage".into(), "customer".into(), "Customer".into(), 1),
            ]
        );
        let mut after = before.clone();
        after[1] = property("stage", "enumeration", "checkbox");
        after.push(property("score", "number", "number"));
        assert_eq!(
            diff(&before, &after),
            vec![
                SchemaChange::Retyped {
                    name: "stage".into(),
                    from: PropertyColumn::Text,
                    to: PropertyColumn::TextArray
                },
                SchemaChange::Added {
                    name: "score".into(),
                    column: PropertyColumn::Numeric
                },
            ]
        );
        assert_eq!(parse_properties(&json!({})), Err(SchemaError::NoResults));
        assert_eq!(
            parse_properties(&json!({"results": [{"label": "x"}]})),
            Err(SchemaError::Missing {
                index: 0,
                field: "name"
            })
        );
    }
}
