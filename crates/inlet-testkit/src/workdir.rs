//! The kit's scratch directories under `/tmp/inlet-tk/<pid>-<name>/` and the
//! user the servers run as.
//!
//! Paths stay short because a unix socket path must fit in 107 bytes. Each
//! process sweeps away the directories of dead processes on first use.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use nix::sys::signal::kill;
use nix::unistd::{chown, geteuid, Gid, Pid, Uid, User};

const ROOT: &str = "/tmp/inlet-tk";

/// The user that runs `initdb` and `postgres`: `nobody` when the tests run as
/// root (postgres refuses to run as root), else `None` (the current user).
pub(crate) fn server_user() -> Option<(Uid, Gid)> {
    static USER: OnceLock<Option<(Uid, Gid)>> = OnceLock::new();
    *USER.get_or_init(|| {
        if !geteuid().is_root() {
            return None;
        }
        let user = User::from_name("nobody")
            .unwrap_or_else(|e| panic!("cannot look up user `nobody`: {e}"))
            .expect(
                "tests run as root, so postgres must run as `nobody`, but there is no such user",
            );
        Some((user.uid, user.gid))
    })
}

/// A fresh, empty directory `/tmp/inlet-tk/<pid>-<name>` (mode 0700), owned by
/// the server user.
pub(crate) fn fresh_dir(name: &str) -> PathBuf {
    let root = root();
    let dir = root.join(format!("{}-{name}", std::process::id()));
    if dir.exists() {
        fs::remove_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot remove stale {}: {e}", dir.display()));
    }
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    give_to_server_user(&dir);
    dir
}

/// A process-unique number for naming directories.
pub(crate) fn next_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `chown -R` to the server user (no-op when not root).
pub(crate) fn give_to_server_user(path: &Path) {
    let Some((uid, gid)) = server_user() else {
        return;
    };
    chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("cannot chown {} to nobody: {e}", path.display()));
    let meta = fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("cannot stat {}: {e}", path.display()));
    if meta.is_dir() {
        let entries =
            fs::read_dir(path).unwrap_or_else(|e| panic!("cannot list {}: {e}", path.display()));
        for entry in entries {
            let entry = entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", path.display()));
            give_to_server_user(&entry.path());
        }
    }
}

/// `/tmp/inlet-tk`, world-writable with the sticky bit like /tmp, since root
/// and unprivileged runs share it. Sweeps dead processes' leftovers once.
pub(crate) fn root() -> &'static Path {
    static SWEPT: OnceLock<()> = OnceLock::new();
    let root = Path::new(ROOT);
    SWEPT.get_or_init(|| {
        match fs::DirBuilder::new().mode(0o1777).create(root) {
            Ok(()) => {
                // The mode given to mkdir is filtered by the umask.
                fs::set_permissions(root, fs::Permissions::from_mode(0o1777))
                    .unwrap_or_else(|e| panic!("cannot chmod {ROOT}: {e}"));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("cannot create {ROOT}: {e}"),
        }
        sweep(root);
    });
    root
}

/// Removes `<pid>-*` entries whose process is gone. Entries of other users
/// that we may not remove are left alone.
fn sweep(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.split('-').next()?.parse::<i32>().ok())
        else {
            continue;
        };
        if !process_alive(pid) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn process_alive(pid: i32) -> bool {
    // /proc/<n> also answers for thread ids, so look for a process with that id.
    if let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) {
        return status.lines().any(|l| {
            l.strip_prefix("Tgid:")
                .is_some_and(|t| t.trim() == pid.to_string())
        });
    }
    // No /proc: signal 0 checks existence (EPERM means someone else's process).
    !matches!(
        kill(Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}
