//! A backfill by list and search over a simulated portal, through the engine's partitioned
//! read: the same decisions as [`super::backfill::Reader`] (a list page's end, the splits of
//! listed and searched ranges, ranges listed from made cursors), with the HTTP calls
//! replaced by a sorted set of ids, so that
//! every way the engine interleaves and splits them, and a restart from any checkpoint,
//! can be checked to read every record exactly once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use inlet_core::{read_partitions, PartitionPage, PartitionReader, Partitions, SourceError};
use inlet_core::{Change, Record, Version};

use super::listed::{
    after_page, after_search_page, first_parts, listed_at_once, made_after_first, read_already,
    searched_instead, split_listed, split_searched, starts_right, unread, Handoff, LIST_PAGE,
};
use super::position::Part;
use super::window::PAGE;

/// Ids a search page spans in the simulated portal (two ids in three are records), as
/// [`super::backfill::Spacing`] would measure.
const UNIT: u64 = 300;

/// A portal's ids, a list that pages them upward (its cursor the next id, as text, or
/// base64 of an id and a newline, as inlet makes them), and search by id range; the list
/// takes 250 ms a page, search 100 ms. `lists`: list pages wanted in flight when cursors
/// are made (0: none made, one list page at a time).
struct Portal {
    ids: Vec<u64>,
    share: f64,
    searches: usize,
    lists: usize,
    listed_open: AtomicUsize,
    /// A made cursor passed its check: later ranges for the list are listed at once.
    made_worked: AtomicBool,
}

/// The id a cursor names: plain, or base64 of it and a newline.
fn cursor_id(cursor: &str) -> u64 {
    (cursor.parse().ok())
        .or_else(|| {
            let bytes = data_encoding::BASE64.decode(cursor.as_bytes()).ok()?;
            String::from_utf8(bytes).ok()?.trim().parse().ok()
        })
        .expect("a cursor the list gave or inlet made")
}

fn records(ids: &[u64]) -> Vec<Record> {
    ids.iter()
        .map(|id| Record::upsert(id.to_string(), Version::new(0, 0), Default::default()))
        .collect()
}

impl PartitionReader for Portal {
    type Partition = Part;

    async fn page(&self, part: Part) -> Result<PartitionPage<Part>, SourceError> {
        match part {
            Part::Searched(range) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let found: Vec<u64> = (self.ids.iter())
                    .filter(|id| **id > range.above && **id <= range.upto)
                    .take(PAGE)
                    .copied()
                    .collect();
                let next = match found.last() {
                    Some(&last) if found.len() == PAGE && last < range.upto => {
                        Some(after_search_page(range, &found, true))
                    }
                    _ => None,
                };
                Ok(PartitionPage {
                    records: records(&found),
                    next,
                })
            }
            Part::Listed(range) => {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let from = range.after.as_deref().map_or(0, cursor_id);
                let mut page = self.ids.iter().filter(|id| **id >= from).copied();
                let mut found: Vec<u64> = page.by_ref().take(LIST_PAGE as usize).collect();
                let cursor = page.next().map(|id| id.to_string());
                assert!(starts_right(&range, &found), "the simulated list takes ids");
                if range.expect.is_some() {
                    self.made_worked.store(true, Ordering::Relaxed);
                }
                if let Some(seen) = read_already(&range) {
                    found.retain(|id| *id > seen);
                }
                let (keep, mut next) = after_page(&range, &found, cursor);
                assert!(keep, "the simulated list is in id order");
                let unchecked = self.lists > 0 && !self.made_worked.load(Ordering::Relaxed);
                if let (Some(made), true) = (made_after_first(&range, &found, &next), unchecked) {
                    next = Some(Part::Listed(made));
                }
                let mine: Vec<u64> = found.into_iter().filter(|id| *id <= range.upto).collect();
                Ok(PartitionPage {
                    records: records(&mine),
                    next,
                })
            }
        }
    }

    fn split(&self, part: &Part, pieces: usize) -> Vec<Part> {
        let listed = self.listed_open.load(Ordering::Relaxed);
        let lists = self.lists.saturating_sub(listed);
        let handoff = match self.made_worked.load(Ordering::Relaxed) {
            true => Handoff::Listed,
            false => Handoff::AfterSearchPage,
        };
        match part {
            Part::Searched(range) => split_searched(*range, pieces, (lists, handoff), UNIT),
            Part::Listed(range) => {
                let keep = match self.lists {
                    0 => self.share,
                    _ => 1.0 / pieces as f64,
                };
                split_listed(range, pieces, keep, (lists, handoff), UNIT)
            }
        }
    }

    fn concurrency(&self) -> usize {
        self.concurrency_on(0) + self.concurrency_on(1)
    }

    fn budgets(&self) -> usize {
        2
    }

    fn budget_of(&self, part: &Part) -> usize {
        match part {
            Part::Searched(_) => 0,
            Part::Listed(_) => 1,
        }
    }

    fn hand_over(&self, part: &Part, budget: usize) -> Option<Part> {
        match (part, budget) {
            (Part::Searched(range), 1) if self.made_worked.load(Ordering::Relaxed) => {
                Some(listed_at_once(*range))
            }
            (Part::Listed(range), 0) => Some(searched_instead(range)),
            _ => None,
        }
    }

    fn concurrency_on(&self, budget: usize) -> usize {
        let listed = self.listed_open.load(Ordering::Relaxed);
        match budget {
            0 => self.searches,
            _ => self.lists.max(listed.min(1)),
        }
    }
}

type Step = (Vec<u64>, Partitions<Part>);

/// Ranges open in `set` for the list: listed, or to be handed to it.
fn listed(set: &Partitions<Part>) -> usize {
    set.open.iter().filter(|p| p.for_list()).count()
}

async fn read_all(portal: &Portal, from: Partitions<Part>) -> Vec<Step> {
    portal.listed_open.store(listed(&from), Ordering::Relaxed);
    let steps: Vec<_> = read_partitions(portal, from)
        .inspect(|step| {
            if let Ok((_, set)) = step {
                portal.listed_open.store(listed(set), Ordering::Relaxed);
            }
        })
        .collect()
        .await;
    steps
        .into_iter()
        .map(|step| {
            let (records, set) = step.expect("no failure");
            let ids = records.iter().map(|r| {
                assert!(matches!(r.change, Change::Upsert(_)));
                r.id.parse().unwrap_or(u64::MAX)
            });
            (ids.collect(), set)
        })
        .collect()
}

fn ids_of(steps: &[Step]) -> Vec<u64> {
    let mut all: Vec<u64> = steps.iter().flat_map(|(ids, _)| ids.clone()).collect();
    all.sort_unstable();
    all
}

#[tokio::test(start_paused = true)]
async fn list_and_search_together_read_every_record_once_even_after_a_restart() {
    // Sparse ids, as a portal's are (other types take ids in between), a gap in the middle.
    let ids: Vec<u64> = (1_001..40_000u64)
        .filter(|id| id % 3 != 0 && !(15_000..19_000).contains(id))
        .collect();
    let top = *ids.last().expect("ids");
    for (share, lists) in [(0.1, 0), (0.4, 0), (0.8, 0), (0.4, 3)] {
        let portal = Portal {
            ids: ids.clone(),
            share,
            searches: 3,
            lists,
            listed_open: AtomicUsize::new(0),
            made_worked: AtomicBool::new(false),
        };
        let start = Partitions::new(first_parts(top, share, Some(unread())));
        let steps = read_all(&portal, start).await;
        assert_eq!(ids_of(&steps), ids, "share {share}: every id once");
        let sets = steps.iter().map(|(_, set)| set);
        assert!(
            sets.clone().any(|s| s
                .open
                .iter()
                .filter(|p| matches!(p, Part::Searched(_)))
                .count()
                > 1),
            "search ranges were split"
        );
        assert!(
            sets.filter(|s| s.open.iter().any(|p| matches!(p, Part::Listed(_))))
                .count()
                > 2,
            "the list read pages"
        );
        let listed_upto = (steps.iter().flat_map(|(_, set)| set.open.iter()))
            .filter_map(|p| match p {
                Part::Listed(l) => Some(l.upto),
                Part::Searched(_) => None,
            })
            .min();
        if lists > 0 {
            let most = steps.iter().map(|(_, set)| listed(set)).max();
            assert!(
                most >= Some(lists),
                "share {share}: made cursors gave the list {lists} ranges at once: {most:?}"
            );
            let handed = (steps.iter().flat_map(|(_, set)| set.open.iter()))
                .filter(|p| matches!(p, Part::Listed(l) if l.expect.is_some()))
                .count();
            assert!(
                handed > 0,
                "share {share}: search handed ranges to the list"
            );
            let made_of_its_bound = |l: &super::position::Listed| {
                let made = data_encoding::BASE64.encode(format!("{}\n", l.last).as_bytes());
                l.expect.is_none() && l.after.as_deref() == Some(made.as_str())
            };
            let at_once = (steps.iter().flat_map(|(_, set)| set.open.iter()))
                .filter(|p| matches!(p, Part::Listed(l) if made_of_its_bound(l)))
                .count();
            assert!(
                at_once > 0,
                "share {share}: once a made cursor worked, ranges were listed at once"
            );
        }
        if share > 0.5 {
            assert!(
                listed_upto < Some((top as f64 * share) as u64),
                "share {share}: once search ran out, the list handed it the top of its rest"
            );
        }
        // A restart from any step's checkpoint reads exactly what that step had not.
        for n in (0..steps.len()).step_by(7) {
            let mut union = ids_of(&steps[..=n]);
            union.extend(ids_of(&read_all(&portal, steps[n].1.clone()).await));
            union.sort_unstable();
            assert_eq!(union, ids, "share {share}: restart after step {n}");
        }
    }
}
