//! Starting, using and stopping a PostgreSQL cluster.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use tokio_postgres::NoTls;

use crate::binaries::{bin_dir, server_version_num};
use crate::hba::{hba_conf, HbaConn, HbaMethod, HbaRule};
use crate::netns::Netns;
use crate::server::{read_from, server_command, start_postgres, stop, tail, wait_ready};
use crate::sql::{conf_literal, describe, ident, literal};
use crate::tls::TlsMaterial;
use crate::workdir::{fresh_dir, give_to_server_user, next_id};

const START_ATTEMPTS: usize = 3;

/// What to start: a builder for [`Cluster`].
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    major: u32,
    ssl: bool,
    rules: Vec<HbaRule>,
    settings: Vec<(String, String)>,
    netns: Option<PathBuf>,
    /// Also listens on this address, for clients of this /30 (a [`Netns`]'s link).
    link: Option<Ipv4Addr>,
}

impl ClusterSpec {
    /// PostgreSQL `major`, TLS off, no TCP rules in pg_hba.conf (only the
    /// superuser over the unix socket), `password_encryption = scram-sha-256`.
    pub fn new(major: u32) -> Self {
        ClusterSpec {
            major,
            ssl: false,
            rules: Vec::new(),
            settings: Vec::new(),
            netns: None,
            link: None,
        }
    }

    /// `ssl = on` with [`TlsMaterial::shared`]'s server certificate and key,
    /// and its CA as `ssl_ca_file` (so `cert` authentication works).
    pub fn ssl(mut self, on: bool) -> Self {
        self.ssl = on;
        self
    }

    /// Appends a pg_hba.conf rule, after the superuser's line and the earlier rules.
    pub fn hba(mut self, rule: HbaRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The rule most tests want: every user may log in over TCP with a password
    /// (scram-sha-256).
    pub fn password_logins(self) -> Self {
        self.hba(HbaRule::new(
            HbaConn::Host,
            "all",
            "all",
            HbaMethod::ScramSha256,
        ))
    }

    /// Appends `name = 'value'` to postgresql.conf, after the kit's own
    /// settings (the last one wins). A `port` setting is used as is, without
    /// the retries on a taken port; leave `listen_addresses` and
    /// `unix_socket_directories` alone.
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Runs the server inside `netns`: it listens on the namespace's own 127.0.0.1, which
    /// nothing outside the namespace can reach (the unix socket and [`Cluster::admin`] still
    /// work). `netns` must outlive the cluster.
    pub fn in_netns(mut self, netns: &Netns) -> Self {
        self.netns = Some(netns.path());
        self
    }

    /// Also listens on this side of `netns`'s link, and the pg_hba.conf rules also admit
    /// clients of the link's /30: processes inside `netns` reach the server there, over a
    /// link a test can cut ([`Netns::cut`]). `netns` must outlive the cluster.
    pub fn reachable_from(mut self, netns: &Netns) -> Self {
        self.link = Some(netns.host_addr);
        self
    }

    /// Makes a data directory (initdb, or a copy of this process's pristine
    /// one for that version) and starts the server; panics with a clear message
    /// (including the server log's tail) on failure.
    pub fn start(self) -> Cluster {
        let bin = bin_dir(self.major);
        let version_num = server_version_num(&bin);
        assert_eq!(
            version_num / 10_000,
            self.major,
            "{} holds PostgreSQL {version_num}, not {}",
            bin.display(),
            self.major
        );
        let dir = fresh_dir(&next_id().to_string());
        let data = dir.join("data");
        crate::template::init_data_dir(self.major, &bin, &data, server_command);
        let initdb_conf = read(&data.join("postgresql.conf"));
        let link = self
            .link
            .map(|a| format!("{}/30", Ipv4Addr::from(u32::from(a) & !3)));
        write(
            &data.join("pg_hba.conf"),
            &hba_conf(&self.rules, link.as_deref()),
        );
        if self.ssl {
            install_tls(&data);
        }

        let log = dir.join("server.log");
        // A `port` setting is honoured (and not retried).
        let fixed_port = self
            .settings
            .iter()
            .rev()
            .find(|(name, _)| name == "port")
            .map(|(_, v)| {
                v.parse::<u16>()
                    .unwrap_or_else(|_| panic!("setting port = {v:?} is not a port"))
            });
        let attempts = if fixed_port.is_some() {
            1
        } else {
            START_ATTEMPTS
        };
        for attempt in 1..=attempts {
            let port = fixed_port.unwrap_or_else(crate::net::free_port);
            let conf = format!(
                "{initdb_conf}\n# inlet-testkit\n{}",
                self.conf_lines(&dir, &data, port)
            );
            write(&data.join("postgresql.conf"), &conf);
            give_to_server_user(&dir);
            let log_start = fs::metadata(&log).map_or(0, |m| m.len());
            let mut child = start_postgres(&bin, &dir, &data, &log, self.netns.as_deref());
            match wait_ready(&mut child, &data) {
                Ok(()) => {
                    return Cluster {
                        major: self.major,
                        port,
                        dir,
                        child,
                        version_num,
                        roles: Default::default(),
                    }
                }
                Err(failure) => {
                    stop(&mut child);
                    let this_attempt = read_from(&log, log_start);
                    let port_taken = this_attempt.contains("could not bind")
                        || this_attempt.contains("could not create any TCP/IP sockets");
                    if !(port_taken && attempt < attempts) {
                        panic!(
                            "PostgreSQL {} in {} {failure} (attempt {attempt}, port {port}); \
                             server log tail:\n{}",
                            self.major,
                            dir.display(),
                            tail(&log)
                        );
                    }
                }
            }
        }
        unreachable!("the last start attempt returns or panics");
    }

    fn conf_lines(&self, dir: &Path, data: &Path, port: u16) -> String {
        let dir = dir.to_str().expect("cluster directory path is not UTF-8");
        let listen = match self.link {
            Some(addr) => format!("127.0.0.1,{addr}"),
            None => "127.0.0.1".to_owned(),
        };
        let mut settings: Vec<(&str, String)> = vec![
            ("listen_addresses", listen),
            ("port", port.to_string()),
            ("unix_socket_directories", dir.to_owned()),
            ("fsync", "off".to_owned()),
            ("synchronous_commit", "off".to_owned()),
            ("full_page_writes", "off".to_owned()),
            ("shared_buffers", "16MB".to_owned()),
            ("max_connections", "50".to_owned()),
            ("password_encryption", "scram-sha-256".to_owned()),
            ("logging_collector", "off".to_owned()),
        ];
        if self.ssl {
            let path = |name: &str| {
                data.join(name)
                    .to_str()
                    .expect("data path is UTF-8")
                    .to_owned()
            };
            settings.push(("ssl", "on".to_owned()));
            settings.push(("ssl_cert_file", path("server.crt")));
            settings.push(("ssl_key_file", path("server.key")));
            settings.push(("ssl_ca_file", path("root.crt")));
        }
        settings.extend(self.settings.iter().map(|(n, v)| (n.as_str(), v.clone())));
        settings
            .iter()
            .map(|(name, value)| format!("{name} = {}\n", conf_literal(value)))
            .collect()
    }
}

/// A running PostgreSQL server, stopped and deleted when dropped.
#[derive(Debug)]
pub struct Cluster {
    pub major: u32,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// Holds `data/`, `server.log` and the unix socket.
    pub(crate) dir: PathBuf,
    child: Child,
    version_num: u32,
    /// Role changes from concurrent tests are serialised: two `ALTER ROLE` of one role at
    /// once fail with "tuple concurrently updated".
    roles: tokio::sync::Mutex<()>,
}

impl Cluster {
    /// "127.0.0.1", where the server listens for TCP (inside its namespace, when it runs in one).
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// The directory holding the unix socket (`.s.PGSQL.<port>`).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// e.g. 100023 for 10.23, 180004 for 18.4.
    pub fn server_version_num(&self) -> u32 {
        self.version_num
    }

    /// Superuser connection ("postgres", trust, over the unix socket) to
    /// database "postgres". Spawns the connection task on the current tokio runtime.
    pub async fn admin(&self) -> tokio_postgres::Client {
        self.admin_db("postgres").await
    }

    /// Superuser connection to database `db`.
    pub async fn admin_db(&self, db: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::Config::new()
            .host_path(&self.dir)
            .port(self.port)
            .user("postgres")
            .dbname(db)
            .application_name("inlet-testkit")
            .connect_timeout(Duration::from_secs(30))
            .connect(NoTls)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "superuser connection to database {db:?} of PostgreSQL {} failed: {}; \
                     server log tail:\n{}",
                    self.major,
                    describe(&e),
                    self.log_tail()
                )
            });
        // Errors surface in the client's calls; a closed connection is normal.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// Runs SQL (may be several statements) as superuser on database "postgres".
    pub async fn exec(&self, sql: &str) {
        self.admin()
            .await
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL {}: {} running:\n{sql}",
                    self.major,
                    describe(&e)
                )
            });
    }

    /// Creates a database with a fresh random name (like "t_3f9a1c07") and returns the name.
    pub async fn create_database(&self) -> String {
        let name = format!("t_{:08x}", random_u32());
        self.exec(&format!("CREATE DATABASE {}", ident(&name)))
            .await;
        name
    }

    /// Makes `name` a login role with `password`: creates it, or when it
    /// exists already gives it LOGIN and this password.
    pub async fn create_user(&self, name: &str, password: &str) {
        let (role, password) = (ident(name), literal(password));
        assert!(
            !role.contains("$tk$") && !password.contains("$tk$"),
            "create_user: name or password contains the dollar-quote tag $tk$"
        );
        // Not DROP + CREATE: DROP ROLE fails once the role owns objects or holds grants.
        let _serialised = self.roles.lock().await;
        self.exec(&format!(
            "DO $tk$ BEGIN
                CREATE ROLE {role} LOGIN PASSWORD {password};
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                ALTER ROLE {role} WITH LOGIN PASSWORD {password};
            END $tk$"
        ))
        .await;
    }

    /// A fresh database set up as inlet's setup leaves it: `user` (a login role with
    /// `password`) may connect and create its own schemas and nothing more, and the nologin
    /// role `read_role` exists. Returns the database's name.
    pub async fn sync_database(&self, user: &str, password: &str, read_role: &str) -> String {
        self.create_user(user, password).await;
        {
            let _serialised = self.roles.lock().await;
            let role = ident(read_role);
            self.exec(&format!(
                "DO $tk$ BEGIN CREATE ROLE {role}; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $tk$"
            ))
            .await;
        }
        let db = self.create_database().await;
        self.exec(&format!(
            "grant connect, create on database {} to {}",
            ident(&db),
            ident(user)
        ))
        .await;
        db
    }

    /// The last 50 lines of the server log, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.dir.join("server.log"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        stop(&mut self.child);
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("inlet-testkit: cannot remove {}: {e}", self.dir.display());
        }
    }
}

/// Copies the shared TLS files into the data directory (the server wants its
/// key owned by the user it runs as and not readable by others).
fn install_tls(data: &Path) {
    let tls = TlsMaterial::shared();
    for (from, name) in [
        (&tls.server_cert, "server.crt"),
        (&tls.server_key, "server.key"),
        (&tls.ca_cert, "root.crt"),
    ] {
        write(&data.join(name), &read(from));
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn write(path: &Path, contents: &str) {
    fs::write(path, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    // New files are created 0644; the server key must not be readable by others.
    fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
}

/// A random number from the standard library's randomly keyed hasher.
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(next_id());
    hasher.finish() as u32
}
