//! The engine: drives a sync's streams from their last committed checkpoints through the
//! sink, batch by batch, and keeps each stream's state (pending → backfilling → live, or errored with a
//! reason and a fix) where `inlet sync status` can read it.
//!
//! Errors are decided by [`SourceError::action`] alone: retry after a delay (resuming from
//! the last committed checkpoint, so nothing is written twice), stop and wait for a person,
//! or start the stream over.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinError, JoinSet};

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

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every stream's source ended (a finite source, or a test), none waiting for a person.
    Finished,
    /// Every stream ended, and at least one stopped on an error only a person can fix; its
    /// state says which. The other streams kept syncing until they ended.
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

/// Syncs one stream; see [`run_sync`].
pub async fn run_stream<S, K, P, PF, F>(
    source: Arc<S>,
    spec: &StreamSpec,
    sink: &mut K,
    pause: P,
    stop: F,
) -> Result<Outcome, EngineError<K::Error>>
where
    S: Source + ?Sized + 'static,
    K: Sink,
    P: Fn(Duration) -> PF + Clone + Send + Sync + 'static,
    PF: Future<Output = ()> + Send + 'static,
    F: Future<Output = ()>,
{
    run_sync(source, std::slice::from_ref(spec), sink, pause, stop).await
}

/// What a reader tells the writer, in order, with the stream's name.
enum Message {
    Batch(Arc<str>, Batch),
    /// The reader failed; it waits for the writer to answer where to resume, and when.
    Failed(Arc<str>, SourceError, oneshot::Sender<Resume>),
}

/// Where and when a failed reader resumes; `None`: never (a person must act).
type Resume = Option<(Duration, Option<Checkpoint>)>;

/// Syncs `specs` until every stream ends, or `stop` resolves.
///
/// Each stream is read concurrently with the others and with the writing: a reader fetches
/// its next batch while the previous ones are written, at most a few batches ahead
/// (backpressure keeps memory bounded). All writes go through `sink` one batch at a time, in
/// each stream's order. A reader that fails waits until every batch it sent is written,
/// then resumes from the last committed checkpoint, so nothing is skipped or written twice.
/// `pause` waits out a retry delay (injected so tests control time). On `stop`, the batch
/// being written is committed first.
///
/// Each reader is a task of its own (hence the shared `source` and a `pause` that can be
/// sent), so on a multi-threaded runtime building a stream's records runs in parallel with
/// encoding and writing them; on a current-thread runtime they take turns, as before. The
/// readers are aborted when this returns or is dropped. Must be called within a tokio
/// runtime.
pub async fn run_sync<S, K, P, PF, F>(
    source: Arc<S>,
    specs: &[StreamSpec],
    sink: &mut K,
    pause: P,
    stop: F,
) -> Result<Outcome, EngineError<K::Error>>
where
    S: Source + ?Sized + 'static,
    K: Sink,
    P: Fn(Duration) -> PF + Clone + Send + Sync + 'static,
    PF: Future<Output = ()> + Send + 'static,
    F: Future<Output = ()>,
{
    let mut starts = Vec::with_capacity(specs.len());
    for spec in specs {
        let from = sink
            .checkpoint(&spec.name)
            .await
            .map_err(EngineError::Sink)?;
        if from.is_none() {
            sink.set_state(&spec.name, &StreamState::Pending)
                .await
                .map_err(EngineError::Sink)?;
        }
        starts.push(from);
    }
    let (tx, mut rx) = mpsc::channel(2 * specs.len().max(1));
    let mut readers = JoinSet::new();
    for (spec, from) in specs.iter().zip(starts) {
        let (source, spec, tx) = (source.clone(), spec.clone(), tx.clone());
        readers.spawn(read_stream(source, spec, from, tx, pause.clone()));
    }
    drop(tx);
    tokio::pin!(stop);
    let mut attempts: HashMap<Arc<str>, u32> = HashMap::new();
    let mut needs_person = false;
    loop {
        let message = tokio::select! {
            biased;
            _ = &mut stop => return Ok(Outcome::Stopped),
            message = rx.recv() => message,
            Some(ended) = readers.join_next() => {
                ended_well(ended);
                continue;
            }
        };
        let Some(message) = message else {
            // Every reader has let go of the channel: wait for them to end, in case one
            // panicked.
            while let Some(ended) = readers.join_next().await {
                ended_well(ended);
            }
            let outcome = match needs_person {
                true => Outcome::NeedsPerson,
                false => Outcome::Finished,
            };
            return Ok(outcome);
        };
        // The readers, tasks of their own, keep fetching while the writer works.
        match message {
            Message::Batch(name, batch) => {
                // The sink records backfilling/live with the batch, atomically.
                sink.write(&name, &batch).await.map_err(EngineError::Sink)?;
                attempts.remove(&name);
            }
            Message::Failed(name, failure, resume) => {
                let attempt = attempts.entry(name.clone()).or_default();
                *attempt += 1;
                let delay = handle(sink, &name, &failure, *attempt).await?;
                needs_person |= delay.is_none();
                let answer = match delay {
                    Some(d) => Some((d, sink.checkpoint(&name).await.map_err(EngineError::Sink)?)),
                    None => None,
                };
                let _ = resume.send(answer); // a reader that is gone needs no answer
            }
        }
    }
}

/// A reader's panic is the engine's, as when the readers ran inside it.
fn ended_well(ended: Result<(), JoinError>) {
    if let Err(e) = ended {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// Reads one stream into `tx` from `from`, resuming as the writer says after a failure.
async fn read_stream<S, P, PF>(
    source: Arc<S>,
    spec: StreamSpec,
    mut from: Option<Checkpoint>,
    tx: mpsc::Sender<Message>,
    pause: P,
) where
    S: Source + ?Sized,
    P: Fn(Duration) -> PF,
    PF: Future<Output = ()>,
{
    let name: Arc<str> = spec.name.as_str().into();
    loop {
        let mut batches = source.read(&spec, from.as_ref());
        let failure = loop {
            match batches.next().await {
                None => return,
                Some(Err(e)) => break e,
                Some(Ok(batch)) => {
                    if tx.send(Message::Batch(name.clone(), batch)).await.is_err() {
                        return; // the writer stopped
                    }
                }
            }
        };
        drop(batches);
        let (answer, resumed) = oneshot::channel();
        if tx
            .send(Message::Failed(name.clone(), failure, answer))
            .await
            .is_err()
        {
            return;
        }
        match resumed.await {
            Ok(Some((delay, checkpoint))) => {
                pause(delay).await;
                from = checkpoint;
            }
            _ => return,
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
