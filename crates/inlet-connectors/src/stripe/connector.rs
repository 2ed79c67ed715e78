//! Stripe's registration: what the rest of inlet knows of Stripe, through the registry.

use std::sync::Arc;

use inlet_core::{Checkpoint, Source, SourceError};
use serde_json::Value;

use super::client::{CallError, StripeClient, DEFAULT_STRIPE_VERSION};
use super::{stream_names, StripeOptions, StripeSource};
use crate::http::RateLimiter;
use crate::registry::{
    Checked, Connector, Delivery, OptionError, OptionKey, Options, SchemaVersion, Settings,
};

#[derive(Clone, Copy, Debug)]
pub struct Stripe;

const KEYS: &[OptionKey] = &[
    OptionKey {
        name: "stripe_version",
        doc: "the Stripe API version every request pins, e.g. \"2026-08-26.dahlia\" \
              [default: the version inlet is built for]",
    },
    OptionKey {
        name: "endpoint_rate_limit",
        doc: "requests per second to any one endpoint (Stripe allows 25 by default; \
              reading every customer's payment methods is one endpoint), within rate_limit \
              [default: 20]",
    },
];

/// Stripe's own keys of `[syncs.NAME]`, typed.
#[derive(Debug, Default)]
struct StripeConfig {
    stripe_version: Option<String>,
    endpoint_rate_limit: Option<f64>,
}

impl StripeConfig {
    fn parse(options: &Options) -> Result<Self, OptionError> {
        if let Some(key) = options.keys().find(|k| KEYS.iter().all(|o| o.name != *k)) {
            return Err(OptionError {
                key: key.clone(),
                message: format!("Stripe syncs have no key \"{key}\""),
                allowed: allowed(),
            });
        }
        let wrong = |key: &str, what: &str| OptionError {
            key: key.into(),
            message: format!("{key} must be {what}"),
            allowed: allowed(),
        };
        let stripe_version = match options.get("stripe_version") {
            None => None,
            Some(Value::String(v)) => Some(v.clone()),
            Some(_) => return Err(wrong("stripe_version", "a string")),
        };
        // A number, or text of one (`--set endpoint_rate_limit=24` gives text).
        let endpoint_rate_limit = match options.get("endpoint_rate_limit") {
            None => None,
            Some(value) => match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .filter(|r: &f64| r.is_finite() && *r > 0.0)
            .map(Some)
            .ok_or_else(|| wrong("endpoint_rate_limit", "a positive number, e.g. 20"))?,
        };
        let config = StripeConfig {
            stripe_version,
            endpoint_rate_limit,
        };
        if let Some(v) = &config.stripe_version {
            // A date, then an optional release name: `2024-06-20`, `2026-08-26.dahlia`.
            let (date, name) = v.split_once('.').unwrap_or((v, "a"));
            let date_ok = date.len() == 10
                && date.chars().enumerate().all(|(i, c)| {
                    if i == 4 || i == 7 {
                        c == '-'
                    } else {
                        c.is_ascii_digit()
                    }
                });
            if !date_ok || name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(OptionError {
                    key: "stripe_version".into(),
                    message: format!("stripe_version \"{v}\" is not a Stripe API version"),
                    allowed: format!(
                        "a date and an optional release name, e.g. \"{DEFAULT_STRIPE_VERSION}\""
                    ),
                });
            }
        }
        Ok(config)
    }

    fn version(&self) -> String {
        self.stripe_version
            .clone()
            .unwrap_or_else(|| DEFAULT_STRIPE_VERSION.to_string())
    }
}

fn allowed() -> String {
    KEYS.iter()
        .map(|k| format!("{}: {}", k.name, k.doc))
        .collect::<Vec<_>>()
        .join("; ")
}

fn options_of(settings: &Settings) -> Result<StripeOptions, SourceError> {
    let config = StripeConfig::parse(&settings.options).map_err(|e| {
        SourceError::new(inlet_core::ErrorKind::InvalidResponse, e.message).with_fix(e.allowed)
    })?;
    let defaults = StripeOptions::default();
    Ok(StripeOptions {
        api_base: settings.api_base.clone().unwrap_or(defaults.api_base),
        api_key: settings.api_key.clone(),
        version: config.version(),
        rate_limit: settings.rate_limit.unwrap_or(defaults.rate_limit),
        endpoint_rate_limit: config
            .endpoint_rate_limit
            .unwrap_or(defaults.endpoint_rate_limit),
        poll_interval: settings.poll_interval,
        streams: settings.streams.clone(),
        meter: settings.meter.clone(),
        ..defaults
    })
}

impl Connector for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn title(&self) -> &'static str {
        "Stripe"
    }

    fn api_key_env(&self) -> &'static str {
        "STRIPE_API_KEY"
    }

    fn api_key_hint(&self) -> &'static str {
        "export STRIPE_API_KEY=rk_live_... (a restricted key with read access is enough)"
    }

    fn webhook_secret_env(&self) -> Option<&'static str> {
        Some("STRIPE_WEBHOOK_SECRET")
    }

    fn stream_names(&self) -> Vec<&'static str> {
        stream_names()
    }

    fn option_keys(&self) -> &'static [OptionKey] {
        KEYS
    }

    fn check_options(&self, options: &Options) -> Result<(), OptionError> {
        StripeConfig::parse(options).map(|_| ())
    }

    fn source(&self, settings: &Settings) -> Result<Arc<dyn Source>, SourceError> {
        Ok(Arc::new(StripeSource::new(options_of(settings)?)?))
    }

    fn check_credentials<'a>(&'a self, settings: &'a Settings) -> Checked<'a> {
        Box::pin(async move {
            let options = options_of(settings)?;
            let limiter = Arc::new(RateLimiter::new(5.0, 1));
            let client = StripeClient::new(
                &options.api_base,
                &options.api_key,
                &options.version,
                limiter,
            )?;
            // Reading events is what a sync needs most.
            match client.list("/v1/events", &[("limit", "1".into())]).await {
                Ok(_) => Ok(Vec::new()),
                Err(CallError::Source(e) | CallError::Missing(e)) => Err(e),
                Err(CallError::CursorMissing) => Err(SourceError::new(
                    inlet_core::ErrorKind::InvalidResponse,
                    "Stripe answered the key check strangely (a cursor error without a cursor)",
                )
                .with_fix("try again, or add --no-verify")),
            }
        })
    }

    fn verify_webhook(
        &self,
        delivery: &Delivery<'_>,
        secret: &str,
        now_ms: i64,
    ) -> Result<(), String> {
        // Stripe signs the body and a timestamp only: the method and URL play no part.
        let signature = (delivery.header)("stripe-signature");
        super::webhook::verify(signature.as_deref(), delivery.body, secret, now_ms / 1000)
            .map_err(|e| e.to_string())
    }

    fn complete_until(&self, checkpoint: &Checkpoint) -> Option<i64> {
        super::complete_until(checkpoint)
    }

    fn partitions(&self, checkpoint: &Checkpoint) -> Option<(u32, u32)> {
        super::position::partitions(checkpoint)
    }

    fn schema_version(&self, options: &Options) -> SchemaVersion {
        SchemaVersion {
            label: "Stripe-Version",
            value: StripeConfig::parse(options).unwrap_or_default().version(),
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
        assert!(Stripe.check_options(&options(json!({}))).is_ok());
        assert!(Stripe
            .check_options(&options(json!({"stripe_version": "2024-06-20"})))
            .is_ok());
        let unknown = Stripe
            .check_options(&options(json!({"stripe_versoin": "2024-06-20"})))
            .expect_err("a misspelt key");
        assert_eq!(unknown.key, "stripe_versoin");
        assert!(
            unknown.allowed.contains("stripe_version"),
            "{}",
            unknown.allowed
        );
        for bad in [
            json!(5),
            json!("yesterday"),
            json!("2024-06-20."),
            json!("2024-06-20.a b"),
        ] {
            let e = Stripe
                .check_options(&options(json!({ "stripe_version": bad })))
                .expect_err("a bad value");
            assert_eq!(e.key, "stripe_version");
        }
        for good in [json!(24), json!(12.5), json!("24")] {
            let rate = options(json!({ "endpoint_rate_limit": good }));
            assert!(Stripe.check_options(&rate).is_ok(), "{rate:?}");
        }
        for bad in [json!(0), json!(-3), json!("fast"), json!(true)] {
            let e = Stripe
                .check_options(&options(json!({ "endpoint_rate_limit": bad })))
                .expect_err("a bad rate");
            assert_eq!(e.key, "endpoint_rate_limit");
            assert!(e.message.contains("a positive number"), "{}", e.message);
        }
    }

    #[test]
    fn the_schema_version_is_the_pinned_api_version() {
        let pinned = Stripe.schema_version(&options(json!({"stripe_version": "2024-06-20"})));
        assert_eq!(pinned.value, "2024-06-20");
        assert_eq!(
            Stripe.schema_version(&Options::new()).value,
            DEFAULT_STRIPE_VERSION
        );
    }
}
