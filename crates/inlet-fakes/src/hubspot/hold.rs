//! Holding an endpoint's requests until released: a test keeps one kind of request in
//! flight for as long as it needs (a slow archive pass, say) without timing anything.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

use super::counts::Endpoint;

#[derive(Debug)]
pub(crate) struct Holds {
    /// The endpoints held now.
    held: watch::Sender<Vec<Endpoint>>,
    /// Requests waiting for a release now.
    waiting: AtomicU64,
}

impl Default for Holds {
    fn default() -> Self {
        Holds {
            held: watch::Sender::new(Vec::new()),
            waiting: AtomicU64::new(0),
        }
    }
}

impl Holds {
    pub fn hold(&self, endpoint: Endpoint) {
        self.held.send_if_modified(|held| {
            let new = !held.contains(&endpoint);
            if new {
                held.push(endpoint);
            }
            new
        });
    }

    pub fn release(&self, endpoint: Endpoint) {
        self.held
            .send_modify(|held| held.retain(|e| *e != endpoint));
    }

    pub fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Returns once `endpoint` is not held (at once, usually).
    pub async fn pass(&self, endpoint: Endpoint) {
        let mut held = self.held.subscribe();
        if !held.borrow().contains(&endpoint) {
            return;
        }
        // Counted while it waits, also when the client gives up and the request is dropped.
        let _waiting = Waiting::count(&self.waiting);
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = held.wait_for(|h| !h.contains(&endpoint)).await;
    }
}

struct Waiting<'a>(&'a AtomicU64);

impl<'a> Waiting<'a> {
    fn count(n: &'a AtomicU64) -> Self {
        n.fetch_add(1, Ordering::SeqCst);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
