//! Everything a source parses from outside (HTTP headers, response bodies, webhook
//! signature headers) answers with a value or an error, whatever it is sent: never a panic,
//! which would stop a stream. Property tests over arbitrary and adversarial input.

use std::time::{Duration, SystemTime};

use inlet_connectors::http::budget::{self, Budget, Pacer};
use inlet_connectors::http::retry;
use inlet_connectors::json;
use inlet_connectors::stripe::webhook;
use inlet_core::{retry_in_place, ErrorKind, ServerWord, IN_PLACE, MAX_SERVER_WAIT, STREAM};
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// Text shaped like what the header might hold, and anything else.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[-+ ]?[0-9]{0,25}(\\.[0-9]{0,10})?([eE][-+]?[0-9]{1,4})?",
        "(NaN|inf|-inf|infinity|1e20|1e308|-0|0x10| )",
        "(Mon|Sun|Xyz), [0-9]{1,2} (Jan|Feb|Dec|Foo) [0-9]{1,5} [0-9]{1,2}:[0-9]{2}:[0-9]{2} GMT",
        "api-usage=[0-9]{0,22}/[0-9]{0,22}(; api-bursts=[0-9]{0,3}/[0-9]{0,3})?",
    ]
}

fn time() -> impl Strategy<Value = SystemTime> {
    (0u64..=u64::from(u32::MAX) * 4).prop_map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
}

/// JSON-like bytes: fragments that stress nesting, strings, escapes and surrogates.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just(":".to_string()),
        Just(",".to_string()),
        Just("\\ud800".to_string()),
        Just("\\udc00".to_string()),
        Just("\\u".to_string()),
        Just("\"k\":".to_string()),
        Just("1e400".to_string()),
        "[0-9a-f]{1,6}",
        any::<String>(),
    ];
    prop::collection::vec(fragment, 0..300).prop_map(|parts| parts.concat().into_bytes())
}

fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            map.insert(HeaderName::from_static(name), value);
        }
    }
    map
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn retry_after_is_a_capped_wait_or_nothing(value in header_text(), server in proptest::option::of(time()), now in time()) {
        if let Some(wait) = retry::retry_after(&value, server, now) {
            prop_assert!(wait <= MAX_SERVER_WAIT);
        }
        let _ = retry::should_retry(&value);
    }

    #[test]
    fn response_headers_are_read_whatever_they_hold(
        retry_after in prop::collection::vec(any::<u8>(), 0..40),
        date in header_text(),
        should in prop::collection::vec(any::<u8>(), 0..10),
        remaining in header_text(),
        interval in header_text(),
        limit_info in header_text(),
    ) {
        let map = headers(&[
            ("retry-after", &retry_after),
            ("date", date.as_bytes()),
            ("stripe-should-retry", &should),
            ("x-hubspot-ratelimit-remaining", remaining.as_bytes()),
            ("x-hubspot-ratelimit-max", remaining.as_bytes()),
            ("x-hubspot-ratelimit-interval-milliseconds", interval.as_bytes()),
            ("sforce-limit-info", limit_info.as_bytes()),
        ]);
        let (_, word) = retry::read(&map, Some(&HeaderName::from_static("stripe-should-retry")));
        prop_assert!(word.retry_after.is_none_or(|w| w <= MAX_SERVER_WAIT));
        let _ = budget::hubspot(&map);
        let _ = budget::salesforce(&map);
    }

    #[test]
    fn any_budget_paces_without_panicking(remaining in any::<u64>(), limit in proptest::option::of(any::<u64>()), window_ms in any::<u64>()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("runtime");
        rt.block_on(async {
            let pacer = Pacer::default();
            let (turn, _) = pacer.wait().await;
            pacer.observe(Budget { remaining, limit, window: Duration::from_millis(window_ms) }, turn).await;
            pacer.wait().await;
            pacer.wait().await;
        });
    }

    #[test]
    fn the_retry_policy_answers_any_failure(status in proptest::option::of(any::<u16>()), should in proptest::option::of(any::<bool>()),
                                            wait_ms in proptest::option::of(any::<u64>()), attempt in any::<u32>(), jitter in any::<f64>()) {
        let word = ServerWord { retry_after: wait_ms.map(Duration::from_millis), should_retry: should };
        if let Some(wait) = retry_in_place(status, word, attempt, jitter) {
            prop_assert!(wait <= Duration::from_secs(60));
        }
        prop_assert!(IN_PLACE.delay(attempt, jitter) <= IN_PLACE.max);
        prop_assert!(STREAM.delay(attempt, jitter) <= STREAM.max);
        let _ = ErrorKind::of_http_status(status.unwrap_or(0)).action(attempt, word.retry_after);
    }

    #[test]
    fn any_response_body_parses_or_fails_cleanly(body in prop_oneof![jsonish(), prop::collection::vec(any::<u8>(), 0..2000)]) {
        let _ = json::parse(&body);
        let mut copy = body.clone();
        json::replace_lone_surrogates(&mut copy);
        prop_assert_eq!(copy.len(), body.len(), "replacements keep the length");
    }

    #[test]
    fn any_signature_header_is_checked_without_panicking(
        header in prop_oneof![
            any::<String>(),
            "(t=[-+]?[0-9]{0,25}|v1=[0-9a-fé]{0,70}|v0=x|,|=| )*",
        ],
        body in prop::collection::vec(any::<u8>(), 0..200),
        now in any::<i64>(),
    ) {
        let _ = webhook::verify(Some(&header), &body, "whsec_test", now);
    }

    #[test]
    fn a_valid_signature_at_any_time_is_judged_by_its_age(t in any::<i64>(), now in any::<i64>()) {
        let body = br#"{"id":"evt_1"}"#;
        let header = webhook::sign(body, "whsec_test", t);
        let verdict = webhook::verify(Some(&header), body, "whsec_test", now);
        let fresh = now.saturating_sub(t) <= webhook::TOLERANCE_SECS;
        prop_assert_eq!(verdict.is_ok(), fresh, "{:?}", verdict);
    }
}
