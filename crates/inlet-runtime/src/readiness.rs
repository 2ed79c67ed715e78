//! What `/readyz` answers: whether every sync this process owns is connected to its
//! destination and writing. The run loop records each sync's state here as it changes;
//! a sync waiting for another process's lock is not owned, so it does not count.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One sync's state, as the run loop last recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncState {
    /// Not connected yet, or reconnecting: the reason, in plain words.
    NotConnected(String),
    /// Connected and writing.
    Running,
    /// Another process holds the sync's lock; this one stands by.
    StandingBy,
    /// Every stream stopped on an error that needs a person.
    NeedsPerson,
}

/// The state of every sync this process runs, shared by the run loop and the server.
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<Mutex<BTreeMap<String, SyncState>>>);

impl Readiness {
    pub fn set(&self, sync: &str, state: SyncState) {
        // A poisoned lock only means a writer panicked mid-insert; the map is still whole.
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(sync.to_string(), state);
    }

    /// Forgets a sync (removed from the config).
    pub fn remove(&self, sync: &str) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(sync);
    }

    /// `Ok`: ready. `Err`: why not, one line per sync that is not.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let reasons: Vec<String> = map
            .iter()
            .filter_map(|(name, state)| match state {
                SyncState::Running | SyncState::StandingBy => None,
                SyncState::NotConnected(why) => {
                    Some(format!("sync \"{name}\" is not connected: {why}"))
                }
                SyncState::NeedsPerson => Some(format!(
                    "sync \"{name}\" stopped: every stream needs a fix (see `inlet sync status {name}`)"
                )),
            })
            .collect();
        match reasons.is_empty() {
            true => Ok(()),
            false => Err(reasons),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_owned_sync_runs() {
        let r = Readiness::default();
        r.set("a", SyncState::NotConnected("starting".into()));
        r.set("b", SyncState::StandingBy);
        assert_eq!(
            r.check(),
            Err(vec!["sync \"a\" is not connected: starting".to_string()])
        );
        r.set("a", SyncState::Running);
        assert_eq!(r.check(), Ok(()));
        r.set("b", SyncState::NeedsPerson);
        assert!(r
            .check()
            .is_err_and(|w| w[0].contains("sync \"b\" stopped")));
    }
}
