//! What the HubSpot tests share: the fake portal they start, and inlet's tables compared
//! with the fake's truth: object tables property by property, every association table, and
//! the reference tables (owners, pipelines, stages, enumeration options).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use inlet_connectors::hubspot::schema::PropertyColumn;
use inlet_connectors::hubspot::time::parse_ms;
use inlet_fakes::hubspot::{FakeHubSpot, Options};
use inlet_testkit::wait_for;
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
    differences_in(fake, db, "hubspot", object, table).await
}

/// [`differences`], the table in `schema`.
pub async fn differences_in(
    fake: &FakeHubSpot,
    db: &tokio_postgres::Client,
    schema: &str,
    object: &str,
    table: &str,
) -> Vec<String> {
    let defs = fake.properties(object).expect("properties");
    let properties = inlet_connectors::hubspot::schema::parse_properties(&json!({"results": defs}))
        .expect("the fake's properties parse");
    let truth: BTreeMap<String, Value> = (fake.objects(object).expect("truth").into_iter())
        .filter_map(|o| Some((o["id"].as_str()?.to_string(), o)))
        .collect();
    let schema = inlet_postgres::sql::ident(schema);
    let sql = format!("select id, to_jsonb(t) from {schema}.{table} t order by id");
    let rows = match db.query(&sql, &[]).await {
        Ok(rows) => rows,
        Err(e) => return vec![format!("{table} cannot be read yet: {e}")],
    };
    let held: BTreeMap<String, Value> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut out = Vec::new();
    for id in truth.keys().filter(|id| !held.contains_key(*id)) {
        out.push(format!("{table} {id} is missing"));
    }
    let gone: Vec<&String> = held.keys().filter(|id| !truth.contains_key(*id)).collect();
    if !gone.is_empty() {
        let archived: Vec<Value> = fake.archived(object).expect("archived");
        for id in gone {
            let how = match archived.iter().any(|o| o["id"] == id.as_str()) {
                true => "archived",
                false => "merged away or deleted",
            };
            out.push(format!("{table} {id} should be gone ({how} at HubSpot)"));
        }
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

/// The fake's object types and the tables they land in.
pub const TABLES: [(&str, &str); 13] = [
    ("contacts", "contact"),
    ("companies", "company"),
    ("deals", "deal"),
    ("tickets", "ticket"),
    ("products", "product"),
    ("line_items", "line_item"),
    ("quotes", "quote"),
    ("calls", "call"),
    ("emails", "email"),
    ("meetings", "meeting"),
    ("notes", "note"),
    ("tasks", "task"),
    ("cars", "car"),
];

/// Every association table inlet keeps, as `(from, to, table)`: the standard pairs and the
/// custom object's. [`converge`] also checks inlet keeps no other.
pub const PAIRS: [(&str, &str, &str); 14] = [
    ("contacts", "companies", "association_contact_company"),
    ("deals", "contacts", "association_deal_contact"),
    ("deals", "companies", "association_deal_company"),
    ("tickets", "contacts", "association_ticket_contact"),
    ("tickets", "companies", "association_ticket_company"),
    ("line_items", "deals", "association_line_item_deal"),
    ("line_items", "products", "association_line_item_product"),
    ("quotes", "deals", "association_quote_deal"),
    ("calls", "contacts", "association_call_contact"),
    ("emails", "contacts", "association_email_contact"),
    ("meetings", "contacts", "association_meeting_contact"),
    ("notes", "contacts", "association_note_contact"),
    ("tasks", "contacts", "association_task_contact"),
    ("cars", "contacts", "association_car_contact"),
];

/// The association tables in `schema`, in order.
async fn association_tables(db: &tokio_postgres::Client, schema: &str) -> Vec<String> {
    let sql = "select table_name::text from information_schema.tables \
               where table_schema = $1 and table_name like 'association\\_%' order by 1";
    (db.query(sql, &[&schema]).await.expect("tables").iter())
        .map(|r| r.get(0))
        .collect()
}

/// A JSON value as one word of a row's text: a string as it is, null as nothing.
fn word(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A query of `table`'s rows as one text each: `columns`' values joined by spaces, null as
/// nothing (as [`word`] has them).
fn spaced(table: &str, columns: &[&str]) -> String {
    let each: Vec<String> = (columns.iter())
        .map(|c| format!("coalesce(({c})::text, '')"))
        .collect();
    format!("select {} from {table}", each.join(" || ' ' || "))
}

/// Where the rows `sql` selects (one text each) differ from `truth`, named `what`.
async fn set_differences(
    db: &tokio_postgres::Client,
    what: &str,
    sql: &str,
    truth: BTreeSet<String>,
) -> Vec<String> {
    let rows = match db.query(sql, &[]).await {
        Ok(rows) => rows,
        Err(e) => return vec![format!("{what} cannot be read yet: {e}")],
    };
    let held: BTreeSet<String> = rows.iter().map(|r| r.get(0)).collect();
    let mut out: Vec<String> = (truth.difference(&held))
        .map(|a| format!("{what}: missing {a}"))
        .collect();
    out.extend(
        held.difference(&truth)
            .map(|a| format!("{what}: should be gone {a}")),
    );
    out.truncate(10);
    out
}

/// Where an association table differs from the fake's truth (empty: equal).
async fn association_differences(
    fake: &FakeHubSpot,
    db: &tokio_postgres::Client,
    schema: &str,
    (from, to, table): (&str, &str, &str),
) -> Vec<String> {
    let truth = (fake.associations(from, to).expect("truth").iter())
        .map(|a| {
            let fields = [
                &a["fromId"],
                &a["toId"],
                &a["typeId"],
                &a["category"],
                &a["label"],
            ];
            fields.map(word).join(" ")
        })
        .collect();
    let sql = format!(
        "select from_id || ' ' || to_id || ' ' || type_id || ' ' || category || ' ' || coalesce(label, '') \
           from {}.{table}",
        inlet_postgres::sql::ident(schema)
    );
    set_differences(db, table, &sql, truth).await
}

/// Where the reference tables differ from the fake's owners, deal and ticket pipelines,
/// their stages (each in its pipeline), and every enumeration option of every type, with
/// its label (empty: equal).
pub async fn reference_differences(
    fake: &FakeHubSpot,
    db: &tokio_postgres::Client,
    schema: &str,
) -> Vec<String> {
    reference_differences_of(fake, db, schema, &TABLES).await
}

/// [`reference_differences`] of a sync of the object types `objects` alone (the options are
/// theirs; deals and tickets must be among them).
pub async fn reference_differences_of(
    fake: &FakeHubSpot,
    db: &tokio_postgres::Client,
    schema: &str,
    objects: &[(&str, &str)],
) -> Vec<String> {
    let schema = inlet_postgres::sql::ident(schema);
    let table = |name: &str| format!("{schema}.{name}");
    let owners: BTreeSet<String> = (fake.owners().iter())
        .map(|o| {
            let fields = [
                &o["id"],
                &o["email"],
                &o["firstName"],
                &o["lastName"],
                &o["userId"],
            ];
            fields.map(word).join(" ")
        })
        .collect();
    assert!(!owners.is_empty(), "the fake has owners");
    let mut out = set_differences(
        db,
        "owner",
        &spaced(
            &table("owner"),
            &["id", "email", "first_name", "last_name", "user_id"],
        ),
        owners,
    )
    .await;
    let (mut pipelines, mut stages) = (BTreeSet::new(), BTreeSet::new());
    for object in ["deals", "tickets"] {
        for p in fake.pipelines(object).expect("pipelines") {
            let (id, label, order) = (word(&p["id"]), word(&p["label"]), &p["displayOrder"]);
            pipelines.insert(format!("{object} {id} {label} {order}"));
            for s in p["stages"].as_array().into_iter().flatten() {
                let (stage, label, order) = (word(&s["id"]), word(&s["label"]), &s["displayOrder"]);
                stages.insert(format!("{object} {id} {stage} {label} {order}"));
            }
        }
    }
    assert!(!stages.is_empty(), "the fake has pipelines with stages");
    out.extend(
        set_differences(
            db,
            "pipeline",
            &spaced(
                &table("pipeline"),
                &["object_type", "pipeline_id", "label", "display_order"],
            ),
            pipelines,
        )
        .await,
    );
    out.extend(
        set_differences(
            db,
            "pipeline_stage",
            &spaced(
                &table("pipeline_stage"),
                &[
                    "object_type",
                    "pipeline_id",
                    "stage_id",
                    "label",
                    "display_order",
                ],
            ),
            stages,
        )
        .await,
    );
    let mut options = BTreeSet::new();
    for (object, _) in objects {
        for p in fake.properties(object).expect("properties") {
            for o in p["options"].as_array().into_iter().flatten() {
                let (value, label, order) =
                    (word(&o["value"]), word(&o["label"]), &o["displayOrder"]);
                options.insert(format!(
                    "{object} {} {value} {label} {order}",
                    word(&p["name"])
                ));
            }
        }
    }
    assert!(
        options
            .iter()
            .any(|o| o.starts_with("contacts lifecyclestage ")),
        "the fake's lifecycle stages have options"
    );
    // The custom object's rows are under its type id (`2-...`).
    out.extend(
        set_differences(
            db,
            "property_option",
            &spaced(
                &table("property_option"),
                &[
                    "case when object_type like '2-%' then 'cars' else object_type end",
                    "property",
                    "value",
                    "label",
                    "display_order",
                ],
            ),
            options,
        )
        .await,
    );
    out
}

/// Waits until every table equals the truth.
pub async fn converge(fake: &FakeHubSpot, db: &tokio_postgres::Client, what: &str) {
    converge_in(fake, db, "hubspot", what).await
}

/// Waits until every object and association table in `schema` equals the truth, and the
/// association tables are all those [`PAIRS`] names.
pub async fn converge_in(
    fake: &FakeHubSpot,
    db: &tokio_postgres::Client,
    schema: &str,
    what: &str,
) {
    converge_of(fake, db, schema, &TABLES, &PAIRS, what).await
}

/// [`converge_in`] for a sync of `tables` and `pairs` alone.
pub async fn converge_of(
    fake: &FakeHubSpot,
    db: &tokio_postgres::Client,
    schema: &str,
    tables: &[(&str, &str)],
    pairs: &[(&str, &str, &str)],
    what: &str,
) {
    let what = format!("{what}: the tables to equal the truth");
    wait_for(&what, Duration::from_secs(120), || async {
        let mut all = Vec::new();
        for (object, table) in tables {
            all.extend(differences_in(fake, db, schema, object, table).await);
        }
        for pair in pairs {
            all.extend(association_differences(fake, db, schema, *pair).await);
        }
        let mut compared: Vec<&str> = pairs.iter().map(|(_, _, t)| *t).collect();
        compared.sort();
        let kept = association_tables(db, schema).await;
        if kept != compared {
            all.push(format!(
                "association tables: {kept:?}, compared {compared:?}"
            ));
        }
        match all.is_empty() {
            true => Ok(()),
            false => Err(format!("{all:#?}")),
        }
    })
    .await
}
