//! How many of a source's streams are reading their backfill now: they share the requests
//! the sync keeps in flight, so each takes its share of them.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts a stream as backfilling while it lives.
pub struct Backfilling<'a>(&'a AtomicUsize);

impl<'a> Backfilling<'a> {
    pub fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Backfilling(count)
    }
}

impl Drop for Backfilling<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
