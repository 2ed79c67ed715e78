//! Where inlet keeps its files. Everything lives in one directory, the one holding the
//! config file, so a deployment is one folder to back up and to protect:
//!
//! * `inlet.toml`: the config (no secrets in it),
//! * `secrets.toml`: passwords and API keys, mode 0600,
//! * `ssh/`: the tunnel key pair, private key mode 0600,
//! * `known_hosts`: pinned SSH host keys.
//!
//! The config file is `--config`, else `INLET_CONFIG`, else
//! `$XDG_CONFIG_HOME/inlet/inlet.toml` (`~/.config/inlet/inlet.toml`).

use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    pub config: PathBuf,
}

impl Paths {
    /// Resolves the config path from the flag, then the environment.
    pub fn resolve(flag: Option<&Path>) -> Self {
        let config = flag
            .map(Path::to_path_buf)
            .or_else(|| {
                std::env::var_os("INLET_CONFIG")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| default_dir().join("inlet.toml"));
        Paths { config }
    }

    pub fn dir(&self) -> PathBuf {
        match self.config.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    pub fn secrets(&self) -> PathBuf {
        self.dir().join("secrets.toml")
    }

    pub fn ssh_dir(&self) -> PathBuf {
        self.dir().join("ssh")
    }

    pub fn known_hosts(&self) -> PathBuf {
        self.dir().join("known_hosts")
    }
}

fn default_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("inlet")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_lives_beside_the_config_file() {
        let p = Paths::resolve(Some(Path::new("/etc/inlet/inlet.toml")));
        assert_eq!(p.dir(), PathBuf::from("/etc/inlet"));
        assert_eq!(p.secrets(), PathBuf::from("/etc/inlet/secrets.toml"));
        assert_eq!(p.ssh_dir(), PathBuf::from("/etc/inlet/ssh"));
        assert_eq!(
            Paths::resolve(Some(Path::new("inlet.toml"))).dir(),
            PathBuf::from(".")
        );
    }
}
