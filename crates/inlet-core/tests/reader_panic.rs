//! A bug in one stream's reader (a panic) must not take the sync down: that stream is
//! errored, with a reason in plain words and no automatic retry, and the other streams
//! finish their work.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use inlet_core::{
    run_sync, Batch, BatchStream, Checkpoint, Discovery, Outcome, Phase, Record, Sink, Source,
    StreamSpec, StreamState, Version,
};
use serde_json::json;

/// Stream `good` yields two batches and ends; stream `bad` panics on its first read.
struct HalfBroken;

impl Source for HalfBroken {
    fn discover(&self) -> Discovery<'_> {
        let specs = ["good", "bad"].map(|name| StreamSpec::new(name, Vec::new()));
        Box::pin(async move { Ok(specs.into()) })
    }

    fn read<'a>(&'a self, stream: &'a StreamSpec, _: Option<&'a Checkpoint>) -> BatchStream<'a> {
        let bad = stream.name == "bad";
        Box::pin(async_stream::stream! {
            if bad {
                let header = "Retry-After: 1e20";
                panic!("could not read {header}");
            }
            for n in 0..2 {
                let record = Record::delete(format!("r{n}"), Version::new(n, 0));
                yield Ok(Batch::new(vec![record], Checkpoint(json!(n)), Phase::Live));
            }
        })
    }
}

/// Batches and states in memory.
#[derive(Default)]
struct Memory {
    written: HashMap<String, usize>,
    states: HashMap<String, StreamState>,
}

impl Sink for Memory {
    type Error = Infallible;

    async fn checkpoint(&mut self, _: &str) -> Result<Option<Checkpoint>, Infallible> {
        Ok(None)
    }

    async fn write(&mut self, stream: &str, batch: &Batch) -> Result<(), Infallible> {
        *self.written.entry(stream.into()).or_default() += batch.records.len();
        self.states.insert(stream.into(), StreamState::Live);
        Ok(())
    }

    async fn set_state(&mut self, stream: &str, state: &StreamState) -> Result<(), Infallible> {
        self.states.insert(stream.into(), state.clone());
        Ok(())
    }

    async fn reset(&mut self, _: &str) -> Result<(), Infallible> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_reader_errors_its_stream_and_the_others_go_on() {
    let source = Arc::new(HalfBroken);
    let specs = source.discover().await.expect("discovers");
    let mut sink = Memory::default();
    let never = std::future::pending::<()>();
    let outcome = tokio::time::timeout(
        Duration::from_secs(60),
        run_sync(source, &specs, &mut sink, tokio::time::sleep, never),
    )
    .await
    .expect("the engine ends")
    .expect("the sink never fails");

    assert_eq!(outcome, Outcome::NeedsPerson, "a stream waits for a person");
    assert_eq!(
        sink.written.get("good"),
        Some(&2),
        "the other stream went on"
    );
    assert_eq!(sink.states["good"], StreamState::Live);
    let StreamState::Errored {
        reason,
        fix,
        retry_in_secs,
    } = &sink.states["bad"]
    else {
        panic!("bad is errored: {:?}", sink.states["bad"]);
    };
    assert_eq!(
        reason,
        "reading bad stopped on a bug in inlet (could not read Retry-After: 1e20)"
    );
    assert!(
        fix.as_deref().is_some_and(|f| f.contains("report it")),
        "{fix:?}"
    );
    assert_eq!(
        *retry_in_secs, None,
        "not retried by itself: it would panic again"
    );
}
