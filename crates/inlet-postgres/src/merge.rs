//! The one statement that applies a staged batch to its table: keep the newest change per
//! key (`id`, or the stream's key columns), upsert under the version guard (an older change never overwrites a newer row; on a
//! tie the later one wins), delete (hard, or soft) under the same guard, record tombstones,
//! and, when the change log is wanted, write `_sync_event` rows in source order with the
//! record, and for an update what changed: the changed columns' new and old values.
//!
//! The change log is where the time goes (a catch-up is mostly updates), so its statement
//! does the least work per row: what changed is found by comparing each typed column of the
//! row as it was with the staged value that replaces it (never by diffing JSON documents),
//! each event's payload is built in one pass from the rows themselves, and of the row as it
//! was only the changed columns are turned into JSON.

use crate::key::{key_list, key_text_sql, same_key, same_key_text};
use crate::sql::{ident, literal};
use crate::tables::Table;
use crate::writer::DeleteMode;

/// The statement that applies the staged batch (`$1` = table name, the event `object_type`).
/// Returns (inserted, updated, deleted, events). Without the change log it skips everything
/// the log needs (the rows before, their JSON, the diff): a backfill pays only for the merge.
pub(crate) fn merge_sql(table: &Table, stage: &str, deletes: DeleteMode, events: bool) -> String {
    let t = format!("{}.{}", ident(&table.schema), ident(&table.name));
    let s = ident(&table.schema);
    let st = ident(stage);
    let key = key_list(table, None);
    let key_text = |alias: &str| key_text_sql(table, alias);
    let names: Vec<String> = table.columns.iter().map(|(n, _)| ident(n)).collect();
    let data: String = names.iter().map(|n| format!("{n}, ")).collect();
    let sets: String = names
        .iter()
        .map(|n| format!("{n} = excluded.{n}, "))
        .collect();
    let newer = "(t._sync_version_ts, t._sync_version_seq) <= (src._ts, src._seq)";
    // With the change log, each changed row as the log shows it; without, only counts.
    let (old, returning) = if events {
        (old_rows(table, &t), record_columns(table, "t"))
    } else {
        (String::new(), "(t.xmax = 0) as inserted".to_string())
    };
    let remove = match deletes {
        DeleteMode::Hard => format!(
            "delete from {t} t using src where src._deleted and {} and {newer} \
             returning {returning}",
            same_key(table, "t", "src")
        ),
        DeleteMode::Soft => format!(
            "update {t} t set _sync_deleted_at = now(), _sync_updated_at = now(), \
             _sync_version_ts = src._ts, _sync_version_seq = src._seq \
             from src where src._deleted and {} and t._sync_deleted_at is null \
             and {newer} returning {returning}",
            same_key(table, "t", "src")
        ),
    };
    let src_key = key_text("src");
    let head = format!(
        "with src as (
           select distinct on ({key}) * from {st} order by {key}, _ts desc, _seq desc, _ord desc),
         {old}
         up as (
           insert into {t} as t ({key}, {data}_sync_extra, _sync_version_ts, _sync_version_seq, _sync_deleted_at)
           select {key}, {data}_sync_extra, _ts, _seq, null from src
            where not src._deleted and not exists (
              select 1 from {s}._sync_tombstone z where z.object_type = $1 and z.id = {src_key}
                 and (z.version_ts, z.version_seq) > (src._ts, src._seq))
           on conflict ({key}) do update set {sets}_sync_extra = excluded._sync_extra,
              _sync_version_ts = excluded._sync_version_ts, _sync_version_seq = excluded._sync_version_seq,
              _sync_deleted_at = null, _sync_updated_at = now()
            where (t._sync_version_ts, t._sync_version_seq)
               <= (excluded._sync_version_ts, excluded._sync_version_seq)
           returning {returning}),
         del as ({remove}),
         tomb as (
           insert into {s}._sync_tombstone as z (object_type, id, version_ts, version_seq)
           select $1, {src_key}, _ts, _seq from src where _deleted
           on conflict (object_type, id) do update set version_ts = excluded.version_ts,
              version_seq = excluded.version_seq, deleted_at = now()
            where (z.version_ts, z.version_seq) < (excluded.version_ts, excluded.version_seq))"
    );
    if !events {
        return format!(
            "{head}
             select count(*) filter (where inserted), count(*) filter (where not inserted),
                    (select count(*) from del), 0::bigint
               from up"
        );
    }
    // `u` and `d` are rows of exactly the record's columns, so each record is one
    // conversion to JSON. A row with no row before it is an insert; an update that changes
    // nothing is not logged. The log follows the source's order, whatever the kind.
    let (u, d) = (key_text("u"), key_text("d"));
    let new = format!("o.{} is null", ident(&table.key[0].0));
    format!(
        "{head},
         ev as (
           insert into {s}._sync_event (event_type, object_type, record_id, payload)
           select kind, $1, record_id, payload from (
             select case when {new} then 'insert' else 'update' end as kind, {u} as record_id,
                    case when {new} then jsonb_build_object('record_id', {u}, 'record', u)
                         else jsonb_build_object('record_id', {u}, 'record', u,
                                'old_record', o.old_record, 'changes', o.changes) end as payload,
                    src._ts, src._seq, src._ord
               from up u join src on {u_src} left join old o on {u_old}
              where {new} or o.changes <> '{{}}'::jsonb
             union all
             select 'delete', {d}, jsonb_build_object('record_id', {d}, 'record', d),
                    src._ts, src._seq, src._ord
               from del d join src on {d_src}) c
            order by _ts, _seq, _ord
           returning event_type)
         select count(*) filter (where event_type = 'insert'),
                count(*) filter (where event_type = 'update'),
                count(*) filter (where event_type = 'delete'), count(*)
           from ev",
        u_src = same_key_text(table, "src", "u"),
        u_old = same_key_text(table, "o", "u"),
        d_src = same_key_text(table, "src", "d"),
    )
}

/// The columns a logged record shows, qualified by `alias`: every column of the row but the
/// source version, which is inlet's own.
fn record_columns(table: &Table, alias: &str) -> String {
    let mut columns = Vec::new();
    let names =
        (table.key.iter().chain(&table.columns).map(|(n, _)| n)).chain(&table.other_columns);
    columns.extend(names.map(|n| format!("{alias}.{}", ident(n))));
    columns.extend(
        [
            "_sync_extra",
            "_sync_deleted_at",
            "_sync_inserted_at",
            "_sync_updated_at",
        ]
        .map(|n| format!("{alias}.{n}")),
    );
    columns.join(", ")
}

/// The `old` step: for each staged upsert whose row exists, what the staged values change
/// in it, as two objects of the same keys: each stream column whose staged value is
/// distinct from the stored one, with its new value (`changes`) and with its value before
/// (`old_record`). The staged value is exactly what the upsert stores, so comparing it with
/// the stored one is comparing the row before and after, typed: `1.0` and `1.00`, or a
/// jsonb object's key order, are no change, as in JSON. Only what changed is turned into
/// JSON: the whole row as it was would cost as much as the record itself.
fn old_rows(table: &Table, t: &str) -> String {
    let diff = |side: &str| -> String {
        let parts: Vec<String> = table
            .columns
            .iter()
            .map(|(n, _)| {
                let (c, key) = (ident(n), literal(n));
                format!("case when src.{c} is distinct from t.{c} then jsonb_build_object({key}, {side}.{c}) else '{{}}'::jsonb end")
            })
            .collect();
        if parts.is_empty() {
            "'{}'::jsonb".to_string()
        } else {
            parts.join(" || ")
        }
    };
    format!(
        "old as (
           select {}, {} as old_record, {} as changes
             from {t} t join src on {} and not src._deleted),",
        key_list(table, Some("t")),
        diff("t"),
        diff("src"),
        same_key(table, "src", "t"),
    )
}

/// The statement that removes what a completed listing no longer had: rows older than the
/// listing's version (`$2`, `$3`; `$1` = the table name), and with `within`, only those whose
/// column `within` (as text) is one of `$4`. Each removal gets a tombstone and a `delete` in
/// the change log: it is a change the log's readers did not see happen.
/// Returns the number of rows removed.
pub(crate) fn sweep_sql(table: &Table, deletes: DeleteMode, within: Option<&str>) -> String {
    let t = format!("{}.{}", ident(&table.schema), ident(&table.name));
    let s = ident(&table.schema);
    let mut older = "(t._sync_version_ts, t._sync_version_seq) < ($2, $3)".to_string();
    if let Some(column) = within {
        older.push_str(&format!(" and t.{}::text = any($4)", ident(column)));
    }
    let record = record_columns(table, "t");
    let remove = match deletes {
        DeleteMode::Hard => format!("delete from {t} t where {older} returning {record}"),
        DeleteMode::Soft => format!(
            "update {t} t set _sync_deleted_at = now(), _sync_updated_at = now() \
             where {older} and t._sync_deleted_at is null returning {record}"
        ),
    };
    format!(
        "with gone as ({remove}),
         tomb as (
           insert into {s}._sync_tombstone as z (object_type, id, version_ts, version_seq)
           select $1, {g}, $2, $3 from gone g
           on conflict (object_type, id) do update set version_ts = excluded.version_ts,
              version_seq = excluded.version_seq, deleted_at = now()
            where (z.version_ts, z.version_seq) < (excluded.version_ts, excluded.version_seq)),
         ev as (
           insert into {s}._sync_event (event_type, object_type, record_id, payload)
           select 'delete', $1, {g}, jsonb_build_object('record_id', {g}, 'record', g)
             from gone g order by {order}
           returning 1)
         select count(*) from gone",
        g = key_text_sql(table, "g"),
        order = key_list(table, Some("g")),
    )
}
