//! The tables a sync owns in its schema: one per stream, typed, plus the bookkeeping tables
//! `_sync_state` (checkpoints and stream state), `_sync_event` (the change log) and
//! `_sync_lifecycle` (rebuilds and renames in progress), `_sync_tombstone` (versions of deleted rows, so a late, older change cannot bring a
//! deleted row back) and `_sync_rejected` (records no table row can hold, with the reason).
//!
//! Evolution is additive: a column the stream gains is added (`alter table ... add column`),
//! never rebuilt. A column whose type in the table differs from the stream's is kept as it
//! is and reported; values that no longer fit it go to the row's `_sync_extra`.

use inlet_core::{column_name, ColumnType, StreamSpec, ID_KEY};
use tokio_postgres::Client;

use crate::problem::{Problem, ProblemKind};
use crate::read_role::{self, sql_problem};
use crate::sql::{ident, literal};

/// Columns every synced table has besides its key and the stream's own.
pub const SYSTEM_COLUMNS: [&str; 6] = [
    "_sync_extra",
    "_sync_version_ts",
    "_sync_version_seq",
    "_sync_deleted_at",
    "_sync_inserted_at",
    "_sync_updated_at",
];

/// A table as it exists: the columns the writer fills, with their actual types.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub schema: String,
    pub name: String,
    /// The primary key's columns, in order: `id text` for most streams, text or bigint.
    pub key: Vec<(String, ColumnType)>,
    /// The other columns the writer fills.
    pub columns: Vec<(String, ColumnType)>,
    /// Columns of a type inlet does not write (a person changed it): left as they are, and
    /// shown as they are in the change log's records.
    pub other_columns: Vec<String>,
}

impl Default for Table {
    /// A table keyed on `id text`, with no other column.
    fn default() -> Self {
        Table {
            schema: String::new(),
            name: String::new(),
            key: vec![(ID_KEY.to_string(), ColumnType::Text)],
            columns: Vec::new(),
            other_columns: Vec::new(),
        }
    }
}

/// A column whose type in the table is not the stream's.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TypeConflict {
    pub table: String,
    pub column: String,
    pub in_table: String,
    pub in_stream: ColumnType,
}

/// Creates the schema (with read-role grants) and the bookkeeping tables, if missing.
pub async fn ensure_schema(client: &Client, schema: &str, read_role: &str) -> Result<(), Problem> {
    read_role::create_schema(client, schema, read_role).await?;
    let s = ident(schema);
    let ddl = format!(
        "create table if not exists {s}._sync_state (
           stream text primary key,
           state text not null default 'pending',
           checkpoint jsonb,
           batch_seq bigint not null default 0,
           rows_written bigint not null default 0,
           error jsonb,
           updated_at timestamptz not null default now());
         create table if not exists {s}._sync_event (
           id bigserial primary key,
           inserted_at timestamptz not null default now(),
           event_type text not null,
           object_type text not null,
           record_id text not null,
           payload jsonb not null);
         create index if not exists _sync_event_inserted_at on {s}._sync_event (inserted_at);
         create table if not exists {s}._sync_tombstone (
           object_type text not null,
           id text not null,
           version_ts bigint not null,
           version_seq bigint not null,
           deleted_at timestamptz not null default now(),
           primary key (object_type, id));
         create table if not exists {s}._sync_rejected (
           id bigserial primary key,
           rejected_at timestamptz not null default now(),
           object_type text not null,
           reason text not null,
           record jsonb not null);"
    );
    client.batch_execute(&ddl).await.map_err(|e| {
        sql_problem(
            &e,
            "could not create inlet's bookkeeping tables",
            "create table",
        )
    })?;
    crate::lifecycle::ensure(client, schema).await
}

/// Creates the stream's table if missing (keyed on the stream's key), adds columns it
/// lacks, and returns it as it is. A table whose primary key is not the stream's key is
/// refused: only a rebuild can change a key.
pub async fn ensure_table(
    client: &Client,
    schema: &str,
    spec: &StreamSpec,
) -> Result<(Table, Vec<TypeConflict>), Problem> {
    let qualified = format!("{}.{}", ident(schema), ident(&spec.name));
    let key = spec.key_columns().map_err(|why| {
        Problem::new(
            ProblemKind::ServerError,
            format!("cannot create table {qualified}: {why}"),
            "this is a fault in the source's description of the stream: report it",
        )
    })?;
    let key_names: Vec<&str> = key.iter().map(|c| c.name.as_str()).collect();
    let mut columns: Vec<String> = Vec::new();
    if key_names == [ID_KEY] {
        columns.push("id text primary key".into());
    }
    columns.extend(spec.columns.iter().map(|c| {
        let name = column_name(&c.name);
        let not_null = if key_names.contains(&name.as_ref()) {
            " not null"
        } else {
            ""
        };
        format!("{} {}{not_null}", ident(&name), c.ty.sql())
    }));
    columns.extend([
        "_sync_extra jsonb".into(),
        "_sync_version_ts bigint not null".into(),
        "_sync_version_seq bigint not null".into(),
        "_sync_deleted_at timestamptz".into(),
        "_sync_inserted_at timestamptz not null default now()".into(),
        "_sync_updated_at timestamptz not null default now()".into(),
    ]);
    if key_names != [ID_KEY] {
        let names: Vec<String> = key_names.iter().map(|n| ident(n)).collect();
        columns.push(format!("primary key ({})", names.join(", ")));
    }
    let create = format!(
        "create table if not exists {qualified} ({})",
        columns.join(", ")
    );
    client
        .batch_execute(&create)
        .await
        .map_err(|e| sql_problem(&e, &format!("could not create table {qualified}"), &create))?;
    let actual_key = primary_key(client, schema, &spec.name).await?;
    if actual_key != key_names {
        return Err(Problem::new(
            ProblemKind::ServerError,
            format!(
                "table {qualified} has primary key ({}), but the stream is now keyed on ({})",
                actual_key.join(", "),
                key_names.join(", ")
            ),
            "rebuild the sync (`inlet sync rebuild NAME`): a rebuild makes the table anew with the new key",
        ));
    }

    let existing = existing_columns(client, schema, &spec.name).await?;
    let mut conflicts = Vec::new();
    for col in &spec.columns {
        let name = column_name(&col.name);
        match existing.iter().find(|(existing, _)| *existing == name) {
            None => {
                let add = format!(
                    "alter table {qualified} add column if not exists {} {}",
                    ident(&name),
                    col.ty.sql()
                );
                client
                    .batch_execute(&add)
                    .await
                    .map_err(|e| sql_problem(&e, "could not add a column", &add))?;
            }
            Some((_, actual)) if column_type(actual) != Some(col.ty) => {
                conflicts.push(TypeConflict {
                    table: spec.name.clone(),
                    column: name.to_string(),
                    in_table: actual.clone(),
                    in_stream: col.ty,
                })
            }
            Some(_) => {}
        }
    }
    for column in &spec.lookups {
        ensure_lookup_index(client, schema, &spec.name, column).await?;
    }
    let mut key = Vec::new();
    let mut columns = Vec::new();
    let mut other_columns = Vec::new();
    for (name, ty) in existing_columns(client, schema, &spec.name).await? {
        let typed = column_type(&ty);
        if key_names.contains(&name.as_str()) {
            // A key column a person retyped: its values are written as the column holds them.
            match typed {
                Some(t @ (ColumnType::Text | ColumnType::Bigint)) => key.push((name, t)),
                _ => {
                    return Err(Problem::new(
                        ProblemKind::ServerError,
                        format!("key column {name} of table {qualified} is {ty}, not text or bigint"),
                        "rebuild the sync (`inlet sync rebuild NAME`), or give the column back its type",
                    ))
                }
            }
        } else if SYSTEM_COLUMNS.contains(&name.as_str()) {
            continue;
        } else {
            match typed {
                Some(t) => columns.push((name, t)),
                None => other_columns.push(name),
            }
        }
    }
    // In the key's order, which the table's column order need not be.
    key.sort_by_key(|(name, _)| key_names.iter().position(|k| k == name));
    Ok((
        Table {
            schema: schema.into(),
            name: spec.name.clone(),
            key,
            columns,
            other_columns,
        },
        conflicts,
    ))
}

/// The comment on the indexes inlet makes for a stream's lookups ([`StreamSpec::lookups`]),
/// which tells them from a person's.
pub(crate) const LOOKUP_INDEX_COMMENT: &str = "inlet: the sync looks rows up by this column";

/// The name of the index for looking `table`'s rows up by `column`; a long one is cut as
/// a long column name is, so it stays distinct.
fn lookup_index(table: &str, column: &str) -> String {
    column_name(&format!("{table}_by_{column}")).into_owned()
}

/// Makes the index for looking `table`'s rows up by `column`, once; on a table made before
/// the stream named the lookup, at the next start. The index and the comment that marks it
/// as inlet's (for a rebuild's swap) are made in one transaction. A relation of that name
/// inlet did not make is a person's: it is left as it is, and no index is made.
async fn ensure_lookup_index(
    client: &Client,
    schema: &str,
    table: &str,
    column: &str,
) -> Result<(), Problem> {
    let index = lookup_index(table, column);
    let find = "select obj_description(c.oid, 'pg_class') from pg_class c \
                  join pg_namespace n on n.oid = c.relnamespace \
                 where n.nspname = $1 and c.relname = $2";
    let found = client
        .query_opt(find, &[&schema, &index])
        .await
        .map_err(|e| sql_problem(&e, "could not look for an index", find))?;
    match found.map(|row| row.get::<_, Option<String>>(0)) {
        Some(Some(comment)) if comment == LOOKUP_INDEX_COMMENT => return Ok(()),
        Some(_) => {
            tracing::warn!(%schema, %table, %column, %index,
                "a relation inlet did not make has the name of its index; no index made");
            return Ok(());
        }
        None => {}
    }
    // On a large table made before the lookup was named, this takes a while, once.
    tracing::info!(%schema, %table, %column, "indexing the table for lookups by the column");
    let create = format!(
        "create index if not exists {i} on {}.{} ({}); comment on index {}.{i} is {}",
        ident(schema),
        ident(table),
        ident(column),
        ident(schema),
        literal(LOOKUP_INDEX_COMMENT),
        i = ident(&index),
    );
    client.batch_execute(&create).await.map_err(|e| {
        sql_problem(
            &e,
            &format!("could not index {schema}.{table} by {column}"),
            &create,
        )
    })
}

/// The columns of the table's primary key, in key order (empty when it has none).
pub(crate) async fn primary_key<C: tokio_postgres::GenericClient>(
    client: &C,
    schema: &str,
    table: &str,
) -> Result<Vec<String>, Problem> {
    let sql = "select a.attname::text \
                 from pg_index i join pg_class c on c.oid = i.indrelid \
                 join pg_namespace n on n.oid = c.relnamespace \
                 cross join lateral unnest(i.indkey::int2[]) with ordinality k(attnum, position) \
                 join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum \
                where n.nspname = $1 and c.relname = $2 and i.indisprimary \
                order by k.position";
    let rows = client
        .query(sql, &[&schema, &table])
        .await
        .map_err(|e| sql_problem(&e, "could not read the table's primary key", sql))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(crate) async fn existing_columns<C: tokio_postgres::GenericClient>(
    client: &C,
    schema: &str,
    table: &str,
) -> Result<Vec<(String, String)>, Problem> {
    let rows = client
        .query(
            "select a.attname::text, format_type(a.atttypid, a.atttypmod) \
               from pg_attribute a join pg_class c on c.oid = a.attrelid \
               join pg_namespace n on n.oid = c.relnamespace \
              where n.nspname = $1 and c.relname = $2 and a.attnum > 0 and not a.attisdropped \
              order by a.attnum",
            &[&schema, &table],
        )
        .await
        .map_err(|e| sql_problem(&e, "could not read the table's columns", "pg_attribute"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The column type behind `format_type`'s name; `None` for types inlet does not write (a
/// column a person changed to something else is then left alone, its values kept in
/// `_sync_extra`).
fn column_type(format_type: &str) -> Option<ColumnType> {
    Some(match format_type {
        "text" => ColumnType::Text,
        "bigint" => ColumnType::Bigint,
        "double precision" => ColumnType::Double,
        "numeric" => ColumnType::Numeric,
        "boolean" => ColumnType::Boolean,
        "timestamp with time zone" => ColumnType::Timestamptz,
        "jsonb" => ColumnType::Jsonb,
        "date" => ColumnType::Date,
        "time without time zone" => ColumnType::Time,
        "text[]" => ColumnType::TextArray,
        _ => return None,
    })
}
