//! What `/readyz` answers: whether every sync this process owns is connected to its
//! destination and writing, with no stream errored. The run loop records each sync's state
//! here as it changes, and the sink's observer each stream's error as it is stored and its
//! end (the stream's next batch); a sync waiting for another process's lock is not owned,
//! so it does not count.

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

impl SyncState {
    /// As the `state` label of `inlet_sync_state` spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            SyncState::NotConnected(_) => "not_connected",
            SyncState::Running => "running",
            SyncState::StandingBy => "standing_by",
            SyncState::NeedsPerson => "needs_person",
        }
    }

    pub const NAMES: [&'static str; 4] =
        ["not_connected", "running", "standing_by", "needs_person"];
}

/// The state of every sync this process runs, shared by the run loop and the server.
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<Mutex<States>>);

#[derive(Debug, Default)]
struct States {
    syncs: BTreeMap<String, SyncState>,
    /// Streams whose last stored state is an error: `(sync, stream)` and the reason.
    errored: BTreeMap<(String, String), String>,
}

impl Readiness {
    fn states(&self) -> std::sync::MutexGuard<'_, States> {
        // A poisoned lock only means a writer panicked mid-insert; the maps are still whole.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set(&self, sync: &str, state: SyncState) {
        self.states().syncs.insert(sync.to_string(), state);
    }

    /// `stream` of `sync` stored an error (`Some`: its reason), or stored a batch (`None`).
    pub fn stream_error(&self, sync: &str, stream: &str, reason: Option<&str>) {
        let key = (sync.to_string(), stream.to_string());
        let mut states = self.states();
        match reason {
            Some(why) => states.errored.insert(key, why.to_string()),
            None => states.errored.remove(&key),
        };
    }

    /// Forgets a sync (removed from the config), and its streams' errors.
    pub fn remove(&self, sync: &str) {
        let mut states = self.states();
        states.syncs.remove(sync);
        states.errored.retain(|(s, _), _| s != sync);
    }

    /// Every sync and its state.
    pub fn syncs(&self) -> Vec<(String, SyncState)> {
        let states = self.states();
        states
            .syncs
            .iter()
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect()
    }

    /// `Ok`: ready. `Err`: why not, one line per sync or stream that is not.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let states = self.states();
        let mut reasons = Vec::new();
        for (name, state) in &states.syncs {
            match state {
                SyncState::StandingBy => {}
                SyncState::Running => reasons.extend(
                    // Errors seen while this process wrote the sync; a sync it does not
                    // hold is another's to report.
                    states
                        .errored
                        .iter()
                        .filter(|((sync, _), _)| sync == name)
                        .map(|((_, stream), why)| {
                            format!("sync \"{name}\" stream \"{stream}\" is errored: {why}")
                        }),
                ),
                SyncState::NotConnected(why) => {
                    reasons.push(format!("sync \"{name}\" is not connected: {why}"))
                }
                SyncState::NeedsPerson => reasons.push(format!(
                    "sync \"{name}\" stopped: every stream needs a fix (see `inlet sync status {name}`)"
                )),
            }
        }
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

    #[test]
    fn an_errored_stream_of_an_owned_sync_is_not_ready_until_it_writes_again() {
        let r = Readiness::default();
        r.set("a", SyncState::Running);
        r.stream_error("a", "customer", Some("Stripe answered 500"));
        assert_eq!(
            r.check(),
            Err(vec![
                "sync \"a\" stream \"customer\" is errored: Stripe answered 500".to_string()
            ])
        );
        r.set("a", SyncState::StandingBy);
        assert_eq!(r.check(), Ok(()), "another process holds it now");
        r.set("a", SyncState::Running);
        r.stream_error("a", "customer", None);
        assert_eq!(r.check(), Ok(()));
    }
}
