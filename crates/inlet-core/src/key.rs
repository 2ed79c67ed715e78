//! A record's identity: the values of its stream's key columns, as one text.
//!
//! A stream keyed on `id` (the default) identifies a record by that value as it is. A
//! stream keyed on several columns (HubSpot's association tables: from id, to id, type id)
//! identifies it by its **key text**: the key values in key order, each with `\` written
//! `\\` and `|` written `\|`, joined by `|`: `(101, 202, 1)` is `101|202|1`, `("a|b", "c")`
//! is `a\|b|c`. A separator is never escaped and a `|` inside a value always is, so the text
//! is unambiguous for any values, and a table knowing how many key columns it has reads the
//! values back ([`key_values`]). This text is [`Record::id`](crate::Record) of such a
//! stream, and what the destination's change log (`_sync_event.record_id`) and tombstones
//! hold for its rows.
//!
//! Values are written as the key columns hold them: text as it is, a `bigint` as its decimal
//! digits (`-7`, never `+7` or `007`), which is also PostgreSQL's text form of the value, so
//! the destination computes the same text from a stored row.

use std::borrow::Cow;

/// The key text of `values` (see the module doc): the value itself for one value.
pub fn key_text<S: AsRef<str>>(values: &[S]) -> String {
    if let [one] = values {
        return one.as_ref().to_string();
    }
    let mut text = String::with_capacity(values.iter().map(|v| v.as_ref().len() + 1).sum());
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            text.push('|');
        }
        for c in value.as_ref().chars() {
            if matches!(c, '\\' | '|') {
                text.push('\\');
            }
            text.push(c);
        }
    }
    text
}

/// The `count` key values `text` holds ([`key_text`] read back), or `None` when it does not
/// hold exactly `count` values (or ends in a lone `\`).
pub fn key_values(text: &str, count: usize) -> Option<Vec<Cow<'_, str>>> {
    if count == 1 {
        return Some(vec![Cow::Borrowed(text)]);
    }
    let mut values = Vec::with_capacity(count);
    let mut value = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?),
            '|' => values.push(Cow::Owned(std::mem::take(&mut value))),
            c => value.push(c),
        }
    }
    values.push(Cow::Owned(value));
    (values.len() == count).then_some(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_is_its_own_key_text() {
        assert_eq!(key_text(&["cus_1|x\\"]), "cus_1|x\\");
        assert_eq!(
            key_values("cus_1|x\\", 1),
            Some(vec![Cow::Borrowed("cus_1|x\\")])
        );
    }

    #[test]
    fn several_values_join_with_bars_and_read_back_whatever_they_hold() {
        assert_eq!(key_text(&["101", "202", "1"]), "101|202|1");
        let awkward: [&[&str]; 7] = [
            &["a|b", "c"],
            &["a", "b|c"],
            &["a\\", "|"],
            &["", ""],
            &["\\|", "\\\\", "||"],
            &["ü|é", "x"],
            &["a\\|b", "", "|c\\"],
        ];
        let mut seen = std::collections::HashSet::new();
        for values in awkward {
            let text = key_text(values);
            assert!(
                seen.insert(text.clone()),
                "{values:?} has a text of its own"
            );
            let back = key_values(&text, values.len()).expect("reads back");
            assert_eq!(
                back,
                values.iter().map(|v| Cow::from(*v)).collect::<Vec<_>>()
            );
        }
        assert_eq!(key_text(&["a|b", "c"]), "a\\|b|c");
        assert_eq!(key_text(&["a\\", "|"]), "a\\\\|\\|");
    }

    #[test]
    fn text_with_another_number_of_values_is_refused() {
        assert_eq!(key_values("1|2", 3), None);
        assert_eq!(key_values("1|2|3|4", 3), None);
        assert_eq!(
            key_values("1\\|2|3", 3),
            None,
            "an escaped bar separates nothing"
        );
        assert_eq!(key_values("1|2\\", 2), None, "a lone backslash at the end");
    }
}
