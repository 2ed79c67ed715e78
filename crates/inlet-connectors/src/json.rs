//! Parsing API responses without losing a record to one bad character.
//!
//! JSON may carry a lone UTF-16 surrogate escape (`"\ud800"`), which no Rust or PostgreSQL
//! string can hold, and which makes a strict parser refuse the whole page. Each lone
//! surrogate escape is replaced, in place and at the same length, by `\ufffd` (the
//! replacement character) before parsing: the rest of the page, and of the record, is kept.
//!
//! Numbers keep their exact text (serde_json's `arbitrary_precision`): one beyond i64 or
//! f64 reaches a numeric or jsonb column digit for digit instead of failing the page. And
//! values may nest up to [`MAX_DEPTH`] levels, far past serde_json's default of 128.

use serde::de::Error as _;
use serde::Deserialize;
use serde_json::Value;

/// The deepest nesting a response may have: four times serde_json's default of 128, and
/// what a debug build parses on a tokio worker's 2 MiB stack with room to spare (it
/// overflows near 1,100). Deeper, a page is refused with a clear error, never a crash.
pub const MAX_DEPTH: usize = 512;

/// Parses `body`, replacing lone surrogate escapes with U+FFFD.
pub fn parse(body: &[u8]) -> Result<Value, serde_json::Error> {
    match from_slice(body) {
        Ok(value) => Ok(value),
        Err(first) => {
            let mut fixed = body.to_vec();
            if replace_lone_surrogates(&mut fixed) == 0 {
                return Err(first);
            }
            from_slice(&fixed)
        }
    }
}

fn from_slice(body: &[u8]) -> Result<Value, serde_json::Error> {
    let depth = depth(body);
    if depth > MAX_DEPTH {
        return Err(serde_json::Error::custom(format!(
            "nested {depth} levels deep, more than the {MAX_DEPTH} inlet reads"
        )));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    de.disable_recursion_limit();
    let value = Value::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// How deep arrays and objects nest in `json`, brackets inside strings aside.
fn depth(json: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Rewrites every `\uXXXX` escape of a surrogate that is not part of a valid pair as
/// `\ufffd`; returns how many. Escapes are only recognised where a backslash starts one
/// (an escaped backslash, `\\`, is skipped as a pair).
pub fn replace_lone_surrogates(json: &mut [u8]) -> usize {
    let mut replaced = 0;
    let mut i = 0;
    while i < json.len() {
        if json[i] != b'\\' {
            i += 1;
            continue;
        }
        match escape_unit(json, i) {
            Some(0xD800..=0xDBFF) => {
                if matches!(escape_unit(json, i + 6), Some(0xDC00..=0xDFFF)) {
                    i += 12;
                    continue;
                }
                json[i + 2..i + 6].copy_from_slice(b"fffd");
                replaced += 1;
                i += 6;
            }
            Some(0xDC00..=0xDFFF) => {
                json[i + 2..i + 6].copy_from_slice(b"fffd");
                replaced += 1;
                i += 6;
            }
            Some(_) => i += 6,
            None => i += 2, // `\\`, `\"`, `\n`, ...: the next character is not an escape start
        }
    }
    replaced
}

/// The code unit of a `\uXXXX` escape starting at `at`.
fn escape_unit(json: &[u8], at: usize) -> Option<u32> {
    let hex = json.get(at..at + 6)?;
    if hex[0] != b'\\' || hex[1] != b'u' {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_become_replacement_characters_and_the_rest_is_kept() {
        let body = br#"{"a":"x\ud800y","b":"\udc00","pair":"\ud83d\ude00","esc":"\\ud800","n":1}"#;
        let v = parse(body).expect("parses");
        assert_eq!(v["a"], "x\u{fffd}y");
        assert_eq!(v["b"], "\u{fffd}");
        assert_eq!(v["pair"], "\u{1f600}", "a valid pair is kept");
        assert_eq!(v["esc"], "\\ud800", "an escaped backslash is not an escape");
        assert_eq!(v["n"], 1);
    }

    #[test]
    fn valid_json_is_untouched_and_invalid_json_still_fails() {
        let mut ok = br#"{"k":"\u00e9\ud83d\ude00"}"#.to_vec();
        assert_eq!(replace_lone_surrogates(&mut ok), 0);
        assert!(parse(b"{\"k\": ").is_err());
    }

    #[test]
    fn numbers_beyond_i64_and_f64_keep_every_digit() {
        let body = br#"{"big":123456789012345678901234567890,"huge":1e400,"exact":0.1000000000000000000001}"#;
        let v = parse(body).expect("parses");
        assert_eq!(v["big"].to_string(), "123456789012345678901234567890");
        assert_eq!(v["huge"].to_string(), "1e+400"); // the same number, which PostgreSQL reads
        assert_eq!(v["exact"].to_string(), "0.1000000000000000000001");
    }

    #[test]
    fn deep_values_parse_and_deeper_than_the_limit_is_a_clear_error() {
        let nested = |n: usize| format!(r#"{{"k":"[{{","v":{}1{}}}"#, "[".repeat(n), "]".repeat(n));
        // On a thread with the stack of a tokio worker (2 MiB), as in the service.
        let ok = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || parse(nested(MAX_DEPTH - 1).as_bytes()).map(|v| v["k"].clone()))
            .expect("thread")
            .join()
            .expect("no stack overflow");
        assert_eq!(
            ok.expect("parses"),
            "[{",
            "brackets in strings do not count"
        );
        let err = parse(nested(MAX_DEPTH + 5).as_bytes()).expect_err("too deep");
        let deepest = format!("{} levels deep", MAX_DEPTH + 6); // the outer object, and the value
        assert!(err.to_string().contains(&deepest), "{err}");
    }
}
