//! `inlet sync add`: record a sync, after checking its key and its schema.

use inlet_connectors::http::RateLimiter;
use inlet_connectors::stripe::client::StripeClient;
use inlet_connectors::stripe::DEFAULT_STRIPE_VERSION;
use inlet_postgres::{Problem, ProblemKind, Secret};

use crate::config;
use crate::exit::Code;
use crate::output;
use crate::paths::Paths;
use crate::secrets::{self, SyncSecret};
use crate::sync_config::{EventsConfig, Source, SyncConfig};

#[derive(Debug)]
pub struct AddArgs {
    pub name: String,
    pub destination: String,
    pub schema: Option<String>,
    pub api_key_env: Option<String>,
    pub api_base: Option<String>,
    pub stripe_version: Option<String>,
    pub streams: Option<Vec<String>>,
    pub soft_deletes: bool,
    pub verify: bool,
    pub force: bool,
}

pub async fn add(paths: &Paths, args: AddArgs) -> Code {
    match run(paths, args).await {
        Ok(()) => Code::Ok,
        Err(p) => output::problem(&p, None, false),
    }
}

async fn run(paths: &Paths, args: AddArgs) -> Result<(), Problem> {
    let name = args.name.as_str();
    config::check_name("sync", name)?;
    let cfg = config::load(&paths.config)?;
    cfg.destination(&args.destination, &paths.config)?;
    if cfg.syncs.contains_key(name) && !args.force {
        return Err(Problem::new(
            ProblemKind::InvalidOption,
            format!("there is already a sync \"{name}\""),
            "pick another name, or add --force to replace it",
        ));
    }
    let source = Source::Stripe;
    let schema = args
        .schema
        .clone()
        .unwrap_or_else(|| source.name().to_string());
    inlet_postgres::schema_name::validate(&schema)?;
    // One schema, one sync: two writers in one schema would fight over its tables (and a
    // schema that is another sync's swap schema would be emptied by its next rebuild).
    super::rename::claimed_by_another(&cfg, name, &args.destination, &schema)?;
    check_destination(paths, &args.destination, &schema).await?;
    if let Some(streams) = &args.streams {
        let known = inlet_connectors::stripe::stream_names();
        if let Some(bad) = streams.iter().find(|s| !known.contains(&s.as_str())) {
            return Err(Problem::new(
                ProblemKind::InvalidOption,
                format!("Stripe has no stream \"{bad}\""),
                format!("choose among: {}", known.join(", ")),
            ));
        }
    }
    let key = match &args.api_key_env {
        Some(var) => env_secret(var).ok_or_else(|| {
            Problem::new(
                ProblemKind::InvalidOption,
                format!("${var} is not set"),
                format!("export {var}=... (the Stripe key) and run this again"),
            )
        })?,
        None => env_secret(source.key_env()).ok_or_else(|| {
            Problem::new(
                ProblemKind::InvalidOption,
                "no Stripe API key given",
                "export STRIPE_API_KEY=rk_live_... (a restricted key with read access is \
                 enough), or name another variable with --api-key-env",
            )
        })?,
    };
    let sync = SyncConfig {
        source,
        destination: args.destination.clone(),
        schema,
        api_key_env: args.api_key_env.clone(),
        api_base: args.api_base.clone(),
        stripe_version: args.stripe_version.clone(),
        rate_limit: None,
        poll_interval_ms: None,
        deletes: if args.soft_deletes {
            inlet_postgres::writer::DeleteMode::Soft
        } else {
            Default::default()
        },
        streams: args.streams.clone(),
        events: EventsConfig::default(),
    };
    if args.verify {
        check_key(&sync, &key).await?;
    }
    if args.api_key_env.is_none() {
        secrets::set_sync_secret(&paths.secrets(), name, SyncSecret::ApiKey, &key)?;
    }
    if let Some(secret) = env_secret("STRIPE_WEBHOOK_SECRET") {
        secrets::set_sync_secret(&paths.secrets(), name, SyncSecret::WebhookSecret, &secret)?;
    }
    config::save_entry(&paths.config, "syncs", name, &sync)?;
    println!(
        "sync \"{name}\": Stripe → schema \"{}\" of destination \"{}\"",
        sync.schema, sync.destination
    );
    println!("  config   {}", paths.config.display());
    println!("  next     inlet run        (backfills, then follows changes)");
    println!("           inlet sync status {name}");
    Ok(())
}

/// Refuses a schema that exists in the destination and is someone else's. A destination
/// that cannot be reached now is not a reason to refuse: the sync checks again when it
/// starts (it never writes into a schema it does not own).
async fn check_destination(paths: &Paths, destination: &str, schema: &str) -> Result<(), Problem> {
    match super::super::destination::connect_as_sync_user(paths, destination).await {
        Ok((_, session)) => {
            inlet_postgres::schema_name::check_free(&session.client, schema).await?;
            Ok(())
        }
        Err(p) => {
            eprintln!(
                "note: could not check schema \"{schema}\" in destination \"{destination}\" ({}); \
                 it is checked when the sync starts",
                p.message
            );
            Ok(())
        }
    }
}

/// One cheap request that needs what a sync needs: reading events.
async fn check_key(sync: &SyncConfig, key: &Secret) -> Result<(), Problem> {
    let base = sync.api_base.as_deref().unwrap_or("https://api.stripe.com");
    let version = sync
        .stripe_version
        .as_deref()
        .unwrap_or(DEFAULT_STRIPE_VERSION);
    let limiter = std::sync::Arc::new(RateLimiter::new(5.0, 1));
    let client = StripeClient::new(base, key.expose(), version, limiter)
        .map_err(|e| super::source_problem(&e))?;
    match client.list("/v1/events", &[("limit", "1".into())]).await {
        Ok(_) => Ok(()),
        Err(inlet_connectors::stripe::client::CallError::Source(e)) => {
            let mut p = super::source_problem(&e);
            p.kind = ProblemKind::ServerError;
            Err(p)
        }
        Err(_) => Err(Problem::new(
            ProblemKind::ServerError,
            "Stripe answered the key check strangely (a cursor error without a cursor)",
            "try again, or add --no-verify",
        )),
    }
}

fn env_secret(var: &str) -> Option<Secret> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Secret::new)
}
