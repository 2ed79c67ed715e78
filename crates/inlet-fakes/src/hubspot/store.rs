//! What a portal holds: records per object type, property definitions, associations in both
//! directions, owners, pipelines, merges, and the search index that trails the records by the
//! configured indexing lag.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::catalog::{self, AssociationKind, ObjectType};
use super::properties::PropertyDef;
use super::webhooks::Outbox;

/// One change to a property, kept for `propertiesWithHistory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub property: String,
    pub value: Option<String>,
    pub at: i64,
}

/// One record. Seeded values are derived from `salt`; `values` holds what was set since
/// (`None` = cleared), so a record of 500 properties costs a few words until it changes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub id: u64,
    pub salt: u64,
    pub created: i64,
    pub updated: i64,
    pub archived_at: Option<i64>,
    pub values: BTreeMap<String, Option<String>>,
    pub history: Vec<Change>,
    /// Ids this record absorbed by merges (`hs_merged_object_ids`).
    pub merged: Vec<u64>,
    /// Whether unset properties take their seeded value (false for records created later).
    pub seeded: bool,
}

impl Record {
    pub fn new(id: u64, salt: u64, created: i64) -> Record {
        Record {
            id,
            salt,
            created,
            updated: created,
            archived_at: None,
            values: BTreeMap::new(),
            history: Vec::new(),
            merged: Vec::new(),
            seeded: true,
        }
    }
}

/// An owner (`/crm/v3/owners`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pub id: u64,
    pub user_id: u64,
    pub first: String,
    pub last: String,
    pub email: String,
    pub created: i64,
}

/// A pipeline (`/crm/v3/pipelines/{deals|tickets}`) and its stages `(id, label, closed)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pipeline {
    pub id: String,
    pub label: String,
    pub stages: Vec<(String, String, bool)>,
    pub created: i64,
}

/// A search-index update waiting for its moment: `record` is the new state, `None` = gone.
#[derive(Debug, Clone)]
struct Pending {
    visible_at: i64,
    kind: usize,
    id: u64,
    record: Option<Record>,
}

/// Associations of one record towards one other type: `to id → type ids`.
pub(crate) type Links = BTreeMap<u64, Vec<u32>>;

#[derive(Debug)]
pub(crate) struct Store {
    pub portal_id: u64,
    pub seed: u64,
    /// When seeded history ends (ms); seeded times lie in the year before it.
    pub history_end: i64,
    pub types: Vec<ObjectType>,
    /// Per type (same index as `types`): records by id.
    pub records: Vec<BTreeMap<u64, Record>>,
    pub properties: Vec<Vec<PropertyDef>>,
    /// Per type: property name → index in `properties` (reads name hundreds per record).
    property_index: Vec<HashMap<String, usize>>,
    /// `(from type, from id, to type) → links`, both directions kept.
    pub links: HashMap<(usize, u64, usize), Links>,
    /// Absorbed id → surviving id, per type.
    pub merged_into: Vec<HashMap<u64, u64>>,
    pub owners: Vec<Owner>,
    /// The owners' ids, which seeded `hubspot_owner_id` values pick from.
    pub owner_ids: Vec<u64>,
    /// Per type; only deals and tickets have pipelines.
    pub pipelines: Vec<Vec<Pipeline>>,
    /// Per type: `(pipeline id, stage ids)`, which seeded pipeline/stage values pick from.
    pub pipeline_stages: Vec<Vec<(String, Vec<String>)>>,
    /// What search sees: the records as they were `lag` ago.
    pub indexed: Vec<BTreeMap<u64, Record>>,
    pending: VecDeque<Pending>,
    pub search_lag_ms: i64,
    /// How the list's `after` cursor works.
    pub list_cursors: super::objects::ListCursors,
    next_id: u64,
    pub seeded_contacts: usize,
    pub contact_properties: usize,
    /// Where changes become webhook events.
    pub outbox: Outbox,
}

impl Store {
    pub fn new(seed: u64, history_end: i64, contact_properties: usize) -> Store {
        let portal_id = 10_000_000 + seed % 89_999_999;
        let types = catalog::object_types(portal_id);
        let n = types.len();
        Store {
            portal_id,
            seed,
            history_end,
            properties: Vec::new(),
            property_index: Vec::new(),
            types,
            records: vec![BTreeMap::new(); n],
            links: HashMap::new(),
            merged_into: vec![HashMap::new(); n],
            owners: Vec::new(),
            owner_ids: Vec::new(),
            pipelines: vec![Vec::new(); n],
            pipeline_stages: vec![Vec::new(); n],
            indexed: vec![BTreeMap::new(); n],
            pending: VecDeque::new(),
            search_lag_ms: 0,
            list_cursors: Default::default(),
            next_id: 1001,
            seeded_contacts: 0,
            contact_properties,
            outbox: Outbox::new(seed),
        }
    }

    /// The index of the type `name` answers to (name, `0-1`, qualified name).
    pub fn kind(&self, name: &str) -> Option<usize> {
        self.types.iter().position(|t| t.answers_to(name))
    }

    pub fn kind_named(&self, name: &str) -> Option<usize> {
        self.types.iter().position(|t| t.name == name)
    }

    pub fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn property(&self, kind: usize, name: &str) -> Option<&PropertyDef> {
        let i = *self.property_index.get(kind)?.get(name)?;
        self.properties[kind].get(i)
    }

    /// Adds a property to a type (the next type's list when `kind` is the count so far).
    pub fn push_property(&mut self, kind: usize, def: PropertyDef) {
        while self.properties.len() <= kind {
            self.properties.push(Vec::new());
            self.property_index.push(HashMap::new());
        }
        self.property_index[kind].insert(def.name.clone(), self.properties[kind].len());
        self.properties[kind].push(def);
    }

    /// A live (not archived) record.
    pub fn live(&self, kind: usize, id: u64) -> Option<&Record> {
        self.records[kind]
            .get(&id)
            .filter(|r| r.archived_at.is_none())
    }

    /// The id a read of `id` lands on: itself, or the record that absorbed it by a merge.
    pub fn resolve(&self, kind: usize, id: u64) -> u64 {
        let mut id = id;
        // Chains (a merged into b, b into c) are short; the bound guards against a cycle.
        for _ in 0..64 {
            match self.merged_into[kind].get(&id) {
                Some(&into) => id = into,
                None => break,
            }
        }
        id
    }

    /// Queues what search will see of `id` once the indexing lag has passed.
    pub fn reindex(&mut self, kind: usize, id: u64, now: i64) {
        let record = self.live(kind, id).cloned();
        self.pending.push_back(Pending {
            visible_at: now.saturating_add(self.search_lag_ms),
            kind,
            id,
            record,
        });
    }

    /// Applies every index update whose moment has come (in order, so the latest wins).
    pub fn catch_up_index(&mut self, now: i64) {
        while self.pending.front().is_some_and(|p| p.visible_at <= now) {
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            match p.record {
                Some(record) => {
                    self.indexed[p.kind].insert(p.id, record);
                }
                None => {
                    self.indexed[p.kind].remove(&p.id);
                }
            }
        }
    }

    /// Makes every queued index update visible now, whatever the lag.
    pub fn flush_index(&mut self) {
        self.catch_up_index(i64::MAX);
    }

    /// Index updates not yet visible to search.
    pub fn pending_index(&self) -> usize {
        self.pending.len()
    }

    /// The links of one record towards `to`, hiding records that are archived.
    pub fn links_of(&self, from: usize, id: u64, to: usize) -> Vec<(u64, Vec<u32>)> {
        self.links
            .get(&(from, id, to))
            .map(|links| {
                links
                    .iter()
                    .filter(|(other, _)| self.live(to, **other).is_some())
                    .map(|(other, types)| (*other, types.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Adds one association of `kind` (and its inverse); false when it was already there.
    pub fn link(&mut self, from: usize, a: u64, to: usize, b: u64, kind: &AssociationKind) -> bool {
        let forward = self
            .links
            .entry((from, a, to))
            .or_default()
            .entry(b)
            .or_default();
        if forward.contains(&kind.type_id) {
            return false;
        }
        forward.push(kind.type_id);
        forward.sort_unstable();
        let back = self
            .links
            .entry((to, b, from))
            .or_default()
            .entry(a)
            .or_default();
        back.push(kind.inverse);
        back.sort_unstable();
        true
    }

    /// Removes every association between `a` and `b` (both directions); false when none.
    pub fn unlink(&mut self, from: usize, a: u64, to: usize, b: u64) -> bool {
        let removed = self
            .links
            .get_mut(&(from, a, to))
            .and_then(|links| links.remove(&b))
            .is_some();
        if let Some(links) = self.links.get_mut(&(to, b, from)) {
            links.remove(&a);
        }
        removed
    }

    /// Every association of a record, as `(other type, other id, type ids)`.
    pub fn all_links(&self, kind: usize, id: u64) -> Vec<(usize, u64, Vec<u32>)> {
        (0..self.types.len())
            .flat_map(|to| {
                self.links
                    .get(&(kind, id, to))
                    .into_iter()
                    .flat_map(move |links| links.iter().map(move |(b, t)| (to, *b, t.clone())))
            })
            .collect()
    }
}
