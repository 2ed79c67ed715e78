//! The writer against real servers (every version in `INLET_TEST_PG_VERSIONS`): ordering by
//! source version, deletes that stay deleted, the change log, checkpoints that never move
//! backward, additive evolution, and values kept when they do not fit their column.

mod change_log;
mod columns;
mod ordering;

use futures_util::StreamExt;
use inlet_core::{Batch, Checkpoint, Column, ColumnType, Phase, Record, StreamSpec, Version};
use inlet_postgres::tables::{ensure_schema, ensure_table, Table};
use inlet_postgres::writer::{
    prune_events, write_batch, DeleteMode, WriteError, WriteOptions, WriteStats,
};
use inlet_postgres::{connect, ConnectOptions, Secret, SslMode};
use inlet_testkit::{shared, versions, Cluster, ClusterSpec};
use serde_json::{json, Value};
use tokio_postgres::Client;

const SYNC: &str = "writer_sync";
const READER: &str = "writer_read";
const PASSWORD: &str = "pw";

async fn cluster(major: u32) -> &'static Cluster {
    shared(&format!("writer-{major}"), || {
        ClusterSpec::new(major).password_logins()
    })
}

/// A fresh database with a sync user that owns nothing but what it creates.
async fn sync_client(c: &Cluster) -> Client {
    let db = c.sync_database(SYNC, PASSWORD, READER).await;
    let o = ConnectOptions {
        host: c.host().into(),
        port: c.port,
        dbname: db,
        user: SYNC.into(),
        password: Some(Secret::new(PASSWORD)),
        sslmode: SslMode::Disable,
        ..ConnectOptions::default()
    };
    connect(&o).await.expect("sync user connects").client
}

fn spec(columns: &[(&str, ColumnType)]) -> StreamSpec {
    StreamSpec::new(
        "customer",
        columns.iter().map(|(n, t)| Column::new(*n, *t)).collect(),
    )
}

async fn prepared(client: &Client, columns: &[(&str, ColumnType)]) -> Table {
    ensure_schema(client, "stripe", READER)
        .await
        .expect("schema");
    ensure_table(client, "stripe", &spec(columns))
        .await
        .expect("table")
        .0
}

fn up(id: &str, ts: i64, fields: Value) -> Record {
    Record::upsert(
        id,
        Version::new(ts, 0),
        fields.as_object().cloned().unwrap_or_default(),
    )
}

fn batch(records: Vec<Record>, phase: Phase, n: i64) -> Batch {
    Batch::new(records, Checkpoint(json!({"page": n})), phase)
}

struct Stream {
    table: Table,
    seq: i64,
    options: WriteOptions,
}

impl Stream {
    async fn write(
        &mut self,
        client: &mut Client,
        records: Vec<Record>,
        phase: Phase,
    ) -> WriteStats {
        self.seq += 1;
        let b = batch(records, phase, self.seq);
        write_batch(client, &self.table, "customer", &b, self.seq, self.options)
            .await
            .unwrap_or_else(|e| panic!("batch {} failed: {e}", self.seq))
    }
}

async fn names(client: &Client) -> Vec<(String, Option<String>)> {
    client
        .query("select id, name from stripe.customer order by id", &[])
        .await
        .expect("select")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn row(id: &str, name: &str) -> (String, Option<String>) {
    (id.to_string(), Some(name.to_string()))
}

const NAME: [(&str, ColumnType); 1] = [("name", ColumnType::Text)];
