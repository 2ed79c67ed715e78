//! Salesforce's registration: what the rest of inlet knows of Salesforce, through the
//! registry.
//!
//! The sync logs in at the login host (`api_base`, which `inlet sync add --login-url`
//! sets; `https://login.salesforce.com` by default) with the connected app's `client_id`
//! and one grant (`grant`, see [`Grant`]). The key (`SALESFORCE_SECRET`, stored in
//! secrets.toml by `sync add`) is the grant's secret: the refresh token, the client
//! secret, the private key (PEM) of the app's certificate, or the password followed by the
//! security token. A client secret the grant needs besides comes from the variable
//! `client_secret_env` names, never from the config file.

use std::sync::Arc;
use std::time::Duration;

use inlet_core::{Checkpoint, ErrorKind, Source, SourceError};
use serde_json::Value;

use super::client::{SalesforceClient, REASONS};
use super::login::{Grant, Login, LoginSettings};
use super::{SalesforceOptions, SalesforceSource};
use crate::http::allowance::{share_option, DAY};
use crate::http::{DailyShare, Days, DEFAULT_SHARE};
use crate::registry::{
    Checked, Connector, Delivery, OptionError, OptionKey, Options, SchemaVersion, Settings,
};

#[derive(Clone, Copy, Debug)]
pub struct Salesforce;

/// Where production orgs log in.
pub const LOGIN_URL: &str = "https://login.salesforce.com";

const KEYS: &[OptionKey] = &[
    OptionKey {
        name: "client_id",
        doc: "the connected app's consumer key (required)",
    },
    OptionKey {
        name: "grant",
        doc: "how to log in: refresh_token (the key is a refresh token), client_credentials \
              (the key is the client secret), jwt_bearer (the key is the private key, PEM, of \
              the app's certificate) or password (the key is the password followed by the \
              security token) [default: refresh_token]",
    },
    OptionKey {
        name: "username",
        doc: "the integration user's username (grant = password or jwt_bearer)",
    },
    OptionKey {
        name: "client_secret_env",
        doc: "the environment variable holding the connected app's client secret, for the \
              refresh_token and password grants when the app requires it",
    },
    OptionKey {
        name: "api_share",
        doc: "the share of the org's remaining daily API allocation (shared by every \
              integration) this sync may use in 24 hours, above 0 and at most 1; once spent \
              the sync pauses until its day turns [default: 0.2]",
    },
    OptionKey {
        name: "bulk_threshold",
        doc: "objects with at least this many records (Salesforce's record count) are \
              backfilled by Bulk API 2.0 query jobs, the rest by REST queries [default: 50000]",
    },
    OptionKey {
        name: "max_in_flight",
        doc: "requests this sync sends at once, at most: Salesforce allows an org 25 \
              long-running requests at a time (5 in a developer org), shared by every \
              integration, from 1 to 25 [default: 5]",
    },
    OptionKey {
        name: "overlap_secs",
        doc: "how far back before the last change seen each poll reads again, for \
              transactions that commit late, in seconds [default: 60]",
    },
];

/// Salesforce's own keys of `[syncs.NAME]`, typed.
#[derive(Debug)]
struct SalesforceConfig {
    client_id: Option<String>,
    grant: Grant,
    username: Option<String>,
    client_secret_env: Option<String>,
    overlap_secs: Option<u64>,
    api_share: Option<f64>,
    bulk_threshold: Option<u64>,
    max_in_flight: Option<u64>,
}

/// Requests in flight at once unless `max_in_flight` says otherwise: what a developer org
/// allows, which leaves a production org's 25 mostly to the other integrations.
const DEFAULT_IN_FLIGHT: u64 = 5;

/// Tests only: how many seconds a day of the API share lasts, so a spent share turns
/// within a test.
const TEST_DAY_ENV: &str = "INLET_TEST_SALESFORCE_DAY_SECS";

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

fn text(options: &Options, key: &str) -> Result<Option<String>, OptionError> {
    match options.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(_) => Err(wrong(key, "a non-empty string")),
    }
}

/// A whole number, written as one or as text (`--set key=N` gives text).
fn whole(options: &Options, key: &str) -> Result<Option<u64>, OptionError> {
    let Some(value) = options.get(key) else {
        return Ok(None);
    };
    let n = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    n.map(Some).ok_or_else(|| wrong(key, "a whole number"))
}

impl SalesforceConfig {
    fn parse(options: &Options) -> Result<Self, OptionError> {
        if let Some(key) = options.keys().find(|k| KEYS.iter().all(|o| o.name != *k)) {
            return Err(OptionError {
                key: key.clone(),
                message: format!("Salesforce syncs have no key \"{key}\""),
                allowed: allowed(),
            });
        }
        let grant = match text(options, "grant")? {
            None => Grant::RefreshToken,
            Some(g) => Grant::parse(&g).ok_or_else(|| wrong("grant", Grant::NAMES))?,
        };
        let username = text(options, "username")?;
        if grant == Grant::Password && username.is_none() {
            return Err(wrong(
                "username",
                "set when grant = password (--set username=...)",
            ));
        }
        let overlap_secs = whole(options, "overlap_secs")?;
        let api_share =
            share_option(options.get("api_share")).map_err(|what| wrong("api_share", what))?;
        Ok(SalesforceConfig {
            api_share,
            client_id: text(options, "client_id")?,
            grant,
            username,
            client_secret_env: text(options, "client_secret_env")?,
            overlap_secs,
            bulk_threshold: whole(options, "bulk_threshold")?,
            max_in_flight: match whole(options, "max_in_flight")? {
                Some(n) if !(1..=25).contains(&n) => {
                    return Err(wrong("max_in_flight", "a whole number from 1 to 25"))
                }
                n => n,
            },
        })
    }
}

fn config_error(e: OptionError) -> SourceError {
    SourceError::new(ErrorKind::InvalidResponse, e.message).with_fix(e.allowed)
}

fn login_of(settings: &Settings) -> Result<(SalesforceConfig, Login), SourceError> {
    let config = SalesforceConfig::parse(&settings.options).map_err(config_error)?;
    let client_id = config.client_id.clone().ok_or_else(|| {
        SourceError::new(
            ErrorKind::Unauthorized,
            "no client_id: the connected app's consumer key",
        )
        .with_fix("add --set client_id=... (Setup → App Manager → your app → View → Consumer Key)")
    })?;
    let client_secret = match &config.client_secret_env {
        Some(var) => Some(
            std::env::var(var)
                .ok()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    SourceError::new(
                        ErrorKind::Unauthorized,
                        format!("${var} (the connected app's client secret) is not set"),
                    )
                    .with_fix(format!("export {var}=... (the app's consumer secret)"))
                })?,
        ),
        None => None,
    };
    let login = Login::new(LoginSettings {
        login_url: settings
            .api_base
            .as_deref()
            .unwrap_or(LOGIN_URL)
            .trim_end_matches('/')
            .to_string(),
        grant: config.grant,
        client_id,
        client_secret,
        username: config.username.clone(),
        key: settings.api_key.clone(),
        keeper: settings.key_keeper.clone(),
    })?;
    Ok((config, login))
}

fn source_of(settings: &Settings) -> Result<SalesforceSource, SourceError> {
    let (config, login) = login_of(settings)?;
    let rate = settings.rate_limit.unwrap_or(10.0);
    let day = std::env::var(TEST_DAY_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(DAY, Duration::from_secs);
    let share = DailyShare::new(
        config.api_share.unwrap_or(DEFAULT_SHARE),
        Days::Rolling(day),
        settings.meter.clone(),
        REASONS,
    );
    let most = config.max_in_flight.unwrap_or(DEFAULT_IN_FLIGHT) as usize;
    let client = SalesforceClient::new(Arc::new(login), rate, most, settings.meter.clone(), share);
    let options = SalesforceOptions {
        poll_interval: settings.poll_interval,
        overlap: Duration::from_secs(config.overlap_secs.unwrap_or(60)),
        streams: settings.streams.clone(),
        bulk_threshold: config
            .bulk_threshold
            .unwrap_or(super::DEFAULT_BULK_THRESHOLD),
    };
    Ok(SalesforceSource::new(client, options))
}

/// What `/limits` says of the org's daily API allocation, and what this sync's share of it
/// comes to, for the person adding the sync (`None`: the answer has no `DailyApiRequests`).
fn allocation_note(limits: &Value, share: f64) -> Option<String> {
    let daily = &limits["DailyApiRequests"];
    let (max, remaining) = (daily["Max"].as_u64()?, daily["Remaining"].as_u64()?);
    let calls = (remaining as f64 * share).floor() as u64;
    let mut note = format!(
        "the org has {remaining} of its {max} daily API calls left (every integration's \
         calls count); this sync will use at most {}% of what is left when its day begins: \
         {calls} calls now (--set api_share)",
        share * 100.0
    );
    if calls < 100 {
        note.push_str(
            "; that is too few for a backfill, which will pause until calls free up: raise \
             api_share or the org's allocation",
        );
    }
    Some(note)
}

impl Connector for Salesforce {
    fn name(&self) -> &'static str {
        "salesforce"
    }

    fn title(&self) -> &'static str {
        "Salesforce"
    }

    fn api_key_env(&self) -> &'static str {
        "SALESFORCE_SECRET"
    }

    fn api_key_hint(&self) -> &'static str {
        "export SALESFORCE_SECRET=... (the connected app's refresh token; with --set \
         grant=client_credentials its client secret; with --set grant=jwt_bearer the private \
         key of its certificate, \"$(cat server.key)\"; with --set grant=password the \
         password followed by the security token)"
    }

    fn webhook_secret_env(&self) -> Option<&'static str> {
        None // Salesforce sends no webhooks: changes are polled
    }

    fn stream_names(&self) -> Vec<&'static str> {
        // Every org has its own objects: the streams are found by asking it.
        Vec::new()
    }

    fn option_keys(&self) -> &'static [OptionKey] {
        KEYS
    }

    fn check_options(&self, options: &Options) -> Result<(), OptionError> {
        SalesforceConfig::parse(options).map(|_| ())
    }

    fn source(&self, settings: &Settings) -> Result<Arc<dyn Source>, SourceError> {
        Ok(Arc::new(source_of(settings)?))
    }

    fn check_credentials<'a>(&'a self, settings: &'a Settings) -> Checked<'a> {
        Box::pin(async move {
            // Logging in and listing the objects to sync (one request, however many the
            // org has): a refused login, an unknown stream or a user who may read nothing
            // fails here, before anything is written. Then `/limits`, for the person.
            let source = source_of(settings)?;
            super::streams::choose(&source.client, source.options.streams.as_deref()).await?;
            let limits = source.client.data("limits").await?;
            let share = SalesforceConfig::parse(&settings.options)
                .map_err(config_error)?
                .api_share
                .unwrap_or(DEFAULT_SHARE);
            Ok(allocation_note(&limits, share).into_iter().collect())
        })
    }

    fn verify_webhook(
        &self,
        _delivery: &Delivery<'_>,
        _secret: &str,
        _now_ms: i64,
    ) -> Result<(), String> {
        Err("Salesforce has no webhooks inlet reads; polling keeps the sync current".into())
    }

    fn complete_until(&self, checkpoint: &Checkpoint) -> Option<i64> {
        super::complete_until(checkpoint)
    }

    fn partitions(&self, checkpoint: &Checkpoint) -> Option<(u32, u32)> {
        super::partitions(checkpoint)
    }

    fn notes(&self, checkpoint: &Checkpoint) -> Vec<String> {
        super::notes(checkpoint)
    }

    fn schema_version(&self, _options: &Options) -> SchemaVersion {
        SchemaVersion {
            label: "Salesforce REST API",
            value: super::client::API_VERSION.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn adding_a_sync_tells_what_its_share_of_the_org_allocation_comes_to() {
        let limits = json!({"DailyApiRequests": {"Max": 15_000, "Remaining": 14_500}});
        let note = allocation_note(&limits, 0.2).expect("a note");
        assert!(
            note.contains("14500 of its 15000 daily API calls left"),
            "{note}"
        );
        assert!(note.contains("at most 20% of what is left when its day begins: 2900 calls"));
        assert!(!note.contains("too few"), "{note}");
        let spent = json!({"DailyApiRequests": {"Max": 15_000, "Remaining": 40}});
        let note = allocation_note(&spent, 0.2).expect("a note");
        assert!(
            note.contains("8 calls now") && note.contains("too few"),
            "{note}"
        );
        assert_eq!(allocation_note(&json!({}), 0.2), None);
    }

    fn options(v: serde_json::Value) -> Options {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn options_are_checked_by_key_and_by_value() {
        let ok = |v| Salesforce.check_options(&options(v)).is_ok();
        assert!(ok(json!({"client_id": "3MVG9"})));
        assert!(ok(
            json!({"client_id": "3MVG9", "grant": "client_credentials", "overlap_secs": "5"})
        ));
        let bad = |v| {
            Salesforce
                .check_options(&options(v))
                .expect_err("refused")
                .key
        };
        assert_eq!(bad(json!({"clientid": "x"})), "clientid");
        assert_eq!(bad(json!({"grant": "magic"})), "grant");
        assert_eq!(bad(json!({"grant": "password"})), "username");
        assert_eq!(bad(json!({"overlap_secs": "soon"})), "overlap_secs");
        assert!(ok(json!({"api_share": "0.05"})));
        assert!(ok(json!({"api_share": 1})));
        for share in [json!("0"), json!(1.5), json!("most"), json!(true)] {
            assert_eq!(bad(json!({ "api_share": share })), "api_share");
        }
        assert!(ok(json!({"bulk_threshold": "1000"})));
        assert_eq!(bad(json!({"bulk_threshold": "-1"})), "bulk_threshold");
        assert!(ok(json!({"max_in_flight": 25})));
        for n in [json!(0), json!(26), json!("many")] {
            assert_eq!(bad(json!({ "max_in_flight": n })), "max_in_flight");
        }
    }
}
