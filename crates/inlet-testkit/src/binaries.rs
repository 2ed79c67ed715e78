//! Which PostgreSQL versions to test and where their server binaries live.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Major versions to test, from `INLET_TEST_PG_VERSIONS` ("10 15 18" by
/// default; space or comma separated).
///
/// Panics when the list is malformed or empty: a test looping over no version would pass
/// without testing anything.
pub fn versions() -> Vec<u32> {
    let list = std::env::var("INLET_TEST_PG_VERSIONS").unwrap_or_else(|_| "10 15 18".to_owned());
    parse_versions(&list).unwrap_or_else(|e| panic!("INLET_TEST_PG_VERSIONS: {e}"))
}

fn parse_versions(list: &str) -> Result<Vec<u32>, String> {
    let versions = list
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| format!("{s:?} is not a major version number"))
        })
        .collect::<Result<Vec<u32>, String>>()?;
    if versions.is_empty() {
        return Err(format!(
            "{list:?} names no version, so the tests would test nothing; name some \
             (\"10 15 18\") or unset it for that default"
        ));
    }
    Ok(versions)
}

/// Where the server binaries (`postgres`, `initdb`) of a major version live:
/// Debian's `/usr/lib/postgresql/N/bin` if present, else the cache that
/// `scripts/fetch-postgres` fills (`$INLET_PG_CACHE`, else
/// `/var/cache/inlet/postgres` when root, else
/// `${XDG_CACHE_HOME:-~/.cache}/inlet/postgres`), under `N/native/bin`.
///
/// Panics with a message naming `scripts/fetch-postgres N` when absent.
pub fn bin_dir(major: u32) -> PathBuf {
    let debian = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"));
    if debian.join("postgres").is_file() {
        return debian;
    }
    let cached = cache_dir().join(major.to_string()).join("native/bin");
    if cached.join("postgres").is_file() {
        return cached;
    }
    panic!(
        "no PostgreSQL {major} server binaries: neither {} nor {} has `postgres`; \
         run `scripts/fetch-postgres {major}`",
        debian.display(),
        cached.display()
    );
}

/// Same rule as `cache_dir` in `scripts/fetch-postgres`.
fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("INLET_PG_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/cache/inlet/postgres");
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("neither XDG_CACHE_HOME nor HOME is set: cannot locate the PostgreSQL cache");
    base.join("inlet/postgres")
}

/// `server_version_num` of the `postgres` binary in `bin`, from `postgres --version`
/// (e.g. "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" gives 150018).
pub(crate) fn server_version_num(bin: &Path) -> u32 {
    let postgres = bin.join("postgres");
    let out = Command::new(&postgres)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} --version: {e}", postgres.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    parse_version_num(&text).unwrap_or_else(|| {
        panic!(
            "cannot parse the output of {} --version: {text:?}",
            postgres.display()
        )
    })
}

fn parse_version_num(text: &str) -> Option<u32> {
    let version = text.split(") ").nth(1)?.split_whitespace().next()?;
    let mut parts = version.split('.');
    let major = leading_number(parts.next()?)?;
    let minor = parts.next().and_then(leading_number).unwrap_or(0);
    Some(major * 10_000 + minor)
}

/// The number at the start of `s` ("18beta1" gives 18).
fn leading_number(s: &str) -> Option<u32> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(parse_versions("10 15 18"), Ok(vec![10, 15, 18]));
        assert_eq!(parse_versions(" 10,15, 18 "), Ok(vec![10, 15, 18]));
        assert!(parse_versions("10 x").is_err_and(|e| e.contains("\"x\" is not")));
    }

    #[test]
    fn an_empty_version_list_is_refused_rather_than_testing_nothing() {
        for empty in ["", " ", " , "] {
            let e = parse_versions(empty).expect_err("refused");
            assert!(e.contains("names no version"), "{e}");
        }
    }

    #[test]
    fn parses_version_output() {
        assert_eq!(
            parse_version_num("postgres (PostgreSQL) 10.23\n"),
            Some(100_023)
        );
        assert_eq!(
            parse_version_num("postgres (PostgreSQL) 18.4\n"),
            Some(180_004)
        );
        assert_eq!(
            parse_version_num("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some(150_018)
        );
        assert_eq!(
            parse_version_num("postgres (PostgreSQL) 19beta1\n"),
            Some(190_000)
        );
        assert_eq!(parse_version_num("garbage"), None);
    }
}
