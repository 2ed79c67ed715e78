//! The destination as the engine sees it: one session that holds the sync's advisory lock
//! and does every write, so two processes can never interleave writes to one schema, and a
//! process that lost its session (and with it the lock) cannot write stale data.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use inlet_core::{Batch, Checkpoint, Sink, Stage, StreamSpec, StreamState};
use serde_json::Value;
use tokio::sync::watch;
use tokio_postgres::Client;

use crate::evolve;
use crate::ownership::{owner, Owner};
use crate::problem::{Problem, ProblemKind};
use crate::read_role::sql_problem;
use crate::sql::ident;
use crate::tables::{ensure_schema, ensure_table, Table, TypeConflict};
use crate::writer::{batch_seq, write_batch, WriteError, WriteOptions, WriteStats};

/// What each stream has done since the sink opened, shared with whoever shows progress.
pub type Progress = std::sync::Arc<std::sync::Mutex<HashMap<String, StreamProgress>>>;

#[derive(Clone, Debug, Default)]
pub struct StreamProgress {
    /// The stream's stage as last stored.
    pub state: Stage,
    pub written: WriteStats,
    /// The source's latest estimate of how much of the backfill is done (0 to 1).
    pub backfill_done: Option<f64>,
}

/// Told of each thing the sink stores, as it stores it (metrics, readiness, logs).
pub trait Observer: Send + Sync + std::fmt::Debug {
    /// `batch` of `stream` committed: what it wrote, and how long the write took.
    fn wrote(&self, stream: &str, batch: &Batch, stats: &WriteStats, took: Duration);
    /// `stream`'s state was stored (an error, or pending at the start).
    fn state(&self, stream: &str, state: &StreamState);
}

#[derive(Debug)]
pub struct PgSink {
    client: Client,
    schema: String,
    tables: HashMap<String, Table>,
    seqs: HashMap<String, i64>,
    /// Streams whose backfill batches go through the merge: they may have tombstones, or the
    /// table already held rows of the backfill (the fast path fell back once).
    tombstones: std::collections::HashSet<String>,
    options: WriteOptions,
    /// Totals since this sink opened, per stream.
    stats: Progress,
    observer: Option<Arc<dyn Observer>>,
    /// Columns whose type in the destination differs from the stream's (reported, kept).
    pub conflicts: Vec<TypeConflict>,
    /// Turns true when a batch declares a column with a type its table's column does not
    /// have: the sync reopens, finds the conflict, and rebuilds (see [`PgSink::retyped`]).
    retyped: watch::Sender<bool>,
    /// Streams whose table exists and is not the sync user's (a person took it over with
    /// `alter table ... owner to ...`): not synced, never touched; with the owner.
    pub left_alone: Vec<(String, String)>,
    /// The streams given to [`PgSink::open`] but those left alone: what it writes.
    streams: Vec<StreamSpec>,
}

impl PgSink {
    /// Takes the lock for `schema` on `client`'s session, then prepares the schema and a
    /// table per stream. Refused, naming the holder, when another session has the lock.
    /// The lock lives as long as the session: give it [`crate::workers::keep_alive`] so that
    /// it goes soon when this process is cut off from the server.
    pub async fn open(
        client: Client,
        schema: &str,
        read_role: &str,
        streams: &[StreamSpec],
        options: WriteOptions,
    ) -> Result<Self, Problem> {
        let key = lock_key(schema);
        let locked: bool = client
            .query_one("select pg_try_advisory_lock($1)", &[&key])
            .await
            .map_err(|e| sql_problem(&e, "could not take the sync lock", "pg_try_advisory_lock"))?
            .get(0);
        if !locked {
            return Err(already_running(&client, schema, key).await);
        }
        ensure_schema(&client, schema, read_role).await?;
        crate::writer::prefer_lz4(&client).await;
        let mut sink = PgSink {
            client,
            schema: schema.to_string(),
            tables: HashMap::new(),
            seqs: HashMap::new(),
            tombstones: Default::default(),
            options,
            stats: Progress::default(),
            observer: None,
            conflicts: Vec::new(),
            retyped: watch::Sender::new(false),
            left_alone: Vec::new(),
            streams: Vec::new(),
        };
        for spec in streams {
            if let Owner::Other(who) = owner(&sink.client, schema, &spec.name).await? {
                tracing::warn!(table = %spec.name, owner = %who, "not inlet's table: left alone, not synced");
                sink.left_alone.push((spec.name.clone(), who));
                continue;
            }
            let (table, conflicts) = ensure_table(&sink.client, schema, spec).await?;
            sink.conflicts.extend(conflicts);
            let seq = batch_seq(&sink.client, schema, &spec.name).await?;
            let sql = format!(
                "select exists (select 1 from {}._sync_tombstone where object_type = $1)",
                ident(schema)
            );
            let has_tombstones: bool = sink
                .client
                .query_one(&sql, &[&spec.name])
                .await
                .map_err(|e| sql_problem(&e, "could not read tombstones", &sql))?
                .get(0);
            if has_tombstones {
                sink.tombstones.insert(spec.name.clone());
            }
            sink.seqs.insert(spec.name.clone(), seq);
            sink.tables.insert(spec.name.clone(), table);
            sink.streams.push(spec.clone());
        }
        Ok(sink)
    }

    /// The streams this sink writes, as the source described them when it opened: those
    /// given to [`PgSink::open`] but those [`left_alone`](PgSink::left_alone).
    pub fn streams(&self) -> &[StreamSpec] {
        &self.streams
    }

    /// Turns true once a source has declared a column's type changed since the sink opened;
    /// the values go on being written into the column as it is (what does not fit it into
    /// `_sync_extra`) until a rebuild, which opening the sink again asks for.
    pub fn retyped(&self) -> watch::Receiver<bool> {
        self.retyped.subscribe()
    }

    /// The schema this sink writes.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The lock-holding session (for a swap, which must happen on it).
    pub fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Gives the session back (with the lock it holds).
    pub fn into_client(self) -> Client {
        self.client
    }

    /// The totals written since the sink opened, per stream, readable while it writes.
    pub fn progress(&self) -> Progress {
        self.stats.clone()
    }

    /// From now on, `observer` is told of every batch and state this sink stores.
    pub fn observe(&mut self, observer: Arc<dyn Observer>) {
        self.observer = Some(observer);
    }

    async fn exec(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<(), WriteError> {
        self.client
            .execute(sql, params)
            .await
            .map(|_| ())
            .map_err(|e| {
                WriteError::Database(sql_problem(&e, "could not update stream state", sql))
            })
    }
}

impl Sink for PgSink {
    type Error = WriteError;

    async fn checkpoint(&mut self, stream: &str) -> Result<Option<Checkpoint>, WriteError> {
        let sql = format!(
            "select checkpoint from {}._sync_state where stream = $1",
            ident(&self.schema)
        );
        let rows = self.client.query(&sql, &[&stream]).await.map_err(|e| {
            WriteError::Database(sql_problem(&e, "could not read the checkpoint", &sql))
        })?;
        Ok(rows
            .first()
            .and_then(|r| r.get::<_, Option<Value>>(0))
            .map(Checkpoint))
    }

    async fn write(&mut self, stream: &str, batch: &Batch) -> Result<(), WriteError> {
        let seq = self.seqs.get(stream).copied().unwrap_or(0) + 1;
        let table = self
            .tables
            .get_mut(stream)
            .ok_or_else(|| unprepared(stream))?;
        if let Some(declared) = &batch.columns {
            let (added, mut retyped) = evolve::declared_changes(table, declared);
            evolve::add_columns(&self.client, table, added).await?;
            // Known when the sink opened: the reopening would change nothing.
            retyped.retain(|c| {
                !self
                    .conflicts
                    .iter()
                    .any(|k| k.table == stream && k.column == *c)
            });
            if !retyped.is_empty() && !*self.retyped.borrow() {
                tracing::info!(table = %stream, columns = %retyped.join(", "), "column types changed at the source: a rebuild will retype them");
                self.retyped.send_replace(true);
            }
        }
        let added = evolve::new_columns(table, &batch.records);
        if !added.is_empty() {
            evolve::add_columns(&self.client, table, added).await?;
        }
        if batch
            .records
            .iter()
            .any(|r| matches!(r.change, inlet_core::Change::Delete))
        {
            self.tombstones.insert(stream.to_string());
        }
        let options = WriteOptions {
            direct_backfill: !self.tombstones.contains(stream),
            ..self.options
        };
        let started = Instant::now();
        let stats = write_batch(&mut self.client, table, stream, batch, seq, options).await?;
        if let Some(observer) = &self.observer {
            observer.wrote(stream, batch, &stats, started.elapsed());
        }
        if options.direct_backfill && batch.phase == inlet_core::Phase::Backfill && !stats.direct {
            // The table already holds rows of this backfill (a restart): stop trying.
            self.tombstones.insert(stream.to_string());
        }
        self.seqs.insert(stream.to_string(), seq);
        if let Ok(mut totals) = self.stats.lock() {
            let progress = totals.entry(stream.to_string()).or_default();
            progress.state = crate::writer::state_after(batch.phase);
            if batch.progress.is_some() {
                progress.backfill_done = batch.progress;
            }
            let total = &mut progress.written;
            total.inserted += stats.inserted;
            total.updated += stats.updated;
            total.deleted += stats.deleted;
            total.events += stats.events;
            total.extra_values += stats.extra_values;
            total.rejected += stats.rejected;
        }
        Ok(())
    }

    async fn set_state(&mut self, stream: &str, state: &StreamState) -> Result<(), WriteError> {
        let stage = state.stage();
        let error = match state {
            StreamState::Errored { .. } => serde_json::to_value(state).ok(),
            _ => None,
        };
        let sql = format!(
            "insert into {}._sync_state as st (stream, state, error) values ($1, $2, $3) \
             on conflict (stream) do update set state = excluded.state, error = excluded.error, \
             updated_at = now()",
            ident(&self.schema)
        );
        self.exec(&sql, &[&stream, &stage.as_str(), &error]).await?;
        if let Some(observer) = &self.observer {
            observer.state(stream, state);
        }
        if let Ok(mut progress) = self.stats.lock() {
            progress.entry(stream.to_string()).or_default().state = stage;
        }
        Ok(())
    }

    async fn reset(&mut self, stream: &str) -> Result<(), WriteError> {
        // The batch sequence stays: it only ever grows, whatever happens to the checkpoint.
        let sql = format!(
            "update {}._sync_state set checkpoint = null where stream = $1",
            ident(&self.schema)
        );
        self.exec(&sql, &[&stream]).await
    }
}

fn unprepared(stream: &str) -> WriteError {
    WriteError::Database(Problem::new(
        ProblemKind::ServerError,
        format!("stream {stream} was not prepared"),
        "",
    ))
}

/// The advisory-lock key of a sync: a stable 64-bit hash of its schema name.
pub fn lock_key(schema: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "inlet:".bytes().chain(schema.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// Whether some session (this one included) holds the sync's lock on `schema` now.
pub async fn lock_held(client: &Client, schema: &str) -> Result<bool, Problem> {
    let sql = "select exists (select 1 from pg_locks where locktype = 'advisory' and granted \
                 and database = (select oid from pg_database where datname = current_database()) \
                 and classid::bigint = (($1::bigint >> 32) & 4294967295) \
                 and objid::bigint = ($1::bigint & 4294967295) and objsubid = 1)";
    let row = client
        .query_one(sql, &[&lock_key(schema)])
        .await
        .map_err(|e| sql_problem(&e, "could not look up the sync's lock", "pg_locks"))?;
    Ok(row.get(0))
}

async fn already_running(client: &Client, schema: &str, key: i64) -> Problem {
    // A bigint advisory key shows in pg_locks as classid (high half) and objid (low half);
    // advisory locks are per database, and pg_locks shows every database's.
    let holder = client
        .query_opt(
            "select a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local') \
               from pg_locks l join pg_stat_activity a on a.pid = l.pid \
              where l.locktype = 'advisory' and l.granted and l.objsubid = 1 \
                and l.database = (select oid from pg_database where datname = current_database()) \
                and l.classid::bigint = (($1::bigint >> 32) & 4294967295) \
                and l.objid::bigint = ($1::bigint & 4294967295)",
            &[&key],
        )
        .await
        .map_err(|e| tracing::debug!(error = %e, "could not name the lock holder"))
        .ok()
        .flatten()
        .map(|r| {
            let (pid, app, addr): (i32, String, String) = (r.get(0), r.get(1), r.get(2));
            format!(" (server process {pid}, application \"{app}\", from {addr})")
        })
        .unwrap_or_default();
    Problem::new(
        ProblemKind::AlreadyRunning,
        format!("another inlet process is already syncing schema \"{schema}\"{holder}"),
        "run one `inlet run` per sync (others wait and take over when it stops), or stop the \
         other process first",
    )
}
