//! The list endpoint's share of a backfill (`GET /crm/v3/objects/{type}`, 100 records a
//! page, on the 10-second budget), read beside search (on its own per-second budget) so
//! neither budget idles.
//!
//! A listed range is ids `last < id <= upto`, read in ascending id order. This relies on the
//! list returning records in ascending id order. HubSpot does not document an order (apis.md
//! §2.3, unverified); the fake lists by ascending id, and HubSpot's own example cursor,
//! `NTI1Cg==`, is base64 of the next id. So every page is checked: ids must rise, page after
//! page. If they ever do not, the whole listed range is handed to search (a re-read writes
//! nothing twice: same record, same version).
//!
//! **Cursors made of ids.** One cursor is one page at a time: at 250 ms a call, 400 records
//! a second whatever the budget. To have several pages in flight, inlet makes cursors for
//! ranges that start anywhere, in HubSpot's example form: base64 of an id and a newline. The
//! cursor is documented as opaque, so a made one is trusted only once seen to work, and the
//! check costs no request: the list goes on from a cursor made of a page's last id but one
//! ([`made`]), so its first record above that id must be the page's last ([`starts_right`]).
//! The page is the list's own first one ([`made_after_first`]: a backfill asks for it with
//! the highest id, so the check is a round trip after the start), and, until a check has
//! passed, the first search page of a range for the list. A list that refuses the cursor,
//! or takes it as something else (an offset, say), fails the check; the first range then
//! goes on from the list's own cursor, other ranges are searched, and the stream makes no
//! more cursors. Once a page starts at the right record, the list's own cursors carry the
//! range on, each page checked as above. Once one made
//! cursor has passed its check, the list takes them: a range for the list is then listed at
//! once, from a cursor made of its lower bound ([`Handoff::Listed`]; the bound need not be
//! an id that exists, a list of id cursors seeks it as a key), and a range queued for search
//! while the list has room is handed to the list the same way.
//!
//! The list ends when a page passes `upto` (records above it are the next range's, and
//! dropped) or when the list does. When the engine splits a range while there is room for
//! more requests in flight, the new ranges go where the room is: listed while the list has
//! fewer pages in flight than its budget keeps busy (and cursors can be made), searched
//! otherwise. A listed range that cannot make cursors keeps the bottom part of its rest,
//! what it reads while search reads the top and what it still has of its own
//! ([`list_keeps`]); so neither budget idles at the end.
//!
//! A list request names its properties in the query string, and HubSpot's URL limit is not
//! known (apis.md §2.10, unverified). For a type whose list URL would pass [`MAX_LIST_URL`]
//! the list gives only the ids, and a batch read (by POST: no limit on properties) the
//! records: two requests per 100 records rather than one, but on the 10-second budget that
//! search leaves idle ([`ListWith::BatchRead`]).

use super::backfill::{aligned, no_request_more, split};
use super::position::{IdRange, Listed, Part};
use super::table::ObjectTable;
use super::window::PAGE;

/// Records a list page holds at most.
pub const LIST_PAGE: u64 = 100;

/// The longest list URL inlet sends, in bytes, scheme and host included. HubSpot's limit is
/// not documented; 8 KiB is the request-line limit common web servers and proxies set by
/// default (nginx's `large_client_header_buffers`, Apache's `LimitRequestLine` of 8,190),
/// and 8,000 stays under it. About 300 properties of HubSpot-length names fit.
pub const MAX_LIST_URL: usize = 8_000;

/// Room kept in the URL for the `after` cursor (HubSpot's are short base64 texts).
const CURSOR_ROOM: usize = 200;

/// How much more than its measured share of the work a list gets. A list that finishes
/// early idles its budget to the end; one that has too much is split again (its top handed
/// to search) as soon as search runs out, so erring long costs nothing.
const LIST_BIAS: f64 = 1.5;

/// How a list page gets its records' properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListWith {
    /// Named in the list URL (`properties`: names comma-separated, each fit for a query).
    Query(String),
    /// Too many for a URL: the list gives the ids, a batch read the records.
    BatchRead,
}

impl ListWith {
    /// Requests each list page of records costs.
    pub fn requests_per_page(&self) -> f64 {
        match self {
            ListWith::Query(_) => 1.0,
            ListWith::BatchRead => 2.0,
        }
    }
}

/// How `table`'s list requests from `base` get their properties: in the URL when a whole
/// list URL fits [`MAX_LIST_URL`], else by a batch read of the listed ids.
pub fn list_with(base: &str, table: &ObjectTable) -> ListWith {
    let names: Vec<String> = table
        .properties
        .iter()
        .map(|p| url::form_urlencoded::byte_serialize(p.name.as_bytes()).collect())
        .collect();
    let properties = names.join(",");
    let fixed = format!(
        "{base}/crm/v3/objects/{}?limit=100&archived=false&properties=&after=",
        table.api
    );
    if fixed.len() + properties.len() + CURSOR_ROOM <= MAX_LIST_URL {
        ListWith::Query(properties)
    } else {
        ListWith::BatchRead
    }
}

/// The share of the ids the list should read, from what each side reads a second (`list`
/// and `search`, records/s), biased towards the list (see [`LIST_BIAS`]).
pub fn list_share(list: f64, search: f64) -> f64 {
    let list = list.max(0.0) * LIST_BIAS;
    if list + search.max(0.0) <= 0.0 {
        return 0.5;
    }
    (list / (list + search.max(0.0))).clamp(0.05, 0.9)
}

/// The share of its rest (`listed` ids) a listed range keeps when split, search having
/// `searched` ids left in its own ranges: what the list reads while both sides read all
/// that is left at their speeds (records/s; the list's biased, see [`LIST_BIAS`]). 1: keep
/// it all (search has enough of its own).
pub fn list_keeps(list: f64, search: f64, listed: u64, searched: u64) -> f64 {
    let list = list.max(0.0) * LIST_BIAS;
    let both = list + search.max(0.0);
    if listed == 0 || both <= 0.0 {
        return 1.0;
    }
    let kept = list * (listed + searched) as f64 / both;
    (kept / listed as f64).min(1.0)
}

/// A list cursor made of `id`, in the form of HubSpot's own: the list goes on above it.
fn cursor(id: u64) -> String {
    data_encoding::BASE64.encode(format!("{id}\n").as_bytes())
}

/// The rest of a range, `last < id <= upto`, for the list to read from a cursor made of the
/// id `last`, where a search page found `last` and then `expect` (see the module).
pub fn made(last: u64, expect: u64, upto: u64) -> Listed {
    Listed {
        after: Some(cursor(last)),
        last,
        upto,
        expect: Some(expect),
        own: None,
    }
}

/// Where the list goes on after the first page of `range` (its `ids`, as listed; `next`:
/// where the list's own cursor leaves it), while no made cursor has yet been seen to work:
/// from a cursor made of the page's last id but one, its first record to be the page's
/// last, as after a search page ([`made`]), the list's own cursor kept in case it is not
/// ([`not_taken`]). So made cursors are checked a round trip after the start, with no
/// search page. `None`: not the list's first page, too short a one, or the list's last.
pub fn made_after_first(range: &Listed, ids: &[u64], next: &Option<Part>) -> Option<Listed> {
    match (&range.after, ids, next) {
        (None, [.., before, last], Some(Part::Listed(own))) => Some(Listed {
            own: own.after.clone(),
            ..made(*before, *last, range.upto)
        }),
        _ => None,
    }
}

/// What is left of `range` when the list did not take its made cursor: from the list's own
/// cursor where the range has one ([`made_after_first`]), else searched.
pub fn not_taken(range: &Listed) -> Part {
    match (&range.own, range.expect) {
        (Some(own), Some(seen)) => Part::Listed(Listed {
            after: Some(own.clone()),
            last: seen,
            upto: range.upto,
            expect: None,
            own: None,
        }),
        _ => searched_instead(range),
    }
}

/// Where a full search page of `range` (its `ids`, ascending) leaves it: searched on above
/// its last id, or, for a range to be handed to the list (and with `makes` true: no made
/// cursor has failed), listed from a cursor made of the page's last id but one, the list's
/// first record to be the page's last (not written again). The check costs no request.
pub fn after_search_page(range: IdRange, ids: &[u64], makes: bool) -> Part {
    match ids {
        [.., before, last] if range.list && makes => Part::Listed(made(*before, *last, range.upto)),
        _ => Part::Searched(IdRange {
            above: ids.last().copied().unwrap_or(range.above),
            upto: range.upto,
            list: range.list && makes,
        }),
    }
}

/// Whether the first page read from a made cursor (its `ids`, as listed) starts where it
/// should: its first record above the cursor's own id (the list may start at that one, the
/// range below's) is the one search found there.
pub fn starts_right(range: &Listed, ids: &[u64]) -> bool {
    range.expect.is_none() || ids.iter().find(|id| **id > range.last) == range.expect.as_ref()
}

/// How a range handed to the list starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handoff {
    /// Searched for a page first, whose ids check the made cursor the list goes on from.
    AfterSearchPage,
    /// Listed at once from a cursor made of its lower bound: a made cursor has passed its
    /// check in this backfill already, so the list takes them.
    Listed,
}

/// Ids of the first page from a made cursor that are not the range's to keep: up to the
/// record search found (it read that one already), or, for a range listed at once, up to
/// the cursor's own id (a list may start at it, and it is the range below's). `None`: a page
/// from the list's own cursor, every id of which is checked for order.
pub fn read_already(range: &Listed) -> Option<u64> {
    match range.expect {
        Some(seen) => Some(seen),
        None => (range.after.as_deref() == Some(cursor(range.last).as_str())).then_some(range.last),
    }
}

/// Ids `above < id <= upto` in up to `pieces` ranges cut where pages end ([`split`],
/// [`top_unit`]): the first `lists` handed to the list as `handoff` says, the rest searched.
fn hand_out(
    above: u64,
    upto: u64,
    pieces: usize,
    (lists, handoff): (usize, Handoff),
    unit: u64,
) -> Vec<Part> {
    let rest = IdRange {
        above,
        upto,
        list: false,
    };
    (split(rest, pieces, top_unit((lists, handoff), unit)).into_iter())
        .enumerate()
        .map(|(i, r)| match (i < lists, handoff) {
            (true, Handoff::Listed) => listed_at_once(r),
            (list, _) => Part::Searched(IdRange { list, ..r }),
        })
        .collect()
}

/// What is left of listed `range`, to be searched instead: above the record search found
/// for a made cursor (it read that one), else above the last listed.
pub fn searched_instead(range: &Listed) -> Part {
    Part::Searched(IdRange {
        above: range.read(),
        upto: range.upto,
        list: false,
    })
}

/// `range` listed at once, from a cursor made of its lower bound (see [`Handoff::Listed`]).
pub fn listed_at_once(range: IdRange) -> Part {
    Part::Listed(Listed {
        after: Some(cursor(range.above)),
        last: range.above,
        upto: range.upto,
        expect: None,
        own: None,
    })
}

/// A listed range not read yet: from the list's start, with no end (a fresh backfill's
/// first list page, asked for before the highest id is known).
pub fn unread() -> Listed {
    Listed {
        after: None,
        last: 0,
        upto: u64::MAX,
        expect: None,
        own: None,
    }
}

/// A fresh backfill of ids `0 < id <= top`, the list standing at `listed` (`None`: it has
/// ended): the bottom `share` listed (and whatever the list has read past it), the rest one
/// searched range (the engine splits it).
pub fn first_parts(top: u64, share: f64, listed: Option<Listed>) -> Vec<Part> {
    let Some(listed) = listed.filter(|l| l.read() < top) else {
        return Vec::new();
    };
    let cut = ((top as f64 * share.clamp(0.0, 1.0)) as u64).max(listed.read());
    let mut parts = Vec::new();
    if cut > listed.read() {
        parts.push(Part::Listed(Listed {
            upto: cut,
            ..listed
        }));
    }
    if cut < top {
        parts.push(Part::Searched(IdRange {
            above: cut,
            upto: top,
            list: false,
        }));
    }
    parts
}

/// What a list page of records with `ids` (in the order listed) makes of `range`: whether
/// to keep its records (those with ids up to `upto`), and the range's position after it
/// (`None`: done). `next`: the list's cursor after the page (`None`: the list's last page).
pub fn after_page(range: &Listed, ids: &[u64], next: Option<String>) -> (bool, Option<Part>) {
    let rising = ids
        .iter()
        .try_fold(range.last, |prev, &id| (id > prev).then_some(id));
    let Some(last) = rising else {
        // Not in id order: the list's end cannot be told, search reads the whole range.
        let all = IdRange {
            above: 0,
            upto: range.upto,
            list: false,
        };
        return (false, Some(Part::Searched(all)));
    };
    let passed = ids.last().is_some_and(|&id| id > range.upto);
    let position = match next {
        Some(after) if !passed => Some(Part::Listed(Listed {
            after: Some(after),
            last,
            upto: range.upto,
            expect: None,
            own: None,
        })),
        _ => None,
    };
    (true, position)
}

/// What is left of `range` (`last < id <= upto`) in up to `pieces` partitions: the list
/// keeps the bottom `keep` share from where it stands, in whole pages of `unit` ids (see
/// [`split`]); the top is split into ranges, as many as `lists` says handed to the list as it
/// says, the rest searched ([`hand_out`]). A rest too small to share stays whole.
pub fn split_listed(
    range: &Listed,
    pieces: usize,
    keep: f64,
    lists: (usize, Handoff),
    unit: u64,
) -> Vec<Part> {
    let span = range.upto.saturating_sub(range.last);
    let kept = aligned((span as f64 * keep.clamp(0.0, 1.0)) as u64, list_unit(unit));
    if pieces < 2 || !worth_cutting(span, kept, list_unit(unit), top_unit(lists, unit)) {
        return vec![Part::Listed(range.clone())];
    }
    let cut = range.last + kept;
    let mut out = vec![Part::Listed(Listed {
        upto: cut,
        ..range.clone()
    })];
    out.extend(hand_out(cut, range.upto, pieces - 1, lists, unit));
    out
}

/// Whether `span` ids, read `own` ids a page, are worth cutting into the bottom `kept` and a
/// top read `top` ids a page: a top of a page or more, or a shorter one that saves the whole
/// range its last, part-filled page. Such a top costs no request more (it is that page), and
/// the two are read at once rather than one after another: a range of a list page and a few
/// records, read whole at a backfill's end, held it back by a round trip.
fn worth_cutting(span: u64, kept: u64, own: u64, top: u64) -> bool {
    kept + top <= span || no_request_more(span, kept, own, top)
}

/// The ids a list page of records spans, from `unit`, those a search page spans.
pub fn list_unit(unit: u64) -> u64 {
    (unit * LIST_PAGE / PAGE as u64).max(1)
}

/// Where a split's new ranges are cut: where list pages end when some are listed at once
/// (search reads a half page at the end of some of the others), else where search pages
/// end (every one is searched first).
fn top_unit((lists, handoff): (usize, Handoff), unit: u64) -> u64 {
    match lists > 0 && handoff == Handoff::Listed {
        true => list_unit(unit),
        false => unit,
    }
}

/// What is left of a searched `range` in up to `pieces` ranges (see [`split`]): the first
/// goes on as it was, a whole number of search pages (`unit` ids each); the rest are handed
/// out ([`hand_out`]): as many as `lists` says to the list, the others searched. Ranges
/// listed at once are cut where list pages end, so a range of two search pages can still
/// end on two budgets.
pub fn split_searched(
    range: IdRange,
    pieces: usize,
    lists: (usize, Handoff),
    unit: u64,
) -> Vec<Part> {
    let span = range.upto.saturating_sub(range.above);
    let kept = aligned(span / pieces.max(1) as u64, unit);
    if pieces < 2 || !worth_cutting(span, kept, unit, top_unit(lists, unit)) {
        return vec![Part::Searched(range)];
    }
    let cut = range.above + kept;
    let first = Part::Searched(IdRange { upto: cut, ..range });
    std::iter::once(first)
        .chain(hand_out(cut, range.upto, pieces - 1, lists, unit))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hubspot::schema::Property;

    /// The ids a set of partitions covers, as `(above, upto]` spans in order.
    fn spans(parts: &[Part]) -> Vec<(u64, u64)> {
        parts
            .iter()
            .map(|p| match p {
                Part::Listed(l) => (l.last, l.upto),
                Part::Searched(r) => (r.above, r.upto),
            })
            .collect()
    }

    #[test]
    fn a_split_listed_range_covers_exactly_its_rest_the_list_keeping_the_bottom() {
        let range = Listed {
            after: Some("NTI1Cg==".into()),
            last: 524,
            upto: 20_524,
            expect: None,
            own: None,
        };
        let parts = split_listed(&range, 4, 0.3, (0, Handoff::AfterSearchPage), 1);
        assert_eq!(parts.len(), 4);
        let Part::Listed(kept) = &parts[0] else {
            panic!("the list keeps the bottom")
        };
        assert_eq!(
            (kept.after.as_deref(), kept.last),
            (Some("NTI1Cg=="), 524),
            "the list goes on from where it stands"
        );
        assert_eq!(kept.upto, 524 + 6_000);
        let Part::Listed(whole_pages) = &split_listed(&range, 4, 0.3, (0, Handoff::Listed), 200)[0]
        else {
            panic!("the list keeps the bottom")
        };
        assert_eq!(
            whole_pages.upto,
            524 + 60 * 100 - 5,
            "cut where a list page ends (100 ids, where a search page spans 200), less a \
             twentieth"
        );
        assert!(parts[1..].iter().all(|p| matches!(p, Part::Searched(_))));
        let spans = spans(&parts);
        assert_eq!(spans.first().map(|s| s.0), Some(524));
        assert_eq!(spans.last().map(|s| s.1), Some(20_524));
        assert!(
            spans.windows(2).all(|w| w[0].1 == w[1].0),
            "no gap, no overlap: {spans:?}"
        );
        // Too small to share (90 ids, 100 a list page), or no room: whole.
        let small = Listed {
            after: None,
            last: 0,
            upto: 90,
            expect: None,
            own: None,
        };
        assert_eq!(
            split_listed(&small, 4, 0.5, (0, Handoff::AfterSearchPage), 200),
            vec![Part::Listed(small)]
        );
        assert_eq!(
            split_listed(&range, 1, 0.5, (0, Handoff::AfterSearchPage), 1),
            vec![Part::Listed(range)]
        );
    }

    #[test]
    fn a_short_rest_is_cut_where_list_pages_end_so_its_pages_are_read_at_once() {
        // 200 ids a search page, so 100 a list page: 300 ids left are three list pages, which
        // one range reads one after another while the others have ended.
        let range = Listed {
            after: Some("c7".into()),
            last: 1_000,
            upto: 1_300,
            expect: None,
            own: None,
        };
        let parts = split_listed(&range, 3, 1.0 / 3.0, (2, Handoff::Listed), 200);
        assert_eq!(
            spans(&parts),
            [(1_000, 1_095), (1_095, 1_190), (1_190, 1_300)]
        );
        assert!(
            parts.iter().all(|p| matches!(p, Part::Listed(_))),
            "{parts:?}"
        );
        // Where a piece is searched first, it is cut where search pages end.
        let parts = split_listed(&range, 3, 1.0 / 3.0, (0, Handoff::AfterSearchPage), 200);
        assert_eq!(
            spans(&parts),
            [(1_000, 1_095), (1_095, 1_285), (1_285, 1_300)],
            "a search page, and the few ids past it beside it"
        );
        assert!(matches!(parts[1], Part::Searched(_)));

        // A search page and a half left: search keeps its page, the list takes the rest.
        let searched = IdRange {
            above: 2_000,
            upto: 2_300,
            list: false,
        };
        let parts = split_searched(searched, 2, (1, Handoff::Listed), 200);
        assert_eq!(spans(&parts), [(2_000, 2_190), (2_190, 2_300)]);
        assert!(matches!(parts[1], Part::Listed(_)), "{parts:?}");
        assert_eq!(
            spans(&split_searched(searched, 2, (0, Handoff::Listed), 200)),
            [(2_000, 2_190), (2_190, 2_300)],
            "search pages only: the half page is read beside the whole one, no request more"
        );
        let within_a_page = IdRange {
            upto: 2_150,
            ..searched
        };
        assert_eq!(
            split_searched(within_a_page, 2, (0, Handoff::Listed), 200),
            vec![Part::Searched(within_a_page)],
            "one search page: too small to cut"
        );
    }

    #[test]
    fn a_list_page_and_a_few_records_are_cut_so_the_few_are_searched_beside_it() {
        // Seen at a backfill's end: 207 ids, three list pages one after another (the last
        // of 7 records), while search, which reads 200 ids a page, had nothing to do.
        let range = Listed {
            after: Some("MTA0NTc".into()),
            last: 10_456,
            upto: 10_663,
            expect: None,
            own: None,
        };
        let parts = split_listed(&range, 3, 1.0 / 3.0, (0, Handoff::Listed), 200);
        assert_eq!(spans(&parts), [(10_456, 10_551), (10_551, 10_663)]);
        assert!(
            matches!(&parts[0], Part::Listed(l) if l.after == range.after),
            "the list goes on where it stands: {parts:?}"
        );
        assert!(matches!(parts[1], Part::Searched(_)), "{parts:?}");
    }

    #[test]
    fn a_split_hands_the_list_as_many_ranges_as_it_lacks() {
        let range = Listed {
            after: Some("c7".into()),
            last: 0,
            upto: 40_000,
            expect: None,
            own: None,
        };
        let kinds = |parts: &[Part]| -> Vec<String> {
            (parts.iter())
                .map(|p| match p {
                    Part::Listed(l) => {
                        format!("listed from {:?}, expecting {:?}", l.after, l.expect)
                    }
                    Part::Searched(r) => format!("searched, then listed: {}", r.list),
                })
                .collect()
        };
        let parts = split_listed(&range, 4, 0.25, (2, Handoff::AfterSearchPage), 1);
        assert_eq!(
            kinds(&parts),
            [
                "listed from Some(\"c7\"), expecting None",
                "searched, then listed: true",
                "searched, then listed: true",
                "searched, then listed: false",
            ],
            "the list goes on where it stands; two more ranges for it after a page of search"
        );
        let spans_of_four = vec![
            (0, 10_000),
            (10_000, 20_000),
            (20_000, 30_000),
            (30_000, 40_000),
        ];
        assert_eq!(spans(&parts), spans_of_four);

        // Once a made cursor has passed its check, the list's ranges are listed at once from
        // a cursor of their lower bound: base64 of `10000\n` and `20000\n`.
        let parts = split_listed(&range, 4, 0.25, (2, Handoff::Listed), 1);
        assert_eq!(
            kinds(&parts),
            [
                "listed from Some(\"c7\"), expecting None",
                "listed from Some(\"MTAwMDAK\"), expecting None",
                "listed from Some(\"MjAwMDAK\"), expecting None",
                "searched, then listed: false",
            ]
        );
        assert_eq!(spans(&parts), spans_of_four);
        let searched = IdRange {
            above: 0,
            upto: 40_000,
            list: false,
        };
        assert_eq!(
            kinds(&split_searched(searched, 4, (1, Handoff::Listed), 1)),
            [
                "searched, then listed: false",
                "listed from Some(\"MTAwMDAK\"), expecting None",
                "searched, then listed: false",
                "searched, then listed: false",
            ],
            "a searched range goes on; the list lacks one range"
        );
    }

    #[test]
    fn a_search_page_hands_its_range_to_the_list_from_a_cursor_of_its_last_id_but_one() {
        let range = IdRange {
            above: 300,
            upto: 1_000,
            list: true,
        };
        let ids: Vec<u64> = (326..=525).collect();
        let Part::Listed(listed) = after_search_page(range, &ids, true) else {
            panic!("handed to the list")
        };
        assert_eq!(
            listed,
            Listed {
                after: Some("NTI0Cg==".into()),
                last: 524,
                upto: 1_000,
                expect: Some(525),
                own: None,
            },
            "base64 of the id and a newline, as HubSpot's example cursor (`NTI1Cg==`: 525)"
        );
        // Not for the list, or made cursors failed: search goes on above the page.
        let on = Part::Searched(IdRange {
            above: 525,
            upto: 1_000,
            list: false,
        });
        let searched = IdRange {
            list: false,
            ..range
        };
        assert_eq!(after_search_page(searched, &ids, true), on);
        assert!(matches!(
            after_search_page(range, &ids, false),
            Part::Searched(IdRange { above: 525, .. })
        ));

        // The list's first record above 524 must be 525, where search found it.
        assert!(starts_right(&listed, &[525, 526]));
        assert!(
            starts_right(&listed, &[524, 525]),
            "the list may start at the cursor's own id"
        );
        // An offset taken for an id starts elsewhere: not trusted.
        assert!(!starts_right(&listed, &[560, 561]));
        assert!(!starts_right(&listed, &[]));
        // A range the list has read a page of has nothing to check.
        let going = Listed {
            expect: None,
            own: None,
            ..listed
        };
        assert!(starts_right(&going, &[560]));
    }

    #[test]
    fn the_lists_first_page_goes_on_from_a_cursor_made_of_its_last_id_but_one() {
        let first = unread();
        let (keep, next) = after_page(&first, &[3, 9, 400], Some("own".into()));
        assert!(keep);
        let made = made_after_first(&first, &[3, 9, 400], &next);
        assert_eq!(
            made,
            Some(Listed {
                after: Some("OQo=".into()),
                last: 9,
                upto: u64::MAX,
                expect: Some(400),
                own: Some("own".into()),
            }),
            "base64 of `9\\n`; the list's next record above 9 must be 400"
        );
        assert_eq!(
            made_after_first(&first, &[3], &next),
            None,
            "too short to check"
        );
        assert_eq!(
            made_after_first(&first, &[3, 9], &None),
            None,
            "the list's last page"
        );
        let going = Listed {
            after: Some("c1".into()),
            ..first
        };
        assert_eq!(
            made_after_first(&going, &[3, 9], &next),
            None,
            "not the first page"
        );

        // Not taken: the list goes on from its own cursor, above the record it had read.
        let made = made.expect("a made cursor");
        assert_eq!(
            not_taken(&Listed {
                upto: 5_000,
                ..made
            }),
            Part::Listed(Listed {
                after: Some("own".into()),
                last: 400,
                upto: 5_000,
                expect: None,
                own: None,
            })
        );
        // One made after a search page has no cursor of the list's own: searched.
        assert_eq!(
            not_taken(&super::made(9, 400, 5_000)),
            searched_instead(&super::made(9, 400, 5_000))
        );
    }

    #[test]
    fn a_list_page_ends_the_range_when_it_passes_upto_or_the_list_ends() {
        let range = Listed {
            after: None,
            last: 0,
            upto: 1_000,
            expect: None,
            own: None,
        };
        let (keep, next) = after_page(&range, &[3, 9, 400], Some("c1".into()));
        assert!(keep);
        assert_eq!(
            next,
            Some(Part::Listed(Listed {
                after: Some("c1".into()),
                last: 400,
                upto: 1_000,
                expect: None,
                own: None,
            }))
        );
        let at = Listed {
            after: Some("c1".into()),
            last: 400,
            upto: 1_000,
            expect: None,
            own: None,
        };
        assert!(
            after_page(&at, &[900, 1_000], Some("c2".into()))
                .1
                .is_some(),
            "upto itself is the list's"
        );
        assert_eq!(
            after_page(&at, &[900, 1_001], Some("c2".into())),
            (true, None)
        );
        assert_eq!(after_page(&at, &[900], None), (true, None));
        assert_eq!(after_page(&at, &[], None), (true, None));
        // Out of order: search takes the whole range over.
        let all = Some(Part::Searched(IdRange {
            above: 0,
            upto: 1_000,
            list: false,
        }));
        assert_eq!(
            after_page(&at, &[500, 450], Some("c2".into())),
            (false, all.clone())
        );
        assert_eq!(after_page(&at, &[400], Some("c2".into())), (false, all));
    }

    #[test]
    fn the_list_gives_search_only_what_search_lacks() {
        // Search has plenty of its own: the list keeps all.
        assert_eq!(list_keeps(300.0, 800.0, 4_000, 10_000), 1.0);
        // Search has nothing left: the list keeps its biased share.
        let share = list_keeps(300.0, 800.0, 10_000, 0);
        assert!((share - 450.0 / 1_250.0).abs() < 1e-9, "{share}");
        // Some left: in between.
        let some = list_keeps(300.0, 800.0, 10_000, 5_000);
        assert!(some > share && some < 1.0, "{some}");
    }

    #[test]
    fn a_fresh_backfill_lists_the_bottom_share_and_searches_the_rest() {
        let unread = Some(unread());
        assert_eq!(
            spans(&first_parts(10_000, 0.4, unread.clone())),
            vec![(0, 4_000), (4_000, 10_000)]
        );
        assert!(matches!(
            &first_parts(10_000, 0.4, unread.clone())[0],
            Part::Listed(Listed { after: None, .. })
        ));
        assert_eq!(
            spans(&first_parts(10_000, 0.0, unread.clone())),
            vec![(0, 10_000)]
        );
        assert!(first_parts(0, 0.4, unread).is_empty());
        // The list's first page read: it goes on from its cursor, to the share or past it.
        let read = Listed {
            after: Some("c1".into()),
            last: 100,
            upto: u64::MAX,
            expect: None,
            own: None,
        };
        let parts = first_parts(10_000, 0.4, Some(read.clone()));
        assert_eq!(spans(&parts), vec![(100, 4_000), (4_000, 10_000)]);
        assert!(matches!(&parts[0], Part::Listed(l) if l.after.as_deref() == Some("c1")));
        assert_eq!(
            spans(&first_parts(10_000, 0.0, Some(read.clone()))),
            vec![(100, 10_000)],
            "search from where the list stands"
        );
        assert!(
            first_parts(90, 0.4, Some(read)).is_empty(),
            "the first page read up to the highest id: done"
        );
        assert!(first_parts(10_000, 0.4, None).is_empty(), "the list ended");
        assert!((list_share(500.0, 750.0) - 0.5).abs() < 1e-9);
        assert_eq!(list_share(0.0, 800.0), 0.05);
    }

    #[test]
    fn properties_that_would_make_too_long_a_url_are_read_by_batch_read() {
        let property = |i: usize| Property {
            name: format!("custom_property_number_{i:04}"),
            label: String::new(),
            kind: "string".into(),
            field_type: "text".into(),
            options: Vec::new(),
        };
        let table = |n: usize| ObjectTable {
            api: "contacts".into(),
            table: "contact".into(),
            modified: "lastmodifieddate",
            properties: (0..n).map(property).collect(),
        };
        let base = "https://api.hubapi.com";
        let ListWith::Query(listed) = list_with(base, &table(200)) else {
            panic!("200 properties fit")
        };
        assert!(listed.starts_with("custom_property_number_0000,custom_property_number_0001,"));
        assert_eq!(list_with(base, &table(500)), ListWith::BatchRead);
    }
}
