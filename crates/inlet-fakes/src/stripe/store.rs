//! The account's objects: one table per stream plus the event log, each with an ordered
//! index in list order so a page costs O(log n + limit) whatever the account's size.
//!
//! Seeded history is kept compact ([`Seeded`]: a few links and numbers) and rendered on
//! read; an object created or changed after seeding is kept whole ([`Body::Full`]). 100k
//! seeded customers with everything around them fit in a few hundred MB this way.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, Value};

use super::stream::Stream;

/// A slot number in another table; [`NONE`] when there is no such link.
pub(crate) type Link = u32;
pub(crate) const NONE: Link = u32::MAX;

/// Position in list order: newest `created` first, ties newest-inserted first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub created: i64,
    pub seq: u64,
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .created
            .cmp(&self.created)
            .then(other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The compact form of a seeded object: what its generator needs beyond its id and time.
/// Links point at slots of the stream their name says; `aux` is stream-specific (a line's
/// subscription item or invoice item, a balance transaction's refund or payout source).
#[derive(Clone, Debug)]
pub(crate) struct Seeded {
    pub salt: u64,
    pub status: &'static str,
    pub amount: i64,
    /// The quantity; a customer's next invoice number; a charge's refunded amount.
    pub quantity: u32,
    pub customer: Link,
    pub subscription: Link,
    pub invoice: Link,
    pub charge: Link,
    pub payment_intent: Link,
    pub payment_method: Link,
    pub price: Link,
    pub txn: Link,
    pub aux: Link,
}

impl Seeded {
    pub fn new(salt: u64, status: &'static str) -> Seeded {
        Seeded {
            salt,
            status,
            amount: 0,
            quantity: 1,
            customer: NONE,
            subscription: NONE,
            invoice: NONE,
            charge: NONE,
            payment_intent: NONE,
            payment_method: NONE,
            price: NONE,
            txn: NONE,
            aux: NONE,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Body {
    Seeded(Seeded),
    /// The stored fields, without the ones rendered from other tables (nested lists).
    Full(Box<Map<String, Value>>),
}

#[derive(Debug)]
pub(crate) struct Slot {
    pub id: Arc<str>,
    pub key: Key,
    /// The parent's slot (see [`Stream::parent`]), [`NONE`] when there is none.
    pub parent: Link,
    pub live: bool,
    pub body: Body,
}

/// One stream's objects. Slots are never reused, so links stay valid after a delete.
#[derive(Debug, Default)]
pub(crate) struct Table {
    pub slots: Vec<Slot>,
    pub by_id: HashMap<Arc<str>, u32>,
    /// Live objects in list order.
    pub order: BTreeMap<Key, u32>,
    /// Parent slot → this table's live children, sorted in list order.
    pub children: HashMap<Link, Vec<(Key, u32)>>,
}

impl Table {
    pub fn get(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    pub fn live(&self, id: &str) -> Option<u32> {
        self.get(id).filter(|&slot| self.slots[slot as usize].live)
    }

    pub fn slot(&self, slot: u32) -> &Slot {
        &self.slots[slot as usize]
    }

    pub fn id(&self, slot: Link) -> Option<&str> {
        self.slots.get(slot as usize).map(|s| &*s.id)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Adds an object; during seeding `index` is false and [`Table::build_index`] follows.
    pub fn push(&mut self, id: Arc<str>, key: Key, parent: Link, body: Body, index: bool) -> u32 {
        let slot = self.slots.len() as u32;
        self.by_id.insert(id.clone(), slot);
        self.slots.push(Slot {
            id,
            key,
            parent,
            live: true,
            body,
        });
        if index {
            self.order.insert(key, slot);
            if parent != NONE {
                insert_sorted(self.children.entry(parent).or_default(), key, slot);
            }
        }
        slot
    }

    /// Builds the ordered indexes in one pass after a bulk load.
    pub fn build_index(&mut self) {
        self.children.clear();
        let mut all: Vec<(Key, u32)> = Vec::with_capacity(self.slots.len());
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.live {
                all.push((slot.key, i as u32));
                if slot.parent != NONE {
                    self.children
                        .entry(slot.parent)
                        .or_default()
                        .push((slot.key, i as u32));
                }
            }
        }
        all.sort_unstable_by_key(|a| a.0);
        self.order = all.into_iter().collect();
        for list in self.children.values_mut() {
            list.sort_unstable_by_key(|a| a.0);
        }
    }

    /// Takes an object out of every list; its slot stays for links and deleted stubs.
    pub fn remove(&mut self, slot: u32) {
        let (key, parent) = {
            let s = &mut self.slots[slot as usize];
            s.live = false;
            (s.key, s.parent)
        };
        self.order.remove(&key);
        self.unlink_parent(slot, parent);
    }

    /// Moves a live child to another parent (a payment method attached or detached).
    pub fn set_parent(&mut self, slot: u32, parent: Link) {
        let (key, old) = {
            let s = &self.slots[slot as usize];
            (s.key, s.parent)
        };
        if old == parent {
            return;
        }
        self.unlink_parent(slot, old);
        self.slots[slot as usize].parent = parent;
        if parent != NONE && self.slots[slot as usize].live {
            insert_sorted(self.children.entry(parent).or_default(), key, slot);
        }
    }

    fn unlink_parent(&mut self, slot: u32, parent: Link) {
        if parent == NONE {
            return;
        }
        if let Some(list) = self.children.get_mut(&parent) {
            list.retain(|&(_, s)| s != slot);
            if list.is_empty() {
                self.children.remove(&parent);
            }
        }
    }

    pub fn children_of(&self, parent: Link) -> &[(Key, u32)] {
        self.children.get(&parent).map(Vec::as_slice).unwrap_or(&[])
    }
}

fn insert_sorted(list: &mut Vec<(Key, u32)>, key: Key, slot: u32) {
    let at = list.partition_point(|(k, _)| *k < key);
    list.insert(at, (key, slot));
}

/// Everything the fake account holds.
#[derive(Debug)]
pub(crate) struct Store {
    tables: Vec<Table>,
    pub events: Table,
    next_seq: u64,
    ids: Xoshiro256PlusPlus,
    /// When seeded history ends: seeded objects' later timestamps stop there.
    pub history_end: i64,
    /// Events appended since the webhook dispatcher last took them.
    pub outbox: Vec<Arc<Value>>,
    /// How many webhook endpoints a new event is sent to (its `pending_webhooks`).
    pub webhook_endpoints: usize,
}

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl Store {
    pub fn new(seed: u64, history_end: i64) -> Store {
        Store {
            history_end,
            tables: Stream::ALL.iter().map(|_| Table::default()).collect(),
            events: Table::default(),
            next_seq: 1,
            // Ids come from their own generator so seeding and later mutations stay
            // reproducible for a given seed.
            ids: Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x1d5_1d5),
            outbox: Vec::new(),
            webhook_endpoints: 0,
        }
    }

    pub fn table(&self, stream: Stream) -> &Table {
        &self.tables[stream.index()]
    }

    pub fn table_mut(&mut self, stream: Stream) -> &mut Table {
        &mut self.tables[stream.index()]
    }

    pub fn next_key(&mut self, created: i64) -> Key {
        let seq = self.next_seq;
        self.next_seq += 1;
        Key { created, seq }
    }

    /// A fresh id with Stripe's prefix and shape for the stream, unused in its table.
    pub fn new_id(&mut self, stream: Stream) -> Arc<str> {
        loop {
            let id = match stream {
                Stream::Coupon => self.random_chars(8, 26, 10),
                Stream::Customer | Stream::Product | Stream::SubscriptionItem => {
                    format!("{}{}", stream.prefix(), self.random_chars(14, 0, 62))
                }
                Stream::CheckoutSession => {
                    format!("{}a1{}", stream.prefix(), self.random_chars(56, 0, 62))
                }
                _ => format!("{}{}", stream.prefix(), self.random_chars(24, 0, 62)),
            };
            if self.table(stream).get(&id).is_none() {
                return id.into();
            }
        }
    }

    pub fn new_event_id(&mut self) -> Arc<str> {
        format!("evt_{}", self.random_chars(24, 0, 62)).into()
    }

    /// Random characters from `ALPHABET[from..from + span]` (coupons use capitals and digits).
    pub fn random_chars(&mut self, n: usize, from: usize, span: usize) -> String {
        (0..n)
            .map(|_| {
                let i = if from == 26 {
                    // capitals then digits
                    let k = self.ids.random_range(0..36usize);
                    if k < 26 {
                        10 + k
                    } else {
                        k - 26
                    }
                } else {
                    from + self.ids.random_range(0..span)
                };
                ALPHABET[i] as char
            })
            .collect()
    }

    /// Resolves a live or deleted object by id across tables, using the id's prefix.
    /// Rebuilds every table's indexes after a bulk load.
    pub fn build_indexes(&mut self) {
        for table in &mut self.tables {
            table.build_index();
        }
    }

    pub fn find(&self, id: &str) -> Option<(Stream, u32)> {
        let stream = Stream::from_id(id).unwrap_or(Stream::Coupon);
        self.table(stream).get(id).map(|slot| (stream, slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_orders_newest_first_then_newest_inserted() {
        let a = Key {
            created: 10,
            seq: 1,
        };
        let b = Key {
            created: 10,
            seq: 2,
        };
        let c = Key {
            created: 11,
            seq: 0,
        };
        let mut keys = vec![a, b, c];
        keys.sort();
        assert_eq!(keys, vec![c, b, a]);
    }

    #[test]
    fn children_follow_parent_moves_and_removal() {
        let mut table = Table::default();
        let k1 = Key { created: 1, seq: 1 };
        let k2 = Key { created: 2, seq: 2 };
        let a = table.push("pm_a".into(), k1, 7, Body::Full(Box::default()), true);
        let b = table.push("pm_b".into(), k2, 7, Body::Full(Box::default()), true);
        assert_eq!(table.children_of(7), &[(k2, b), (k1, a)]);
        table.set_parent(a, NONE);
        assert_eq!(table.children_of(7), &[(k2, b)]);
        table.remove(b);
        assert!(table.children_of(7).is_empty());
        assert_eq!(table.len(), 1);
        assert!(table.live("pm_b").is_none());
        assert_eq!(table.get("pm_b"), Some(b));
    }
}
