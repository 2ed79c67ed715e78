//! Partitioned backfills: one stream's copy read as independent ranges of the source's
//! ordering, concurrently, through the stream's one exactly-once write path.
//!
//! A connector describes its partitions (a range and a position inside it, its own type `P`)
//! and how to read one page of one ([`PartitionReader`]); [`read_partitions`] reads up to
//! [`PartitionReader::concurrency`] of them at once and yields each page as it arrives,
//! together with the whole [`Partitions`] set as it stands once that page is written. The
//! connector stores that set in the batch's checkpoint, so:
//!
//! * every partition resumes at its own position after a crash (the set in the last
//!   committed checkpoint names each one's place);
//! * a partition split in two (a range that turned out large, while there is room for more
//!   requests in flight) is in the set of the batch whose page decided it, so the split is
//!   durable atomically with that batch, or not at all. The room must be at least an eighth
//!   of [`PartitionReader::concurrency`]: each partition costs about a request (it ends on a
//!   part-filled page), and the concurrency wanted wobbles with the latency observed;
//! * a partition much longer than its share of what is left (the pages left in every
//!   partition over the pages in flight) is cut to about that share, even with no room:
//!   the pieces wait their turn. A partition's pages are read one after another, so
//!   without this the backfill ends with a few long partitions read alone while the budget
//!   goes unused. Only when the reader can tell pages left ([`PartitionReader::pages_left`]);
//! * a reader that reads on several budgets (HubSpot: search, and the list) says which
//!   budget each partition's next page takes and how many pages each keeps in flight
//!   ([`PartitionReader::budgets`]); pages are launched per budget, so partitions queued
//!   on one never hold another idle, and a budget with room and nothing of its own takes
//!   partitions queued on another, re-expressed for it ([`PartitionReader::hand_over`]):
//!   without that a backfill ends with one budget reading a queue of small ranges alone;
//! * the set is empty exactly when every partition is complete: only then does the stream
//!   end its backfill (sweep, then live).
//!
//! Pages of one partition are read in order, one at a time; pages of different partitions
//! arrive in any order. Yielding one page at a time keeps the set true: it never claims a
//! page that is not in this or an earlier batch.

use std::future::Future;
use std::pin::Pin;

use futures_core::Stream;
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde::{Deserialize, Serialize};

use crate::error::SourceError;
use crate::record::Record;

/// The partitions of a backfill still to read, each at its own position, and how many are
/// complete. Stored in the stream's checkpoint by the connector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partitions<P> {
    pub open: Vec<P>,
    pub done: u32,
}

impl<P> Partitions<P> {
    /// A backfill that starts as the given partitions.
    pub fn new(open: Vec<P>) -> Self {
        Partitions { open, done: 0 }
    }

    /// Every partition read to its end.
    pub fn complete(&self) -> bool {
        self.open.is_empty()
    }

    /// Partitions complete, and in all (for progress: "3/8 partitions").
    pub fn counts(&self) -> (u32, u32) {
        (self.done, self.done + self.open.len() as u32)
    }
}

/// One page of one partition.
#[derive(Debug)]
pub struct PartitionPage<P> {
    pub records: Vec<Record>,
    /// The partition's position after this page; `None`: the partition is complete.
    pub next: Option<P>,
}

/// What a connector supplies to have a stream's backfill read in partitions.
pub trait PartitionReader: Send + Sync {
    type Partition: Clone + Send + Sync + 'static;

    /// Reads the next page of `partition`. Errors end the whole read: the engine resumes
    /// every partition from the last committed checkpoint.
    fn page(
        &self,
        partition: Self::Partition,
    ) -> impl Future<Output = Result<PartitionPage<Self::Partition>, SourceError>> + Send;

    /// Splits what is left of `partition` into at most `pieces` partitions that together
    /// cover exactly its rest (the first keeps its position). A range too small to split is
    /// returned whole.
    fn split(&self, partition: &Self::Partition, pieces: usize) -> Vec<Self::Partition>;

    /// How many pages to have in flight now (the sync's request budget times the latency it
    /// observes); at least 1.
    fn concurrency(&self) -> usize;

    /// How many budgets pages are read on, each with its own pages in flight (HubSpot reads
    /// by search and by list, each on its own rate limit). One unless said.
    fn budgets(&self) -> usize {
        1
    }

    /// The budget the next page of `partition` is read on, below [`PartitionReader::budgets`].
    fn budget_of(&self, _partition: &Self::Partition) -> usize {
        0
    }

    /// How many pages to have in flight on `budget`: with one budget, the concurrency.
    fn concurrency_on(&self, _budget: usize) -> usize {
        self.concurrency()
    }

    /// `partition`, queued on a budget with no room, as a partition covering the same rest
    /// read on `budget` instead, which has room and nothing of its own queued. `None`: it
    /// cannot be read there (now).
    fn hand_over(&self, _partition: &Self::Partition, _budget: usize) -> Option<Self::Partition> {
        None
    }

    /// About how many pages are left in `partition`, when the reader can tell: long
    /// partitions are then cut to their share, so that all end together (see the module).
    fn pages_left(&self, _partition: &Self::Partition) -> Option<f64> {
        None
    }
}

/// A page as [`read_partitions`] yields it: its records and the set once it is written.
pub type PartitionStep<P> = (Vec<Record>, Partitions<P>);

/// How much longer than its share a partition may be before it is cut to size. Each cut
/// costs about a request (every partition ends on a part-filled page): in a simulation of
/// 100,000 objects at 95 requests/s with latencies of 230-630 ms, 1.2 cut too often and 2
/// and 3 too late (1,062 requests and 12.8 s at 1.5; 1,072 and 13.3 s at 1.2; 1,103 and
/// 13.4 s at 3; 1,144 and 14.1 s without).
const BALANCE: f64 = 1.5;

type Flight<'a, P> =
    Pin<Box<dyn Future<Output = (u64, Result<PartitionPage<P>, SourceError>)> + Send + 'a>>;

struct Driver<'a, R: PartitionReader> {
    reader: &'a R,
    /// Open partitions with a stable id and whether a page of theirs is in flight.
    open: Vec<(u64, R::Partition, bool)>,
    done: u32,
    next_id: u64,
    flying: FuturesUnordered<Flight<'a, R::Partition>>,
    failed: bool,
}

impl<'a, R: PartitionReader> Driver<'a, R> {
    fn budget_of(&self, partition: &R::Partition) -> usize {
        let budgets = self.reader.budgets().max(1);
        self.reader.budget_of(partition).min(budgets - 1)
    }

    /// Launches pages of partitions not in flight, in order, while their budget has room:
    /// a budget's queue never holds another budget idle. Then a budget with room left and
    /// nothing of its own to read takes the last partitions queued on the others, when the
    /// reader can read them there ([`PartitionReader::hand_over`]).
    fn launch(&mut self) {
        let budgets = self.reader.budgets().max(1);
        let mut flying = vec![0; budgets];
        for (_, partition, in_flight) in &self.open {
            if *in_flight {
                flying[self.budget_of(partition)] += 1;
            }
        }
        let want: Vec<usize> = (0..budgets)
            .map(|b| self.reader.concurrency_on(b).max(1))
            .collect();
        for i in 0..self.open.len() {
            let budget = self.budget_of(&self.open[i].1);
            if !self.open[i].2 && flying[budget] < want[budget] {
                flying[budget] += 1;
                self.start(i);
            }
        }
        for budget in 0..budgets {
            while flying[budget] < want[budget] {
                // What is still queued after the loop above waits on a budget with no room.
                let Some(i) = self.open.iter().rposition(|(_, _, in_flight)| !in_flight) else {
                    return;
                };
                let Some(moved) = self.reader.hand_over(&self.open[i].1, budget) else {
                    break;
                };
                self.open[i].1 = moved;
                flying[budget] += 1;
                self.start(i);
            }
        }
    }

    /// Reads the next page of the open partition at `i`.
    fn start(&mut self, i: usize) {
        let (id, partition, in_flight) = &mut self.open[i];
        *in_flight = true;
        let (reader, id, partition) = (self.reader, *id, partition.clone());
        self.flying
            .push(Box::pin(async move { (id, reader.page(partition).await) }));
    }

    /// Applies a page of partition `id`: its new position, and a split while there is room.
    fn apply(&mut self, id: u64, next: Option<R::Partition>) {
        let Some(at) = self.open.iter().position(|(i, _, _)| *i == id) else {
            return;
        };
        let Some(next) = next else {
            self.open.remove(at);
            self.done += 1;
            return;
        };
        // A split costs about a request (each partition ends on a part-filled page), so one
        // waits for room worth it: the concurrency wanted follows the latency observed and
        // wobbles by a request or two, which must not split a partition each time.
        let want = self.reader.concurrency();
        let room = want.saturating_sub(self.open.len());
        let mut wanted = if room > 0 && room >= want / 8 {
            room + 1
        } else {
            1
        };
        if let Some(chains) = self.chains(id, &next, want) {
            wanted = wanted.max(chains);
        }
        let mut pieces = if wanted > 1 {
            self.reader.split(&next, wanted).into_iter()
        } else {
            vec![next].into_iter()
        };
        if let Some(first) = pieces.next() {
            self.open[at] = (id, first, false);
        }
        for piece in pieces {
            self.next_id += 1;
            self.open.push((self.next_id, piece, false));
        }
    }

    /// Into how many partitions `next` (the rest of partition `id`) should be cut so that it
    /// ends about when the others do: the pages left in all of them, shared by the pages in
    /// flight, is about how many each should still take. `None`: no cut needed, or the
    /// reader cannot tell.
    fn chains(&self, id: u64, next: &R::Partition, want: usize) -> Option<usize> {
        let mine = self.reader.pages_left(next)?;
        let mut total = mine;
        for (other, p, _) in &self.open {
            if *other != id {
                total += self.reader.pages_left(p)?;
            }
        }
        let each = (total / want.max(1) as f64).max(1.0);
        (mine > BALANCE * each).then(|| (mine / each).ceil() as usize)
    }

    fn snapshot(&self) -> Partitions<R::Partition> {
        Partitions {
            open: self.open.iter().map(|(_, p, _)| p.clone()).collect(),
            done: self.done,
        }
    }
}

/// Reads the backfill `from` (a fresh one, or as the last committed checkpoint left it) in
/// partitions, concurrently, yielding each page with the set it leaves. Ends after the page
/// that completes the last partition, or after the first error; once ended it stays ended
/// (it may be polled again).
pub fn read_partitions<'a, R: PartitionReader>(
    reader: &'a R,
    from: Partitions<R::Partition>,
) -> impl Stream<Item = Result<PartitionStep<R::Partition>, SourceError>> + Send + 'a {
    let driver = Driver {
        reader,
        open: from
            .open
            .into_iter()
            .enumerate()
            .map(|(i, p)| (i as u64, p, false))
            .collect(),
        done: from.done,
        next_id: 1 << 32,
        flying: FuturesUnordered::new(),
        failed: false,
    };
    futures_util::stream::unfold(driver, |mut driver| async move {
        if driver.failed {
            return None;
        }
        driver.launch();
        let (id, page) = driver.flying.next().await?;
        match page {
            Ok(page) => {
                driver.apply(id, page.next);
                let set = driver.snapshot();
                Some((Ok((page.records, set)), driver))
            }
            Err(e) => {
                driver.failed = true;
                Some((Err(e), driver))
            }
        }
    })
    .fuse()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::record::Version;

    /// Items `lo..hi` read three at a time, each page taking 100 ms; counts pages in flight.
    #[derive(Default)]
    struct Numbers {
        in_flight: AtomicUsize,
        most: AtomicUsize,
        want: usize,
        /// Fail the page that starts at this item.
        fail_at: Option<u32>,
        /// Tell the driver how many pages each partition has left.
        sizes: bool,
    }

    impl PartitionReader for Numbers {
        type Partition = (u32, u32);

        async fn page(
            &self,
            (lo, hi): (u32, u32),
        ) -> Result<PartitionPage<(u32, u32)>, SourceError> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if self.fail_at == Some(lo) {
                return Err(SourceError::new(crate::ErrorKind::Network, "cut"));
            }
            let end = (lo + 3).min(hi);
            let records = (lo..end)
                .map(|i| Record::delete(i.to_string(), Version::new(0, 0)))
                .collect();
            let next = (end < hi).then_some((end, hi));
            Ok(PartitionPage { records, next })
        }

        fn split(&self, &(lo, hi): &(u32, u32), pieces: usize) -> Vec<(u32, u32)> {
            let step = ((hi - lo) / pieces as u32).max(3);
            let mut out = Vec::new();
            let mut at = lo;
            while at < hi {
                let end = if out.len() + 1 == pieces {
                    hi
                } else {
                    (at + step).min(hi)
                };
                out.push((at, end));
                at = end;
            }
            out
        }

        fn concurrency(&self) -> usize {
            self.want
        }

        fn pages_left(&self, &(lo, hi): &(u32, u32)) -> Option<f64> {
            self.sizes.then(|| f64::from(hi - lo) / 3.0)
        }
    }

    /// Items read three a page, 100 ms a page, on two budgets: a partition is `(budget, lo,
    /// hi)`; budget 0 keeps one page in flight, budget 1 two. Never split, so launching alone
    /// shows. `hands_over`: budget 1 may take partitions queued on budget 0.
    struct TwoBudgets {
        in_flight: [AtomicUsize; 2],
        most: [AtomicUsize; 2],
        hands_over: bool,
    }

    impl PartitionReader for TwoBudgets {
        type Partition = (usize, u32, u32);

        async fn page(
            &self,
            (budget, lo, hi): (usize, u32, u32),
        ) -> Result<PartitionPage<(usize, u32, u32)>, SourceError> {
            let now = self.in_flight[budget].fetch_add(1, Ordering::SeqCst) + 1;
            self.most[budget].fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            self.in_flight[budget].fetch_sub(1, Ordering::SeqCst);
            let end = (lo + 3).min(hi);
            let records = (lo..end)
                .map(|i| Record::delete(i.to_string(), Version::new(0, 0)))
                .collect();
            let next = (end < hi).then_some((budget, end, hi));
            Ok(PartitionPage { records, next })
        }

        fn split(&self, partition: &(usize, u32, u32), _pieces: usize) -> Vec<(usize, u32, u32)> {
            vec![*partition]
        }

        fn concurrency(&self) -> usize {
            3
        }

        fn budgets(&self) -> usize {
            2
        }

        fn budget_of(&self, &(budget, _, _): &(usize, u32, u32)) -> usize {
            budget
        }

        fn concurrency_on(&self, budget: usize) -> usize {
            budget + 1
        }

        fn hand_over(
            &self,
            &(_, lo, hi): &(usize, u32, u32),
            budget: usize,
        ) -> Option<(usize, u32, u32)> {
            self.hands_over.then_some((budget, lo, hi))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_budget_keeps_its_own_pages_in_flight_and_one_with_room_takes_anothers_queue() {
        for hands_over in [false, true] {
            let reader = TwoBudgets {
                in_flight: Default::default(),
                most: Default::default(),
                hands_over,
            };
            let queued = (0..6).map(|i| (0, i * 30, i * 30 + 30)).collect();
            let steps: Vec<_> = read_partitions(&reader, Partitions::new(queued))
                .collect()
                .await;
            let mut ids: Vec<u32> = (steps.into_iter())
                .flat_map(|step| step.expect("no failure").0)
                .map(|r| r.id.parse().unwrap_or(u32::MAX))
                .collect();
            ids.sort_unstable();
            assert_eq!(ids, (0..180).collect::<Vec<_>>(), "every item once");
            let most = reader.most.each_ref().map(|m| m.load(Ordering::SeqCst));
            assert_eq!(
                most[0], 1,
                "budget 0's queue waits for its one page in flight, not the three of both"
            );
            let expected = if hands_over { 2 } else { 0 };
            assert_eq!(
                most[1], expected,
                "budget 1 takes what waits on budget 0 only when the reader can hand it over"
            );
        }
    }

    type Step = Result<(Vec<u32>, Partitions<(u32, u32)>), String>;
    type Steps = Vec<Step>;

    async fn read_all(reader: &Numbers, from: Partitions<(u32, u32)>) -> Steps {
        let steps: Vec<_> = read_partitions(reader, from).collect().await;
        steps
            .into_iter()
            .map(|step| {
                let (records, set) = step.map_err(|e| e.message)?;
                let ids = records.iter().map(|r| r.id.parse().unwrap_or(u32::MAX));
                Ok((ids.collect(), set))
            })
            .collect()
    }

    /// Every item the steps yielded, sorted (duplicates kept, so they show).
    fn items(steps: &[Step]) -> Vec<u32> {
        let mut all: Vec<u32> = steps
            .iter()
            .flatten()
            .flat_map(|(ids, _)| ids.clone())
            .collect();
        all.sort_unstable();
        all
    }

    #[tokio::test(start_paused = true)]
    async fn a_large_range_splits_to_the_concurrency_and_every_item_is_read_once() {
        let reader = Numbers {
            want: 4,
            ..Numbers::default()
        };
        let steps = read_all(&reader, Partitions::new(vec![(0, 100)])).await;
        assert_eq!(items(&steps), (0..100).collect::<Vec<_>>());
        assert_eq!(
            reader.most.load(Ordering::SeqCst),
            4,
            "pages in flight reach the concurrency and never pass it"
        );
        let sets: Vec<_> = steps.iter().flatten().map(|(_, set)| set).collect();
        let last = sets.last().expect("a last set");
        assert!(last.complete());
        assert!(
            last.done >= 4,
            "the range was split: {} partitions",
            last.done
        );
        assert!(
            sets.iter().all(|s| s.open.len() <= 4),
            "never more open partitions than pages in flight"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn room_for_one_more_does_not_split_room_for_several_does() {
        let reader = Numbers {
            want: 16,
            ..Numbers::default()
        };
        // One long range and fourteen of one page: room for one more partition until the
        // short ones end.
        let mut ranges = vec![(0, 600)];
        ranges.extend((0..14).map(|i| (600 + 3 * i, 603 + 3 * i)));
        let steps = read_all(&reader, Partitions::new(ranges)).await;
        assert_eq!(items(&steps), (0..642).collect::<Vec<_>>());
        let sets: Vec<_> = steps.iter().flatten().map(|(_, set)| set).collect();
        assert!(
            sets.iter()
                .filter(|s| s.done == 0)
                .all(|s| s.open.len() == 15),
            "a split costs a request: not for room of one"
        );
        let last = sets.last().expect("a last set");
        assert!(
            last.done > 15,
            "the long range was split once the short ones left room: {} partitions",
            last.done
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_partition_far_longer_than_its_share_is_cut_and_its_pieces_wait_their_turn() {
        let reader = Numbers {
            want: 4,
            sizes: true,
            ..Numbers::default()
        };
        // No room: four partitions for four pages in flight, one of 100 pages, three of 10.
        let ranges = vec![(0, 300), (300, 330), (330, 360), (360, 390)];
        let steps = read_all(&reader, Partitions::new(ranges)).await;
        assert_eq!(items(&steps), (0..390).collect::<Vec<_>>());
        let first_of_long = steps
            .iter()
            .flatten()
            .find(|(ids, _)| ids.contains(&0))
            .map(|(_, set)| set.clone())
            .expect("the long partition's first page");
        // 99 pages left against 30 in the others: its share is (99 + 30) / 4, so 4 pieces.
        assert_eq!(first_of_long.open.len(), 7, "{first_of_long:?}");
        assert_eq!(
            reader.most.load(Ordering::SeqCst),
            4,
            "the pieces wait: never more pages in flight than wanted"
        );
        // Without sizes the long partition waits for room, and stays whole until then.
        let blind = Numbers {
            want: 4,
            ..Numbers::default()
        };
        let steps = read_all(&blind, Partitions::new(vec![(0, 300), (300, 330)])).await;
        assert!(steps.iter().flatten().all(|(_, set)| set.open.len() <= 4));
    }

    #[tokio::test(start_paused = true)]
    async fn resuming_from_any_set_reads_exactly_what_was_not_yet_yielded() {
        let reader = Numbers {
            want: 3,
            ..Numbers::default()
        };
        let steps = read_all(&reader, Partitions::new(vec![(0, 60)])).await;
        for n in 0..steps.len() {
            let Ok((_, set)) = &steps[n] else {
                panic!("no failure expected")
            };
            let mut union = items(&steps[..=n]);
            union.extend(items(&read_all(&reader, set.clone()).await));
            union.sort_unstable();
            assert_eq!(union, (0..60).collect::<Vec<_>>(), "restart after step {n}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_page_ends_the_read_and_the_last_set_still_resumes_it() {
        let start = Partitions::new(vec![(0, 30), (30, 60)]);
        let failing = Numbers {
            want: 2,
            fail_at: Some(33),
            ..Numbers::default()
        };
        let steps = read_all(&failing, start.clone()).await;
        assert!(matches!(steps.last(), Some(Err(m)) if m == "cut"));
        let resume = steps
            .iter()
            .flatten()
            .last()
            .map_or(start, |(_, set)| set.clone());
        let fine = Numbers {
            want: 2,
            ..Numbers::default()
        };
        let mut union = items(&steps);
        union.extend(items(&read_all(&fine, resume).await));
        union.sort_unstable();
        assert_eq!(union, (0..60).collect::<Vec<_>>());
    }
}
