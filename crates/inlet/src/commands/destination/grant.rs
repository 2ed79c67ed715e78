//! `inlet destination grant|revoke NAME ROLE` and `inlet destination password NAME`.

use std::io::{BufRead, IsTerminal};

use inlet_postgres::{read_role, Problem, ProblemKind, Secret};
use serde_json::json;

use super::connect_as_sync_user;
use crate::config;
use crate::connection_args::prompt_password;
use crate::exit::Code;
use crate::output;
use crate::paths::Paths;
use crate::secrets;

pub async fn grant(paths: &Paths, name: &str, person: &str, json: bool) -> Code {
    change(paths, name, person, json, true).await
}

pub async fn revoke(paths: &Paths, name: &str, person: &str, json: bool) -> Code {
    change(paths, name, person, json, false).await
}

async fn change(paths: &Paths, name: &str, person: &str, json: bool, grant: bool) -> Code {
    let result = async {
        let (dest, session) = connect_as_sync_user(paths, name).await?;
        let role = dest.read_role.clone().ok_or_else(|| {
            Problem::new(
                ProblemKind::InvalidOption,
                format!("destination \"{name}\" has no read role configured"),
                format!("run `inlet destination setup {name}` first"),
            )
        })?;
        if grant {
            // A read role added after syncs started gets their schemas and tables first.
            read_role::grant_on_own_schemas(&session.client, &role).await?;
            read_role::grant(&session.client, &role, person).await?;
        } else {
            read_role::revoke(&session.client, &role, person).await?;
        }
        Ok::<_, Problem>(role)
    }
    .await;
    match result {
        Ok(role) => {
            let verb = if grant { "granted" } else { "revoked" };
            if json {
                println!(
                    "{}",
                    json!({"ok": true, "action": verb, "read_role": role, "role": person})
                );
            } else if grant {
                println!("{person} can now read synced data (member of {role})");
            } else {
                println!("{person} can no longer read synced data (removed from {role})");
            }
            Code::Ok
        }
        Err(p) => output::problem(&p, None, json),
    }
}

/// Stores the sync user's password in `secrets.toml` (after a manual setup): asked at the
/// terminal, or read as one line from standard input.
pub fn store_password(paths: &Paths, name: &str) -> Code {
    let result = (|| {
        let dest = config::load(&paths.config)?
            .destination(name, &paths.config)?
            .clone();
        let user = dest.user.clone().unwrap_or_else(|| "the sync user".into());
        let password = if std::io::stdin().is_terminal() {
            prompt_password(&user).map_err(|e| {
                Problem::new(
                    ProblemKind::PasswordRequired,
                    format!("cannot ask: {e}"),
                    "",
                )
            })?
        } else {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| {
                Problem::new(
                    ProblemKind::PasswordRequired,
                    format!("cannot read stdin: {e}"),
                    "",
                )
            })?;
            Secret::new(line.trim_end_matches(['\n', '\r']))
        };
        if password.expose().is_empty() {
            return Err(Problem::new(
                ProblemKind::PasswordRequired,
                "the password is empty",
                "",
            ));
        }
        secrets::set_destination_password(&paths.secrets(), name, &password)
    })();
    match result {
        Ok(()) => {
            eprintln!(
                "stored in {}; next: inlet destination verify {name}",
                paths.secrets().display()
            );
            Code::Ok
        }
        Err(p) => output::problem(&p, None, false),
    }
}
