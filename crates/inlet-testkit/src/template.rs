//! initdb once per major version and process, then copy: a copy takes tens
//! of milliseconds where initdb takes a second or more.
//!
//! Every cluster is initialised with the same options, so one pristine data
//! directory per version serves them all. It is never started.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::shared::cell_for;
use crate::workdir::fresh_dir;

/// Fills `data` (which must not exist) with a freshly initialised data
/// directory for the server in `bin`. `command` makes a command that runs as
/// the server user.
pub(crate) fn init_data_dir(
    major: u32,
    bin: &Path,
    data: &Path,
    command: impl Fn(&Path, &Path) -> Command,
) {
    static TEMPLATES: OnceLock<Mutex<HashMap<u32, &'static OnceLock<PathBuf>>>> = OnceLock::new();
    let template = cell_for(&TEMPLATES, major).get_or_init(|| {
        let dir = fresh_dir(&format!("tpl{major}"));
        let template = dir.join("data");
        initdb(bin, &dir, &template, &command);
        template
    });
    copy_tree(template, data);
}

fn initdb(bin: &Path, dir: &Path, data: &Path, command: &impl Fn(&Path, &Path) -> Command) {
    let initdb = bin.join("initdb");
    let out = command(&initdb, dir)
        .arg("-D")
        .arg(data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "-N",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", initdb.display()));
    if !out.status.success() {
        panic!(
            "{} -D {} failed ({}):\n{}{}",
            initdb.display(),
            data.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `cp -r` keeping file and directory modes (the server checks the data
/// directory's). Ownership is fixed by the caller.
fn copy_tree(from: &Path, to: &Path) {
    let mode = fs::metadata(from)
        .unwrap_or_else(|e| panic!("cannot stat {}: {e}", from.display()))
        .permissions()
        .mode();
    fs::DirBuilder::new()
        .mode(mode & 0o777)
        .create(to)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", to.display()));
    let entries =
        fs::read_dir(from).unwrap_or_else(|e| panic!("cannot list {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", from.display()));
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry
            .file_type()
            .unwrap_or_else(|e| panic!("cannot stat {}: {e}", source.display()));
        if kind.is_dir() {
            copy_tree(&source, &target);
        } else {
            fs::copy(&source, &target).unwrap_or_else(|e| {
                panic!(
                    "cannot copy {} to {}: {e}",
                    source.display(),
                    target.display()
                )
            });
        }
    }
}
