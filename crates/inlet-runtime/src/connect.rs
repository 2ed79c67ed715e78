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
    opts.application_name = application_name(&opts.application_name);
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
/// messages): the destination's application_name (default "inlet") with the process id and
/// machine, so a DBA can tell the workers apart, and so can the workers: they end a silent
/// worker's sessions by this name, so it must stay one process's own.
fn application_name(base: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let printable = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .collect()
    };
    // PostgreSQL keeps 63 bytes; a long configured name is shortened first, so the process
    // id always fits.
    let base: String = printable(base).chars().take(24).collect();
    let base = if base.trim().is_empty() {
        "inlet"
    } else {
        &base
    };
    let name = format!(
        "{base} pid {} on {}",
        std::process::id(),
        printable(host.trim())
    );
    name.chars().take(63).collect()
}

#[cfg(test)]
mod tests {
    use super::application_name;

    #[test]
    fn a_sessions_name_keeps_the_process_id_whatever_the_configured_name() {
        let pid = format!(" pid {} on ", std::process::id());
        assert!(application_name("inlet").starts_with(&format!("inlet{pid}")));
        assert!(application_name("etl").starts_with(&format!("etl{pid}")));
        assert!(application_name("").starts_with(&format!("inlet{pid}")));
        let long = application_name(&"x".repeat(100));
        assert!(long.len() <= 63 && long.contains(&pid), "{long}");
    }
}
