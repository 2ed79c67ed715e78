//! Checking a webhook's `Stripe-Signature`: `t=<unix>,v1=<hex>[,v1=<hex>…]`, where each
//! `v1` is HMAC-SHA256 with the endpoint's secret over `"{t}.{body}"`. Any matching `v1`
//! is enough (a rolled secret signs with both for a while); other schemes (`v0`) are
//! ignored; the timestamp must be within the tolerance of now (replays are refused).

use ring::hmac;

/// Stripe's libraries accept signatures up to five minutes old.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error("the signature is {0} s old, more than the {TOLERANCE_SECS} s allowed")]
    TooOld(i64),
    #[error("no v1 signature matches this endpoint's secret")]
    Mismatch,
}

pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t: Option<i64> = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse().ok(),
            Some(("v1", v)) => signatures.push(v),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // `t` is the sender's to choose: `now - t` must not overflow (i64::MIN, say).
    let age = now.saturating_sub(t);
    if age > TOLERANCE_SECS {
        return Err(SignatureError::TooOld(age));
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    let matches = signatures.iter().any(|hex| match decode_hex(hex) {
        Some(tag) => hmac::verify(&key, &signed, &tag).is_ok(), // constant time
        None => false,
    });
    match matches {
        true => Ok(()),
        false => Err(SignatureError::Mismatch),
    }
}

/// The header Stripe would send for `body` at `t` (for tests and the fake).
pub fn sign(body: &[u8], secret: &str, t: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    let tag = hmac::sign(&key, &signed);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_accepted_only_with_the_secret_in_time() {
        let body = br#"{"id":"evt_1","type":"customer.created"}"#;
        let header = sign(body, "whsec_a", 1000);
        assert_eq!(verify(Some(&header), body, "whsec_a", 1100), Ok(()));
        assert_eq!(
            verify(Some(&header), body, "whsec_b", 1100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), b"{}", "whsec_a", 1100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), body, "whsec_a", 1301),
            Err(SignatureError::TooOld(301))
        );
        assert_eq!(
            verify(None, body, "whsec_a", 1000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some("t=1000"), body, "whsec_a", 1000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("v1=00"), body, "whsec_a", 1000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn any_v1_may_match_and_v0_is_ignored() {
        let body = b"payload";
        let good = sign(body, "whsec_new", 50);
        let good_sig = good.split("v1=").nth(1).expect("sig");
        let rolled = format!("t=50,v0={good_sig},v1=deadbeef,v1={good_sig}");
        assert_eq!(verify(Some(&rolled), body, "whsec_new", 60), Ok(()));
        let only_v0 = format!("t=50,v0={good_sig}");
        assert_eq!(
            verify(Some(&only_v0), body, "whsec_new", 60),
            Err(SignatureError::Malformed)
        );
    }
}
