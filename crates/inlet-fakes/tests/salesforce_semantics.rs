//! The fake Salesforce's behaviour that a sync depends on and simple-salesforce does not
//! exercise: many records sharing one `SystemModstamp` across a page boundary, system-only
//! changes, undelete and purge with the delete log, expiring sessions, a Bulk job still in
//! progress, a failed one, chunks smaller than asked, record counts, fault knobs, new
//! fields and refused SOQL.

use std::time::Duration;

use inlet_core::calendar::civil_from_days;
use inlet_fakes::salesforce::{FakeSalesforce, MutatorOptions, Options};
use serde_json::{json, Value};

async fn json(response: reqwest::Response) -> Value {
    serde_json::from_str(&response.text().await.expect("a body")).unwrap_or(Value::Null)
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn login(fake: &FakeSalesforce) -> Client {
        let c = fake.credentials();
        let http = reqwest::Client::new();
        let token = http
            .post(format!("{}/services/oauth2/token", fake.login_url()))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", &c.client_id),
                ("refresh_token", &c.refresh_token),
            ])
            .send()
            .await
            .expect("token request");
        let token = json(token).await;
        Client {
            http,
            base: format!(
                "{}/services/data/v62.0",
                token["instance_url"].as_str().expect("instance_url")
            ),
            token: token["access_token"]
                .as_str()
                .expect("access_token")
                .to_string(),
        }
    }

    async fn get(&self, path: &str, params: &[(&str, &str)]) -> (u16, Value) {
        let url = if path.starts_with("/services") {
            format!(
                "{}{path}",
                self.base.split("/services").next().unwrap_or_default()
            )
        } else {
            format!("{}/{path}", self.base)
        };
        let response = self
            .http
            .get(url)
            .query(params)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, json(response).await)
    }

    async fn query(&self, soql: &str, all: bool) -> Value {
        let (status, body) = self
            .get(if all { "queryAll" } else { "query" }, &[("q", soql)])
            .await;
        assert_eq!(status, 200, "{soql}: {body}");
        body
    }
}

async fn fake(accounts: usize) -> FakeSalesforce {
    let fake = FakeSalesforce::start(Options {
        seed: 3,
        ..Options::default()
    })
    .await
    .expect("start the fake");
    fake.seed_object("Account", accounts).expect("seed");
    fake
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["Id"].as_str().expect("Id").to_string())
        .collect()
}

#[tokio::test]
async fn records_sharing_one_stamp_across_a_page_boundary_all_come_back_through_keyset_paging() {
    let fake = fake(3_000).await;
    let all = ids(&fake.records("Account").expect("accounts"));
    fake.update("Account", &all[..2_500], &json!({"Rating": "Hot"}))
        .expect("one save of 2,500 records");
    let client = Client::login(&fake).await;
    let mut seen: Vec<String> = Vec::new();
    let mut after: Option<(String, String)> = None;
    loop {
        let filter = after.as_ref().map_or(String::new(), |(stamp, id)| {
            format!("WHERE SystemModstamp > {stamp} OR (SystemModstamp = {stamp} AND Id > '{id}') ")
        });
        let page = client
            .query(&format!("SELECT Id, SystemModstamp FROM Account {filter}ORDER BY SystemModstamp, Id LIMIT 2000"), false)
            .await;
        let records = page["records"].as_array().expect("records").clone();
        let Some(last) = records.last() else { break };
        after = Some((
            last["SystemModstamp"]
                .as_str()
                .expect("stamp")
                .replace(".000+0000", "Z"),
            last["Id"].as_str().expect("id").to_string(),
        ));
        seen.extend(ids(&records));
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen.len(), all.len(), "no record skipped or repeated");
    let mut want = all.clone();
    want.sort();
    assert_eq!(sorted, want);
    let shared = client
        .query(
            "SELECT Id FROM Account WHERE Rating = 'Hot' AND SystemModstamp > 2020-01-01T00:00:00Z",
            false,
        )
        .await;
    assert!(shared["totalSize"].as_u64() >= Some(2_500));
}

#[tokio::test]
async fn a_system_change_moves_system_modstamp_but_not_last_modified_date() {
    let fake = fake(5).await;
    let before = fake.records("Account").expect("accounts")[0].clone();
    let id = before["Id"].as_str().expect("id");
    fake.touch("Account", id).expect("touch");
    let after = fake.records("Account").expect("accounts")[0].clone();
    assert_eq!(after["LastModifiedDate"], before["LastModifiedDate"]);
    assert_ne!(after["SystemModstamp"], before["SystemModstamp"]);
    assert_eq!(after["Name"], before["Name"]);
}

#[tokio::test]
async fn undelete_brings_a_record_back_and_a_purge_leaves_only_the_delete_log_until_it_is_trimmed()
{
    let fake = fake(10).await;
    let client = Client::login(&fake).await;
    let all = ids(&fake.records("Account").expect("accounts"));
    let (back, gone) = (&all[0], &all[1]);
    fake.delete("Account", back).expect("delete");
    let deleted = client
        .query(
            &format!("SELECT Id, IsDeleted FROM Account WHERE Id = '{back}'"),
            true,
        )
        .await;
    assert_eq!(deleted["records"][0]["IsDeleted"], json!(true));
    fake.undelete("Account", back).expect("undelete");
    let live = client
        .query(
            &format!("SELECT Id FROM Account WHERE Id = '{back}'"),
            false,
        )
        .await;
    assert_eq!(live["totalSize"], json!(1));

    fake.delete("Account", gone).expect("delete");
    fake.purge("Account", gone).expect("purge");
    let purged = client
        .query(&format!("SELECT Id FROM Account WHERE Id = '{gone}'"), true)
        .await;
    assert_eq!(purged["totalSize"], json!(0), "queryAll no longer finds it");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let start = format!("{}", now - 3_600);
    let window = |start: &str| {
        let secs: i64 = start.parse().expect("secs");
        let days = secs.div_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let s = secs.rem_euclid(86_400);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:00+00:00",
            s / 3600,
            s / 60 % 60
        )
    };
    let (from, to) = (window(&start), window(&format!("{}", now + 120)));
    let (status, log) = client
        .get(
            "sobjects/Account/deleted/",
            &[("start", &from), ("end", &to)],
        )
        .await;
    assert_eq!(status, 200, "{log}");
    let logged: Vec<&str> = log["deletedRecords"]
        .as_array()
        .expect("deletedRecords")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(
        logged,
        vec![gone.as_str()],
        "the undeleted record left the log"
    );
    fake.trim_delete_log("Account", (now as i64 + 60) * 1000)
        .expect("trim");
    let (_, trimmed) = client
        .get(
            "sobjects/Account/deleted/",
            &[("start", &from), ("end", &to)],
        )
        .await;
    assert_eq!(trimmed["deletedRecords"], json!([]));
    assert!(
        trimmed["earliestDateAvailable"].as_str() > log["earliestDateAvailable"].as_str(),
        "earliestDateAvailable moved past the start: reconcile ids"
    );
}

#[tokio::test]
async fn an_expired_session_answers_401_invalid_session_id_until_the_client_logs_in_again() {
    let fake = fake(3).await;
    let client = Client::login(&fake).await;
    fake.expire_sessions();
    let (status, body) = client
        .get("query", &[("q", "SELECT Id FROM Account")])
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
    let again = Client::login(&fake).await;
    assert_eq!(
        again.query("SELECT Id FROM Account", false).await["totalSize"],
        json!(3)
    );
}

#[tokio::test]
async fn a_bulk_job_still_in_progress_refuses_its_results_with_412() {
    let fake = FakeSalesforce::start(Options {
        bulk_processing: Duration::from_secs(600),
        ..Options::default()
    })
    .await
    .expect("start");
    fake.seed_object("Account", 3).expect("seed");
    let client = Client::login(&fake).await;
    let job = client
        .http
        .post(format!("{}/jobs/query", client.base))
        .bearer_auth(&client.token)
        .header("content-type", "application/json")
        .body(json!({"operation": "query", "query": "SELECT Id, Name FROM Account"}).to_string())
        .send()
        .await
        .expect("create");
    let job = json(job).await;
    assert_eq!(job["state"], json!("UploadComplete"));
    let id = job["id"].as_str().expect("id");
    let (_, info) = client.get(&format!("jobs/query/{id}"), &[]).await;
    assert_eq!(info["state"], json!("InProgress"));
    let (status, body) = client.get(&format!("jobs/query/{id}/results"), &[]).await;
    assert_eq!(status, 412);
    assert_eq!(body[0]["errorCode"], json!("JOB_NOT_COMPLETE"));
}

#[tokio::test]
async fn record_counts_failed_jobs_and_chunks_smaller_than_asked_are_as_salesforce_gives_them() {
    let fake = FakeSalesforce::start(Options::default())
        .await
        .expect("start");
    fake.seed_object("Account", 30).expect("seed");
    let client = Client::login(&fake).await;
    let live = fake.records("Account").expect("accounts").len();
    let (status, counts) = client
        .get(
            "limits/recordCount",
            &[("sObjects", "Account,Lead,NoSuchThing")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        counts,
        json!({"sObjects": [{"count": live, "name": "Account"}, {"count": 0, "name": "Lead"}]}),
        "an unknown object is left out"
    );
    let create = || async {
        let job = client
            .http
            .post(format!("{}/jobs/query", client.base))
            .bearer_auth(&client.token)
            .header("content-type", "application/json")
            .body(json!({"operation": "query", "query": "SELECT Id FROM Account"}).to_string())
            .send()
            .await
            .expect("create");
        json(job).await["id"].as_str().expect("id").to_string()
    };
    fake.cap_bulk_chunks(7);
    let id = create().await;
    let response = client
        .http
        .get(format!("{}/jobs/query/{id}/results", client.base))
        .query(&[("maxRecords", "1000")])
        .bearer_auth(&client.token)
        .send()
        .await
        .expect("results");
    assert_eq!(response.headers()["sforce-numberofrecords"], "7");
    assert_ne!(response.headers()["sforce-locator"], "null");
    fake.fail_bulk_jobs(Some("Query timeout"));
    let failed = create().await;
    let (_, info) = client.get(&format!("jobs/query/{failed}"), &[]).await;
    assert_eq!(
        (info["state"].clone(), info["errorMessage"].clone()),
        (json!("Failed"), json!("Query timeout"))
    );
    let (status, _) = client
        .get(&format!("jobs/query/{failed}/results"), &[])
        .await;
    assert_eq!(status, 412);
    assert_eq!(fake.bulk_jobs(), ["Account", "Account"]);
}

#[tokio::test]
async fn fault_knobs_fail_drop_and_invalidate_locators_and_the_daily_limit_answers_403() {
    let fake = fake(450).await;
    let client = Client::login(&fake).await;
    fake.faults().fail_next(1, 503);
    let (status, body) = client.get("limits", &[]).await;
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (503, json!("SERVER_UNAVAILABLE"))
    );
    fake.faults().drop_next_connections(1);
    assert!(client
        .http
        .get(format!("{}/limits", client.base))
        .bearer_auth(&client.token)
        .send()
        .await
        .is_err());
    let first = client
        .http
        .get(format!("{}/query", client.base))
        .query(&[("q", "SELECT Id FROM Account")])
        .header("Sforce-Query-Options", "batchSize=200")
        .bearer_auth(&client.token)
        .send()
        .await
        .expect("query");
    let first = json(first).await;
    let next = first["nextRecordsUrl"]
        .as_str()
        .expect("a next page")
        .to_string();
    fake.invalidate_locators();
    let (status, body) = client.get(&next, &[]).await;
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (400, json!("INVALID_QUERY_LOCATOR"))
    );
    fake.set_daily_limit(100, 100);
    let (status, body) = client.get("limits", &[]).await;
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (403, json!("REQUEST_LIMIT_EXCEEDED"))
    );
    assert_eq!(fake.limit_refused(), 1);
}

#[tokio::test]
async fn a_new_field_shows_in_describe_and_queries_and_bad_soql_is_refused_in_plain_words() {
    let fake = fake(4).await;
    let client = Client::login(&fake).await;
    fake.add_field("Account", "Region__c", "string")
        .expect("add field");
    let (_, describe) = client.get("sobjects/Account/describe", &[]).await;
    let field = describe["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["name"] == json!("Region__c"))
        .expect("the new field")
        .clone();
    assert_eq!(
        (field["type"].clone(), field["custom"].clone()),
        (json!("string"), json!(true))
    );
    let rows = client
        .query("SELECT Id, Region__c FROM Account", false)
        .await;
    assert_eq!(rows["records"][0]["Region__c"], Value::Null);
    for (soql, code) in [
        ("SELECT Id, Nope__c FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Nope__c", "INVALID_TYPE"),
        (
            "SELECT Id FROM Account WHERE SystemModstamp > '2024-01-01'",
            "INVALID_FIELD",
        ),
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY"),
        ("SELECT FIELDS(ALL) FROM Account", "MALFORMED_QUERY"),
    ] {
        let (status, body) = client.get("query", &[("q", soql)]).await;
        assert_eq!(
            (status, body[0]["errorCode"].as_str()),
            (400, Some(code)),
            "{soql}: {body}"
        );
        assert!(
            !body[0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("Err("),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mutator_updates_deletes_and_adds_fields_while_the_truth_follows() {
    let fake = fake(200).await;
    fake.seed_object("Contact", 200).expect("contacts");
    let before = fake.records("Account").expect("accounts");
    let fields_before = before[0].as_object().map_or(0, |o| o.len());
    let deleted_before = fake.deleted_ids("Account").expect("deleted");
    let _mutator = fake.start_mutator(MutatorOptions {
        every: Duration::from_millis(2),
        burst: 5,
        schema_changes: true,
    });
    let fake_for_wait = fake.clone();
    inlet_testkit::wait_until_async(
        "the mutator to update, delete and add a field to accounts",
        Duration::from_secs(60),
        move || {
            let fake = fake_for_wait.clone();
            let before = before.clone();
            let deleted_before = deleted_before.clone();
            async move {
                let now = fake.records("Account").expect("accounts");
                let changed = now.iter().any(|r| !before.contains(r));
                let deleted = fake.deleted_ids("Account").expect("deleted") != deleted_before;
                let new_field = now
                    .first()
                    .and_then(Value::as_object)
                    .is_some_and(|o| o.len() > fields_before);
                changed && deleted && new_field
            }
        },
    )
    .await;
}
