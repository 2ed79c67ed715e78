//! Rebuilds and renames in progress, recorded in the live schema's `_sync_lifecycle` so a
//! process killed at any point resumes them, and so every process running the sync (or a
//! replica that takes over) sees the same request.
//!
//! A request goes `requested` → `copying` → `done` (a rebuild, swapped in) or `switched` (a
//! rename: the sync now lives in `target`). The switch and the `done`/`switched` mark are
//! in one transaction with the swap, so a crash leaves either the old state (resume the
//! copy) or the new one (nothing left to do), never half.

use inlet_core::Stage;
use tokio_postgres::{Client, GenericClient};

use crate::problem::{Problem, ProblemKind};
use crate::read_role::sql_problem;
use crate::schema_name::swap_schema;
use crate::sql::ident;

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Build a full copy in the swap schema, then swap it in.
    Rebuild,
    /// Build a full copy in another schema, then move the sync there.
    Rename,
}

impl Kind {
    /// The kind's name, as stored in `_sync_lifecycle` and logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Rebuild => "rebuild",
            Kind::Rename => "rename",
        }
    }

    fn parse(text: &str) -> Result<Self, Problem> {
        [Kind::Rebuild, Kind::Rename]
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| unknown("kind", text))
    }
}

/// A row this inlet cannot read: a newer inlet wrote it.
fn unknown(what: &str, text: &str) -> Problem {
    Problem::new(
        ProblemKind::ServerError,
        format!("_sync_lifecycle holds a request {what} this inlet does not know: \"{text}\""),
        "run the newest inlet, which wrote it",
    )
}

/// Where a request is; the one spelling of `_sync_lifecycle.state`, parsed where it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Recorded; nothing copied yet.
    Requested,
    /// The copy is being built while the live schema keeps updating.
    Copying,
    /// A rebuild, swapped in.
    Done,
    /// A rename: the sync now lives in the target schema.
    Switched,
    /// Overtaken: the schema it was made in was renamed back into and starts over.
    Superseded,
}

impl RequestState {
    const ALL: [RequestState; 5] = [
        RequestState::Requested,
        RequestState::Copying,
        RequestState::Done,
        RequestState::Switched,
        RequestState::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Requested => "requested",
            RequestState::Copying => "copying",
            RequestState::Done => "done",
            RequestState::Switched => "switched",
            RequestState::Superseded => "superseded",
        }
    }

    /// Whether the request reached its end (its report is final).
    pub fn finished(self) -> bool {
        matches!(self, RequestState::Done | RequestState::Switched)
    }

    fn parse(text: &str) -> Result<Self, Problem> {
        RequestState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| unknown("state", text))
    }
}

/// One request, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Request {
    pub id: i64,
    pub kind: Kind,
    /// The schema the copy is built in: the swap schema, or the new name.
    pub target: String,
    pub state: RequestState,
    pub reason: String,
}

/// Creates `_sync_lifecycle` in `schema` if missing.
pub async fn ensure<C: GenericClient>(c: &C, schema: &str) -> Result<(), Problem> {
    let sql = format!(
        "create table if not exists {}._sync_lifecycle (
           id bigserial primary key,
           kind text not null,
           target text not null,
           state text not null default 'requested',
           reason text not null,
           requested_at timestamptz not null default now(),
           finished_at timestamptz,
           report jsonb)",
        ident(schema)
    );
    c.batch_execute(&sql)
        .await
        .map_err(|e| sql_problem(&e, "could not create _sync_lifecycle", &sql))
}

/// Records a request, or returns the same one already in progress. Refuses a different
/// request while one is in progress (one copy at a time).
pub async fn request(
    c: &Client,
    schema: &str,
    kind: Kind,
    target: Option<&str>,
    reason: &str,
) -> Result<Request, Problem> {
    ensure(c, schema).await?;
    let target = match kind {
        Kind::Rebuild => swap_schema(schema),
        Kind::Rename => target.unwrap_or_default().to_string(),
    };
    if let Some(open) = pending(c, schema).await? {
        if open.kind == kind && open.target == target {
            return Ok(open);
        }
        return Err(Problem::new(
            ProblemKind::InvalidOption,
            format!(
                "a {} of schema \"{schema}\" into \"{}\" is in progress",
                open.kind.as_str(),
                open.target
            ),
            "wait for it to finish (`inlet sync status` shows it), then try again",
        ));
    }
    let sql = format!(
        "insert into {}._sync_lifecycle (kind, target, reason) values ($1, $2, $3) returning id",
        ident(schema)
    );
    let id: i64 = c
        .query_one(&sql, &[&kind.as_str(), &target, &reason])
        .await
        .map_err(|e| sql_problem(&e, "could not record the request", &sql))?
        .get(0);
    Ok(Request {
        id,
        kind,
        target,
        state: RequestState::Requested,
        reason: reason.into(),
    })
}

/// The request in progress in `schema`, if any (none when the table does not exist yet).
pub async fn pending<C: GenericClient>(c: &C, schema: &str) -> Result<Option<Request>, Problem> {
    use RequestState::{Copying, Requested};
    latest(c, schema, None, &[Requested, Copying]).await
}

/// Where the sync moved, if `schema` was renamed away.
pub async fn moved_to<C: GenericClient>(c: &C, schema: &str) -> Result<Option<String>, Problem> {
    Ok(
        latest(c, schema, Some(Kind::Rename), &[RequestState::Switched])
            .await?
            .map(|r| r.target),
    )
}

/// Whether a rebuild for `reason` already finished (an automatic rebuild is asked once per
/// reason: if the rebuild could not remove the reason, asking again would loop).
pub async fn rebuilt_for<C: GenericClient>(
    c: &C,
    schema: &str,
    reason: &str,
) -> Result<bool, Problem> {
    let done = latest(c, schema, Some(Kind::Rebuild), &[RequestState::Done]).await?;
    Ok(done.is_some_and(|r| r.reason == reason))
}

/// The state and report of request `id`.
pub async fn get<C: GenericClient>(
    c: &C,
    schema: &str,
    id: i64,
) -> Result<Option<(RequestState, Option<serde_json::Value>)>, Problem> {
    let sql = format!(
        "select state, report from {}._sync_lifecycle where id = $1",
        ident(schema)
    );
    let row = c
        .query_opt(&sql, &[&id])
        .await
        .map_err(|e| sql_problem(&e, "could not read _sync_lifecycle", &sql))?;
    row.map(|r| Ok((RequestState::parse(r.get(0))?, r.get(1))))
        .transpose()
}

/// The newest request of `kind` (any, if `None`) in one of `states`.
async fn latest<C: GenericClient>(
    c: &C,
    schema: &str,
    kind: Option<Kind>,
    states: &[RequestState],
) -> Result<Option<Request>, Problem> {
    if !exists(c, schema).await? {
        return Ok(None);
    }
    let kinds: Vec<&str> = match kind {
        Some(k) => vec![k.as_str()],
        None => vec![Kind::Rebuild.as_str(), Kind::Rename.as_str()],
    };
    let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    let sql = format!(
        "select id, kind, target, state, reason from {}._sync_lifecycle \
          where kind = any($1) and state = any($2) order by id desc limit 1",
        ident(schema)
    );
    let row = c
        .query_opt(&sql, &[&kinds, &states])
        .await
        .map_err(|e| sql_problem(&e, "could not read _sync_lifecycle", &sql))?;
    row.map(|r| {
        Ok(Request {
            id: r.get(0),
            kind: Kind::parse(r.get(1))?,
            target: r.get(2),
            state: RequestState::parse(r.get(3))?,
            reason: r.get(4),
        })
    })
    .transpose()
}

/// Whether `schema` has a `_sync_lifecycle` (not before the sync first opened there).
async fn exists<C: GenericClient>(c: &C, schema: &str) -> Result<bool, Problem> {
    let exists: bool = c
        .query_one(
            "select exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace \
              where n.nspname = $1 and c.relname = '_sync_lifecycle')",
            &[&schema],
        )
        .await
        .map_err(|e| sql_problem(&e, "could not look for _sync_lifecycle", "pg_class"))?
        .get(0);
    Ok(exists)
}

/// Sets request `id`'s state (and, when finishing, its report and finish time).
pub async fn set_state<C: GenericClient>(
    c: &C,
    schema: &str,
    id: i64,
    state: RequestState,
    report: Option<&serde_json::Value>,
) -> Result<(), Problem> {
    let sql = format!(
        "update {}._sync_lifecycle set state = $2, report = coalesce($3::text::jsonb, report), \
           finished_at = case when $4 then now() end where id = $1",
        ident(schema)
    );
    let report = report.map(|r| r.to_string());
    c.execute(&sql, &[&id, &state.as_str(), &report, &state.finished()])
        .await
        .map(|_| ())
        .map_err(|e| sql_problem(&e, "could not record the request's progress", &sql))
}

/// Empties the swap schema of what inlet owns there (a fresh copy starts from nothing),
/// leaving alone anything else. Returns what it left, so the caller can report it.
pub async fn clear_swap(c: &Client, swap: &str) -> Result<Vec<String>, Problem> {
    let sql = "select c.relname::text, c.relowner = (select oid from pg_roles where rolname = current_user) \
                 from pg_class c join pg_namespace n on n.oid = c.relnamespace \
                where n.nspname = $1 and c.relkind = 'r' order by 1";
    let rows = c
        .query(sql, &[&swap])
        .await
        .map_err(|e| sql_problem(&e, "could not list the swap schema", sql))?;
    let mut left = Vec::new();
    for row in rows {
        let (name, ours): (String, bool) = (row.get(0), row.get(1));
        if !ours {
            left.push(name);
            continue;
        }
        // Never cascade: an object of a person's that depends on it makes this fail, and
        // the person is told, rather than the object silently dropped.
        let drop = format!("drop table if exists {}.{}", ident(swap), ident(&name));
        c.batch_execute(&drop)
            .await
            .map_err(|e| sql_problem(&e, "could not empty the swap schema", &drop))?;
    }
    Ok(left)
}

/// The source's API version (`Stripe-Version`) the schema's tables were last noted to
/// follow (none before the first note).
pub async fn source_version<C: GenericClient>(
    c: &C,
    schema: &str,
) -> Result<Option<String>, Problem> {
    if !exists(c, schema).await? {
        return Ok(None);
    }
    let sql = format!(
        "select target from {}._sync_lifecycle where kind = 'source_version' \
          order by id desc limit 1",
        ident(schema)
    );
    let row = c
        .query_opt(&sql, &[])
        .await
        .map_err(|e| sql_problem(&e, "could not read _sync_lifecycle", &sql))?;
    Ok(row.map(|r| r.get(0)))
}

/// Notes `version` as the API version the schema's tables follow, unless it already is.
/// Called once the rebuild a new version needs is recorded, never before: a process killed
/// in between then sees the change again at its next start, instead of the new version
/// noted and no rebuild asked for.
pub async fn note_source_version(c: &Client, schema: &str, version: &str) -> Result<(), Problem> {
    ensure(c, schema).await?;
    if source_version(c, schema).await?.as_deref() == Some(version) {
        return Ok(());
    }
    let sql = format!(
        "insert into {}._sync_lifecycle (kind, target, state, reason, finished_at) \
         values ('source_version', $1, 'noted', 'the API version the tables follow', now())",
        ident(schema)
    );
    c.execute(&sql, &[&version])
        .await
        .map_err(|e| sql_problem(&e, "could not record the API version", &sql))?;
    Ok(())
}

/// Whether every one of `streams` has reached the present in `schema` (backfilled, and
/// following changes).
pub async fn caught_up<C: GenericClient>(
    c: &C,
    schema: &str,
    streams: &[String],
) -> Result<bool, Problem> {
    let sql = format!(
        "select count(*) from {}._sync_state where stream = any($1) and state = $2",
        ident(schema)
    );
    let live: i64 = c
        .query_one(&sql, &[&streams, &Stage::Live.as_str()])
        .await
        .map_err(|e| sql_problem(&e, "could not read the copy's progress", &sql))?
        .get(0);
    Ok(live as usize == streams.len())
}

/// Readies `target` for a rename into it. A schema the sync lived in before (renamed away,
/// now renamed back) still holds old rows and old checkpoints: its checkpoints are
/// forgotten, so the copy is a full backfill (whose last batch removes rows the source no
/// longer has), and its old "moved away" record is closed, so the sync does not follow it.
/// Rows and tables stay: a person's view on them keeps working.
pub async fn prepare_rename_target(c: &Client, target: &str) -> Result<(), Problem> {
    let t = ident(target);
    let exists = |table: &str| {
        format!(
            "select to_regclass('{}.{table}') is not null",
            t.replace('\'', "''")
        )
    };
    let statements = [
        (
            "_sync_state",
            format!(
                "update {t}._sync_state set checkpoint = null, state = '{}'",
                Stage::Pending.as_str()
            ),
        ),
        (
            "_sync_lifecycle",
            format!(
                "update {t}._sync_lifecycle set state = '{}' where state in ('{}', '{}', '{}')",
                RequestState::Superseded.as_str(),
                RequestState::Switched.as_str(),
                RequestState::Requested.as_str(),
                RequestState::Copying.as_str(),
            ),
        ),
    ];
    for (table, sql) in statements {
        let check = exists(table);
        let present: bool = c
            .query_one(&check, &[])
            .await
            .map_err(|e| sql_problem(&e, "could not look at the new schema", &check))?
            .get(0);
        if present {
            c.batch_execute(&sql)
                .await
                .map_err(|e| sql_problem(&e, "could not ready the new schema", &sql))?;
        }
    }
    Ok(())
}
