//! The engine: drives a sync's streams from their last committed checkpoints through the
//! sink, batch by batch, and keeps each stream's state (pending → backfilling → live, or errored with a
//! reason and a fix) where `inlet sync status` can read it.
//!
//! Errors are decided by [`SourceError::action`] alone: retry after a delay (resuming from
//! the last committed checkpoint, so nothing is written twice), stop and wait for a person,
//! or start the stream over.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

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
    source: &S,
    spec: &StreamSpec,
    sink: &mut K,
    pause: P,
    stop: F,
) -> Result<Outcome, EngineError<K::Error>>
where
    S: Source + ?Sized,
    K: Sink,
    P: Fn(Duration) -> PF,
    PF: Future<Output = ()>,
    F: Future<Output = ()>,
{
    run_sync(source, std::slice::from_ref(spec), sink, pause, stop).await
}

/// What a reader tells the writer, in order.
enum Message<'a> {
    Batch(&'a str, Batch),
    /// The reader failed; it waits for the writer to answer where to resume, and when.
    Failed(&'a str, SourceError, oneshot::Sender<Resume>),
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
pub async fn run_sync<S, K, P, PF, F>(
    source: &S,
    specs: &[StreamSpec],
    sink: &mut K,
    pause: P,
    stop: F,
) -> Result<Outcome, EngineError<K::Error>>
where
    S: Source + ?Sized,
    K: Sink,
    P: Fn(Duration) -> PF,
    PF: Future<Output = ()>,
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
    let mut readers: FuturesUnordered<_> = specs
        .iter()
        .zip(starts)
        .map(|(spec, from)| read_stream(source, spec, from, tx.clone(), &pause))
        .collect();
    drop(tx);
    tokio::pin!(stop);
    let mut attempts: HashMap<&str, u32> = HashMap::new();
    let mut needs_person = false;
    loop {
        let message = tokio::select! {
            biased;
            _ = &mut stop => return Ok(Outcome::Stopped),
            message = rx.recv() => message,
            Some(()) = readers.next() => continue,
        };
        let Some(message) = message else {
            let outcome = match needs_person {
                true => Outcome::NeedsPerson,
                false => Outcome::Finished,
            };
            return Ok(outcome);
        };
        // Readers keep fetching while the writer works.
        let work = async {
            match message {
                Message::Batch(name, batch) => {
                    // The sink records backfilling/live with the batch, atomically.
                    sink.write(name, &batch).await.map_err(EngineError::Sink)?;
                    attempts.remove(name);
                }
                Message::Failed(name, failure, resume) => {
                    let attempt = attempts.entry(name).or_default();
                    *attempt += 1;
                    let delay = handle(sink, name, &failure, *attempt).await?;
                    needs_person |= delay.is_none();
                    let answer = match delay {
                        Some(d) => {
                            Some((d, sink.checkpoint(name).await.map_err(EngineError::Sink)?))
                        }
                        None => None,
                    };
                    let _ = resume.send(answer); // a reader that is gone needs no answer
                }
            }
            Ok(())
        };
        while_reading(work, &mut readers).await?;
    }
}

/// Runs `work` to its end while the readers go on fetching.
async fn while_reading<T, R>(work: impl Future<Output = T>, readers: &mut FuturesUnordered<R>) -> T
where
    R: Future<Output = ()>,
{
    tokio::pin!(work);
    loop {
        tokio::select! {
            biased;
            out = &mut work => return out,
            Some(()) = readers.next() => {}
        }
    }
}

/// Reads one stream into `tx` from `from`, resuming as the writer says after a failure.
async fn read_stream<'a, S, P, PF>(
    source: &'a S,
    spec: &'a StreamSpec,
    mut from: Option<Checkpoint>,
    tx: mpsc::Sender<Message<'a>>,
    pause: &P,
) where
    S: Source + ?Sized,
    P: Fn(Duration) -> PF,
    PF: Future<Output = ()>,
{
    let name = spec.name.as_str();
    loop {
        let mut batches = source.read(spec, from.as_ref());
        let failure = loop {
            match batches.next().await {
                None => return,
                Some(Err(e)) => break e,
                Some(Ok(batch)) => {
                    if tx.send(Message::Batch(name, batch)).await.is_err() {
                        return; // the writer stopped
                    }
                }
            }
        };
        drop(batches);
        let (answer, resumed) = oneshot::channel();
        if tx
            .send(Message::Failed(name, failure, answer))
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
