//! `inlet destination ...`: reaching and preparing the user's database.

mod add;
mod check;
mod grant;
mod setup;
mod verify;

pub use add::add;
pub use check::check;
pub use grant::{grant, revoke, store_password};
pub use setup::{setup_auto, setup_manual, SetupArgs};
pub use verify::verify;

use std::io::IsTerminal;

use inlet_postgres::{connect, ConnectOptions, Problem, ProblemKind, Session};

use crate::config::{self, Destination};
use crate::connection_args::prompt_password;
use crate::paths::Paths;
use crate::secrets;

/// A configured destination, connected as its sync user.
pub(crate) async fn connect_as_sync_user(
    paths: &Paths,
    name: &str,
) -> Result<(Destination, Session), Problem> {
    let dest = config::load(&paths.config)?
        .destination(name, &paths.config)?
        .clone();
    let user = dest.user.clone().ok_or_else(|| {
        Problem::new(
            ProblemKind::InvalidOption,
            format!("destination \"{name}\" has no sync user yet"),
            format!(
                "run `inlet destination setup {name} --auto` (or --manual), or add the user \
                 with `inlet destination add {name} --user USER --force ...`"
            ),
        )
    })?;
    let mut opts = dest.options_as(&user, paths)?;
    opts.password = sync_password(paths, name, &dest)?;
    let session = connect(&opts).await?;
    Ok((dest, session))
}

/// The sync user's password: its environment variable first, then `secrets.toml`.
fn sync_password(
    paths: &Paths,
    name: &str,
    dest: &Destination,
) -> Result<Option<inlet_postgres::Secret>, Problem> {
    match std::env::var(dest.password_env(name)) {
        Ok(v) if !v.is_empty() => Ok(Some(inlet_postgres::Secret::new(v))),
        _ => secrets::destination_password(&paths.secrets(), name),
    }
}

/// Connects; if the server wants a password we lack and a person is at the terminal, asks
/// for it once and tries again, as psql does.
async fn connect_prompting(opts: &mut ConnectOptions) -> Result<Session, Problem> {
    match connect(opts).await {
        Err(p) if p.kind == ProblemKind::PasswordRequired && std::io::stdin().is_terminal() => {
            opts.password = Some(prompt_password(&opts.user).map_err(no_terminal)?);
            connect(opts).await
        }
        other => other,
    }
}

fn no_terminal(e: std::io::Error) -> Problem {
    Problem::new(
        ProblemKind::PasswordRequired,
        format!("cannot ask for the password: {e}"),
        "run in a terminal, or set the password in the environment",
    )
}
