//! Holding an endpoint's requests until released: a test keeps one kind of request in
//! flight for as long as it needs (a slow archive pass, say) without timing anything.

use tokio::sync::watch;

use super::counts::Endpoint;

/// The endpoints held now, each with how many requests it still lets through. Each held
/// request waits on a receiver of its own, so the receivers alive are the requests waiting.
#[derive(Debug)]
pub(crate) struct Holds(watch::Sender<Vec<(Endpoint, u64)>>);

impl Default for Holds {
    fn default() -> Self {
        Holds(watch::Sender::new(Vec::new()))
    }
}

impl Holds {
    /// Holds `endpoint`'s requests after the next `passes`.
    pub fn hold(&self, endpoint: Endpoint, passes: u64) {
        self.0.send_if_modified(|held| {
            let new = !held.iter().any(|(e, _)| *e == endpoint);
            if new {
                held.push((endpoint, passes));
            }
            new
        });
    }

    pub fn release(&self, endpoint: Endpoint) {
        self.0
            .send_modify(|held| held.retain(|(e, _)| *e != endpoint));
    }

    /// Requests waiting for a release now (one whose client gave up is not).
    pub fn waiting(&self) -> u64 {
        self.0.receiver_count() as u64
    }

    /// Returns once `endpoint` is not held: at once, usually, and while it still lets
    /// requests through (each one that passes so is counted off).
    pub async fn pass(&self, endpoint: Endpoint) {
        let mut through = true;
        self.0.send_if_modified(|held| {
            if let Some((_, passes)) = held.iter_mut().find(|(e, _)| *e == endpoint) {
                through = *passes > 0;
                *passes = passes.saturating_sub(1);
            }
            false
        });
        if through {
            return;
        }
        // Released since the look above: `wait_for` sees it at once.
        let mut held = self.0.subscribe();
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = held
            .wait_for(|h| !h.iter().any(|(e, _)| *e == endpoint))
            .await;
    }
}
