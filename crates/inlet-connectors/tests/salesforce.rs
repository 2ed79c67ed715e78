//! The Salesforce connector's pieces against the fake Salesforce: keyset pages read every
//! record once when thousands share one `SystemModstamp`, Bulk CSV read by the connector's
//! parser equals the truth, every field type read by Bulk becomes the very row REST gives, describe of a custom object with every field type maps to
//! columns, and `Sforce-Limit-Info` feeds the daily allowance.

use std::time::Instant;

use inlet_connectors::http::allowance::Allowance;
use inlet_connectors::http::budget;
use inlet_connectors::salesforce::soql::{page, After};
use inlet_connectors::salesforce::table::ObjectTable;
use inlet_connectors::salesforce::{bulk_rows, csv, schema};
use inlet_fakes::salesforce::{FakeSalesforce, Options};
use serde_json::{json, Value};

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn get(&self, path: &str, params: &[(&str, &str)]) -> reqwest::Response {
        let response = self
            .http
            .get(format!("{}/{path}", self.base))
            .query(params)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response
    }

    async fn json(&self, path: &str, params: &[(&str, &str)]) -> Value {
        let text = self.get(path, params).await.text().await.expect("body");
        serde_json::from_str(&text).expect("json")
    }
}

async fn setup(accounts: usize) -> (FakeSalesforce, Api) {
    let fake = FakeSalesforce::start(Options::default())
        .await
        .expect("start");
    fake.seed_object("Account", accounts).expect("seed");
    let api = Api {
        http: reqwest::Client::new(),
        base: format!("{}/services/data/v62.0", fake.instance_url()),
        token: fake.session(),
    };
    (fake, api)
}

#[tokio::test]
async fn keyset_pages_read_every_record_once_when_thousands_share_one_stamp() {
    let (fake, api) = setup(2_600).await;
    let truth: Vec<String> = fake
        .records("Account")
        .expect("accounts")
        .iter()
        .map(|a| a["Id"].as_str().expect("id").to_string())
        .collect();
    fake.update("Account", &truth[100..], &json!({"Rating": "Warm"}))
        .expect("some 2,450 saved in one second");
    let fields = vec!["Id".to_string(), "SystemModstamp".to_string()];
    let (mut after, mut seen, mut pages) = (None::<After>, Vec::new(), 0);
    loop {
        let soql = page("Account", &fields, after.as_ref(), 1_000).expect("soql");
        let body = api.json("query", &[("q", &soql)]).await;
        let records = body["records"].as_array().expect("records");
        let Some(last) = records.last() else { break };
        pages += 1;
        after = Some(After {
            stamp: last["SystemModstamp"].as_str().expect("stamp").to_string(),
            id: Some(last["Id"].as_str().expect("id").to_string()),
        });
        seen.extend(
            records
                .iter()
                .map(|r| r["Id"].as_str().expect("id").to_string()),
        );
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "no record twice");
    let mut want = truth.clone();
    want.sort();
    assert_eq!(sorted, want, "every record");
    assert!(
        pages >= 3,
        "the shared stamp spans page boundaries ({pages} pages)"
    );
}

#[tokio::test]
async fn bulk_csv_read_by_the_parser_equals_the_truth() {
    let (fake, api) = setup(700).await;
    let job = api
        .http
        .post(format!("{}/jobs/query", api.base))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body(json!({"operation": "query", "query": "SELECT Id, Name, Description, AnnualRevenue, BillingStreet FROM Account"}).to_string())
        .send()
        .await
        .expect("create job");
    let job: Value = serde_json::from_str(&job.text().await.expect("body")).expect("job");
    let id = job["id"].as_str().expect("job id");
    let info = api.json(&format!("jobs/query/{id}"), &[]).await;
    assert_eq!(info["state"], json!("JobComplete"));
    let mut rows = Vec::new();
    let mut locator = String::new();
    loop {
        let mut params = vec![("maxRecords", "300")];
        if !locator.is_empty() {
            params.push(("locator", &locator));
        }
        let response = api.get(&format!("jobs/query/{id}/results"), &params).await;
        let next = response.headers()["sforce-locator"]
            .to_str()
            .expect("locator")
            .to_string();
        let text = response.text().await.expect("csv");
        let chunk = csv::parse(&text, ',').expect("parse");
        assert_eq!(
            chunk.header,
            [
                "Id",
                "Name",
                "Description",
                "AnnualRevenue",
                "BillingStreet"
            ]
        );
        rows.extend(chunk.rows);
        if next == "null" {
            break;
        }
        locator = next;
    }
    let truth = fake.records("Account").expect("accounts");
    assert_eq!(rows.len(), truth.len());
    for (row, record) in rows.iter().zip(&truth) {
        for (i, field) in [
            (0, "Id"),
            (1, "Name"),
            (2, "Description"),
            (4, "BillingStreet"),
        ] {
            assert_eq!(row[i].as_deref(), record[field].as_str(), "{field}");
        }
        let amount = row[3]
            .as_deref()
            .map(|t| t.parse::<f64>().expect("a number"));
        assert_eq!(amount, record["AnnualRevenue"].as_f64());
    }
    assert!(rows
        .iter()
        .any(|r| r[2].as_deref().is_some_and(|d| d.contains('\n'))));
    assert!(
        rows.iter().any(|r| r[2].is_none()),
        "nulls come back as None"
    );
}

#[tokio::test]
async fn describe_of_every_field_type_maps_to_columns_and_the_limit_header_feeds_the_allowance() {
    let (_fake, api) = setup(1).await;
    let response = api.get("sobjects/Invoice__c/describe", &[]).await;
    let budget = budget::salesforce(response.headers()).expect("Sforce-Limit-Info");
    let describe: Value =
        serde_json::from_str(&response.text().await.expect("body")).expect("json");
    let columns = schema::columns(&describe).expect("columns");
    let sql = |name: &str| {
        columns
            .columns
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, c)| c.ty.sql())
    };
    assert_eq!(sql("Tags__c"), Some("text[]"));
    assert_eq!(sql("Amount__c"), Some("numeric"));
    assert_eq!(sql("Due_Date__c"), Some("date"));
    assert_eq!(sql("Sent_At__c"), Some("timestamptz"));
    assert_eq!(sql("Cutoff_Time__c"), Some("time"));
    assert_eq!(sql("Paid__c"), Some("boolean"));
    assert_eq!(
        sql("Site__Latitude__s"),
        Some("numeric"),
        "geolocation components are columns"
    );
    assert_eq!(columns.compound, vec!["Site__c"]);

    assert_eq!(budget.limit, Some(100_000));
    let now = Instant::now();
    let mut allowance = Allowance::new(0.0001);
    allowance.observe(budget, now);
    for _ in 0..9 {
        allowance
            .take(now)
            .expect("a 0.01% share of ~100,000 is 9 calls");
    }
    assert!(allowance.take(now).is_err());
}

#[tokio::test]
async fn every_field_type_read_by_bulk_becomes_the_row_rest_gives() {
    let (fake, api) = setup(10).await;
    fake.seed_object("Invoice__c", 400).expect("invoices");
    let describe = api.json("sobjects/Invoice__c/describe/", &[]).await;
    let table = ObjectTable::new("Invoice__c", schema::columns(&describe).expect("columns"));
    let soql = format!("SELECT {} FROM Invoice__c", table.select().join(", "));
    let job = api
        .http
        .post(format!("{}/jobs/query", api.base))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body(json!({"operation": "query", "query": soql}).to_string())
        .send()
        .await
        .expect("create job");
    let job: Value = serde_json::from_str(&job.text().await.expect("body")).expect("job");
    let id = job["id"].as_str().expect("job id");
    let mut by_bulk = Vec::new();
    let mut locator = String::new();
    loop {
        let mut params = vec![("maxRecords", "150")];
        if !locator.is_empty() {
            params.push(("locator", &locator));
        }
        let response = api.get(&format!("jobs/query/{id}/results"), &params).await;
        let next = response.headers()["sforce-locator"]
            .to_str()
            .expect("locator")
            .to_string();
        let chunk = csv::parse(&response.text().await.expect("csv"), ',').expect("parse");
        by_bulk.extend(bulk_rows::records(&table, &chunk).expect("rows"));
        if next == "null" {
            break;
        }
        locator = next;
    }
    let mut by_rest = Vec::new();
    let mut page = api.json("query", &[("q", soql.as_str())]).await;
    loop {
        for record in page["records"].as_array().expect("records") {
            by_rest.push(table.record(record).expect("a record").0);
        }
        let Some(next) = page["nextRecordsUrl"].as_str() else {
            break;
        };
        let next = next.trim_start_matches("/services/data/v62.0/").to_string();
        page = api.json(&next, &[]).await;
    }
    by_bulk.sort_by(|a, b| a.id.cmp(&b.id));
    by_rest.sort_by(|a, b| a.id.cmp(&b.id));
    let live = fake.records("Invoice__c").expect("invoices").len();
    assert_eq!(
        by_bulk.len(),
        live,
        "every live invoice (some are seeded deleted)"
    );
    assert_eq!(by_bulk, by_rest);
}
