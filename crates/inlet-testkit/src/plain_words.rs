//! Messages a person reads are plain words: this finds Rust debug text in them (a library
//! type printed with `{:?}`), such as `Other(OtherError(CaUsedAsEndEntity))`,
//! `NotValidForNameContext { expected: .. }`, `Some("x")` or `Os { code: 111, .. }`.
//! Every problem the test scenarios produce goes through [`assert_plain_words`].

/// The debug-formatted fragments in `text`: a capitalised identifier with a lower-case
/// letter in it, directly followed by `(`, or by ` { name:` (a tuple or struct variant).
pub fn debug_fragments(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !is_ident(bytes[i - 1]);
        if !(starts_word && bytes[i].is_ascii_uppercase()) {
            i += 1;
            continue;
        }
        let end = (i..bytes.len())
            .find(|&j| !is_ident(bytes[j]))
            .unwrap_or(bytes.len());
        let ident = &text[i..end];
        let rest = &text[end..];
        let has_lower = ident.bytes().any(|b| b.is_ascii_lowercase());
        if has_lower && (rest.starts_with('(') || is_struct_body(rest)) {
            let shown_end = (end + 40).min(text.len());
            let shown_end = (shown_end..=text.len())
                .find(|&j| text.is_char_boundary(j))
                .unwrap_or(text.len());
            found.push(text[i..shown_end].to_string());
        }
        i = end;
    }
    found
}

/// ` { field:` or ` { .. }` right after an identifier: a struct printed with `{:?}`.
fn is_struct_body(rest: &str) -> bool {
    let Some(body) = rest.strip_prefix(" { ") else {
        return false;
    };
    if body.starts_with("..") {
        return true;
    }
    let field_end = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    field_end > 0 && body[field_end..].starts_with(':')
}

/// Panics, naming the fragments, when `text` holds Rust debug text.
pub fn assert_plain_words(text: &str) {
    let found = debug_fragments(text);
    assert!(
        found.is_empty(),
        "a message a person reads holds Rust debug text {found:?}:\n{text}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_debug_text_users_have_seen() {
        for text in [
            "the server's certificate was rejected: Other(OtherError(CaUsedAsEndEntity))",
            "Details: NotValidForNameContext { expected: DnsName(\"localhost\"), presented: [] }",
            "the key is Some(\"x\")",
            "connect failed: Os { code: 111, kind: ConnectionRefused }",
            "hint: Error { .. }",
        ] {
            assert!(!debug_fragments(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn leaves_plain_words_alone() {
        for text in [
            "the server runs PostgreSQL 9.6 (too old); inlet needs PostgreSQL 10",
            "password authentication failed for user \"bob\" (SQLSTATE 28P01)",
            "TLS alert \"handshake failure\"; SCRAM-SHA-256 (the default)",
            "grant connect, create on database \"app\" to \"inlet\"",
            "{\"ok\":false,\"problem\":\"dns\",\"message\":\"CA check failed\"}",
        ] {
            assert_eq!(debug_fragments(text), Vec::<String>::new(), "{text}");
        }
    }
}
