//! Stripe's list semantics over an ordered index: `limit` 1–100, `starting_after` /
//! `ending_before` cursors, `created` filters, `has_more`. A page walks the index from the
//! cursor's position, so it costs O(log n + limit) however large the table.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde_json::{Map, Value};

use super::errors::ApiError;
use super::store::Key;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cursor {
    StartingAfter(String),
    EndingBefore(String),
}

impl Cursor {
    pub fn param(&self) -> &'static str {
        match self {
            Cursor::StartingAfter(_) => "starting_after",
            Cursor::EndingBefore(_) => "ending_before",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Cursor::StartingAfter(id) | Cursor::EndingBefore(id) => id,
        }
    }
}

/// The common list parameters of every `GET /v1/<collection>`.
#[derive(Debug, Clone)]
pub(crate) struct ListParams {
    pub limit: usize,
    pub cursor: Option<Cursor>,
    /// Inclusive bounds on `created`.
    pub created_min: Option<i64>,
    pub created_max: Option<i64>,
    pub expand: Vec<String>,
}

fn integer(param: &str, value: &Value) -> Result<i64, ApiError> {
    match value {
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| ApiError::invalid_param(param, format!("Invalid integer: {s}"))),
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| ApiError::invalid_param(param, format!("Invalid integer: {n}"))),
        _ => Err(ApiError::invalid_param(param, "Invalid integer")),
    }
}

fn string_param<'a>(
    query: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, ApiError> {
    match query.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid_param(
            name,
            format!("Invalid string: {name} must be a string"),
        )),
    }
}

/// A list of strings given as `x[]=a&x[]=b`, `x[0]=a` or `x=a`.
pub(crate) fn string_list(query: &Map<String, Value>, name: &str) -> Result<Vec<String>, ApiError> {
    match query.get(name) {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ApiError::invalid_param(name, format!("Invalid array: {name}")))
            })
            .collect(),
        Some(_) => Err(ApiError::invalid_param(
            name,
            format!("Invalid array: {name}"),
        )),
    }
}

impl ListParams {
    pub fn parse(query: &Map<String, Value>) -> Result<ListParams, ApiError> {
        let limit = match query.get("limit") {
            None => 10,
            Some(v) => {
                let n = integer("limit", v)?;
                if !(1..=100).contains(&n) {
                    return Err(ApiError::invalid_param(
                        "limit",
                        format!("Invalid limit: must be between 1 and 100 (got {n})"),
                    ));
                }
                n as usize
            }
        };
        let after = string_param(query, "starting_after")?;
        let before = string_param(query, "ending_before")?;
        let cursor = match (after, before) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_param(
                    "ending_before",
                    "Received both starting_after and ending_before parameters. Please pass in only one.",
                ))
            }
            (Some(id), None) => Some(Cursor::StartingAfter(id.to_string())),
            (None, Some(id)) => Some(Cursor::EndingBefore(id.to_string())),
            (None, None) => None,
        };
        let (mut created_min, mut created_max) = (None::<i64>, None::<i64>);
        match query.get("created") {
            None => {}
            Some(Value::Object(range)) => {
                for (op, v) in range {
                    let param = format!("created[{op}]");
                    let t = integer(&param, v)?;
                    let (lo, hi) = match op.as_str() {
                        "gt" => (Some(t.saturating_add(1)), None),
                        "gte" => (Some(t), None),
                        "lt" => (None, Some(t.saturating_sub(1))),
                        "lte" => (None, Some(t)),
                        _ => {
                            return Err(ApiError::invalid_param(
                                &param,
                                format!("Received unknown parameter: {param}"),
                            ))
                        }
                    };
                    if let Some(lo) = lo {
                        created_min = Some(created_min.map_or(lo, |m| m.max(lo)));
                    }
                    if let Some(hi) = hi {
                        created_max = Some(created_max.map_or(hi, |m| m.min(hi)));
                    }
                }
            }
            Some(v) => {
                let t = integer("created", v)?;
                created_min = Some(t);
                created_max = Some(t);
            }
        }
        Ok(ListParams {
            limit,
            cursor,
            created_min,
            created_max,
            expand: string_list(query, "expand")?,
        })
    }

    /// Narrows the range to `created >= min` (expired events are out of every list).
    pub fn at_least(&mut self, min: i64) {
        self.created_min = Some(self.created_min.map_or(min, |m| m.max(min)));
    }
}

/// An ordered set of (key, slot): a table's main index or one parent's children.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Index<'a> {
    Tree(&'a BTreeMap<Key, u32>),
    Sorted(&'a [(Key, u32)]),
}

impl<'a> Index<'a> {
    fn range(
        self,
        lo: Bound<Key>,
        hi: Bound<Key>,
    ) -> Box<dyn DoubleEndedIterator<Item = u32> + 'a> {
        let empty = match (lo, hi) {
            (Bound::Included(a), Bound::Included(b)) => a > b,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b) | Bound::Included(b)) => {
                a >= b
            }
            _ => false,
        };
        if empty {
            return Box::new(std::iter::empty());
        }
        match self {
            Index::Tree(tree) => Box::new(tree.range((lo, hi)).map(|(_, &slot)| slot)),
            Index::Sorted(items) => {
                let start = match lo {
                    Bound::Included(k) => items.partition_point(|(x, _)| *x < k),
                    Bound::Excluded(k) => items.partition_point(|(x, _)| *x <= k),
                    Bound::Unbounded => 0,
                };
                let end = match hi {
                    Bound::Included(k) => items.partition_point(|(x, _)| *x <= k),
                    Bound::Excluded(k) => items.partition_point(|(x, _)| *x < k),
                    Bound::Unbounded => items.len(),
                };
                Box::new(items[start..end.max(start)].iter().map(|&(_, slot)| slot))
            }
        }
    }
}

/// One page of a list, newest first.
#[derive(Debug)]
pub(crate) struct Page {
    pub data: Vec<Map<String, Value>>,
    pub has_more: bool,
}

/// Pages through `index` from `cursor_key` (the cursor object's position, already checked
/// to be in this list). `accept` renders a slot, or says it does not match the filters.
pub(crate) fn page(
    index: Index<'_>,
    params: &ListParams,
    cursor_key: Option<Key>,
    mut accept: impl FnMut(u32) -> Option<Map<String, Value>>,
) -> Page {
    // Newest first: a larger `created` is a smaller key; ties put the larger seq first.
    let mut lo = params.created_max.map_or(Bound::Unbounded, |t| {
        Bound::Included(Key {
            created: t,
            seq: u64::MAX,
        })
    });
    let mut hi = params.created_min.map_or(Bound::Unbounded, |t| {
        Bound::Included(Key { created: t, seq: 0 })
    });
    let backwards = matches!(params.cursor, Some(Cursor::EndingBefore(_)));
    if let Some(key) = cursor_key {
        if backwards {
            if !matches!(hi, Bound::Included(h) if h < key) {
                hi = Bound::Excluded(key);
            }
        } else if !matches!(lo, Bound::Included(l) if l > key) {
            lo = Bound::Excluded(key);
        }
    }
    let mut data = Vec::with_capacity(params.limit);
    let mut has_more = false;
    let iter = index.range(lo, hi);
    let iter: Box<dyn Iterator<Item = u32>> = if backwards {
        Box::new(iter.rev())
    } else {
        iter
    };
    for slot in iter {
        if let Some(object) = accept(slot) {
            if data.len() == params.limit {
                has_more = true;
                break;
            }
            data.push(object);
        }
    }
    if backwards {
        data.reverse();
    }
    Page { data, has_more }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(q: Value) -> Result<ListParams, ApiError> {
        ListParams::parse(q.as_object().unwrap_or(&Map::new()))
    }

    fn ids(index: Index<'_>, p: &ListParams, cursor: Option<Key>) -> (Vec<u32>, bool) {
        let page = page(index, p, cursor, |slot| {
            let mut m = Map::new();
            m.insert("slot".into(), json!(slot));
            (slot != 99).then_some(m)
        });
        (
            page.data
                .iter()
                .filter_map(|m| m["slot"].as_u64())
                .map(|s| s as u32)
                .collect(),
            page.has_more,
        )
    }

    #[test]
    fn limits_and_cursor_conflicts_are_rejected() {
        assert_eq!(params(json!({})).map(|p| p.limit).ok(), Some(10));
        for bad in ["0", "101", "x"] {
            let err = params(json!({ "limit": bad }))
                .err()
                .map(|e| (e.status, e.param));
            assert_eq!(err, Some((400, Some("limit".to_string()))), "{bad}");
        }
        let both = params(json!({"starting_after": "a", "ending_before": "b"}));
        assert!(both.is_err());
    }

    #[test]
    fn pages_forward_and_backward_with_created_bounds() {
        // slots 0..10 created at 100 + slot / 2: pairs share a second.
        let items: BTreeMap<Key, u32> = (0..10u32)
            .map(|s| {
                (
                    Key {
                        created: 100 + i64::from(s / 2),
                        seq: u64::from(s),
                    },
                    s,
                )
            })
            .collect();
        let index = Index::Tree(&items);
        let key = |s: u32| Key {
            created: 100 + i64::from(s / 2),
            seq: u64::from(s),
        };
        let p = params(json!({"limit": "3"})).ok();
        let p = p.as_ref();
        assert_eq!(p.map(|p| ids(index, p, None)), Some((vec![9, 8, 7], true)));
        assert_eq!(
            p.map(|p| ids(index, p, Some(key(7)))),
            Some((vec![6, 5, 4], true))
        );
        assert_eq!(
            p.map(|p| ids(index, p, Some(key(2)))),
            Some((vec![1, 0], false))
        );
        let back = params(json!({"limit": "3", "ending_before": "x"})).ok();
        assert_eq!(
            back.as_ref().map(|p| ids(index, p, Some(key(2)))),
            Some((vec![5, 4, 3], true))
        );
        assert_eq!(
            back.as_ref().map(|p| ids(index, p, Some(key(7)))),
            Some((vec![9, 8], false))
        );
        let window = params(json!({"created": {"gte": "101", "lt": "104"}})).ok();
        assert_eq!(
            window.as_ref().map(|p| ids(index, p, None)),
            Some((vec![7, 6, 5, 4, 3, 2], false))
        );
        let exact = params(json!({"created": "103"})).ok();
        assert_eq!(
            exact.as_ref().map(|p| ids(index, p, None)),
            Some((vec![7, 6], false))
        );
        let sorted: Vec<(Key, u32)> = items.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(
            window
                .as_ref()
                .map(|p| ids(Index::Sorted(&sorted), p, Some(key(6)))),
            Some((vec![5, 4, 3, 2], false))
        );
        let empty = params(json!({"created": {"gt": "200"}})).ok();
        assert_eq!(
            empty.as_ref().map(|p| ids(index, p, None)),
            Some((vec![], false))
        );
    }
}
