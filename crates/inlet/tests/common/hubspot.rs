//! What the HubSpot tests share: the fake portal they start, and a table compared with the
//! fake's truth, property by property.

use std::collections::BTreeMap;
use std::time::Duration;

use inlet_connectors::hubspot::schema::PropertyColumn;
use inlet_connectors::hubspot::time::parse_ms;
use inlet_fakes::hubspot::{FakeHubSpot, Options};
use serde_json::{json, Value};

/// A fake portal of `contacts` contacts of `properties` properties each, its search 300 ms
/// behind.
pub async fn portal(contacts: usize, properties: usize) -> FakeHubSpot {
    let fake = FakeHubSpot::start(Options {
        contact_properties: properties,
        search_lag: Duration::from_millis(300),
        ..Options::default()
    })
    .await
    .expect("fake");
    fake.seed(contacts);
    fake
}

/// One property's value as HubSpot sends it and as the table holds it, made comparable.
fn same(column: PropertyColumn, truth: Option<&str>, held: &Value) -> bool {
    let truth = truth.filter(|t| !t.is_empty());
    match (truth, held) {
        (None, Value::Null) => true,
        (None, _) | (Some(_), Value::Null) => false,
        (Some(t), held) => match column {
            PropertyColumn::Numeric => {
                let held = held.to_string();
                t.trim().parse::<f64>().ok() == held.trim_matches('"').parse::<f64>().ok()
            }
            PropertyColumn::Timestamptz | PropertyColumn::Date => {
                parse_ms(t).is_some() && parse_ms(t) == held.as_str().and_then(parse_ms)
            }
            PropertyColumn::Boolean => Some(t.eq_ignore_ascii_case("true")) == held.as_bool(),
            PropertyColumn::TextArray => {
                let want: Vec<&str> = t.split(';').filter(|s| !s.is_empty()).collect();
                let got: Vec<&str> = (held.as_array().into_iter().flatten())
                    .filter_map(Value::as_str)
                    .collect();
                want == got
            }
            PropertyColumn::Text => held.as_str() == Some(t),
        },
    }
}

/// Where a table differs from the fake's truth, in words (empty: equal).
pub async fn differences(
    fake: &FakeHubSpot,
    db: &tokio_postgres::Client,
    object: &str,
    table: &str,
) -> Vec<String> {
    let defs = fake.properties(object).expect("properties");
    let properties = inlet_connectors::hubspot::schema::parse_properties(&json!({"results": defs}))
        .expect("the fake's properties parse");
    let truth: BTreeMap<String, Value> = (fake.objects(object).expect("truth").into_iter())
        .filter_map(|o| Some((o["id"].as_str()?.to_string(), o)))
        .collect();
    let sql = format!("select id, to_jsonb(t) from hubspot.{table} t order by id");
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
    for (id, object) in &truth {
        let Some(row) = held.get(id) else { continue };
        for p in &properties {
            let column = inlet_core::column_name(&p.name);
            let want = object["properties"][&p.name].as_str();
            let value = row.get(column.as_ref()).cloned().unwrap_or(Value::Null);
            // A value that does not fit its column is kept, as sent, in _sync_extra.
            let extra = &row["_sync_extra"][column.as_ref()];
            let equal = match (value.is_null(), extra.as_str()) {
                (true, Some(raw)) => Some(raw) == want,
                _ => same(p.column(), want, &value),
            };
            if !equal {
                out.push(format!(
                    "{table} {id} {}: truth {want:?}, table {value}",
                    p.name
                ));
            }
        }
    }
    out.truncate(10);
    out
}
