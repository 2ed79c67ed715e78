//! Streams keyed on several columns (HubSpot's association tables): the same guarantees as
//! an `id` stream, keyed on the declared columns, with the key text ([`key_text`]) where
//! the change log and tombstones name a row.

use inlet_core::{key_text, SweepWithin};

use super::*;

const ASSOC: &str = "association_contact_company";

fn assoc_spec() -> StreamSpec {
    StreamSpec::keyed(
        ASSOC,
        vec![
            Column::new("from_id", ColumnType::Text),
            Column::new("to_id", ColumnType::Text),
            Column::new("type_id", ColumnType::Bigint),
            Column::new("category", ColumnType::Text),
            Column::new("label", ColumnType::Text),
        ],
        &["from_id", "to_id", "type_id"],
    )
}

async fn assoc_stream(client: &Client, options: WriteOptions) -> Stream {
    ensure_schema(client, "stripe", READER)
        .await
        .expect("schema");
    let (table, conflicts) = ensure_table(client, "stripe", &assoc_spec())
        .await
        .expect("table");
    assert!(conflicts.is_empty(), "{conflicts:?}");
    Stream {
        table,
        seq: 0,
        options,
    }
}

/// An association upsert; the key values are not repeated in the fields.
fn link(key: (&str, &str, i64), ts: i64, label: Option<&str>) -> Record {
    let fields = json!({"category": "HUBSPOT_DEFINED", "label": label});
    Record::upsert_keyed(
        &[key.0, key.1, &key.2.to_string()],
        Version::new(ts, 0),
        fields.as_object().cloned().unwrap_or_default(),
    )
}

fn unlink(key: (&str, &str, i64), ts: i64) -> Record {
    Record::delete_keyed(&[key.0, key.1, &key.2.to_string()], Version::new(ts, 0))
}

fn text_of(key: (&str, &str, i64)) -> String {
    key_text(&[key.0, key.1, &key.2.to_string()])
}

type Row = (String, String, i64, Option<String>, bool);

/// Rows as (from, to, type, label, soft-deleted), in key order.
async fn links(client: &Client) -> Vec<Row> {
    client
        .query(
            "select from_id, to_id, type_id, label, _sync_deleted_at is not null \
               from stripe.association_contact_company order by 1, 2, 3",
            &[],
        )
        .await
        .expect("select")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

fn live_row(key: (&str, &str, i64), label: Option<&str>) -> Row {
    (
        key.0.into(),
        key.1.into(),
        key.2,
        label.map(String::from),
        false,
    )
}

// Values that need the key text's escapes, so that the text PostgreSQL computes for the
// change log and tombstones is checked against the one Rust computes.
const A: (&str, &str, i64) = ("101", "201", 1);
const B: (&str, &str, i64) = ("101", "201", 279);
const C: (&str, &str, i64) = ("a|b\\", "|", -3);

#[tokio::test]
async fn composite_rows_are_upserted_updated_deleted_and_added_again() {
    for v in versions() {
        for mode in [DeleteMode::Hard, DeleteMode::Soft] {
            let mut client = sync_client(cluster(v).await).await;
            let options = WriteOptions {
                deletes: mode,
                ..WriteOptions::default()
            };
            let mut s = assoc_stream(&client, options).await;
            let key: Vec<String> = client
                .query(
                    "select a.attname::text from pg_index i \
                       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) \
                      where i.indrelid = 'stripe.association_contact_company'::regclass \
                        and i.indisprimary order by array_position(i.indkey::int2[], a.attnum)",
                    &[],
                )
                .await
                .expect("key")
                .iter()
                .map(|r| r.get(0))
                .collect();
            assert_eq!(key, ["from_id", "to_id", "type_id"], "PG {v}");
            let types: Vec<(String, String)> = client
                .query(
                    "select column_name::text, data_type::text from information_schema.columns \
                      where table_name = 'association_contact_company' and column_name like '%_id' \
                      order by ordinal_position",
                    &[],
                )
                .await
                .expect("types")
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            assert_eq!(
                types,
                [
                    ("from_id".into(), "text".into()),
                    ("to_id".into(), "text".into()),
                    ("type_id".into(), "bigint".into())
                ],
                "PG {v}: typed key columns and no id column"
            );

            let stats = s
                .write(
                    &mut client,
                    vec![
                        link(A, 10, None),
                        link(B, 10, Some("Boss")),
                        link(C, 10, None),
                    ],
                    Phase::Live,
                )
                .await;
            assert_eq!((stats.inserted, stats.updated), (3, 0), "PG {v}");
            // Same from and to, another type: its own row. An update changes one row only.
            let stats = s
                .write(
                    &mut client,
                    vec![link(B, 20, Some("Former boss")), unlink(A, 20)],
                    Phase::Live,
                )
                .await;
            assert_eq!(
                (stats.inserted, stats.updated, stats.deleted),
                (0, 1, 1),
                "PG {v} {mode:?}"
            );
            let mut expected = vec![
                live_row(A, None),
                live_row(B, Some("Former boss")),
                live_row(C, None),
            ];
            match mode {
                DeleteMode::Hard => {
                    expected.remove(0);
                }
                DeleteMode::Soft => expected[0].4 = true,
            }
            expected.sort();
            assert_eq!(links(&client).await, expected, "PG {v} {mode:?}");

            // Added again, later: the same row, live again.
            let stats = s
                .write(&mut client, vec![link(A, 30, Some("back"))], Phase::Live)
                .await;
            assert_eq!(stats.inserted + stats.updated, 1, "PG {v} {mode:?}");
            let mut expected = vec![
                live_row(A, Some("back")),
                live_row(B, Some("Former boss")),
                live_row(C, None),
            ];
            expected.sort();
            assert_eq!(links(&client).await, expected, "PG {v} {mode:?}");
        }
    }
}

#[tokio::test]
async fn key_fields_in_an_upsert_are_stored_once_and_a_contradicting_one_is_kept_aside() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = assoc_stream(&client, WriteOptions::default()).await;
        let fields = |f: Value| f.as_object().cloned().unwrap_or_default();
        let records = vec![
            Record::upsert_keyed(
                &["1", "2", "3"],
                Version::new(1, 0),
                fields(json!({"from_id": "1", "to_id": "2", "type_id": 3, "label": "x"})),
            ),
            Record::upsert_keyed(
                &["1", "2", "4"],
                Version::new(1, 0),
                fields(json!({"from_id": "9", "type_id": "4", "label": "y"})),
            ),
        ];
        let stats = s.write(&mut client, records, Phase::Live).await;
        assert_eq!(stats.inserted, 2, "PG {v}");
        let extra: Vec<Option<Value>> = client
            .query(
                "select _sync_extra from stripe.association_contact_company order by type_id",
                &[],
            )
            .await
            .expect("select")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            extra,
            [None, Some(json!({"from_id": "9"}))],
            "PG {v}: the id is the key; a field saying otherwise is not lost"
        );
    }
}

#[tokio::test]
async fn a_later_version_wins_and_a_tombstone_blocks_a_stale_composite_upsert() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = assoc_stream(&client, WriteOptions::default()).await;
        s.write(&mut client, vec![link(C, 50, Some("new"))], Phase::Live)
            .await;
        let stats = s
            .write(&mut client, vec![link(C, 40, Some("old"))], Phase::Live)
            .await;
        assert_eq!((stats.updated, stats.events), (0, 0), "PG {v}");
        // Within one batch: the newest version of the key, then the later position, wins.
        s.write(
            &mut client,
            vec![
                link(B, 70, Some("b-70")),
                link(B, 60, Some("b-60")),
                link(B, 70, Some("b-70-later")),
            ],
            Phase::Live,
        )
        .await;
        let mut expected = vec![live_row(B, Some("b-70-later")), live_row(C, Some("new"))];
        expected.sort();
        assert_eq!(links(&client).await, expected, "PG {v}");

        s.write(&mut client, vec![unlink(C, 80)], Phase::Live).await;
        let tombstones: Vec<String> = client
            .query(
                "select id from stripe._sync_tombstone where object_type = $1",
                &[&ASSOC],
            )
            .await
            .expect("tombstones")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(tombstones, [text_of(C)], "PG {v}: named by its key text");
        let stats = s
            .write(&mut client, vec![link(C, 75, Some("stale"))], Phase::Live)
            .await;
        assert_eq!(stats.inserted, 0, "PG {v}: the tombstone is newer");
        assert_eq!(
            links(&client).await,
            vec![live_row(B, Some("b-70-later"))],
            "PG {v}"
        );
        s.write(
            &mut client,
            vec![link(C, 90, Some("re-added"))],
            Phase::Live,
        )
        .await;
        assert_eq!(
            links(&client).await.len(),
            2,
            "PG {v}: a newer upsert adds it"
        );
    }
}

#[tokio::test]
async fn the_change_log_names_composite_rows_by_their_key_text_with_the_diff() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = assoc_stream(&client, WriteOptions::default()).await;
        s.write(
            &mut client,
            vec![link(A, 10, None), link(C, 10, Some("c"))],
            Phase::Backfill,
        )
        .await;
        let stats = s
            .write(
                &mut client,
                vec![
                    link(C, 20, Some("c2")),
                    link(B, 20, None),
                    unlink(A, 20),
                    link(A, 5, Some("older than the row: not logged")),
                ],
                Phase::Live,
            )
            .await;
        assert_eq!(
            (stats.inserted, stats.updated, stats.deleted, stats.events),
            (1, 1, 1, 3),
            "PG {v}"
        );
        let events: Vec<(String, String, Value)> = client
            .query(
                "select event_type, record_id, payload from stripe._sync_event order by id",
                &[],
            )
            .await
            .expect("events")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let kinds: Vec<(&str, String)> = events
            .iter()
            .map(|(k, id, _)| (k.as_str(), id.clone()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("update", text_of(C)),
                ("insert", text_of(B)),
                ("delete", text_of(A))
            ],
            "PG {v}: in source order, named by key text"
        );
        let update = &events[0].2;
        assert_eq!(update["record_id"], json!(text_of(C)), "PG {v}");
        assert_eq!(
            (
                &update["record"]["from_id"],
                &update["record"]["to_id"],
                &update["record"]["type_id"]
            ),
            (&json!(C.0), &json!(C.1), &json!(C.2)),
            "PG {v}: {update}"
        );
        assert_eq!(update["old_record"]["label"], "c", "PG {v}");
        assert_eq!(
            update["changes"],
            json!({"label": "c2"}),
            "PG {v}: the key never shows as a change"
        );
        assert_eq!(events[2].2["record"]["type_id"], json!(A.2), "PG {v}");
    }
}

#[tokio::test]
async fn a_sweep_removes_composite_rows_the_listing_no_longer_had() {
    for v in versions() {
        for mode in [DeleteMode::Hard, DeleteMode::Soft] {
            let mut client = sync_client(cluster(v).await).await;
            let options = WriteOptions {
                deletes: mode,
                events_for_backfill: true,
                ..WriteOptions::default()
            };
            let mut s = assoc_stream(&client, options).await;
            s.write(
                &mut client,
                vec![link(A, 10, None), link(B, 10, None), link(C, 10, None)],
                Phase::Backfill,
            )
            .await;
            // A full listing again, at version 20, without A and C.
            s.seq += 1;
            let mut again = batch(vec![link(B, 20, Some("listed"))], Phase::Backfill, s.seq);
            again.sweep = Some(Version::new(20, 0));
            let stats = write_batch(&mut client, &s.table, ASSOC, &again, s.seq, s.options)
                .await
                .expect("listing");
            assert_eq!(stats.deleted, 2, "PG {v} {mode:?}");
            let live: Vec<Row> = (links(&client).await.into_iter())
                .filter(|r| !r.4)
                .collect();
            assert_eq!(live, [live_row(B, Some("listed"))], "PG {v} {mode:?}");
            let deletes: Vec<(String, Value)> = client
                .query(
                    "select record_id, payload -> 'record_id' from stripe._sync_event \
                      where event_type = 'delete' order by id",
                    &[],
                )
                .await
                .expect("events")
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            // In key order: A's from id sorts before C's.
            let gone = [text_of(A), text_of(C)];
            assert_eq!(
                deletes,
                gone.iter()
                    .map(|t| (t.clone(), json!(t)))
                    .collect::<Vec<_>>(),
                "PG {v} {mode:?}"
            );
            let mut tombstones: Vec<String> = client
                .query(
                    "select id from stripe._sync_tombstone where object_type = $1",
                    &[&ASSOC],
                )
                .await
                .expect("tombstones")
                .iter()
                .map(|r| r.get(0))
                .collect();
            tombstones.sort();
            let mut expected = vec![text_of(A), text_of(C)];
            expected.sort();
            assert_eq!(tombstones, expected, "PG {v} {mode:?}");
        }
    }
}

#[tokio::test]
async fn a_sweep_within_some_from_ids_removes_only_their_rows_the_re_read_no_longer_had() {
    const D: (&str, &str, i64) = ("101", "202", 1);
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = assoc_stream(&client, WriteOptions::default()).await;
        let all = [A, B, C, D].map(|k| link(k, 10, None)).to_vec();
        s.write(&mut client, all, Phase::Backfill).await;
        // One record's associations read again at version 20: only B is still there, as it was.
        s.seq += 1;
        let mut again = batch(vec![link(B, 20, None)], Phase::Live, s.seq);
        again.sweep = Some(Version::new(20, 0));
        again.sweep_within = Some(SweepWithin {
            column: "from_id".into(),
            values: vec!["101".into()],
        });
        let stats = write_batch(&mut client, &s.table, ASSOC, &again, s.seq, s.options)
            .await
            .expect("re-read");
        assert_eq!(stats.deleted, 2, "PG {v}");
        assert_eq!(
            links(&client).await,
            [live_row(B, None), live_row(C, None)],
            "PG {v}: C is older than the sweep but not another from id's to remove"
        );
        let deleted: Vec<String> = client
            .query(
                "select record_id from stripe._sync_event where event_type = 'delete' order by id",
                &[],
            )
            .await
            .expect("events")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(deleted, [text_of(A), text_of(D)], "PG {v}");
    }
}

/// The association table's indexes but its key: (name, column).
async fn lookup_indexes(client: &Client) -> Vec<(String, String)> {
    let rows = client
        .query(
            "select i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid, 1, true) \
               from pg_index i \
              where i.indrelid = 'stripe.association_contact_company'::regclass \
                and not i.indisprimary",
            &[],
        )
        .await
        .expect("indexes");
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// A table made before its stream looked rows up by `to_id` gets the index at the next
/// start, once, its rows kept.
#[tokio::test]
async fn a_lookup_a_stream_names_later_is_indexed_at_the_next_start() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = assoc_stream(&client, WriteOptions::default()).await;
        s.write(&mut client, vec![link(A, 10, None)], Phase::Backfill)
            .await;
        assert_eq!(lookup_indexes(&client).await, [], "PG {v}");
        let looked_up = assoc_spec().looked_up_by("to_id");
        for _ in 0..2 {
            ensure_table(&client, "stripe", &looked_up)
                .await
                .expect("table");
            assert_eq!(
                lookup_indexes(&client).await,
                [(
                    "stripe.association_contact_company_by_to_id".to_string(),
                    "to_id".to_string()
                )],
                "PG {v}"
            );
        }
        assert_eq!(links(&client).await, [live_row(A, None)], "PG {v}");
    }
}

/// An index of a person's with the name inlet would give its own is theirs: inlet leaves
/// it as it is and makes none.
#[tokio::test]
async fn a_persons_index_with_the_lookups_name_is_left_as_it_is() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = assoc_stream(&client, WriteOptions::default()).await;
        client
            .batch_execute(
                "create index association_contact_company_by_to_id \
                   on stripe.association_contact_company (label)",
            )
            .await
            .expect("a person's index");
        ensure_table(&client, "stripe", &assoc_spec().looked_up_by("to_id"))
            .await
            .expect("table");
        assert_eq!(
            lookup_indexes(&client).await,
            [(
                "stripe.association_contact_company_by_to_id".to_string(),
                "label".to_string()
            )],
            "PG {v}"
        );
        // Still theirs: a rebuild keeps the table (and their index) and refreshes it in place.
        let bound = inlet_postgres::ownership::bound_to(&client, "stripe", ASSOC)
            .await
            .expect("bound");
        assert_eq!(
            bound,
            ["index stripe.association_contact_company_by_to_id"],
            "PG {v}"
        );
        s.write(&mut client, vec![link(A, 10, Some("x"))], Phase::Backfill)
            .await;
        assert_eq!(links(&client).await, [live_row(A, Some("x"))], "PG {v}");
    }
}

#[tokio::test]
async fn records_whose_id_is_not_a_key_of_the_table_are_kept_in_sync_rejected() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = assoc_stream(&client, WriteOptions::default()).await;
        let stats = s
            .write(
                &mut client,
                vec![
                    link(A, 1, Some("fine")),
                    Record::upsert("101|201", Version::new(1, 0), Default::default()),
                    Record::upsert_keyed(
                        &["1", "2", "three"],
                        Version::new(1, 0),
                        Default::default(),
                    ),
                    Record::delete_keyed(&["", "2", "3"], Version::new(1, 0)),
                ],
                Phase::Live,
            )
            .await;
        assert_eq!((stats.inserted, stats.rejected), (1, 3), "PG {v}");
        let rejected: Vec<(String, String, bool)> = client
            .query(
                "select reason, record ->> 'id', (record ->> 'deleted')::bool \
                   from stripe._sync_rejected order by id",
                &[],
            )
            .await
            .expect("rejected")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let reasons: Vec<&str> = rejected.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "the id does not hold the 3 key values of the table's key (from_id, to_id, type_id)",
                "the key value for type_id is not a whole number that fits bigint",
                "the key value for from_id is empty",
            ],
            "PG {v}"
        );
        assert_eq!(
            rejected[1].1, "1|2|three",
            "PG {v}: the record is kept whole"
        );
        assert!(
            rejected[2].2,
            "PG {v}: a rejected delete is kept as a delete"
        );
        assert_eq!(links(&client).await, [live_row(A, Some("fine"))], "PG {v}");
    }
}

#[tokio::test]
async fn the_direct_backfill_of_a_composite_stream_ends_where_the_merge_ends() {
    for v in versions() {
        let mut results = Vec::new();
        for direct in [false, true] {
            let mut client = sync_client(cluster(v).await).await;
            let options = WriteOptions {
                direct_backfill: direct,
                ..WriteOptions::default()
            };
            let mut s = assoc_stream(&client, options).await;
            let first = s
                .write(
                    &mut client,
                    vec![link(A, 10, None), link(C, 10, None)],
                    Phase::Backfill,
                )
                .await;
            assert_eq!((first.inserted, first.direct), (2, direct), "PG {v}");
            // A restart's replay with more: A is there, so the merge takes the batch.
            let second = s
                .write(
                    &mut client,
                    vec![
                        link(A, 10, None),
                        link(B, 10, None),
                        link(C, 20, Some("newer")),
                    ],
                    Phase::Backfill,
                )
                .await;
            assert_eq!(
                (second.inserted, second.updated, second.direct),
                (1, 2, false),
                "PG {v} direct={direct}"
            );
            results.push(links(&client).await);
        }
        assert_eq!(results[0], results[1], "PG {v}");
        assert_eq!(results[1].len(), 3, "PG {v}");
    }
}

#[tokio::test]
async fn a_table_whose_key_is_not_the_streams_is_refused_with_the_way_out() {
    for v in versions() {
        let client = sync_client(cluster(v).await).await;
        ensure_schema(&client, "stripe", READER)
            .await
            .expect("schema");
        let by_id = StreamSpec::new(ASSOC, assoc_spec().columns);
        ensure_table(&client, "stripe", &by_id)
            .await
            .expect("table");
        let err = ensure_table(&client, "stripe", &assoc_spec())
            .await
            .expect_err("the key changed");
        assert!(
            err.message.contains("primary key (id)")
                && err.message.contains("(from_id, to_id, type_id)")
                && err.fix.contains("rebuild"),
            "PG {v}: {err:?}"
        );
        let unusable = StreamSpec::keyed("other", assoc_spec().columns, &["label", "nope"]);
        let err = ensure_table(&client, "stripe", &unusable)
            .await
            .expect_err("no such column");
        assert!(err.message.contains("key column nope"), "PG {v}: {err:?}");
    }
}
