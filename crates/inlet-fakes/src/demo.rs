//! The fake accounts `inlet demo` syncs from: each started, seeded to a size and changing
//! every 0.7 s, described as data, so the demo command sets up a sync per account without
//! naming any source itself.

use std::any::Any;
use std::time::Duration;

use serde_json::Value;

use crate::hubspot::{FakeHubSpot, MutatorOptions, Options as HubSpotOptions};
use crate::salesforce::{
    FakeSalesforce, MutatorOptions as SalesforceMutatorOptions, Options as SalesforceOptions,
};
use crate::stripe::{FakeStripe, Options as StripeOptions, STREAMS};

/// How often the demo's fakes change something.
const EVERY: Duration = Duration::from_millis(700);

/// One fake account, running while this is kept.
pub struct Account {
    /// The registered source it speaks for; also the demo's sync and schema name.
    pub source: &'static str,
    /// What it is, for a person: "a fake Stripe account at URL with N objects".
    pub described: String,
    pub api_base: String,
    pub api_key: String,
    /// The secret its webhook deliveries are signed with, when it sends them.
    pub webhook_secret: Option<String>,
    /// Requests per second the demo's sync may make (`None`: the source's default).
    pub rate_limit: Option<f64>,
    /// The source's own options the fake calls for.
    pub options: Vec<(&'static str, Value)>,
    /// Queries that show its data and change log arriving.
    pub queries: Vec<&'static str>,
    /// The fake and its mutator, stopped when dropped.
    _running: Box<dyn Any + Send>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("source", &self.source)
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

/// Every fake the demo runs, sized by `customers`; webhooks (for the fakes that send them)
/// go to `{webhooks}/SOURCE/SYNC`.
pub async fn start(customers: usize, webhooks: &str) -> std::io::Result<Vec<Account>> {
    Ok(vec![
        stripe(customers, webhooks).await?,
        hubspot(customers).await?,
        salesforce(customers).await?,
    ])
}

async fn stripe(customers: usize, webhooks: &str) -> std::io::Result<Account> {
    let fake = FakeStripe::start(StripeOptions::default()).await?;
    fake.seed(customers);
    let objects: usize = STREAMS
        .iter()
        .map(|s| fake.objects(s).map(|o| o.len()).unwrap_or(0))
        .sum();
    fake.add_webhook_endpoint(&format!("{webhooks}/stripe/stripe"));
    let trickle = fake.start_trickle(EVERY);
    Ok(Account {
        source: "stripe",
        described: format!(
            "a fake Stripe account at {} with {objects} objects, changing every 0.7 s (its webhooks land changes at once)",
            fake.url()
        ),
        api_base: fake.url(),
        api_key: fake.api_key(),
        webhook_secret: Some(fake.webhook_secret()),
        rate_limit: Some(200.0),
        options: Vec::new(),
        queries: vec![
            "select id, email, name, created from stripe.customer order by created desc limit 5",
            "select id, event_type, object_type, record_id from stripe._sync_event order by id desc limit 10",
        ],
        _running: Box::new((trickle, fake)),
    })
}

async fn hubspot(customers: usize) -> std::io::Result<Account> {
    let portal = FakeHubSpot::start(HubSpotOptions {
        contact_properties: 60,
        ..HubSpotOptions::default()
    })
    .await?;
    portal.seed(customers * 3);
    let records: usize = portal
        .object_types()
        .iter()
        .map(|t| portal.objects(t).map(|o| o.len()).unwrap_or(0))
        .sum();
    let changes = portal.start_mutator(MutatorOptions {
        every: EVERY,
        burst: 1,
        ..MutatorOptions::default()
    });
    Ok(Account {
        source: "hubspot",
        described: format!(
            "a fake HubSpot portal at {} with {records} CRM records, changing every 0.7 s",
            portal.url()
        ),
        api_base: portal.url(),
        api_key: portal.access_token(),
        webhook_secret: None,
        rate_limit: None,
        // The fake's search shows a change within a second, not HubSpot's 30 s.
        options: vec![("search_lag_ms", Value::from(2_000))],
        queries: vec![
            "select id, email, firstname, lastname, lastmodifieddate from hubspot.contact order by lastmodifieddate desc limit 5",
            "select id, event_type, object_type, record_id from hubspot._sync_event order by id desc limit 10",
        ],
        _running: Box::new((changes, portal)),
    })
}

async fn salesforce(customers: usize) -> std::io::Result<Account> {
    let org = FakeSalesforce::start(SalesforceOptions::default()).await?;
    org.seed(customers);
    let records: usize = (org.objects().iter())
        .filter(|(_, replicateable)| *replicateable)
        .map(|(object, _)| org.records(object).map(|r| r.len()).unwrap_or(0))
        .sum();
    let changes = org.start_mutator(SalesforceMutatorOptions {
        every: EVERY,
        burst: 1,
        schema_changes: false,
    });
    let credentials = org.credentials();
    Ok(Account {
        source: "salesforce",
        described: format!(
            "a fake Salesforce org at {} with {records} records, changing every 0.7 s",
            org.login_url()
        ),
        // Salesforce's API base is where its sessions are granted: the login host.
        api_base: org.login_url(),
        // The default grant: a refresh token from a web-server flow run once.
        api_key: credentials.refresh_token,
        webhook_secret: None,
        rate_limit: None,
        options: vec![
            ("client_id", Value::from(credentials.client_id)),
            // The fake commits at once; a real org's late transactions need the default.
            ("overlap_secs", Value::from(2)),
        ],
        queries: vec![
            "select id, name, industry, systemmodstamp from salesforce.account order by systemmodstamp desc limit 5",
            "select id, event_type, object_type, record_id from salesforce._sync_event order by id desc limit 10",
        ],
        _running: Box::new((changes, org)),
    })
}
