//! From a JSON value to a PostgreSQL binary COPY value, by column type.
//!
//! A value that does not fit its column (a string in a bigint column, an integer beyond
//! i64) is not dropped and not coerced: [`Cell::from_json`] returns `None`, and the writer
//! keeps the value in the row's `_sync_extra` jsonb column, where it stays readable.
//! NUL characters, which PostgreSQL text and jsonb cannot hold, become U+FFFD.

use std::error::Error;

use bytes::BytesMut;
use inlet_core::ColumnType;
use postgres_protocol::types as pg;
use serde_json::Value;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

/// Seconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_OFFSET_SECS: i64 = 946_684_800;

#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Bigint(i64),
    Double(f64),
    /// A decimal, already validated (`-?digits[.digits]`).
    Numeric(String),
    Boolean(bool),
    /// Microseconds since the Unix epoch.
    Timestamptz(i64),
    Jsonb(String),
    TextArray(Vec<String>),
}

impl Cell {
    /// The cell for `value` in a column of type `ty`, or `None` if it does not fit.
    pub fn from_json(value: &Value, ty: ColumnType) -> Option<Cell> {
        if value.is_null() {
            return Some(Cell::Null);
        }
        match ty {
            ColumnType::Text => match value {
                Value::String(s) => Some(Cell::Text(clean(s))),
                Value::Number(n) => Some(Cell::Text(n.to_string())),
                Value::Bool(b) => Some(Cell::Text(b.to_string())),
                _ => None,
            },
            ColumnType::Bigint => value.as_i64().map(Cell::Bigint),
            ColumnType::Double => value.as_f64().filter(|f| f.is_finite()).map(Cell::Double),
            ColumnType::Numeric => {
                let text = match value {
                    Value::Number(n) => n.to_string(),
                    Value::String(s) => s.trim().to_string(),
                    _ => return None,
                };
                let valid = numeric_digits(&text).is_some();
                valid.then_some(Cell::Numeric(text))
            }
            ColumnType::Boolean => value.as_bool().map(Cell::Boolean),
            ColumnType::Timestamptz => {
                let secs = value.as_i64()?;
                secs.checked_mul(1_000_000).map(Cell::Timestamptz)
            }
            ColumnType::Jsonb => Some(Cell::Jsonb(json_text(value))),
            ColumnType::TextArray => value
                .as_array()?
                .iter()
                .map(|v| match v {
                    Value::String(s) => Some(clean(s)),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map(Cell::TextArray),
        }
    }

    pub fn pg_type(ty: ColumnType) -> Type {
        match ty {
            ColumnType::Text => Type::TEXT,
            ColumnType::Bigint => Type::INT8,
            ColumnType::Double => Type::FLOAT8,
            ColumnType::Numeric => Type::NUMERIC,
            ColumnType::Boolean => Type::BOOL,
            ColumnType::Timestamptz => Type::TIMESTAMPTZ,
            ColumnType::Jsonb => Type::JSONB,
            ColumnType::TextArray => Type::TEXT_ARRAY,
        }
    }
}

/// JSON text PostgreSQL's jsonb accepts: `\u0000` is the one escape it refuses.
pub fn json_text(value: &Value) -> String {
    value.to_string().replace("\\u0000", "\\ufffd")
}

fn clean(s: &str) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{fffd}")
    } else {
        s.to_string()
    }
}

impl ToSql for Cell {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Cell::Null => return Ok(IsNull::Yes),
            Cell::Text(s) => pg::text_to_sql(s, out),
            Cell::Bigint(v) => pg::int8_to_sql(*v, out),
            Cell::Double(v) => pg::float8_to_sql(*v, out),
            Cell::Numeric(s) => numeric_to_sql(s, out)?,
            Cell::Boolean(v) => pg::bool_to_sql(*v, out),
            Cell::Timestamptz(unix_micros) => {
                pg::timestamp_to_sql(unix_micros - PG_EPOCH_OFFSET_SECS * 1_000_000, out)
            }
            Cell::Jsonb(text) => {
                out.extend_from_slice(&[1]); // jsonb binary format version
                out.extend_from_slice(text.as_bytes());
            }
            Cell::TextArray(items) => {
                let element = Type::TEXT.oid();
                pg::array_to_sql(
                    Some(pg::ArrayDimension {
                        len: items.len() as i32,
                        lower_bound: 1,
                    }),
                    element,
                    items.iter(),
                    |s, buf| {
                        pg::text_to_sql(s, buf);
                        Ok(postgres_protocol::IsNull::No)
                    },
                    out,
                )?;
            }
        }
        Ok(IsNull::No)
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Splits `-?digits[.digits]` into (negative, integer digits, fraction digits).
fn numeric_digits(s: &str) -> Option<(bool, &str, &str)> {
    let (negative, unsigned) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    (!int.is_empty() && digits(int) && digits(frac) && frac.len() <= 16383)
        .then_some((negative, int, frac))
}

/// PostgreSQL's binary numeric: base-10000 digits with a weight, sign and display scale.
fn numeric_to_sql(s: &str, out: &mut BytesMut) -> Result<(), Box<dyn Error + Sync + Send>> {
    let (negative, int, frac) = numeric_digits(s).ok_or("not a decimal number")?;
    let int = int.trim_start_matches('0');
    // Pad the integer part on the left and the fraction on the right to whole groups of 4.
    let int_pad = (4 - int.len() % 4) % 4;
    let frac_pad = (4 - frac.len() % 4) % 4;
    let all: String = "0".repeat(int_pad) + int + frac + &"0".repeat(frac_pad);
    let mut groups: Vec<i16> = all
        .as_bytes()
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |acc, d| acc * 10 + i16::from(d - b'0')))
        .collect();
    let mut weight = ((int_pad + int.len()) / 4) as i32 - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let sign: u16 = if negative && !groups.is_empty() {
        0x4000
    } else {
        0
    };
    out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
    out.extend_from_slice(&i16::try_from(weight)?.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&(frac.len() as u16).to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_that_do_not_fit_their_column_are_refused_not_coerced() {
        assert_eq!(Cell::from_json(&json!("12"), ColumnType::Bigint), None);
        assert_eq!(Cell::from_json(&json!(1.5), ColumnType::Bigint), None);
        assert_eq!(Cell::from_json(&json!({"a": 1}), ColumnType::Text), None);
        assert_eq!(Cell::from_json(&json!("1e5"), ColumnType::Numeric), None);
        assert_eq!(
            Cell::from_json(&json!([1, {"x": 2}]), ColumnType::TextArray),
            None
        );
        assert_eq!(
            Cell::from_json(&json!(12), ColumnType::Bigint),
            Some(Cell::Bigint(12))
        );
        assert_eq!(
            Cell::from_json(&json!(null), ColumnType::Bigint),
            Some(Cell::Null)
        );
    }

    #[test]
    fn nul_characters_become_replacement_characters() {
        assert_eq!(
            Cell::from_json(&json!("a\u{0}b"), ColumnType::Text),
            Some(Cell::Text("a\u{fffd}b".into()))
        );
        assert_eq!(json_text(&json!({"k": "a\u{0}b"})), "{\"k\":\"a\\ufffdb\"}");
    }

    #[test]
    fn numeric_binary_encoding_matches_postgres() {
        let enc = |s: &str| {
            let mut b = BytesMut::new();
            numeric_to_sql(s, &mut b).expect("valid");
            b.to_vec()
        };
        // 12345.678 = groups [1, 2345, 6780], weight 1, dscale 3
        assert_eq!(
            enc("12345.678"),
            vec![0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]
        );
        // -0.0001 = groups [1], weight -1, negative, dscale 4
        assert_eq!(enc("-0.0001"), vec![0, 1, 0xff, 0xff, 0x40, 0, 0, 4, 0, 1]);
        assert_eq!(enc("0"), vec![0, 0, 0, 0, 0, 0, 0, 0]);
    }
}
