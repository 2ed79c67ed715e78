//! The one way inlet puts a name or a value into SQL text. Everything else is a bind
//! parameter; utility statements (`create role`, `grant`) cannot take parameters, so their
//! names and literals go through these two functions and nothing else.

/// `"name"`, with inner double quotes doubled: any string becomes one identifier, exactly.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'value'`, with inner single quotes doubled; with backslashes, the `E'...'` form with
/// them doubled too, so the result is right whatever `standard_conforming_strings` says (this
/// is what PostgreSQL's own `quote_literal` does).
pub fn literal(value: &str) -> String {
    let quoted = value.replace('\'', "''");
    if value.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_stay_one_identifier() {
        assert_eq!(ident("simple"), "\"simple\"");
        assert_eq!(
            ident("We \"quote\"; drop table x; --"),
            "\"We \"\"quote\"\"; drop table x; --\""
        );
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal(r"a\'b"), r"E'a\\''b'");
    }
}
