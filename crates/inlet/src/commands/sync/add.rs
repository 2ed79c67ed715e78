//! `inlet sync add`: record a sync, after checking its key and its schema.

use std::sync::{Arc, Mutex};

use inlet_connectors::registry::{self, KeepKey, KeyKeeper, Settings};
use inlet_postgres::{Problem, ProblemKind, Secret};

use crate::config;
use crate::exit::Code;
use crate::output;
use crate::paths::Paths;
use crate::secrets::{self, SyncSecret};
use crate::sync_config::SyncConfig;

#[derive(Debug)]
pub struct AddArgs {
    pub name: String,
    /// A registered source's name.
    pub source: String,
    pub destination: String,
    pub schema: Option<String>,
    pub api_key_env: Option<String>,
    pub api_base: Option<String>,
    /// The source's own keys (`stripe_version`), as `[syncs.NAME]` holds them.
    pub options: registry::Options,
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
    let source = registry::find(&args.source).ok_or_else(|| {
        Problem::new(
            ProblemKind::InvalidOption,
            format!("\"{}\" is not a source inlet knows", args.source),
            format!("use one of: {}", registry::names().join(", ")),
        )
    })?;
    let schema = args
        .schema
        .clone()
        .unwrap_or_else(|| source.name().to_string());
    inlet_postgres::schema_name::validate(&schema)?;
    let mut sync = SyncConfig::new(source, &args.destination, &schema);
    sync.api_key_env.clone_from(&args.api_key_env);
    sync.api_base.clone_from(&args.api_base);
    sync.streams.clone_from(&args.streams);
    sync.options.clone_from(&args.options);
    if args.soft_deletes {
        sync.deletes = inlet_postgres::writer::DeleteMode::Soft;
    }
    // The same checks as when inlet.toml is loaded, before anything is written.
    sync.check(&paths.config, name)?;
    // One schema, one sync: two writers in one schema would fight over its tables (and a
    // schema that is another sync's swap schema would be emptied by its next rebuild).
    super::rename::claimed_by_another(&cfg, name, &args.destination, &schema)?;
    check_destination(paths, &args.destination, &schema).await?;
    let key = match &args.api_key_env {
        Some(var) => env_secret(var).ok_or_else(|| {
            Problem::new(
                ProblemKind::InvalidOption,
                format!("${var} is not set"),
                format!(
                    "export {var}=... (the {} key) and run this again",
                    source.title()
                ),
            )
        })?,
        None => env_secret(source.api_key_env()).ok_or_else(|| {
            Problem::new(
                ProblemKind::InvalidOption,
                format!("no {} API key given", source.title()),
                format!(
                    "{}, or name another variable with --api-key-env",
                    source.api_key_hint()
                ),
            )
        })?,
    };
    // Logging in may rotate a refresh token: the new one is the one to store.
    let (key, notes) = match args.verify {
        true => check_key(&sync, key).await?,
        false => (key, Vec::new()),
    };
    if args.api_key_env.is_none() {
        secrets::set_sync_secret(&paths.secrets(), name, SyncSecret::ApiKey, &key)?;
    }
    if let Some(secret) = source.webhook_secret_env().and_then(env_secret) {
        secrets::set_sync_secret(&paths.secrets(), name, SyncSecret::WebhookSecret, &secret)?;
    }
    config::save_entry(&paths.config, "syncs", name, &sync)?;
    println!(
        "sync \"{name}\": {} → schema \"{}\" of destination \"{}\"",
        source.title(),
        sync.schema,
        sync.destination
    );
    println!("  config   {}", paths.config.display());
    for note in notes {
        println!("  note     {note}");
    }
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

/// A key the vendor replaced while the key was checked.
#[derive(Default)]
struct Replaced(Mutex<Option<String>>);

impl KeepKey for Replaced {
    fn keep(&self, key: &str) -> Result<(), String> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(key.to_string());
        Ok(())
    }
}

/// One cheap request that needs what a sync needs (the source decides which); the key to
/// store (the vendor's replacement, if it rotated the one given) and what the source says
/// the person should know.
async fn check_key(sync: &SyncConfig, key: Secret) -> Result<(Secret, Vec<String>), Problem> {
    let replaced = Arc::new(Replaced::default());
    let settings = Settings {
        key_keeper: KeyKeeper(Some(replaced.clone())),
        ..sync.settings(&key)
    };
    let notes = sync
        .source
        .check_credentials(&settings)
        .await
        .map_err(|e| {
            let mut p = super::source_problem(&e);
            p.kind = ProblemKind::ServerError;
            p
        })?;
    let rotated = replaced.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    Ok((rotated.map_or(key, Secret::new), notes))
}

fn env_secret(var: &str) -> Option<Secret> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Secret::new)
}
