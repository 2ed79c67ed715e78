//! A configured sync's source, built through the registry with its key.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use inlet_connectors::http::Meter;
use inlet_connectors::registry::{KeepKey, KeyKeeper, Settings};
use inlet_core::{Source, SourceError};
use inlet_postgres::{Problem, ProblemKind, Secret};

use crate::config::Config;
use crate::paths::Paths;
use crate::secrets::{self, SyncSecret};
use crate::sync_config::SyncConfig;

/// The sync's API key: its configured environment variable, else the stored key, else the
/// variable the source names (its `api_key_env` in the registry).
pub fn api_key(paths: &Paths, name: &str, sync: &SyncConfig) -> Result<Secret, Problem> {
    if let Some(var) = &sync.api_key_env {
        return match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
            _ => Err(Problem::new(
                ProblemKind::InvalidOption,
                format!("sync \"{name}\" reads its API key from ${var}, which is not set"),
                format!("export {var}=... (the key), or remove api_key_env from [syncs.{name}]"),
            )),
        };
    }
    if let Some(key) = secrets::sync_secret(&paths.secrets(), name, SyncSecret::ApiKey)? {
        return Ok(key);
    }
    let var = sync.source.api_key_env();
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
        _ => Err(Problem::new(
            ProblemKind::InvalidOption,
            format!("sync \"{name}\" has no API key"),
            format!("export {var}=... and run `inlet sync add {name} ... --force` to store it"),
        )),
    }
}

/// The configured sync `name`, or a problem naming the configured ones.
pub fn configured<'a>(cfg: &'a Config, name: &str) -> Result<&'a SyncConfig, Problem> {
    cfg.syncs.get(name).ok_or_else(|| {
        Problem::new(
            ProblemKind::InvalidOption,
            format!("there is no sync \"{name}\""),
            "see `inlet sync list`",
        )
    })
}

/// The sync's source, ready to read.
pub fn source(paths: &Paths, name: &str, sync: &SyncConfig) -> Result<Arc<dyn Source>, Problem> {
    metered_source(paths, name, sync, Meter::default())
}

/// The sync's source, telling `meter` of every request it sends.
pub fn metered_source(
    paths: &Paths,
    name: &str,
    sync: &SyncConfig,
    meter: Meter,
) -> Result<Arc<dyn Source>, Problem> {
    let key = api_key(paths, name, sync)?;
    let settings = Settings {
        meter,
        key_keeper: KeyKeeper(Some(Arc::new(StoredKey {
            secrets: paths.secrets(),
            sync: name.to_string(),
            env: sync.api_key_env.clone(),
        }))),
        ..sync.settings(&key)
    };
    sync.source
        .source(&settings)
        .map_err(|e| source_problem(&e))
}

/// Keys the syncs' sources stored themselves (rotated refresh tokens), by secrets file and
/// sync: the one stored now, if theirs, is not a person's new key.
static KEPT: Mutex<BTreeMap<(PathBuf, String), Secret>> = Mutex::new(BTreeMap::new());

/// The key sync `name`'s source last stored itself, in this process.
pub fn kept_by_its_source(paths: &Paths, name: &str) -> Option<Secret> {
    let kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    kept.get(&(paths.secrets(), name.to_string())).cloned()
}

/// A sync's key replaced by the vendor (a rotated refresh token), stored where `sync add`
/// stored the first one: secrets.toml, mode 0600.
struct StoredKey {
    secrets: std::path::PathBuf,
    sync: String,
    /// The variable the key is read from instead, if the sync names one.
    env: Option<String>,
}

impl KeepKey for StoredKey {
    fn keep(&self, key: &str) -> Result<(), String> {
        if let Some(var) = &self.env {
            return Err(format!(
                "sync \"{}\" reads its key from ${var}, which inlet cannot change: the \
                 next start will be refused; remove api_key_env and store the key with \
                 `inlet sync add {} ... --force`",
                self.sync, self.sync
            ));
        }
        let value = Secret::new(key.to_string());
        secrets::set_sync_secret(&self.secrets, &self.sync, SyncSecret::ApiKey, &value)
            .map_err(|p| p.message)?;
        let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        kept.insert((self.secrets.clone(), self.sync.clone()), value);
        Ok(())
    }

    fn stored(&self) -> Option<String> {
        if self.env.is_some() {
            return None; // read from the environment, which no other process changes
        }
        let stored = secrets::sync_secret(&self.secrets, &self.sync, SyncSecret::ApiKey);
        stored.ok().flatten().map(|k| k.expose().to_string())
    }
}

/// A source's error as a problem to print.
pub fn source_problem(e: &SourceError) -> Problem {
    Problem::new(
        ProblemKind::InvalidOption,
        e.message.clone(),
        e.fix.clone().unwrap_or_default(),
    )
}
