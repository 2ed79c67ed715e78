//! Names of the schemas a sync uses: its own, and the side schema a rebuild builds in.
//!
//! PostgreSQL cuts identifiers longer than 63 bytes silently, so two long names could meet in
//! one schema; inlet never relies on that cut. The swap schema is `<schema>_swap` when that
//! fits, else the schema name shortened at a character boundary plus a short hash of the
//! whole name, so it is stable (a restart finds the same swap schema) and distinct for
//! distinct names.

use tokio_postgres::Client;

use crate::problem::{Problem, ProblemKind};
use crate::read_role::sql_problem;
use crate::sql::ident;

/// The longest identifier PostgreSQL keeps whole (`NAMEDATALEN - 1`).
pub const MAX_IDENT_BYTES: usize = 63;

const SWAP_SUFFIX: &str = "_swap";

/// Whether `name` can be a sync's schema: 1 to 63 bytes, no NUL, not `pg_*` (reserved for
/// the system), not `information_schema`. Quotes, capitals and spaces are fine: every name
/// is quoted.
pub fn validate(name: &str) -> Result<(), Problem> {
    let bad = |why: &str| {
        Err(Problem::new(
            ProblemKind::InvalidOption,
            format!("\"{name}\" cannot be a schema name: {why}"),
            "use 1 to 63 bytes, without NUL, not starting with pg_",
        ))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_IDENT_BYTES {
        return bad(&format!("it is {} bytes long", name.len()));
    }
    if name.contains('\0') {
        return bad("it contains a NUL character");
    }
    if name.starts_with("pg_") || name == "information_schema" {
        return bad("that name is reserved for PostgreSQL");
    }
    Ok(())
}

/// The schema a rebuild of `schema` builds in: `<schema>_swap`, or, when that would pass 63
/// bytes, the name cut at a character boundary, `_`, 8 hex digits of its hash, `_swap`.
pub fn swap_schema(schema: &str) -> String {
    let plain = format!("{schema}{SWAP_SUFFIX}");
    if plain.len() <= MAX_IDENT_BYTES {
        return plain;
    }
    let tail = format!("_{:08x}{SWAP_SUFFIX}", fnv32(schema));
    let mut cut = MAX_IDENT_BYTES - tail.len();
    while !schema.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{tail}", &schema[..cut])
}

fn fnv32(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}

/// How a schema stands for a new sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// It does not exist: the sync creates it.
    Missing,
    /// It exists and the sync user owns it (an earlier sync of this configuration, or a
    /// setup that made it inlet's).
    Ours,
    /// It exists, someone else owns it, it is empty, and the sync user may create in it.
    EmptyAndGranted,
}

/// Whether the sync user may take `schema` for a sync: refuses a schema someone else owns
/// unless it is empty and granted, naming the owner and the fix.
pub async fn check_free(client: &Client, schema: &str) -> Result<Standing, Problem> {
    validate(schema)?;
    let sql = "select pg_get_userbyid(n.nspowner)::text, \
                      pg_get_userbyid(n.nspowner) = current_user, \
                      (select count(*) from pg_class c where c.relnamespace = n.oid), \
                      has_schema_privilege(n.oid, 'usage') and has_schema_privilege(n.oid, 'create'), \
                      current_user::text \
                 from pg_namespace n where n.nspname = $1";
    let row = client
        .query_opt(sql, &[&schema])
        .await
        .map_err(|e| sql_problem(&e, "could not look up the schema", sql))?;
    let Some(row) = row else {
        return Ok(Standing::Missing);
    };
    let (owner, ours, objects, granted, me): (String, bool, i64, bool, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    if ours {
        return Ok(Standing::Ours);
    }
    if objects == 0 && granted {
        return Ok(Standing::EmptyAndGranted);
    }
    let what = match objects {
        0 => "it is empty, but the sync user may not create in it".to_string(),
        n => format!("it holds {n} objects"),
    };
    Err(Problem::new(
        ProblemKind::SchemaTaken,
        format!(
            "schema \"{schema}\" already exists and belongs to \"{owner}\" ({what}); inlet \
             syncs only into a schema it owns, so it never writes over someone else's tables"
        ),
        format!(
            "choose another schema name; or, if this schema should be the sync's, as its \
             owner run: alter schema {} owner to {};",
            ident(schema),
            ident(&me)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_names_fit_63_bytes_and_stay_distinct() {
        assert_eq!(swap_schema("stripe"), "stripe_swap");
        let s58 = "a".repeat(58);
        assert_eq!(swap_schema(&s58), format!("{s58}_swap"));
        let long = "b".repeat(63);
        let swap = swap_schema(&long);
        assert!(swap.len() <= MAX_IDENT_BYTES, "{swap}");
        assert!(swap.ends_with("_swap"));
        let other = format!("{}c", "b".repeat(62));
        assert_ne!(swap_schema(&other), swap, "a hash keeps long names apart");
        // A multi-byte character at the cut stays whole.
        let wide = "é".repeat(31); // 62 bytes
        let swap = swap_schema(&wide);
        assert!(
            swap.len() <= MAX_IDENT_BYTES && swap.ends_with("_swap"),
            "{swap}"
        );
        assert_eq!(swap_schema(&wide), swap, "stable");
    }

    #[test]
    fn reserved_and_oversized_names_are_refused() {
        assert!(validate("We \"quote\"").is_ok());
        assert!(validate(&"x".repeat(63)).is_ok());
        assert!(validate(&"x".repeat(64)).is_err());
        assert!(validate("").is_err());
        assert!(validate("pg_stripe").is_err());
        assert!(validate("a\0b").is_err());
    }
}
