//! From a source's field names to PostgreSQL column names, the same way everywhere.
//!
//! PostgreSQL identifiers hold at most 63 bytes (longer ones are silently truncated, so two
//! long names could become one column) and no NUL; `id` and the `_sync_` prefix are inlet's.
//! Every other name, whatever its case, spaces, dots, quotes or keywords, is kept exactly:
//! inlet always quotes identifiers.

use std::borrow::Cow;

/// PostgreSQL's identifier limit (NAMEDATALEN - 1).
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// The column for `field`. Unchanged when PostgreSQL can hold it as is; otherwise:
/// * NUL characters become U+FFFD;
/// * `id` and names starting with `_sync_` get the prefix `src_` (they are inlet's);
/// * names longer than 63 bytes keep their first 54 bytes (on a character boundary) and end
///   with `_` and 8 hex digits of a hash of the whole name, so distinct names stay distinct.
pub fn column_name(field: &str) -> Cow<'_, str> {
    let mut name: Cow<'_, str> = Cow::Borrowed(field);
    if name.contains('\0') {
        name = Cow::Owned(name.replace('\0', "\u{fffd}"));
    }
    if name.is_empty() || name == "id" || name.starts_with("_sync_") {
        name = Cow::Owned(format!("src_{name}"));
    }
    if name.len() > MAX_IDENTIFIER_BYTES {
        let mut cut = MAX_IDENTIFIER_BYTES - 9;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name = Cow::Owned(format!("{}_{:08x}", &name[..cut], fnv32(field)));
    }
    name
}

fn fnv32(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_and_odd_names_are_kept_exactly() {
        for name in [
            "email",
            "Name",
            "name",
            "select",
            "a.b",
            "with space",
            "quo\"te",
            "ünïcödé",
        ] {
            assert_eq!(column_name(name), name);
        }
    }

    #[test]
    fn inlet_names_nul_and_long_names_are_made_safe_and_stay_distinct() {
        assert_eq!(column_name("id"), "src_id");
        assert_eq!(column_name("_sync_extra"), "src__sync_extra");
        assert_eq!(column_name(""), "src_");
        assert_eq!(column_name("a\0b"), "a\u{fffd}b");
        let long_a = format!("{}a", "x".repeat(70));
        let long_b = format!("{}b", "x".repeat(70));
        let (a, b) = (column_name(&long_a), column_name(&long_b));
        assert!(a.len() <= MAX_IDENTIFIER_BYTES && b.len() <= MAX_IDENTIFIER_BYTES);
        assert_ne!(a, b);
        let wide = "é".repeat(40); // 80 bytes, 2 per character
        assert!(column_name(&wide).len() <= MAX_IDENTIFIER_BYTES);
        assert_eq!(column_name(&long_a), a, "stable");
    }
}
