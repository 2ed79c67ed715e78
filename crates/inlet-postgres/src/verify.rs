//! Checking that a sync user has what a sync needs, and no more.
//!
//! `verify` returns every finding at once, each with its severity and the exact SQL that
//! fixes it. `Err` means the checks could not run at all, which is not the same as "found
//! problems".

use serde::Serialize;
use tokio_postgres::Client;

use crate::problem::Problem;
use crate::read_role::sql_problem;
use crate::sql::ident;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A sync cannot work until this is fixed.
    Critical,
    /// Works, but is less safe or less convenient than it should be.
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A stable identifier of the check (`database_create`, `read_role_admin`, ...).
    pub check: &'static str,
    pub message: String,
    /// The SQL (run as an admin) or the command that fixes it.
    pub fix: String,
}

/// What to check besides the database-level privileges.
#[derive(Clone, Debug, Default)]
pub struct Expectations<'a> {
    pub read_role: Option<&'a str>,
    /// The schema a sync will write to.
    pub schema: Option<&'a str>,
}

/// Runs every check as the connected (sync) user.
pub async fn verify(client: &Client, want: &Expectations<'_>) -> Result<Vec<Finding>, Problem> {
    let mut findings = database_findings(client).await?;
    findings.extend(read_role_findings(client, want.read_role).await?);
    if let Some(schema) = want.schema {
        findings.extend(schema_findings(client, schema).await?);
    }
    findings.sort_by_key(|f| f.severity);
    Ok(findings)
}

async fn database_findings(client: &Client) -> Result<Vec<Finding>, Problem> {
    let row = client
        .query_one(
            "select current_user::text, current_database()::text, \
                    has_database_privilege(current_database(), 'CONNECT'), \
                    has_database_privilege(current_database(), 'CREATE'), \
                    r.rolsuper, r.rolcreaterole, r.rolcreatedb, \
                    d.datdba = r.oid, \
                    has_schema_privilege('public', 'CREATE') and n.nspowner <> r.oid \
               from pg_roles r, pg_database d, pg_namespace n \
              where r.rolname = current_user and d.datname = current_database() \
                and n.nspname = 'public'",
            &[],
        )
        .await
        .map_err(|e| sql_problem(&e, "could not read the sync user's privileges", "pg_roles"))?;
    let (user, db): (String, String) = (row.get(0), row.get(1));
    let (u, d) = (ident(&user), ident(&db));
    let mut out = Vec::new();
    let mut add = |severity, check, message: String, fix: String| {
        out.push(Finding {
            severity,
            check,
            message,
            fix,
        })
    };
    let (connect, create): (bool, bool) = (row.get(2), row.get(3));
    if !connect || !create {
        let missing = match (connect, create) {
            (false, false) => "CONNECT and CREATE",
            (false, true) => "CONNECT",
            _ => "CREATE",
        };
        add(
            Severity::Critical,
            "database_privileges",
            format!("{user} lacks {missing} on database {db}: it cannot create its schemas"),
            format!("grant connect, create on database {d} to {u};"),
        );
    }
    if row.get::<_, bool>(4) {
        add(
            Severity::Warning,
            "superuser",
            format!("{user} is a superuser: far more privilege than a sync needs"),
            format!("alter role {u} with nosuperuser;"),
        );
    } else {
        if row.get::<_, bool>(5) {
            add(
                Severity::Warning,
                "createrole",
                format!("{user} can create roles (CREATEROLE), which a sync does not need"),
                format!("alter role {u} with nocreaterole;"),
            );
        }
        if row.get::<_, bool>(6) {
            add(
                Severity::Warning,
                "createdb",
                format!("{user} can create databases (CREATEDB), which a sync does not need"),
                format!("alter role {u} with nocreatedb;"),
            );
        }
    }
    if row.get::<_, bool>(7) {
        add(
            Severity::Warning,
            "owns_database",
            format!("{user} owns database {db}, so it has every privilege on it"),
            // Run by the admin who reads it, `current_user` is that admin. While the sync
            // user owned the database its own grants were folded into ownership; they must be
            // given back with the ownership, or the sync loses CREATE.
            format!(
                "alter database {d} owner to current_user; \
                 grant connect, create on database {d} to {u};"
            ),
        );
    }
    if row.get::<_, bool>(8) {
        add(
            Severity::Warning,
            "public_schema_create",
            format!(
                "every role, {user} included, may create tables in schema public (the default \
                 before PostgreSQL 15); inlet never writes there, but others could"
            ),
            "revoke create on schema public from public;".to_string(),
        );
    }
    Ok(out)
}

/// The read role's findings: none configured, missing, or not administered by the sync user.
/// A sync runs without a read role; people just cannot be given read access until it exists.
pub async fn read_role_findings(
    client: &Client,
    role: Option<&str>,
) -> Result<Vec<Finding>, Problem> {
    let Some(role) = role else {
        let user: String = client
            .query_one("select current_user::text", &[])
            .await
            .map_err(|e| sql_problem(&e, "could not read the current user", "current_user"))?
            .get(0);
        let suggested = format!("{user}_read");
        let (r, u) = (ident(&suggested), ident(&user));
        return Ok(vec![Finding {
            severity: Severity::Warning,
            check: "read_role_missing",
            message: format!(
                "no read role is configured for this destination: the sync runs, but only \
                 {user} can read the synced tables. Once the role exists and inlet.toml names \
                 it (read_role), inlet grants it the synced schemas and tables at the next \
                 `inlet destination grant` or start of `inlet run`"
            ),
            // Runnable as it is: the step in inlet.toml is an SQL comment.
            fix: format!(
                "create role {r} with nologin; grant {r} to {u} with admin option; -- then set \
                 read_role = \"{suggested}\" for this destination in inlet.toml (or run `inlet \
                 destination setup NAME --auto`, which does both)"
            ),
        }]);
    };
    let row = client
        .query_one(
            "select exists (select 1 from pg_roles where rolname = $1), \
                    exists (select 1 from pg_auth_members m join pg_roles r on r.oid = m.roleid \
                             where r.rolname = $1 and m.admin_option \
                               and m.member = (select oid from pg_roles where rolname = current_user)), \
                    current_user::text",
            &[&role],
        )
        .await
        .map_err(|e| sql_problem(&e, "could not read the read role", "pg_auth_members"))?;
    let (exists, admin, user): (bool, bool, String) = (row.get(0), row.get(1), row.get(2));
    let (r, u) = (ident(role), ident(&user));
    Ok(if !exists {
        vec![Finding {
            severity: Severity::Warning,
            check: "read_role_missing",
            message: format!(
                "the read role {role} does not exist: the sync runs, but people cannot be \
                 given read access. Once it exists, inlet grants it the synced schemas and \
                 tables at the next `inlet destination grant` or start of `inlet run`"
            ),
            fix: format!("create role {r} with nologin; grant {r} to {u} with admin option;"),
        }]
    } else if !admin {
        vec![Finding {
            severity: Severity::Warning,
            check: "read_role_admin",
            message: format!(
                "{user} does not hold the admin option on {role}, so `inlet destination grant` \
                 and `revoke` cannot work"
            ),
            fix: format!("grant {r} to {u} with admin option;"),
        }]
    } else {
        Vec::new()
    })
}

async fn schema_findings(client: &Client, schema: &str) -> Result<Vec<Finding>, Problem> {
    let rows = client
        .query(
            "select n.nspowner = (select oid from pg_roles where rolname = current_user), \
                    has_schema_privilege(n.oid, 'USAGE'), has_schema_privilege(n.oid, 'CREATE'), \
                    current_user::text \
               from pg_namespace n where n.nspname = $1",
            &[&schema],
        )
        .await
        .map_err(|e| sql_problem(&e, "could not read the target schema", "pg_namespace"))?;
    // A schema that does not exist yet is created by the sync user: nothing to check.
    let Some(row) = rows.first() else {
        return Ok(Vec::new());
    };
    let (owned, usage, create, user): (bool, bool, bool, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    if owned {
        return Ok(Vec::new());
    }
    let (s, u) = (ident(schema), ident(&user));
    let mut out = vec![Finding {
        severity: Severity::Warning,
        check: "schema_not_owned",
        message: format!(
            "schema {schema} already exists and belongs to someone else: syncing into an \
             existing schema mixes inlet's tables with yours. A new schema name is safer"
        ),
        fix: "choose a schema name that does not exist yet (inlet creates and manages it)".into(),
    }];
    if !usage || !create {
        out.push(Finding {
            severity: Severity::Critical,
            check: "schema_privileges",
            message: format!("{user} lacks USAGE and CREATE on the existing schema {schema}"),
            fix: format!("grant usage, create on schema {s} to {u};"),
        });
    }
    Ok(out)
}
