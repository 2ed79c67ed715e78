//! What the binary's tests share: a PostgreSQL whose admin has a password, and the `inlet`
//! binary run with a config directory of its own and a clean environment.

// Each test file uses its own part of this.
#![allow(dead_code)]

pub mod hubspot;
pub mod salesforce;
pub mod workers;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use inlet_testkit::{shared, Cluster, ClusterSpec, Netns};
use serde_json::Value;

pub const ADMIN_PASSWORD: &str = "Admin-only-in-memory-7731";

/// A cluster of `major` shared by the tests of one file (`name`), logins by password.
pub async fn cluster(name: &str, major: u32) -> &'static Cluster {
    let c = shared(&format!("{name}-{major}"), || {
        ClusterSpec::new(major).password_logins()
    });
    c.create_user("postgres", ADMIN_PASSWORD).await;
    c
}

pub struct Inlet {
    pub dir: tempfile::TempDir,
    /// Set for every command, on top of PATH and HOME.
    env: Vec<(String, String)>,
}

impl Inlet {
    pub fn new(env: &[(&str, &str)]) -> Self {
        Inlet {
            dir: tempfile::tempdir().expect("tempdir"),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("inlet.toml")
    }

    /// The destination's read role, as `destination setup` wrote it in inlet.toml.
    pub fn read_role(&self) -> String {
        let config = std::fs::read_to_string(self.config()).expect("config");
        (config.lines())
            .find_map(|l| l.strip_prefix("read_role = \""))
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or_else(|| panic!("no read_role in {config}"))
            .to_string()
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        self.prepare(Command::new(env!("CARGO_BIN_EXE_inlet")), args)
    }

    /// [`Inlet::cmd`] run inside `netns`, killed (SIGKILL) if the test's thread ends first.
    pub fn cmd_in(&self, netns: &Netns, args: &[&str]) -> Command {
        let mut cmd = netns.command(Path::new("setpriv"));
        cmd.args(["--pdeathsig=SIGKILL", "--", env!("CARGO_BIN_EXE_inlet")]);
        self.prepare(cmd, args)
    }

    /// `cmd` (which runs inlet) with this directory's config and a clean environment.
    fn prepare(&self, mut cmd: Command, args: &[&str]) -> Command {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .arg("--config")
            .arg(self.config())
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Starts `inlet ARGS` (a `run`, usually) with its output discarded; it is killed when
    /// the result is dropped.
    pub fn start(&self, args: &[&str]) -> Running {
        let child = (self
            .cmd(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn())
        .expect("inlet run");
        Running(child)
    }

    /// Runs a command to its end; whatever it printed must be plain words (no Rust debug
    /// text), as for every command a test runs.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let out = self
            .cmd(args)
            .envs(env.iter().copied())
            .output()
            .expect("run inlet");
        inlet_testkit::assert_plain_words(&text(&out));
        out
    }

    /// `destination add dest` for `db`, then its automated setup; both must succeed.
    pub fn add_destination(&self, c: &Cluster, db: &str) {
        self.add_destination_at(c, db, c.host());
    }

    /// [`Inlet::add_destination`], the server reached at `host`.
    pub fn add_destination_at(&self, c: &Cluster, db: &str, host: &str) {
        self.add_at(c, db, host);
        let out = self.run_env(
            &["destination", "setup", "dest", "--auto", "--grant-to", ""],
            &[("INLET_ADMIN_PASSWORD", ADMIN_PASSWORD)],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }

    /// `destination add dest` for `db`, which must succeed.
    pub fn add(&self, c: &Cluster, db: &str) {
        self.add_at(c, db, c.host());
    }

    fn add_at(&self, c: &Cluster, db: &str, host: &str) {
        let port = c.port.to_string();
        let out = self.run(&[
            "destination",
            "add",
            "dest",
            "--host",
            host,
            "--port",
            &port,
            "--dbname",
            db,
            "--sslmode",
            "disable",
        ]);
        assert_eq!(out.status.code(), Some(0), "add: {}", text(&out));
    }

    /// Everything inlet wrote in its directory, as text.
    pub fn files_text(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(self.dir.path())
            .expect("read dir")
            .flatten()
        {
            if let Ok(s) = std::fs::read_to_string(entry.path()) {
                all.push_str(&s);
            }
        }
        all
    }

    /// `sync add NAME --destination dest --api-base BASE` and `extra`, with `env` added.
    pub fn sync_add(&self, name: &str, base: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut args = vec![
            "sync",
            "add",
            name,
            "--destination",
            "dest",
            "--api-base",
            base,
        ];
        args.extend_from_slice(extra);
        self.run_env(&args, env)
    }

    /// Puts `lines` (`key = value`, each ending in a newline) at the top of `[syncs.SYNC]`
    /// in inlet.toml.
    pub fn set_in_sync(&self, sync: &str, lines: &str) {
        let config = std::fs::read_to_string(self.config()).expect("config");
        let section = format!("[syncs.{sync}]\n");
        assert!(
            config.contains(&section),
            "{section} in inlet.toml:\n{config}"
        );
        let config = config.replace(&section, &format!("{section}{lines}"));
        std::fs::write(self.config(), config).expect("config");
    }

    /// `sync add other --source SOURCE --set SET` is refused (exit 2), saying `says`.
    pub fn refuses_set(&self, source: &str, set: &str, says: &str) {
        let out = self.run(&[
            "sync",
            "add",
            "other",
            "--destination",
            "dest",
            "--source",
            source,
            "--set",
            set,
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(says), "{}", text(&out));
    }

    /// `sync status --json`, all syncs.
    pub fn status(&self) -> Value {
        let out = self.run(&["sync", "status", "--json"]);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("status json: {}", text(&out)))
    }

    /// The streams of one sync, as `sync status --json` tells them (none if it cannot).
    pub fn streams(&self, sync: &str) -> Vec<Value> {
        let out = self.run(&["sync", "status", sync, "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        v["syncs"][0]["streams"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn live(&self, sync: &str) -> bool {
        let s = self.streams(sync);
        !s.is_empty() && s.iter().all(|s| s["state"] == "live")
    }

    /// Customer rows of `sync` (-1 when status cannot tell).
    pub fn rows(&self, sync: &str) -> i64 {
        self.streams(sync)
            .iter()
            .find(|s| s["stream"] == "customer")
            .and_then(|s| s["rows"].as_i64())
            .unwrap_or(-1)
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A child process killed (SIGKILL) when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `stripe.customer` row `id` has `email` (what the user waits for after a
/// change in Stripe), up to `within`; panics naming `what` otherwise.
pub async fn wait_for_customer_email(
    admin: &tokio_postgres::Client,
    id: &str,
    email: &str,
    what: &str,
    within: std::time::Duration,
) {
    inlet_testkit::wait_until_async(what, within, || async {
        admin
            .query_opt("select email from stripe.customer where id = $1", &[&id])
            .await
            .expect("query")
            .is_some_and(|r| r.get::<_, Option<String>>(0).as_deref() == Some(email))
    })
    .await;
}

/// The command waited for the `inlet run` that holds the sync, which did the copy: it did
/// not take the sync over in a moment the run let its lock go.
pub fn carried_out_by_the_run(said: &str, sync: &str) {
    assert!(
        said.contains(&format!(
            "inlet run is syncing \"{sync}\": it carries this out"
        )),
        "{said}"
    );
    assert!(!said.contains("copying into the new tables"), "{said}");
}

/// A reader counting a table's rows in a loop on its own session, as a person querying
/// through a rebuild would, until [`Counting::stop`]; any error fails the test.
pub struct Counting {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<(tokio_postgres::Client, Vec<i64>)>,
}

impl Counting {
    /// Starts counting with `sql` (a `select count(*)`) on `reader`.
    pub fn start(reader: tokio_postgres::Client, sql: String) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                let n: i64 = reader
                    .query_one(&sql, &[])
                    .await
                    .unwrap_or_else(|e| panic!("the reader got an error: {e}"))
                    .get(0);
                seen.push(n);
            }
            (reader, seen)
        });
        Counting { stop, task }
    }

    /// Stops counting: the session, and every count seen, in order.
    pub async fn stop(self) -> (tokio_postgres::Client, Vec<i64>) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.expect("the reader")
    }
}
