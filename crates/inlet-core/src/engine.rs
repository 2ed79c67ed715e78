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
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinSet};

use crate::batch::{Batch, Checkpoint, Phase};
use crate::error::{Action, ErrorKind, SourceError};
use crate::record::Change;
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

/// Batches each stream's reader may have waiting for the writer: enough to keep the writer
/// busy, and for [`join_waiting`] to make larger transactions of; few enough that memory
/// stays bounded by a handful of batches.
const READ_AHEAD: usize = 4;

/// About the most records [`join_waiting`] puts in one write.
const MAX_JOINED_RECORDS: usize = 10_000;

/// The records all the streams' readers may have waiting for the writer together. Each
/// stream's [`READ_AHEAD`] alone would let a sync of many streams (a whole Stripe account
/// has 21) hold many times what one stream needs to keep the writer busy; this bounds the
/// sum, whatever the number of streams. A batch larger than this waits for all of it.
/// Records are counted by [`weight`], so wide ones count for more.
const WAITING_RECORDS: usize = 2_000;

/// Fields a record may have and still count as one in [`WAITING_RECORDS`]: about a Stripe
/// object's top level or a Salesforce Account's. A HubSpot contact with 500 properties
/// holds ten times that in memory, and counts ten times.
const FIELDS_PER_RECORD: usize = 50;

/// A batch's room in the [`WAITING_RECORDS`] budget: its records, a wide one counting once
/// per [`FIELDS_PER_RECORD`] fields; at least 1, at most the whole budget.
fn weight(batch: &Batch) -> u32 {
    let records: usize = batch
        .records
        .iter()
        .map(|r| match &r.change {
            Change::Upsert(fields) => fields.len().div_ceil(FIELDS_PER_RECORD).max(1),
            Change::Delete => 1,
        })
        .sum();
    records.clamp(1, WAITING_RECORDS) as u32
}

/// What a reader tells the writer, in order, with the stream's name.
enum Message {
    /// A batch, and its room in the [`WAITING_RECORDS`] budget, given back once it is freed.
    Batch(Arc<str>, Batch, OwnedSemaphorePermit),
    /// The reader failed; it waits for the writer to answer where to resume, and when.
    Failed(Arc<str>, SourceError, oneshot::Sender<Resume>),
}

/// Where and when a failed reader resumes; `None`: never (a person must act).
type Resume = Option<(Duration, Option<Checkpoint>)>;

/// A reader's side of its stream's queue: each message, then the stream's index on `ready`.
#[derive(Clone)]
struct Outbox {
    tx: mpsc::Sender<Message>,
    ready: mpsc::UnboundedSender<usize>,
    index: usize,
    /// The sync's [`WAITING_RECORDS`] budget, shared by every stream.
    waiting: Arc<Semaphore>,
}

impl Outbox {
    /// Waits for room in the stream's queue; `Err` once the writer is gone.
    async fn send(&self, message: Message) -> Result<(), ()> {
        self.tx.send(message).await.map_err(|_| ())?;
        self.ready.send(self.index).map_err(|_| ())
    }

    /// Waits for room for `batch`'s records in the sync's budget, then in the queue.
    async fn send_batch(&self, name: Arc<str>, batch: Batch) -> Result<(), ()> {
        let permit = (self
            .waiting
            .clone()
            .acquire_many_owned(weight(&batch))
            .await)
            .map_err(|_| ())?;
        self.send(Message::Batch(name, batch, permit)).await
    }
}

/// Syncs `specs` until every stream ends, or `stop` resolves.
///
/// Each stream is read concurrently with the others and with the writing: a reader fetches
/// its next batch while the previous ones are written, at most a few batches ahead
/// (backpressure keeps memory bounded). All writes go through `sink` one batch at a time, in
/// each stream's order (backfill batches already waiting may be joined into one, see
/// [`join_waiting`]). A reader that fails waits until every batch it sent is written,
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
    // A queue per stream, so a stream's waiting batches are joined however the streams
    // (and their partitions) interleave; `ready` says, in arrival order, which queue got a
    // message (an index whose message a join already took finds its queue empty: skipped).
    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    let waiting = Arc::new(Semaphore::new(WAITING_RECORDS));
    let mut queues = Vec::with_capacity(specs.len());
    let mut readers = JoinSet::new();
    for (index, (spec, from)) in specs.iter().zip(starts).enumerate() {
        let (tx, rx) = mpsc::channel(READ_AHEAD);
        queues.push(rx);
        let outbox = Outbox {
            tx,
            ready: ready_tx.clone(),
            index,
            waiting: waiting.clone(),
        };
        let (source, spec) = (source.clone(), spec.clone());
        readers.spawn(read_guarded(source, spec, from, outbox, pause.clone()));
    }
    drop(ready_tx);
    tokio::pin!(stop);
    let mut attempts: HashMap<Arc<str>, u32> = HashMap::new();
    let mut needs_person = false;
    // A message taken off a queue but not joined to the batch before it.
    let mut held: Option<(usize, Message)> = None;
    loop {
        let (index, message) = tokio::select! {
            biased;
            _ = &mut stop => return Ok(Outcome::Stopped),
            Some(message) = std::future::ready(held.take()) => message,
            index = ready.recv() => match index {
                Some(i) => match queues[i].try_recv() {
                    Ok(message) => (i, message),
                    Err(_) => continue, // joined to an earlier write already
                },
                None => {
                    // Every reader has ended (each message's index came before its end):
                    // wait for their tasks, in case one panicked.
                    while let Some(ended) = readers.join_next().await {
                        ended_well(ended);
                    }
                    let outcome = match needs_person {
                        true => Outcome::NeedsPerson,
                        false => Outcome::Finished,
                    };
                    return Ok(outcome);
                }
            },
            Some(ended) = readers.join_next() => {
                ended_well(ended);
                continue;
            }
        };
        // The readers, tasks of their own, keep fetching while the writer works.
        match message {
            Message::Batch(name, mut batch, permit) => {
                let mut room = vec![permit];
                held = join_waiting(&name, &mut batch, &mut room, &mut queues[index])
                    .map(|m| (index, m));
                // The sink records backfilling/live with the batch, atomically.
                sink.write(&name, &batch).await.map_err(EngineError::Sink)?;
                attempts.remove(&name);
                // Freeing thousands of JSON records takes a while; not on the writer's time.
                // Their room in the budget is given back once they are freed.
                tokio::task::spawn_blocking(move || drop((batch, room)));
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

/// Joins the backfill batches of stream `name` already waiting in its queue behind `batch`,
/// up to about [`MAX_JOINED_RECORDS`], so a writer that falls behind its readers makes fewer,
/// larger transactions: the same rows, with far fewer commits and round trips. Writing the
/// joined batch is the same as writing its parts in turn: it ends at the last part's
/// checkpoint, the writer keeps the newest change per id, and a sweep (which ends a listing)
/// is only ever on the last part. Live batches are never joined, so each change keeps its
/// own row in the change log. The joined parts' room in the budget is added to `room`.
/// Returns the message that followed and could not be joined.
fn join_waiting(
    name: &str,
    batch: &mut Batch,
    room: &mut Vec<OwnedSemaphorePermit>,
    rx: &mut mpsc::Receiver<Message>,
) -> Option<Message> {
    while batch.phase == Phase::Backfill
        && batch.sweep.is_none()
        && batch.records.len() < MAX_JOINED_RECORDS
    {
        match rx.try_recv().ok()? {
            Message::Batch(next_name, next, permit)
                if *next_name == *name && next.phase == Phase::Backfill =>
            {
                room.push(permit);
                batch.records.extend(next.records);
                batch.checkpoint = next.checkpoint;
                batch.sweep = next.sweep;
                batch.sweep_within = next.sweep_within;
                batch.progress = next.progress.or(batch.progress);
                if next.columns.is_some() {
                    batch.columns = next.columns;
                }
            }
            other => return Some(other),
        }
    }
    None
}

/// A reader's panic is the engine's, as when the readers ran inside it.
fn ended_well(ended: Result<(), JoinError>) {
    if let Err(e) = ended {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// [`read_stream`], but a panic (a bug in inlet) stops only this stream: its state says so
/// in plain words, and the other streams, and the other syncs, go on.
async fn read_guarded<S, P, PF>(
    source: Arc<S>,
    spec: StreamSpec,
    from: Option<Checkpoint>,
    tx: Outbox,
    pause: P,
) where
    S: Source + ?Sized,
    P: Fn(Duration) -> PF,
    PF: Future<Output = ()>,
{
    let name: Arc<str> = spec.name.as_str().into();
    let reading = std::panic::AssertUnwindSafe(read_stream(source, spec, from, tx.clone(), pause));
    if let Err(panic) = futures_util::FutureExt::catch_unwind(reading).await {
        let what = (panic.downcast_ref::<&str>().copied())
            .or(panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("no message");
        let reason = format!("reading {name} stopped on a bug in inlet ({what})");
        let (answer, _) = oneshot::channel();
        let failure = SourceError::new(ErrorKind::Internal, reason);
        let _ = tx.send(Message::Failed(name, failure, answer)).await;
    }
}

/// Reads one stream into `tx` from `from`, resuming as the writer says after a failure.
async fn read_stream<S, P, PF>(
    source: Arc<S>,
    spec: StreamSpec,
    mut from: Option<Checkpoint>,
    tx: Outbox,
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
                    if tx.send_batch(name.clone(), batch).await.is_err() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Record, Version};
    use serde_json::json;

    fn batch(first: usize, phase: Phase) -> Batch {
        let records = (first..first + 2)
            .map(|i| Record::delete(format!("r{i}"), Version::new(i as i64, 0)))
            .collect();
        let mut batch = Batch::new(records, Checkpoint(json!(first)), phase);
        batch.progress = Some(first as f64 / 100.0);
        batch
    }

    fn queue(messages: Vec<(&str, Batch)>) -> mpsc::Receiver<Message> {
        let (tx, rx) = mpsc::channel(messages.len() + 1);
        let budget = Arc::new(Semaphore::new(WAITING_RECORDS));
        for (name, batch) in messages {
            let permit = budget.clone().try_acquire_owned().expect("room");
            tx.try_send(Message::Batch(name.into(), batch, permit))
                .unwrap_or_else(|_| panic!("queue"));
        }
        rx
    }

    fn ids(batch: &Batch) -> Vec<&str> {
        batch.records.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn a_wide_record_takes_more_of_the_waiting_budget() {
        let wide: serde_json::Map<_, _> = (0..500).map(|i| (format!("p{i}"), json!(i))).collect();
        let narrow: serde_json::Map<_, _> = (0..30).map(|i| (format!("f{i}"), json!(i))).collect();
        let records = vec![
            Record::upsert("w", Version::new(1, 0), wide.clone()),
            Record::upsert("n", Version::new(1, 0), narrow),
            Record::delete("d", Version::new(1, 0)),
        ];
        let batch = Batch::new(records, Checkpoint(json!(1)), Phase::Backfill);
        assert_eq!(weight(&batch), 10 + 1 + 1);
        let many = (0..1_000)
            .map(|i| Record::upsert(format!("w{i}"), Version::new(1, 0), wide.clone()))
            .collect();
        let huge = Batch::new(many, Checkpoint(json!(2)), Phase::Backfill);
        assert_eq!(
            weight(&huge),
            WAITING_RECORDS as u32,
            "a batch larger than the budget waits for all of it, not forever"
        );
    }

    #[test]
    fn waiting_backfill_batches_of_a_stream_are_joined_in_order() {
        let mut rx = queue(vec![
            ("a", batch(2, Phase::Backfill)),
            ("a", batch(4, Phase::Backfill)),
            ("a", batch(6, Phase::Backfill)),
        ]);
        let mut first = batch(0, Phase::Backfill);
        let mut room = Vec::new();
        assert!(
            join_waiting("a", &mut first, &mut room, &mut rx).is_none(),
            "nothing held"
        );
        assert_eq!(room.len(), 3, "the joined parts' room goes with the write");
        assert_eq!(
            ids(&first),
            ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"]
        );
        assert_eq!(
            first.checkpoint,
            Checkpoint(json!(6)),
            "the last part's checkpoint"
        );
        assert_eq!(first.progress, Some(0.06));
        assert!(rx.try_recv().is_err(), "all taken");
    }

    #[test]
    fn a_sweep_ends_the_join_and_live_batches_are_never_joined() {
        let mut swept = batch(2, Phase::Backfill);
        swept.sweep = Some(Version::new(1, 0));
        let mut rx = queue(vec![
            ("a", swept),
            ("a", batch(4, Phase::Backfill)),
            ("a", batch(6, Phase::Live)),
            ("a", batch(8, Phase::Live)),
        ]);
        let mut first = batch(0, Phase::Backfill);
        let mut room = Vec::new();
        assert!(join_waiting("a", &mut first, &mut room, &mut rx).is_none());
        assert_eq!(ids(&first), ["r0", "r1", "r2", "r3"]);
        assert_eq!(
            first.sweep,
            Some(Version::new(1, 0)),
            "the sweep stays on the end"
        );

        let mut next = match rx.try_recv() {
            Ok(Message::Batch(_, b, _)) => b,
            _ => panic!("the batch after the sweep waits"),
        };
        let held = join_waiting("a", &mut next, &mut room, &mut rx);
        assert_eq!(
            ids(&next),
            ["r4", "r5"],
            "a live batch does not join a backfill"
        );
        assert!(matches!(held, Some(Message::Batch(_, b, _)) if b.phase == Phase::Live));

        let mut live = batch(10, Phase::Live);
        assert!(join_waiting("a", &mut live, &mut room, &mut rx).is_none());
        assert_eq!(
            ids(&live),
            ["r10", "r11"],
            "each live batch is written alone"
        );
    }
}
