//! Columns and values: additive evolution, the backfill fast path, exact decimals, and names,
//! values and ids that do not fit.

use super::*;

#[tokio::test]
async fn new_fields_become_columns_and_misfits_are_kept_in_sync_extra() {
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = Stream {
            table: prepared(&client, &NAME).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        s.write(
            &mut client,
            vec![up("cus_1", 10, json!({"name": "a", "surprise": {"x": 1}}))],
            Phase::Live,
        )
        .await;

        let wider = [
            ("name", ColumnType::Text),
            ("balance", ColumnType::Bigint),
            ("created", ColumnType::Timestamptz),
        ];
        let (table, conflicts) = ensure_table(&client, "stripe", &spec(&wider))
            .await
            .expect("evolve");
        assert!(conflicts.is_empty());
        s.table = table;
        let stats = s
            .write(
                &mut client,
                vec![up(
                    "cus_2",
                    10,
                    json!({"name": "b", "balance": "not a number", "created": 1700000000}),
                )],
                Phase::Live,
            )
            .await;
        assert_eq!(stats.extra_values, 1, "PG {v}");
        let r = client
            .query_one("select balance, _sync_extra, extract(epoch from created)::bigint from stripe.customer where id = 'cus_2'", &[])
            .await
            .expect("row");
        assert_eq!(r.get::<_, Option<i64>>(0), None);
        assert_eq!(
            r.get::<_, Value>(1),
            json!({"balance": "not a number"}),
            "PG {v}: kept, readable"
        );
        assert_eq!(r.get::<_, i64>(2), 1_700_000_000);
        let first: Value = client
            .query_one(
                "select _sync_extra from stripe.customer where id = 'cus_1'",
                &[],
            )
            .await
            .expect("row")
            .get(0);
        assert_eq!(
            first,
            json!({"surprise": {"x": 1}}),
            "a field without a column is kept too"
        );

        let retyped = [("name", ColumnType::Bigint)];
        let (_, conflicts) = ensure_table(&client, "stripe", &spec(&retyped))
            .await
            .expect("evolve");
        assert_eq!(
            conflicts.len(),
            1,
            "PG {v}: a type change is reported, not applied"
        );
        assert_eq!(conflicts[0].in_table, "text");
    }
}

/// The backfill fast path (COPY straight into the table) ends exactly where the merge ends,
/// including when a batch repeats rows already there (it then falls back to the merge).
#[tokio::test]
async fn direct_backfill_ends_exactly_where_the_merge_ends() {
    for v in versions() {
        let mut results = Vec::new();
        for direct in [false, true] {
            let mut client = sync_client(cluster(v).await).await;
            let options = WriteOptions {
                direct_backfill: direct,
                ..WriteOptions::default()
            };
            let mut s = Stream {
                table: prepared(&client, &NAME).await,
                seq: 0,
                options,
            };
            let first = s
                .write(
                    &mut client,
                    vec![
                        up("cus_1", 10, json!({"name": "a"})),
                        up("cus_2", 10, json!({"name": "b", "x": 1})),
                    ],
                    Phase::Backfill,
                )
                .await;
            assert_eq!(
                (first.inserted, first.extra_values),
                (2, 0),
                "PG {v} direct={direct}"
            );
            // cus_2 again (newer) and cus_1 again (older): a present row forces the merge.
            let second = s
                .write(
                    &mut client,
                    vec![
                        up("cus_2", 20, json!({"name": "b2"})),
                        up("cus_1", 5, json!({"name": "old"})),
                        up("cus_3", 10, json!({"name": "c"})),
                    ],
                    Phase::Backfill,
                )
                .await;
            assert_eq!(
                (second.inserted, second.updated),
                (1, 1),
                "PG {v} direct={direct}"
            );
            let rows = client
                .query("select id, name, _sync_extra, _sync_version_ts from stripe.customer order by id", &[])
                .await
                .expect("select")
                .iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1), r.get::<_, Option<Value>>(2), r.get::<_, i64>(3)))
                .collect::<Vec<_>>();
            results.push(rows);
        }
        assert_eq!(
            results[0], results[1],
            "PG {v}: the fast path must change nothing"
        );
        assert_eq!(results[1][1].1.as_deref(), Some("b2"));
    }
}

/// The binary numeric encoding, checked by PostgreSQL itself: random decimals (signs,
/// leading zeros, long fractions, zero) go in through binary COPY and must come back as the
/// same number, printed by the server.
#[tokio::test]
async fn decimals_survive_the_binary_encoding_exactly() {
    use proptest::strategy::{Strategy, ValueTree};
    let decimal = (
        proptest::bool::ANY,
        "[0-9]{1,30}",
        proptest::option::of("[0-9]{0,20}"),
    )
        .prop_map(|(neg, int, frac)| {
            let sign = if neg { "-" } else { "" };
            match frac {
                Some(f) => format!("{sign}{int}.{f}"),
                None => format!("{sign}{int}"),
            }
        });
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let values: Vec<String> = (0..300)
        .map(|_| decimal.new_tree(&mut runner).expect("sample").current())
        .chain(["0", "-0", "0.000", "-0.0001", "10000", "99999999.99990000"].map(String::from))
        .collect();
    let expected = |v: &str| {
        let (neg, rest) = v.strip_prefix('-').map_or((false, v), |r| (true, r));
        let (int, frac) = rest
            .split_once('.')
            .map_or((rest, None), |(i, f)| (i, Some(f)));
        let int = match int.trim_start_matches('0') {
            "" => "0",
            digits => digits,
        };
        let zero = int == "0" && frac.is_none_or(|f| f.bytes().all(|b| b == b'0'));
        let sign = if neg && !zero { "-" } else { "" };
        match frac {
            Some(f) if !f.is_empty() => format!("{sign}{int}.{f}"),
            _ => format!("{sign}{int}"),
        }
    };
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut s = Stream {
            table: prepared(&client, &[("amount", ColumnType::Numeric)]).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        let records = values
            .iter()
            .enumerate()
            .map(|(i, d)| up(&format!("n{i}"), 1, json!({ "amount": d })))
            .collect();
        let stats = s.write(&mut client, records, Phase::Backfill).await;
        assert_eq!(stats.extra_values, 0, "PG {v}: every decimal fits numeric");
        for (i, d) in values.iter().enumerate() {
            let got: String = client
                .query_one(
                    "select amount::text from stripe.customer where id = $1",
                    &[&format!("n{i}")],
                )
                .await
                .expect("row")
                .get(0);
            assert_eq!(got, expected(d), "PG {v}: {d}");
        }
    }
}

/// Names PostgreSQL would mangle or that are inlet's own, huge and deeply nested values,
/// numbers beyond i64, and ids no key can hold: each is stored faithfully, kept readable in
/// `_sync_extra`, or quarantined in `_sync_rejected` with the reason; nothing is lost, and
/// the rest of the batch is written.
#[tokio::test]
async fn hostile_names_huge_values_and_unusable_ids_are_stored_or_quarantined() {
    use inlet_core::column_name;
    use inlet_postgres::sql::ident;
    let long = "a_field_name_that_is_far_longer_than_the_sixty_three_bytes_postgres_allows";
    let names = ["Name", "name", "select", "a.b c\"d", long, "_sync_extra"];
    let mut deep = json!("bottom");
    for _ in 0..1000 {
        deep = json!([deep]);
    }
    let big = "x".repeat(10 * 1024 * 1024);
    for v in versions() {
        let mut client = sync_client(cluster(v).await).await;
        let mut columns: Vec<(&str, ColumnType)> =
            names.iter().map(|n| (*n, ColumnType::Text)).collect();
        columns.extend([
            ("big", ColumnType::Text),
            ("deep", ColumnType::Jsonb),
            ("huge", ColumnType::Bigint),
        ]);
        let mut s = Stream {
            table: prepared(&client, &columns).await,
            seq: 0,
            options: WriteOptions::default(),
        };
        let mut fields = serde_json::Map::new();
        for n in names {
            fields.insert(n.to_string(), json!(format!("value of {n}")));
        }
        fields.insert("big".into(), json!(big));
        fields.insert("deep".into(), deep.clone());
        fields.insert("huge".into(), json!(u64::MAX));
        let records = vec![
            Record::upsert("cus_ok", Version::new(1, 0), fields),
            up(
                &"i".repeat(2000),
                1,
                json!({"name": "an id too long for a key"}),
            ),
            up("nul\0id", 1, json!({"name": "an id with NUL"})),
        ];
        let stats = s.write(&mut client, records, Phase::Live).await;
        assert_eq!(
            (stats.inserted, stats.rejected, stats.extra_values),
            (1, 2, 1),
            "PG {v}"
        );

        for n in names {
            let sql = format!(
                "select {}::text from stripe.customer where id = 'cus_ok'",
                ident(&column_name(n))
            );
            let got: String = client
                .query_one(&sql, &[])
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .get(0);
            assert_eq!(got, format!("value of {n}"), "PG {v}: field {n:?}");
        }
        let row = client
            .query_one("select length(big), deep::text, _sync_extra -> 'huge' from stripe.customer where id = 'cus_ok'", &[])
            .await
            .expect("row");
        assert_eq!(
            row.get::<_, i32>(0),
            10 * 1024 * 1024,
            "PG {v}: the 10 MB value"
        );
        assert_eq!(
            row.get::<_, String>(1),
            deep.to_string(),
            "PG {v}: 1000 levels deep"
        );
        assert_eq!(
            row.get::<_, Value>(2),
            json!(u64::MAX),
            "PG {v}: beyond i64, kept exactly"
        );

        let rejected = client
            .query("select reason, record -> 'fields' ->> 'name' from stripe._sync_rejected order by id", &[])
            .await
            .expect("rejected");
        let reasons: Vec<(String, String)> =
            rejected.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(reasons.len(), 2, "PG {v}");
        assert!(
            reasons[0].0.contains("2000 bytes") && reasons[0].1 == "an id too long for a key",
            "{reasons:?}"
        );
        assert!(
            reasons[1].0.contains("NUL") && reasons[1].1 == "an id with NUL",
            "{reasons:?}"
        );
    }
}
