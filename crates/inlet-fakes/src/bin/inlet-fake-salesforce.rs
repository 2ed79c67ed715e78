//! `inlet-fake-salesforce`: a fake Salesforce org on your machine, seeded with realistic data.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use inlet_fakes::cli;
use inlet_fakes::salesforce::{FakeSalesforce, MutatorOptions, Options};

// The doc comment of `Args` is the `--help` text, verbatim, written for a terminal
// (`<placeholders>`), not for rustdoc.

/// A fake Salesforce (OAuth token endpoint, REST API: describe, SOQL query/queryAll,
/// getUpdated/getDeleted; Bulk API 2.0 query jobs with CSV results), faithful enough to
/// sync from: whole-second SystemModstamps, the Recycle Bin, the daily API allocation with
/// Sforce-Limit-Info and 403 REQUEST_LIMIT_EXCEEDED, expiring sessions.
///
/// Log in at the printed login URL, e.g. with the username-password grant:
///
///   curl -d grant_type=password -d client_id=... -d client_secret=... -d username=... -d password=... http://127.0.0.1:12113/services/oauth2/token
///
/// then call the instance_url it names with the access token:
///
///   curl -H 'Authorization: Bearer 00D...' 'http://127.0.0.1:12113/services/data/v62.0/query?q=SELECT+Id,Name+FROM+Account+LIMIT+3'
///
/// The control API (Authorization: Bearer <the printed client secret>) changes data and
/// injects faults while it runs:
///
///   curl -H 'Authorization: Bearer SECRET' -X POST http://127.0.0.1:12113/_fake/faults -d '{"fail_next":{"count":3,"status":503}}'
///
/// Other routes: POST /_fake/seed, GET|POST|PATCH /_fake/records/OBJECT[/ID],
/// DELETE /_fake/records/OBJECT/ID, POST /_fake/records/OBJECT/ID/{touch,undelete,purge,merge},
/// POST /_fake/fields/OBJECT, POST /_fake/delete-log/OBJECT/trim, POST /_fake/connected-app/keys,
/// POST /_fake/limits, GET /_fake/stats.
#[allow(rustdoc::invalid_html_tags)]
#[derive(Debug, Parser)]
#[command(name = "inlet-fake-salesforce", version, verbatim_doc_comment)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:12113", value_name = "ADDR")]
    listen: SocketAddr,
    /// Accounts to seed (with users, contacts, opportunities, leads, cases, invoices in proportion).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    accounts: usize,
    /// Seed of every choice: the same seed gives the same org and credentials.
    #[arg(long, default_value_t = 0, value_name = "SEED")]
    seed: u64,
    /// API calls allowed per rolling 24 hours.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    daily_limit: u64,
    /// Answer every API request after this many milliseconds.
    #[arg(long, value_name = "MS")]
    latency_ms: Option<u64>,
    /// The instance_url token responses name (default: this fake's own URL).
    #[arg(long, value_name = "URL")]
    instance_url: Option<String>,
    /// Make a random realistic change every M milliseconds.
    #[arg(long, value_name = "M")]
    mutate_ms: Option<u64>,
    /// With --mutate-ms: also add custom fields now and then.
    #[arg(long)]
    schema_changes: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    cli::init_logging();
    let options = Options {
        listen: args.listen,
        seed: args.seed,
        daily_limit: args.daily_limit,
        instance_url: args.instance_url.clone(),
        ..Options::default()
    };
    let salesforce = match FakeSalesforce::start(options).await {
        Ok(salesforce) => salesforce,
        Err(error) => return cli::cannot_listen("inlet-fake-salesforce", args.listen, error),
    };
    let started = Instant::now();
    salesforce.seed(args.accounts);
    if let Some(ms) = args.latency_ms {
        salesforce.faults().latency(Duration::from_millis(ms));
        println!("Latency:         {ms} ms a request");
    }
    let credentials = salesforce.credentials();
    println!("Login URL:       {}", salesforce.login_url());
    println!("Instance URL:    {}", salesforce.instance_url());
    println!("Client id:       {}", credentials.client_id);
    println!("Client secret:   {}", credentials.client_secret);
    println!("Username:        {}", credentials.username);
    println!("Password:        {}", credentials.password);
    println!("Refresh token:   {}", credentials.refresh_token);
    println!(
        "Seeded:          {} accounts in {:.1?}",
        args.accounts,
        started.elapsed()
    );
    let _mutator = args.mutate_ms.map(|ms| {
        println!("Mutating:        a change every {ms} ms");
        salesforce.start_mutator(MutatorOptions {
            every: Duration::from_millis(ms),
            schema_changes: args.schema_changes,
            ..MutatorOptions::default()
        })
    });
    cli::serve_until_ctrl_c("inlet-fake-salesforce").await;
    salesforce.shutdown();
    ExitCode::SUCCESS
}
