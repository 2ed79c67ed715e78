//! Property tests: whatever text reaches inlet from outside (`inlet.toml`, `secrets.toml`,
//! `--url`), it answers with a result, an error a person can act on, and never a panic.

use std::path::Path;

use inlet_postgres::{ConnectOptions, ProblemKind};
use proptest::prelude::*;

use crate::{config, secrets};

/// Values of every kind, including the ones that broke arithmetic before (`nan`, `inf`).
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("nan".to_string()),
        Just("-nan".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        Just("1e308".to_string()),
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("18446744073709551615".to_string()),
        Just("\"stripe\"".to_string()),
        Just("\"2024-06-20\"".to_string()),
        Just("[\"customer\", \"nope\"]".to_string()),
        Just("{ include_backfill = true, retention_days = nan }".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        "\"[^\"\\\\\n]{0,12}\"",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "source",
        "destination",
        "schema",
        "api_key_env",
        "api_base",
        "rate_limit",
        "poll_interval_ms",
        "deletes",
        "streams",
        "events",
        "stripe_version",
        "host",
        "port",
        "dbname",
        "sslmode",
        "sslcrl",
        "hostaddr",
        "application_name",
        "connect_timeout",
        "ssh",
        "password",
        "api_key",
        "webhook_secret",
        "[a-z_]{1,10}",
    ]
    .prop_map(String::from)
}

/// Text shaped like the files: tables of the right names, keys of the right names, values
/// of any kind, and now and then plain noise.
fn document() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        3 => (key(), value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => prop_oneof![
            Just("[syncs.s]".to_string()),
            Just("[syncs.s.events]".to_string()),
            Just("[destinations.d]".to_string()),
            Just("[destinations.d.ssh]".to_string()),
            "[a-z.\\[\\]]{1,12}",
        ],
        1 => "\\PC{0,30}",
    ];
    prop::collection::vec(line, 0..14).prop_map(|lines| lines.join("\n"))
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a test file");
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o600);
    std::fs::set_permissions(&path, mode).expect("chmod");
    path
}

proptest! {
    #[test]
    fn any_inlet_toml_loads_or_says_why(text in document()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "inlet.toml", &text);
        match config::load(&path) {
            // What a loaded file is used for must not panic either.
            Ok(cfg) => {
                for sync in cfg.syncs.values() {
                    let _ = sync.retention();
                    let _ = sync.poll_interval();
                    let _ = sync.source.schema_version(&sync.options);
                }
            }
            Err(p) => {
                prop_assert_eq!(p.kind, ProblemKind::InvalidOption);
                prop_assert!(p.message.contains("inlet.toml"), "{}", p.message);
            }
        }
    }

    #[test]
    fn any_secrets_toml_loads_or_says_why_without_quoting_it(text in document()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "secrets.toml", &text);
        if let Err(p) = secrets::destination_password(&path, "d") {
            prop_assert_eq!(p.kind, ProblemKind::InvalidOption);
            prop_assert!(!p.message.contains(text.trim()) || text.trim().len() < 4, "{}", p.message);
        }
    }

    #[test]
    fn any_url_is_read_or_refused(url in prop_oneof![
        "\\PC{0,40}",
        "postgres(ql)?://[a-z%:@/?=&.\\[\\]0-9]{0,30}",
    ]) {
        let mut options = ConnectOptions::default();
        if options.apply_url(&url).is_ok() {
            let _ = options.finish();
        }
    }
}

#[test]
fn a_retention_that_is_not_a_number_of_days_is_refused_at_load() {
    for bad in ["nan", "inf", "-inf", "-1", "0"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "[syncs.billing]\nsource = \"stripe\"\ndestination = \"d\"\nschema = \"s\"\n\
             [syncs.billing.events]\nretention_days = {bad}\n"
        );
        let path = write(dir.path(), "inlet.toml", &text);
        let p = config::load(&path).expect_err(bad);
        assert_eq!(p.kind, ProblemKind::InvalidOption);
        for part in ["inlet.toml", "[syncs.billing]", "retention_days"] {
            assert!(p.message.contains(part), "{bad}: {}", p.message);
        }
        assert!(p.fix.contains("above 0"), "{}", p.fix);
    }
}

#[test]
fn a_sync_names_a_known_source_and_only_its_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let load = |extra: &str| {
        let text = format!(
            "[syncs.billing]\nsource = \"stripe\"\ndestination = \"d\"\nschema = \"s\"\n{extra}"
        );
        config::load(&write(dir.path(), "inlet.toml", &text))
    };
    let cfg = load("stripe_version = \"2024-06-20\"\n").expect("a Stripe key loads");
    assert_eq!(
        cfg.syncs["billing"].options["stripe_version"], "2024-06-20",
        "kept for the source"
    );

    let p = load("stripe_verison = \"2024-06-20\"\n").expect_err("a misspelt key");
    assert!(
        p.message.contains("[syncs.billing] stripe_verison"),
        "{}",
        p.message
    );
    assert!(
        p.fix.contains("stripe_version"),
        "names what is allowed: {}",
        p.fix
    );

    let p = load("stripe_version = 2024\n").expect_err("a bad value");
    assert!(p.message.contains("stripe_version"), "{}", p.message);

    let p = load("streams = [\"customer\", \"customers\"]\n").expect_err("an unknown stream");
    assert!(p.message.contains("customers"), "{}", p.message);
    assert!(
        p.fix.contains("subscription_item"),
        "lists the streams: {}",
        p.fix
    );

    let text = "[syncs.crm]\nsource = \"hubspott\"\ndestination = \"d\"\nschema = \"s\"\n";
    let p = config::load(&write(dir.path(), "inlet.toml", text)).expect_err("an unknown source");
    assert!(
        p.message.contains("hubspott") && p.message.contains("stripe"),
        "{}",
        p.message
    );
    assert!(p.fix.contains("line 2"), "{}", p.fix);
}
