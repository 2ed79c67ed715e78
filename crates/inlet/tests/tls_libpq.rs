//! inlet's TLS verdicts are libpq's: for every server certificate shape users meet and every
//! sslmode that checks (or may check) it, `psql` (libpq) and `inlet destination check` connect
//! to the same real server, and must both accept, or both refuse with the same kind of
//! problem. libpq is the reference; the one documented difference is asserted as such.

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

async fn cluster(major: u32) -> &'static Cluster {
    let c = shared(&format!("tls-libpq-{major}"), || {
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

fn libpq(c: &Cluster, shape: &ServerCertShape, settings: &[String], home: &Path) -> Verdict {
    let conninfo = format!(
        "host={} port={} user={USER} dbname=postgres {}",
        shape.host,
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
        let c = cluster(v).await;
        for shape in server_cert_shapes() {
            c.serve_certificate(shape.name, &shape.chain, &shape.key)
                .await;
            for (label, sslmode, root) in MODES {
                let s = settings(c, shape, sslmode, root);
                let theirs = libpq(c, shape, &s, home.path());
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
