//! `inlet destination check` as a user runs it: the binary, its output and exit codes,
//! against real servers of every version in `INLET_TEST_PG_VERSIONS`.

use std::process::{Command, Output, Stdio};

use inlet_testkit::{
    shared, versions, Cluster, ClusterSpec, HbaConn, HbaMethod, HbaRule, Terminal,
};
use serde_json::Value;

const USER: &str = "checker";
const PASSWORD: &str = "s3cret-Pa55word";

async fn cluster(major: u32) -> &'static Cluster {
    let c = shared(&format!("cli-{major}"), || {
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

/// The binary with a clean environment: no PG* variables, no ~/.postgresql.
fn inlet(home: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_inlet"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .stdin(Stdio::null());
    cmd
}

fn target_args(c: &Cluster) -> Vec<String> {
    let port = c.port.to_string();
    [
        "--host",
        c.host(),
        "--port",
        &port,
        "--user",
        USER,
        "--dbname",
        "postgres",
    ]
    .map(String::from)
    .to_vec()
}

/// What a command printed, once checked for Rust debug text (every output must be plain words).
fn checked(out: Output) -> Output {
    all_output(&out);
    out
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Everything the command printed; it must be plain words, never Rust debug text.
fn all_output(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    inlet_testkit::assert_plain_words(&text);
    text
}

#[tokio::test]
async fn json_success_reports_version_and_tls() {
    let home = tempfile::tempdir().expect("tempdir");
    for v in versions() {
        let c = cluster(v).await;
        let out = inlet(home.path())
            .args(["destination", "check", "--json", "--sslmode", "require"])
            .args(target_args(c))
            .env("PGPASSWORD", PASSWORD)
            .output()
            .map(checked)
            .expect("run inlet");
        assert_eq!(out.status.code(), Some(0), "PG {v}: {}", all_output(&out));
        let j = json_of(&out);
        assert_eq!(j["ok"], true);
        assert_eq!(j["tls"], true);
        assert_eq!(j["tls_verified"], "none");
        assert_eq!(
            j["server_version_num"].as_i64().map(|n| n / 10000),
            Some(i64::from(v))
        );
        assert!(j["server_version"]
            .as_str()
            .is_some_and(|s| s.starts_with(&v.to_string())));
    }
}

#[tokio::test]
async fn url_with_query_parameters_is_honoured() {
    let home = tempfile::tempdir().expect("tempdir");
    let c = cluster(versions()[0]).await;
    let ca = inlet_testkit::TlsMaterial::shared()
        .ca_cert
        .display()
        .to_string();
    let url = format!(
        "postgresql://{USER}@localhost:{}/postgres?sslmode=verify-full&sslrootcert={ca}\
         &connect_timeout=5&application_name=from-url",
        c.port
    );
    let out = inlet(home.path())
        .args(["destination", "check", "--json", "--url", &url])
        .env("PGPASSWORD", PASSWORD)
        .output()
        .map(checked)
        .expect("run inlet");
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_eq!(json_of(&out)["tls_verified"], "full");
}

#[tokio::test]
async fn failures_explain_and_exit_1_without_showing_the_password() {
    let home = tempfile::tempdir().expect("tempdir");
    let wrong = "Wr0ng-but-secret";
    for v in versions() {
        let c = cluster(v).await;
        for json in [true, false] {
            let mut cmd = inlet(home.path());
            cmd.args(["destination", "check", "--sslmode", "require"])
                .args(target_args(c));
            if json {
                cmd.arg("--json");
            }
            let out = cmd
                .env("PGPASSWORD", wrong)
                .output()
                .map(checked)
                .expect("run inlet");
            assert_eq!(out.status.code(), Some(1), "PG {v}: {}", all_output(&out));
            assert!(
                !all_output(&out).contains(wrong),
                "password printed: {}",
                all_output(&out)
            );
            if json {
                let j = json_of(&out);
                assert_eq!(j["ok"], false);
                assert_eq!(j["problem"], "bad_password");
                assert_eq!(j["sqlstate"], "28P01");
                assert!(j["fix"].as_str().is_some_and(|f| !f.is_empty()));
            } else {
                let text = String::from_utf8_lossy(&out.stderr);
                assert!(text.contains("problem      bad_password"), "{text}");
                assert!(text.contains("fix"), "{text}");
            }
        }
        // A password in the URL is accepted, warned about, and never echoed.
        let url = format!(
            "postgresql://{USER}:{wrong}@127.0.0.1:{}/postgres?sslmode=disable",
            c.port
        );
        let out = inlet(home.path())
            .args(["destination", "check", "--url", &url])
            .output()
            .map(checked)
            .expect("run inlet");
        assert_eq!(out.status.code(), Some(1));
        let text = all_output(&out);
        assert!(!text.contains(wrong), "password printed: {text}");
        assert!(text.contains("tls_required_by_server"), "{text}");
        assert!(
            text.contains("process list"),
            "no warning about the URL password: {text}"
        );
    }
}

#[test]
fn invalid_settings_exit_2_before_connecting() {
    let home = tempfile::tempdir().expect("tempdir");
    for args in [
        &["--url", "postgresql://u@h/db?sslmode=sometimes", "--json"][..],
        &["--host", "h", "--user", "u", "--port", "seventy", "--json"][..],
        &[
            "--host",
            "h",
            "--user",
            "u",
            "--sslmode",
            "verify-full",
            "--json",
        ][..],
    ] {
        let out = inlet(home.path())
            .args(["destination", "check"])
            .args(args)
            .output()
            .map(checked)
            .expect("run inlet");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", all_output(&out));
        assert_eq!(json_of(&out)["problem"], "invalid_option", "{args:?}");
    }
}

/// With `-W` the password is typed at a terminal prompt (a real pty), and never echoed.
#[tokio::test]
async fn password_prompt_on_a_terminal() {
    let home = tempfile::tempdir().expect("tempdir");
    let c = cluster(versions()[0]).await;
    let command = format!(
        "{} destination check -W --sslmode require {}",
        env!("CARGO_BIN_EXE_inlet"),
        target_args(c).join(" ")
    );
    let home_dir = home.path().display().to_string();
    // The terminal's waits block: off the async runtime.
    let (status, screen) = tokio::task::spawn_blocking(move || {
        let mut term = Terminal::spawn(&command, &[("HOME", &home_dir)]);
        term.wait_for(&format!("Password for user {USER}:"));
        term.type_line(PASSWORD);
        term.finish()
    })
    .await
    .expect("the terminal session");
    assert!(status.success(), "{screen}");
    assert!(screen.contains("ok: connected"), "{screen}");
    assert!(
        !screen.contains(PASSWORD),
        "the password was echoed: {screen}"
    );
}
