//! `inlet.toml`: what inlet syncs and where. It never holds a secret (see `secrets.rs`).
//! The field docs below are the reference for the file.
//!
//! ```toml
//! [destinations.warehouse]
//! host = "db.internal"
//! port = 5432
//! dbname = "analytics"
//! user = "inlet_k3x9q2ma"          # the sync user (written by `destination setup`)
//! read_role = "inlet_k3x9q2ma_read"
//! sslmode = "verify-full"
//! sslrootcert = "/etc/inlet/db-ca.pem"
//! sslcrl = "/etc/inlet/db-ca.crl"
//! ```
//!
//! Edits made by inlet keep the rest of the file, comments included, as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use inlet_postgres::ssh::{keys, SshOptions};
use inlet_postgres::{ConnectOptions, Problem, ProblemKind, RootCert, SslMode};
use serde::{Deserialize, Serialize};

use crate::files::{read_optional, write_atomic};
use crate::paths::Paths;
use crate::sync_config::SyncConfig;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub destinations: BTreeMap<String, Destination>,
    #[serde(default)]
    pub syncs: BTreeMap<String, SyncConfig>,
}

/// One PostgreSQL database inlet syncs into.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// Host name, IP address, or Unix-socket directory (starting with `/`).
    pub host: String,
    /// Port [default: 5432].
    #[serde(default = "default_port")]
    pub port: u16,
    /// Database name.
    pub dbname: String,
    /// The sync user inlet connects as. Its password is in `secrets.toml`, or in the
    /// environment variable named by `password_env`
    /// (default `INLET_DESTINATION_<NAME>_PASSWORD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The role granted to people who read synced data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_role: Option<String>,
    /// libpq sslmode [default: prefer].
    #[serde(default = "default_sslmode")]
    pub sslmode: SslMode,
    /// CA certificate file the server's certificate must chain to, or "system".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sslrootcert: Option<String>,
    /// Client certificate file, for certificate authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sslcert: Option<PathBuf>,
    /// Private key of the client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sslkey: Option<PathBuf>,
    /// Certificate revocation list (PEM) the server's certificate chain is checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sslcrl: Option<PathBuf>,
    /// libpq's hostaddr: the IP address to connect to without looking `host` up (`host`
    /// still names the server for verify-full). Kept as text so that a bad value is
    /// reported with this key and destination, not as a TOML type error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostaddr: Option<String>,
    /// The name sessions show in pg_stat_activity [default: inlet]; a sync's sessions add
    /// "pid PID on HOST" to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_name: Option<String>,
    /// Seconds to wait for each address [default: 10].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<u64>,
    /// Overrides the environment variable the password is read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// Reach the database through this SSH bastion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<Bastion>,
}

/// `[destinations.NAME.ssh]`: the bastion the database is reached through.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Bastion {
    /// The bastion's host name or address.
    pub host: String,
    /// Its SSH port [default: 22].
    #[serde(default = "default_ssh_port")]
    pub port: u16,
    /// The user inlet logs in as.
    pub user: String,
    /// inlet's private key [default: ssh/id_ed25519, else ssh/id_rsa, beside inlet.toml].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// An OpenSSH known_hosts file that must list the bastion's key [default: pin the key
    /// on first use in known_hosts beside inlet.toml].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<PathBuf>,
}

fn default_ssh_port() -> u16 {
    22
}

impl Bastion {
    /// As recorded: only what the person chose, so defaults stay defaults.
    pub fn from_options(ssh: &SshOptions, key_given: bool) -> Self {
        Bastion {
            host: ssh.host.clone(),
            port: ssh.port,
            user: ssh.user.clone(),
            key: key_given.then(|| ssh.key.clone()),
            known_hosts: ssh.known_hosts.clone(),
        }
    }

    fn options(&self, paths: &Paths) -> SshOptions {
        let key = self
            .key
            .clone()
            .unwrap_or_else(|| keys::default_key(&paths.ssh_dir()));
        let mut ssh = SshOptions::new(&self.host, &self.user, key, paths.known_hosts());
        ssh.port = self.port;
        ssh.known_hosts.clone_from(&self.known_hosts);
        ssh
    }
}

fn default_port() -> u16 {
    5432
}

fn default_sslmode() -> SslMode {
    SslMode::Prefer
}

impl Destination {
    /// Everything from the config except the user and password.
    pub fn from_options(o: &ConnectOptions) -> Self {
        Destination {
            host: o.host.clone(),
            port: o.port,
            dbname: o.dbname.clone(),
            user: None,
            read_role: None,
            sslmode: o.sslmode,
            sslrootcert: o.sslrootcert.as_ref().map(|r| match r {
                RootCert::System => "system".to_string(),
                RootCert::File(p) => p.display().to_string(),
            }),
            sslcert: o.sslcert.clone(),
            sslkey: o.sslkey.clone(),
            sslcrl: o.sslcrl.clone(),
            hostaddr: o.hostaddr.map(|a| a.to_string()),
            application_name: Some(o.application_name.clone())
                .filter(|n| n != inlet_postgres::DEFAULT_APPLICATION_NAME),
            connect_timeout: Some(o.connect_timeout.as_secs())
                .filter(|s| *s != inlet_postgres::DEFAULT_CONNECT_TIMEOUT.as_secs()),
            password_env: None,
            ssh: o.ssh.as_ref().map(|ssh| Bastion::from_options(ssh, true)),
        }
    }

    /// Connection options for `user` (no password: the caller supplies it).
    pub fn options_as(&self, user: &str, paths: &Paths) -> Result<ConnectOptions, Problem> {
        let mut o = ConnectOptions {
            host: self.host.clone(),
            port: self.port,
            dbname: self.dbname.clone(),
            user: user.to_string(),
            sslmode: self.sslmode,
            sslcert: self.sslcert.clone(),
            sslkey: self.sslkey.clone(),
            ..ConnectOptions::default()
        };
        for (key, value) in self.libpq_settings() {
            o.set(key, &value)?;
        }
        o.ssh = self.ssh.as_ref().map(|b| b.options(paths));
        o.finish()
    }

    /// The settings kept as libpq writes them, applied through `ConnectOptions::set` so that
    /// the file is read with the same rules as `--url` and the flags.
    fn libpq_settings(&self) -> Vec<(&'static str, String)> {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        [
            ("hostaddr", self.hostaddr.clone()),
            ("sslrootcert", self.sslrootcert.clone()),
            ("sslcrl", path(&self.sslcrl)),
            (
                "connect_timeout",
                self.connect_timeout.map(|t| t.to_string()),
            ),
            ("application_name", self.application_name.clone()),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .collect()
    }

    /// Refuses, when the file is loaded, a value that could never connect, naming the file,
    /// the destination and the key: found at `inlet run`, it would only show as a failing
    /// sync, without saying where to look.
    fn check(&self, file: &Path, name: &str) -> Result<(), Problem> {
        let bad = |key: &str, what: &str, fix: String| {
            Problem::new(
                ProblemKind::InvalidOption,
                format!("{}: [destinations.{name}] {key}: {what}", file.display()),
                fix,
            )
        };
        let mut probe = ConnectOptions::default();
        for (key, value) in self.libpq_settings() {
            probe.set(key, &value).map_err(|p| {
                // "hostaddr \"x\" is not ...": the key is already in front of it.
                let what = p.message.strip_prefix(key).unwrap_or(&p.message);
                bad(key, what.trim_start(), p.fix)
            })?;
        }
        if self.hostaddr.is_some() && self.ssh.is_some() {
            return Err(bad(
                "hostaddr",
                "cannot be combined with an SSH tunnel",
                "through a bastion, the bastion resolves host: remove hostaddr, or put the \
                 address in host"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The environment variable holding the sync user's password.
    pub fn password_env(&self, name: &str) -> String {
        self.password_env.clone().unwrap_or_else(|| {
            let upper: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("INLET_DESTINATION_{upper}_PASSWORD")
        })
    }
}

/// Names of destinations and syncs become environment variable names, TOML keys and URL
/// path segments: keep them plain. `what` is "destination" or "sync".
pub fn check_name(what: &str, name: &str) -> Result<(), Problem> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Problem::new(
            ProblemKind::InvalidOption,
            format!("\"{name}\" is not a valid {what} name"),
            "use letters, digits, '_' and '-' (at most 63), e.g. warehouse or stripe-eu",
        ))
    }
}

pub fn load(path: &Path) -> Result<Config, Problem> {
    let Some(text) = read_optional(path)? else {
        return Ok(Config::default());
    };
    let config: Config = toml::from_str(&text).map_err(|e| {
        Problem::new(
            ProblemKind::InvalidOption,
            format!("{} is not valid: {}", path.display(), e.message()),
            match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!(
                        "fix line {line} of {} (see README, \"Configuration files\")",
                        path.display()
                    )
                }
                None => format!(
                    "fix {} (see README, \"Configuration files\")",
                    path.display()
                ),
            },
        )
    })?;
    for (name, destination) in &config.destinations {
        destination.check(path, name)?;
    }
    for (name, sync) in &config.syncs {
        sync.check(path, name)?;
    }
    Ok(config)
}

impl Config {
    pub fn destination(&self, name: &str, path: &Path) -> Result<&Destination, Problem> {
        self.destinations.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.destinations.keys().map(String::as_str).collect();
            Problem::new(
                ProblemKind::InvalidOption,
                format!("there is no destination \"{name}\" in {}", path.display()),
                if known.is_empty() {
                    format!("add it first: inlet destination add {name} --host HOST --dbname DB")
                } else {
                    format!("known destinations: {}", known.join(", "))
                },
            )
        })
    }
}

/// Writes one `[SECTION.NAME]` table (a destination, a sync) into the file, keeping
/// everything else (comments too) as it was.
pub fn save_entry<T: Serialize>(
    path: &Path,
    section: &str,
    name: &str,
    value: &T,
) -> Result<(), Problem> {
    let text = read_optional(path)?.unwrap_or_default();
    let invalid = |e: String| {
        Problem::new(
            ProblemKind::InvalidOption,
            format!("cannot update {}: {e}", path.display()),
            format!("fix {} by hand first", path.display()),
        )
    };
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| invalid(format!("{e}")))?;
    let table = toml_edit::ser::to_document(value)
        .map_err(|e| invalid(e.to_string()))?
        .as_table()
        .clone();
    let entries = doc
        .entry(section)
        .or_insert_with(|| {
            let mut t = toml_edit::Table::new();
            t.set_implicit(true);
            toml_edit::Item::Table(t)
        })
        .as_table_mut()
        .ok_or_else(|| invalid(format!("`{section}` is not a table")))?;
    entries.insert(name, toml_edit::Item::Table(table));
    write_atomic(path, &doc.to_string(), 0o644)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn warehouse() -> Destination {
        let mut o = ConnectOptions::default();
        o.apply_url(
            "postgresql://db.internal/analytics?sslmode=verify-full&sslrootcert=/etc/inlet/ca.pem\
             &sslcrl=/etc/inlet/ca.crl&hostaddr=10.0.0.5&application_name=etl",
        )
        .expect("a valid URL");
        Destination::from_options(&o)
    }

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("inlet.toml");
        std::fs::write(&path, text).expect("write inlet.toml");
        path
    }

    #[test]
    fn sslcrl_hostaddr_and_application_name_survive_write_and_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("inlet.toml");
        let dest = warehouse();
        assert_eq!(dest.sslcrl, Some(PathBuf::from("/etc/inlet/ca.crl")));
        assert_eq!(dest.hostaddr.as_deref(), Some("10.0.0.5"));
        assert_eq!(dest.application_name.as_deref(), Some("etl"));
        save_entry(&path, "destinations", "warehouse", &dest).expect("save");
        let loaded = load(&path).expect("load");
        assert_eq!(loaded.destinations["warehouse"], dest);

        // And a sync connects with them, not with defaults.
        let o = loaded.destinations["warehouse"]
            .options_as("sync", &Paths::resolve(Some(&path)))
            .expect("options");
        assert_eq!(o.sslcrl, Some(PathBuf::from("/etc/inlet/ca.crl")));
        assert_eq!(o.hostaddr, Some(IpAddr::from([10, 0, 0, 5])));
        assert_eq!(o.application_name, "etl");
        assert_eq!(o.sslmode, SslMode::VerifyFull);
    }

    #[test]
    fn a_file_without_them_loads_with_libpq_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "[destinations.old]\nhost = \"db.internal\"\ndbname = \"analytics\"\n",
        );
        let dest = &load(&path).expect("load").destinations["old"];
        assert_eq!(
            (&dest.sslcrl, &dest.hostaddr, &dest.application_name),
            (&None, &None, &None)
        );
        let o = dest
            .options_as("sync", &Paths::resolve(Some(&path)))
            .expect("options");
        assert_eq!((o.sslcrl, o.hostaddr), (None, None));
        assert_eq!(o.application_name, inlet_postgres::DEFAULT_APPLICATION_NAME);

        // Defaults are not written out as if they had been chosen.
        let plain = Destination::from_options(&ConnectOptions::default());
        let text = toml_edit::ser::to_string(&plain).expect("serialise");
        for key in ["sslcrl", "hostaddr", "application_name"] {
            assert!(!text.contains(key), "{key} written: {text}");
        }
    }

    #[test]
    fn a_bad_hostaddr_is_refused_at_load_naming_the_file_destination_and_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "[destinations.warehouse]\nhost = \"db.internal\"\ndbname = \"analytics\"\n\
             hostaddr = \"not-an-ip\"\n",
        );
        let p = load(&path).expect_err("not an IP address");
        assert_eq!(p.kind, ProblemKind::InvalidOption);
        for part in [
            path.display().to_string().as_str(),
            "[destinations.warehouse] hostaddr: \"not-an-ip\" is not an IP address",
        ] {
            assert!(p.message.contains(part), "{part}: {}", p.message);
        }
        assert!(p.fix.contains("IPv4 or IPv6"), "{}", p.fix);

        let path = write(
            dir.path(),
            "[destinations.private]\nhost = \"db.internal\"\ndbname = \"analytics\"\n\
             hostaddr = \"10.0.0.5\"\n[destinations.private.ssh]\nhost = \"bastion\"\n\
             user = \"jump\"\n",
        );
        let p = load(&path).expect_err("hostaddr through a bastion");
        assert!(
            p.message.contains("[destinations.private] hostaddr")
                && p.message.contains("SSH tunnel"),
            "{}",
            p.message
        );
    }
}
