//! What inlet may touch: only relations the sync user owns, and of those, a table is only
//! replaced wholesale when nothing of a person's is bound to it.
//!
//! Ownership is `pg_class.relowner`. `alter table ... owner to current_user` therefore makes
//! any synced table a person's, and from then on inlet neither writes, alters, drops nor
//! swaps it.
//!
//! "Bound to" means PostgreSQL records a dependency on the table (`pg_depend`): a view or
//! materialized view (through its rewrite rule), a trigger, an index, a check or foreign
//! key constraint (either side), a rule, a policy, extended statistics, a publication, an
//! inheriting table, a function with a SQL-standard body (PG 14+), a sequence owned by one
//! of its columns, ... (column defaults are not: they go with the table). Dropping the table would drop or break them (views bind to the
//! table's identity, not its name), so such a table is refreshed in place instead.

use tokio_postgres::GenericClient;

use crate::problem::Problem;
use crate::read_role::sql_problem;
use crate::tables::LOOKUP_INDEX_COMMENT;

/// Who owns a relation, as far as inlet is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// No relation of that name.
    Missing,
    /// An ordinary table the sync user owns: inlet's to write, alter and swap.
    Us,
    /// Anything else: another role's relation, or ours but not a plain table (a view a
    /// person made while logged in as the sync user, say). Never touched; the string names
    /// the owner and kind for the report.
    Other(String),
}

/// The owner of `schema.name`.
pub async fn owner<C: GenericClient>(c: &C, schema: &str, name: &str) -> Result<Owner, Problem> {
    let sql = "select pg_get_userbyid(c.relowner)::text, c.relowner = \
                      (select oid from pg_roles where rolname = current_user), c.relkind::text \
                 from pg_class c join pg_namespace n on n.oid = c.relnamespace \
                where n.nspname = $1 and c.relname = $2";
    let row = c
        .query_opt(sql, &[&schema, &name])
        .await
        .map_err(|e| sql_problem(&e, "could not read the table's owner", sql))?;
    Ok(match row {
        None => Owner::Missing,
        Some(r) => {
            let (who, ours, kind): (String, bool, String) = (r.get(0), r.get(1), r.get(2));
            match (ours, kind.as_str()) {
                (true, "r") => Owner::Us,
                (_, kind) => Owner::Other(format!("{} owned by \"{who}\"", kind_name(kind))),
            }
        }
    })
}

fn kind_name(relkind: &str) -> &'static str {
    match relkind {
        "r" => "table",
        "v" => "view",
        "m" => "materialized view",
        "i" | "I" => "index",
        "S" => "sequence",
        "f" => "foreign table",
        "p" => "partitioned table",
        _ => "relation",
    }
}

/// The objects bound to `schema.table` that inlet did not make, described as PostgreSQL
/// describes them (`view reports.churn`, `trigger audit on table stripe.customer`, `index
/// stripe.customer_email`). Empty when the table could be dropped without touching anything
/// of a person's. inlet's own dependents are excluded: the primary key, the indexes of the
/// stream's lookups, not-null constraints (PG 18 records them), the row type and the TOAST
/// table.
pub async fn bound_to<C: GenericClient>(
    c: &C,
    schema: &str,
    table: &str,
) -> Result<Vec<String>, Problem> {
    let sql =
        "with t as (select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace \
                          where n.nspname = $1 and c.relname = $2) \
               select distinct pg_describe_object(d.classid, d.objid, 0) \
                 from pg_depend d, t \
                where d.refclassid = 'pg_class'::regclass and d.refobjid = t.oid \
                  and d.deptype in ('n', 'a') \
                  and not (d.classid = 'pg_class'::regclass and d.objid = t.oid) \
                  and not (d.classid = 'pg_constraint'::regclass and exists ( \
                        select 1 from pg_constraint k where k.oid = d.objid \
                           and k.conrelid = t.oid and k.contype::text in ('p', 'n'))) \
                  and not (d.classid = 'pg_class'::regclass and exists ( \
                        select 1 from pg_index i where i.indexrelid = d.objid and (i.indisprimary \
                           or obj_description(i.indexrelid, 'pg_class') = $3))) \
                  and not (d.classid = 'pg_attrdef'::regclass) \
                  and not (d.classid = 'pg_rewrite'::regclass and exists ( \
                        select 1 from pg_rewrite r where r.oid = d.objid and r.ev_class = t.oid \
                           and r.rulename = '_RETURN')) \
                order by 1";
    let rows = c
        .query(sql, &[&schema, &table, &LOOKUP_INDEX_COMMENT])
        .await
        .map_err(|e| sql_problem(&e, "could not read what depends on the table", sql))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
