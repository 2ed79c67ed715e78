//! Connection settings, with libpq's names, defaults and URL syntax.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::problem::{Problem, ProblemKind};
use crate::ssh::SshOptions;

/// libpq's `sslmode`, with libpq's semantics (see `connect.rs` for how each one negotiates).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Plain first; TLS only if the server rejects the plain connection.
    Allow,
    /// TLS if the server offers it, plain otherwise (libpq's default).
    Prefer,
    /// TLS or fail; the certificate is not checked unless a root certificate is configured.
    Require,
    /// TLS, and the certificate must chain to `sslrootcert`.
    VerifyCa,
    /// As `verify-ca`, and the certificate must name the host we connected to.
    VerifyFull,
}

impl SslMode {
    pub const ALL: [SslMode; 6] = [
        SslMode::Disable,
        SslMode::Allow,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether a plain (unencrypted) session is acceptable at all.
    pub fn permits_plain(self) -> bool {
        matches!(self, SslMode::Disable | SslMode::Allow | SslMode::Prefer)
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = Problem;

    fn from_str(s: &str) -> Result<Self, Problem> {
        SslMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                Problem::new(
                    ProblemKind::InvalidOption,
                    format!("sslmode \"{s}\" is not a valid value"),
                    "use one of: disable, allow, prefer, require, verify-ca, verify-full",
                )
            })
    }
}

/// A secret string: never printed, never serialised, compared without leaking through `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where `sslrootcert` points: a file of PEM certificates, or the system's trust store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootCert {
    File(PathBuf),
    /// libpq's `sslrootcert=system` (PostgreSQL 16+): the operating system's trusted CAs.
    System,
}

/// Everything needed to open one connection. Field names follow libpq.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Host name, IP address, or a directory holding a Unix socket (starts with `/`).
    pub host: String,
    /// libpq's `hostaddr`: the IP address to connect to instead of resolving `host`, which
    /// still names the server for `verify-full`.
    pub hostaddr: Option<IpAddr>,
    pub port: u16,
    pub dbname: String,
    pub user: String,
    pub password: Option<Secret>,
    pub sslmode: SslMode,
    pub sslrootcert: Option<RootCert>,
    pub sslcert: Option<PathBuf>,
    pub sslkey: Option<PathBuf>,
    /// Certificate revocation lists (PEM); checked when there are root certificates.
    pub sslcrl: Option<PathBuf>,
    /// Applies to each address tried, from TCP connect to a ready session (libpq's meaning).
    pub connect_timeout: Duration,
    pub application_name: String,
    /// Reach the server through this SSH bastion; `host` and `port` are then the database as
    /// the bastion sees it (resolved there, not here).
    pub ssh: Option<SshOptions>,
}

pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_APPLICATION_NAME: &str = "inlet";

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            host: "localhost".into(),
            hostaddr: None,
            port: 5432,
            dbname: String::new(),
            user: String::new(),
            password: None,
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            sslcert: None,
            sslkey: None,
            sslcrl: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            application_name: DEFAULT_APPLICATION_NAME.into(),
            ssh: None,
        }
    }
}

/// The environment a connection is resolved in: libpq's `PG*` variables and the home
/// directory holding `~/.postgresql/`. Passed in, not read globally, so tests can control it.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    pub vars: Vec<(String, String)>,
    pub home: Option<PathBuf>,
    pub os_user: Option<String>,
}

impl Environment {
    /// The process's own environment.
    pub fn current() -> Self {
        Environment {
            vars: std::env::vars()
                .filter(|(k, _)| k.starts_with("PG"))
                .collect(),
            home: std::env::var_os("HOME").map(PathBuf::from),
            os_user: std::env::var("USER").ok(),
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

impl ConnectOptions {
    /// Defaults as libpq computes them: `PG*` variables, then `~/.postgresql/` files that
    /// exist, then built-in defaults (user = OS user, database = user).
    pub fn from_environment(env: &Environment) -> Result<Self, Problem> {
        let mut o = ConnectOptions::default();
        if let Some(v) = env.var("PGHOST") {
            o.host = v.into();
        }
        if let Some(v) = env.var("PGHOSTADDR") {
            o.hostaddr = Some(parse_hostaddr(v)?);
        }
        if let Some(v) = env.var("PGPORT") {
            o.port = parse_port(v)?;
        }
        if let Some(v) = env.var("PGUSER") {
            o.user = v.into();
        } else if let Some(v) = &env.os_user {
            o.user = v.clone();
        }
        if let Some(v) = env.var("PGDATABASE") {
            o.dbname = v.into();
        }
        if let Some(v) = env.var("PGPASSWORD") {
            o.password = Some(Secret::new(v));
        }
        if let Some(v) = env.var("PGSSLMODE") {
            o.sslmode = v.parse()?;
        }
        if let Some(v) = env.var("PGCONNECT_TIMEOUT") {
            o.connect_timeout = parse_timeout(v)?;
        }
        if let Some(v) = env.var("PGAPPNAME") {
            o.application_name = v.into();
        }
        let dot = env.home.as_ref().map(|h| h.join(".postgresql"));
        let existing = |name: &str| dot.as_ref().map(|d| d.join(name)).filter(|p| p.exists());
        o.sslrootcert = match env.var("PGSSLROOTCERT") {
            Some(v) => Some(parse_root_cert(v)),
            None => existing("root.crt").map(RootCert::File),
        };
        o.sslcert = env
            .var("PGSSLCERT")
            .map(PathBuf::from)
            .or_else(|| existing("postgresql.crt"));
        o.sslkey = env
            .var("PGSSLKEY")
            .map(PathBuf::from)
            .or_else(|| existing("postgresql.key"));
        o.sslcrl = env
            .var("PGSSLCRL")
            .map(PathBuf::from)
            .or_else(|| existing("root.crl"));
        Ok(o)
    }

    /// Applies a libpq URL, `postgres[ql]://[user[:password]@][host][:port][/dbname][?param=value&...]`.
    /// Values in the URL replace the current ones; percent-encoding is decoded.
    pub fn apply_url(&mut self, raw: &str) -> Result<(), Problem> {
        let bad = |why: String| {
            Problem::new(
                ProblemKind::InvalidOption,
                format!("the connection URL is not valid: {why}"),
                "write it as postgresql://USER@HOST:PORT/DBNAME?sslmode=require \
                 (percent-encode special characters in the user, password and database)",
            )
        };
        let rest = raw
            .strip_prefix("postgresql://")
            .or_else(|| raw.strip_prefix("postgres://"))
            .ok_or_else(|| bad("it must start with postgresql:// or postgres://".into()))?;
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if authority.contains(',') {
            return Err(bad("several hosts in one URL are not supported".into()));
        }
        // libpq allows an empty host (`postgresql://user@/db`, then the default or `?host=`);
        // the URL parser does not, so an empty host is parsed as a placeholder and ignored.
        let host_part = authority.rsplit('@').next().unwrap_or("");
        let no_host = host_part.is_empty() || host_part.starts_with(':');
        let rest = if no_host {
            let at = authority.len() - host_part.len();
            format!("{}{PLACEHOLDER_HOST}{}", &rest[..at], &rest[at..])
        } else {
            rest.to_string()
        };
        let url =
            url::Url::parse(&format!("postgresql://{rest}")).map_err(|e| bad(e.to_string()))?;
        if !url.username().is_empty() {
            self.user = decode(url.username()).map_err(bad)?;
        }
        if let Some(p) = url.password() {
            self.password = Some(Secret::new(decode(p).map_err(bad)?));
        }
        if let Some(h) = url.host_str().filter(|_| !no_host) {
            self.host = h.trim_start_matches('[').trim_end_matches(']').to_string();
        }
        if let Some(p) = url.port() {
            self.port = p;
        }
        let path = url.path().trim_start_matches('/');
        if !path.is_empty() {
            self.dbname = decode(path).map_err(bad)?;
        }
        for (k, v) in url.query_pairs() {
            self.set(&k, &v)?;
        }
        Ok(())
    }

    /// Sets one libpq parameter by name, as in a URL query or a config file.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), Problem> {
        match name {
            "host" => self.host = value.into(),
            "hostaddr" => self.hostaddr = Some(parse_hostaddr(value)?),
            "port" => self.port = parse_port(value)?,
            "dbname" => self.dbname = value.into(),
            "user" => self.user = value.into(),
            "password" => self.password = Some(Secret::new(value)),
            "sslmode" => self.sslmode = value.parse()?,
            "sslrootcert" => self.sslrootcert = Some(parse_root_cert(value)),
            "sslcert" => self.sslcert = Some(value.into()),
            "sslkey" => self.sslkey = Some(value.into()),
            "sslcrl" => self.sslcrl = Some(value.into()),
            "connect_timeout" => self.connect_timeout = parse_timeout(value)?,
            "application_name" => self.application_name = value.into(),
            other => {
                return Err(Problem::new(
                    ProblemKind::InvalidOption,
                    format!("\"{other}\" is not a connection parameter inlet understands"),
                    "supported: host, hostaddr, port, dbname, user, password, sslmode, \
                     sslrootcert, sslcert, sslkey, sslcrl, connect_timeout, application_name",
                ))
            }
        }
        Ok(())
    }

    /// Fills what libpq fills last: the database defaults to the user name.
    pub fn finish(mut self) -> Result<Self, Problem> {
        if self.user.is_empty() {
            return Err(Problem::new(
                ProblemKind::InvalidOption,
                "no database user given",
                "pass --user, put it in the URL (postgresql://USER@HOST/DB), or set PGUSER",
            ));
        }
        if self.dbname.is_empty() {
            self.dbname = self.user.clone();
        }
        self.check_tunnel()?;
        Ok(self)
    }

    /// What an SSH tunnel cannot do; also checked before a destination is recorded, so that
    /// `destination add` does not keep settings no sync could use.
    pub fn check_tunnel(&self) -> Result<(), Problem> {
        if self.ssh.is_some() && self.hostaddr.is_some() {
            return Err(Problem::new(
                ProblemKind::InvalidOption,
                "hostaddr cannot be combined with an SSH tunnel",
                "through a bastion, the bastion resolves --host: leave hostaddr out, or give \
                 the address as --host",
            ));
        }
        if self.ssh.is_some() && self.is_unix_socket() {
            return Err(Problem::new(
                ProblemKind::InvalidOption,
                format!(
                    "the host \"{}\" is a Unix-socket directory, which an SSH tunnel cannot reach",
                    self.host
                ),
                "with --ssh-host, give --host as the database's network address as the bastion \
                 sees it (for a database on the bastion itself: --host 127.0.0.1)",
            ));
        }
        Ok(())
    }

    /// Whether the host names a Unix-socket directory rather than a network host.
    pub fn is_unix_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// `user@host:port/dbname`, for messages: never includes the password.
    pub fn target(&self) -> String {
        format!("{}@{}:{}/{}", self.user, self.host, self.port, self.dbname)
    }
}

const PLACEHOLDER_HOST: &str = "no-host.invalid";

fn decode(s: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| "a percent-encoded part is not valid UTF-8".to_string())
}

fn parse_root_cert(v: &str) -> RootCert {
    if v == "system" {
        RootCert::System
    } else {
        RootCert::File(v.into())
    }
}

fn parse_port(v: &str) -> Result<u16, Problem> {
    v.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
        Problem::new(
            ProblemKind::InvalidOption,
            format!("port \"{v}\" is not a valid port number"),
            "use a number from 1 to 65535 (PostgreSQL's default is 5432)",
        )
    })
}

fn parse_hostaddr(v: &str) -> Result<IpAddr, Problem> {
    v.trim().parse().map_err(|_| {
        Problem::new(
            ProblemKind::InvalidOption,
            format!("hostaddr \"{v}\" is not an IP address"),
            "give hostaddr as a numeric IPv4 or IPv6 address (the host name goes in host)",
        )
    })
}

/// libpq reads `connect_timeout` as whole seconds; 0 or empty means "wait forever", which we
/// do not offer: a sync must notice a dead network, so 0 is refused with a clear message.
fn parse_timeout(v: &str) -> Result<Duration, Problem> {
    match v.trim().parse::<u64>() {
        Ok(s) if s > 0 => Ok(Duration::from_secs(s)),
        _ => Err(Problem::new(
            ProblemKind::InvalidOption,
            format!("connect_timeout \"{v}\" is not a positive number of seconds"),
            "use a whole number of seconds such as 10 (the default)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_url(u: &str) -> Result<ConnectOptions, Problem> {
        let mut o = ConnectOptions::default();
        o.apply_url(u)?;
        o.finish()
    }

    #[test]
    fn url_with_every_part_and_percent_encoding() {
        let o = from_url(
            "postgresql://us%40er:p%3Ass@db.example.com:6432/my%20db?sslmode=verify-full\
             &sslrootcert=/ca.pem&connect_timeout=3&application_name=x",
        )
        .expect("valid url");
        assert_eq!(o.user, "us@er");
        assert_eq!(o.password.as_ref().map(Secret::expose), Some("p:ss"));
        assert_eq!(o.host, "db.example.com");
        assert_eq!(o.port, 6432);
        assert_eq!(o.dbname, "my db");
        assert_eq!(o.sslmode, SslMode::VerifyFull);
        assert_eq!(o.sslrootcert, Some(RootCert::File("/ca.pem".into())));
        assert_eq!(o.connect_timeout, Duration::from_secs(3));
        assert_eq!(o.application_name, "x");
    }

    #[test]
    fn url_ipv6_host_and_default_database_is_user() {
        let o = from_url("postgres://alice@[::1]:5433").expect("valid url");
        assert_eq!(o.host, "::1");
        assert_eq!(o.dbname, "alice");
    }

    #[test]
    fn hostaddr_and_sslcrl_are_libpq_parameters() {
        let o =
            from_url("postgresql://bob@db.example.com/app?hostaddr=10.0.0.5&sslcrl=/etc/ca.crl")
                .expect("valid url");
        assert_eq!(o.host, "db.example.com");
        assert_eq!(o.hostaddr, Some("10.0.0.5".parse().expect("an address")));
        assert_eq!(o.sslcrl, Some(PathBuf::from("/etc/ca.crl")));
        let p = from_url("postgresql://bob@db/app?hostaddr=db.example.com")
            .expect_err("hostaddr must be an address");
        assert_eq!(p.kind, ProblemKind::InvalidOption);
        assert!(p.message.contains("not an IP address"), "{p:?}");
    }

    #[test]
    fn url_with_unix_socket_in_query() {
        let o = from_url("postgresql://bob@/app?host=/var/run/postgresql").expect("valid url");
        assert!(o.is_unix_socket());
        assert_eq!(o.dbname, "app");
    }

    #[test]
    fn bad_urls_are_invalid_options_not_panics() {
        for u in [
            "mysql://x@y/z",
            "postgresql://a@h1,h2/db",
            "postgresql://a@h/db?sslmode=sometimes",
            "postgresql://a@h/db?nonsense=1",
            "postgresql://a@h:99999/db",
            "postgresql://a@h/db?connect_timeout=0",
            "postgresql://a@h/%FF",
        ] {
            let e = from_url(u).expect_err(u);
            assert_eq!(e.kind, ProblemKind::InvalidOption, "{u}");
        }
    }

    #[test]
    fn environment_follows_libpq_and_missing_default_files_are_ignored() {
        let env = Environment {
            vars: vec![
                ("PGHOST".into(), "h".into()),
                ("PGPORT".into(), "7".into()),
                ("PGPASSWORD".into(), "pw".into()),
                ("PGSSLMODE".into(), "require".into()),
                ("PGSSLROOTCERT".into(), "system".into()),
            ],
            home: Some("/nonexistent-home".into()),
            os_user: Some("osuser".into()),
        };
        let o = ConnectOptions::from_environment(&env).and_then(ConnectOptions::finish);
        let o = o.expect("valid environment");
        assert_eq!(
            (o.host.as_str(), o.port, o.user.as_str()),
            ("h", 7, "osuser")
        );
        assert_eq!(o.dbname, "osuser");
        assert_eq!(o.sslmode, SslMode::Require);
        assert_eq!(o.sslrootcert, Some(RootCert::System));
        assert_eq!(o.sslcert, None);
    }

    #[test]
    fn a_unix_socket_cannot_be_reached_through_an_ssh_tunnel() {
        let o = ConnectOptions {
            host: "/var/run/postgresql".into(),
            user: "u".into(),
            ssh: Some(SshOptions::new("bastion", "u", "k".into(), "p".into())),
            ..ConnectOptions::default()
        };
        let p = o.finish().expect_err("unix socket through ssh");
        assert_eq!(p.kind, ProblemKind::InvalidOption);
        assert!(p.fix.contains("127.0.0.1"), "{p:?}");
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let o = ConnectOptions {
            password: Some(Secret::new("hunter2")),
            ..ConnectOptions::default()
        };
        assert!(!format!("{o:?}").contains("hunter2"));
        assert!(!o.target().contains("hunter2"));
    }
}
