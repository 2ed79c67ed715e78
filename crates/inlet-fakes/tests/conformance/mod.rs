//! Runs a vendor's official Python client against a fake: a script in `tests/python/` gets
//! the fake's address and credentials in its environment and the expected data as a JSON
//! file, and must close with "N passed, 0 failed". `scripts/python-deps` installs the
//! pinned clients into the venv used here.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// The venv's python; `client` names what the test needs from it, for the message.
fn venv_python(client: &str) -> PathBuf {
    let cache = std::env::var_os("INLET_CACHE")
        .map_or_else(|| PathBuf::from("/var/cache/inlet"), PathBuf::from);
    let python = cache.join("venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/python-deps (it installs {client} for this test)",
        python.display()
    );
    python
}

/// Runs `tests/python/{script}` with `env` and `truth` (as `FAKE_TRUTH`), asserts every
/// check passed, and gives back what it printed.
pub async fn run_checks(
    client: &str,
    script: &str,
    env: &[(&str, String)],
    truth: &Value,
) -> String {
    let python = venv_python(client);
    let dir = tempfile::tempdir().expect("tempdir");
    let truth_path = dir.path().join("truth.json");
    std::fs::write(&truth_path, truth.to_string()).expect("write truth");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let child = tokio::process::Command::new(&python)
        .arg(&script)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("FAKE_TRUTH", &truth_path)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), child)
        .await
        .expect("the Python checks finish within 4 minutes")
        .expect("run the venv's python");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "Python checks failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(" passed, 0 failed"),
        "unexpected output:\n{stdout}\n{stderr}"
    );
    stdout
}
