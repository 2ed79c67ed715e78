//! `inlet tunnel keygen|show` and `inlet destination check --ssh-host ...` as a person runs
//! them: the README's bastion setup, end to end, against a real OpenSSH server and a
//! PostgreSQL server that only the bastion can reach (a private network namespace).
//! Needs root, as `scripts/test` and CI run.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use inlet_testkit::{
    shared, versions, Cluster, ClusterSpec, HbaConn, HbaMethod, HbaRule, Netns, SshdSpec,
    TlsMaterial,
};
use serde_json::Value;

const USER: &str = "tunneled";
const PASSWORD: &str = "via-the-bastion";

/// inlet's directory for one test: `inlet.toml` (absent), `ssh/`, `known_hosts`.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The binary with a clean environment and `--config` in this directory.
    fn inlet(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_inlet"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("USER", "nobody-in-particular")
            .env("PGPASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .arg("--config")
            .arg(self.dir.path().join("inlet.toml"))
            .args(args)
            .output()
            // Whatever a command prints must be plain words, never Rust debug text.
            .inspect(|out| inlet_testkit::assert_plain_words(&all(out)))
            .expect("run inlet")
    }

    fn ssh(&self, name: &str) -> PathBuf {
        self.dir.path().join("ssh").join(name)
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn all(out: &Output) -> String {
    format!("{}{}", stdout(out), String::from_utf8_lossy(&out.stderr))
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", all(out)))
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

async fn private_cluster() -> &'static Cluster {
    let major = versions()[0];
    let c = shared(&format!("cli-private-{major}"), || {
        ClusterSpec::new(major)
            .ssl(true)
            .in_netns(Netns::shared())
            .hba(HbaRule::new(
                HbaConn::HostSsl,
                "all",
                USER,
                HbaMethod::ScramSha256,
            ))
    });
    c.create_user(USER, PASSWORD).await;
    c
}

fn check_args(sshd: &inlet_testkit::Sshd, c: &Cluster) -> Vec<String> {
    let ca = TlsMaterial::shared().ca_cert.display().to_string();
    let (ssh_port, port) = (sshd.port.to_string(), c.port.to_string());
    [
        "destination",
        "check",
        "--ssh-host",
        &sshd.host,
        "--ssh-port",
        &ssh_port,
        "--ssh-user",
        "root",
        "--host",
        "localhost",
        "--port",
        &port,
        "--user",
        USER,
        "--dbname",
        "postgres",
        "--sslmode",
        "verify-full",
        "--sslrootcert",
        &ca,
    ]
    .map(String::from)
    .to_vec()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn tunnel_keygen_makes_a_private_key_prints_the_steps_and_never_overwrites_silently() {
    let home = Home::new();
    let out = home.inlet(&["tunnel", "keygen"]);
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    let private = home.ssh("id_ed25519");
    assert_eq!(mode(&private), 0o600);
    let public = fs::read_to_string(home.ssh("id_ed25519.pub")).expect("public key file");
    let public = public.trim();
    assert!(
        public.starts_with("ssh-ed25519 AAAA") && public.contains(" inlet@"),
        "{public}"
    );
    let text = stdout(&out);
    for step in [
        public,
        "mkdir -p ~/.ssh",
        &format!("echo '{public}' >> ~/.ssh/authorized_keys"),
        "chmod 600 ~/.ssh/authorized_keys",
    ] {
        assert!(text.contains(step), "keygen output lacks {step:?}:\n{text}");
    }

    let before = fs::read(&private).expect("read key");
    let again = home.inlet(&["tunnel", "keygen"]);
    assert_eq!(again.status.code(), Some(1), "{}", all(&again));
    assert!(all(&again).contains("already exists"), "{}", all(&again));
    assert_eq!(
        fs::read(&private).ok(),
        Some(before),
        "the key was overwritten"
    );

    let shown = home.inlet(&["tunnel", "show"]);
    assert_eq!(shown.status.code(), Some(0));
    assert!(stdout(&shown).contains(public), "{}", all(&shown));

    let forced = home.inlet(&["tunnel", "keygen", "--force", "--json"]);
    let j = json_of(&forced);
    assert_eq!(j["created"], true);
    assert!(j["replaced_fingerprint"]
        .as_str()
        .is_some_and(|f| f.starts_with("SHA256:")));
    assert_ne!(j["public_key"].as_str(), Some(public));

    let rsa = home.inlet(&["tunnel", "keygen", "--type", "rsa", "--json"]);
    assert_eq!(rsa.status.code(), Some(0), "{}", all(&rsa));
    assert_eq!(json_of(&rsa)["algorithm"], "ssh-rsa");
    assert_eq!(mode(&home.ssh("id_rsa")), 0o600);
    let shown = home.inlet(&["tunnel", "show", "--type", "rsa", "--json"]);
    assert_eq!(json_of(&shown)["public_key"], json_of(&rsa)["public_key"]);
}

#[test]
fn tunnel_show_without_a_key_says_how_to_make_one() {
    let out = Home::new().inlet(&["tunnel", "show"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(all(&out).contains("inlet tunnel keygen"), "{}", all(&out));
}

#[tokio::test]
async fn destination_check_through_a_bastion_reports_the_route_and_pins_its_key() {
    let home = Home::new();
    let key = json_of(&home.inlet(&["tunnel", "keygen", "--json"]));
    let public = key["public_key"].as_str().expect("public key");
    let sshd = SshdSpec::new()
        .in_netns(Netns::shared())
        .authorize(public)
        .start();
    let c = private_cluster().await;
    let args = check_args(&sshd, c);

    let mut first = strs(&args);
    first.push("--json");
    let out = home.inlet(&first);
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    let j = json_of(&out);
    assert_eq!(j["ok"], true);
    assert_eq!(
        j["tls_verified"], "full",
        "verify-full checked the database's name"
    );
    assert_eq!(j["ssh"]["host"], sshd.host.as_str());
    assert_eq!(j["ssh"]["port"], sshd.port);
    assert_eq!(j["ssh"]["user"], "root");
    assert_eq!(j["ssh"]["host_key"], "pinned_now");
    let fingerprint = j["ssh"]["host_key_fingerprint"]
        .as_str()
        .expect("fingerprint");
    assert!(fingerprint.starts_with("SHA256:"), "{j}");
    let pins = fs::read_to_string(home.dir.path().join("known_hosts")).expect("pinned");
    assert!(pins.contains(&sshd.host_key()), "{pins}");

    let out = home.inlet(&strs(&args));
    assert_eq!(out.status.code(), Some(0), "{}", all(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("via ssh root@{}:{}", sshd.host, sshd.port)),
        "{text}"
    );
    assert!(
        text.contains(&format!("{fingerprint} matches the pin")),
        "{text}"
    );
}

#[tokio::test]
async fn destination_check_with_a_key_the_bastion_lacks_prints_the_key_to_install() {
    let home = Home::new();
    let key = json_of(&home.inlet(&["tunnel", "keygen", "--json"]));
    let public = key["public_key"].as_str().expect("public key");
    let sshd = SshdSpec::new().in_netns(Netns::shared()).start(); // authorizes nobody
    let args = check_args(&sshd, private_cluster().await);

    let mut with_json = strs(&args);
    with_json.push("--json");
    let out = home.inlet(&with_json);
    assert_eq!(out.status.code(), Some(1), "{}", all(&out));
    let j = json_of(&out);
    assert_eq!(j["problem"], "ssh_auth_rejected");
    assert_eq!(j["ssh_public_key"], public);

    let out = home.inlet(&strs(&args));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ssh_auth_rejected"), "{err}");
    assert!(
        err.contains(&format!("echo '{public}' >> ~/.ssh/authorized_keys")),
        "{err}"
    );
}

#[test]
fn ssh_flags_without_ssh_host_are_invalid_and_nothing_is_tried() {
    let out = Home::new().inlet(&["destination", "check", "--ssh-user", "x", "--user", "u"]);
    assert_eq!(out.status.code(), Some(2), "{}", all(&out));
    assert!(all(&out).contains("--ssh-host"), "{}", all(&out));
}
