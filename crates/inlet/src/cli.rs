//! The command line. Doc comments here are the `--help` text people read.

use clap::{Parser, Subcommand};

use inlet_postgres::ssh::keys::KeyType;

use crate::connection_args::ConnectionArgs;

/// Keep Stripe, HubSpot and Salesforce data in your own PostgreSQL, continuously.
///
/// Start by checking that inlet can reach your database:
///
///   inlet destination check --url postgresql://me@db.example.com/app?sslmode=verify-full
///
/// Exit codes: 0 success, 1 a problem was found (the message says what and how to fix it),
/// 2 invalid command line or settings, 3 internal error.
#[derive(Debug, Parser)]
#[command(
    name = "inlet",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// More log output on stderr (-v: debug for inlet, -vv: debug for its libraries too).
    /// RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The config file; secrets, SSH keys and pinned host keys live beside it
    /// [default: $INLET_CONFIG, else ${XDG_CONFIG_HOME:-~/.config}/inlet/inlet.toml].
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line a message, for people.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

// Parsed once per run: the size of the connection flags does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The PostgreSQL database inlet syncs into.
    #[command(subcommand)]
    Destination(DestinationCommand),

    /// The SSH key pair inlet uses to reach databases through a bastion host.
    #[command(subcommand)]
    Tunnel(TunnelCommand),

    /// Syncs: a SaaS account kept in one schema of a destination.
    #[command(subcommand)]
    Sync(SyncCommand),

    /// Run every sync: backfill, then apply every change within seconds, until stopped.
    ///
    /// Each sync backfills its streams (with progress bars on a terminal, log lines
    /// otherwise), then follows the API's change feed. SIGTERM or Ctrl-C finishes the batch
    /// being written, commits it, and exits 0; the next run resumes from there. Running
    /// more than one `inlet run` with the same config is safe: they share the syncs between
    /// them, each sync written by one process at a time (a PostgreSQL advisory lock), and
    /// take over the syncs of one that stops.
    ///
    /// With --listen it also serves, for the operator's tools: /healthz (alive), /readyz
    /// (every sync it owns connected, no stream errored; 503 with the reasons otherwise),
    /// /api/v1/syncs[/NAME] (the document of `inlet sync status --json`) and /metrics
    /// (Prometheus). An address other machines can reach needs $INLET_API_TOKEN, which
    /// /api/* and /metrics then require as `Authorization: Bearer TOKEN`.
    ///
    /// Examples:
    ///
    ///   inlet run --listen 0.0.0.0:8080   # also serves webhooks, for lower latency
    ///
    ///   inlet run --listen 127.0.0.1:9090 --log-format json   # for a log collector
    Run {
        /// Serve webhooks (`POST /webhooks/SOURCE/SYNC`), /healthz, /readyz, /api/v1/syncs
        /// and /metrics on this address.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,

        /// Run only these syncs [default: all in inlet.toml].
        #[arg(long, value_name = "SYNC", value_delimiter = ',')]
        only: Vec<String>,

        /// How log lines on stderr are written: `text` for people, `json` for a log
        /// collector (one object a line: timestamp, level, message, sync, stream and the
        /// other fields) [default: text].
        #[arg(long, value_enum, value_name = "FORMAT", env = "INLET_LOG_FORMAT")]
        log_format: Option<LogFormat>,
    },

    /// See inlet work, on this machine, with nothing to set up.
    ///
    /// Starts a private PostgreSQL (from the server binaries installed here), a fake Stripe
    /// account, a fake HubSpot portal and a fake Salesforce org with a few thousand objects
    /// that keep changing, runs the automated setup and the three syncs (schemas `stripe`,
    /// `hubspot` and `salesforce`), and prints the psql commands to watch the data and the
    /// change logs arrive. Ctrl-C stops it and removes everything it made.
    Demo {
        /// Customers in the fake Stripe account (each brings subscriptions, invoices,
        /// charges...); the fake HubSpot portal has three contacts for each, the fake
        /// Salesforce org an account for each.
        #[arg(long, default_value_t = 300)]
        customers: usize,

        /// Keep the demo's folder (database, config) after it stops.
        #[arg(long)]
        keep: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Add a sync: a source's data kept in one schema of a destination.
    ///
    /// The API key comes from the source's variable below (stored in secrets.toml, mode
    /// 0600), or from the variable named by --api-key-env (read at every run, never stored).
    /// The key is checked against the API before anything is written. The source's webhook
    /// secret variable (STRIPE_WEBHOOK_SECRET; HubSpot's app secret, HUBSPOT_CLIENT_SECRET),
    /// if set, is stored too, for `inlet run --listen`.
    ///
    /// Example:
    ///
    ///   STRIPE_API_KEY=rk_live_... inlet sync add stripe --source stripe --destination warehouse
    Add {
        /// The sync's name (letters, digits, '_' and '-').
        name: String,

        /// The SaaS API, one of the registered sources.
        #[arg(long, value_name = "SOURCE", default_value = default_source(), value_parser = sources())]
        source: String,

        /// The destination (from `inlet destination add`).
        #[arg(long, value_name = "DEST")]
        destination: String,

        /// The schema the sync owns [default: the source's name, e.g. stripe].
        #[arg(long, value_name = "SCHEMA")]
        schema: Option<String>,

        /// Read the API key from this environment variable at every run.
        #[arg(long, value_name = "VAR")]
        api_key_env: Option<String>,

        /// The API's base URL (a proxy, or a fake for testing). For Salesforce, the login
        /// host: https://test.salesforce.com for a sandbox, or the org's My Domain.
        #[arg(long, value_name = "URL", visible_alias = "login-url")]
        api_base: Option<String>,

        /// One of the source's own keys of [syncs.NAME] (e.g. stripe_version=2026-08-26.dahlia);
        /// repeat for more.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = key_value)]
        set: Vec<(String, String)>,

        /// Only these streams (comma-separated) [default: all].
        #[arg(long, value_name = "STREAMS", value_delimiter = ',')]
        streams: Option<Vec<String>>,

        /// `soft`: keep deleted rows with _sync_deleted_at set [default: hard, remove them].
        #[arg(long, value_name = "MODE", value_parser = ["hard", "soft"])]
        deletes: Option<String>,

        /// Don't check the key against the API now.
        #[arg(long)]
        no_verify: bool,

        /// Replace a sync of the same name.
        #[arg(long)]
        force: bool,
    },

    /// List the configured syncs.
    List {
        /// Print one JSON object on stdout instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Move a sync to a new schema, without a gap for readers.
    ///
    /// Creates NEW (readable by the read role before anything is in it), backfills it while
    /// the current schema keeps being served and updated, and once NEW has caught up, the
    /// sync writes NEW (inlet.toml is updated). The old schema and its swap schema are
    /// never dropped by inlet: the command prints the `drop schema ... cascade;` lines for
    /// you to run when nothing reads them any more.
    ///
    /// If `inlet run` is syncing NAME, it does the work and this command waits for it;
    /// otherwise this command does it. Interrupted, it resumes where it stopped.
    ///
    /// Example:
    ///
    ///   inlet sync rename-schema stripe billing
    RenameSchema {
        /// The sync.
        name: String,
        /// The new schema name (1 to 63 bytes; any characters, it is always quoted).
        new: String,
        /// Print one JSON object on stdout instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Rebuild a sync's tables from a full copy, swapped in with readers never seeing a gap.
    ///
    /// The copy is built in <schema>_swap while the live tables keep updating, then swapped
    /// in one short transaction: a reader sees the old complete data or the new, never an
    /// empty table. A table that objects of yours depend on (views, indexes, triggers, ...)
    /// is refreshed in place instead, so they keep working; a table you own is left alone.
    /// inlet starts a rebuild by itself when a change cannot be made by adding columns (a
    /// column's type, a new Stripe-Version). Prints how long the swap held its lock.
    Rebuild {
        /// The sync.
        name: String,
        /// Print one JSON object on stdout instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Each stream's state, rows, lag and last error (with its fix), read from the
    /// destination, so it works whether or not `inlet run` is running here.
    ///
    /// LAG is how long ago the stream was last known complete: a live stream records it at
    /// least every 5 seconds, so a lag that keeps growing past the poll interval plus a few
    /// seconds means the sync is behind or stopped.
    Status {
        /// One sync [default: all].
        name: Option<String>,

        /// Print one JSON object on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DestinationCommand {
    /// Record a destination database in inlet.toml (no secrets in it).
    ///
    /// Connection flags as for `check`. The user, if given, is the sync user inlet connects
    /// as; leave it out and `setup --auto` creates one. A password given with -W or
    /// PGPASSWORD is stored in secrets.toml (mode 0600) beside inlet.toml.
    ///
    /// Example:
    ///
    ///   inlet destination add warehouse --host db.internal --dbname analytics --sslmode verify-full --sslrootcert ca.pem
    #[command(verbatim_doc_comment)]
    Add {
        /// A name for it: letters, digits, '_' and '-'.
        name: String,
        #[command(flatten)]
        connection: ConnectionArgs,
        /// The read role people are granted [default: <sync user>_read].
        #[arg(long, value_name = "ROLE")]
        read_role: Option<String>,
        /// Replace a destination of the same name.
        #[arg(long)]
        force: bool,
    },

    /// Create the sync user and read role (--auto), or print the SQL to do it (--manual).
    ///
    /// --auto connects as an admin (a superuser, or a CREATEROLE role owning the database).
    /// The admin password is asked at the terminal, or read from INLET_ADMIN_PASSWORD; it
    /// is used for this call only and never stored anywhere. Setup creates the sync user
    /// (inlet_ + a random suffix) with a generated password (stored in secrets.toml),
    /// grants it CONNECT and CREATE on the database and nothing else, creates the read role
    /// with the sync user as its admin, and grants it to the people you pick. Safe to run
    /// again.
    ///
    /// Examples:
    ///
    ///   inlet destination setup warehouse --auto --admin-user postgres --grant-to alice,bob
    ///
    ///   inlet destination setup warehouse --manual > setup.sql
    #[command(verbatim_doc_comment)]
    Setup {
        name: String,
        /// Do it now, as an admin.
        #[arg(long, conflicts_with = "manual", required_unless_present = "manual")]
        auto: bool,
        /// Print the SQL for a person to run instead.
        #[arg(long)]
        manual: bool,
        /// The admin user for --auto.
        #[arg(long, value_name = "USER", default_value = "postgres")]
        admin_user: String,
        /// Name of the sync user [default: inlet_ + 8 random characters; "inlet" with --manual].
        #[arg(long, value_name = "USER")]
        sync_user: Option<String>,
        /// Name of the read role [default: <sync user>_read].
        #[arg(long, value_name = "ROLE")]
        read_role: Option<String>,
        /// Roles to grant the read role to (comma-separated). Without it, a terminal asks.
        #[arg(long, value_name = "ROLES", value_delimiter = ',')]
        grant_to: Option<Vec<String>>,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },

    /// Check everything a sync needs; report every problem at once, each with its fix.
    ///
    /// Connects as the sync user and checks: CONNECT and CREATE on the database, the read
    /// role and the sync user's admin option on it, the target schema if it already exists
    /// (USAGE and CREATE; a warning against syncing into a schema inlet does not own), and
    /// more privilege than needed (superuser, CREATEROLE, CREATEDB, owning the database).
    /// Exit 0 when nothing critical was found; 1 otherwise, or when it could not check
    /// (then JSON has "checked": false).
    Verify {
        name: String,
        /// The schema a sync will write to.
        #[arg(long, value_name = "SCHEMA")]
        schema: Option<String>,
        /// Print one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },

    /// Let a database role read synced data (grant it the read role).
    Grant {
        name: String,
        /// The role (user) to grant the read role to.
        role: String,
        #[arg(long)]
        json: bool,
    },

    /// Stop a database role reading synced data (revoke the read role).
    Revoke {
        name: String,
        role: String,
        #[arg(long)]
        json: bool,
    },

    /// Store the sync user's password in secrets.toml (asked, or one line on stdin).
    Password { name: String },

    /// Connect to a database and report its version and TLS, or exactly what is wrong.
    ///
    /// Settings come from libpq's environment variables (PGHOST, PGHOSTADDR, PGPORT, PGUSER,
    /// PGDATABASE, PGPASSWORD, PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY, PGSSLCRL,
    /// PGCONNECT_TIMEOUT, PGAPPNAME) and the files ~/.postgresql/root.crt, root.crl,
    /// postgresql.crt and postgresql.key, then --url, then the flags below, each overriding
    /// the one before.
    ///
    /// Examples:
    ///
    ///   inlet destination check --host db.internal --user inlet --dbname app
    ///
    ///   inlet destination check --url 'postgresql://inlet@db.example.com/app?sslmode=verify-full&sslrootcert=ca.pem'
    ///
    ///   PGPASSWORD=... inlet destination check --url postgresql://inlet@10.0.0.5/app --json
    ///
    ///   inlet destination check --ssh-host bastion.example.com --ssh-user inlet \
    ///       --host db.internal --user inlet --dbname app --sslmode verify-full --sslrootcert ca.pem
    #[command(verbatim_doc_comment)]
    Check {
        #[command(flatten)]
        connection: ConnectionArgs,

        /// Print one JSON object on stdout instead of text: {"ok":true,...} or
        /// {"ok":false,"problem":KIND,"message":...,"fix":...}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TunnelCommand {
    /// Create the key pair inlet logs in to bastions with, and print how to install it.
    ///
    /// The private key is written to ssh/id_ed25519 (ssh/id_rsa with --type rsa) in inlet's
    /// directory, readable by its owner only; it never leaves this machine. An existing key
    /// is never replaced unless --force is given.
    Keygen {
        /// ed25519, or rsa (3072 bits) for bastions older than OpenSSH 6.5.
        #[arg(long = "type", value_name = "TYPE", default_value = "ed25519", value_parser = parse_key_type)]
        key_type: KeyType,

        /// Replace an existing key (the bastion then needs the new public key).
        #[arg(long)]
        force: bool,

        /// Print one JSON object on stdout instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Print the public key and how to install it on the bastion.
    Show {
        /// Which key [default: ed25519 if it exists, else rsa].
        #[arg(long = "type", value_name = "TYPE", value_parser = parse_key_type)]
        key_type: Option<KeyType>,

        /// Print one JSON object on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn parse_key_type(s: &str) -> Result<KeyType, String> {
    KeyType::ALL
        .into_iter()
        .find(|t| t.as_str() == s)
        .ok_or_else(|| "use ed25519 (the default) or rsa".to_string())
}

/// The registered sources, for `--source`.
/// The command line, with each registered source's key variables and `--set` keys at the
/// end of `inlet sync add --help` (the registry knows them; the binary names no source).
pub fn parse() -> Cli {
    use clap::FromArgMatches;
    let matches = command().get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command().mut_subcommand("sync", |sync| {
        sync.mut_subcommand("add", |add| add.after_long_help(sources_help()))
    })
}

/// Each source: where its key comes from, and its own keys for `--set`.
fn sources_help() -> String {
    let mut help = String::from("Sources:");
    for c in inlet_connectors::registry::SOURCES {
        help.push_str(&format!(
            "\n\n  {} ({}): the key from ${}",
            c.name(),
            c.title(),
            c.api_key_env(),
        ));
        for key in c.option_keys() {
            help.push_str(&format!("\n    --set {}=...  {}", key.name, key.doc));
        }
    }
    help
}

fn sources() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(inlet_connectors::registry::names())
}

/// The first registered source: the default of `--source`.
fn default_source() -> &'static str {
    inlet_connectors::registry::SOURCES
        .first()
        .map_or("", |c| c.name())
}

fn key_value(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("\"{arg}\" is not KEY=VALUE")),
    }
}

/// The source's own keys given on the command line, as `[syncs.NAME]` holds them.
pub fn source_options(set: Vec<(String, String)>) -> inlet_connectors::registry::Options {
    set.into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sync_add_help_names_every_sources_key_variable_and_own_keys() {
        let mut cmd = super::command();
        let add = cmd
            .find_subcommand_mut("sync")
            .and_then(|s| s.find_subcommand_mut("add"))
            .expect("sync add");
        let help = add.render_long_help().to_string();
        for c in inlet_connectors::registry::SOURCES {
            assert!(help.contains(&format!("${}", c.api_key_env())), "{help}");
            for key in c.option_keys() {
                assert!(help.contains(&format!("--set {}=", key.name)), "{help}");
            }
        }
    }
}
