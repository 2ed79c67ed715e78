//! A Stripe backfill in partitions: `created` windows of a list, read concurrently.
//!
//! A fresh backfill starts as one window, from when the account was opened to now and
//! beyond (no upper bound: objects created while it runs are copied too, harmlessly, since
//! the events recorded before the backfill apply over them). Each page of a window is read
//! newest first with `starting_after`; when a page says there is more and the sync has room
//! for more requests in flight, what is left of the window is split by time (see
//! [`Window::split`]). Objects created while a window is read are newer than every window
//! but the top one's open end, and the events feed has them; objects deleted while it is
//! read are either listed (then the delete event applies after) or not (nothing to undo).
//! A cursor whose object was deleted resumes at the cursor's second (see
//! [`super::backfill::page_of`]), so nothing is lost and a reread changes nothing.

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

    /// What is left of this window as up to `pieces` windows of about equal time: the
    /// first keeps the cursor and the newest seconds, the others start fresh. A window
    /// without both ends (a list that takes no `created` filter, or an old checkpoint) or
    /// spanning a single second stays whole.
    pub fn split(&self, pieces: usize) -> Vec<Window> {
        let (Some(gte), Some(top)) = (self.gte, self.top()) else {
            return vec![self.clone()];
        };
        let seconds = top - gte + 1;
        let pieces = (pieces.max(1) as i64).min(seconds);
        if pieces < 2 {
            return vec![self.clone()];
        }
        let size = seconds / pieces;
        let mut out = vec![Window {
            gte: Some(top - size + 1),
            lte: Some(top),
            after: self.after.clone(),
        }];
        // The rest, gte..=top-size, in pieces-1 windows, oldest last.
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

/// One stream's windows, read through the source's client.
pub struct Windows<'a> {
    pub source: &'a StripeSource,
    pub def: &'static StreamDef,
    pub schema: &'a Schema,
}

impl PartitionReader for Windows<'_> {
    type Partition = Window;

    async fn page(&self, window: Window) -> Result<PartitionPage<Window>, SourceError> {
        let mut attempt = 1;
        let step = loop {
            let fan_out = self.source.concurrency();
            let client = &self.source.client;
            match backfill::step(client, self.def, self.schema, &window, fan_out).await {
                // A 429 has already slowed the whole sync (the rate limiter waits out its
                // Retry-After for every request): read this page again rather than make
                // every partition start over from the checkpoint.
                Err(e) if e.kind == ErrorKind::RateLimited && attempt < RATE_LIMITED_ATTEMPTS => {
                    tracing::debug!(
                        stream = self.def.name,
                        attempt,
                        "rate limited; reading the page again"
                    );
                    attempt += 1;
                }
                step => break step?,
            }
        };
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
        window.split(pieces)
    }

    fn concurrency(&self) -> usize {
        self.source.concurrency()
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
        let pieces = window.split(4);
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
    fn windows_that_cannot_split_stay_whole() {
        let unbounded = Window {
            after: cursor(5),
            ..Window::default()
        };
        assert_eq!(unbounded.split(8), vec![unbounded.clone()]);
        let one_second = Window {
            gte: Some(7),
            lte: Some(9),
            after: cursor(7),
        };
        assert_eq!(one_second.split(8), vec![one_second.clone()]);
        let three = Window {
            gte: Some(1),
            lte: Some(3),
            after: None,
        };
        assert_eq!(three.split(8).len(), 3, "no more pieces than seconds");
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
