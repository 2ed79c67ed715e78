//! Quoting for SQL and postgresql.conf, and readable driver errors.

use std::error::Error as _;

/// `name` as a double-quoted SQL identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `value` as a single-quoted SQL (or postgresql.conf) string literal.
pub(crate) fn literal(value: &str) -> String {
    assert!(
        !value.contains('\0'),
        "a SQL literal cannot hold NUL: {value:?}"
    );
    format!("'{}'", value.replace('\'', "''"))
}

/// `value` as a postgresql.conf string, where backslash escapes are read too.
pub(crate) fn conf_literal(value: &str) -> String {
    literal(&value.replace('\\', "\\\\"))
}

/// A driver error with its cause; tokio-postgres' Display alone says just "db error".
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {} ({})", db.severity(), db.message(), db.code().code());
    }
    match e.source() {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes() {
        assert_eq!(ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal(r"back\slash"), r"'back\slash'");
        assert_eq!(conf_literal(r"a\b'c"), r"'a\\b''c'");
    }
}
