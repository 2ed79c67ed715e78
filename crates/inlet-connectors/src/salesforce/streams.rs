//! Salesforce's streams: every object describeGlobal says is both `queryable` and
//! `replicateable` (or those `streams` names), each a table of the columns its describe
//! gives. An object without `SystemModstamp` cannot be followed by it and is left out,
//! said in the log.

use inlet_core::{ErrorKind, SourceError};
use serde_json::Value;

use super::client::{invalid, SalesforceClient};
use super::schema::columns;
use super::table::ObjectTable;

/// The objects the org has that a sync can follow, by API name (`Account`).
async fn replicateable(client: &SalesforceClient) -> Result<Vec<String>, SourceError> {
    let global = client.data("sobjects/").await?;
    let objects = global["sobjects"]
        .as_array()
        .ok_or_else(|| invalid("sobjects", "no sobjects list"))?;
    let flag = |o: &Value, name: &str| o[name].as_bool() == Some(true);
    Ok(objects
        .iter()
        .filter(|o| {
            flag(o, "queryable") && flag(o, "replicateable") && !flag(o, "deprecatedAndHidden")
        })
        .filter_map(|o| o["name"].as_str().map(str::to_string))
        .collect())
}

/// One object's table, from its describe; `None` (said in the log) when it has no
/// `SystemModstamp`.
pub async fn describe(
    client: &SalesforceClient,
    api: &str,
) -> Result<Option<ObjectTable>, SourceError> {
    let path = format!("sobjects/{api}/describe/");
    let body = client.data(&path).await?;
    let found = columns(&body).map_err(|e| invalid(&path, &e))?;
    if found.columns.iter().all(|(n, _)| n != "SystemModstamp") {
        tracing::warn!(object = api, "skipping an object without SystemModstamp");
        return Ok(None);
    }
    let table = ObjectTable::new(api, found);
    for note in &table.notes {
        tracing::info!(object = api, note = %note, "a field is not synced");
    }
    Ok(Some(table))
}

/// The objects to sync, by API name: every replicateable one, or those `wanted` names (by
/// table name). A name the org has no such object for is an error that lists what it has;
/// none at all is an error too.
pub async fn choose(
    client: &SalesforceClient,
    wanted: Option<&[String]>,
) -> Result<Vec<String>, SourceError> {
    let objects = replicateable(client).await?;
    let tables: Vec<String> = objects.iter().map(|o| o.to_lowercase()).collect();
    if let Some(wanted) = wanted {
        if let Some(unknown) = wanted.iter().find(|w| !tables.contains(&w.to_lowercase())) {
            return Err(SourceError::new(
                ErrorKind::InvalidResponse,
                format!("the org has no replicateable object for the stream \"{unknown}\""),
            )
            .with_fix(format!("choose among: {}", tables.join(", "))));
        }
    }
    let chosen: Vec<String> = objects
        .into_iter()
        .filter(|o| wanted.is_none_or(|w| w.iter().any(|n| n.eq_ignore_ascii_case(o))))
        .collect();
    if chosen.is_empty() {
        return Err(SourceError::new(
            ErrorKind::Forbidden,
            "the integration user may not read any object that can be synced",
        )
        .with_fix(
            "give the integration user the \"View All Data\" permission (Setup → Users → \
             Permission Sets)",
        ));
    }
    Ok(chosen)
}

/// The tables to sync, each from its object's describe.
pub async fn discover(
    client: &SalesforceClient,
    wanted: Option<&[String]>,
) -> Result<Vec<ObjectTable>, SourceError> {
    let mut out = Vec::new();
    for api in choose(client, wanted).await? {
        if let Some(t) = describe(client, &api).await? {
            out.push(t);
        }
    }
    Ok(out)
}
