//! `secrets.toml`: passwords inlet generated or was given, beside `inlet.toml`, mode 0600.
//! inlet refuses to read it when others can, as ssh does with private keys.
//!
//! ```toml
//! [destinations.warehouse]
//! password = "..."
//! ```

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use inlet_postgres::{Problem, ProblemKind, Secret};
use serde::{Deserialize, Serialize};

use crate::files::{read_optional, write_atomic};

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Secrets {
    #[serde(default)]
    destinations: BTreeMap<String, DestinationSecrets>,
    #[serde(default)]
    syncs: BTreeMap<String, SyncSecrets>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SyncSecrets {
    /// The SaaS API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
    /// The secret webhooks are signed with (Stripe's `whsec_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    webhook_secret: Option<String>,
}

/// A sync's secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncSecret {
    ApiKey,
    WebhookSecret,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct DestinationSecrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

/// The stored password of a destination's sync user, if any.
pub fn destination_password(path: &Path, name: &str) -> Result<Option<Secret>, Problem> {
    let secrets = load(path)?;
    Ok(secrets
        .destinations
        .get(name)
        .and_then(|d| d.password.clone())
        .map(Secret::new))
}

pub fn set_destination_password(path: &Path, name: &str, password: &Secret) -> Result<(), Problem> {
    let mut secrets = load(path)?;
    secrets
        .destinations
        .entry(name.to_string())
        .or_default()
        .password = Some(password.expose().to_string());
    save(path, &secrets)
}

pub fn sync_secret(path: &Path, name: &str, which: SyncSecret) -> Result<Option<Secret>, Problem> {
    let secrets = load(path)?;
    let Some(sync) = secrets.syncs.get(name) else {
        return Ok(None);
    };
    let value = match which {
        SyncSecret::ApiKey => &sync.api_key,
        SyncSecret::WebhookSecret => &sync.webhook_secret,
    };
    Ok(value.clone().map(Secret::new))
}

pub fn set_sync_secret(
    path: &Path,
    name: &str,
    which: SyncSecret,
    value: &Secret,
) -> Result<(), Problem> {
    let mut secrets = load(path)?;
    let sync = secrets.syncs.entry(name.to_string()).or_default();
    let slot = match which {
        SyncSecret::ApiKey => &mut sync.api_key,
        SyncSecret::WebhookSecret => &mut sync.webhook_secret,
    };
    *slot = Some(value.expose().to_string());
    save(path, &secrets)
}

fn save(path: &Path, secrets: &Secrets) -> Result<(), Problem> {
    let text = toml::to_string(&secrets).map_err(|e| {
        Problem::new(
            ProblemKind::InvalidOption,
            format!("cannot encode secrets: {e}"),
            "",
        )
    })?;
    write_atomic(path, &text, 0o600)
}

fn load(path: &Path) -> Result<Secrets, Problem> {
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.mode() & 0o077 != 0 {
            return Err(Problem::new(
                ProblemKind::InvalidOption,
                format!(
                    "{} can be read by other users (mode {:o}); inlet will not use it",
                    path.display(),
                    meta.mode() & 0o777
                ),
                format!("run: chmod 600 {}", path.display()),
            ));
        }
    }
    let Some(text) = read_optional(path)? else {
        return Ok(Secrets::default());
    };
    // The error message names the file but never quotes its content.
    toml::from_str(&text).map_err(|_| {
        Problem::new(
            ProblemKind::InvalidOption,
            format!("{} is not valid TOML", path.display()),
            "fix it by hand; it holds [destinations.NAME] tables with a password = \"...\" key \
             and [syncs.NAME] tables with api_key and webhook_secret keys",
        )
    })
}
