//! Clusters shared by all tests of a test binary.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, OnceLock};

use crate::cluster::{Cluster, ClusterSpec};

/// One cluster per `key`, shared by all tests of a test binary: started by
/// the first caller (from `make()`), alive until the process exits. Callers
/// with the same key wait for that start; different keys start in parallel.
///
/// The server dies with the process; its directory is swept by a later run.
pub fn shared(key: &str, make: impl FnOnce() -> ClusterSpec) -> &'static Cluster {
    static CELLS: OnceLock<Mutex<HashMap<String, &'static OnceLock<Cluster>>>> = OnceLock::new();
    cell_for(&CELLS, key.to_owned()).get_or_init(|| make().start())
}

/// The process-lifetime cell for `key`, so that each key is initialised
/// once while different keys initialise concurrently.
pub(crate) fn cell_for<K: Hash + Eq, V>(
    cells: &OnceLock<Mutex<HashMap<K, &'static OnceLock<V>>>>,
    key: K,
) -> &'static OnceLock<V> {
    let mut cells = cells
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let cell = *cells
        .entry(key)
        .or_insert_with(|| Box::leak(Box::new(OnceLock::new())));
    cell
}
