//! Seeded property values: a pure function of the record's salt and the property, so a
//! portal of any size costs no memory per value and renders the same text every time.
//! Every value is a string, as HubSpot sends them: numbers as decimal text, booleans as
//! `true`/`false`, datetimes as ISO-8601, dates as `YYYY-MM-DD`, multi-select options
//! joined by `;`.

use super::clock::{date, hash, iso, mix, DAY_MS};
use super::properties::PropertyDef;

/// How a seeded value is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gen {
    /// No seeded value (properties created later, and those HubSpot computes).
    Unset,
    FirstName,
    LastName,
    Email,
    Company,
    Domain,
    City,
    Country,
    JobTitle,
    Industry,
    Phone,
    Url,
    /// A few words.
    Words,
    /// A sentence or two.
    Text,
    /// An integer in `[lo, hi]`.
    Int(i64, i64),
    /// A decimal with two places in `[lo, hi]`.
    Money(i64, i64),
    /// A moment between the record's creation and the end of history.
    Time,
    /// A midnight-UTC date near the record's creation.
    Day,
    Bool,
    /// One of the property's options.
    Pick,
    /// Some of the property's options.
    PickMany,
    /// An owner's id.
    Owner,
    /// A pipeline id (deals or tickets, per `salt`).
    Pipeline,
    /// A stage of the same pipeline.
    Stage,
    /// A short code like `SKU-4821`.
    Code,
}

impl Gen {
    /// The natural generator for a property type (filler properties, type changes).
    pub fn for_kind(kind: &str) -> Gen {
        match kind {
            "number" => Gen::Int(0, 100_000),
            "datetime" => Gen::Time,
            "date" => Gen::Day,
            "bool" => Gen::Bool,
            "enumeration" => Gen::Pick,
            "phone_number" => Gen::Phone,
            _ => Gen::Words,
        }
    }
}

const FIRST: [&str; 24] = [
    "Ann", "Bob", "Chen", "Dana", "Elif", "Femi", "Grace", "Hiro", "Ines", "Jon", "Kira", "Liam",
    "Maya", "Nils", "Olu", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wen", "Zoë",
];
const LAST: [&str; 20] = [
    "Smith", "Garcia", "Müller", "Okafor", "Tanaka", "Rossi", "Dubois", "Kowalski", "Nguyen",
    "Silva", "O'Brien", "Andersen", "Haddad", "Ivanova", "Kim", "Patel", "Larsen", "Moreau",
    "Schmidt", "Yilmaz",
];
const COMPANY: [&str; 16] = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Wonka",
    "Aperture",
    "Vandelay",
    "Pied Piper",
    "Massive",
    "Gringotts",
];
const SUFFIX: [&str; 5] = ["Inc", "GmbH", "Ltd", "LLC", "SA"];
const CITY: [&str; 12] = [
    "Boston",
    "Berlin",
    "Dublin",
    "Lagos",
    "Tokyo",
    "São Paulo",
    "Paris",
    "Austin",
    "Toronto",
    "Sydney",
    "Nairobi",
    "Kraków",
];
const COUNTRY: [&str; 10] = [
    "United States",
    "Germany",
    "Ireland",
    "Nigeria",
    "Japan",
    "Brazil",
    "France",
    "Canada",
    "Australia",
    "Poland",
];
const TITLE: [&str; 8] = [
    "CEO",
    "CTO",
    "Head of Data",
    "Engineer",
    "Account Executive",
    "Analyst",
    "VP Sales",
    "Office Manager",
];
const INDUSTRY: [&str; 6] = [
    "Software",
    "Retail",
    "Manufacturing",
    "Healthcare",
    "Finance",
    "Education",
];
const WORDS: [&str; 24] = [
    "quarterly",
    "review",
    "renewal",
    "onboarding",
    "pricing",
    "follow-up",
    "demo",
    "contract",
    "migration",
    "support",
    "invoice",
    "expansion",
    "pilot",
    "kickoff",
    "feedback",
    "roadmap",
    "security",
    "training",
    "upgrade",
    "integration",
    "budget",
    "proposal",
    "legal",
    "launch",
];

fn pick<'a>(list: &[&'a str], n: u64) -> &'a str {
    list[(n % list.len() as u64) as usize]
}

/// What a value may depend on besides the record and the property.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub salt: u64,
    pub created: i64,
    /// Seeded times never pass it.
    pub end: i64,
    pub owners: &'a [u64],
    /// `(pipeline id, stage ids)` of the record's type (deals or tickets), else empty.
    pub pipelines: &'a [(String, Vec<String>)],
}

fn words(n: u64, count: u64) -> String {
    (0..count)
        .map(|i| pick(&WORDS, mix(n, i)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The seeded value of `def` for a record, or `None` when that record leaves it empty.
pub(crate) fn seeded(def: &PropertyDef, cx: &Context<'_>) -> Option<String> {
    if def.gen == Gen::Unset {
        return None;
    }
    let n = mix(cx.salt, hash(&def.name));
    if n % 100 >= u64::from(def.fill) {
        return None;
    }
    // Person and company names come from the record's salt alone, so `email` agrees with
    // `firstname` and `lastname`, and `domain` with `name`.
    let person = mix(cx.salt, 1);
    let company = mix(cx.salt, 2);
    let r = n >> 8;
    let value = match def.gen {
        Gen::Unset => return None,
        Gen::FirstName => pick(&FIRST, person).to_string(),
        Gen::LastName => pick(&LAST, person >> 16).to_string(),
        Gen::Email => format!(
            "{}.{}{}@{}.example.com",
            pick(&FIRST, person).to_lowercase(),
            pick(&LAST, person >> 16).to_lowercase().replace('\'', ""),
            cx.salt % 10_000,
            pick(&COMPANY, company).to_lowercase().replace(' ', "")
        ),
        Gen::Company => format!(
            "{} {}",
            pick(&COMPANY, company),
            pick(&SUFFIX, company >> 12)
        ),
        Gen::Domain => format!(
            "{}.example.com",
            pick(&COMPANY, company).to_lowercase().replace(' ', "")
        ),
        Gen::City => pick(&CITY, r).to_string(),
        Gen::Country => pick(&COUNTRY, r).to_string(),
        Gen::JobTitle => pick(&TITLE, r).to_string(),
        Gen::Industry => pick(&INDUSTRY, r).to_string(),
        Gen::Phone => format!("+1 617-555-{:04}", r % 10_000),
        Gen::Url => format!(
            "https://www.{}.example.com/{}",
            pick(&COMPANY, company).to_lowercase().replace(' ', ""),
            pick(&WORDS, r)
        ),
        Gen::Words => words(r, 1 + r % 3),
        Gen::Text => {
            let mut text = words(r, 4 + r % 8);
            text.push('.');
            text
        }
        Gen::Int(lo, hi) => (lo + (r % (hi - lo + 1).max(1) as u64) as i64).to_string(),
        Gen::Money(lo, hi) => {
            let cents = lo * 100 + (r % ((hi - lo).max(1) * 100) as u64) as i64;
            format!("{}.{:02}", cents / 100, cents % 100)
        }
        Gen::Time => iso(cx.created + (r % (cx.end - cx.created).max(1) as u64) as i64),
        Gen::Day => date(cx.created + ((r % 120) as i64 - 30) * DAY_MS),
        Gen::Bool => r.is_multiple_of(2).to_string(),
        Gen::Pick if def.options.is_empty() => return None,
        Gen::Pick => def.options[(r % def.options.len() as u64) as usize]
            .0
            .clone(),
        Gen::PickMany if def.options.is_empty() => return None,
        Gen::PickMany => {
            let chosen: Vec<&str> = def
                .options
                .iter()
                .enumerate()
                .filter(|(i, _)| mix(r, *i as u64).is_multiple_of(3))
                .map(|(_, (v, _))| v.as_str())
                .collect();
            if chosen.is_empty() {
                def.options[(r % def.options.len() as u64) as usize]
                    .0
                    .clone()
            } else {
                chosen.join(";")
            }
        }
        Gen::Owner if cx.owners.is_empty() => return None,
        Gen::Owner => cx.owners[(r % cx.owners.len() as u64) as usize].to_string(),
        Gen::Pipeline | Gen::Stage if cx.pipelines.is_empty() => return None,
        Gen::Pipeline | Gen::Stage => {
            let which = mix(cx.salt, 3);
            let (pipeline, stages) = &cx.pipelines[(which % cx.pipelines.len() as u64) as usize];
            if def.gen == Gen::Pipeline {
                pipeline.clone()
            } else if stages.is_empty() {
                return None;
            } else {
                stages[((which >> 16) % stages.len() as u64) as usize].clone()
            }
        }
        Gen::Code => format!("SKU-{:04}", r % 10_000),
    };
    Some(value)
}
