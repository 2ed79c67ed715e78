//! Seeded orgs of any size: realistic values for every field by its type (multi-line text
//! with quotes and commas, picklists, references to existing parents, a fifth of the
//! optional fields null), spread over the year before `history_end`, with runs of records
//! sharing one `SystemModstamp` and a few records already in the Recycle Bin.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{json, Value};

use super::schema::{Field, Kind};
use super::store::{make_id, Store};

const YEAR_MS: i64 = 365 * 86_400_000;

const WORDS: [&str; 12] = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Wonka",
    "Cyberdyne",
    "Soylent",
    "Tyrell",
];

/// How many records of each object an org with `accounts` accounts has.
pub(crate) fn proportions(accounts: usize) -> Vec<(&'static str, usize)> {
    vec![
        ("User", accounts / 50 + 3),
        ("Account", accounts),
        ("Contact", accounts * 2),
        ("Opportunity", accounts),
        ("Lead", accounts / 2),
        ("Case", accounts / 2),
        ("Invoice__c", accounts),
        ("Attachment", accounts / 10),
    ]
}

pub(crate) fn seed(store: &mut Store, accounts: usize) {
    for (object, n) in proportions(accounts) {
        if let Ok(t) = store.table(object) {
            seed_object(store, t, n);
        }
    }
}

/// Adds `n` records to table `t`, in creation order.
pub(crate) fn seed_object(store: &mut Store, t: usize, n: usize) {
    let salt = store.tables[t].records.len() as u64 ^ (t as u64) << 40;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(store.seed ^ 0x5a1e_5f0c ^ salt);
    let end = store.history_end_ms;
    let start = end - YEAR_MS;
    let step = (YEAR_MS / (n.max(1) as i64)).max(1);
    let fields = store.tables[t].object.fields.clone();
    let mut last_stamp = start;
    for i in 0..n {
        let created = start + step * i as i64 + rng.random_range(0..step);
        let created = created - created.rem_euclid(1000);
        // One record in ten shares the previous record's SystemModstamp; the rest were
        // last changed some time after they were created, now and then by the system only.
        let modified = (created + rng.random_range(0..(end - created).max(1) / 4)).min(end);
        let modified = modified - modified.rem_euclid(1000);
        let stamp = if i > 0 && rng.random_range(0..10) == 0 {
            last_stamp.max(modified)
        } else if rng.random_range(0..5) == 0 {
            (modified + rng.random_range(0..86_400_000)).min(end)
        } else {
            modified
        };
        let stamp = stamp - stamp.rem_euclid(1000);
        last_stamp = stamp;
        let mut values: Vec<Value> = fields
            .iter()
            .map(|field| generate(store, field, &mut rng, start, end, i))
            .collect();
        for (name, ms) in [
            ("CreatedDate", created),
            ("LastModifiedDate", modified),
            ("SystemModstamp", stamp),
        ] {
            if let Some(at) = store.tables[t].field(name) {
                values[at] = json!(ms);
            }
        }
        if let Some(at) = store.tables[t].field("MasterRecordId") {
            values[at] = Value::Null;
        }
        let deleted = (store.tables[t].object.deletable && rng.random_range(0..50) == 0)
            .then(|| (stamp + 1000).min(end));
        if let (Some(ms), Some(at)) = (deleted, store.tables[t].stamp_at()) {
            values[at] = json!(ms);
        }
        store.insert(t, values, created, deleted);
    }
}

/// A record created now, as a user would (values of every field, stamps of now).
pub(crate) fn create_now(store: &mut Store, t: usize, rng: &mut Xoshiro256PlusPlus) -> String {
    let fields = store.tables[t].object.fields.clone();
    let (start, end) = (store.history_end_ms - YEAR_MS, store.history_end_ms);
    let n = store.tables[t].records.len();
    let values = fields
        .iter()
        .map(|f| generate(store, f, rng, start, end, n))
        .collect();
    store.insert(t, values, super::clock::now_ms(), None)
}

fn pick<'a>(rng: &mut Xoshiro256PlusPlus, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn generate(
    store: &Store,
    field: &Field,
    rng: &mut Xoshiro256PlusPlus,
    start: i64,
    end: i64,
    i: usize,
) -> Value {
    if field.system || field.calculated() || field.kind.is_compound() || field.kind == Kind::Id {
        return Value::Null;
    }
    if field.nillable
        && field.name != "Name"
        && field.name != "LastName"
        && rng.random_range(0..5) == 0
    {
        return Value::Null;
    }
    let word = pick(rng, &WORDS);
    let n = rng.random_range(0..10_000u32);
    match field.kind {
        Kind::Reference => {
            let target = field.reference_to.as_deref().unwrap_or("User");
            let Ok(t) = store.table(target) else {
                return Value::Null;
            };
            // Parents are seeded first and ids are sequential: pick one by its number.
            let table = &store.tables[t];
            if table.next <= 1 {
                return Value::Null;
            }
            json!(make_id(
                table.object.prefix,
                rng.random_range(1..table.next)
            ))
        }
        Kind::String | Kind::EncryptedString => json!(match field.name.as_str() {
            "Name" | "Company" =>
                format!("{word} {} {n}", pick(rng, &["Corp", "Inc.", "Ltd", "GmbH"])),
            "FirstName" =>
                pick(rng, &["Ann", "Bob", "Chloé", "Dmitri", "Eve", "Françoise"]).to_string(),
            "LastName" => format!("{word}son"),
            "CaseNumber" => format!("{:08}", i + 1),
            "Username" => format!("user{i}@example.org"),
            "Alias" => format!("u{i}"),
            _ => format!("{word}-{n}"),
        }),
        Kind::Textarea => json!(match rng.random_range(0..4) {
            0 => format!("{word} said \"hello\", then left.\nSecond line, with a comma"),
            1 => format!("{n} {word} Street\nSuite {}", n % 100),
            2 => format!("<p>{word} &amp; <b>partners</b></p>"),
            _ => format!("{word} notes {n}"),
        }),
        Kind::Picklist => json!(pick(rng, &field.picklist)),
        Kind::Multipicklist => {
            let a = pick(rng, &field.picklist);
            let b = pick(rng, &field.picklist);
            json!(if a == b {
                a.to_string()
            } else {
                format!("{a};{b}")
            })
        }
        Kind::Email => json!(format!("{}.{n}@example.com", word.to_lowercase())),
        Kind::Phone => json!(format!("(555) 01{:01}-{:04}", n % 10, n)),
        Kind::Url => json!(format!("https://{}.example.com/{n}", word.to_lowercase())),
        Kind::Boolean => json!(rng.random_range(0..2) == 1),
        Kind::Int => json!(rng.random_range(1..50_000)),
        Kind::Double | Kind::Currency | Kind::Percent => {
            let max = if field.kind == Kind::Percent {
                100.0
            } else if field.compound.is_some() {
                90.0
            } else {
                1_000_000.0
            };
            let raw = rng.random_range(0.0..max);
            let scale = 10f64.powi(field.scale.min(6) as i32);
            json!((raw * scale).round() / scale)
        }
        Kind::Date => json!(super::clock::days_of(rng.random_range(start..end))),
        Kind::Datetime => {
            let ms = rng.random_range(start..end);
            json!(ms - ms.rem_euclid(1000))
        }
        Kind::Time => json!(rng.random_range(0..86_400) * 1000),
        Kind::Base64 => json!("aGVsbG8gd29ybGQ="),
        Kind::AnyType => json!(word),
        Kind::Id | Kind::Address | Kind::Location => Value::Null,
    }
}
