//! The postmaster process: its command line, start, readiness and stop.

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::wait::poll_until;
use crate::workdir::server_user;

const READY_DEADLINE: Duration = Duration::from_secs(60);
const STOP_DEADLINE: Duration = Duration::from_secs(15);

/// Starts the postmaster; with `netns`, inside that network namespace (`nsenter`, then
/// `setpriv` to become the server user, re-arming the parent-death signal that the change of
/// user clears).
pub(crate) fn start_postgres(
    bin: &Path,
    dir: &Path,
    data: &Path,
    log: &Path,
    netns: Option<&Path>,
) -> Child {
    let log_file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .open(log)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
    let log_copy = log_file
        .try_clone()
        .unwrap_or_else(|e| panic!("cannot duplicate the handle of {}: {e}", log.display()));
    let postgres = bin.join("postgres");
    let mut command = match netns {
        Some(ns) => in_netns(&postgres, dir, ns),
        None => server_command(&postgres, dir),
    };
    command
        .arg("-D")
        .arg(data)
        .stdin(Stdio::null())
        .stdout(log_copy)
        .stderr(log_file);
    crate::spawn::spawn(command)
        .unwrap_or_else(|e| panic!("cannot start {}/postgres: {e}", bin.display()))
}

/// A command running as the server user, in `dir`, with a C locale and no
/// PG* variables from the test's environment.
pub(crate) fn server_command(program: &Path, dir: &Path) -> Command {
    let mut command = Command::new(program);
    clean_environment(&mut command, dir);
    if let Some((uid, gid)) = server_user() {
        command.uid(uid.as_raw()).gid(gid.as_raw());
    }
    command
}

/// `program` run as the server user inside the network namespace `ns`.
fn in_netns(program: &Path, dir: &Path, ns: &Path) -> Command {
    let mut command = Command::new("nsenter");
    command.arg(format!("--net={}", ns.display())).arg("--");
    if let Some((uid, gid)) = server_user() {
        command.arg("setpriv").args([
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            "--clear-groups".to_owned(),
            "--pdeathsig=SIGQUIT".to_owned(),
            "--".to_owned(),
        ]);
    }
    command.arg(program);
    clean_environment(&mut command, dir);
    command
}

fn clean_environment(command: &mut Command, dir: &Path) {
    command.current_dir(dir).env("LC_ALL", "C").env("LANG", "C");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PG") {
            command.env_remove(name);
        }
    }
}

/// Waits until postmaster.pid says "ready" (line 8, PostgreSQL 10+), or the
/// server exits, or the deadline passes.
pub(crate) fn wait_ready(child: &mut Child, data: &Path) -> Result<(), String> {
    let pid_file = data.join("postmaster.pid");
    let mut exited = None;
    let ready = poll_until(READY_DEADLINE, || {
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            return true;
        }
        // The status is padded with spaces.
        fs::read_to_string(&pid_file)
            .is_ok_and(|text| text.lines().nth(7).is_some_and(|s| s.trim() == "ready"))
    });
    match (ready, exited) {
        (_, Some(status)) => Err(format!("exited during startup ({status})")),
        (true, None) => Ok(()),
        (false, None) => Err(format!("was not ready after {READY_DEADLINE:?}")),
    }
}

/// Immediate shutdown (SIGQUIT), SIGKILL if that takes too long; waits for exit.
pub(crate) fn stop(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits in i32"));
    let _ = kill(pid, Signal::SIGQUIT);
    if !poll_until(STOP_DEADLINE, || matches!(child.try_wait(), Ok(Some(_)))) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

pub(crate) fn tail(log: &Path) -> String {
    let text =
        fs::read_to_string(log).unwrap_or_else(|e| format!("(cannot read {}: {e})", log.display()));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(50)..].join("\n")
}

/// The log's text after its first `offset` bytes.
pub(crate) fn read_from(log: &Path, offset: u64) -> String {
    let bytes = fs::read(log).unwrap_or_default();
    let start = usize::try_from(offset).map_or(bytes.len(), |o| o.min(bytes.len()));
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}
