//! What the benchmarks share: the inlet binary driven through its CLI, the fake served
//! over TLS under a vendor's host names, the peers' virtual environments and the files
//! changed outside the repository for a run, put back when it ends (salesforce_bench,
//! hubspot_bench); the count of a tool's rows and the live latency (all three).

// Each benchmark uses a part.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The password of the cluster's `postgres` login, which inlet's setup and the peers use.
pub const ADMIN_PASSWORD: &str = "bench-admin-5521";

/// A tiny deterministic generator for the pauses between live changes.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Rows of the table in `schema` named one of `names` (in any case: each tool names its
/// tables its own way); -1 when there is none.
pub async fn count_rows(admin: &tokio_postgres::Client, schema: &str, names: &[&str]) -> i64 {
    let names: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    let Ok(Some(row)) = admin
        .query_opt(
            "select format('%I.%I', table_schema, table_name) from information_schema.tables \
             where table_schema = $1 and lower(table_name) = any($2)",
            &[&schema, &names],
        )
        .await
    else {
        return -1;
    };
    let table: String = row.get(0);
    admin
        .query_one(&format!("select count(*) from {table}"), &[])
        .await
        .map(|r| r.get(0))
        .unwrap_or(-1)
}

/// Latencies (ms) of one change per id, each from the fake's change to the row holding
/// it, with a random pause of up to `spread` before each (so changes fall at every point of
/// the poll cycle). `change(k, id)` makes the k-th change in the fake and says the text
/// the row's column read by `check` (`... where id = $1`) must then hold.
pub async fn live_latency(
    admin: &tokio_postgres::Client,
    check: &str,
    ids: &[String],
    spread: Duration,
    rng: &mut Rng,
    mut change: impl FnMut(usize, &str) -> String,
) -> Vec<f64> {
    let check = admin.prepare(check).await.expect("prepare");
    let mut out = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        let pause = rng.below(spread.as_millis() as u64 + 1);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let started = Instant::now();
        let want = change(k, id);
        // The latency is what is measured: look every 2 ms, not at a deadline's pace.
        loop {
            let have: Option<String> = admin
                .query_opt(&check, &[id])
                .await
                .expect("query")
                .and_then(|r| r.get(0));
            if have.as_deref() == Some(want.as_str()) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "change {k} ({want}) never landed"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        out.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    out
}

/// Files this run changed outside the repository, put back as they were when dropped
/// (also on a panic).
pub struct Restore(pub Vec<(PathBuf, Vec<u8>)>);

impl Restore {
    /// Appends `text` to `path`, keeping what it held to put back later.
    pub fn append(&mut self, path: &Path, text: &str) {
        let before =
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut after = before.clone();
        if !after.ends_with(b"\n") && !after.is_empty() {
            after.push(b'\n');
        }
        after.extend_from_slice(text.as_bytes());
        std::fs::write(path, after)
            .unwrap_or_else(|e| panic!("cannot write {} (run as root): {e}", path.display()));
        self.0.push((path.to_path_buf(), before));
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        for (path, before) in self.0.drain(..).rev() {
            if let Err(e) = std::fs::write(&path, before) {
                eprintln!("could not put {} back as it was: {e}", path.display());
            }
        }
    }
}

/// Serves `fake` over TLS on 127.0.0.1:443 as `hosts`, with a certificate from a throwaway
/// CA, and points those names at 127.0.0.1 in `/etc/hosts` (undone by `restore`); the CA's
/// PEM file, in `dir`.
pub async fn tls_front(
    fake: SocketAddr,
    dir: &Path,
    hosts: &[&str],
    mark: &str,
    restore: &mut Restore,
) -> PathBuf {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{mark} CA"));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key"))
        .expect("self-signing the CA");
    let mut params =
        CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())
            .expect("certificate parameters");
    params.distinguished_name.push(DnType::CommonName, hosts[0]);
    let key = KeyPair::generate().expect("server key");
    let cert = params
        .signed_by(&key, &ca)
        .expect("signing the certificate");
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).expect("write the CA");

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        )
        .expect("TLS configuration");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:443")
        .await
        .unwrap_or_else(|e| panic!("cannot listen on 127.0.0.1:443 (run as root): {e}"));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) = tokio::net::TcpStream::connect(fake).await else {
                    return;
                };
                let _ = up.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    restore.append(
        Path::new("/etc/hosts"),
        &format!("127.0.0.1 {} # {mark}\n", hosts.join(" ")),
    );
    ca_path
}

/// The release `inlet` binary: `INLET_BENCH_BIN`, or the one beside `examples/`.
pub fn inlet_bin() -> PathBuf {
    std::env::var_os("INLET_BENCH_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            Some(
                std::env::current_exe()
                    .ok()?
                    .parent()?
                    .parent()?
                    .join("inlet"),
            )
        })
        .filter(|p| p.exists())
        .expect("the inlet binary next to examples/ (cargo build --release -p inlet first)")
}

/// inlet's CLI with its own config file and home in a temporary directory.
pub struct Inlet {
    pub bin: PathBuf,
    pub dir: tempfile::TempDir,
    pub ca: Option<PathBuf>,
}

impl Inlet {
    pub fn new(bin: &Path, ca: Option<&Path>) -> Inlet {
        Inlet {
            bin: bin.to_path_buf(),
            dir: tempfile::tempdir().expect("tempdir"),
            ca: ca.map(Path::to_path_buf),
        }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("inlet.toml")
    }

    pub fn cmd(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .arg("--config")
            .arg(self.config())
            .args(args)
            .stdin(Stdio::null());
        if let Some(ca) = &self.ca {
            cmd.env("SSL_CERT_FILE", ca);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn ok(&self, args: &[&str], env: &[(&str, &str)]) {
        let out = self.cmd(args, env).output().expect("run inlet");
        assert!(
            out.status.success(),
            "inlet {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The destination `dest` on `db`, set up by inlet itself.
    pub fn add_destination(&self, host: &str, port: u16, db: &str) {
        let port = port.to_string();
        self.ok(
            &[
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
            ],
            &[],
        );
        self.ok(
            &["destination", "setup", "dest", "--auto", "--grant-to", ""],
            &[("INLET_ADMIN_PASSWORD", ADMIN_PASSWORD)],
        );
    }

    /// Puts `extra` lines at the top of the table `[syncs.NAME]` of the config.
    pub fn add_to_sync(&self, name: &str, extra: &str) {
        let header = format!("[syncs.{name}]\n");
        let config = std::fs::read_to_string(self.config()).expect("config");
        let (head, tail) = config
            .split_once(&header)
            .unwrap_or_else(|| panic!("{header} in inlet.toml"));
        std::fs::write(self.config(), format!("{head}{header}{extra}{tail}"))
            .expect("write config");
    }

    pub fn run(&self) -> Running {
        self.run_with(&[])
    }

    /// `inlet run` with `extra` arguments (`--listen ADDR`, say).
    pub fn run_with(&self, extra: &[&str]) -> Running {
        let log = std::fs::File::create(self.dir.path().join("run.log")).expect("log");
        let args: Vec<&str> = ["run"].iter().chain(extra).copied().collect();
        Running(
            self.cmd(&args, &[])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("inlet run"),
        )
    }
}

/// A running `inlet run`, killed if dropped.
pub struct Running(pub Child);

impl Running {
    /// SIGTERM, then wait for the exit.
    pub fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A peer's virtual environment from `var` (default under /var/cache/inlet), or none
/// when it is `off`.
pub fn peer_dir(var: &str, default: &str) -> Option<PathBuf> {
    match std::env::var(var) {
        Ok(v) if v == "off" => None,
        Ok(v) => Some(PathBuf::from(v)),
        Err(_) => Some(PathBuf::from("/var/cache/inlet").join(default)),
    }
}

/// A peer's virtual environment (outside the repository), made once from its pinned
/// requirements file `bench/{bench}/{requirements}`.
pub fn venv(dir: &Path, bench: &str, requirements: &str) {
    if dir.join("bin/python").exists() {
        return;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bench")
        .join(bench);
    let run = |cmd: &mut Command| {
        let out = cmd.output().expect("python3");
        assert!(
            out.status.success(),
            "installing {requirements}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(dir));
    run(Command::new(dir.join("bin/pip"))
        .args(["install", "-q", "-r"])
        .arg(src.join(requirements)));
}

/// Appends the CA to the `certifi` bundle of the virtual environment at `dir`: airbyte-cdk
/// sends prepared requests, which ignore `REQUESTS_CA_BUNDLE`.
pub fn trust_in_certifi(dir: &Path, ca: &Path, restore: &mut Restore) {
    let out = Command::new(dir.join("bin/python"))
        .args(["-c", "import certifi; print(certifi.where())"])
        .output()
        .expect("python");
    let bundle = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && !bundle.is_empty(),
        "certifi is not in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = std::fs::read_to_string(ca).expect("the CA");
    restore.append(Path::new(&bundle), &pem);
}

/// The seconds a peer's driver script printed on its last line (`{"seconds": ...}`).
pub fn seconds_of(out: &std::process::Output, what: &str, workdir: &str) -> f64 {
    assert!(
        out.status.success(),
        "{what} failed (its files are in {workdir}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(text.lines().last().unwrap_or_default())
        .unwrap_or_else(|_| panic!("{what} printed no result line: {text}"));
    v["seconds"].as_f64().unwrap_or(f64::NAN)
}
