//! A live org: random, realistic changes at a steady pace (for `inlet demo`, soak tests
//! and benchmarks): bursts of user updates sharing one second, system-only changes that
//! move only `SystemModstamp`, creates, deletes, undeletes, Recycle Bin purges, merges
//! and, when asked, new custom fields. Every change goes through [`super::store`], like
//! the control API's.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{json, Map};
use tokio::sync::watch;

use super::schema::Kind;
use super::seed;
use super::store::{make_id, Store};
use super::Shared;

/// What the mutator does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MutatorOptions {
    /// One change (or one burst) per tick.
    pub every: Duration,
    /// Records one burst updates within a single second.
    pub burst: usize,
    /// Also add a custom field now and then.
    pub schema_changes: bool,
}

impl Default for MutatorOptions {
    fn default() -> MutatorOptions {
        MutatorOptions {
            every: Duration::from_millis(200),
            burst: 25,
            schema_changes: false,
        }
    }
}

pub use crate::ticks::MutatorHandle;

const OBJECTS: [&str; 6] = [
    "Account",
    "Contact",
    "Opportunity",
    "Lead",
    "Case",
    "Invoice__c",
];

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

/// Up to `n` ids of records of table `t` that are live (or in the Recycle Bin, `deleted`).
fn pick(
    store: &Store,
    t: usize,
    rng: &mut Xoshiro256PlusPlus,
    n: usize,
    deleted: bool,
) -> Vec<String> {
    let table = &store.tables[t];
    let mut ids = Vec::new();
    for _ in 0..n * 4 {
        if ids.len() == n || table.next <= 1 {
            break;
        }
        let id = make_id(table.object.prefix, rng.random_range(1..table.next));
        if table
            .records
            .get(&id)
            .is_some_and(|r| r.deleted_ms.is_some() == deleted)
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

fn step(
    store: &mut Store,
    rng: &mut Xoshiro256PlusPlus,
    options: &MutatorOptions,
    added: &mut usize,
) {
    let Ok(t) = store.table(OBJECTS[rng.random_range(0..OBJECTS.len())]) else {
        return;
    };
    let roll = rng.random_range(0..100);
    // Errors here are races with the control API (a record just purged): skip the tick.
    let _ = match roll {
        0..=44 => {
            let ids = pick(store, t, rng, options.burst.max(1), false);
            let mut fields = Map::new();
            let field = store.tables[t]
                .object
                .fields
                .iter()
                .find(|f| {
                    !f.system && !f.calculated() && f.compound.is_none() && f.kind == Kind::String
                })
                .map(|f| f.name.clone());
            if let Some(name) = field {
                fields.insert(
                    name,
                    json!(format!("Changed {}", rng.random_range(0..1_000_000))),
                );
            }
            store.update(t, &ids, &fields).map(|_| ())
        }
        45..=59 => match pick(store, t, rng, 1, false).first() {
            Some(id) => store.touch(t, id).map(|_| ()),
            None => Ok(()),
        },
        60..=74 => {
            seed::create_now(store, t, rng);
            Ok(())
        }
        75..=84 => match pick(store, t, rng, 1, false).first() {
            Some(id) => store.delete(t, id),
            None => Ok(()),
        },
        85..=89 => match pick(store, t, rng, 1, true).first() {
            Some(id) => store.undelete(t, id),
            None => Ok(()),
        },
        90..=93 => match pick(store, t, rng, 1, true).first() {
            Some(id) => store.purge(t, id),
            None => Ok(()),
        },
        94..=97 if store.tables[t].object.mergeable => {
            let ids = pick(store, t, rng, 2, false);
            match ids.as_slice() {
                [survivor, loser] => store.merge(t, survivor, std::slice::from_ref(loser)),
                _ => Ok(()),
            }
        }
        98.. if options.schema_changes => {
            *added += 1;
            store.add_field(t, &format!("Mutator_Field_{added}__c"), Kind::String)
        }
        _ => Ok(()),
    };
}
