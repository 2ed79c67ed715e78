//! Ordering by source version: an older change never overwrites a newer one, a delete stays
//! deleted, a replayed batch changes nothing, and a stale writer is fenced.

use super::*;

#[tokio::test]
async fn older_version_never_overwrites_newer_and_a_tie_keeps_the_later_change() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = Stream {
            table: prepared(&client, &NAME).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        s.write(
            &mut client,
            vec![up("cus_1", 50, json!({"name": "new"}))],
            Phase::Live,
        )
        .await;
        let stats = s
            .write(
                &mut client,
                vec![up("cus_1", 40, json!({"name": "old"}))],
                Phase::Live,
            )
            .await;
        assert_eq!((stats.updated, stats.events), (0, 0), "PG {v}");
        assert_eq!(names(&client).await, vec![row("cus_1", "new")]);
        // Same version, applied later: the later change wins.
        s.write(
            &mut client,
            vec![up("cus_1", 50, json!({"name": "same second, later"}))],
            Phase::Live,
        )
        .await;
        assert_eq!(
            names(&client).await,
            vec![row("cus_1", "same second, later")],
            "PG {v}"
        );
        // Within one batch: the newest version, then the later position, wins.
        let mixed = vec![
            up("cus_2", 70, json!({"name": "b-70"})),
            up("cus_2", 60, json!({"name": "b-60"})),
            up("cus_2", 70, json!({"name": "b-70-later"})),
        ];
        s.write(&mut client, mixed, Phase::Live).await;
        assert_eq!(
            names(&client).await[1],
            row("cus_2", "b-70-later"),
            "PG {v}"
        );
    }
}

#[tokio::test]
async fn a_deleted_row_stays_deleted_when_an_older_change_arrives_late() {
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
            s.write(
                &mut client,
                vec![up("cus_1", 10, json!({"name": "a"}))],
                Phase::Live,
            )
            .await;
            s.write(
                &mut client,
                vec![Record::delete("cus_1", Version::new(30, 0))],
                Phase::Live,
            )
            .await;
            s.write(
                &mut client,
                vec![up("cus_1", 20, json!({"name": "late"}))],
                Phase::Live,
            )
            .await;
            // Deleted before it was ever seen: still no resurrection by an older change.
            s.write(
                &mut client,
                vec![Record::delete("cus_9", Version::new(30, 0))],
                Phase::Live,
            )
            .await;
            s.write(
                &mut client,
                vec![up("cus_9", 20, json!({"name": "late"}))],
                Phase::Live,
            )
            .await;
            let live = client
                .query(
                    "select id, name from stripe.customer where _sync_deleted_at is null",
                    &[],
                )
                .await
                .expect("select");
            assert!(
                live.is_empty(),
                "PG {v} {mode:?}: resurrected {:?}",
                live.len()
            );
            if mode == DeleteMode::Soft {
                let kept: i64 = client
                    .query_one(
                        "select count(*) from stripe.customer where _sync_deleted_at is not null",
                        &[],
                    )
                    .await
                    .expect("count")
                    .get(0);
                assert_eq!(kept, 1, "PG {v}: a soft delete keeps the row");
            }
            s.write(
                &mut client,
                vec![up("cus_1", 40, json!({"name": "back"}))],
                Phase::Live,
            )
            .await;
            let back = client
                .query(
                    "select name from stripe.customer where _sync_deleted_at is null",
                    &[],
                )
                .await
                .expect("select");
            assert_eq!(
                back.len(),
                1,
                "PG {v} {mode:?}: a newer change brings it back"
            );
        }
    }
}

#[tokio::test]
async fn replaying_a_batch_changes_nothing_and_a_stale_writer_is_fenced() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let table = prepared(&client, &NAME).await;
        let records = vec![
            up("cus_1", 10, json!({"name": "a"})),
            Record::delete("cus_2", Version::new(10, 0)),
        ];
        let opts = WriteOptions::default();
        let first = write_batch(
            &mut client,
            &table,
            "customer",
            &batch(records.clone(), Phase::Live, 1),
            1,
            opts,
        )
        .await
        .expect("first");
        assert_eq!(first.inserted, 1);
        let replay = write_batch(
            &mut client,
            &table,
            "customer",
            &batch(records.clone(), Phase::Live, 2),
            2,
            opts,
        )
        .await
        .expect("replay");
        assert_eq!(
            (replay.inserted, replay.updated, replay.events),
            (0, 0, 0),
            "PG {v}: {replay:?}"
        );

        // A writer still at batch 2 (it lost its lock) cannot commit anything.
        let stale = vec![up("cus_1", 99, json!({"name": "stale writer"}))];
        let err = write_batch(
            &mut client,
            &table,
            "customer",
            &batch(stale, Phase::Live, 2),
            2,
            opts,
        )
        .await;
        assert!(
            matches!(err, Err(WriteError::Fenced { batch_seq: 2, .. })),
            "PG {v}: {err:?}"
        );
        assert_eq!(
            names(&client).await,
            vec![row("cus_1", "a")],
            "PG {v}: the fenced batch left no trace"
        );
        let seq: i64 = client
            .query_one("select batch_seq from stripe._sync_state", &[])
            .await
            .expect("seq")
            .get(0);
        assert_eq!(seq, 2, "progress never moves backward");
    }
}
