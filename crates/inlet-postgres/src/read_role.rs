//! The read role: the one way people get to synced data.
//!
//! Membership is granted and revoked by the sync user (it holds `ADMIN OPTION` on the role),
//! so the sync user is the recorded grantor: from PostgreSQL 16 on, only the grantor (or a
//! superuser naming it with `granted by`) can revoke a membership.

use tokio_postgres::Client;

use crate::problem::{Problem, ProblemKind};
use crate::sql::ident;

/// The statements that make everything the sync user creates in `schema` readable by
/// `read_role`, now and later (default privileges cover tables created afterwards).
pub fn schema_grants(schema: &str, read_role: &str) -> Vec<String> {
    let (s, r) = (ident(schema), ident(read_role));
    vec![
        format!("grant usage on schema {s} to {r}"),
        format!("grant select on all tables in schema {s} to {r}"),
        format!("alter default privileges in schema {s} grant select on tables to {r}"),
    ]
}

/// Creates `schema` (owned by the connected sync user) if missing, and applies
/// [`schema_grants`] when the read role exists. Idempotent; the sync engine calls it each
/// time it opens a sync, so a read role created later gets its grants on the tables that
/// exist by then at the next opening.
///
/// The read role is a convenience for people, never needed by the sync: with no read role
/// (an empty name, or a role that does not exist), the schema is created without grants and
/// the sync goes on; `inlet destination verify` and `inlet sync status` say how to add one.
pub async fn create_schema(client: &Client, schema: &str, read_role: &str) -> Result<(), Problem> {
    let create = format!("create schema if not exists {}", ident(schema));
    client.batch_execute(&create).await.map_err(|e| {
        sql_problem(
            &e,
            &format!("could not create schema \"{schema}\""),
            &create,
        )
    })?;
    if !role_exists(client, read_role).await? {
        tracing::warn!(
            schema = %schema,
            "no read role: the synced tables are readable only by the sync user \
             (inlet destination verify says how to add one)"
        );
        return Ok(());
    }
    grant_on_schema(client, schema, read_role).await
}

/// Applies the read role's grants on every schema the connected sync user owns (its syncs'
/// schemas), on the tables that exist now and, by default privileges, on later ones. For a
/// read role added after syncs started.
pub async fn grant_on_own_schemas(client: &Client, read_role: &str) -> Result<(), Problem> {
    let rows = client
        .query(
            "select nspname::text from pg_namespace \
              where nspowner = (select oid from pg_roles where rolname = current_user) \
              order by 1",
            &[],
        )
        .await
        .map_err(|e| sql_problem(&e, "could not list the sync user's schemas", "pg_namespace"))?;
    for row in rows {
        let schema: String = row.get(0);
        grant_on_schema(client, &schema, read_role).await?;
    }
    Ok(())
}

/// [`schema_grants`] on `schema`, where `select on all tables` is granted table by table
/// over the sync user's own tables only: a table a person added to the schema (or took
/// over) is theirs to share, and granting on it would fail anyway.
async fn grant_on_schema(client: &Client, schema: &str, read_role: &str) -> Result<(), Problem> {
    let mut sql = Vec::new();
    let all_tables = format!(
        "grant select on all tables in schema {} to {}",
        ident(schema),
        ident(read_role)
    );
    sql.extend(
        schema_grants(schema, read_role)
            .into_iter()
            .filter(|s| *s != all_tables),
    );
    let ours = client
        .query(
            "select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace \
              where n.nspname = $1 and c.relkind in ('r', 'v', 'm', 'p') \
                and c.relowner = (select oid from pg_roles where rolname = current_user)",
            &[&schema],
        )
        .await
        .map_err(|e| sql_problem(&e, "could not list the schema's tables", "pg_class"))?;
    for row in ours {
        let table: String = row.get(0);
        sql.push(format!(
            "grant select on {}.{} to {}",
            ident(schema),
            ident(&table),
            ident(read_role)
        ));
    }
    for statement in sql {
        client.batch_execute(&statement).await.map_err(|e| {
            sql_problem(
                &e,
                &format!("could not prepare schema \"{schema}\""),
                &statement,
            )
        })?;
    }
    Ok(())
}

/// Whether `member` is directly a member of `role` (not through another role).
pub async fn is_member(client: &Client, role: &str, member: &str) -> Result<bool, Problem> {
    let row = client
        .query_one(
            "select exists (select 1 from pg_auth_members m \
               join pg_roles r on r.oid = m.roleid join pg_roles u on u.oid = m.member \
              where r.rolname = $1 and u.rolname = $2)",
            &[&role, &member],
        )
        .await
        .map_err(|e| sql_problem(&e, "could not read role memberships", "pg_auth_members"))?;
    Ok(row.get(0))
}

/// Grants `read_role` to `person`, as the connected (sync) user.
pub async fn grant(client: &Client, read_role: &str, person: &str) -> Result<(), Problem> {
    require_role(client, person).await?;
    let statement = format!("grant {} to {}", ident(read_role), ident(person));
    client
        .batch_execute(&statement)
        .await
        .map_err(|e| membership_problem(&e, read_role, &statement))
}

/// Revokes `read_role` from `person`, and checks it took effect: PostgreSQL 16+ only warns,
/// and changes nothing, when the membership was granted by someone else.
pub async fn revoke(client: &Client, read_role: &str, person: &str) -> Result<(), Problem> {
    require_role(client, person).await?;
    let statement = format!("revoke {} from {}", ident(read_role), ident(person));
    client
        .batch_execute(&statement)
        .await
        .map_err(|e| membership_problem(&e, read_role, &statement))?;
    if !is_member(client, read_role, person).await? {
        return Ok(());
    }
    let grantors = client
        .query(
            "select g.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid \
               join pg_roles u on u.oid = m.member join pg_roles g on g.oid = m.grantor \
              where r.rolname = $1 and u.rolname = $2",
            &[&read_role, &person],
        )
        .await
        .map_err(|e| sql_problem(&e, "could not read role memberships", "pg_auth_members"))?;
    let fix = grantors
        .iter()
        .map(|g| {
            let grantor: String = g.get(0);
            format!(
                "revoke {} from {} granted by {};",
                ident(read_role),
                ident(person),
                ident(&grantor)
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    Err(Problem::new(
        ProblemKind::PermissionDenied,
        format!(
            "\"{person}\" is still a member of \"{read_role}\": the membership was granted by \
             another role, and only its grantor or a superuser can revoke it"
        ),
        format!("as a superuser, run: {fix}"),
    ))
}

/// Login roles a person might want to grant the read role to (not `except`, not `pg_*`).
pub async fn login_roles(client: &Client, except: &str) -> Result<Vec<String>, Problem> {
    let rows = client
        .query(
            "select rolname::text from pg_roles where rolcanlogin and rolname <> $1 \
                and rolname !~ '^pg_' order by 1",
            &[&except],
        )
        .await
        .map_err(|e| sql_problem(&e, "could not list roles", "pg_roles"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Whether a role named `name` exists (an empty name never does).
pub async fn role_exists(client: &Client, name: &str) -> Result<bool, Problem> {
    if name.is_empty() {
        return Ok(false);
    }
    let exists = client
        .query_one(
            "select exists (select 1 from pg_roles where rolname = $1)",
            &[&name],
        )
        .await
        .map_err(|e| sql_problem(&e, "could not look up roles", "pg_roles"))?;
    Ok(exists.get(0))
}

async fn require_role(client: &Client, name: &str) -> Result<(), Problem> {
    if role_exists(client, name).await? {
        return Ok(());
    }
    Err(Problem::new(
        ProblemKind::UnknownRole,
        format!("there is no role \"{name}\" in this database server"),
        "check the name (role names are case-sensitive); `\\du` in psql lists them",
    ))
}

fn membership_problem(e: &tokio_postgres::Error, read_role: &str, statement: &str) -> Problem {
    match e.code().map(|c| c.code()) {
        Some("42501") => Problem::new(
            ProblemKind::PermissionDenied,
            format!("the sync user may not manage membership of \"{read_role}\""),
            format!(
                "as an admin, give it the admin option: grant {} to <sync user> with admin option;",
                ident(read_role)
            ),
        )
        .with_server("42501", &server_text(e)),
        _ => sql_problem(
            e,
            &format!("could not change membership of \"{read_role}\""),
            statement,
        ),
    }
}

/// A SQL failure we did not expect, with the server's words and the statement that failed.
pub fn sql_problem(e: &tokio_postgres::Error, what: &str, statement: &str) -> Problem {
    let p = Problem::new(
        ProblemKind::ServerError,
        format!("{what}: {}", server_text(e)),
        format!("the statement was: {statement}"),
    );
    match e.code() {
        Some(code) => p.with_server(code.code(), &server_text(e)),
        None => p,
    }
}

pub(crate) fn server_text(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|db| db.message().to_string())
        .unwrap_or_else(|| e.to_string())
}
