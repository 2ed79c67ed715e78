//! Association tables, one per pair of object types (`association_contact_company`: from
//! id, to id, type id, category, label; keyed on the first three).
//!
//! An association change does not reliably change either record's modified date, so
//! search windows cannot see one. Each table is instead read whole on every pass (list the
//! from-type's ids, then the v4 batch read, 100 ids a request, the next ids listed while
//! a batch is read) and the pass's last batch sweeps every row it did not see: an
//! association removed at HubSpot leaves the table at the next pass. How fresh
//! associations are is the pass interval (`associations_secs`), with two exceptions:
//! * a record the sync finds gone (archived, merged away, deleted) takes its rows, on
//!   either side, out of the table at once, with no request: HubSpot no longer shows them;
//! * for records a webhook says were associated or dissociated, restored or merged into,
//!   their associations (or, on the to side, those of the records associated with them,
//!   [`Pair::linked_from`]) are read again ([`Pair::of`]) and swept within those records
//!   alone.
//!
//! A record restored without a webhook gets its associations back at the next pass.

use std::collections::BTreeSet;

use inlet_core::{Column, ColumnType, Record, SourceError, StreamSpec, Version};
use serde_json::{json, Map, Value};

use super::client::{invalid, CallError, HubSpotClient};
use super::streams::text;

/// Pairs of standard types HubSpot associates, by API name: `(from, to)`.
pub const PAIRS: [(&str, &str); 13] = [
    ("contacts", "companies"),
    ("deals", "contacts"),
    ("deals", "companies"),
    ("tickets", "contacts"),
    ("tickets", "companies"),
    ("line_items", "deals"),
    ("line_items", "products"),
    ("quotes", "deals"),
    ("calls", "contacts"),
    ("emails", "contacts"),
    ("meetings", "contacts"),
    ("notes", "contacts"),
    ("tasks", "contacts"),
];

/// One pair's table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    pub from: String,
    pub to: String,
    pub table: String,
}

impl Pair {
    /// `from_table`, `to_table`: the object types' tables (`contact`, `company`).
    pub fn new(from: &str, to: &str, from_table: &str, to_table: &str) -> Pair {
        Pair {
            from: from.to_string(),
            to: to.to_string(),
            table: format!("association_{from_table}_{to_table}"),
        }
    }

    pub fn spec(&self) -> StreamSpec {
        let columns = vec![
            Column::new("from_id", ColumnType::Text),
            Column::new("to_id", ColumnType::Text),
            Column::new("type_id", ColumnType::Bigint),
            Column::new("category", ColumnType::Text),
            Column::new("label", ColumnType::Text),
        ];
        // The key serves lookups by `from_id`; `to_id` has its own index: a record gone
        // from the `to` side takes its rows with it, and readers join through it.
        StreamSpec::keyed(
            self.table.clone(),
            columns,
            &["from_id", "to_id", "type_id"],
        )
        .looked_up_by("to_id")
    }

    /// One page of a pass: the ids of the next up to 100 from-records after the list cursor
    /// `after`, and the next cursor (`None`: done). [`Pair::of`] reads their associations.
    pub async fn listed(
        &self,
        client: &HubSpotClient,
        after: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), SourceError> {
        let (results, next) = client.list_page(&self.from, false, after).await?;
        let ids = (results.iter())
            .filter_map(|o| o["id"].as_str().map(str::to_string))
            .collect();
        Ok((ids, next))
    }

    /// The from-records associated with the to-records `ids` (at most 100), read the other
    /// way round (HubSpot keeps both directions).
    pub async fn linked_from(
        &self,
        client: &HubSpotClient,
        ids: &[String],
    ) -> Result<BTreeSet<String>, SourceError> {
        let results = batch_read(client, &self.to, &self.from, ids).await?;
        let found = (results.iter()).flat_map(|r| r["to"].as_array().into_iter().flatten());
        Ok(found.filter_map(|to| text(&to["toObjectId"])).collect())
    }

    /// Every association of the from-records `ids` (at most 1,000) to the other type,
    /// versioned at `now_ms`.
    pub async fn of(
        &self,
        client: &HubSpotClient,
        ids: &[String],
        now_ms: i64,
    ) -> Result<Vec<Record>, SourceError> {
        let version = Version::new(now_ms.saturating_mul(1000), 0);
        let mut out = Vec::new();
        for result in batch_read(client, &self.from, &self.to, ids).await? {
            let Some(from) = text(&result["from"]["id"]) else {
                continue;
            };
            for to in result["to"].as_array().into_iter().flatten() {
                let Some(to_id) = text(&to["toObjectId"]) else {
                    continue;
                };
                for kind in to["associationTypes"].as_array().into_iter().flatten() {
                    let Some(type_id) = kind["typeId"].as_i64() else {
                        continue;
                    };
                    let mut f = Map::new();
                    f.insert("from_id".into(), Value::from(from.clone()));
                    f.insert("to_id".into(), Value::from(to_id.clone()));
                    f.insert("type_id".into(), Value::from(type_id));
                    f.insert("category".into(), kind["category"].clone());
                    f.insert("label".into(), kind["label"].clone());
                    let key = [from.clone(), to_id.clone(), type_id.to_string()];
                    out.push(Record::upsert_keyed(&key, version, f));
                }
            }
        }
        Ok(out)
    }
}

/// The v4 batch read of `ids`' associations from type `from` to type `to`: every result,
/// a record's further pages asked for until it has none. A 207 lists the ids with no
/// association of the pair: they have no result.
async fn batch_read(
    client: &HubSpotClient,
    from: &str,
    to: &str,
    ids: &[String],
) -> Result<Vec<Value>, SourceError> {
    let path = format!("/crm/v4/associations/{from}/{to}/batch/read");
    let mut inputs: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
    let mut out = Vec::new();
    while !inputs.is_empty() {
        let mut body = client
            .post(&path, &json!({"inputs": inputs}))
            .await
            .map_err(CallError::into_source)?;
        let Value::Array(results) = body["results"].take() else {
            return Err(invalid(&path, "no results list"));
        };
        // More associations of a record than one answer holds.
        inputs = (results.iter())
            .filter_map(|r| {
                let after = r["paging"]["next"]["after"].as_str()?;
                Some(json!({"id": r["from"]["id"], "after": after}))
            })
            .collect();
        out.extend(results);
    }
    Ok(out)
}
