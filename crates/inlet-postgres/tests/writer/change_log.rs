//! The change log, `_sync_event`: live changes with `changes` and `old_record` (the changed
//! columns' new and old values), typed comparisons, source order, notifications and pruning.

use super::*;

#[tokio::test]
async fn live_changes_are_merged_and_logged_with_old_record_and_changes() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = Stream {
            table: prepared(&client, &NAME).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        let backfill = vec![
            up("cus_1", 10, json!({"name": "Ada"})),
            up("cus_2", 10, json!({"name": "Bob"})),
        ];
        let stats = s.write(&mut client, backfill, Phase::Backfill).await;
        assert_eq!(
            (stats.inserted, stats.events),
            (2, 0),
            "PG {v}: backfill is not logged"
        );

        let live = vec![
            up("cus_1", 20, json!({"name": "Ada L."})),
            up("cus_3", 20, json!({"name": "Cy"})),
            Record::delete("cus_2", Version::new(20, 0)),
        ];
        let stats = s.write(&mut client, live, Phase::Live).await;
        assert_eq!(
            (stats.inserted, stats.updated, stats.deleted, stats.events),
            (1, 1, 1, 3),
            "PG {v}"
        );
        assert_eq!(
            names(&client).await,
            vec![row("cus_1", "Ada L."), row("cus_3", "Cy")]
        );

        let events = client
            .query(
                "select event_type, record_id, payload from stripe._sync_event order by id",
                &[],
            )
            .await
            .expect("events");
        let by_type = |t: &str| -> Value {
            events
                .iter()
                .find(|r| r.get::<_, String>(0) == t)
                .map(|r| r.get(2))
                .expect(t)
        };
        let update = by_type("update");
        assert_eq!(update["record_id"], "cus_1");
        assert_eq!(update["record"]["name"], "Ada L.");
        assert_eq!(
            update["changes"],
            json!({"name": "Ada L."}),
            "PG {v}: {update}"
        );
        assert_eq!(
            update["old_record"],
            json!({"name": "Ada"}),
            "PG {v}: the old values of the changed columns, and only those"
        );
        assert_eq!(by_type("insert")["record"]["name"], "Cy");
        assert_eq!(
            by_type("delete")["record"]["name"],
            "Bob",
            "a delete logs what was deleted"
        );
        assert!(
            update["record"].get("_sync_version_ts").is_none(),
            "internal columns stay out"
        );

        let state = client
            .query_one(
                "select state, checkpoint, batch_seq, rows_written from stripe._sync_state",
                &[],
            )
            .await
            .expect("state");
        assert_eq!(state.get::<_, String>(0), "live");
        assert_eq!(state.get::<_, Value>(1), json!({"page": 2}));
        assert_eq!((state.get::<_, i64>(2), state.get::<_, i64>(3)), (2, 5));
    }
}

#[tokio::test]
async fn committed_changes_notify_listeners() {
    for v in versions() {
        let c = cluster(v).await;
        let mut client = sync_client(c).await;
        let db: String = client
            .query_one("select current_database()::text", &[])
            .await
            .expect("db")
            .get(0);
        let mut s = Stream {
            table: prepared(&client, &NAME).await,
            seq: 0,
            options: WriteOptions::default(),
        };

        let mut cfg = tokio_postgres::Config::new();
        cfg.host_path(c.socket_dir())
            .port(c.port)
            .user("postgres")
            .dbname(&db);
        let (listener, mut conn) = cfg.connect(tokio_postgres::NoTls).await.expect("listener");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
            while let Some(Ok(m)) = messages.next().await {
                if let tokio_postgres::AsyncMessage::Notification(n) = m {
                    let _ = tx.send((n.channel().to_string(), n.payload().to_string()));
                }
            }
        });
        listener
            .batch_execute("listen inlet_sync_event")
            .await
            .expect("listen");
        s.write(
            &mut client,
            vec![up("cus_1", 10, json!({"name": "a"}))],
            Phase::Live,
        )
        .await;
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await;
        assert_eq!(
            got.ok().flatten(),
            Some((
                "inlet_sync_event".to_string(),
                "stripe.customer".to_string()
            )),
            "PG {v}"
        );
    }
}

#[tokio::test]
async fn old_change_log_rows_are_pruned_in_small_steps_and_recent_ones_kept() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = Stream {
            table: prepared(&client, &NAME).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        let records = (0..25)
            .map(|i| up(&format!("cus_{i}"), 10, json!({"name": "x"})))
            .collect();
        s.write(&mut client, records, Phase::Live).await;
        client
            .batch_execute("update stripe._sync_event set inserted_at = now() - interval '8 days' where id in (select id from stripe._sync_event order by id limit 20)")
            .await
            .expect("age some events");
        let week = std::time::Duration::from_secs(7 * 24 * 3600);
        let pruned = prune_events(&client, "stripe", week, 3)
            .await
            .expect("prune");
        assert_eq!(pruned, 20, "PG {v}");
        let left: i64 = client
            .query_one("select count(*) from stripe._sync_event", &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(left, 5, "PG {v}: recent events are kept");
    }
}

/// The `update` events of the change log, in order: (record_id, changes, old_record, record).
async fn updates(client: &Client) -> Vec<(String, Value, Value, Value)> {
    client
        .query(
            "select record_id, payload -> 'changes', payload -> 'old_record', payload -> 'record' \
               from stripe._sync_event where event_type = 'update' order by id",
            &[],
        )
        .await
        .expect("events")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// What changed is decided by comparing typed values, as a reader comparing the JSON would:
/// a jsonb object with its keys in another order, `1.0` then `1.00`, or an equal array are
/// no change (and nothing is logged); a NULL becoming a value, a value becoming NULL, an
/// array's order, a timestamp and a double are changes, each with its new value exactly as
/// the record shows it.
#[tokio::test]
async fn changes_compare_typed_values_as_the_json_a_reader_sees() {
    let columns = [
        ("doc", ColumnType::Jsonb),
        ("amount", ColumnType::Numeric),
        ("tags", ColumnType::TextArray),
        ("note", ColumnType::Text),
        ("at", ColumnType::Timestamptz),
        ("ratio", ColumnType::Double),
        ("n", ColumnType::Bigint),
        ("flag", ColumnType::Boolean),
    ];
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = Stream {
            table: prepared(&client, &columns).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        let first = json!({"doc": {"a": 1, "b": [1, 2]}, "amount": "1.0", "tags": ["x", "y"],
                           "note": null, "at": 1_700_000_000, "ratio": 0.1, "n": 7, "flag": true});
        s.write(&mut client, vec![up("cus_1", 10, first)], Phase::Backfill)
            .await;

        // The same values, written differently: nothing changed, nothing is logged.
        let same = json!({"doc": {"b": [1, 2], "a": 1.0}, "amount": "1.00", "tags": ["x", "y"],
                          "note": null, "at": 1_700_000_000, "ratio": 0.1, "n": 7, "flag": true});
        let stats = s
            .write(&mut client, vec![up("cus_1", 20, same)], Phase::Live)
            .await;
        assert_eq!((stats.updated, stats.events), (0, 0), "PG {v}");
        assert!(updates(&client).await.is_empty(), "PG {v}");

        let changed = json!({"doc": {"a": 1, "b": [2, 1]}, "amount": "1.00", "tags": ["y", "x"],
                             "note": "now set", "at": 1_700_000_001, "ratio": 0.25, "n": null,
                             "flag": true});
        let stats = s
            .write(&mut client, vec![up("cus_1", 30, changed)], Phase::Live)
            .await;
        assert_eq!((stats.updated, stats.events), (1, 1), "PG {v}");
        let logged = updates(&client).await;
        let (id, changes, old, record) = &logged[0];
        assert_eq!(id, "cus_1");
        let mut names: Vec<&String> = changes.as_object().expect("object").keys().collect();
        names.sort();
        assert_eq!(
            names,
            ["at", "doc", "n", "note", "ratio", "tags"],
            "PG {v}: {changes}"
        );
        let mut old_names: Vec<&String> = old.as_object().expect("object").keys().collect();
        old_names.sort();
        assert_eq!(
            old_names, names,
            "PG {v}: old_record has the changed columns: {old}"
        );
        for name in names {
            assert_eq!(
                changes[name], record[name],
                "PG {v}: {name} as the record shows it"
            );
            assert_ne!(changes[name], old[name], "PG {v}: {name}");
        }
        assert_eq!(
            old["doc"],
            json!({"a": 1.0, "b": [1, 2]}),
            "PG {v}: an old value as it was stored (by the write that changed nothing)"
        );
        assert_eq!(old["note"], Value::Null, "PG {v}: NULL before");
        assert_eq!(changes["note"], json!("now set"), "PG {v}: NULL to a value");
        assert_eq!(changes["n"], Value::Null, "PG {v}: a value to NULL");
        assert_eq!(old["n"], json!(7), "PG {v}");
        assert_eq!(changes["tags"], json!(["y", "x"]), "PG {v}");
        assert_eq!(
            record["amount"].to_string(),
            "1.00",
            "PG {v}: the record is the row as it is"
        );
        assert!(record.get("_sync_version_ts").is_none());
        for system in [
            "_sync_extra",
            "_sync_deleted_at",
            "_sync_inserted_at",
            "_sync_updated_at",
        ] {
            assert!(record.get(system).is_some(), "PG {v}: {system}");
        }
    }
}

/// A field that appears in the middle of live changes gets its column, and the update that
/// brings it logs it as changed from NULL; a column a person retyped to something inlet does
/// not write is left alone but still shown in the records, as it is.
#[tokio::test]
async fn a_column_added_mid_stream_and_a_persons_column_show_in_the_change_log() {
    use inlet_postgres::evolve::{add_columns, new_columns};
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let columns = [("name", ColumnType::Text), ("code", ColumnType::Text)];
        let mut s = Stream {
            table: prepared(&client, &columns).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        s.write(
            &mut client,
            vec![up("cus_1", 10, json!({"name": "a", "code": "12"}))],
            Phase::Backfill,
        )
        .await;
        client
            .batch_execute(
                "alter table stripe.customer alter column code type integer using code::integer",
            )
            .await
            .expect("a person retypes a column");
        s.table = ensure_table(&client, "stripe", &spec(&columns))
            .await
            .expect("table")
            .0;
        assert_eq!(s.table.other_columns, ["code"], "PG {v}");

        let records = vec![up(
            "cus_1",
            20,
            json!({"name": "b", "tier": "gold", "code": "13"}),
        )];
        let added = new_columns(&s.table, &records);
        add_columns(&client, &mut s.table, added)
            .await
            .expect("new column");
        let stats = s.write(&mut client, records, Phase::Live).await;
        assert_eq!(stats.updated, 1, "PG {v}");
        let logged = updates(&client).await;
        let (_, changes, old, record) = &logged[0];
        assert_eq!(changes, &json!({"name": "b", "tier": "gold"}), "PG {v}");
        assert_eq!(
            old,
            &json!({"name": "a", "tier": null}),
            "PG {v}: the new column was NULL before"
        );
        assert_eq!(record["code"], json!(12), "PG {v}");
        assert_eq!(record["_sync_extra"], json!({"code": "13"}), "PG {v}");
    }
}

/// One batch's changes are logged in source order whatever their kind, each object once
/// with its net effect: created then updated is one `insert` with the final record.
#[tokio::test]
async fn one_batch_is_logged_in_source_order_with_net_effects() {
    for v in versions() {
        for mode in [DeleteMode::Hard, DeleteMode::Soft] {
            let mut client = sync_client(cluster(v).await).await;
            let options = WriteOptions {
                deletes: mode,
                ..WriteOptions::default()
            };
            let mut s = Stream {
                table: prepared(&client, &NAME).await,
                seq: 0,
                options,
            };
            let existing = ["cus_a", "cus_b", "cus_c"]
                .map(|id| up(id, 10, json!({"name": format!("{id} before")})))
                .to_vec();
            s.write(&mut client, existing, Phase::Backfill).await;
            let live = vec![
                up("cus_c", 30, json!({"name": "c after"})),
                up("cus_new", 20, json!({"name": "new"})),
                Record::delete("cus_a", Version::new(25, 0)),
                up("cus_new", 40, json!({"name": "new, then renamed"})),
                up("cus_b", 20, json!({"name": "cus_b before"})),
                up("cus_b", 35, json!({"name": "b after"})),
            ];
            let stats = s.write(&mut client, live, Phase::Live).await;
            assert_eq!(
                (stats.inserted, stats.updated, stats.deleted, stats.events),
                (1, 2, 1, 4),
                "PG {v} {mode:?}"
            );
            let events: Vec<(String, String, Option<String>)> = client
                .query(
                    "select event_type, record_id, payload -> 'record' ->> 'name' \
                       from stripe._sync_event order by id",
                    &[],
                )
                .await
                .expect("events")
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            let expected = [
                ("delete", "cus_a", "cus_a before"),
                ("update", "cus_c", "c after"),
                ("update", "cus_b", "b after"),
                ("insert", "cus_new", "new, then renamed"),
            ]
            .map(|(k, id, name)| (k.to_string(), id.to_string(), Some(name.to_string())));
            assert_eq!(events, expected, "PG {v} {mode:?}");
        }
    }
}
