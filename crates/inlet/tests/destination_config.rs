//! `inlet.toml` and `secrets.toml` as people live with them: hand edits survive, secrets
//! stay out of the config, a readable secrets file is refused, broken files are explained.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn inlet(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_inlet"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .arg("--config")
        .arg(dir.join("inlet.toml"))
        .args(args)
        .stdin(Stdio::null());
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const HAND_WRITTEN: &str = "# our warehouse, see the wiki\n\
                            [destinations.existing]\n\
                            host = \"db.internal\" # the primary\n\
                            dbname = \"analytics\"\n";

#[test]
fn add_keeps_hand_edits_and_puts_the_password_only_in_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("inlet.toml"), HAND_WRITTEN).expect("write");
    let out = inlet(
        dir.path(),
        &[
            "destination",
            "add",
            "second",
            "--host",
            "10.1.2.3",
            "--dbname",
            "app",
            "--user",
            "sync",
        ],
    )
    .env("PGPASSWORD", "pw-for-secrets-only")
    .output()
    .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let config = std::fs::read_to_string(dir.path().join("inlet.toml")).expect("config");
    assert!(
        config.starts_with(HAND_WRITTEN),
        "hand-written part changed:\n{config}"
    );
    assert!(config.contains("[destinations.second]"), "{config}");
    assert!(config.contains("user = \"sync\""), "{config}");
    assert!(
        !config.contains("pw-for-secrets-only"),
        "password in inlet.toml:\n{config}"
    );

    let secrets = dir.path().join("secrets.toml");
    let mode = std::fs::metadata(&secrets)
        .expect("secrets")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert!(std::fs::read_to_string(&secrets)
        .expect("read")
        .contains("pw-for-secrets-only"));
    assert!(!text(&out).contains("pw-for-secrets-only"));
}

#[test]
fn add_never_replaces_a_destination_silently() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("inlet.toml"), HAND_WRITTEN).expect("write");
    let args = [
        "destination",
        "add",
        "existing",
        "--host",
        "other",
        "--dbname",
        "x",
    ];
    let out = inlet(dir.path(), &args).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    let config = std::fs::read_to_string(dir.path().join("inlet.toml")).expect("config");
    assert_eq!(
        config, HAND_WRITTEN,
        "a refused add must not touch the file"
    );

    let out = inlet(dir.path(), &[&args[..], &["--force"]].concat())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let config = std::fs::read_to_string(dir.path().join("inlet.toml")).expect("config");
    assert!(config.contains("host = \"other\""), "{config}");
}

#[test]
fn secrets_readable_by_others_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("inlet.toml"),
        HAND_WRITTEN.replace("analytics\"", "analytics\"\nuser = \"u\""),
    )
    .expect("write");
    let secrets = dir.path().join("secrets.toml");
    std::fs::write(&secrets, "[destinations.existing]\npassword = \"leaky\"\n").expect("write");
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = inlet(dir.path(), &["destination", "verify", "existing", "--json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(j["checked"], false);
    assert!(
        j["fix"].as_str().is_some_and(|f| f.contains("chmod 600")),
        "{j}"
    );
    assert!(!text(&out).contains("leaky"));
}

#[test]
fn a_broken_config_names_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("inlet.toml"),
        "[destinations.a]\nhost = \"h\"\ndbname = \"d\"\nprot = 5432\n",
    )
    .expect("write");
    let out = inlet(dir.path(), &["destination", "verify", "a", "--json"])
        .output()
        .expect("run");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(j["problem"], "invalid_option", "{j}");
    assert!(
        j["message"].as_str().is_some_and(|m| m.contains("prot")),
        "{j}"
    );
    assert!(
        j["fix"].as_str().is_some_and(|f| f.contains("line 4")),
        "{j}"
    );
}

#[test]
fn unknown_destination_lists_the_known_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("inlet.toml"), HAND_WRITTEN).expect("write");
    let out = inlet(dir.path(), &["destination", "verify", "nope"])
        .output()
        .expect("run");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out).contains("known destinations: existing"),
        "{}",
        text(&out)
    );
}

#[test]
fn add_records_the_bastion_and_keeps_default_paths_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = inlet(
        dir.path(),
        &[
            "destination",
            "add",
            "private",
            "--host",
            "10.0.0.5",
            "--dbname",
            "app",
            "--ssh-host",
            "bastion.example.com",
            "--ssh-port",
            "2222",
            "--ssh-user",
            "jump",
        ],
    )
    .output()
    .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let config: toml::Table = std::fs::read_to_string(dir.path().join("inlet.toml"))
        .expect("config")
        .parse()
        .expect("toml");
    let ssh = &config["destinations"]["private"]["ssh"];
    assert_eq!(ssh["host"].as_str(), Some("bastion.example.com"));
    assert_eq!(ssh["port"].as_integer(), Some(2222));
    assert_eq!(ssh["user"].as_str(), Some("jump"));
    assert!(
        ssh.get("key").is_none(),
        "the default key stays a default: {ssh}"
    );
}

#[test]
fn add_keeps_sslcrl_hostaddr_and_application_name_and_a_bad_one_is_named_at_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = inlet(
        dir.path(),
        &[
            "destination",
            "add",
            "warehouse",
            "--url",
            "postgresql://db.internal/analytics?sslmode=verify-full&sslrootcert=/etc/ca.pem\
             &application_name=etl",
            "--sslcrl",
            "/etc/ca.crl",
            "--hostaddr",
            "10.0.0.5",
        ],
    )
    .output()
    .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let path = dir.path().join("inlet.toml");
    let config: toml::Table = std::fs::read_to_string(&path)
        .expect("config")
        .parse()
        .expect("toml");
    let d = &config["destinations"]["warehouse"];
    assert_eq!(d["sslcrl"].as_str(), Some("/etc/ca.crl"), "{d}");
    assert_eq!(d["hostaddr"].as_str(), Some("10.0.0.5"), "{d}");
    assert_eq!(d["application_name"].as_str(), Some("etl"), "{d}");

    // Through a bastion hostaddr means nothing (the bastion resolves the host): refused
    // before anything is recorded.
    let out = inlet(
        dir.path(),
        &[
            "destination",
            "add",
            "private",
            "--host",
            "db.internal",
            "--dbname",
            "app",
            "--hostaddr",
            "10.0.0.5",
            "--ssh-host",
            "bastion.example.com",
            "--ssh-user",
            "jump",
        ],
    )
    .output()
    .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("SSH tunnel"), "{}", text(&out));
    assert!(!std::fs::read_to_string(&path)
        .expect("config")
        .contains("private"));

    let edited = std::fs::read_to_string(&path)
        .expect("config")
        .replace("\"10.0.0.5\"", "\"not-an-ip\"");
    std::fs::write(&path, edited).expect("write");
    let out = inlet(
        dir.path(),
        &["destination", "verify", "warehouse", "--json"],
    )
    .output()
    .expect("run");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(j["problem"], "invalid_option", "{j}");
    let message = j["message"].as_str().unwrap_or_default();
    for part in [
        "inlet.toml",
        "[destinations.warehouse] hostaddr",
        "not-an-ip",
    ] {
        assert!(message.contains(part), "{part}: {j}");
    }
}
