//! Reaching a configured destination as its sync user, the way every sync does.

use inlet_postgres::workers::keep_alive;
use inlet_postgres::{connect, Problem, ProblemKind, Secret, Session};

use crate::config::{self, Destination};
use crate::paths::Paths;
use crate::secrets;

/// A configured destination, connected as its sync user; the server drops the session
/// soon after this process goes silent.
pub async fn connect_as_sync_user(
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
    opts.application_name = application_name();
    opts.password = sync_password(paths, name, &dest)?;
    let session = connect(&opts).await?;
    // Every session, not only those holding a lock: a worker cut off by the network must not
    // leave sessions on the server for the operating system's two hours, each holding a
    // connection slot (see `keep_alive`).
    keep_alive(&session.client).await;
    Ok((dest, session))
}

/// The sync user's password: its environment variable first, then `secrets.toml`.
pub fn sync_password(
    paths: &Paths,
    name: &str,
    dest: &Destination,
) -> Result<Option<Secret>, Problem> {
    match std::env::var(dest.password_env(name)) {
        Ok(v) if !v.is_empty() => Ok(Some(Secret::new(v))),
        _ => secrets::destination_password(&paths.secrets(), name),
    }
}

/// How this process's sessions show in `pg_stat_activity` (and in "already syncing"
/// messages): with its process id and machine, so a DBA can tell the workers apart.
fn application_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = format!("inlet pid {} on {}", std::process::id(), host.trim());
    // PostgreSQL keeps 63 bytes of printable ASCII.
    name.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(63)
        .collect()
}
