//! `inlet-fake-hubspot`: a fake HubSpot API on your machine, seeded with a realistic portal.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use inlet_fakes::cli;
use inlet_fakes::hubspot::{FakeHubSpot, Limits, ListCursors, MutatorOptions, Options};

/// A fake HubSpot API (CRM v3 objects, search, properties, owners, pipelines, schemas,
/// associations v4, OAuth), faithful enough to sync from: paged lists with default
/// properties, search with its 10,000-result cap and indexing lag, rate-limit headers and
/// 429s, archive/restore/merge/GDPR delete, signed webhooks.
///
/// Point a HubSpot client at the printed API base with the printed token, e.g.
///
///   curl -H 'Authorization: Bearer pat-na1-...' 'http://127.0.0.1:12112/crm/v3/objects/contacts?limit=3'
///
/// or with HubSpot's Python client: hubspot.Client.create(access_token=..., host="http://127.0.0.1:12112").
///
/// The control API (the printed token) changes data and injects faults while it runs:
///
///   curl -H 'Authorization: Bearer pat-na1-...' -X PATCH http://127.0.0.1:12112/_fake/objects/contacts/1001 -d '{"properties":{"firstname":"Ann"}}'
///
///   curl -H 'Authorization: Bearer pat-na1-...' -X POST http://127.0.0.1:12112/_fake/faults -d '{"fail_next":{"count":3,"status":502}}'
///
/// Other routes: POST /_fake/seed {"contacts":N}, GET /_fake/objects/TYPE (the truth),
/// GET /_fake/objects/TYPE/archived, POST /_fake/objects/TYPE, DELETE /_fake/objects/TYPE/ID,
/// POST /_fake/objects/TYPE/ID/restore, POST /_fake/objects/TYPE/ID/merge {"absorb":ID},
/// POST /_fake/gdpr-delete/ID, GET|PUT|DELETE /_fake/associations/..., POST /_fake/properties/TYPE,
/// PATCH /_fake/properties/TYPE/NAME, POST /_fake/limits, POST /_fake/webhooks {"target_url":URL},
/// GET /_fake/stats.
#[derive(Debug, Parser)]
#[command(name = "inlet-fake-hubspot", version, verbatim_doc_comment)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:12112", value_name = "ADDR")]
    listen: SocketAddr,
    /// Contacts to seed (with companies, deals, tickets, activities, ... in proportion).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    contacts: usize,
    /// Properties each contact has (HubSpot's common ones, then custom ones of every type).
    #[arg(long, default_value_t = 200, value_name = "N")]
    contact_properties: usize,
    /// Seed of every choice: the same seed gives the same portal and tokens.
    #[arg(long, default_value_t = 0, value_name = "SEED")]
    seed: u64,
    /// Requests per rolling 10 seconds (search excluded).
    #[arg(long, default_value_t = 190, value_name = "N")]
    per_ten_seconds: u32,
    /// Requests per day.
    #[arg(long, default_value_t = 625_000, value_name = "N")]
    daily: u64,
    /// Search requests per second.
    #[arg(long, default_value_t = 5, value_name = "N")]
    search_per_second: u32,
    /// How long a change takes to appear in search.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    search_lag_ms: u64,
    /// How the list's `after` cursor works: `ids` (base64 of the next id, as HubSpot's
    /// example; a plain id is taken too), `opaque` (only cursors the list gave) or `offsets`
    /// (a count of records).
    #[arg(long, default_value = "ids", value_name = "KIND", value_parser = list_cursors)]
    list_cursors: ListCursors,
    /// Make a random realistic change every M milliseconds.
    #[arg(long, value_name = "M")]
    mutate_ms: Option<u64>,
    /// With --mutate-ms: also add properties and change property types now and then.
    #[arg(long)]
    schema_changes: bool,
    /// Use this private app token instead of the one derived from --seed.
    #[arg(long, value_name = "TOKEN")]
    access_token: Option<String>,
    /// Deliver every change to this URL as HubSpot webhooks, signed (v1 and v3) with the
    /// printed OAuth client secret (repeatable).
    #[arg(long = "webhook", value_name = "URL")]
    webhooks: Vec<String>,
}

fn list_cursors(text: &str) -> Result<ListCursors, String> {
    ListCursors::parse(text).ok_or_else(|| "one of ids, opaque, offsets".to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    cli::init_logging();
    let options = Options {
        listen: args.listen,
        seed: args.seed,
        contact_properties: args.contact_properties,
        limits: Limits {
            per_ten_seconds: args.per_ten_seconds,
            daily: args.daily,
            search_per_second: args.search_per_second,
        },
        search_lag: Duration::from_millis(args.search_lag_ms),
        access_token: args.access_token.clone(),
        ..Options::default()
    };
    let hubspot = match FakeHubSpot::start(options).await {
        Ok(hubspot) => hubspot,
        Err(error) => return cli::cannot_listen("inlet-fake-hubspot", args.listen, error),
    };
    let started = Instant::now();
    hubspot.set_list_cursors(args.list_cursors);
    hubspot.seed(args.contacts);
    let oauth = hubspot.oauth_app();
    println!("API base:        {}", hubspot.url());
    println!("Access token:    {}", hubspot.access_token());
    println!(
        "OAuth client:    {} (secret {})",
        oauth.client_id, oauth.client_secret
    );
    println!("Refresh token:   {}", oauth.refresh_token);
    for url in &args.webhooks {
        hubspot.subscribe_webhooks(url);
    }
    if !args.webhooks.is_empty() {
        println!("Webhooks to:     {}", args.webhooks.join(", "));
    }
    println!("Portal:          {}", hubspot.portal_id());
    println!(
        "Seeded:          {} contacts in {:.1?}",
        args.contacts,
        started.elapsed()
    );
    let _mutator = args.mutate_ms.map(|ms| {
        println!("Mutating:        a change every {ms} ms");
        hubspot.start_mutator(MutatorOptions {
            every: Duration::from_millis(ms),
            schema_changes: args.schema_changes,
            ..MutatorOptions::default()
        })
    });
    cli::serve_until_ctrl_c("inlet-fake-hubspot").await;
    hubspot.shutdown();
    ExitCode::SUCCESS
}
