//! The SOQL a sync sends: keyset pages on `(SystemModstamp, Id)`, never OFFSET. Many
//! records share one `SystemModstamp` (Salesforce keeps whole seconds), so a page ends at a
//! (stamp, id) position and the next starts strictly after it:
//! `SystemModstamp > S OR (SystemModstamp = S AND Id > 'I')`. Values are checked before they
//! are written into the query, so nothing from outside can change its meaning.

/// Where a page starts: after this `SystemModstamp` (as the API wrote it) and `Id`, or at
/// the stamp itself when `id` is `None` (a poll from a cursor, with its overlap).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct After {
    pub stamp: String,
    pub id: Option<String>,
}

/// A datetime as the API writes it (`2013-05-20T20:49:32.000+0000`) as a SOQL literal
/// (`2013-05-20T20:49:32Z`); `None` for anything else.
pub fn datetime_literal(stamp: &str) -> Option<String> {
    let (day, rest) = stamp.split_once('T')?;
    let clock = rest.get(..8)?;
    let zone = &rest[8..];
    let zone = zone.strip_prefix(".000").unwrap_or(zone);
    let digits = |s: &str, seps: &[usize], sep: u8| {
        s.bytes().enumerate().all(|(i, b)| {
            if seps.contains(&i) {
                b == sep
            } else {
                b.is_ascii_digit()
            }
        })
    };
    let utc = matches!(zone, "Z" | "+0000" | "+00:00");
    (day.len() == 10 && digits(day, &[4, 7], b'-') && digits(clock, &[2, 5], b':') && utc)
        .then(|| format!("{day}T{clock}Z"))
}

/// A Salesforce id: 15 or 18 letters and digits.
pub fn is_id(id: &str) -> bool {
    matches!(id.len(), 15 | 18) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// One keyset page of `fields` of `object`, ordered by `(SystemModstamp, Id)`.
pub fn page(
    object: &str,
    fields: &[String],
    after: Option<&After>,
    limit: usize,
) -> Result<String, String> {
    bounded_page(object, fields, None, after, limit)
}

/// Refuses an object or field name that is not letters, digits and `_`.
fn names(object: &str, fields: &[String]) -> Result<(), String> {
    let name_ok =
        |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    match std::iter::once(object)
        .chain(fields.iter().map(String::as_str))
        .find(|n| !name_ok(n))
    {
        Some(bad) => Err(format!("{bad:?} is not a Salesforce object or field name")),
        None => Ok(()),
    }
}

fn literal(stamp: &str) -> Result<String, String> {
    datetime_literal(stamp)
        .ok_or_else(|| format!("{stamp:?} is not a SystemModstamp the API writes"))
}

/// A Bulk API 2.0 query of every record whose `SystemModstamp` is in `[from, upto)`: no
/// ORDER BY or LIMIT (they turn off Salesforce's chunking of large queries, apis.md §3.6),
/// since a Bulk range is read whole, by locator, never by keyset.
pub fn range(object: &str, fields: &[String], from: &str, upto: &str) -> Result<String, String> {
    names(object, fields)?;
    Ok(format!(
        "SELECT {} FROM {object} WHERE SystemModstamp >= {} AND SystemModstamp < {}",
        fields.join(", "),
        literal(from)?,
        literal(upto)?
    ))
}

/// One keyset page of a backfill partition: only records whose `SystemModstamp` is in
/// `[from, upto)` (datetimes as the API writes them), after `after` if given.
pub fn bounded_page(
    object: &str,
    fields: &[String],
    bounds: Option<(&str, &str)>,
    after: Option<&After>,
    limit: usize,
) -> Result<String, String> {
    names(object, fields)?;
    let mut conditions = Vec::new();
    if let Some((from, upto)) = bounds {
        let (from, upto) = (literal(from)?, literal(upto)?);
        conditions.push(format!(
            "SystemModstamp >= {from} AND SystemModstamp < {upto}"
        ));
    }
    if let Some(after) = after {
        let stamp = literal(&after.stamp)?;
        conditions.push(match &after.id {
            None => format!("SystemModstamp >= {stamp}"),
            Some(id) if is_id(id) => {
                format!("(SystemModstamp > {stamp} OR (SystemModstamp = {stamp} AND Id > '{id}'))")
            }
            Some(id) => return Err(format!("{id:?} is not a Salesforce id")),
        });
    }
    let mut soql = format!("SELECT {} FROM {object}", fields.join(", "));
    if !conditions.is_empty() {
        soql.push_str(" WHERE ");
        soql.push_str(&conditions.join(" AND "));
    }
    soql.push_str(&format!(
        " ORDER BY SystemModstamp ASC, Id ASC LIMIT {limit}"
    ));
    Ok(soql)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<String> {
        vec!["Id".into(), "Name".into(), "SystemModstamp".into()]
    }

    #[test]
    fn pages_continue_strictly_after_the_last_stamp_and_id() {
        assert_eq!(
            page("Account", &fields(), None, 2000).as_deref(),
            Ok("SELECT Id, Name, SystemModstamp FROM Account ORDER BY SystemModstamp ASC, Id ASC LIMIT 2000")
        );
        let after = After {
            stamp: "2013-05-20T20:49:32.000+0000".into(),
            id: Some("001Dn0000000001IAA".into()),
        };
        assert_eq!(
            page("Account", &fields(), Some(&after), 10).as_deref(),
            Ok("SELECT Id, Name, SystemModstamp FROM Account WHERE (SystemModstamp > 2013-05-20T20:49:32Z OR (SystemModstamp = 2013-05-20T20:49:32Z AND Id > '001Dn0000000001IAA')) ORDER BY SystemModstamp ASC, Id ASC LIMIT 10")
        );
        assert_eq!(
            bounded_page("Account", &fields(), Some(("2013-05-20T20:49:00.000+0000", "2013-05-21T00:00:00.000+0000")), Some(&after), 10).as_deref(),
            Ok("SELECT Id, Name, SystemModstamp FROM Account WHERE SystemModstamp >= 2013-05-20T20:49:00Z AND SystemModstamp < 2013-05-21T00:00:00Z AND (SystemModstamp > 2013-05-20T20:49:32Z OR (SystemModstamp = 2013-05-20T20:49:32Z AND Id > '001Dn0000000001IAA')) ORDER BY SystemModstamp ASC, Id ASC LIMIT 10")
        );
        let poll = After { id: None, ..after };
        assert!(page("Account", &fields(), Some(&poll), 10)
            .expect("poll")
            .contains("WHERE SystemModstamp >= 2013-05-20T20:49:32Z ORDER BY"));
    }

    #[test]
    fn nothing_from_outside_changes_the_query() {
        let after = |stamp: &str, id: &str| After {
            stamp: stamp.into(),
            id: Some(id.into()),
        };
        let ok = "2013-05-20T20:49:32.000+0000";
        assert!(page("Account", &fields(), Some(&after(ok, "x' OR Id != '")), 1).is_err());
        assert!(page(
            "Account",
            &fields(),
            Some(&after("2013-05-20 OR 1=1", "001Dn0000000001IAA")),
            1
        )
        .is_err());
        assert!(page("Account; DROP", &fields(), None, 1).is_err());
        assert_eq!(
            datetime_literal("2013-05-20T20:49:32.000-0800"),
            None,
            "only UTC, as the API writes"
        );
    }
}
