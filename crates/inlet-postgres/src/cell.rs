//! From a JSON value to a PostgreSQL binary COPY value, by column type.
//!
//! A value that does not fit its column (a string in a bigint column, an integer beyond
//! i64) is not dropped and not coerced: [`put_field`] refuses it, and the writer keeps the
//! value in the row's `_sync_extra` jsonb column, where it stays readable. Values go
//! straight from JSON into the COPY buffer, with no intermediate copy of their text.
//! NUL characters, which PostgreSQL text and jsonb cannot hold, become U+FFFD.

use bytes::{BufMut, BytesMut};
use inlet_core::ColumnType;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};
use serde_json::Value;

/// Seconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_OFFSET_SECS: i64 = 946_684_800;
/// The OID of `text`, the element type of a `text[]` column.
const TEXT_OID: u32 = 25;

/// Appends `value` as one binary COPY field (its length, then its bytes) for a column of
/// type `ty`. Returns false, having appended nothing, when the value does not fit the column.
pub fn put_field(value: &Value, ty: ColumnType, out: &mut BytesMut) -> bool {
    if value.is_null() {
        put_null(out);
        return true;
    }
    put_sized(out, |out| put_value(value, ty, out))
}

/// Appends a SQL NULL field.
pub fn put_null(out: &mut BytesMut) {
    out.put_i32(-1);
}

/// Appends a text field (NUL characters become U+FFFD).
pub fn put_text_field(s: &str, out: &mut BytesMut) {
    put_sized(out, |out| {
        put_clean(s, out);
        true
    });
}

/// Appends what `write` writes, after its length. If `write` says it does not fit (false),
/// nothing stays appended.
fn put_sized(out: &mut BytesMut, write: impl FnOnce(&mut BytesMut) -> bool) -> bool {
    let start = out.len();
    out.put_i32(0); // the length, filled in below
    if !write(out) {
        out.truncate(start);
        return false;
    }
    let len = (out.len() - start - 4) as i32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    true
}

/// The value's binary form, without its length; false (possibly after appending a part of it,
/// which the caller removes) when it does not fit.
fn put_value(value: &Value, ty: ColumnType, out: &mut BytesMut) -> bool {
    match ty {
        ColumnType::Text => put_scalar_text(value, out),
        ColumnType::Bigint => value.as_i64().map(|v| out.put_i64(v)).is_some(),
        ColumnType::Double => value
            .as_f64()
            .filter(|f| f.is_finite())
            .map(|v| out.put_f64(v))
            .is_some(),
        ColumnType::Numeric => match value {
            Value::Number(n) => put_numeric(&n.to_string(), out),
            Value::String(s) => put_numeric(s.trim(), out),
            _ => false,
        },
        ColumnType::Boolean => value.as_bool().map(|v| out.put_u8(v.into())).is_some(),
        ColumnType::Timestamptz => unix_micros(value)
            .and_then(|micros| micros.checked_sub(PG_EPOCH_OFFSET_SECS * 1_000_000))
            .map(|micros| out.put_i64(micros))
            .is_some(),
        ColumnType::Date => value
            .as_str()
            .and_then(crate::calendar::pg_date)
            .map(|days| out.put_i32(days))
            .is_some(),
        ColumnType::Time => value
            .as_str()
            .and_then(crate::calendar::pg_time)
            .map(|micros| out.put_i64(micros))
            .is_some(),
        ColumnType::Jsonb => {
            out.put_u8(1); // jsonb binary format version
            write_json(value, out.writer());
            true
        }
        ColumnType::TextArray => {
            let Some(items) = value.as_array() else {
                return false;
            };
            out.put_i32(1); // dimensions
            out.put_i32(0); // no nulls
            out.put_u32(TEXT_OID);
            out.put_i32(items.len() as i32);
            out.put_i32(1); // lower bound
            items
                .iter()
                .all(|item| put_sized(out, |out| put_scalar_text(item, out)))
        }
    }
}

/// A string, number or boolean as text; anything else does not fit a text column.
/// A Unix time in seconds as microseconds: whole seconds (Stripe), or a fraction of them
/// (HubSpot's milliseconds), rounded to the microsecond PostgreSQL keeps.
fn unix_micros(value: &Value) -> Option<i64> {
    if let Some(secs) = value.as_i64() {
        return secs.checked_mul(1_000_000);
    }
    let secs = value.as_f64().filter(|f| f.is_finite())?;
    let micros = (secs * 1e6).round();
    (micros.abs() < 9.2e18).then_some(micros as i64)
}

fn put_scalar_text(value: &Value, out: &mut BytesMut) -> bool {
    match value {
        Value::String(s) => put_clean(s, out),
        // With `arbitrary_precision`, a number's text is exactly the source's digits.
        Value::Number(n) => out.put_slice(n.to_string().as_bytes()),
        Value::Bool(b) => out.put_slice(if *b { b"true" } else { b"false" }),
        _ => return false,
    }
    true
}

/// PostgreSQL text cannot hold NUL: it becomes U+FFFD.
fn put_clean(s: &str, out: &mut BytesMut) {
    let mut parts = s.split('\0');
    out.put_slice(parts.next().unwrap_or_default().as_bytes());
    for part in parts {
        out.put_slice("\u{fffd}".as_bytes());
        out.put_slice(part.as_bytes());
    }
}

/// JSON text PostgreSQL's jsonb accepts: `\u0000` is the one escape it refuses, so a NUL in
/// a string is written as U+FFFD (`\ufffd`). A literal backslash followed by `u0000` is
/// text, not an escape, and stays as it is.
pub fn json_text(value: &Value) -> String {
    let mut out = Vec::new();
    write_json(value, &mut out);
    // serde_json writes UTF-8 only.
    String::from_utf8(out).unwrap_or_default()
}

fn write_json(value: &Value, out: impl std::io::Write) {
    let mut ser = serde_json::Serializer::with_formatter(out, NulSafe);
    // Writing a `Value` into memory cannot fail: its keys are strings.
    let _ = serde::Serialize::serialize(value, &mut ser);
}

/// serde_json's compact output, but NUL escaped as U+FFFD.
struct NulSafe;

impl Formatter for NulSafe {
    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        escape: CharEscape,
    ) -> std::io::Result<()> {
        match escape {
            CharEscape::AsciiControl(0) => writer.write_all(b"\\ufffd"),
            other => CompactFormatter.write_char_escape(writer, other),
        }
    }
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
/// False, with nothing appended, for text that is not `-?digits[.digits]` or is out of range.
fn put_numeric(s: &str, out: &mut BytesMut) -> bool {
    let Some((negative, int, frac)) = numeric_digits(s) else {
        return false;
    };
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
    let mut weight = ((int_pad + int.len()) / 4) as i64 - 1;
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= leading as i64;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let (Ok(weight), Ok(count)) = (i16::try_from(weight), i16::try_from(groups.len())) else {
        return false;
    };
    let sign: u16 = if negative && !groups.is_empty() {
        0x4000
    } else {
        0
    };
    out.put_i16(count);
    out.put_i16(weight);
    out.put_u16(sign);
    out.put_u16(frac.len() as u16);
    for g in groups {
        out.put_i16(g);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The field's bytes (after its length), or `None` for NULL; panics if it did not fit.
    fn field(value: serde_json::Value, ty: ColumnType) -> Option<Vec<u8>> {
        let mut out = BytesMut::new();
        assert!(put_field(&value, ty, &mut out), "{value} should fit {ty:?}");
        let len = i32::from_be_bytes(out[..4].try_into().expect("length"));
        assert_eq!(len < 0, value.is_null());
        (len >= 0).then(|| out[4..].to_vec())
    }

    fn fits(value: serde_json::Value, ty: ColumnType) -> bool {
        let mut out = BytesMut::from(&b"before"[..]);
        let fits = put_field(&value, ty, &mut out);
        if !fits {
            assert_eq!(&out[..], b"before", "a refused value leaves nothing behind");
        }
        fits
    }

    #[test]
    fn values_that_do_not_fit_their_column_are_refused_not_coerced() {
        assert!(!fits(json!("12"), ColumnType::Bigint));
        assert!(!fits(json!(1.5), ColumnType::Bigint));
        assert!(!fits(json!({"a": 1}), ColumnType::Text));
        assert!(!fits(json!("1e5"), ColumnType::Numeric));
        assert!(!fits(json!([1, {"x": 2}]), ColumnType::TextArray));
        assert!(!fits(json!(i64::MAX), ColumnType::Timestamptz));
        let huge = format!("1{}", "0".repeat(140_000)); // beyond numeric's weight
        assert!(!fits(json!(huge), ColumnType::Numeric));
        assert_eq!(
            field(json!(12), ColumnType::Bigint),
            Some(12i64.to_be_bytes().to_vec())
        );
        assert_eq!(field(json!(null), ColumnType::Bigint), None);
    }

    #[test]
    fn unix_times_may_carry_fractions_of_a_second() {
        let at = |v| {
            field(v, ColumnType::Timestamptz)
                .map(|b| i64::from_be_bytes(b[..8].try_into().unwrap_or_default()))
        };
        // 2000-01-01 is PostgreSQL's epoch: 0 microseconds.
        assert_eq!(at(json!(946_684_800)), Some(0));
        assert_eq!(at(json!(946_684_800.5)), Some(500_000));
        assert_eq!(at(json!(946_684_799.001)), Some(-999_000));
        assert!(!fits(json!(1e300), ColumnType::Timestamptz));
    }

    #[test]
    fn nul_characters_become_replacement_characters() {
        assert_eq!(
            field(json!("a\u{0}b"), ColumnType::Text),
            Some("a\u{fffd}b".as_bytes().to_vec())
        );
        assert_eq!(json_text(&json!({"k": "a\u{0}b"})), "{\"k\":\"a\\ufffdb\"}");
        // A literal backslash and `u0000` is text, not a NUL: it is kept.
        assert_eq!(json_text(&json!("\\u0000")), "\"\\\\u0000\"");
    }

    #[test]
    fn timestamps_text_arrays_and_jsonb_use_postgres_binary_forms() {
        let micros = (1_700_000_000 - PG_EPOCH_OFFSET_SECS) * 1_000_000;
        assert_eq!(
            field(json!(1_700_000_000), ColumnType::Timestamptz),
            Some(micros.to_be_bytes().to_vec())
        );
        let mut array = Vec::new();
        for part in [1i32, 0, 25, 2, 1, 1] {
            array.extend(part.to_be_bytes());
        }
        array.extend(b"a");
        array.extend(1i32.to_be_bytes());
        array.extend(b"7");
        assert_eq!(field(json!(["a", 7]), ColumnType::TextArray), Some(array));
        assert_eq!(
            field(json!({"a": [1, null]}), ColumnType::Jsonb),
            Some(b"\x01{\"a\":[1,null]}".to_vec())
        );
    }

    #[test]
    fn numeric_binary_encoding_matches_postgres() {
        let enc = |s: &str| field(json!(s), ColumnType::Numeric).expect("not null");
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
