//! Backfill: copying a stream's list, newest first, a checkpoint after every page.
//!
//! Each record's version is Stripe's clock when the page was served, less a second: any
//! event from that second on is applied over it (a tie goes to the later change), so a
//! change made while the page was read is never lost. Events before it are older than the
//! copy and cannot overwrite it.

use inlet_core::{Record, SourceError, Version};
use serde_json::{Map, Value};

use super::client::{CallError, Page, StripeClient};
use super::position::Cursor;
use super::schema::Schema;
use super::streams::{Listing, StreamDef};

/// How much of a newest-first list is copied once it reached `reached` (a `created`),
/// reading the account's life as evenly filled: the span from the newest object (`head`)
/// back to `reached`, out of the span back to when the account was `opened`. Stripe's lists
/// say nothing of their size, so this is the only estimate there is; never 1 before the end.
pub fn estimate(head: i64, reached: i64, opened: i64) -> Option<f64> {
    let span = head - opened;
    (span > 0).then(|| ((head - reached) as f64 / span as f64).clamp(0.0, 0.99))
}

/// One step of a backfill: the records of a page and where the list goes on.
#[derive(Debug)]
pub struct Step {
    pub records: Vec<Record>,
    /// The last object read; `None` when the list is done.
    pub next: Option<Cursor>,
    /// The page's first object (the list's newest, on the first page).
    pub first: Option<Cursor>,
}

pub async fn step(
    client: &StripeClient,
    def: &StreamDef,
    schema: &Schema,
    after: Option<&Cursor>,
) -> Result<Step, SourceError> {
    let (path, params, created) = match def.listing {
        Listing::Top {
            path,
            params,
            created,
        } => (path, params, created),
        Listing::Children { parent, params, .. } => (parent, params, true),
        Listing::PerCustomer { .. } => ("/v1/customers", &[][..], true),
    };
    let page = page_of(client, path, params, created, after).await?;
    let version = Version::from_secs(page.date - 1, 0);
    let first = page.data.first().map(Cursor::of);
    let next = match page.has_more {
        true => page.data.last().map(Cursor::of),
        false => None,
    };
    let mut records = Vec::new();
    match def.listing {
        Listing::Top { .. } => {
            records.extend(page.data.iter().map(|o| upsert(schema, o, version)));
        }
        Listing::Children { field, more, .. } => {
            for parent in &page.data {
                for child in children(client, parent, field, more).await? {
                    records.push(upsert(schema, &child, version));
                }
            }
        }
        Listing::PerCustomer { path } => {
            for customer in &page.data {
                let Some(id) = customer.get("id").and_then(Value::as_str) else {
                    continue;
                };
                let path = path.replace("{id}", id);
                let mut after: Option<Cursor> = None;
                loop {
                    let Some(p) = child_page(client, &path, after.as_ref()).await? else {
                        break;
                    };
                    records.extend(p.data.iter().map(|o| upsert(schema, o, version)));
                    after = p.data.last().map(Cursor::of);
                    if !p.has_more || after.is_none() {
                        break;
                    }
                }
            }
        }
    }
    Ok(Step {
        records,
        next,
        first,
    })
}

/// All of `parent`'s children in `field`: the ones it holds, then the rest from `more`.
pub async fn children(
    client: &StripeClient,
    parent: &Map<String, Value>,
    field: &str,
    more: &str,
) -> Result<Vec<Map<String, Value>>, SourceError> {
    let list = &parent[field];
    let mut out: Vec<Map<String, Value>> = list["data"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_object().cloned())
                .collect()
        })
        .unwrap_or_default();
    let mut has_more = list["has_more"].as_bool().unwrap_or(false);
    let id = parent.get("id").and_then(Value::as_str).unwrap_or_default();
    let path = more.replace("{id}", id);
    while has_more {
        let after = out.last().map(Cursor::of);
        let Some(page) = child_page(client, &path, after.as_ref()).await? else {
            return Ok(Vec::new());
        };
        has_more = page.has_more && !page.data.is_empty();
        out.extend(page.data);
    }
    Ok(out)
}

/// A page of a parent's own list (`/v1/customers/{id}/payment_methods`), or `None` when the
/// parent is gone: deleted since its page was read. Its children went with it (and the
/// events feed says so), so the backfill goes on without them rather than failing the page.
async fn child_page(
    client: &StripeClient,
    path: &str,
    after: Option<&Cursor>,
) -> Result<Option<Page>, SourceError> {
    let mut query = vec![("limit", "100".to_string())];
    if let Some(id) = after.and_then(|a| a.id.clone()) {
        query.push(("starting_after", id));
    }
    match client.list(path, &query).await {
        Ok(page) => Ok(Some(page)),
        Err(CallError::Missing(_)) => Ok(None),
        Err(CallError::Source(e)) => Err(e),
        // The child the walk stood on is gone: page_of resumes the list without it.
        Err(CallError::CursorMissing) => page_of(client, path, &[], false, after).await.map(Some),
    }
}

pub fn upsert(schema: &Schema, object: &Map<String, Value>, version: Version) -> Record {
    let id = object.get("id").and_then(Value::as_str).unwrap_or_default();
    Record::upsert(id, version, schema.row(object))
}

/// A page of 100 after `after`. If the cursor object is gone (deleted, or no longer in the
/// list), the list resumes at the cursor's second with `created[lte]` where the endpoint
/// takes it (objects of that second are read again: harmless), else from the start.
pub async fn page_of(
    client: &StripeClient,
    path: &str,
    params: &[(&str, &str)],
    created: bool,
    after: Option<&Cursor>,
) -> Result<Page, SourceError> {
    let mut query: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, v.to_string())).collect();
    query.push(("limit", "100".into()));
    let mut with_cursor = query.clone();
    if let Some(id) = after.and_then(|a| a.id.clone()) {
        with_cursor.push(("starting_after", id));
    }
    match client.list(path, &with_cursor).await {
        Ok(page) => Ok(page),
        Err(CallError::Source(e) | CallError::Missing(e)) => Err(e),
        Err(CallError::CursorMissing) => {
            let created_at = after.map(|a| a.created);
            tracing::info!(path, "the list cursor's object is gone; resuming by time");
            if let (true, Some(at)) = (created, created_at) {
                query.push(("created[lte]", at.to_string()));
            }
            client.list(path, &query).await.map_err(|e| match e {
                CallError::Source(e) | CallError::Missing(e) => e,
                CallError::CursorMissing => SourceError::new(
                    inlet_core::ErrorKind::InvalidResponse,
                    format!("Stripe reported a missing cursor on {path} without one"),
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::estimate;

    #[test]
    fn progress_is_the_share_of_the_account_life_copied_and_never_complete_early() {
        assert_eq!(estimate(1_000, 1_000, 0), Some(0.0));
        assert_eq!(estimate(1_000, 750, 0), Some(0.25));
        assert_eq!(estimate(1_000, 0, 0), Some(0.99), "only the end says 1");
        assert_eq!(
            estimate(1_000, -50, 0),
            Some(0.99),
            "objects older than the account"
        );
        assert_eq!(estimate(1_000, 1_000, 1_000), None, "no span, no estimate");
    }
}
