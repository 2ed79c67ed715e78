//! A Stripe backfill in partitions: `created` windows of a list, read concurrently.
//!
//! A fresh backfill reads the list's first page (its newest objects), then goes on as one
//! window from the last of them back to when the account was opened. Objects created while
//! it runs are in the events feed, which the stream follows from the second before that
//! first page was served. Each page of a window is read newest first with `starting_after`;
//! when a page says there is more and the sync has room for more requests in flight (or the
//! window is far longer than its share), what is left of the window is split into windows
//! of whole pages, by how densely the pages read so far were filled (see
//! [`Window::split`]). Objects deleted while a window is
//! read are either listed (then the delete event applies after) or not (nothing to undo).
//! A cursor whose object was deleted resumes at the cursor's second (see
//! [`super::backfill::page_of`]), so nothing is lost and a reread changes nothing.

use std::sync::atomic::{AtomicI64, Ordering};

use inlet_core::{ErrorKind, PartitionPage, PartitionReader, Partitions, SourceError};
use serde::{Deserialize, Serialize};

use super::backfill;
use super::position::Cursor;
use super::schema::Schema;
use super::streams::StreamDef;
use super::StripeSource;

/// When no `/v1/account` can be read: before Stripe's first live accounts, so every object
/// is later (the windows before the first object cost a request each).
pub const EARLIEST: i64 = 1_262_304_000; // 2010-01-01

/// Times a page answered 429 is read again before the stream fails (and resumes from its
/// checkpoint, as the engine does for any error).
const RATE_LIMITED_ATTEMPTS: u32 = 8;

/// Part of a list: objects with `created` in `gte..=lte` (a missing bound: none), after
/// `after` (the last object copied; newest first).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gte: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lte: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Cursor>,
}

impl Window {
    /// The newest second still to read: the cursor's (its second may hold more objects),
    /// else the upper bound.
    fn top(&self) -> Option<i64> {
        self.after.as_ref().map(|a| a.created).or(self.lte)
    }

    /// What is left of this window as up to `pieces` windows: the first keeps the cursor
    /// and the newest seconds, the others start fresh. With `page_seconds` (how many
    /// seconds of `created` one full page has spanned so far) each window is sized to
    /// hold whole pages, and there are never more windows than pages left: a window ends
    /// on a part-filled page, so every extra one costs a request. Without it, windows are
    /// of about equal time. A window without both ends (a list that takes no `created`
    /// filter, or an old checkpoint), spanning a single second, or holding at most one
    /// page stays whole.
    pub fn split(&self, pieces: usize, page_seconds: Option<f64>) -> Vec<Window> {
        let (Some(gte), Some(top)) = (self.gte, self.top()) else {
            return vec![self.clone()];
        };
        let seconds = top - gte + 1;
        let mut pieces = (pieces.max(1) as i64).min(seconds);
        let size = match page_seconds {
            Some(per_page) => {
                let per_page = per_page.max(1e-3);
                // `as` saturates: a huge count only means "more pages than pieces".
                let pages = (seconds as f64 / per_page).ceil() as i64;
                pieces = pieces.min(pages);
                if pieces < 2 {
                    return vec![self.clone()];
                }
                let pages_each = (pages + pieces - 1) / pieces;
                ((pages_each as f64 * per_page).round() as i64).clamp(1, seconds)
            }
            None => seconds / pieces.max(1),
        };
        // Rounding a window up to whole pages can leave fewer windows than asked.
        pieces = pieces.min((seconds + size - 1) / size);
        if pieces < 2 {
            return vec![self.clone()];
        }
        let mut out = vec![Window {
            gte: Some(top - size + 1),
            lte: Some(top),
            after: self.after.clone(),
        }];
        // The rest, gte..=top-size, in pieces-1 windows, oldest last (it takes what is left).
        let mut upper = top - size;
        for n in (0..pieces - 1).rev() {
            let lower = if n == 0 { gte } else { upper - size + 1 };
            out.push(Window {
                gte: Some(lower),
                lte: Some(upper),
                after: None,
            });
            upper = lower - 1;
        }
        out
    }

    /// About how many pages are left, at `page_seconds` seconds of `created` a page; `None`
    /// for a window without both ends (its first page not yet read).
    pub fn pages_left(&self, page_seconds: f64) -> Option<f64> {
        let seconds = (self.top()? - self.gte? + 1).max(0);
        Some(seconds as f64 / page_seconds.max(1e-3))
    }

    /// Seconds of this window still to read, for progress.
    fn seconds_left(&self, now: i64) -> Option<i64> {
        let gte = self.gte?;
        Some((self.top().unwrap_or(now) - gte + 1).max(0))
    }
}

/// The share of a backfill done, reading its span (`from` to `now`) as evenly filled:
/// never 1 before the end. `None` when a window cannot tell.
pub fn share_done(set: &Partitions<Window>, from: i64, now: i64) -> Option<f64> {
    let span = (now - from + 1) as f64;
    let mut left = 0i64;
    for window in &set.open {
        left += window.seconds_left(now)?;
    }
    (span > 0.0).then(|| (1.0 - left as f64 / span).clamp(0.0, 0.99))
}

/// The next page of `window`, read again while it answers 429: that has already slowed the
/// whole sync (the rate limiter waits out its Retry-After for every request), and reading
/// the page again is better than making every partition start over from the checkpoint.
pub async fn step(
    source: &StripeSource,
    def: &StreamDef,
    schema: &Schema,
    window: &Window,
) -> Result<backfill::Step, SourceError> {
    let mut attempt = 1;
    loop {
        let fan_out = source.concurrency(def.child_path().unwrap_or(def.list_path()));
        match backfill::step(&source.client, def, schema, window, fan_out).await {
            Err(e) if e.kind == ErrorKind::RateLimited && attempt < RATE_LIMITED_ATTEMPTS => {
                tracing::debug!(
                    stream = def.name,
                    attempt,
                    "rate limited; reading the page again"
                );
                attempt += 1;
            }
            step => return step,
        }
    }
}

/// Seconds of `created` one full page spans, from `pages` full pages that spanned `spanned`
/// seconds together; `None` without any.
pub fn page_seconds(pages: i64, spanned: i64) -> Option<f64> {
    // A page of n objects spans n-1 gaps between them; a full page holds 100.
    (pages > 0).then(|| spanned as f64 / pages as f64 * 100.0 / 99.0)
}

/// One stream's windows, read through the source's client.
pub struct Windows<'a> {
    source: &'a StripeSource,
    def: &'static StreamDef,
    schema: &'a Schema,
    /// Full pages read so far, and the seconds of `created` they spanned together: how
    /// densely the list is filled, to size the windows a split makes.
    full_pages: AtomicI64,
    spanned: AtomicI64,
}

impl<'a> Windows<'a> {
    pub fn new(source: &'a StripeSource, def: &'static StreamDef, schema: &'a Schema) -> Self {
        Windows {
            source,
            def,
            schema,
            full_pages: AtomicI64::new(0),
            spanned: AtomicI64::new(0),
        }
    }

    /// Seconds of `created` one full page spans, on average over the pages read so far;
    /// `None` before the first full page.
    fn page_seconds(&self) -> Option<f64> {
        let pages = self.full_pages.load(Ordering::Relaxed);
        page_seconds(pages, self.spanned.load(Ordering::Relaxed))
    }
}

impl PartitionReader for Windows<'_> {
    type Partition = Window;

    async fn page(&self, window: Window) -> Result<PartitionPage<Window>, SourceError> {
        let step = step(self.source, self.def, self.schema, &window).await?;
        if step.next.is_some() {
            self.full_pages.fetch_add(1, Ordering::Relaxed);
            self.spanned.fetch_add(step.span.max(0), Ordering::Relaxed);
        }
        let next = step.next.map(|after| Window {
            after: Some(after),
            ..window
        });
        Ok(PartitionPage {
            records: step.records,
            next,
        })
    }

    fn split(&self, window: &Window, pieces: usize) -> Vec<Window> {
        window.split(pieces, self.page_seconds())
    }

    fn concurrency(&self) -> usize {
        self.source.concurrency(self.def.list_path())
    }

    fn pages_left(&self, window: &Window) -> Option<f64> {
        window.pages_left(self.page_seconds()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(created: i64) -> Option<Cursor> {
        Some(Cursor {
            id: Some("cus_x".into()),
            created,
        })
    }

    #[test]
    fn a_split_covers_exactly_the_rest_and_the_cursor_stays_with_the_newest_seconds() {
        let window = Window {
            gte: Some(100),
            lte: None,
            after: cursor(199),
        };
        let pieces = window.split(4, None);
        assert_eq!(pieces.len(), 4);
        assert_eq!(
            pieces[0].after,
            cursor(199),
            "the cursor's second is not finished"
        );
        assert_eq!((pieces[0].gte, pieces[0].lte), (Some(175), Some(199)));
        let mut seconds: Vec<i64> = pieces
            .iter()
            .flat_map(|w| w.gte.unwrap_or(0)..=w.lte.unwrap_or(0))
            .collect();
        seconds.sort_unstable();
        assert_eq!(
            seconds,
            (100..=199).collect::<Vec<_>>(),
            "no gap, no overlap"
        );
        assert!(pieces[1..].iter().all(|w| w.after.is_none()));
    }

    #[test]
    fn with_a_known_density_each_window_holds_whole_pages() {
        // 10 seconds a page (10 objects a second), 1,000 seconds left: 100 pages.
        let window = Window {
            gte: Some(1),
            lte: Some(1_000),
            after: None,
        };
        let pieces = window.split(4, Some(10.0));
        let sizes: Vec<i64> = pieces
            .iter()
            .map(|w| w.lte.unwrap_or(0) - w.gte.unwrap_or(0) + 1)
            .collect();
        assert_eq!(sizes, vec![250, 250, 250, 250], "25 whole pages each");
        // Asked for 29 windows where 3 pages are left: 3 windows of a page each.
        let small = Window {
            gte: Some(1),
            lte: Some(30),
            after: None,
        };
        let sizes: Vec<i64> = (small.split(29, Some(10.0)).iter())
            .map(|w| w.lte.unwrap_or(0) - w.gte.unwrap_or(0) + 1)
            .collect();
        assert_eq!(sizes, vec![10, 10, 10]);
        // Rounding up to whole pages: 7 pages in 3 windows of 3 pages, 3, and the rest.
        let sizes: Vec<i64> = (Window {
            gte: Some(1),
            lte: Some(70),
            after: None,
        }
        .split(3, Some(10.0))
        .iter())
        .map(|w| w.lte.unwrap_or(0) - w.gte.unwrap_or(0) + 1)
        .collect();
        assert_eq!(sizes, vec![30, 30, 10]);
    }

    #[test]
    fn a_range_of_at_most_a_page_is_not_split() {
        let one_page = Window {
            gte: Some(1),
            lte: Some(1_000),
            after: cursor(900),
        };
        assert_eq!(one_page.split(8, Some(1_000.0)), vec![one_page.clone()]);
        let empty_so_far = Window {
            gte: Some(1),
            lte: Some(1_000_000),
            after: None,
        };
        assert_eq!(
            empty_so_far.split(8, Some(2_000_000.0)),
            vec![empty_so_far.clone()],
            "a sparse range is read as it is"
        );
    }

    #[test]
    fn windows_that_cannot_split_stay_whole() {
        let unbounded = Window {
            after: cursor(5),
            ..Window::default()
        };
        assert_eq!(unbounded.split(8, None), vec![unbounded.clone()]);
        let one_second = Window {
            gte: Some(7),
            lte: Some(9),
            after: cursor(7),
        };
        assert_eq!(one_second.split(8, None), vec![one_second.clone()]);
        let three = Window {
            gte: Some(1),
            lte: Some(3),
            after: None,
        };
        assert_eq!(three.split(8, None).len(), 3, "no more pieces than seconds");
    }

    #[test]
    fn pages_left_are_the_seconds_left_at_the_density_read() {
        let window = Window {
            gte: Some(1),
            lte: Some(1_000),
            after: cursor(500),
        };
        assert_eq!(
            window.pages_left(10.0),
            Some(50.0),
            "500 seconds, 10 a page"
        );
        let fresh = Window {
            gte: Some(1),
            ..Window::default()
        };
        assert_eq!(fresh.pages_left(10.0), None, "no top before the first page");
    }

    #[test]
    fn progress_is_the_share_of_the_span_read_and_never_complete_early() {
        let set = Partitions::new(vec![
            Window {
                gte: Some(0),
                lte: Some(49),
                after: None,
            },
            Window {
                gte: Some(50),
                lte: None,
                after: cursor(74),
            },
        ]);
        assert_eq!(share_done(&set, 0, 99), Some(0.25));
        let done = Partitions::new(vec![Window {
            gte: Some(0),
            lte: Some(0),
            after: None,
        }]);
        assert_eq!(share_done(&done, 0, 99), Some(0.99));
        let old = Partitions::new(vec![Window::default()]);
        assert_eq!(share_done(&old, 0, 99), None);
    }
}
