//! `inlet demo`, what `scripts/demo` runs: a private PostgreSQL, a fake Stripe account, a
//! fake HubSpot portal and a fake Salesforce org synced side by side into one database, each
//! in its own schema, until Ctrl-C, which removes it all.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Stdio};
use std::time::Duration;

use inlet_testkit::wait_until;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

mod common;
use common::Inlet;

/// The demo, interrupted (as by Ctrl-C) when dropped, so its server never outlives the test.
struct Demo(Child);

impl Demo {
    fn interrupt(&mut self) -> Option<std::process::ExitStatus> {
        let _ = kill(Pid::from_raw(self.0.id() as i32), Signal::SIGINT);
        let mut status = None;
        wait_until("the demo to stop", Duration::from_secs(60), || {
            status = self.0.try_wait().ok().flatten();
            status.is_some()
        });
        status
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.interrupt();
        }
    }
}

/// Each sync's streams, by sync name, from `sync status --json` of the demo's config.
fn syncs(config: &str) -> Vec<(String, Vec<Value>)> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["--config", config, "sync", "status", "--json"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("status");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (doc["syncs"].as_array().into_iter().flatten())
        .map(|s| {
            let name = s["name"].as_str().unwrap_or("").to_string();
            (name, s["streams"].as_array().cloned().unwrap_or_default())
        })
        .collect()
}

#[test]
fn the_demo_syncs_stripe_hubspot_and_salesforce_side_by_side_and_ctrl_c_removes_it_all() {
    let inlet = Inlet::new(&[]);
    // Run as root, the demo's server runs as nobody, which must reach its folder.
    let tmp = inlet.dir.path().join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    for dir in [inlet.dir.path(), tmp.as_path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let mut demo = Demo(
        inlet
            .cmd(&["demo", "--customers", "60"])
            .env("TMPDIR", &tmp)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("inlet demo"),
    );
    // Read to its end on a thread of its own: the demo prints progress until it stops.
    let stdout = demo.0.stdout.take().expect("stdout");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut printed = String::new();
    let mut config = None;
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(120)) {
        printed.push_str(&line);
        printed.push('\n');
        if let Some(rest) = line.trim().strip_prefix("status:  inlet --config ") {
            config = rest.strip_suffix(" sync status").map(str::to_string);
            break;
        }
    }
    let config = config.unwrap_or_else(|| panic!("no status line in: {printed}"));
    for schema in ["stripe", "hubspot", "salesforce"] {
        assert!(
            printed.contains(&format!("from {schema}.")),
            "a psql line to watch {schema}: {printed}"
        );
    }

    wait_until(
        "every sync live, with rows",
        Duration::from_secs(240),
        || {
            let syncs = syncs(&config);
            let live = |name: &str, table: &str| {
                syncs.iter().any(|(n, streams)| {
                    n == name
                        && !streams.is_empty()
                        && streams.iter().all(|s| s["state"] == "live")
                        && streams
                            .iter()
                            .any(|s| s["stream"] == table && s["rows"].as_i64().unwrap_or(0) > 0)
                })
            };
            live("stripe", "customer")
                && live("hubspot", "contact")
                && live("salesforce", "account")
        },
    );

    let status = demo.interrupt().expect("an exit status");
    assert!(status.success(), "{status:?}");
    let left: Vec<_> = std::fs::read_dir(&tmp).expect("tmp").flatten().collect();
    assert!(left.is_empty(), "the demo left {left:?}");
}
