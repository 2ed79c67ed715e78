//! Incremental reads through search (issue #14, item 6): which modified-date window to read
//! on each poll, and how to page through it.
//!
//! * **Keyset, not offsets.** Every page is a fresh query `modified ∈ [from, to] AND
//!   hs_object_id > last id seen`, sorted by `hs_object_id`, from offset 0. Offsets (`after`)
//!   would both hit the 10,000-result cap (paging past it is a 400) and skip records: when a
//!   record in the window is modified again while the window is being read, it leaves the
//!   window and every later record shifts one place left under the offset. A keyset query
//!   never goes past its first page, so no window, however busy (even 10,000 changes
//!   sharing one millisecond), reaches the cap, and nothing shifts.
//! * **Trailing re-read.** Search shows a change only after its indexing lag, so a change
//!   made at `t` may be missing from a read at `t + ε`. Each poll starts `lag` before where
//!   the last one ended; re-reading a record is harmless (the writer's merge is idempotent).

use serde_json::{json, Value};

/// Results per search page (HubSpot's maximum).
pub const PAGE: usize = 200;

/// Modified dates from `from_ms` to `to_ms`, both included (search's `BETWEEN`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
}

/// The window a poll reads: from `lag_ms` before the checkpoint (the end of the last window
/// read, plus one) up to `now_ms`; `None` when there is nothing new to ask for yet.
pub fn poll_window(checkpoint_ms: i64, now_ms: i64, lag_ms: i64) -> Option<Window> {
    let from_ms = checkpoint_ms.saturating_sub(lag_ms.max(0)).max(0);
    (now_ms >= from_ms && now_ms >= checkpoint_ms).then_some(Window {
        from_ms,
        to_ms: now_ms,
    })
}

/// The checkpoint once `window` has been read to its end.
pub fn checkpoint_after(window: Window) -> i64 {
    window.to_ms.saturating_add(1)
}

/// The search body for one page: the window on `modified` (`lastmodifieddate` for
/// contacts, `hs_lastmodifieddate` for the rest), ids above `above_id`, sorted by id.
pub fn search_body(window: Window, modified: &str, above_id: u64, properties: &[String]) -> Value {
    json!({
        "filterGroups": [{"filters": [
            {"propertyName": modified, "operator": "BETWEEN", "value": window.from_ms.to_string(), "highValue": window.to_ms.to_string()},
            {"propertyName": "hs_object_id", "operator": "GT", "value": above_id.to_string()},
        ]}],
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        "properties": properties,
        "limit": PAGE,
    })
}

/// Reading one window page by page: which id to ask above next, and when it is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowRead {
    pub window: Window,
    /// The last id read (0 before the first page).
    pub above_id: u64,
    pub done: bool,
}

impl WindowRead {
    pub fn new(window: Window) -> WindowRead {
        WindowRead {
            window,
            above_id: 0,
            done: false,
        }
    }

    /// Takes one page's ids (ascending, as asked); a short page ends the window.
    pub fn on_page(&mut self, ids: &[u64]) {
        if let Some(&last) = ids.last() {
            self.above_id = self.above_id.max(last);
        }
        self.done = ids.len() < PAGE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A search over `(id, modified)` records as HubSpot answers it: at most the cap
    /// reachable, `PAGE` per query.
    fn search(records: &[(u64, i64)], window: Window, above: u64) -> Vec<u64> {
        let mut ids: Vec<u64> = records
            .iter()
            .filter(|(id, m)| *id > above && (window.from_ms..=window.to_ms).contains(m))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids.truncate(PAGE);
        ids
    }

    fn read_all(
        records: &mut Vec<(u64, i64)>,
        window: Window,
        mut during: impl FnMut(&mut Vec<(u64, i64)>, usize),
    ) -> Vec<u64> {
        let mut read = WindowRead::new(window);
        let mut seen = Vec::new();
        let mut page = 0;
        while !read.done {
            let ids = search(records, window, read.above_id);
            seen.extend(&ids);
            read.on_page(&ids);
            during(records, page);
            page += 1;
            assert!(page < 1_000, "the read ends");
        }
        seen
    }

    #[test]
    fn more_than_ten_thousand_changes_in_one_millisecond_are_read_once_each() {
        let mut records: Vec<(u64, i64)> = (1..=10_450).map(|id| (id, 1_700_000_000_000)).collect();
        records.push((20_000, 1_700_000_000_001));
        let window = Window {
            from_ms: 1_700_000_000_000,
            to_ms: 1_700_000_000_000,
        };
        let seen = read_all(&mut records, window, |_, _| {});
        assert_eq!(seen, (1..=10_450).collect::<Vec<u64>>());
    }

    #[test]
    fn records_modified_again_mid_read_do_not_make_others_vanish() {
        let mut records: Vec<(u64, i64)> = (1..=1_000).map(|id| (id, 5_000 + id as i64)).collect();
        let window = Window {
            from_ms: 0,
            to_ms: 10_000,
        };
        // After each page, an already-read record is modified again (it leaves the window),
        // which under offset paging would shift every later record one place left.
        let seen = read_all(&mut records, window, |records, page| {
            records[page].1 = 20_000;
        });
        assert_eq!(seen, (1..=1_000).collect::<Vec<u64>>());
    }

    #[test]
    fn each_poll_rereads_the_lag_before_its_checkpoint() {
        let first = poll_window(0, 10_000, 2_000).expect("a window");
        assert_eq!(
            first,
            Window {
                from_ms: 0,
                to_ms: 10_000
            }
        );
        let checkpoint = checkpoint_after(first);
        let second = poll_window(checkpoint, 15_000, 2_000).expect("a window");
        assert_eq!(
            second,
            Window {
                from_ms: 8_001,
                to_ms: 15_000
            }
        );
        // A change at 9,500 that search only showed after 10,000 is inside the second window.
        assert!((second.from_ms..=second.to_ms).contains(&9_500));
        assert_eq!(
            poll_window(checkpoint, 9_000, 2_000),
            None,
            "a clock that went back asks nothing"
        );
        let body = search_body(second, "lastmodifieddate", 42, &["email".to_string()]);
        assert_eq!(
            body["filterGroups"][0]["filters"][0]["highValue"],
            json!("15000")
        );
        assert_eq!(body["filterGroups"][0]["filters"][1]["value"], json!("42"));
        assert_eq!(body["limit"], json!(200));
    }
}
