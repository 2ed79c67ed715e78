//! `inlet destination setup NAME --auto | --manual`.
//!
//! Order matters for crash safety: the sync user's password is saved to `secrets.toml`
//! before the role is created with it, and the config names the user only after the role
//! exists. A run killed at any point leaves a state that the next run completes.

use std::io::{BufRead, IsTerminal, Write};

use inlet_postgres::setup::{self, Plan};
use inlet_postgres::verify::{self, Expectations};
use inlet_postgres::{read_role, Problem, ProblemKind, Secret};
use serde_json::json;

use super::{connect_as_sync_user, connect_prompting};
use crate::config::{self, Destination};
use crate::exit::Code;
use crate::output;
use crate::paths::Paths;
use crate::secrets;

#[derive(Debug, Clone)]
pub struct SetupArgs {
    pub name: String,
    pub admin_user: String,
    pub sync_user: Option<String>,
    pub read_role: Option<String>,
    /// `None`: ask at the terminal (or grant to nobody without one).
    pub grant_to: Option<Vec<String>>,
    pub json: bool,
}

/// The environment variable scripts use to pass the admin password (never a flag: command
/// lines are visible to every user of the machine).
pub const ADMIN_PASSWORD_ENV: &str = "INLET_ADMIN_PASSWORD";

pub async fn setup_auto(paths: &Paths, args: &SetupArgs) -> Code {
    match run_auto(paths, args).await {
        Ok(report) => {
            if args.json {
                println!("{report}");
            }
            let critical = report["findings"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["severity"] == "critical"));
            if critical {
                Code::Problem
            } else {
                Code::Ok
            }
        }
        Err(p) => output::problem(&p, None, args.json),
    }
}

async fn run_auto(paths: &Paths, args: &SetupArgs) -> Result<serde_json::Value, Problem> {
    let name = &args.name;
    let dest = config::load(&paths.config)?
        .destination(name, &paths.config)?
        .clone();
    let plan = plan(&dest, args)?;

    // The admin password lives in this variable and nowhere else, and only for this call.
    let mut admin_opts = dest.options_as(&args.admin_user, paths)?;
    admin_opts.password = std::env::var(ADMIN_PASSWORD_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .map(Secret::new);
    let mut admin = connect_prompting(&mut admin_opts)
        .await
        .map_err(|p| admin_problem(p, args))?;
    drop(admin_opts);

    let secrets_path = paths.secrets();
    let password = match inlet_runtime::connect::sync_password(paths, name, &dest)? {
        Some(pw) => pw,
        None => {
            let pw = setup::generate_password()?;
            secrets::set_destination_password(&secrets_path, name, &pw)?;
            pw
        }
    };
    let applied = setup::apply(&mut admin.client, &plan, &password).await?;
    drop(admin);

    let mut updated = dest.clone();
    updated.user = Some(plan.sync_user.clone());
    updated.read_role = Some(plan.read_role.clone());
    if updated != dest {
        config::save_entry(&paths.config, "destinations", name, &updated)?;
    }

    // From here on, everything runs as the sync user, with the stored password.
    let (_, session) = connect_as_sync_user(paths, name).await?;
    // Syncs that ran before the read role existed: their schemas and tables become readable.
    read_role::grant_on_own_schemas(&session.client, &plan.read_role).await?;
    let people = match &args.grant_to {
        Some(list) => list.clone(),
        None => choose_people(&session, &plan).await?,
    };
    for person in &people {
        read_role::grant(&session.client, &plan.read_role, person).await?;
    }
    let findings = verify::verify(
        &session.client,
        &Expectations {
            read_role: Some(&plan.read_role),
            schema: None,
        },
    )
    .await?;

    if !args.json {
        let done = |created: bool| {
            if created {
                "created"
            } else {
                "already there, updated"
            }
        };
        println!("destination \"{name}\" is set up");
        println!(
            "  sync user   {} ({})",
            plan.sync_user,
            done(applied.created_sync_user)
        );
        println!(
            "              password stored in {}",
            secrets_path.display()
        );
        println!(
            "  read role   {} ({})",
            plan.read_role,
            done(applied.created_read_role)
        );
        if people.is_empty() {
            println!("  granted to  nobody yet: inlet destination grant {name} ROLE");
        } else {
            println!("  granted to  {}", people.join(", "));
        }
        output::findings(&findings);
    }
    Ok(json!({
        "ok": true,
        "destination": name,
        "sync_user": plan.sync_user,
        "read_role": plan.read_role,
        "created_sync_user": applied.created_sync_user,
        "created_read_role": applied.created_read_role,
        "granted_to": people,
        "secrets_file": secrets_path,
        "findings": findings,
    }))
}

pub async fn setup_manual(paths: &Paths, args: &SetupArgs) -> Code {
    let result = (|| {
        let dest = config::load(&paths.config)?
            .destination(&args.name, &paths.config)?
            .clone();
        let mut plan = plan(&dest, args)?;
        if dest.user.is_none() && args.sync_user.is_none() {
            plan.sync_user = "inlet".into();
            plan.read_role = args
                .read_role
                .clone()
                .unwrap_or_else(|| "inlet_read".into());
        }
        let mut updated = dest.clone();
        updated.user = Some(plan.sync_user.clone());
        updated.read_role = Some(plan.read_role.clone());
        config::save_entry(&paths.config, "destinations", &args.name, &updated)?;
        Ok::<_, Problem>((plan, updated))
    })();
    let (plan, dest) = match result {
        Ok(r) => r,
        Err(p) => return output::problem(&p, None, args.json),
    };
    let script = setup::manual_script(&plan);
    let name = &args.name;
    if args.json {
        println!(
            "{}",
            json!({"ok": true, "sync_user": plan.sync_user, "read_role": plan.read_role, "sql": script})
        );
    } else {
        print!("{script}");
        eprintln!(
            "\nRun the SQL above as an admin (psql, or your SQL client), then give inlet the \
             password you chose:\n  inlet destination password {name}      (or set {})\n\
             and check everything: inlet destination verify {name}",
            dest.password_env(name)
        );
    }
    Code::Ok
}

/// The names setup uses: the ones already configured, else the flags, else generated.
fn plan(dest: &Destination, args: &SetupArgs) -> Result<Plan, Problem> {
    let sync_user = match (&dest.user, &args.sync_user) {
        (Some(configured), Some(asked)) if configured != asked => {
            return Err(Problem::new(
                ProblemKind::InvalidOption,
                format!(
                    "destination \"{}\" already uses sync user \"{configured}\", not \"{asked}\"",
                    args.name
                ),
                "drop --sync-user to keep the configured user, or remove `user` from the \
                 destination in inlet.toml to set up a new one",
            ));
        }
        (Some(u), _) | (None, Some(u)) => u.clone(),
        (None, None) => setup::generate_sync_user()?,
    };
    let read_role = dest
        .read_role
        .clone()
        .or_else(|| args.read_role.clone())
        .unwrap_or_else(|| format!("{sync_user}_read"));
    Ok(Plan {
        database: dest.dbname.clone(),
        sync_user,
        read_role,
    })
}

/// Lists login roles and lets the person pick who gets the read role.
async fn choose_people(
    session: &inlet_postgres::Session,
    plan: &Plan,
) -> Result<Vec<String>, Problem> {
    if !std::io::stdin().is_terminal() {
        return Ok(Vec::new());
    }
    let roles = read_role::login_roles(&session.client, &plan.sync_user).await?;
    if roles.is_empty() {
        return Ok(Vec::new());
    }
    eprintln!(
        "Who should read the synced data? (read role {})",
        plan.read_role
    );
    for (i, r) in roles.iter().enumerate() {
        eprintln!("  {:>3}  {r}", i + 1);
    }
    eprint!("Numbers separated by commas, 'all', or Enter for nobody: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        Problem::new(
            ProblemKind::InvalidOption,
            format!("cannot read the answer: {e}"),
            "",
        )
    })?;
    pick(&roles, &line)
}

fn pick(roles: &[String], answer: &str) -> Result<Vec<String>, Problem> {
    let answer = answer.trim();
    if answer.eq_ignore_ascii_case("all") {
        return Ok(roles.to_vec());
    }
    answer
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| roles.get(i).cloned())
                .ok_or_else(|| {
                    Problem::new(
                        ProblemKind::InvalidOption,
                        format!("\"{s}\" is not one of the numbers listed"),
                        "run setup again, or use --grant-to a,b",
                    )
                })
        })
        .collect()
}

/// Connection failures as the admin say so: it is not the sync user that failed.
fn admin_problem(mut p: Problem, args: &SetupArgs) -> Problem {
    p.message = format!(
        "connecting as the admin user \"{}\": {}",
        args.admin_user, p.message
    );
    if p.kind == ProblemKind::PasswordRequired {
        p.fix = format!("set {ADMIN_PASSWORD_ENV}, or run in a terminal to be asked");
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picking_people_by_number() {
        let roles: Vec<String> = ["alice", "bob", "carol"].map(String::from).to_vec();
        assert_eq!(
            pick(&roles, "1, 3\n").ok(),
            Some(vec!["alice".into(), "carol".into()])
        );
        assert_eq!(pick(&roles, "all").ok(), Some(roles.clone()));
        assert_eq!(pick(&roles, "\n").ok(), Some(vec![]));
        assert!(pick(&roles, "4").is_err());
        assert!(pick(&roles, "x").is_err());
    }
}
