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
    /// More log output on stderr (-v: debug for inlet, -vv: everything). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The config file; secrets, SSH keys and pinned host keys live beside it
    /// [default: $INLET_CONFIG, else ~/.config/inlet/inlet.toml].
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub command: Command,
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
}

#[derive(Debug, Subcommand)]
pub enum DestinationCommand {
    /// Connect to a database and report its version and TLS, or exactly what is wrong.
    ///
    /// Settings come from libpq's environment variables (PGHOST, PGPORT, PGUSER, PGDATABASE,
    /// PGPASSWORD, PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY, PGCONNECT_TIMEOUT,
    /// PGAPPNAME) and ~/.postgresql/{root.crt,postgresql.crt,postgresql.key}, then --url, then
    /// the flags below, each overriding the one before.
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
