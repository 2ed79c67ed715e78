//! What a sync's sink stores, passed on as it happens: to the metrics, to readiness (a
//! stream's error, and its end), and to the log (an errored stream, with its sync and
//! stream as fields).

use std::sync::Arc;
use std::time::Duration;

use inlet_connectors::registry::Connector;
use inlet_core::{Batch, Phase, StreamState};
use inlet_postgres::sink::Observer;
use inlet_postgres::writer::{state_after, WriteStats};

use crate::metrics::{Metrics, StreamLabel};
use crate::readiness::Readiness;

/// The observer of sync `sync`'s sink.
pub fn for_sync(
    sync: &str,
    connector: &'static dyn Connector,
    metrics: Metrics,
    readiness: Readiness,
) -> Arc<dyn Observer> {
    Arc::new(Watch {
        sync: sync.to_string(),
        connector,
        metrics,
        readiness,
    })
}

struct Watch {
    sync: String,
    /// Reads the checkpoints (how complete, which partitions).
    connector: &'static dyn Connector,
    metrics: Metrics,
    readiness: Readiness,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").field("sync", &self.sync).finish()
    }
}

impl Watch {
    fn at(&self, stream: &str) -> StreamLabel {
        StreamLabel {
            sync: self.sync.clone(),
            stream: stream.to_string(),
        }
    }
}

impl Observer for Watch {
    fn wrote(&self, stream: &str, batch: &Batch, stats: &WriteStats, took: Duration) {
        let at = self.at(stream);
        let m = &self.metrics;
        m.wrote(&at, stats, took);
        let share = match batch.phase {
            Phase::Live => Some(1.0),
            Phase::Backfill => batch.progress,
        };
        m.backfill(&at, share, self.connector.partitions(&batch.checkpoint));
        if let Some(until) = self.connector.complete_until(&batch.checkpoint) {
            m.complete_until(&at, until);
        }
        m.stage(&at, state_after(batch.phase));
        self.readiness.stream_error(&self.sync, stream, None);
    }

    fn state(&self, stream: &str, state: &StreamState) {
        self.metrics.stage(&self.at(stream), state.stage());
        match state {
            StreamState::Errored {
                reason,
                retry_in_secs,
                ..
            } => {
                match retry_in_secs {
                    Some(secs) => {
                        tracing::warn!(sync = %self.sync, %stream, retry_in_secs = secs, "stream errored: {reason}")
                    }
                    None => {
                        tracing::error!(sync = %self.sync, %stream, "stream errored, waiting for a person: {reason}")
                    }
                }
                self.readiness
                    .stream_error(&self.sync, stream, Some(reason));
            }
            _ => self.readiness.stream_error(&self.sync, stream, None),
        }
    }
}
