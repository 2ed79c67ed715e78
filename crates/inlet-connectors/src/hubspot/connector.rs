//! HubSpot's registration: what the rest of inlet knows of HubSpot, through the registry.
//!
//! The key is a private app's access token (`HUBSPOT_ACCESS_TOKEN`). With
//! `oauth_client_id` set, it is instead an OAuth app's refresh token, traded at
//! `/oauth/v1/token` for access tokens renewed before they expire (the client secret comes
//! from the variable `oauth_client_secret_env` names, never from the config file).

use std::sync::Arc;
use std::time::Duration;

use inlet_core::{Checkpoint, ErrorKind, Source, SourceError};
use serde_json::Value;

use super::client::HubSpotClient;
use super::{HubSpotOptions, HubSpotSource};
use crate::http::allowance::share_option;
use crate::http::{Auth, RefreshToken, StaticKey};
use crate::registry::{
    Checked, Connector, Delivery, OptionError, OptionKey, Options, SchemaVersion, Settings,
};

#[derive(Clone, Copy, Debug)]
pub struct HubSpot;

/// Tests only: how many seconds a day of the daily limit lasts (days then turn at every
/// multiple of it since the Unix epoch), so a spent share turns within a test.
const TEST_DAY_ENV: &str = "INLET_TEST_HUBSPOT_DAY_SECS";

const KEYS: &[OptionKey] = &[
    OptionKey {
        name: "search_lag_ms",
        doc: "how far back each poll reads again, for changes HubSpot's search had not \
              indexed yet, in milliseconds [default: 30000]",
    },
    OptionKey {
        name: "reconcile_secs",
        doc: "how often each object type is read again whole, which is how GDPR deletes \
              (which leave no trace) are noticed, in seconds [default: 86400]",
    },
    OptionKey {
        name: "associations_secs",
        doc: "how often each association table is read again whole, so how fresh \
              associations are, in seconds [default: 900]",
    },
    OptionKey {
        name: "api_share",
        doc: "the share of the HubSpot account's remaining daily API limit (shared by every \
              app of the account) this sync may use in a day, above 0 and at most 1; once \
              spent the sync pauses until the day turns at midnight UTC; search requests do \
              not count [default: 0.2]",
    },
    OptionKey {
        name: "oauth_client_id",
        doc: "an OAuth app's client id: the key is then the app's refresh token",
    },
    OptionKey {
        name: "oauth_client_secret_env",
        doc: "the environment variable holding the OAuth app's client secret",
    },
];

/// HubSpot's own keys of `[syncs.NAME]`, typed.
#[derive(Debug, Default)]
struct HubSpotConfig {
    search_lag_ms: Option<u64>,
    reconcile_secs: Option<u64>,
    associations_secs: Option<u64>,
    api_share: Option<f64>,
    oauth_client_id: Option<String>,
    oauth_client_secret_env: Option<String>,
}

fn allowed() -> String {
    KEYS.iter()
        .map(|k| format!("{}: {}", k.name, k.doc))
        .collect::<Vec<_>>()
        .join("; ")
}

fn wrong(key: &str, what: &str) -> OptionError {
    OptionError {
        key: key.to_string(),
        message: format!("{key} must be {what}"),
        allowed: allowed(),
    }
}

/// A whole number, written as one or as text (`--set search_lag_ms=5000` gives text).
fn whole(options: &Options, key: &str) -> Result<Option<u64>, OptionError> {
    match options.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| wrong(key, "a whole number")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| wrong(key, "a whole number")),
        Some(_) => Err(wrong(key, "a whole number")),
    }
}

fn text(options: &Options, key: &str) -> Result<Option<String>, OptionError> {
    match options.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(_) => Err(wrong(key, "a non-empty string")),
    }
}

impl HubSpotConfig {
    fn parse(options: &Options) -> Result<Self, OptionError> {
        if let Some(key) = options.keys().find(|k| KEYS.iter().all(|o| o.name != *k)) {
            return Err(OptionError {
                key: key.clone(),
                message: format!("HubSpot syncs have no key \"{key}\""),
                allowed: allowed(),
            });
        }
        Ok(HubSpotConfig {
            search_lag_ms: whole(options, "search_lag_ms")?,
            reconcile_secs: whole(options, "reconcile_secs")?,
            associations_secs: whole(options, "associations_secs")?,
            api_share: share_option(options.get("api_share"))
                .map_err(|what| wrong("api_share", what))?,
            oauth_client_id: text(options, "oauth_client_id")?,
            oauth_client_secret_env: text(options, "oauth_client_secret_env")?,
        })
    }
}

fn options_of(settings: &Settings) -> Result<(HubSpotOptions, Arc<dyn Auth>), SourceError> {
    let config = HubSpotConfig::parse(&settings.options)
        .map_err(|e| SourceError::new(ErrorKind::InvalidResponse, e.message).with_fix(e.allowed))?;
    let defaults = HubSpotOptions::default();
    let api_base = settings.api_base.clone().unwrap_or(defaults.api_base);
    let bad_token = |_| {
        SourceError::new(
            ErrorKind::Unauthorized,
            "the access token has characters no HTTP header may hold",
        )
        .with_fix("copy the private app's token again (Settings → Integrations → Private Apps)")
    };
    let auth: Arc<dyn Auth> = match &config.oauth_client_id {
        None => Arc::new(StaticKey::bearer(&settings.api_key).map_err(bad_token)?),
        Some(client_id) => {
            let secret = match &config.oauth_client_secret_env {
                Some(var) => Some(
                    std::env::var(var)
                        .ok()
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| {
                            SourceError::new(
                                ErrorKind::Unauthorized,
                                format!("${var} (the OAuth client secret) is not set"),
                            )
                            .with_fix(format!("export {var}=... (the app's client secret)"))
                        })?,
                ),
                None => None,
            };
            let token_url = format!("{}/oauth/v1/token", api_base.trim_end_matches('/'));
            Arc::new(RefreshToken::new(
                &token_url,
                client_id,
                secret.as_deref(),
                &settings.api_key,
            )?)
        }
    };
    let options = HubSpotOptions {
        api_base,
        rate_limit: settings.rate_limit.unwrap_or(defaults.rate_limit),
        poll_interval: settings.poll_interval,
        search_lag: config
            .search_lag_ms
            .map_or(defaults.search_lag, Duration::from_millis),
        reconcile_every: config
            .reconcile_secs
            .map_or(defaults.reconcile_every, Duration::from_secs),
        associations_every: config
            .associations_secs
            .map_or(defaults.associations_every, Duration::from_secs),
        streams: settings.streams.clone(),
        meter: settings.meter.clone(),
        api_share: config.api_share.unwrap_or(defaults.api_share),
        day: std::env::var(TEST_DAY_ENV)
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or(defaults.day, Duration::from_secs),
    };
    Ok((options, auth))
}

impl Connector for HubSpot {
    fn name(&self) -> &'static str {
        "hubspot"
    }

    fn title(&self) -> &'static str {
        "HubSpot"
    }

    fn api_key_env(&self) -> &'static str {
        "HUBSPOT_ACCESS_TOKEN"
    }

    fn api_key_hint(&self) -> &'static str {
        "export HUBSPOT_ACCESS_TOKEN=pat-... (a private app's token with the crm.objects.*.read \
         and crm.schemas.*.read scopes)"
    }

    fn webhook_secret_env(&self) -> Option<&'static str> {
        Some("HUBSPOT_CLIENT_SECRET")
    }

    fn stream_names(&self) -> Vec<&'static str> {
        super::stream_names()
    }

    fn option_keys(&self) -> &'static [OptionKey] {
        KEYS
    }

    fn check_options(&self, options: &Options) -> Result<(), OptionError> {
        HubSpotConfig::parse(options).map(|_| ())
    }

    fn source(&self, settings: &Settings) -> Result<Arc<dyn Source>, SourceError> {
        let (options, auth) = options_of(settings)?;
        Ok(Arc::new(HubSpotSource::new(options, auth)?))
    }

    fn check_credentials<'a>(&'a self, settings: &'a Settings) -> Checked<'a> {
        Box::pin(async move {
            let (options, auth) = options_of(settings)?;
            // Within the sync's own budget: at a fixed 2 a second, finding a whole portal's
            // streams took `sync add` 7 s (15 requests).
            let client = HubSpotClient::new(&options.api_base, auth, options.rate_limit)?;
            // Finding the streams asks for every type's properties: a refused token fails
            // here, a missing scope leaves its type out (and is logged), none readable fails.
            super::streams::discover(&client, options.streams.as_deref())
                .await
                .map(|_| Vec::new())
        })
    }

    fn verify_webhook(
        &self,
        delivery: &Delivery<'_>,
        secret: &str,
        now_ms: i64,
    ) -> Result<(), String> {
        super::webhook::verify(delivery, secret, now_ms).map_err(|e| e.to_string())
    }

    fn complete_until(&self, checkpoint: &Checkpoint) -> Option<i64> {
        super::complete_until(checkpoint)
    }

    fn partitions(&self, checkpoint: &Checkpoint) -> Option<(u32, u32)> {
        super::partitions(checkpoint)
    }

    fn schema_version(&self, _options: &Options) -> SchemaVersion {
        SchemaVersion {
            label: "HubSpot CRM API",
            value: "v3".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options(v: serde_json::Value) -> Options {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn options_are_checked_by_key_and_by_value() {
        assert!(HubSpot.check_options(&options(json!({}))).is_ok());
        assert!(HubSpot
            .check_options(&options(
                json!({"search_lag_ms": 5000, "reconcile_secs": 60})
            ))
            .is_ok());
        let unknown = HubSpot
            .check_options(&options(json!({"search_lag": 5})))
            .expect_err("a misspelt key");
        assert_eq!(unknown.key, "search_lag");
        assert!(unknown.allowed.contains("search_lag_ms"));
        let bad = HubSpot
            .check_options(&options(json!({"reconcile_secs": "soon"})))
            .expect_err("a bad value");
        assert_eq!(bad.key, "reconcile_secs");
        assert!(
            HubSpot
                .check_options(&options(json!({"reconcile_secs": "60"})))
                .is_ok(),
            "--set gives text"
        );
    }
}
