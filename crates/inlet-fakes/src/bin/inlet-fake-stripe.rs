//! `inlet-fake-stripe`: a fake Stripe API on your machine, seeded with a realistic account.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use inlet_fakes::cli;
use inlet_fakes::stripe::{FakeStripe, Options};

/// A fake Stripe API, faithful enough to sync from: newest-first lists with cursors,
/// truncated nested lists, the events feed, signed webhooks, Stripe-shaped errors.
///
/// Point a Stripe client at the printed API base with the printed key, e.g.
///
///   curl -u sk_test_...: http://127.0.0.1:12111/v1/customers?limit=3
///
/// or with Stripe's Python library: stripe.api_base = "http://127.0.0.1:12111".
///
/// The control API (secret key required) changes data and injects faults while it runs:
///
///   curl -u sk_test_...: -X POST http://127.0.0.1:12111/_fake/objects/customer -d '{"email":"a@example.com"}'
///
///   curl -u sk_test_...: -X POST http://127.0.0.1:12111/_fake/faults -d '{"fail_next":{"count":3,"status":429,"retry_after":1}}'
///
/// Other routes: POST /_fake/seed {"customers":N}, GET /_fake/objects/STREAM (the truth),
/// POST|DELETE /_fake/objects/STREAM/ID, POST /_fake/webhook_endpoints {"url":...},
/// GET /_fake/events, GET /_fake/stats.
#[derive(Debug, Parser)]
#[command(name = "inlet-fake-stripe", version, verbatim_doc_comment)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:12111", value_name = "ADDR")]
    listen: SocketAddr,
    /// Customers to seed (each with subscriptions, invoices, payments, ... over the past year).
    #[arg(long, default_value_t = 100, value_name = "N")]
    customers: usize,
    /// Seed of every random choice: the same seed gives the same account and keys.
    #[arg(long, default_value_t = 0, value_name = "SEED")]
    seed: u64,
    /// Make a random realistic change (with its events) every M milliseconds.
    #[arg(long, value_name = "M")]
    trickle_ms: Option<u64>,
    /// Send every event to this URL, signed with the printed webhook secret (repeatable).
    #[arg(long = "webhook", value_name = "URL")]
    webhooks: Vec<String>,
    /// Answer every API request after this many milliseconds (a real API's latency).
    #[arg(long, value_name = "MS")]
    latency_ms: Option<u64>,
    /// Allow this many API requests a second (Stripe's live budget is 100); the rest are
    /// answered 429, as Stripe does. GET /_fake/stats counts both.
    #[arg(long, value_name = "N")]
    rate_limit: Option<f64>,
    /// Allow this many requests a second to each endpoint besides --rate-limit (Stripe's
    /// default per-endpoint limit is 25): a method and a path with its ids left out, so
    /// reading every customer's payment methods is one endpoint.
    #[arg(long, value_name = "N")]
    endpoint_rate_limit: Option<f64>,
    /// Use this secret key instead of the one derived from --seed.
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    cli::init_logging();
    let options = Options {
        listen: args.listen,
        seed: args.seed,
        api_key: args.api_key.clone(),
        ..Options::default()
    };
    let stripe = match FakeStripe::start(options).await {
        Ok(stripe) => stripe,
        Err(error) => return cli::cannot_listen("inlet-fake-stripe", args.listen, error),
    };
    let started = Instant::now();
    stripe.seed(args.customers);
    if let Some(ms) = args.latency_ms {
        stripe.faults().latency(Duration::from_millis(ms));
        println!("Latency:         {ms} ms a request");
    }
    if let Some(rate) = args.rate_limit {
        stripe.faults().rate_limit(Some(rate));
        println!("Rate limit:      {rate} requests/s, then 429");
    }
    if let Some(rate) = args.endpoint_rate_limit {
        stripe.faults().endpoint_rate_limit(Some(rate));
        println!("Endpoint limit:  {rate} requests/s to each endpoint, then 429");
    }
    for url in &args.webhooks {
        stripe.add_webhook_endpoint(url);
    }
    println!("API base:        {}", stripe.url());
    println!("Secret key:      {}", stripe.api_key());
    println!("Webhook secret:  {}", stripe.webhook_secret());
    println!(
        "Seeded:          {} customers in {:.1?}",
        args.customers,
        started.elapsed()
    );
    if !args.webhooks.is_empty() {
        println!("Webhooks to:     {}", args.webhooks.join(", "));
    }
    let _trickle = args.trickle_ms.map(|ms| {
        println!("Trickle:         a change every {ms} ms");
        stripe.start_trickle(Duration::from_millis(ms))
    });
    cli::serve_until_ctrl_c("inlet-fake-stripe").await;
    stripe.shutdown();
    ExitCode::SUCCESS
}
