//! The command line. Doc comments here are the `--help` text people read.

use clap::{Parser, Subcommand};

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The PostgreSQL database inlet syncs into.
    #[command(subcommand)]
    Destination(DestinationCommand),
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
