//! Seeding: a fresh portal's schema (properties, owners, pipelines) and then records of every
//! type in realistic proportions to the number of contacts, with their associations. The
//! same seed gives the same portal.

use super::catalog::{default_kind, kind_of};
use super::clock::{mix, DAY_MS};
use super::standard;
use super::store::{Owner, Pipeline, Record, Store};
use super::values::Gen;

const YEAR_MS: i64 = 365 * DAY_MS;

const OWNER_NAMES: [(&str, &str); 8] = [
    ("Alex", "Moreno"),
    ("Birgit", "Lund"),
    ("Carlos", "Reyes"),
    ("Deepa", "Rao"),
    ("Erik", "Holm"),
    ("Fatima", "Bello"),
    ("Gus", "Park"),
    ("Hana", "Sato"),
];

const DEAL_STAGES: [(&str, &str, bool); 7] = [
    ("appointmentscheduled", "Appointment Scheduled", false),
    ("qualifiedtobuy", "Qualified To Buy", false),
    ("presentationscheduled", "Presentation Scheduled", false),
    ("decisionmakerboughtin", "Decision Maker Bought-In", false),
    ("contractsent", "Contract Sent", false),
    ("closedwon", "Closed Won", true),
    ("closedlost", "Closed Lost", true),
];

fn pipeline(id: &str, label: &str, stages: &[(&str, &str, bool)], created: i64) -> Pipeline {
    Pipeline {
        id: id.to_string(),
        label: label.to_string(),
        stages: stages
            .iter()
            .map(|(id, label, closed)| (id.to_string(), label.to_string(), *closed))
            .collect(),
        created,
    }
}

/// The schema of an empty portal: every type's properties, owners, pipelines.
pub(crate) fn init(store: &mut Store) {
    let born = store.history_end - 2 * YEAR_MS;
    store.owners = OWNER_NAMES
        .iter()
        .enumerate()
        .map(|(i, (first, last))| Owner {
            id: 40_000_000 + (mix(store.seed, i as u64) % 9_000_000),
            user_id: 5_000_000 + i as u64,
            first: first.to_string(),
            last: last.to_string(),
            email: format!("{}@portal.example.com", first.to_lowercase()),
            created: born + i as i64 * DAY_MS,
        })
        .collect();
    store.owner_ids = store.owners.iter().map(|o| o.id).collect();
    for (kind, t) in store.types.clone().iter().enumerate() {
        store.pipelines[kind] = match t.name.as_str() {
            "deals" => vec![
                pipeline("default", "Sales Pipeline", &DEAL_STAGES, born),
                pipeline(
                    "1468795",
                    "Renewals",
                    &[
                        ("2314771", "Up for renewal", false),
                        ("2314772", "Renewal negotiation", false),
                        ("2314773", "Renewed", true),
                        ("2314774", "Churned", true),
                    ],
                    born + DAY_MS,
                ),
            ],
            "tickets" => vec![pipeline(
                "0",
                "Support Pipeline",
                &[
                    ("1", "New", false),
                    ("2", "Waiting on contact", false),
                    ("3", "Waiting on us", false),
                    ("4", "Closed", true),
                ],
                born,
            )],
            _ => Vec::new(),
        };
        store.pipeline_stages[kind] = store.pipelines[kind]
            .iter()
            .map(|p| (p.id.clone(), p.stages.iter().map(|s| s.0.clone()).collect()))
            .collect();
        let mut props = standard::properties(t, store.contact_properties, born);
        for def in &mut props {
            match def.gen {
                Gen::Owner => {
                    def.options = store
                        .owners
                        .iter()
                        .map(|o| (o.id.to_string(), format!("{} {}", o.first, o.last)))
                        .collect();
                }
                Gen::Pipeline => {
                    def.options = store.pipelines[kind]
                        .iter()
                        .map(|p| (p.id.clone(), p.label.clone()))
                        .collect();
                }
                Gen::Stage => {
                    def.options = store.pipelines[kind]
                        .iter()
                        .flat_map(|p| p.stages.iter().map(|s| (s.0.clone(), s.1.clone())))
                        .collect();
                }
                _ => {}
            }
        }
        for def in props {
            store.push_property(kind, def);
        }
    }
}

/// How many records of each type go with `contacts` contacts.
fn count(name: &str, contacts: usize) -> usize {
    match name {
        "contacts" => contacts,
        "companies" => contacts.div_ceil(5),
        "deals" => contacts / 4,
        "tickets" => contacts / 8,
        "products" => 10 + contacts / 200,
        "line_items" => contacts / 2,
        "quotes" => contacts / 20,
        "cars" => contacts / 10,
        _ => contacts / 10,
    }
}

/// Adds `contacts` contacts and everything that goes with them.
pub(crate) fn seed(store: &mut Store, contacts: usize) {
    let end = store.history_end;
    let mut made: Vec<Vec<u64>> = vec![Vec::new(); store.types.len()];
    for (kind, ids) in made.iter_mut().enumerate() {
        let n = count(&store.types[kind].name, contacts);
        for i in 0..n {
            let id = store.new_id();
            let salt = mix(store.seed, id);
            // Spread over the past year in id order, as a real portal grows.
            let created =
                end - YEAR_MS + (i as i64 * YEAR_MS) / (n as i64).max(1) + (salt % 60_000) as i64;
            let created = created.min(end - 1);
            let mut record = Record::new(id, salt, created);
            record.updated = created + (mix(salt, 9) % (end - created).max(1) as u64) as i64;
            store.records[kind].insert(id, record.clone());
            store.indexed[kind].insert(id, record);
            ids.push(id);
        }
    }
    store.seeded_contacts += contacts;
    associate_seeded(store, &made);
}

/// Links each seeded record to a few of another type, as real portals are linked.
fn associate_seeded(store: &mut Store, made: &[Vec<u64>]) {
    let kind = |name: &str| store.kind_named(name);
    let pairs: [(&str, &str, usize); 11] = [
        ("contacts", "companies", 1),
        ("deals", "contacts", 2),
        ("deals", "companies", 1),
        ("tickets", "contacts", 1),
        ("tickets", "companies", 1),
        ("line_items", "deals", 1),
        ("line_items", "products", 1),
        ("quotes", "deals", 1),
        ("cars", "contacts", 1),
        ("calls", "contacts", 1),
        ("notes", "contacts", 1),
    ];
    let mut plan = Vec::new();
    for (from, to, per) in pairs {
        let (Some(a), Some(b)) = (kind(from), kind(to)) else {
            continue;
        };
        plan.push((a, b, per, from, to));
    }
    for other in ["emails", "meetings", "tasks"] {
        if let (Some(a), Some(b)) = (kind(other), kind("contacts")) {
            plan.push((a, b, 1, other, "contacts"));
        }
    }
    for (a, b, per, from, to) in plan {
        let targets = &made[b];
        if targets.is_empty() {
            continue;
        }
        // The other way round (deals→line_items) is what HubSpot names; the kind is
        // looked up in whichever direction the catalog lists it.
        let Some(kind) = default_kind(from, to) else {
            continue;
        };
        for &id in &made[a] {
            let salt = mix(store.seed, id ^ 0xa550c);
            for j in 0..per {
                let target = targets[(mix(salt, j as u64) % targets.len() as u64) as usize];
                store.link(a, id, b, target, &kind);
                if j == 0
                    && matches!(
                        (from, to),
                        ("contacts", "companies") | ("deals", "companies")
                    )
                {
                    let primary = if from == "contacts" { 1 } else { 5 };
                    if let Some(primary) = kind_of(from, to, primary) {
                        store.link(a, id, b, target, &primary);
                    }
                }
                if from == "contacts" && salt.is_multiple_of(20) {
                    if let Some(billing) = kind_of(from, to, 101) {
                        store.link(a, id, b, target, &billing);
                    }
                }
            }
        }
    }
}
