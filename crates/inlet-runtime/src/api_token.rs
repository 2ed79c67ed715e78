//! The token that guards `/api/*` and `/metrics` (`INLET_API_TOKEN`). On a loopback `--listen` it is
//! optional; any other address could be reached by others, so there inlet refuses to
//! start without one. Webhooks never need it: each carries its source's own signature.

use std::net::SocketAddr;

use inlet_postgres::{Problem, ProblemKind, Secret};

pub const ENV: &str = "INLET_API_TOKEN";

/// The token for `listen`, from `INLET_API_TOKEN` (`value`). `Err`: none given for an
/// address that is not loopback.
pub fn for_listen(listen: SocketAddr, value: Option<String>) -> Result<Option<Secret>, Problem> {
    match value.filter(|v| !v.is_empty()) {
        Some(v) => Ok(Some(Secret::new(v))),
        None if listen.ip().is_loopback() => Ok(None),
        None => Err(Problem::new(
            ProblemKind::InvalidOption,
            format!(
                "--listen {listen} can be reached from other machines, and the status API \
                 needs a token there"
            ),
            format!(
                "set {ENV} to a long random secret (e.g. `export {ENV}=$(openssl rand -hex 32)`) \
                 and send it as `Authorization: Bearer TOKEN`; or listen on 127.0.0.1"
            ),
        )),
    }
}

/// Whether an `Authorization` header value carries `token`. The comparison takes the same
/// time wherever the first differing byte is, so the token cannot be guessed byte by byte.
pub fn allows(token: &Secret, header: Option<&str>) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    let (a, b) = (given.as_bytes(), token.expose().as_bytes());
    let mut diff = u8::from(a.len() != b.len());
    for (x, y) in a.iter().zip(b.iter().cycle()) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_is_allowed() {
        let t = Secret::new("s3cret-token");
        assert!(allows(&t, Some("Bearer s3cret-token")));
        for bad in [
            None,
            Some(""),
            Some("s3cret-token"),
            Some("Bearer s3cret-toke"),
            Some("Bearer s3cret-token!"),
            Some("Bearer S3cret-token"),
            Some("Basic s3cret-token"),
            Some("Bearer "),
        ] {
            assert!(!allows(&t, bad), "{bad:?}");
        }
    }

    #[test]
    fn a_public_address_needs_a_token() {
        let public: SocketAddr = "0.0.0.0:8080".parse().expect("addr");
        let local: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let p = for_listen(public, None).expect_err("refused");
        assert!(p.fix.contains("INLET_API_TOKEN"), "{}", p.fix);
        assert!(for_listen(public, Some(String::new())).is_err());
        assert!(for_listen(public, Some("t".into())).is_ok_and(|t| t.is_some()));
        assert!(for_listen(local, None).is_ok_and(|t| t.is_none()));
    }
}
