//! The engine: drives one stream from its last committed checkpoint through the sink, batch
//! by batch, and keeps the stream's state (pending → backfilling → live, or errored with a
//! reason and a fix) where `inlet sync status` can read it.
//!
//! Errors are decided by [`SourceError::action`] alone: retry after a delay (resuming from
//! the last committed checkpoint, so nothing is written twice), stop and wait for a person,
//! or start the stream over.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::batch::{Batch, Checkpoint};
use crate::error::{Action, SourceError};
use crate::source::Source;
use crate::stream::StreamSpec;

/// A stream's state, as stored in the destination and shown by `inlet sync status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StreamState {
    Pending,
    Backfilling,
    Live,
    Errored {
        reason: String,
        fix: Option<String>,
        /// When the engine tries again by itself; `None`: it waits for a person.
        retry_in_secs: Option<u64>,
    },
}

/// Where batches go: the destination. Implemented by the Postgres writer.
pub trait Sink {
    type Error: std::error::Error + Send + Sync + 'static;

    /// The checkpoint of the last committed batch of `stream`, if any.
    fn checkpoint(
        &mut self,
        stream: &str,
    ) -> impl Future<Output = Result<Option<Checkpoint>, Self::Error>> + Send;

    /// Writes `batch` and its checkpoint atomically, and with them the stream's state
    /// (`Backfilling` or `Live`, from the batch's phase; this clears an error).
    fn write(
        &mut self,
        stream: &str,
        batch: &Batch,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Records the stream's state.
    fn set_state(
        &mut self,
        stream: &str,
        state: &StreamState,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Forgets the stream's checkpoint, so the next read starts over (a fresh backfill).
    fn reset(&mut self, stream: &str) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// How a stream run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The source's stream ended (a finite source, or a test).
    Finished,
    /// Stopped on an error only a person can fix; its state says which.
    NeedsPerson,
    /// Stopped because `stop` resolved (graceful shutdown, after a committed batch).
    Stopped,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError<E: std::error::Error + 'static> {
    /// The destination failed: the engine cannot record progress, so it stops.
    #[error("the destination failed: {0}")]
    Sink(#[source] E),
}

/// Syncs one stream until the source ends, a person is needed, or `stop` resolves.
/// `pause` waits out a retry delay (injected so tests control time).
pub async fn run_stream<S, K, P, PF, F>(
    source: &S,
    spec: &StreamSpec,
    sink: &mut K,
    mut pause: P,
    stop: F,
) -> Result<Outcome, EngineError<K::Error>>
where
    S: Source + ?Sized,
    K: Sink,
    P: FnMut(Duration) -> PF,
    PF: Future<Output = ()>,
    F: Future<Output = ()>,
{
    let name = spec.name.as_str();
    let mut attempt = 0u32;
    tokio::pin!(stop);
    loop {
        let from = sink.checkpoint(name).await.map_err(EngineError::Sink)?;
        if from.is_none() {
            sink.set_state(name, &StreamState::Pending)
                .await
                .map_err(EngineError::Sink)?;
        }
        let mut batches = source.read(spec, from.as_ref());
        let failure = loop {
            let next = tokio::select! {
                biased;
                _ = &mut stop => return Ok(Outcome::Stopped),
                next = batches.next() => next,
            };
            match next {
                None => return Ok(Outcome::Finished),
                Some(Err(e)) => break e,
                Some(Ok(batch)) => {
                    // The sink records backfilling/live with the batch, atomically.
                    sink.write(name, &batch).await.map_err(EngineError::Sink)?;
                    attempt = 0;
                }
            }
        };
        drop(batches);
        attempt += 1;
        match handle(sink, name, &failure, attempt).await? {
            Some(delay) => pause(delay).await,
            None => return Ok(Outcome::NeedsPerson),
        }
    }
}

/// Records the error and says how long to wait before reading again (`None`: stop).
async fn handle<K: Sink>(
    sink: &mut K,
    name: &str,
    failure: &SourceError,
    attempt: u32,
) -> Result<Option<Duration>, EngineError<K::Error>> {
    let (retry, delay) = match failure.action(attempt) {
        Action::RetryAfter(d) => (Some(d.as_secs()), Some(d)),
        Action::NeedsPerson => (None, None),
        Action::Restart => {
            sink.reset(name).await.map_err(EngineError::Sink)?;
            (Some(0), Some(Duration::ZERO))
        }
    };
    let state = StreamState::Errored {
        reason: failure.message.clone(),
        fix: failure.fix.clone(),
        retry_in_secs: retry,
    };
    sink.set_state(name, &state)
        .await
        .map_err(EngineError::Sink)?;
    Ok(delay)
}
