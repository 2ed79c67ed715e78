//! Writing inlet's files so that a crash never leaves half a file: write a temporary file
//! beside the target with the final mode, flush it to disk, rename it over the target.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use inlet_postgres::{Problem, ProblemKind};

pub fn write_atomic(path: &Path, contents: &str, mode: u32) -> Result<(), Problem> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => ".".into(),
    };
    let fail = |what: &str, e: std::io::Error| {
        Problem::new(
            ProblemKind::InvalidOption,
            format!("cannot {what} {}: {e}", path.display()),
            format!("check that {} exists and is writable", dir.display()),
        )
    };
    fs::create_dir_all(&dir).map_err(|e| fail("create the directory of", e))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| fail("write", e))
}

/// Reads a file that may not exist yet (`None`).
pub fn read_optional(path: &Path) -> Result<Option<String>, Problem> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Problem::new(
            ProblemKind::InvalidOption,
            format!("cannot read {}: {e}", path.display()),
            "check the path and its permissions",
        )),
    }
}
