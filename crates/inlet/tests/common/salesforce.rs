//! What the Salesforce tests share: inlet's tables compared with the fake org's truth,
//! field by field.

use std::collections::BTreeMap;
use std::time::Duration;

use inlet_connectors::salesforce::table::datetime_ms;
use inlet_fakes::salesforce::FakeSalesforce;
use inlet_postgres::sql::ident;
use inlet_testkit::wait_for;
use serde_json::Value;

use super::{text, Inlet};

/// A field as REST shows it and its column as the table holds it, made comparable.
pub fn same(truth: &Value, held: &Value) -> bool {
    match (truth, held) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        // A multi-select picklist: `a;b` as text[].
        (Value::String(t), Value::Array(items)) => {
            let items: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            *t == items.join(";")
        }
        (Value::String(t), Value::String(h)) => {
            t == h
                || datetime_ms(t).is_some() && datetime_ms(t) == datetime_ms(h)
                // A time: `20:49:32.000Z` as `20:49:32`.
                || t.trim_end_matches('Z').trim_end_matches(".000") == h
        }
        _ => false,
    }
}

/// Where a table differs from the fake's truth, in words (empty: equal).
pub async fn differences(
    fake: &FakeSalesforce,
    db: &tokio_postgres::Client,
    schema: &str,
    object: &str,
) -> Vec<String> {
    differing(fake, db, schema, object, &[]).await
}

/// [`differences`], but for the fields in `stale` (`(object, field)`).
async fn differing(
    fake: &FakeSalesforce,
    db: &tokio_postgres::Client,
    schema: &str,
    object: &str,
    stale: &[(String, String)],
) -> Vec<String> {
    let table = object.to_lowercase();
    let truth: BTreeMap<String, Value> = (fake.records(object).expect("truth").into_iter())
        .filter_map(|r| Some((r["Id"].as_str()?.to_string(), r)))
        .collect();
    let sql = format!(
        "select id, to_jsonb(t) from {}.{} t",
        ident(schema),
        ident(&table)
    );
    let rows = match db.query(&sql, &[]).await {
        Ok(rows) => rows,
        Err(e) => return vec![format!("{table} cannot be read yet: {e}")],
    };
    let held: BTreeMap<String, Value> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut out = Vec::new();
    for id in truth.keys().filter(|id| !held.contains_key(*id)) {
        out.push(format!("{table} {id} is missing"));
    }
    for id in held.keys().filter(|id| !truth.contains_key(*id)) {
        out.push(format!("{table} {id} should be gone"));
    }
    for (id, record) in &truth {
        let Some(row) = held.get(id) else { continue };
        for (field, want) in record.as_object().into_iter().flatten() {
            if field == "Id" || stale.iter().any(|(o, f)| o == object && f == field) {
                continue;
            }
            let column = inlet_connectors::salesforce::schema::column_of(field);
            let value = row.get(column.as_str()).cloned().unwrap_or(Value::Null);
            // A value that does not fit its column is kept, as sent, in _sync_extra.
            let value = match (&value, row["_sync_extra"].get(column.as_str())) {
                (Value::Null, Some(raw)) => raw.clone(),
                _ => value,
            };
            if !same(want, &value) {
                out.push(format!("{table} {id} {field}: truth {want}, table {value}"));
            }
        }
    }
    out.truncate(10);
    out
}

/// Waits until every replicateable object's table in `schema` equals the truth.
pub async fn converge(
    fake: &FakeSalesforce,
    db: &tokio_postgres::Client,
    schema: &str,
    what: &str,
) {
    converging(fake, db, schema, what, &[]).await
}

/// [`converge`] for a sync that followed the org while it changed: every field but the
/// cross-object formulas, which change with the record they read and no poll sees
/// (README, "Formula fields go stale").
pub async fn converge_following(
    fake: &FakeSalesforce,
    db: &tokio_postgres::Client,
    schema: &str,
    what: &str,
) {
    converging(fake, db, schema, what, &fake.parent_formulas()).await
}

async fn converging(
    fake: &FakeSalesforce,
    db: &tokio_postgres::Client,
    schema: &str,
    what: &str,
    stale: &[(String, String)],
) {
    let objects: Vec<String> = (fake.objects().into_iter())
        .filter(|(_, replicateable)| *replicateable)
        .map(|(name, _)| name)
        .collect();
    let what = format!("{what}: the tables to equal the truth");
    wait_for(&what, Duration::from_secs(90), || async {
        let mut all = Vec::new();
        for object in &objects {
            all.extend(differing(fake, db, schema, object, stale).await);
        }
        match all.is_empty() {
            true => Ok(()),
            false => Err(format!("{all:#?}")),
        }
    })
    .await
}

pub fn ids(fake: &FakeSalesforce, object: &str) -> Vec<String> {
    (fake.records(object).expect("records").iter())
        .filter_map(|r| r["Id"].as_str().map(str::to_string))
        .collect()
}

/// `inlet sync add salesforce` on the fake org with `secret` (its refresh token, unless
/// `extra` names another grant) and `extra` arguments, as a person runs it: what it said.
pub fn add_sync(inlet: &Inlet, fake: &FakeSalesforce, secret: &str, extra: &[&str]) -> String {
    let client_id = format!("client_id={}", fake.credentials().client_id);
    let mut args = vec!["--source", "salesforce", "--set", &client_id];
    args.extend_from_slice(extra);
    let env = [("SALESFORCE_SECRET", secret)];
    let out = inlet.sync_add("salesforce", &fake.login_url(), &args, &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    text(&out)
}

/// An admin session of `db` that shows times in UTC, as Salesforce's are.
pub async fn utc_admin(c: &inlet_testkit::Cluster, db: &str) -> tokio_postgres::Client {
    let admin = c.admin_db(db).await;
    admin
        .execute("set timezone = 'UTC'", &[])
        .await
        .expect("utc");
    admin
}
