//! Setting up the destination the safe way: a sync user that can connect and create its own
//! schemas and nothing else, and a read role it administers, for people.
//!
//! Automated setup runs as an admin whose password lives only in the caller's memory. The
//! sync user's password is sent as a SCRAM verifier computed here, so its plain text never
//! appears in SQL (nor in a server log that records statements). Every step is idempotent:
//! running setup again converges to the same roles and grants.

use tokio_postgres::Client;

use crate::options::Secret;
use crate::problem::{Problem, ProblemKind};
use crate::read_role::{server_text, sql_problem};
use crate::sql::{ident, literal};

/// Names for one destination's setup.
#[derive(Clone, Debug)]
pub struct Plan {
    pub database: String,
    pub sync_user: String,
    pub read_role: String,
}

/// What automated setup changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    pub created_sync_user: bool,
    pub created_read_role: bool,
}

/// A fresh, strong password: 32 characters from [A-Za-z0-9] (about 190 bits).
pub fn generate_password() -> Result<Secret, Problem> {
    random_chars(
        32,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    )
    .map(Secret::new)
}

/// The default sync user name: `inlet_` and 8 random lowercase letters and digits.
pub fn generate_sync_user() -> Result<String, Problem> {
    random_chars(8, b"abcdefghijklmnopqrstuvwxyz0123456789").map(|s| format!("inlet_{s}"))
}

fn random_chars(n: usize, alphabet: &[u8]) -> Result<String, Problem> {
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        getrandom::fill(&mut buf).map_err(|e| {
            Problem::new(
                ProblemKind::ServerError,
                format!("no randomness available: {e}"),
                "",
            )
        })?;
        out.extend(
            buf.iter()
                .filter(|b| usize::from(**b) < limit)
                .map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()]))
                .take(n - out.len()),
        );
    }
    Ok(out)
}

/// Runs automated setup on `admin` (a connection as the admin user) in one transaction:
/// creates or updates the sync user with `password`, grants it `connect, create` on the
/// database, creates the read role and gives the sync user `admin option` on it.
pub async fn apply(admin: &mut Client, plan: &Plan, password: &Secret) -> Result<Applied, Problem> {
    check_admin(admin).await?;
    let tx = admin
        .transaction()
        .await
        .map_err(|e| sql_problem(&e, "could not start the setup transaction", "begin"))?;
    let (user, role, db) = (
        ident(&plan.sync_user),
        ident(&plan.read_role),
        ident(&plan.database),
    );
    let verifier = literal(&postgres_protocol::password::scram_sha_256(
        password.expose().as_bytes(),
    ));
    let mut applied = Applied::default();

    let statement = if role_exists(&tx, &plan.sync_user).await? {
        format!("alter role {user} with login password {verifier}")
    } else {
        applied.created_sync_user = true;
        format!("create role {user} with login password {verifier}")
    };
    // The statement holds only a verifier, but keep it out of error messages all the same.
    run(
        &tx,
        &statement,
        "create role <sync user> with login password '<verifier>'",
    )
    .await?;
    run(
        &tx,
        &format!("grant connect, create on database {db} to {user}"),
        "",
    )
    .await?;
    if !role_exists(&tx, &plan.read_role).await? {
        applied.created_read_role = true;
        run(&tx, &format!("create role {role} with nologin"), "").await?;
    }
    run(
        &tx,
        &format!("grant {role} to {user} with admin option"),
        "",
    )
    .await?;
    tx.commit()
        .await
        .map_err(|e| sql_problem(&e, "could not commit the setup", "commit"))?;
    Ok(applied)
}

/// The SQL a person runs by hand instead of giving inlet admin credentials. The password is
/// left for them to choose.
pub fn manual_script(plan: &Plan) -> String {
    let (user, role, db) = (
        ident(&plan.sync_user),
        ident(&plan.read_role),
        ident(&plan.database),
    );
    format!(
        "-- Run as a superuser, or as a role with CREATEROLE that owns database {db}.\n\
         -- 1. The sync user inlet connects as (choose a strong password):\n\
         create role {user} with login password 'CHOOSE-A-STRONG-PASSWORD';\n\
         -- 2. It may connect, and create its own schemas; it gets nothing on existing ones:\n\
         grant connect, create on database {db} to {user};\n\
         -- 3. The read role, administered by the sync user; grant it to people who read synced data:\n\
         create role {role} with nologin;\n\
         grant {role} to {user} with admin option;\n"
    )
}

async fn check_admin(admin: &Client) -> Result<(), Problem> {
    let row = admin
        .query_one(
            "select current_user::text, rolsuper, rolcreaterole from pg_roles \
              where rolname = current_user",
            &[],
        )
        .await
        .map_err(|e| sql_problem(&e, "could not read the admin's attributes", "pg_roles"))?;
    let (name, superuser, createrole): (String, bool, bool) = (row.get(0), row.get(1), row.get(2));
    if superuser || createrole {
        return Ok(());
    }
    Err(Problem::new(
        ProblemKind::PermissionDenied,
        format!("the admin user \"{name}\" cannot create roles (it has neither CREATEROLE nor SUPERUSER)"),
        format!(
            "run setup with a superuser, or first, as a superuser: alter role {} with createrole; \
             (or use --manual and have a DBA run the SQL)",
            ident(&name)
        ),
    ))
}

async fn role_exists(
    client: &impl tokio_postgres::GenericClient,
    name: &str,
) -> Result<bool, Problem> {
    client
        .query_one(
            "select exists (select 1 from pg_roles where rolname = $1)",
            &[&name],
        )
        .await
        .map(|r| r.get(0))
        .map_err(|e| sql_problem(&e, "could not look up roles", "pg_roles"))
}

/// Runs one setup statement; `shown` replaces it in messages when it must not be echoed.
async fn run(
    client: &impl tokio_postgres::GenericClient,
    statement: &str,
    shown: &str,
) -> Result<(), Problem> {
    let shown = if shown.is_empty() { statement } else { shown };
    client
        .batch_execute(statement)
        .await
        .map_err(|e| match e.code().map(|c| c.code()) {
            Some("42501") => Problem::new(
                ProblemKind::PermissionDenied,
                format!("the admin user may not do this: {}", server_text(&e)),
                format!(
                    "run setup as a superuser or as the database's owner with CREATEROLE; the \
                 statement was: {shown}"
                ),
            )
            .with_server("42501", &server_text(&e)),
            _ => sql_problem(&e, "setup failed", shown),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_and_passwords_have_the_promised_shape() {
        let pw = generate_password().expect("random");
        assert_eq!(pw.expose().len(), 32);
        assert!(pw.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(pw, generate_password().expect("random"));
        let user = generate_sync_user().expect("random");
        assert!(user.starts_with("inlet_") && user.len() == 14, "{user}");
        assert!(user[6..]
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }

    #[test]
    fn manual_script_quotes_every_name() {
        let plan = Plan {
            database: "My \"DB\"".into(),
            sync_user: "in; drop".into(),
            read_role: "R\"ead".into(),
        };
        let sql = manual_script(&plan);
        assert!(
            sql.contains("grant connect, create on database \"My \"\"DB\"\"\" to \"in; drop\";"),
            "{sql}"
        );
        assert!(
            sql.contains("grant \"R\"\"ead\" to \"in; drop\" with admin option;"),
            "{sql}"
        );
    }
}
