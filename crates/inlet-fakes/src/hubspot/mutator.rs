//! A live portal: random, realistic changes at a steady pace (for `inlet demo`, soak tests
//! and benchmarks): property updates, creates, archives, restores, merges, association
//! changes, bursts of updates sharing one millisecond and, when asked, new properties and
//! property type changes. Every change goes through [`super::mutate`], like the API's.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, Value};
use tokio::sync::watch;

use super::catalog::default_kind;
use super::clock::now_ms;
use super::mutate;
use super::store::Store;
use super::values::{seeded, Context, Gen};
use super::Shared;

/// What the mutator does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MutatorOptions {
    /// One change (or one burst) per tick.
    pub every: Duration,
    /// Also add properties and change a property's type now and then (each such change
    /// asks a sync to evolve its schema).
    pub schema_changes: bool,
    /// Records one burst updates within a single millisecond.
    pub burst: usize,
}

impl Default for MutatorOptions {
    fn default() -> MutatorOptions {
        MutatorOptions {
            every: Duration::from_millis(200),
            schema_changes: false,
            burst: 25,
        }
    }
}

pub use crate::ticks::MutatorHandle;

pub(crate) fn start(
    runtime: &tokio::runtime::Handle,
    shared: Arc<Shared>,
    options: MutatorOptions,
    fake_down: watch::Receiver<bool>,
) -> MutatorHandle {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(shared.seed ^ 0x6d75_7461);
    let mut added = 0usize;
    crate::ticks::every(runtime, options.every, fake_down, move || {
        step(&mut shared.write(), &mut rng, &options, &mut added);
    })
}

/// A random type, weighted the way real portals change: contacts most.
fn any_kind(store: &Store, rng: &mut Xoshiro256PlusPlus) -> usize {
    let roll = rng.random_range(0..100u32);
    let name = match roll {
        0..40 => "contacts",
        40..55 => "companies",
        55..70 => "deals",
        70..80 => "tickets",
        _ => return rng.random_range(0..store.types.len()),
    };
    store.kind_named(name).unwrap_or(0)
}

/// A random record of `kind`: live (or archived when `archived`).
fn any_record(
    store: &Store,
    kind: usize,
    archived: bool,
    rng: &mut Xoshiro256PlusPlus,
) -> Option<u64> {
    let records = &store.records[kind];
    let (first, last) = (*records.keys().next()?, *records.keys().next_back()?);
    let start = rng.random_range(first..=last);
    records
        .range(start..)
        .chain(records.range(..start))
        .map(|(_, r)| r)
        .find(|r| r.archived_at.is_some() == archived)
        .map(|r| r.id)
}

/// New values for one to three writable properties.
fn new_values(store: &Store, kind: usize, rng: &mut Xoshiro256PlusPlus) -> Map<String, Value> {
    let writable: Vec<_> = store.properties[kind]
        .iter()
        .filter(|p| !p.read_only)
        .collect();
    let mut fields = Map::new();
    if writable.is_empty() {
        return fields;
    }
    for _ in 0..rng.random_range(1..=3) {
        let mut def = writable[rng.random_range(0..writable.len())].clone();
        def.fill = 100;
        if def.gen == Gen::Unset {
            def.gen = Gen::for_kind(&def.kind);
        }
        let cx = Context {
            salt: rng.random_range(0..u64::MAX),
            created: store.history_end,
            end: now_ms().max(store.history_end + 1),
            owners: &store.owner_ids,
            pipelines: &store.pipeline_stages[kind],
        };
        if let Some(value) = seeded(&def, &cx) {
            fields.insert(def.name.clone(), Value::String(value));
        }
    }
    fields
}

fn step(
    store: &mut Store,
    rng: &mut Xoshiro256PlusPlus,
    options: &MutatorOptions,
    added: &mut usize,
) {
    let now = now_ms();
    let kind = any_kind(store, rng);
    let roll = rng.random_range(0..100u32);
    let result = match roll {
        0..55 => match any_record(store, kind, false, rng) {
            Some(id) => {
                let fields = new_values(store, kind, rng);
                mutate::update(store, kind, id, &fields, now)
            }
            None => Ok(()),
        },
        55..67 => {
            let fields = new_values(store, kind, rng);
            mutate::create(store, kind, &fields, now)
                .and_then(|id| link_somewhere(store, kind, id, rng))
        }
        67..73 => any_record(store, kind, false, rng)
            .map_or(Ok(()), |id| mutate::archive(store, kind, id, now)),
        73..77 => any_record(store, kind, true, rng)
            .map_or(Ok(()), |id| mutate::restore(store, kind, id, now)),
        77..80 => {
            let pair = (
                any_record(store, kind, false, rng),
                any_record(store, kind, false, rng),
            );
            match pair {
                (Some(a), Some(b))
                    if a != b && super::standard::mergeable(&store.types[kind].name) =>
                {
                    mutate::merge(store, kind, a, b, now)
                }
                _ => Ok(()),
            }
        }
        80..92 => match any_record(store, kind, false, rng) {
            Some(id) if rng.random_range(0..3) == 0 => {
                let links = store.all_links(kind, id);
                match links.first() {
                    Some((other_kind, other, _)) => {
                        mutate::dissociate(store, kind, id, *other_kind, *other).map(|_| ())
                    }
                    None => Ok(()),
                }
            }
            Some(id) => link_somewhere(store, kind, id, rng),
            None => Ok(()),
        },
        92..97 => burst(store, kind, rng, options.burst, now),
        _ if options.schema_changes => schema_change(store, rng, added, now),
        _ => Ok(()),
    };
    if let Err(error) = result {
        tracing::debug!(%error, "mutator step refused");
    }
}

/// Associates a record with a random record of a type it can be associated with.
fn link_somewhere(
    store: &mut Store,
    kind: usize,
    id: u64,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<(), super::HubSpotError> {
    let name = store.types[kind].name.clone();
    let targets: Vec<usize> = (0..store.types.len())
        .filter(|t| default_kind(&name, &store.types[*t].name).is_some())
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    let to = targets[rng.random_range(0..targets.len())];
    let Some(other) = any_record(store, to, false, rng) else {
        return Ok(());
    };
    let Some(association) = default_kind(&name, &store.types[to].name) else {
        return Ok(());
    };
    mutate::associate(store, kind, id, to, other, &association).map(|_| ())
}

/// Many records of one type updated within the same millisecond.
fn burst(
    store: &mut Store,
    kind: usize,
    rng: &mut Xoshiro256PlusPlus,
    size: usize,
    now: i64,
) -> Result<(), super::HubSpotError> {
    let fields = new_values(store, kind, rng);
    for _ in 0..size {
        if let Some(id) = any_record(store, kind, false, rng) {
            mutate::update(store, kind, id, &fields, now)?;
        }
    }
    Ok(())
}

/// A new contact property, or a type change of one added earlier.
fn schema_change(
    store: &mut Store,
    rng: &mut Xoshiro256PlusPlus,
    added: &mut usize,
    now: i64,
) -> Result<(), super::HubSpotError> {
    let Some(kind) = store.kind_named("contacts") else {
        return Ok(());
    };
    if *added > 0 && rng.random_range(0..3) == 0 {
        let name = format!("mutator_field_{:03}", rng.random_range(1..=*added));
        let to_number = store
            .property(kind, &name)
            .is_some_and(|p| p.kind == "string");
        let (k, field) = if to_number {
            ("number", "number")
        } else {
            ("string", "text")
        };
        return mutate::change_property_type(store, kind, &name, k, field, now);
    }
    *added += 1;
    let def = super::properties::PropertyDef::new(
        &format!("mutator_field_{:03}", *added),
        "Added while syncing",
        "string",
        "text",
        Gen::Unset,
    );
    mutate::add_property(store, kind, def, now)
}
