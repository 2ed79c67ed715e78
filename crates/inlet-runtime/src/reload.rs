//! What `inlet run` should be running, read from `inlet.toml` at start and again on SIGHUP
//! or when the file changes (polled every two seconds).
//!
//! A reload is all or nothing: a file that does not parse, or a sync in it whose source
//! cannot be built (a missing API key, say), is reported and changes nothing. A sync whose
//! settings (or whose destination's) are the same as before keeps its source, its session
//! and its lock; only added, removed and changed syncs start or stop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use inlet_core::Source;
use inlet_postgres::{Problem, ProblemKind, Secret};

use crate::config;
use crate::metrics::Metrics;
use crate::paths::Paths;
use crate::secrets::{self, SyncSecret};
use crate::sources;
use crate::sync_config::SyncConfig;

/// A sync to run, as configured.
#[derive(Clone)]
pub struct Wanted {
    pub sync: SyncConfig,
    pub source: Arc<dyn Source>,
    pub webhook_secret: Option<Secret>,
    /// The sync's settings and its destination's, as text, and a digest of its API key:
    /// equal means unchanged.
    pub fingerprint: String,
    /// The destination's settings alone, as text.
    pub destination: String,
}

/// The syncs the file configures now (`only`: these; empty: all), each source counting its
/// requests in `metrics`, reusing `current`'s entries that did not change.
pub fn wanted(
    paths: &Paths,
    only: &[String],
    metrics: &Metrics,
    current: &BTreeMap<String, Wanted>,
) -> Result<BTreeMap<String, Wanted>, Problem> {
    let cfg = config::load(&paths.config)?;
    let mut wanted = BTreeMap::new();
    for (name, sync) in cfg.syncs {
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        let unreadable = |e: serde_json::Error| {
            Problem::new(
                ProblemKind::InvalidOption,
                format!("sync \"{name}\" could not be read: {e}"),
                "",
            )
        };
        let destination =
            serde_json::to_string(&cfg.destinations.get(&sync.destination)).map_err(unreadable)?;
        let settings = serde_json::to_string(&sync).map_err(unreadable)? + &destination;
        // A key stored since (`sync add --force`) is a change too, unless the sync's own
        // source stored it (a rotated refresh token, which the source already uses).
        let key = sources::api_key(paths, &name, &sync)?;
        let fingerprint = format!("{settings}\n{}", digest(key.expose()));
        let rotated = || sources::kept_by_its_source(paths, &name).as_ref() == Some(&key);
        let same = current.get(&name).filter(|w| {
            let same_settings = w.fingerprint.rsplit_once('\n').map(|(s, _)| s) == Some(&settings);
            w.fingerprint == fingerprint || same_settings && rotated()
        });
        // The webhook secret is read again whatever else changed: the server checks each
        // delivery with the secret stored now.
        let webhook_secret =
            secrets::sync_secret(&paths.secrets(), &name, SyncSecret::WebhookSecret)?;
        if let Some(same) = same {
            let same = Wanted {
                webhook_secret,
                ..same.clone()
            };
            wanted.insert(name, same);
            continue;
        }
        let source = sources::metered_source(paths, &name, &sync, metrics.api_meter(&name))?;
        let entry = Wanted {
            sync,
            source,
            webhook_secret,
            fingerprint,
            destination,
        };
        wanted.insert(name, entry);
    }
    Ok(wanted)
}

/// A key as a fingerprint holds it: a digest, never the key.
fn digest(key: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    format!("key {:016x}", h.finish())
}

impl std::fmt::Debug for Wanted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wanted")
            .field("sync", &self.sync)
            .finish_non_exhaustive()
    }
}

/// Notices changes to the config file's contents.
#[derive(Debug)]
pub struct FileWatch {
    path: PathBuf,
    seen: Option<Vec<u8>>,
}

impl FileWatch {
    /// Watches `path`, taking its contents now as seen.
    pub fn new(path: &Path) -> Self {
        FileWatch {
            path: path.to_path_buf(),
            seen: std::fs::read(path).ok(),
        }
    }

    /// Whether the contents differ from when last asked (a file being replaced, which
    /// cannot be read for a moment, is not a change yet).
    pub fn changed(&mut self) -> bool {
        match std::fs::read(&self.path) {
            Ok(now) if self.seen.as_ref() != Some(&now) => {
                self.seen = Some(now);
                true
            }
            _ => false,
        }
    }
}
