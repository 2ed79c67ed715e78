//! inlet's TLS verdicts are libpq's: for every server certificate shape users meet and every
//! sslmode that checks (or may check) it, `psql` (libpq) and `inlet destination check` connect
//! to the same real server, and must both accept, or both refuse with the same kind of
//! problem. libpq is the reference; the one documented difference is asserted as such.
//! A destination recorded with `inlet destination add` keeps those settings: connecting from
//! inlet.toml alone, as a sync does, decides as libpq does too.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use inlet_testkit::{
    server_cert_shapes, shared, versions, Cluster, ClusterSpec, HbaConn, HbaMethod, HbaRule,
    ServerCertShape,
};
use serde_json::Value;

const USER: &str = "tls_differ";
const PASSWORD: &str = "Differential-7";

/// The certificates inlet refuses and libpq accepts, on purpose (README, "TLS").
const DOCUMENTED_DIFFERENCES: [&str; 1] = [
    // A CA:TRUE certificate signed by the trusted CA, used as the server's: its key could
    // sign certificates for other hosts under that CA, so inlet refuses it.
    "ca_true_signed_by_ca",
];

/// How a client decided.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Accepted,
    /// Refused, with inlet's problem kind (libpq's error classified the same way).
    Refused(String),
}

/// The sslmode settings compared: (label, sslmode, whether the root certificate is given).
const MODES: [(&str, &str, bool); 4] = [
    ("require", "require", false),
    ("require+root", "require", true),
    ("verify-ca", "verify-ca", true),
    ("verify-full", "verify-full", true),
];

/// The words naming the check a refused certificate fails, by shape.
fn failed_check(shape: &str) -> &'static str {
    match shape {
        "expired" => "has expired",
        "not_yet_valid" => "not valid yet",
        "revoked" => "sslcrl lists it",
        "wrong_ca" => "CA check failed",
        "ca_true_signed_by_ca" => "CA certificate used as the server's",
        _ => "host name check failed",
    }
}

/// A cluster per test (`purpose`): each test serves its own certificates on it.
async fn cluster(purpose: &str, major: u32) -> &'static Cluster {
    let c = shared(&format!("tls-libpq-{purpose}-{major}"), || {
        ClusterSpec::new(major).ssl(true).hba(HbaRule::new(
            HbaConn::HostSsl,
            "all",
            USER,
            HbaMethod::ScramSha256,
        ))
    });
    c.create_user(USER, PASSWORD).await;
    c
}

/// libpq's settings for one attempt (libpq's parameter names; inlet takes the same).
fn settings(c: &Cluster, shape: &ServerCertShape, sslmode: &str, root: bool) -> Vec<String> {
    let mut s = vec![
        format!("hostaddr={}", c.host()),
        format!("sslmode={sslmode}"),
        "connect_timeout=10".to_string(),
    ];
    if root {
        s.push(format!("sslrootcert={}", shape.root.display()));
        if let Some(crl) = &shape.crl {
            s.push(format!("sslcrl={}", crl.display()));
        }
    }
    s
}

fn clean(cmd: &mut Command, home: &Path) {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("PGPASSWORD", PASSWORD)
        .stdin(Stdio::null());
}

fn libpq(c: &Cluster, host: &str, settings: &[String], home: &Path) -> Verdict {
    let conninfo = format!(
        "host={host} port={} user={USER} dbname=postgres {}",
        c.port,
        settings.join(" ")
    );
    let mut cmd = Command::new("psql");
    clean(&mut cmd, home);
    let out = cmd
        .args(["-X", "-w", "-A", "-t", "-c", "select 1", &conninfo])
        .output()
        .expect("run psql (Debian's postgresql-client, installed by scripts/install-deps)");
    if out.status.success() {
        return Verdict::Accepted;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let kind = if err.contains("certificate verify failed")
        || err.contains("does not match host name")
        || err.contains("could not get server's host name")
    {
        "tls_verify_failed".to_string()
    } else {
        format!("unclassified libpq error: {}", err.trim())
    };
    Verdict::Refused(kind)
}

fn inlet(
    c: &Cluster,
    shape: &ServerCertShape,
    settings: &[String],
    home: &Path,
) -> (Verdict, Output) {
    let url = format!(
        "postgresql://{USER}@{}:{}/postgres?{}",
        shape.host,
        c.port,
        settings.join("&")
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_inlet"));
    clean(&mut cmd, home);
    let out = cmd
        .args(["destination", "check", "--json", "--url", &url])
        .output()
        .expect("run inlet");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let verdict = if json["ok"] == Value::Bool(true) {
        Verdict::Accepted
    } else {
        Verdict::Refused(json["problem"].as_str().unwrap_or("(no kind)").to_string())
    };
    (verdict, out)
}

#[tokio::test]
async fn inlet_decides_every_certificate_and_sslmode_as_libpq_does() {
    let home = tempfile::tempdir().expect("tempdir");
    let mut differences = Vec::new();
    let mut compared = 0;
    for v in versions() {
        let c = cluster("shapes", v).await;
        for shape in server_cert_shapes() {
            c.serve_certificate(shape.name, &shape.chain, &shape.key)
                .await;
            for (label, sslmode, root) in MODES {
                let s = settings(c, shape, sslmode, root);
                let theirs = libpq(c, shape.host, &s, home.path());
                let (ours, out) = inlet(c, shape, &s, home.path());
                inlet_testkit::assert_plain_words(&String::from_utf8_lossy(&out.stdout));
                if ours == Verdict::Refused("tls_verify_failed".into()) {
                    let text = String::from_utf8_lossy(&out.stdout);
                    let check = failed_check(shape.name);
                    assert!(
                        text.contains(check) && text.contains("The server presented: subject"),
                        "{}: the refusal must name the check ({check}) and what the server \
                         presented: {text}",
                        shape.name
                    );
                }
                compared += 1;
                let documented = DOCUMENTED_DIFFERENCES.contains(&shape.name)
                    && theirs == Verdict::Accepted
                    && ours == Verdict::Refused("tls_verify_failed".into());
                if ours != theirs && !documented {
                    differences.push(format!(
                        "PG {v}, {} with {label}: libpq {theirs:?}, inlet {ours:?} ({})",
                        shape.name,
                        String::from_utf8_lossy(&out.stdout).trim()
                    ));
                }
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {compared} verdicts differ from libpq's:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

/// How the TLS settings reach `inlet destination add`.
#[derive(Clone, Copy, Debug)]
enum Given {
    /// All in the URL, as in `--url` (and as libpq's conninfo).
    Url,
    /// hostaddr and sslcrl as the flags --hostaddr and --sslcrl, the rest in the URL.
    Flags,
}

/// inlet's verdict from a recorded destination: `destination add` with `settings`, then
/// `destination verify`, which connects from inlet.toml and secrets.toml alone, as `inlet run`
/// does (connect_as_sync_user). "checked" is whether it connected.
fn stored(
    c: &Cluster,
    host: &str,
    settings: &[String],
    given: Given,
    home: &Path,
) -> (Verdict, Output) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("inlet.toml");
    let mut query = Vec::new();
    let mut flags = Vec::new();
    for setting in settings {
        let (key, value) = setting.split_once('=').expect("key=value");
        match given {
            Given::Flags if matches!(key, "hostaddr" | "sslcrl") => {
                flags.extend([format!("--{key}"), value.to_string()]);
            }
            _ => query.push(setting.clone()),
        }
    }
    let url = format!(
        "postgresql://{USER}@{host}:{}/postgres?{}",
        c.port,
        query.join("&")
    );
    let mut add = Command::new(env!("CARGO_BIN_EXE_inlet"));
    clean(&mut add, home);
    let out = add
        .arg("--config")
        .arg(&config)
        .args(["destination", "add", "stored", "--url", &url])
        .args(&flags)
        .output()
        .expect("run inlet destination add");
    assert!(
        out.status.success(),
        "destination add: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut verify = Command::new(env!("CARGO_BIN_EXE_inlet"));
    clean(&mut verify, home);
    // Only what add recorded: no libpq variable may supply a setting it lost.
    verify.env_remove("PGPASSWORD");
    let out = verify
        .arg("--config")
        .arg(&config)
        .args(["destination", "verify", "stored", "--json"])
        .output()
        .expect("run inlet destination verify");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let verdict = if json["checked"] == Value::Bool(true) {
        Verdict::Accepted
    } else {
        Verdict::Refused(json["problem"].as_str().unwrap_or("(no kind)").to_string())
    };
    (verdict, out)
}

#[tokio::test]
async fn a_destination_keeps_its_revocation_list_as_libpq_applies_it() {
    let home = tempfile::tempdir().expect("tempdir");
    let shape = |name: &str| {
        server_cert_shapes()
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no certificate shape {name}"))
    };
    for v in versions() {
        let c = cluster("stored", v).await;
        for (name, expected) in [
            ("revoked", Verdict::Refused("tls_verify_failed".into())),
            ("crl_not_listing", Verdict::Accepted),
        ] {
            let shape = shape(name);
            c.serve_certificate(shape.name, &shape.chain, &shape.key)
                .await;
            let s = settings(c, shape, "verify-full", true);
            assert!(
                s.iter().any(|s| s.starts_with("sslcrl=")),
                "the shape gives a CRL: {s:?}"
            );
            assert_eq!(
                libpq(c, shape.host, &s, home.path()),
                expected,
                "PG {v}, {name}: libpq with the revocation list"
            );
            // Without the list libpq takes the revoked certificate: the list is what decides.
            let without: Vec<String> = s
                .iter()
                .filter(|s| !s.starts_with("sslcrl="))
                .cloned()
                .collect();
            assert_eq!(
                libpq(c, shape.host, &without, home.path()),
                Verdict::Accepted,
                "PG {v}, {name}: libpq without the revocation list"
            );
            for given in [Given::Url, Given::Flags] {
                let (ours, out) = stored(c, shape.host, &s, given, home.path());
                let text = String::from_utf8_lossy(&out.stdout);
                inlet_testkit::assert_plain_words(&text);
                assert_eq!(
                    ours,
                    expected,
                    "PG {v}, {name}, settings in {given:?}: inlet from inlet.toml ({})",
                    text.trim()
                );
                if expected != Verdict::Accepted {
                    assert!(
                        text.contains("certificate is revoked"),
                        "PG {v}, {name}: the refusal must say the certificate is revoked: {text}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn a_destination_keeps_its_hostaddr_as_libpq_uses_it() {
    let home = tempfile::tempdir().expect("tempdir");
    // A name that never resolves (RFC 6761): only hostaddr reaches the server.
    let host = "db.invalid";
    for v in versions() {
        let c = cluster("hostaddr", v).await;
        let s = vec![
            format!("hostaddr={}", c.host()),
            "sslmode=require".to_string(),
            "connect_timeout=10".to_string(),
        ];
        assert_eq!(
            libpq(c, host, &s, home.path()),
            Verdict::Accepted,
            "PG {v}: libpq"
        );
        for given in [Given::Url, Given::Flags] {
            let (ours, out) = stored(c, host, &s, given, home.path());
            assert_eq!(
                ours,
                Verdict::Accepted,
                "PG {v}, settings in {given:?}: inlet from inlet.toml ({})",
                String::from_utf8_lossy(&out.stdout).trim()
            );
        }
    }
}
