//! The one seam between a source and everything above it: the binary and the runtime ask
//! this registry, and never name a particular source.
//!
//! Adding a source is a module here (its [`Connector`]), one in `inlet-fakes`, and one line
//! in [`SOURCES`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use inlet_core::{Checkpoint, Source, SourceError};
use serde_json::{Map, Value};

/// Every source inlet can sync, by name.
pub static SOURCES: &[&dyn Connector] = &[
    &crate::stripe::Stripe,
    &crate::hubspot::HubSpot,
    &crate::salesforce::Salesforce,
];

/// The registered source called `name`.
pub fn find(name: &str) -> Option<&'static dyn Connector> {
    SOURCES.iter().copied().find(|c| c.name() == name)
}

/// The registered sources' names, for messages and help.
pub fn names() -> Vec<&'static str> {
    SOURCES.iter().map(|c| c.name()).collect()
}

/// The keys a source adds to its `[syncs.NAME]` section, as written there (`stripe_version
/// = "..."`), not yet checked. [`Connector::check_options`] checks them when the file loads.
pub type Options = Map<String, Value>;

/// What a source is built from: the settings every source has, and its own options.
#[derive(Clone, Default)]
pub struct Settings {
    /// The API's base URL (`None`: the vendor's).
    pub api_base: Option<String>,
    pub api_key: String,
    /// Requests per second, all streams together (`None`: the source's default).
    pub rate_limit: Option<f64>,
    /// How often the change feed is read when no webhook says to read it sooner.
    pub poll_interval: Duration,
    /// The streams to sync (`None`: all).
    pub streams: Option<Vec<String>>,
    pub options: Options,
    /// Told of every request the source sends (`inlet run`'s metrics).
    pub meter: crate::http::Meter,
    /// Keeps a key the vendor replaced, where the sync's key is stored.
    pub key_keeper: KeyKeeper,
}

/// Where a key the vendor replaced goes: a refresh token the vendor rotated (the old one
/// stops working) must be stored where the sync's key is, or the next start cannot log
/// in. `Err`: why it could not be kept, in words (never the key).
pub trait KeepKey: Send + Sync {
    fn keep(&self, key: &str) -> Result<(), String>;

    /// The key stored now, which another process of the sync may have replaced (`None`:
    /// not known).
    fn stored(&self) -> Option<String> {
        None
    }
}

/// An optional keeper, as settings hold it (`None`: the new key lives in memory only).
#[derive(Clone, Default)]
pub struct KeyKeeper(pub Option<Arc<dyn KeepKey>>);

impl KeyKeeper {
    /// Stores `key`; a failure is logged (the sync goes on with the key in memory).
    pub fn keep(&self, key: &str) {
        match self.0.as_ref().map(|k| k.keep(key)) {
            Some(Ok(())) => tracing::info!("kept the rotated key where the sync's key is stored"),
            Some(Err(why)) => tracing::warn!("the key was rotated and could not be stored: {why}"),
            None => tracing::warn!("the key was rotated; it is kept in memory only"),
        }
    }

    /// The key stored now (see [`KeepKey::stored`]).
    pub fn stored(&self) -> Option<String> {
        self.0.as_ref().and_then(|k| k.stored())
    }
}

impl fmt::Debug for KeyKeeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "KeyKeeper"
        } else {
            "KeyKeeper(none)"
        })
    }
}

impl fmt::Debug for Settings {
    // The key never reaches a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("api_base", &self.api_base)
            .field("rate_limit", &self.rate_limit)
            .field("poll_interval", &self.poll_interval)
            .field("streams", &self.streams)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A source-specific key of `[syncs.NAME]`.
#[derive(Clone, Copy, Debug)]
pub struct OptionKey {
    pub name: &'static str,
    /// What it means and what values it takes, for error messages and help.
    pub doc: &'static str,
}

/// A source-specific key that is unknown or holds a bad value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct OptionError {
    pub key: String,
    pub message: String,
    /// What is allowed instead.
    pub allowed: String,
}

/// What decides a rebuild: when it changes, every table is copied again (in the swap
/// schema) and swapped in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaVersion {
    /// What the version is called, for the rebuild's reason (`Stripe-Version`).
    pub label: &'static str,
    pub value: String,
}

/// A webhook delivery, as it reached inlet.
pub struct Delivery<'a> {
    /// `POST`.
    pub method: &'a str,
    /// The URL the sender posted to, as it addressed it: the sync's `webhook_base_url` (else
    /// `http://` and the `Host` header) followed by the request's path and query.
    pub url: &'a str,
    /// Looks a request header up by its lowercase name.
    pub header: &'a dyn Fn(&str) -> Option<String>,
    pub body: &'a [u8],
}

impl fmt::Debug for Delivery<'_> {
    // Headers and body stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("method", &self.method)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A credential check's outcome: `Ok` with what the person adding the sync should know of
/// the account (one plain sentence each; often none), or why the key is refused.
pub type Checked<'a> = Pin<Box<dyn Future<Output = Result<Vec<String>, SourceError>> + Send + 'a>>;

/// One source, as the rest of inlet sees it.
pub trait Connector: Send + Sync {
    /// Its name in `inlet.toml` (`source = "stripe"`), URLs and commands.
    fn name(&self) -> &'static str;

    /// Its name for people (`Stripe`).
    fn title(&self) -> &'static str;

    /// The environment variable its API key is read from when nothing else is configured.
    fn api_key_env(&self) -> &'static str;

    /// How to get a key, said in a fix sentence (`export STRIPE_API_KEY=rk_live_...`).
    fn api_key_hint(&self) -> &'static str;

    /// The environment variable `inlet sync add` reads a webhook signing secret from
    /// (`None`: the source sends no webhooks).
    fn webhook_secret_env(&self) -> Option<&'static str>;

    /// Every stream's name, in order; empty when the streams are the account's own, found
    /// by asking it (a name `streams` gives is then checked by discovery).
    fn stream_names(&self) -> Vec<&'static str>;

    /// Its own keys in `[syncs.NAME]`.
    fn option_keys(&self) -> &'static [OptionKey];

    /// Checks its own keys: each known, each value of the right kind.
    fn check_options(&self, options: &Options) -> Result<(), OptionError>;

    /// A source ready to read, from checked settings.
    fn source(&self, settings: &Settings) -> Result<Arc<dyn Source>, SourceError>;

    /// One cheap request that needs what a sync needs, to refuse a bad key before anything
    /// is written; what it learned that the person should know (e.g. an API allocation
    /// nearly spent) comes back to be shown.
    fn check_credentials<'a>(&'a self, settings: &'a Settings) -> Checked<'a>;

    /// Checks a webhook delivery's signature against the sync's webhook `secret` at
    /// `now_ms` (Unix milliseconds). `Err` says why it was refused, in words fit for a log
    /// and for the sender.
    fn verify_webhook(
        &self,
        delivery: &Delivery<'_>,
        secret: &str,
        now_ms: i64,
    ) -> Result<(), String>;

    /// The Unix second up to which a stream at `checkpoint` is known to hold every change
    /// (`None`: not known, e.g. still backfilling). For lag in `inlet sync status`, and to
    /// tell when a rebuild's copy has caught up with the live schema.
    fn complete_until(&self, checkpoint: &Checkpoint) -> Option<i64>;

    /// A backfill read in partitions: (partitions complete, in all so far), for `inlet sync
    /// status`. `None` when `checkpoint` is not such a backfill.
    fn partitions(&self, _checkpoint: &Checkpoint) -> Option<(u32, u32)> {
        None
    }

    /// What a person should know about a stream at `checkpoint` that is not an error (a
    /// field the source no longer lets inlet read), for `inlet sync status`.
    fn notes(&self, _checkpoint: &Checkpoint) -> Vec<String> {
        Vec::new()
    }

    /// The version of the source's data shape these options ask for.
    fn schema_version(&self, options: &Options) -> SchemaVersion;
}

impl fmt::Debug for dyn Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Connector({})", self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_is_found_by_its_own_name_and_names_are_unique() {
        let names = names();
        for name in &names {
            assert_eq!(find(name).map(|c| c.name()), Some(*name));
            assert_eq!(names.iter().filter(|n| *n == name).count(), 1, "{name}");
        }
        assert!(find("nope").is_none());
    }
}
