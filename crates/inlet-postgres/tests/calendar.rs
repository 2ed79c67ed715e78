//! Date and time columns (HubSpot's and Salesforce's `date`, Salesforce's `time`) against
//! real servers: what the source sends lands as the same day and time of day, and a value
//! that is not one is kept in `_sync_extra`, never coerced.

use inlet_core::{Batch, Checkpoint, Column, ColumnType, Phase, Record, StreamSpec, Version};
use inlet_postgres::tables::{ensure_schema, ensure_table};
use inlet_postgres::writer::{write_batch, WriteOptions};
use inlet_postgres::{connect, ConnectOptions, Secret, SslMode};
use inlet_testkit::{shared, versions, Cluster, ClusterSpec};
use serde_json::{json, Value};

const SYNC: &str = "calendar_sync";
const READER: &str = "calendar_read";

async fn cluster(major: u32) -> &'static Cluster {
    shared(&format!("calendar-{major}"), || {
        ClusterSpec::new(major).password_logins()
    })
}

/// id, the date and the time as PostgreSQL prints them, and `_sync_extra`.
type Row = (String, Option<String>, Option<String>, Option<Value>);

fn record(id: &str, fields: Value) -> Record {
    Record::upsert(
        id,
        Version::new(1, 0),
        fields.as_object().cloned().unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_and_times_land_as_the_same_day_and_time_of_day() {
    for v in versions() {
        let c = cluster(v).await;
        let db = c.sync_database(SYNC, "pw", READER).await;
        let o = ConnectOptions {
            host: c.host().into(),
            port: c.port,
            dbname: db,
            user: SYNC.into(),
            password: Some(Secret::new("pw")),
            sslmode: SslMode::Disable,
            ..ConnectOptions::default()
        };
        let mut client = connect(&o).await.expect("sync user connects").client;
        let spec = StreamSpec::new(
            "deal",
            vec![
                Column::new("close_date", ColumnType::Date),
                Column::new("opens_at", ColumnType::Time),
            ],
        );
        ensure_schema(&client, "crm", READER).await.expect("schema");
        let table = ensure_table(&client, "crm", &spec).await.expect("table").0;
        let batch = Batch::new(
            vec![
                record(
                    "d1",
                    json!({"close_date": "2024-02-29", "opens_at": "09:30:00.25"}),
                ),
                record(
                    "d2",
                    json!({"close_date": "1999-12-31", "opens_at": "23:59:59"}),
                ),
                record(
                    "d3",
                    json!({"close_date": "2023-02-29", "opens_at": "25:00"}),
                ),
                record("d4", json!({"close_date": null, "opens_at": "00:00"})),
            ],
            Checkpoint(json!({"page": 1})),
            Phase::Backfill,
        );
        write_batch(
            &mut client,
            &table,
            "deal",
            &batch,
            1,
            WriteOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("PG {v}: the batch is written: {e}"));
        let rows: Vec<Row> = client
            .query(
                "select id, close_date::text, opens_at::text, _sync_extra from crm.deal order by id",
                &[],
            )
            .await
            .expect("select")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        let text = |s: &str| Some(s.to_string());
        assert_eq!(
            rows,
            vec![
                ("d1".into(), text("2024-02-29"), text("09:30:00.25"), None),
                ("d2".into(), text("1999-12-31"), text("23:59:59"), None),
                (
                    "d3".into(),
                    None,
                    None,
                    Some(json!({"close_date": "2023-02-29", "opens_at": "25:00"}))
                ),
                ("d4".into(), None, text("00:00:00"), None),
            ],
            "PG {v}"
        );
    }
}
