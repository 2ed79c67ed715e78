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
pub(crate) use inlet_runtime::connect::connect_as_sync_user;

use crate::connection_args::prompt_password;

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
