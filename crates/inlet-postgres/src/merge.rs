//! The one statement that applies a staged batch to its table: keep the newest change per
//! id, upsert under the version guard (an older change never overwrites a newer row; on a
//! tie the later one wins), delete (hard, or soft) under the same guard, record tombstones,
//! and, when the change log is wanted, write `_sync_event` rows in source order with the
//! record before and after and what changed.

use crate::sql::ident;
use crate::tables::Table;
use crate::writer::DeleteMode;

/// The statement that applies the staged batch (`$1` = table name, the event `object_type`).
/// Returns (inserted, updated, deleted, events). Without the change log it skips everything
/// the log needs (the rows before, their JSON, the diff): a backfill pays only for the merge.
pub(crate) fn merge_sql(table: &Table, stage: &str, deletes: DeleteMode, events: bool) -> String {
    let t = format!("{}.{}", ident(&table.schema), ident(&table.name));
    let s = ident(&table.schema);
    let st = ident(stage);
    let names: Vec<String> = table.columns.iter().map(|(n, _)| ident(n)).collect();
    let data: String = names.iter().map(|n| format!("{n}, ")).collect();
    let sets: String = names
        .iter()
        .map(|n| format!("{n} = excluded.{n}, "))
        .collect();
    let newer = "(t._sync_version_ts, t._sync_version_seq) <= (src._ts, src._seq)";
    // With the change log, the rows as they were and as they are; without, only counts.
    let (old, returning) = if events {
        (
            format!("old as (select t.* from {t} t join src on src.id = t.id),"),
            "t.*",
        )
    } else {
        (String::new(), "t.id, (t.xmax = 0) as inserted")
    };
    let remove = match deletes {
        DeleteMode::Hard => format!(
            "delete from {t} t using src where src._deleted and t.id = src.id and {newer} \
             returning {returning}"
        ),
        DeleteMode::Soft => format!(
            "update {t} t set _sync_deleted_at = now(), _sync_updated_at = now(), \
             _sync_version_ts = src._ts, _sync_version_seq = src._seq \
             from src where src._deleted and t.id = src.id and t._sync_deleted_at is null \
             and {newer} returning {returning}"
        ),
    };
    let head = format!(
        "with src as (
           select distinct on (id) * from {st} order by id, _ts desc, _seq desc, _ord desc),
         {old}
         up as (
           insert into {t} as t (id, {data}_sync_extra, _sync_version_ts, _sync_version_seq, _sync_deleted_at)
           select id, {data}_sync_extra, _ts, _seq, null from src
            where not src._deleted and not exists (
              select 1 from {s}._sync_tombstone z where z.object_type = $1 and z.id = src.id
                 and (z.version_ts, z.version_seq) > (src._ts, src._seq))
           on conflict (id) do update set {sets}_sync_extra = excluded._sync_extra,
              _sync_version_ts = excluded._sync_version_ts, _sync_version_seq = excluded._sync_version_seq,
              _sync_deleted_at = null, _sync_updated_at = now()
            where (t._sync_version_ts, t._sync_version_seq)
               <= (excluded._sync_version_ts, excluded._sync_version_seq)
           returning {returning}),
         del as ({remove}),
         tomb as (
           insert into {s}._sync_tombstone as z (object_type, id, version_ts, version_seq)
           select $1, id, _ts, _seq from src where _deleted
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
    let hidden = "- '_sync_version_ts' - '_sync_version_seq'";
    format!(
        "{head},
         changed as (
           select case when o.id is null then 'insert' else 'update' end as kind, u.id,
                  to_jsonb(u) {hidden} as record, to_jsonb(o) {hidden} as old_record
             from up u left join old o on o.id = u.id
           union all
           select 'delete', d.id, to_jsonb(d) {hidden}, null from del d),
         -- The change log follows the source's order, whatever the kind of change.
         ordered as (
           select c.*, src._ts, src._seq, src._ord from changed c join src on src.id = c.id),
         diffed as (
           select c.*, (select coalesce(jsonb_object_agg(n.key, n.value), '{{}}'::jsonb)
                          from jsonb_each(c.record) n
                         where n.key not like '\\_sync\\_%'
                           and (c.old_record -> n.key) is distinct from n.value) as changes
             from ordered c),
         ev as (
           insert into {s}._sync_event (event_type, object_type, record_id, payload)
           select kind, $1, id, case kind
                    when 'update' then jsonb_build_object('record_id', id, 'record', record,
                                         'old_record', old_record, 'changes', changes)
                    else jsonb_build_object('record_id', id, 'record', record) end
             from diffed where kind <> 'update' or changes <> '{{}}'::jsonb
            order by _ts, _seq, _ord
           returning 1)
         select (select count(*) from diffed where kind = 'insert'),
                (select count(*) from diffed where kind = 'update' and changes <> '{{}}'::jsonb),
                (select count(*) from diffed where kind = 'delete'),
                (select count(*) from ev)"
    )
}

/// The statement that removes what a completed listing no longer had: rows older than the
/// listing's version (`$2`, `$3`; `$1` = the table name). Each removal gets a tombstone and a
/// `delete` in the change log: it is a change the log's readers did not see happen.
/// Returns the number of rows removed.
pub(crate) fn sweep_sql(table: &Table, deletes: DeleteMode) -> String {
    let t = format!("{}.{}", ident(&table.schema), ident(&table.name));
    let s = ident(&table.schema);
    let older = "(t._sync_version_ts, t._sync_version_seq) < ($2, $3)";
    let remove = match deletes {
        DeleteMode::Hard => format!("delete from {t} t where {older} returning t.*"),
        DeleteMode::Soft => format!(
            "update {t} t set _sync_deleted_at = now(), _sync_updated_at = now() \
             where {older} and t._sync_deleted_at is null returning t.*"
        ),
    };
    format!(
        "with gone as ({remove}),
         tomb as (
           insert into {s}._sync_tombstone as z (object_type, id, version_ts, version_seq)
           select $1, id, $2, $3 from gone
           on conflict (object_type, id) do update set version_ts = excluded.version_ts,
              version_seq = excluded.version_seq, deleted_at = now()
            where (z.version_ts, z.version_seq) < (excluded.version_ts, excluded.version_seq)),
         ev as (
           insert into {s}._sync_event (event_type, object_type, record_id, payload)
           select 'delete', $1, g.id, jsonb_build_object('record_id', g.id, 'record',
                  to_jsonb(g) - '_sync_version_ts' - '_sync_version_seq')
             from gone g order by g.id
           returning 1)
         select count(*) from gone"
    )
}
