//! Per-resource generators: every top-level field Stripe returns for the resource, with
//! realistic values and nulls. Seeded objects and objects created through the API share
//! them, so both have exactly the same shape.
//!
//! A generator gets [`Facts`] (the object's identity, links and a few numbers); everything
//! cosmetic (names, card brands, addresses) is derived from `salt`, so rendering the same
//! seeded object twice gives the same JSON.

mod billing;
mod catalog;
mod customers;
mod payments;

use serde_json::{json, Map, Value};

use super::stream::Stream;

pub(crate) use catalog::{plan_of_price, PRODUCTS};

/// What a generator needs to know about one object.
#[derive(Clone, Debug, Default)]
pub(crate) struct Facts<'a> {
    pub id: &'a str,
    pub created: i64,
    /// The end of history: seeded objects' later timestamps (periods, cancellations) never
    /// pass it.
    pub now: i64,
    pub salt: u64,
    /// The customer's salt: invoices copy the customer's details as they were when issued.
    pub customer_salt: u64,
    pub status: &'a str,
    pub amount: i64,
    pub quantity: i64,
    /// A charge's refunded amount.
    pub refunded: i64,
    pub customer: Option<&'a str>,
    pub subscription: Option<&'a str>,
    pub invoice: Option<&'a str>,
    pub charge: Option<&'a str>,
    pub payment_intent: Option<&'a str>,
    pub payment_method: Option<&'a str>,
    pub price: Option<&'a str>,
    pub product: Option<&'a str>,
    pub txn: Option<&'a str>,
    /// Stream-specific second link (see `store::Seeded::aux`).
    pub aux: Option<&'a str>,
    /// Human text about the price a line bills, e.g. "Pro (at $20.00 / month)".
    pub label: Option<String>,
}

/// Builds the full object for `stream` from `facts`.
pub(crate) fn build(stream: Stream, f: &Facts<'_>) -> Map<String, Value> {
    let value = match stream {
        Stream::Customer => customers::customer(f),
        Stream::PaymentMethod => customers::payment_method(f),
        Stream::SetupIntent => customers::setup_intent(f),
        Stream::Product => catalog::product(f),
        Stream::Price => catalog::price(f),
        Stream::Plan => catalog::plan(f),
        Stream::Coupon => catalog::coupon(f),
        Stream::TaxRate => catalog::tax_rate(f),
        Stream::Subscription => billing::subscription(f),
        Stream::SubscriptionItem => billing::subscription_item(f),
        Stream::Invoice => billing::invoice(f),
        Stream::InvoiceLineItem => billing::line_item(f),
        Stream::Invoiceitem => billing::invoiceitem(f),
        Stream::CreditNote => billing::credit_note(f),
        Stream::Charge => payments::charge(f),
        Stream::Refund => payments::refund(f),
        Stream::Dispute => payments::dispute(f),
        Stream::PaymentIntent => payments::payment_intent(f),
        Stream::BalanceTransaction => payments::balance_transaction(f),
        Stream::Payout => payments::payout(f),
        Stream::CheckoutSession => payments::checkout_session(f),
    };
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The status a new object of `stream` has when the caller names none.
pub(crate) fn default_status(stream: Stream) -> &'static str {
    match stream {
        Stream::Subscription => "active",
        Stream::Invoice => "draft",
        Stream::Charge | Stream::Refund => "succeeded",
        Stream::Dispute => "needs_response",
        Stream::PaymentIntent => "requires_payment_method",
        Stream::SetupIntent => "requires_payment_method",
        Stream::BalanceTransaction => "available",
        Stream::Payout => "pending",
        Stream::CreditNote => "issued",
        Stream::CheckoutSession => "open",
        _ => "",
    }
}

/// Cosmetic randomness from an object's salt (splitmix64): cheap to start per object.
#[derive(Debug)]
pub(crate) struct Dice(u64);

impl Dice {
    pub fn new(salt: u64) -> Dice {
        Dice(salt ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next() % (hi - lo) as u64) as i64
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    pub fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + (self.next() % 10) as u8))
            .collect()
    }

    pub fn alnum(&mut self, n: usize) -> String {
        const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        (0..n).map(|_| char::from(*self.pick(A))).collect()
    }
}

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Jenny", "Marcus", "Aisha", "Tomás", "Yuki", "Priya", "Oliver", "Sofia", "Liam", "Amara",
    "Noah", "Elena", "Kwame", "Ingrid", "Rafael", "Mei", "Hannah", "Diego", "Fatima", "Lukas",
];
pub(crate) const LAST_NAMES: &[&str] = &[
    "Rosen",
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Sharma",
    "Novak",
    "García",
    "Kowalski",
    "Mensah",
    "Fischer",
    "Rossi",
    "O'Brien",
    "Haddad",
    "Nguyen",
    "Silva",
    "Andersen",
    "Dubois",
];
const DOMAINS: &[&str] = &["example.com", "example.org", "mail.example", "corp.example"];

/// (city, state, postal code prefix, country)
const PLACES: &[(&str, Option<&str>, &str, &str)] = &[
    ("San Francisco", Some("CA"), "941", "US"),
    ("New York", Some("NY"), "100", "US"),
    ("Austin", Some("TX"), "787", "US"),
    ("Seattle", Some("WA"), "981", "US"),
    ("Toronto", Some("ON"), "M5V", "CA"),
    ("London", None, "EC1", "GB"),
    ("Berlin", None, "101", "DE"),
    ("Paris", None, "750", "FR"),
    ("Amsterdam", None, "101", "NL"),
    ("Sydney", Some("NSW"), "200", "AU"),
];
const STREETS: &[&str] = &[
    "Market Street",
    "Main Street",
    "Elm Avenue",
    "Harbour Road",
    "Oak Lane",
];

/// A customer's invoice number prefix, derived from its salt so invoices can repeat it.
pub(crate) fn invoice_prefix(customer_salt: u64) -> String {
    format!("{:08X}", (customer_salt >> 20) as u32)
}

/// A person: (name, email, phone).
pub(crate) fn person(d: &mut Dice) -> (String, String, String) {
    let first = *d.pick(FIRST_NAMES);
    let last = *d.pick(LAST_NAMES);
    let local: String = format!("{first}.{last}{}", d.range(1, 99))
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    let email = format!("{local}@{}", d.pick(DOMAINS));
    let phone = format!("+1555{}", d.digits(7));
    (format!("{first} {last}"), email, phone)
}

pub(crate) fn address(d: &mut Dice) -> Value {
    let (city, state, postal, country) = *d.pick(PLACES);
    json!({
        "city": city,
        "country": country,
        "line1": format!("{} {}", d.range(1, 2400), d.pick(STREETS)),
        "line2": if d.chance(20) { Value::from(format!("Suite {}", d.range(100, 900))) } else { Value::Null },
        "postal_code": format!("{postal}{}", d.digits(2)),
        "state": state,
    })
}

/// Card facts shared by payment methods and charges: (brand, last4, exp_month, exp_year,
/// funding, fingerprint).
pub(crate) fn card(d: &mut Dice) -> (&'static str, &'static str, i64, i64, &'static str, String) {
    let (brand, last4) = *d.pick(&[
        ("visa", "4242"),
        ("visa", "1881"),
        ("mastercard", "4444"),
        ("mastercard", "5100"),
        ("amex", "8431"),
        ("discover", "1117"),
    ]);
    let funding = if d.chance(80) { "credit" } else { "debit" };
    (
        brand,
        last4,
        d.range(1, 13),
        d.range(2027, 2033),
        funding,
        d.alnum(16),
    )
}

/// "$20.00" for 2000 cents.
pub(crate) fn money(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents.rem_euclid(100))
}

/// The last 12 characters of an id, for URLs that embed part of it.
pub(crate) fn tail(id: &str) -> String {
    let skip = id.chars().count().saturating_sub(12);
    id.chars().skip(skip).collect()
}

pub(crate) fn opt(value: Option<&str>) -> Value {
    value.map_or(Value::Null, Value::from)
}

/// The fixed metadata some objects carry; most carry none, as in real accounts.
pub(crate) fn metadata(d: &mut Dice) -> Value {
    if d.chance(25) {
        json!({"source": *d.pick(&["web", "sales", "import", "partner"]), "crm_id": d.digits(6)})
    } else {
        json!({})
    }
}
