//! `inlet demo`: the whole product on one machine, in a minute. A private PostgreSQL (from
//! the server binaries installed here), the fake accounts of [`inlet_fakes::demo`] (a few
//! thousand objects each and a trickle of live changes), automated setup, a sync per
//! account side by side in one database (each in its own schema) with their progress, and
//! the `psql` lines to look at the data. Ctrl-C stops everything and removes it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use inlet_postgres::{ConnectOptions, Problem, ProblemKind, Secret, SslMode};

use super::destination::{setup_auto, SetupArgs};
use crate::config::{self, Destination};
use crate::exit::Code;
use crate::output;
use crate::paths::Paths;
use crate::secrets::{self, SyncSecret};
use crate::sync_config::SyncConfig;

/// `nobody`: PostgreSQL refuses to run as root, so a root demo runs the server as this.
const NOBODY: u32 = 65534;

pub async fn demo(customers: usize, keep: bool) -> Code {
    let work = match workdir() {
        Ok(w) => w,
        Err(p) => return output::problem(&p, None, false),
    };
    let server = match Server::start(&work) {
        Ok(s) => s,
        Err(p) => {
            let _ = std::fs::remove_dir_all(&work);
            return output::problem(&p, None, false);
        }
    };
    let code = match run(&work, &server, customers).await {
        Ok(code) => code,
        Err(p) => output::problem(&p, None, false),
    };
    server.stop();
    if keep {
        eprintln!("kept {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    code
}

async fn run(work: &Path, server: &Server, customers: usize) -> Result<Code, Problem> {
    server.create_database(work).await?;
    let paths = Paths::resolve(Some(&work.join("config/inlet.toml")));
    std::fs::create_dir_all(paths.dir()).map_err(|e| io_problem("create the config folder", &e))?;
    println!(
        "== 1. a private PostgreSQL {} is running (socket in {})",
        server.version,
        work.display()
    );

    let dest = Destination {
        host: work.display().to_string(),
        port: server.port,
        dbname: "demo".into(),
        user: None,
        read_role: None,
        sslmode: SslMode::Disable,
        sslrootcert: None,
        sslcert: None,
        sslkey: None,
        sslcrl: None,
        hostaddr: None,
        application_name: None,
        connect_timeout: None,
        password_env: None,
        ssh: None,
    };
    config::save_entry(&paths.config, "destinations", "demo", &dest)?;
    println!(
        "== 2. inlet destination setup demo --auto (a least-privilege sync user and a read role)"
    );
    let setup = SetupArgs {
        name: "demo".into(),
        admin_user: "postgres".into(),
        sync_user: None,
        read_role: None,
        grant_to: Some(Vec::new()),
        json: false,
    };
    if setup_auto(&paths, &setup).await != Code::Ok {
        return Ok(Code::Problem);
    }

    let listen = free_local_addr()?;
    let accounts = inlet_fakes::demo::start(customers, &format!("http://{listen}/webhooks"))
        .await
        .map_err(|e| io_problem("start the fake APIs", &e))?;
    println!("== 3. the fake APIs, each synced into its own schema:");
    for account in &accounts {
        println!("   {}", account.described);
        let name = account.source;
        let mut sync = SyncConfig::new(registered(name)?, "demo", name);
        sync.api_base = Some(account.api_base.clone());
        sync.rate_limit = account.rate_limit;
        for (key, value) in &account.options {
            sync.options.insert(key.to_string(), value.clone());
        }
        let secret = |kind, value: &str| {
            secrets::set_sync_secret(&paths.secrets(), name, kind, &Secret::new(value))
        };
        secret(SyncSecret::ApiKey, &account.api_key)?;
        if let Some(webhook) = &account.webhook_secret {
            secret(SyncSecret::WebhookSecret, webhook)?;
        }
        config::save_entry(&paths.config, "syncs", name, &sync)?;
    }
    let psql = server.bin.join("psql");
    let psql = if psql.exists() {
        psql.display().to_string()
    } else {
        "psql".into()
    };
    let conn = format!(
        "host={} port={} dbname=demo user=postgres",
        work.display(),
        server.port
    );
    println!("== 4. inlet run --listen {listen}   (every sync, side by side)");
    println!();
    println!("   look at the data (another terminal), as it arrives:");
    for query in accounts.iter().flat_map(|a| &a.queries) {
        println!("     {psql} \"{conn}\" -c '{query}'");
    }
    println!(
        "   status:  inlet --config {} sync status",
        paths.config.display()
    );
    println!("   stop:    Ctrl-C (everything is removed)");
    println!();
    Ok(super::run::run(&paths, Some(listen), &[]).await)
}

/// The registered source called `name`.
fn registered(name: &str) -> Result<&'static dyn inlet_connectors::registry::Connector, Problem> {
    inlet_connectors::registry::find(name).ok_or_else(|| {
        Problem::new(
            ProblemKind::ServerError,
            format!("this inlet has no {name} source"),
            "",
        )
    })
}

/// A throwaway PostgreSQL cluster under `work`, listening on a socket there.
struct Server {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    version: String,
    as_nobody: bool,
}

impl Server {
    fn start(work: &Path) -> Result<Server, Problem> {
        let bin = find_server().ok_or_else(|| {
            Problem::new(
                ProblemKind::InvalidOption,
                "no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin and the scripts/fetch-postgres caches)",
                "run scripts/demo, which installs them, or: apt-get install postgresql",
            )
        })?;
        let as_nobody = nix::unistd::geteuid().is_root();
        if as_nobody {
            nix::unistd::chown(work, Some(NOBODY.into()), Some(NOBODY.into())).map_err(|e| {
                io_problem("hand the demo folder to nobody", &std::io::Error::from(e))
            })?;
        }
        let port = free_local_addr()?.port();
        let data = work.join("data");
        let server = Server {
            version: version(&bin),
            bin,
            data,
            port,
            as_nobody,
        };
        server.tool(
            "initdb",
            &[
                "-D",
                &server.data.display().to_string(),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-N",
            ],
        )?;
        let conf = format!(
            "listen_addresses = ''\nport = {port}\nunix_socket_directories = '{}'\nfsync = off\n",
            work.display()
        );
        append(&server.data.join("postgresql.conf"), &conf)?;
        std::fs::write(
            server.data.join("pg_hba.conf"),
            "local all postgres trust\nlocal all all scram-sha-256\n",
        )
        .map_err(|e| io_problem("write pg_hba.conf", &e))?;
        server.tool(
            "pg_ctl",
            &[
                "-D",
                &server.data.display().to_string(),
                "-l",
                &work.join("server.log").display().to_string(),
                "-w",
                "start",
            ],
        )?;
        Ok(server)
    }

    fn tool(&self, name: &str, args: &[&str]) -> Result<(), Problem> {
        let mut cmd = Command::new(self.bin.join(name));
        cmd.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
        if self.as_nobody {
            cmd.uid(NOBODY).gid(NOBODY);
        }
        let out = cmd
            .output()
            .map_err(|e| io_problem(&format!("run {name}"), &e))?;
        if out.status.success() {
            return Ok(());
        }
        Err(Problem::new(
            ProblemKind::ServerError,
            format!(
                "{name} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            "see the message above; the demo needs a working PostgreSQL installation",
        ))
    }

    /// The demo's database, made over the socket with inlet's own client (the fetched
    /// server packages carry no psql or createdb).
    async fn create_database(&self, work: &Path) -> Result<(), Problem> {
        let admin = ConnectOptions {
            host: work.display().to_string(),
            port: self.port,
            dbname: "postgres".into(),
            user: "postgres".into(),
            sslmode: SslMode::Disable,
            ..ConnectOptions::default()
        };
        let session = inlet_postgres::connect(&admin).await?;
        session
            .client
            .batch_execute("create database demo")
            .await
            .map_err(|e| {
                inlet_postgres::sql_problem(
                    &e,
                    "could not create the demo database",
                    "create database demo",
                )
            })
    }

    fn stop(&self) {
        let _ = self.tool(
            "pg_ctl",
            &[
                "-D",
                &self.data.display().to_string(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }
}

/// The newest server installed: Debian's, or one fetched by scripts/fetch-postgres (which
/// caches in `$INLET_PG_CACHE`, `/var/cache/inlet/postgres` or `~/.cache/inlet/postgres`).
fn find_server() -> Option<PathBuf> {
    let mut roots = vec![
        PathBuf::from("/usr/lib/postgresql"),
        PathBuf::from("/var/cache/inlet/postgres"),
    ];
    roots.extend(std::env::var_os("INLET_PG_CACHE").map(PathBuf::from));
    let user_cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    roots.extend(user_cache.map(|c| c.join("inlet/postgres")));
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for root in roots {
        let Ok(entries) = std::fs::read_dir(&root) else {
            continue;
        };
        for e in entries.flatten() {
            let Some(major) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            for bin in [e.path().join("bin"), e.path().join("native/bin")] {
                if bin.join("postgres").exists() && bin.join("initdb").exists() {
                    found.push((major, bin));
                }
            }
        }
    }
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn version(bin: &Path) -> String {
    Command::new(bin.join("postgres"))
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.split_whitespace().last().map(String::from))
        .unwrap_or_default()
}

fn workdir() -> Result<PathBuf, Problem> {
    let mut suffix = [0u8; 4];
    let _ = getrandom::fill(&mut suffix);
    let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("inlet-demo-{hex}"));
    std::fs::create_dir(&dir).map_err(|e| io_problem("create the demo folder", &e))?;
    Ok(dir)
}

fn free_local_addr() -> Result<std::net::SocketAddr, Problem> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| io_problem("find a free port", &e))
}

fn append(path: &Path, text: &str) -> Result<(), Problem> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| io_problem("configure the server", &e))
}

fn io_problem(what: &str, e: &std::io::Error) -> Problem {
    Problem::new(
        ProblemKind::ServerError,
        format!("could not {what}: {e}"),
        "",
    )
}
