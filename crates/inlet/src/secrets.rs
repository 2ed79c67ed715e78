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
            "fix it by hand; it holds [destinations.NAME] tables with a password = \"...\" key",
        )
    })
}
