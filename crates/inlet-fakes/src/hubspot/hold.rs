//! Holding an endpoint's requests until released: a test keeps one kind of request in
//! flight for as long as it needs (a slow archive pass, say) without timing anything.

use tokio::sync::watch;

use super::counts::Endpoint;

/// The endpoints held now. Each held request waits on a receiver of its own, so the
/// receivers alive are the requests waiting.
#[derive(Debug)]
pub(crate) struct Holds(watch::Sender<Vec<Endpoint>>);

impl Default for Holds {
    fn default() -> Self {
        Holds(watch::Sender::new(Vec::new()))
    }
}

impl Holds {
    pub fn hold(&self, endpoint: Endpoint) {
        self.0.send_if_modified(|held| {
            let new = !held.contains(&endpoint);
            if new {
                held.push(endpoint);
            }
            new
        });
    }

    pub fn release(&self, endpoint: Endpoint) {
        self.0.send_modify(|held| held.retain(|e| *e != endpoint));
    }

    /// Requests waiting for a release now (one whose client gave up is not).
    pub fn waiting(&self) -> u64 {
        self.0.receiver_count() as u64
    }

    /// Returns once `endpoint` is not held (at once, usually).
    pub async fn pass(&self, endpoint: Endpoint) {
        if !self.0.borrow().contains(&endpoint) {
            return;
        }
        // Released since the look above: `wait_for` sees it at once.
        let mut held = self.0.subscribe();
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = held.wait_for(|h| !h.contains(&endpoint)).await;
    }
}
