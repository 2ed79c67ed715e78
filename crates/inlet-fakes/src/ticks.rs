//! A fake's live changes at a steady pace (its mutator), until the handle is dropped or
//! the fake stops.

use std::time::Duration;

use tokio::sync::watch;

/// Keeps the mutator going; dropping it (or [`MutatorHandle::stop`]) stops it.
#[derive(Debug)]
pub struct MutatorHandle {
    stop: watch::Sender<bool>,
}

impl MutatorHandle {
    pub fn stop(self) {}
}

impl Drop for MutatorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Runs `tick` every `every` (at least 1 ms; a late tick delays the next rather than
/// bunching), until the handle is dropped or `fake_down` changes.
pub(crate) fn every(
    runtime: &tokio::runtime::Handle,
    every: Duration,
    mut fake_down: watch::Receiver<bool>,
    mut tick: impl FnMut() + Send + 'static,
) -> MutatorHandle {
    let (stop, mut stopped) = watch::channel(false);
    let every = every.max(Duration::from_millis(1));
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stopped.changed() => return,
                _ = fake_down.changed() => return,
            }
            tick();
        }
    });
    MutatorHandle { stop }
}
