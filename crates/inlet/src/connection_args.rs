//! The connection flags shared by every command that connects to a destination.

use std::path::PathBuf;

use clap::Args;
use inlet_postgres::ssh::{keys, SshOptions};
use inlet_postgres::{ConnectOptions, Environment, Problem, ProblemKind, Secret, SslMode};

use crate::paths::Paths;

#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// A libpq URL: postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?sslmode=...&...]. Prefer
    /// PGPASSWORD or -W over a password in the URL: command lines are visible to other users.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// Server host name or IP address, or a Unix-socket directory (starting with /).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    /// Server IP address to connect to without looking --host up; --host still names the
    /// server for verify-full.
    #[arg(long, value_name = "ADDRESS")]
    pub hostaddr: Option<String>,

    /// Server port [default: 5432].
    #[arg(long, value_name = "PORT")]
    pub port: Option<String>,

    /// Database name [default: the user name].
    #[arg(long, value_name = "NAME")]
    pub dbname: Option<String>,

    /// Database user [default: your OS user name].
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// TLS: disable, allow, prefer (default), require, verify-ca or verify-full.
    #[arg(long, value_name = "MODE", value_parser = parse_sslmode)]
    pub sslmode: Option<SslMode>,

    /// CA certificate(s) (PEM) the server's certificate must chain to, or "system".
    #[arg(long, value_name = "PATH")]
    pub sslrootcert: Option<String>,

    /// Client certificate (PEM) for certificate authentication.
    #[arg(long, value_name = "PATH")]
    pub sslcert: Option<PathBuf>,

    /// Private key (PEM) of the client certificate; must not be readable by others.
    #[arg(long, value_name = "PATH")]
    pub sslkey: Option<PathBuf>,

    /// Certificate revocation list(s) (PEM) the server's certificate chain is checked against.
    #[arg(long, value_name = "PATH")]
    pub sslcrl: Option<String>,

    /// Seconds to wait for each address to answer [default: 10].
    #[arg(long, value_name = "SECONDS")]
    pub connect_timeout: Option<String>,

    /// Name shown for this connection in pg_stat_activity [default: inlet].
    #[arg(long, value_name = "NAME")]
    pub application_name: Option<String>,

    /// Ask for the password on the terminal before connecting (also asked when the server
    /// wants one and none was given, if a terminal is attached).
    #[arg(short = 'W', long = "password")]
    pub prompt_password: bool,

    /// Reach the database through this SSH bastion (host name or address). --host and --port
    /// are then the database as the bastion sees it.
    #[arg(long, value_name = "HOST", help_heading = "SSH tunnel")]
    pub ssh_host: Option<String>,

    /// The bastion's SSH port [default: 22].
    #[arg(long, value_name = "PORT", help_heading = "SSH tunnel")]
    pub ssh_port: Option<String>,

    /// The user to log in as on the bastion [default: your OS user name].
    #[arg(long, value_name = "USER", help_heading = "SSH tunnel")]
    pub ssh_user: Option<String>,

    /// inlet's private key for the bastion [default: ssh/id_ed25519, else ssh/id_rsa, in
    /// inlet's directory; made by `inlet tunnel keygen`].
    #[arg(long, value_name = "PATH", help_heading = "SSH tunnel")]
    pub ssh_key: Option<PathBuf>,

    /// An OpenSSH known_hosts file that must list the bastion's host key [default: pin the
    /// key on first use in known_hosts in inlet's directory].
    #[arg(long, value_name = "PATH", help_heading = "SSH tunnel")]
    pub ssh_known_hosts: Option<PathBuf>,
}

fn parse_sslmode(s: &str) -> Result<SslMode, String> {
    s.parse().map_err(|p: Problem| p.fix)
}

impl ConnectionArgs {
    /// Environment, then URL, then flags: each later source overrides the earlier one.
    /// Not finished (no user required, database not defaulted): the caller adds the SSH
    /// part, or records a destination whose sync user does not exist yet, then finishes.
    pub fn options(&self, env: &Environment) -> Result<ConnectOptions, Problem> {
        let mut o = ConnectOptions::from_environment(env)?;
        if let Some(url) = &self.url {
            o.apply_url(url)?;
        }
        let flags = [
            ("host", self.host.as_deref()),
            ("hostaddr", self.hostaddr.as_deref()),
            ("port", self.port.as_deref()),
            ("dbname", self.dbname.as_deref()),
            ("user", self.user.as_deref()),
            ("sslmode", self.sslmode.map(SslMode::as_str)),
            ("sslrootcert", self.sslrootcert.as_deref()),
            ("sslcrl", self.sslcrl.as_deref()),
            ("connect_timeout", self.connect_timeout.as_deref()),
            ("application_name", self.application_name.as_deref()),
        ];
        for (name, value) in flags {
            if let Some(v) = value {
                o.set(name, v)?;
            }
        }
        if let Some(p) = &self.sslcert {
            o.sslcert = Some(p.clone());
        }
        if let Some(p) = &self.sslkey {
            o.sslkey = Some(p.clone());
        }
        Ok(o)
    }

    /// The SSH part, when --ssh-host is given; key and pins default to inlet's directory.
    pub fn ssh_options(
        &self,
        env: &Environment,
        paths: &Paths,
    ) -> Result<Option<SshOptions>, Problem> {
        let Some(host) = self.ssh_host.as_deref().filter(|h| !h.is_empty()) else {
            let stray = [
                ("--ssh-port", self.ssh_port.is_some()),
                ("--ssh-user", self.ssh_user.is_some()),
                ("--ssh-key", self.ssh_key.is_some()),
                ("--ssh-known-hosts", self.ssh_known_hosts.is_some()),
            ];
            if let Some((flag, _)) = stray.iter().find(|(_, given)| *given) {
                return Err(Problem::new(
                    ProblemKind::InvalidOption,
                    format!("{flag} was given without --ssh-host"),
                    "add --ssh-host with the bastion's address, or leave out the SSH flags",
                ));
            }
            return Ok(None);
        };
        let user = match (&self.ssh_user, &env.os_user) {
            (Some(u), _) | (None, Some(u)) if !u.is_empty() => u.clone(),
            _ => {
                return Err(Problem::new(
                    ProblemKind::InvalidOption,
                    "no user for the SSH bastion",
                    "pass --ssh-user with the user inlet logs in as on the bastion",
                ))
            }
        };
        let key = self
            .ssh_key
            .clone()
            .unwrap_or_else(|| keys::default_key(&paths.ssh_dir()));
        let mut ssh = SshOptions::new(host, user, key, paths.known_hosts());
        if let Some(p) = &self.ssh_port {
            ssh.port = p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                Problem::new(
                    ProblemKind::InvalidOption,
                    format!("--ssh-port \"{p}\" is not a valid port number"),
                    "use a number from 1 to 65535 (SSH's default is 22)",
                )
            })?;
        }
        ssh.known_hosts.clone_from(&self.ssh_known_hosts);
        Ok(Some(ssh))
    }

    /// Whether the URL carries a password (worth a warning: argv is world-readable).
    pub fn url_has_password(&self) -> bool {
        let mut probe = ConnectOptions::default();
        self.url
            .as_deref()
            .is_some_and(|u| probe.apply_url(u).is_ok() && probe.password.is_some())
    }
}

/// Reads a password from the terminal without echo. Echo is turned off *before* the prompt
/// is shown, so a password typed (or pasted) the moment the prompt appears is never echoed.
pub fn prompt_password(user: &str) -> std::io::Result<Secret> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    use std::io::{BufRead, Write};

    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let saved = tcgetattr(&tty).map_err(std::io::Error::from)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    tcsetattr(&tty, SetArg::TCSANOW, &quiet).map_err(std::io::Error::from)?;
    let read = (|| -> std::io::Result<String> {
        let mut out = &tty;
        write!(out, "Password for user {user}: ")?;
        out.flush()?;
        let mut line = String::new();
        std::io::BufReader::new(&tty).read_line(&mut line)?;
        Ok(line)
    })();
    // Echo comes back whatever happened.
    let restored = tcsetattr(&tty, SetArg::TCSANOW, &saved).map_err(std::io::Error::from);
    let line = read?;
    restored?;
    Ok(Secret::new(line.trim_end_matches(['\n', '\r']).to_string()))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        connection: ConnectionArgs,
    }

    fn ssh(args: &[&str]) -> Result<Option<SshOptions>, Problem> {
        let flags = Flags::try_parse_from(std::iter::once("inlet").chain(args.iter().copied()))
            .expect("flags parse");
        let env = Environment {
            os_user: Some("osuser".into()),
            ..Environment::default()
        };
        let paths = Paths::resolve(Some(Path::new("/etc/inlet/inlet.toml")));
        flags.connection.ssh_options(&env, &paths)
    }

    #[test]
    fn ssh_defaults_come_from_inlets_directory_and_the_os_user() {
        let o = ssh(&["--ssh-host", "bastion"])
            .expect("valid")
            .expect("a tunnel");
        assert_eq!(
            (o.host.as_str(), o.port, o.user.as_str()),
            ("bastion", 22, "osuser")
        );
        assert_eq!(o.key, PathBuf::from("/etc/inlet/ssh/id_ed25519"));
        assert_eq!(o.pins, PathBuf::from("/etc/inlet/known_hosts"));
        assert_eq!(o.known_hosts, None);
        let o = ssh(&[
            "--ssh-host",
            "b",
            "--ssh-port",
            "2222",
            "--ssh-user",
            "jump",
            "--ssh-key",
            "/k",
            "--ssh-known-hosts",
            "/kh",
        ])
        .expect("valid")
        .expect("a tunnel");
        assert_eq!((o.port, o.user.as_str()), (2222, "jump"));
        assert_eq!(
            (o.key, o.known_hosts),
            (PathBuf::from("/k"), Some(PathBuf::from("/kh")))
        );
        assert_eq!(ssh(&[]), Ok(None));
    }

    #[test]
    fn ssh_flags_without_a_bastion_or_with_a_bad_port_are_invalid() {
        for args in [
            &["--ssh-user", "x"][..],
            &["--ssh-key", "/k"],
            &["--ssh-host", "b", "--ssh-port", "0"],
            &["--ssh-host", "b", "--ssh-port", "ssh"],
        ] {
            let p = ssh(args).expect_err("invalid");
            assert_eq!(p.kind, ProblemKind::InvalidOption, "{args:?}");
        }
    }
}
