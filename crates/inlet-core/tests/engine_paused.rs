//! The engine against an in-memory sink and scripted sources, on paused time: resuming from
//! the last committed checkpoint after a retry delay, stopping for a person, and joining a
//! stream's waiting batches however the streams interleave.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use inlet_core::{
    run_sync, Batch, BatchStream, Checkpoint, Discovery, ErrorKind, Outcome, Phase, Record, Sink,
    Source, SourceError, StreamSpec, StreamState, Version,
};
use serde_json::json;

/// What the sink was asked to do, in order.
#[derive(Default)]
struct Memory {
    checkpoints: HashMap<String, Checkpoint>,
    /// (stream, record ids) of each write.
    writes: Vec<(String, Vec<String>)>,
    states: Vec<(String, StreamState)>,
    /// How long each write takes (paused time: only orders things).
    write_time: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("never fails")]
struct Never;

impl Sink for Memory {
    type Error = Never;

    async fn checkpoint(&mut self, stream: &str) -> Result<Option<Checkpoint>, Never> {
        Ok(self.checkpoints.get(stream).cloned())
    }

    async fn write(&mut self, stream: &str, batch: &Batch) -> Result<(), Never> {
        tokio::time::sleep(self.write_time).await;
        self.checkpoints
            .insert(stream.to_string(), batch.checkpoint.clone());
        let ids = batch.records.iter().map(|r| r.id.clone()).collect();
        self.writes.push((stream.to_string(), ids));
        Ok(())
    }

    async fn set_state(&mut self, stream: &str, state: &StreamState) -> Result<(), Never> {
        self.states.push((stream.to_string(), state.clone()));
        Ok(())
    }

    async fn reset(&mut self, stream: &str) -> Result<(), Never> {
        self.checkpoints.remove(stream);
        Ok(())
    }
}

/// Each stream: `len` records, one a batch, checkpoint = records done; the first read of a
/// stream in `fail` fails after `fail_after` batches with that error kind.
struct Scripted {
    len: u64,
    fail: HashMap<&'static str, (u64, ErrorKind)>,
    /// Every read: (stream, where it started).
    reads: Mutex<Vec<(String, Option<u64>)>>,
}

impl Source for Scripted {
    fn discover(&self) -> Discovery<'_> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn read<'a>(&'a self, spec: &'a StreamSpec, from: Option<&'a Checkpoint>) -> BatchStream<'a> {
        let start = from.and_then(|c| c.0.as_u64());
        let mut reads = self.reads.lock().unwrap_or_else(|e| e.into_inner());
        let first = !reads.iter().any(|(s, _)| *s == spec.name);
        reads.push((spec.name.clone(), start));
        let failure = self.fail.get(spec.name.as_str()).filter(|_| first).copied();
        let name = spec.name.clone();
        let batches = (start.unwrap_or(0)..self.len).map(move |i| {
            if let Some((after, kind)) = failure {
                if i == after {
                    return Err(SourceError::new(kind, "scripted failure").with_fix("a fix"));
                }
            }
            let record = Record::delete(format!("{name}{i}"), Version::new(i as i64, 0));
            Ok(Batch::new(
                vec![record],
                Checkpoint(json!(i + 1)),
                Phase::Backfill,
            ))
        });
        futures_util::stream::iter(batches).boxed()
    }
}

fn specs(names: &[&str]) -> Vec<StreamSpec> {
    names
        .iter()
        .map(|n| StreamSpec::new(*n, Vec::new()))
        .collect()
}

fn written(sink: &Memory, stream: &str) -> Vec<String> {
    let writes = sink.writes.iter().filter(|(s, _)| s == stream);
    writes.flat_map(|(_, ids)| ids.clone()).collect()
}

async fn run(source: &Arc<Scripted>, sink: &mut Memory, names: &[&str]) -> Outcome {
    let never = std::future::pending::<()>();
    run_sync(
        source.clone(),
        &specs(names),
        sink,
        tokio::time::sleep,
        never,
    )
    .await
    .expect("the sink never fails")
}

#[tokio::test(start_paused = true)]
async fn a_failed_read_resumes_from_the_last_committed_checkpoint_after_its_delay() {
    let source = Arc::new(Scripted {
        len: 6,
        fail: HashMap::from([("a", (3, ErrorKind::Network))]),
        reads: Mutex::default(),
    });
    let mut sink = Memory::default();
    let started = tokio::time::Instant::now();
    assert_eq!(run(&source, &mut sink, &["a"]).await, Outcome::Finished);
    let ids: Vec<String> = (0..6).map(|i| format!("a{i}")).collect();
    assert_eq!(written(&sink, "a"), ids, "every record once, in order");
    let reads = source.reads.lock().map(|r| r.clone()).unwrap_or_default();
    assert_eq!(reads, [("a".into(), None), ("a".into(), Some(3))]);
    let errored = sink.states.iter().find_map(|(_, s)| match s {
        StreamState::Errored { retry_in_secs, .. } => Some(*retry_in_secs),
        _ => None,
    });
    assert_eq!(errored, Some(Some(1)), "the error and its retry recorded");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the delay waited"
    );
}

#[tokio::test(start_paused = true)]
async fn an_error_only_a_person_can_fix_stops_that_stream_and_the_others_finish() {
    let source = Arc::new(Scripted {
        len: 4,
        fail: HashMap::from([("a", (1, ErrorKind::Unauthorized))]),
        reads: Mutex::default(),
    });
    let mut sink = Memory::default();
    assert_eq!(
        run(&source, &mut sink, &["a", "b"]).await,
        Outcome::NeedsPerson
    );
    assert_eq!(written(&sink, "a"), ["a0"], "stopped where it failed");
    assert_eq!(written(&sink, "b"), ["b0", "b1", "b2", "b3"]);
    let last_a = sink.states.iter().rev().find(|(s, _)| s == "a");
    assert!(
        matches!(
            last_a,
            Some((
                _,
                StreamState::Errored {
                    retry_in_secs: None,
                    fix: Some(_),
                    ..
                }
            ))
        ),
        "waits for a person, with the fix: {last_a:?}"
    );
    let reads = source.reads.lock().map(|r| r.len()).unwrap_or_default();
    assert_eq!(reads, 2, "never read again");
}

#[tokio::test(start_paused = true)]
async fn a_slow_writer_joins_each_streams_waiting_batches_however_streams_interleave() {
    let source = Arc::new(Scripted {
        len: 40,
        fail: HashMap::new(),
        reads: Mutex::default(),
    });
    let mut sink = Memory {
        write_time: Duration::from_millis(10),
        ..Memory::default()
    };
    let names = ["a", "b", "c", "d"];
    assert_eq!(run(&source, &mut sink, &names).await, Outcome::Finished);
    for name in names {
        let ids: Vec<String> = (0..40).map(|i| format!("{name}{i}")).collect();
        assert_eq!(
            written(&sink, name),
            ids,
            "{name}: every record once, in order"
        );
    }
    // 160 one-record batches from four streams at once: each write takes what its
    // stream has waiting (a queue holds a few), not one batch up to another stream's.
    assert!(
        sink.writes.len() <= 60,
        "{} writes for 160 batches",
        sink.writes.len()
    );
}

/// Many streams of 100-record batches: the records read but not yet written.
struct Wide {
    batches: u64,
    /// Records the readers have taken from the source so far.
    read: Arc<std::sync::atomic::AtomicUsize>,
}

impl Source for Wide {
    fn discover(&self) -> Discovery<'_> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn read<'a>(&'a self, spec: &'a StreamSpec, _: Option<&'a Checkpoint>) -> BatchStream<'a> {
        let (name, read) = (spec.name.clone(), self.read.clone());
        let batches = (0..self.batches).map(move |b| {
            read.fetch_add(100, std::sync::atomic::Ordering::SeqCst);
            let records = (0..100)
                .map(|i| Record::delete(format!("{name}-{b}-{i}"), Version::new(b as i64, 0)))
                .collect();
            Ok(Batch::new(
                records,
                Checkpoint(json!(b + 1)),
                Phase::Backfill,
            ))
        });
        futures_util::stream::iter(batches).boxed()
    }
}

/// Sink whose every write notes how many records were read but not yet written.
struct Watching {
    read: Arc<std::sync::atomic::AtomicUsize>,
    written: usize,
    most_unwritten: usize,
}

impl Sink for Watching {
    type Error = Never;

    async fn checkpoint(&mut self, _: &str) -> Result<Option<Checkpoint>, Never> {
        Ok(None)
    }

    async fn write(&mut self, _: &str, batch: &Batch) -> Result<(), Never> {
        // The slow writer under test (paused time: it only orders things, nothing waits).
        tokio::time::sleep(Duration::from_millis(10)).await;
        let read = self.read.load(std::sync::atomic::Ordering::SeqCst);
        self.most_unwritten = self.most_unwritten.max(read - self.written);
        self.written += batch.records.len();
        Ok(())
    }

    async fn set_state(&mut self, _: &str, _: &StreamState) -> Result<(), Never> {
        Ok(())
    }

    async fn reset(&mut self, _: &str) -> Result<(), Never> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn what_many_streams_have_waiting_for_a_slow_writer_is_bounded_together() {
    let read = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let source = Arc::new(Wide {
        batches: 30,
        read: read.clone(),
    });
    let names: Vec<String> = (0..12).map(|i| format!("s{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut sink = Watching {
        read,
        written: 0,
        most_unwritten: 0,
    };
    let never = std::future::pending::<()>();
    let outcome = run_sync(source, &specs(&names), &mut sink, tokio::time::sleep, never).await;
    assert_eq!(outcome.expect("never fails"), Outcome::Finished);
    assert_eq!(sink.written, 12 * 30 * 100, "every record written");
    // 2,000 records waiting for all streams together, and the batch each reader has in
    // hand while it waits for room; a read-ahead of 4 batches a stream alone would let 12
    // streams hold about 6,000.
    assert!(
        sink.most_unwritten <= 2_000 + 12 * 100,
        "{} records read and not yet written",
        sink.most_unwritten
    );
}
