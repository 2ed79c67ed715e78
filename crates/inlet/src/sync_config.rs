//! `[syncs.NAME]` in `inlet.toml`: one source kept in one schema of one destination.
//! The field docs below are the reference for the file.
//!
//! ```toml
//! [syncs.stripe]
//! source = "stripe"
//! destination = "warehouse"
//! schema = "stripe"
//! # api_key_env = "STRIPE_API_KEY"   # else the key stored by `sync add` in secrets.toml
//! # rate_limit = 20                   # requests per second, all streams together
//! # poll_interval_ms = 1000
//! # deletes = "soft"                  # keep deleted rows, with _sync_deleted_at set
//! [syncs.stripe.events]
//! # include_backfill = true           # log the initial copy in _sync_event too
//! # retention_days = 7
//! ```

use std::time::Duration;

use inlet_postgres::writer::DeleteMode;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// The SaaS API: `stripe`.
    pub source: Source,
    /// The destination (a `[destinations.NAME]`) the data goes to.
    pub destination: String,
    /// The schema the sync owns in the destination (one per sync). Change it with `inlet
    /// sync rename-schema`, which copies the data over before switching; edited by hand, the
    /// sync starts over in an empty schema and the old one is no longer updated.
    pub schema: String,
    /// The environment variable holding the API key [default: the key stored in
    /// secrets.toml by `sync add`, else `STRIPE_API_KEY`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// The API's base URL [default: the vendor's, e.g. https://api.stripe.com]; point it at
    /// a proxy or a fake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    /// The Stripe API version every request pins [default: the version inlet is built for].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe_version: Option<String>,
    /// Requests per second, all streams together [default: 20; Stripe allows 100 live, 25
    /// in test mode, shared with the account's other clients].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<f64>,
    /// Milliseconds between reads of the events feed [default: 1000]. Webhooks make the next
    /// read happen at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_ms: Option<u64>,
    /// What a delete upstream does: `hard` removes the row [default], `soft` keeps it with
    /// `_sync_deleted_at` set.
    #[serde(default, skip_serializing_if = "is_default")]
    pub deletes: DeleteMode,
    /// Only these streams [default: all].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<Vec<String>>,
    /// The change log, `_sync_event`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub events: EventsConfig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Stripe,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Stripe => "stripe",
        }
    }

    /// The environment variable an API key is read from when nothing else is configured.
    pub fn key_env(self) -> &'static str {
        match self {
            Source::Stripe => "STRIPE_API_KEY",
        }
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
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.unwrap_or(1000).max(50))
    }

    pub fn retention(&self) -> Duration {
        let days = self.events.retention_days.unwrap_or(7.0);
        Duration::from_secs_f64((days * 86_400.0).clamp(60.0, 3_650.0 * 86_400.0))
    }
}
