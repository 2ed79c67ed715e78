//! `[syncs.NAME]` in `inlet.toml`: one source kept in one schema of one destination.
//! The field docs below are the reference for the file; a source adds its own keys
//! (Stripe: `stripe_version`), checked by the source when the file is loaded.
//!
//! ```toml
//! [syncs.stripe]
//! source = "stripe"
//! destination = "warehouse"
//! schema = "stripe"
//! # api_key_env = "STRIPE_API_KEY"   # else the key stored by `sync add` in secrets.toml
//! # rate_limit = 20                   # requests per second, all streams together
//! # poll_interval_ms = 1000
//! # webhook_base_url = "https://inlet.example.com"   # behind a proxy: what webhooks are posted to
//! # deletes = "soft"                  # keep deleted rows, with _sync_deleted_at set
//! [syncs.stripe.events]
//! # include_backfill = true           # log the initial copy in _sync_event too
//! # retention_days = 7
//! ```

use std::fmt;
use std::path::Path;
use std::time::Duration;

use inlet_connectors::registry::{self, Connector, Options, Settings};
use inlet_postgres::writer::DeleteMode;
use inlet_postgres::{Problem, ProblemKind, Secret};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SyncConfig {
    /// The SaaS API, one of the registered sources (`stripe`).
    pub source: SourceRef,
    /// The destination (a `[destinations.NAME]`) the data goes to.
    pub destination: String,
    /// The schema the sync owns in the destination (one per sync). Change it with `inlet
    /// sync rename-schema`, which copies the data over before switching; edited by hand, the
    /// sync starts over in an empty schema and the old one is no longer updated.
    pub schema: String,
    /// The environment variable holding the API key [default: the key stored in
    /// secrets.toml by `sync add`, else the source's usual variable].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// The API's base URL [default: the vendor's]; point it at a proxy or a fake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    /// Requests per second, all streams together [default: the source's, well under the
    /// vendor's limit, which the account's other clients share].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<f64>,
    /// Milliseconds between reads of the change feed [default: 1000]. Webhooks make the
    /// next read happen at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_ms: Option<u64>,
    /// The address webhooks reach this sync's `inlet run --listen` at, as the sender sees
    /// it (`https://inlet.example.com`), when a proxy stands in between: HubSpot signs the
    /// URL it posts to, which inlet then rebuilds from this and the request's path [default:
    /// `http://` and the request's `Host`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_base_url: Option<String>,
    /// What a delete upstream does: `hard` (the default) removes the row, `soft` keeps it with
    /// `_sync_deleted_at` set.
    #[serde(default, skip_serializing_if = "is_default")]
    pub deletes: DeleteMode,
    /// Only these streams [default: all].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<Vec<String>>,
    /// The change log, `_sync_event`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub events: EventsConfig,
    /// The source's own keys, checked by the source (see [`SyncConfig::check`]).
    #[serde(flatten)]
    pub options: Options,
}

/// The keys every sync has, whatever its source.
const COMMON_KEYS: &str = "source, destination, schema, api_key_env, api_base, rate_limit, \
                           poll_interval_ms, webhook_base_url, deletes, streams, events";

/// A registered source, named in the file by its name.
#[derive(Clone, Copy)]
pub struct SourceRef(pub &'static dyn Connector);

impl std::ops::Deref for SourceRef {
    type Target = dyn Connector;
    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl fmt::Debug for SourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl PartialEq for SourceRef {
    fn eq(&self, other: &Self) -> bool {
        self.0.name() == other.0.name()
    }
}

impl<'de> Deserialize<'de> for SourceRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        registry::find(&name).map(SourceRef).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "source = \"{name}\" is not a source inlet knows (it knows: {})",
                registry::names().join(", ")
            ))
        })
    }
}

impl Serialize for SourceRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// Log the backfill's rows as inserts too [default: false: the table is the backfill].
    #[serde(default, skip_serializing_if = "is_default")]
    pub include_backfill: bool,
    /// Days `_sync_event` rows are kept [default: 7].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<f64>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl SyncConfig {
    /// A new sync of `source` with every optional key at its default.
    pub fn new(source: &'static dyn Connector, destination: &str, schema: &str) -> Self {
        SyncConfig {
            source: SourceRef(source),
            destination: destination.to_string(),
            schema: schema.to_string(),
            api_key_env: None,
            api_base: None,
            rate_limit: None,
            poll_interval_ms: None,
            webhook_base_url: None,
            deletes: DeleteMode::default(),
            streams: None,
            events: EventsConfig::default(),
            options: Options::new(),
        }
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.unwrap_or(1000).max(50))
    }

    /// How long `_sync_event` rows are kept (checked finite and positive at load).
    pub fn retention(&self) -> Duration {
        let days = self
            .events
            .retention_days
            .filter(|d| d.is_finite())
            .unwrap_or(7.0);
        Duration::from_secs_f64((days * 86_400.0).clamp(60.0, 3_650.0 * 86_400.0))
    }

    /// What the source is built from.
    pub fn settings(&self, api_key: &Secret) -> Settings {
        Settings {
            api_base: self.api_base.clone(),
            api_key: api_key.expose().to_string(),
            rate_limit: self.rate_limit,
            poll_interval: self.poll_interval(),
            streams: self.streams.clone(),
            options: self.options.clone(),
            meter: Default::default(),
            key_keeper: Default::default(),
        }
    }

    /// Checks what the file's syntax cannot: values in range, the source's own keys, and
    /// stream names. Errors name the file, the sync, the key and what is allowed.
    pub fn check(&self, file: &Path, name: &str) -> Result<(), Problem> {
        let bad = |key: &str, what: String, allowed: String| {
            Problem::new(
                ProblemKind::InvalidOption,
                format!("{}: [syncs.{name}] {key}: {what}", file.display()),
                allowed,
            )
        };
        if let Some(days) = self.events.retention_days {
            if !days.is_finite() || days <= 0.0 {
                return Err(bad(
                    "events.retention_days",
                    format!("{days} is not a number of days"),
                    "use a number of days above 0, e.g. retention_days = 7".into(),
                ));
            }
        }
        if let Some(rate) = self.rate_limit {
            if !rate.is_finite() || rate <= 0.0 || rate > 10_000.0 {
                return Err(bad(
                    "rate_limit",
                    format!("{rate} is not a request rate"),
                    "use requests per second above 0 (at most 10000), e.g. rate_limit = 20".into(),
                ));
            }
        }
        if let Some(url) = &self.webhook_base_url {
            let scheme = url.split_once("://").map(|(s, _)| s);
            if !matches!(scheme, Some("http" | "https")) || url.contains(char::is_whitespace) {
                return Err(bad(
                    "webhook_base_url",
                    format!("{url:?} is not an http(s) address"),
                    "use the scheme and host webhooks are posted to, e.g. webhook_base_url = \"https://inlet.example.com\"".into(),
                ));
            }
        }
        if let Some(streams) = &self.streams {
            let known = self.source.stream_names();
            let unknown = streams.iter().find(|s| !known.contains(&s.as_str()));
            if let Some(unknown) = unknown.filter(|_| !known.is_empty()) {
                return Err(bad(
                    "streams",
                    format!("{} has no stream \"{unknown}\"", self.source.title()),
                    format!("choose among: {}", known.join(", ")),
                ));
            }
        }
        self.source.check_options(&self.options).map_err(|e| {
            let own: Vec<&str> = self.source.option_keys().iter().map(|k| k.name).collect();
            let keys = if own.is_empty() {
                COMMON_KEYS.to_string()
            } else {
                format!("{COMMON_KEYS}, {}", own.join(", "))
            };
            bad(
                &e.key,
                e.message,
                format!(
                    "{}; the keys of a {} sync are: {keys}",
                    e.allowed,
                    self.source.title()
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_base_url_must_be_an_http_address() {
        let hubspot = registry::find("hubspot").expect("registered");
        let file = Path::new("inlet.toml");
        let mut sync = SyncConfig::new(hubspot, "warehouse", "hubspot");
        for good in ["https://inlet.example.com", "http://10.0.0.5:8080/base"] {
            sync.webhook_base_url = Some(good.into());
            assert!(sync.check(file, "crm").is_ok(), "{good}");
        }
        for bad in ["inlet.example.com", "ftp://x", "https://a b"] {
            sync.webhook_base_url = Some(bad.into());
            let refused = sync.check(file, "crm").expect_err(bad);
            assert!(
                refused.message.contains("[syncs.crm] webhook_base_url"),
                "{}",
                refused.message
            );
        }
    }
}
