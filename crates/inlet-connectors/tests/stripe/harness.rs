//! A sync of the fake Stripe into a real PostgreSQL, and the comparison of every table
//! with the fake's truth, field by field.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::truth;
use inlet_connectors::stripe::{self, StripeOptions, StripeSource};
use inlet_core::{column_name, run_sync, Outcome, Source};
use inlet_fakes::stripe::FakeStripe;
use inlet_postgres::sink::PgSink;
use inlet_postgres::writer::WriteOptions;
use inlet_postgres::{connect, ConnectOptions, ProblemKind, Secret, SslMode};
use inlet_testkit::{shared, wait_for, wait_until_async, Cluster, ClusterSpec};
use serde_json::{Map, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_postgres::Client;

pub const SCHEMA: &str = "stripe";
const PASSWORD: &str = "pw";

pub async fn cluster(major: u32) -> &'static Cluster {
    shared(&format!("stripe-{major}"), || {
        ClusterSpec::new(major).password_logins()
    })
}

/// A fresh database the sync user may write, and its connection options.
pub async fn database(c: &Cluster) -> ConnectOptions {
    let db = c
        .sync_database("stripe_sync", PASSWORD, "stripe_read")
        .await;
    ConnectOptions {
        host: c.host().into(),
        port: c.port,
        dbname: db,
        user: "stripe_sync".into(),
        password: Some(Secret::new(PASSWORD)),
        sslmode: SslMode::Disable,
        ..ConnectOptions::default()
    }
}

pub async fn client(o: &ConnectOptions) -> Client {
    connect(o).await.expect("connect").client
}

pub fn options(fake: &FakeStripe) -> StripeOptions {
    StripeOptions {
        api_base: fake.url(),
        api_key: fake.api_key(),
        rate_limit: 1000.0,
        // The fake keeps no limit per endpoint unless a test sets one.
        endpoint_rate_limit: 1000.0,
        poll_interval: Duration::from_millis(100),
        ..StripeOptions::default()
    }
}

/// An engine running a sync in the background.
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Outcome>,
}

pub async fn start(db: &ConnectOptions, options: StripeOptions, write: WriteOptions) -> Running {
    // RUST_LOG=inlet_connectors=debug shows what the sync did, when a test fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let source = Arc::new(StripeSource::new(options).expect("source"));
    let specs = source.discover().await.expect("streams");
    // A killed engine's session ends a moment after the kill: wait to take over, as
    // `inlet run` does.
    let specs_ref = &specs;
    let mut sink = wait_for("the sync's lock", Duration::from_secs(30), || async move {
        match PgSink::open(client(db).await, SCHEMA, "stripe_read", specs_ref, write).await {
            Ok(sink) => Ok(sink),
            Err(p) if p.kind == ProblemKind::AlreadyRunning => Err(p.message),
            Err(p) => panic!("open sink: {p:?}"),
        }
    })
    .await;
    let (stop, stopped) = oneshot::channel::<()>();
    let s = source.clone();
    let task = tokio::spawn(async move {
        let stop = async move {
            let _ = stopped.await;
        };
        run_sync(s, &specs, &mut sink, tokio::time::sleep, stop)
            .await
            .expect("engine")
    });
    Running {
        stop: Some(stop),
        task,
    }
}

impl Running {
    /// Graceful stop: the batch being written commits.
    pub async fn stop(mut self) -> Outcome {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        (&mut self.task).await.expect("engine task")
    }

    /// As a crash: the task is dropped wherever it is (an open transaction rolls back).
    pub fn kill(self) {
        self.task.abort();
    }
}

/// Waits until every stream is live.
pub async fn wait_live(db: &ConnectOptions, streams: usize) {
    let c = client(db).await;
    wait_until_async("every stream live", Duration::from_secs(120), || {
        let c = &c;
        async move {
            let sql = format!("select count(*) from {SCHEMA}._sync_state where state = 'live'");
            c.query_one(&sql, &[])
                .await
                .map(|r| r.get::<_, i64>(0) as usize == streams)
                .unwrap_or(false)
        }
    })
    .await;
}

/// Waits until `streams` hold exactly the fake's truth; panics naming the first difference
/// and every stream's state.
pub async fn wait_for_truth(db: &ConnectOptions, fake: &FakeStripe, streams: &[&str]) {
    let c = client(db).await;
    wait_for(
        "the tables to match the fake",
        Duration::from_secs(60),
        || {
            let c = &c;
            async move {
                for s in streams {
                    if let Err(d) = compare(c, fake, s).await {
                        return Err(format!("{d}{}", states(c).await));
                    }
                }
                Ok(())
            }
        },
    )
    .await
}

/// Each stream's state, error and checkpoint, a line each.
async fn states(c: &Client) -> String {
    let sql = format!(
        "select stream, state, error::text, checkpoint::text from {SCHEMA}._sync_state order by 1"
    );
    let rows = c.query(&sql, &[]).await.unwrap_or_default();
    rows.iter()
        .map(|r| {
            format!(
                "\n  {}: {} {:?} {:?}",
                r.get::<_, String>(0),
                r.get::<_, String>(1),
                r.get::<_, Option<String>>(2),
                r.get::<_, Option<String>>(3)
            )
        })
        .collect()
}

/// Compares one table with the fake's objects of that stream, each row with what
/// [`truth::expected`] derives from the object (not the connector's own mapping).
pub async fn compare(c: &Client, fake: &FakeStripe, stream: &str) -> Result<(), String> {
    let truth = fake.objects(stream).expect("known stream");
    let columns: Vec<String> = stripe::specs(Some(&[stream.to_string()]))
        .into_iter()
        .flat_map(|spec| spec.columns)
        .map(|column| column.name)
        .collect();
    let rows = table(c, stream).await;
    if rows.len() != truth.len() {
        let want: std::collections::BTreeSet<_> =
            truth.iter().filter_map(|o| o["id"].as_str()).collect();
        let have: std::collections::BTreeSet<_> = rows.keys().map(String::as_str).collect();
        let missing: Vec<_> = want.difference(&have).take(3).collect();
        let extra: Vec<_> = have.difference(&want).take(3).collect();
        return Err(format!(
            "{stream}: {} rows, the fake has {} (missing {missing:?}, extra {extra:?})",
            rows.len(),
            truth.len()
        ));
    }
    for object in &truth {
        let object = object.as_object().expect("object");
        let id = object["id"].as_str().expect("id");
        let row = rows
            .get(id)
            .ok_or_else(|| format!("{stream}: {id} missing"))?;
        let expected = truth::expected(stream, &columns, object);
        for (field, value) in &expected {
            let column = column_name(field);
            let found = match row.get(column.as_ref()) {
                Some(v) => v.clone(),
                None => row["_sync_extra"]
                    .get(field)
                    .cloned()
                    .unwrap_or(Value::Null),
            };
            if !same(value, &found) {
                return Err(format!(
                    "{stream} {id}: {field} is {found}, the fake has {value}"
                ));
            }
            if let Some(extra) = row["_sync_extra"].get(field) {
                return Err(format!(
                    "{stream} {id}: {field} did not fit its column: {extra}"
                ));
            }
        }
    }
    Ok(())
}

/// Every row of a table as JSON, timestamps as Unix seconds.
async fn table(c: &Client, stream: &str) -> HashMap<String, Map<String, Value>> {
    let ts: Vec<String> = c
        .query(
            "select a.attname::text from pg_attribute a join pg_class t on t.oid = a.attrelid \
             join pg_namespace n on n.oid = t.relnamespace where n.nspname = $1 and t.relname = $2 \
             and a.attnum > 0 and not a.attisdropped and a.atttypid = 'timestamptz'::regtype \
             and a.attname not like '\\_sync\\_%'",
            &[&SCHEMA, &stream],
        )
        .await
        .expect("columns")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let epochs: Vec<String> = ts
        .iter()
        .map(|col| {
            let q = col.replace('"', "\"\"");
            format!(
                "jsonb_build_object('{}', extract(epoch from t.\"{q}\")::bigint)",
                col.replace('\'', "''")
            )
        })
        .collect();
    let epochs = if epochs.is_empty() {
        "'{}'::jsonb".to_string()
    } else {
        epochs.join(" || ")
    };
    let sql = format!("select to_jsonb(t) || {epochs} from {SCHEMA}.\"{stream}\" t");
    c.query(&sql, &[])
        .await
        .expect("rows")
        .iter()
        .map(|r| {
            let v: Value = r.get(0);
            let m = v.as_object().cloned().expect("object");
            (m["id"].as_str().expect("id").to_string(), m)
        })
        .collect()
}

/// Equal as the column holds it: numbers by value (a decimal string and a numeric column
/// agree), everything else exactly.
fn same(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::String(s), Value::Number(n)) | (Value::Number(n), Value::String(s)) => {
            s.parse::<f64>().ok() == n.as_f64()
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}
