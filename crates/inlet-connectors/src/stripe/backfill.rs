//! Backfill: copying a window of a stream's list (see [`super::partition`]), newest first,
//! a page at a time; a parent's children and a customer's own lists fetched concurrently.
//!
//! Each record's version is Stripe's clock when the page was served, less a second: any
//! event from that second on is applied over it (a tie goes to the later change), so a
//! change made while the page was read is never lost. Events before it are older than the
//! copy and cannot overwrite it.

use futures_util::stream::{self, StreamExt, TryStreamExt};
use inlet_core::{Record, SourceError, Version};
use serde_json::{Map, Value};

use super::client::{CallError, Page, StripeClient};
use super::partition::Window;
use super::position::Cursor;
use super::schema::Schema;
use super::streams::{Listing, StreamDef};

/// One step of a backfill: the records of a page and where the window goes on.
#[derive(Debug)]
pub struct Step {
    pub records: Vec<Record>,
    /// The last object read; `None` when the window is done.
    pub next: Option<Cursor>,
    /// Seconds of `created` the page's objects span (newest minus oldest), for sizing
    /// windows by how densely the list is filled.
    pub span: i64,
    /// Stripe's clock when it served the page: its records are versioned a second before.
    pub date: i64,
    /// The page's first object (of a list's first page: the newest).
    pub newest: Option<Cursor>,
}

/// Reads the next page of `window`, with the children of its objects, `fan_out` requests
/// for children at a time (in order of their parents).
pub async fn step(
    client: &StripeClient,
    def: &StreamDef,
    schema: &Schema,
    window: &Window,
    fan_out: usize,
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
    let page = page_of(client, path, params, created, window).await?;
    let version = Version::from_secs(page.date - 1, 0);
    let next = match page.has_more {
        true => page.data.last().map(Cursor::of),
        false => None,
    };
    let newest = page.data.first().map(Cursor::of);
    let span = match (&newest, page.data.last()) {
        (Some(newest), Some(oldest)) => newest.created - Cursor::of(oldest).created,
        _ => 0,
    };
    let date = page.date;
    let fan_out = fan_out.max(1);
    let records = match def.listing {
        Listing::Top { .. } => page
            .data
            .into_iter()
            .map(|o| upsert(schema, o, version))
            .collect(),
        Listing::Children { field, more, .. } => {
            let fetches: Vec<_> = (page.data.iter())
                .map(|parent| children(client, parent, field, more))
                .collect();
            let lists: Vec<_> = stream::iter(fetches)
                .buffered(fan_out)
                .try_collect()
                .await?;
            let children = lists.into_iter().flatten();
            children.map(|c| upsert(schema, c, version)).collect()
        }
        Listing::PerCustomer { path } => {
            let fetches: Vec<_> = (page.data.iter())
                .filter_map(|c| c.get("id").and_then(Value::as_str))
                .map(|id| customer_list(client, path.replace("{id}", id)))
                .collect();
            let lists: Vec<_> = stream::iter(fetches)
                .buffered(fan_out)
                .try_collect()
                .await?;
            let objects = lists.into_iter().flatten();
            objects.map(|o| upsert(schema, o, version)).collect()
        }
    };
    Ok(Step {
        records,
        next,
        span,
        date,
        newest,
    })
}

/// Every object of one customer's own list (`/v1/customers/{id}/payment_methods`); none
/// when the customer is gone (see [`child_page`]).
async fn customer_list(
    client: &StripeClient,
    path: String,
) -> Result<Vec<Map<String, Value>>, SourceError> {
    let mut out = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let Some(p) = child_page(client, &path, after.as_ref()).await? else {
            return Ok(out);
        };
        let has_more = p.has_more;
        out.extend(p.data);
        after = out.last().map(Cursor::of);
        if !has_more || after.is_none() {
            return Ok(out);
        }
    }
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
        Err(CallError::CursorMissing) => {
            let window = Window {
                after: after.cloned(),
                ..Window::default()
            };
            page_of(client, path, &[], false, &window).await.map(Some)
        }
    }
}

pub fn upsert(schema: &Schema, object: Map<String, Value>, version: Version) -> Record {
    let id = (object.get("id").and_then(Value::as_str))
        .unwrap_or_default()
        .to_string();
    Record::upsert(id, version, schema.row(object))
}

/// A page of 100 of `window`. If the cursor object is gone (deleted, or no longer in the
/// list), the list resumes at the cursor's second with `created[lte]` where the endpoint
/// takes it (objects of that second are read again: harmless), else from the start.
pub async fn page_of(
    client: &StripeClient,
    path: &str,
    params: &[(&str, &str)],
    created: bool,
    window: &Window,
) -> Result<Page, SourceError> {
    let mut query: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, v.to_string())).collect();
    query.push(("limit", "100".into()));
    if let (true, Some(gte)) = (created, window.gte) {
        query.push(("created[gte]", gte.to_string()));
    }
    let mut with_cursor = query.clone();
    if let (true, Some(lte)) = (created, window.lte) {
        with_cursor.push(("created[lte]", lte.to_string()));
    }
    let after = window.after.as_ref();
    if let Some(id) = after.and_then(|a| a.id.clone()) {
        with_cursor.push(("starting_after", id));
    }
    match client.list(path, &with_cursor).await {
        Ok(page) => Ok(page),
        Err(CallError::Source(e) | CallError::Missing(e)) => Err(e),
        Err(CallError::CursorMissing) => {
            tracing::info!(path, "the list cursor's object is gone; resuming by time");
            let upper = match (window.lte, after.map(|a| a.created)) {
                (Some(lte), Some(at)) => Some(lte.min(at)),
                (lte, at) => lte.or(at),
            };
            if let (true, Some(at)) = (created, upper) {
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
