//! API keys: the account's secret key, restricted keys that read only some resources, and
//! Stripe's answers for a missing key (401), an unknown one (401, masked) and a restricted
//! key lacking a permission (403 naming it, e.g. `rak_customer_read`).

use std::collections::HashMap;

use super::errors::ApiError;

/// What a request's key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Access {
    Secret,
    /// Read-only access to these resource names (inlet's stream names, and `event`).
    Restricted {
        key: String,
        readable: Vec<String>,
    },
}

impl Access {
    /// `resource` is a stream name, or `event`; `parent` a resource that also grants it
    /// (lines are read through invoices, items through subscriptions).
    pub fn check_read(&self, resource: &str, parent: Option<&str>) -> Result<(), ApiError> {
        match self {
            Access::Secret => Ok(()),
            Access::Restricted { key, readable } => {
                if readable
                    .iter()
                    .any(|r| r == resource || Some(r.as_str()) == parent)
                {
                    Ok(())
                } else {
                    Err(forbidden(
                        key,
                        &format!("rak_{}_read", parent.unwrap_or(resource)),
                    ))
                }
            }
        }
    }

    pub fn check_write(&self, resource: &str) -> Result<(), ApiError> {
        match self {
            Access::Secret => Ok(()),
            Access::Restricted { key, .. } => Err(forbidden(key, &format!("rak_{resource}_write"))),
        }
    }
}

fn forbidden(key: &str, permission: &str) -> ApiError {
    ApiError {
        status: 403,
        ..ApiError::invalid(format!(
            "The provided key '{}' does not have the required permissions for this endpoint on account 'acct_1Fake'. Having the '{permission}' permission would allow this request to continue.",
            mask(key)
        ))
    }
}

#[derive(Debug, Default)]
pub(crate) struct Keys {
    pub secret: String,
    pub restricted: HashMap<String, Vec<String>>,
}

impl Keys {
    /// Who the `Authorization` header (Bearer, or Basic with the key as user) says it is.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Access, ApiError> {
        let Some(key) = authorization.and_then(key_from_header) else {
            return Err(ApiError {
                status: 401,
                ..ApiError::invalid(
                    "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
                )
            });
        };
        if key == self.secret {
            return Ok(Access::Secret);
        }
        if let Some(readable) = self.restricted.get(&key) {
            return Ok(Access::Restricted {
                key,
                readable: readable.clone(),
            });
        }
        Err(ApiError {
            status: 401,
            ..ApiError::invalid(format!("Invalid API Key provided: {}", mask(&key)))
        })
    }
}

/// The key from `Bearer KEY` or `Basic base64(KEY:)`; `None` when there is none.
fn key_from_header(header: &str) -> Option<String> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    let rest = rest.trim();
    let key = if scheme.eq_ignore_ascii_case("bearer") {
        rest.to_string()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = data_encoding::BASE64.decode(rest.as_bytes()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        text.split_once(':')
            .map_or(text.clone(), |(user, _)| user.to_string())
    } else {
        return None;
    };
    (!key.is_empty()).then_some(key)
}

/// Stripe's way of echoing a key: its prefix, `****`, and its last four characters.
pub(crate) fn mask(key: &str) -> String {
    let prefix_len = [
        "sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_",
    ]
    .iter()
    .find(|p| key.starts_with(**p))
    .map_or(0, |p| p.len());
    let chars: Vec<char> = key.chars().collect();
    let prefix: String = chars.iter().take(prefix_len).collect();
    let last4: String = if chars.len() >= prefix_len + 8 {
        chars[chars.len() - 4..].iter().collect()
    } else {
        String::new()
    };
    format!("{prefix}****{last4}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        let mut keys = Keys {
            secret: "sk_test_secret1234".into(),
            ..Keys::default()
        };
        keys.restricted
            .insert("rk_test_readcust9999".into(), vec!["customer".into()]);
        keys
    }

    #[test]
    fn bearer_and_basic_both_authenticate() {
        let k = keys();
        assert_eq!(
            k.authenticate(Some("Bearer sk_test_secret1234")).ok(),
            Some(Access::Secret)
        );
        let basic = format!(
            "Basic {}",
            data_encoding::BASE64.encode(b"sk_test_secret1234:")
        );
        assert_eq!(k.authenticate(Some(&basic)).ok(), Some(Access::Secret));
    }

    #[test]
    fn bad_keys_are_401_and_masked() {
        let k = keys();
        let err = k.authenticate(Some("Bearer sk_test_wrongwrongabcd")).err();
        assert_eq!(err.as_ref().map(|e| e.status), Some(401));
        assert_eq!(
            err.map(|e| e.message),
            Some("Invalid API Key provided: sk_test_****abcd".to_string())
        );
        assert_eq!(k.authenticate(None).err().map(|e| e.status), Some(401));
        assert_eq!(
            k.authenticate(Some("Basic !!!")).err().map(|e| e.status),
            Some(401)
        );
        assert_eq!(mask("abc"), "****");
    }

    #[test]
    fn restricted_keys_read_only_what_they_were_given() {
        let k = keys();
        let access = k.authenticate(Some("Bearer rk_test_readcust9999"));
        let access = access.ok();
        assert!(access
            .as_ref()
            .is_some_and(|a| a.check_read("customer", None).is_ok()));
        let denied = access
            .as_ref()
            .and_then(|a| a.check_read("charge", None).err());
        assert_eq!(denied.as_ref().map(|e| e.status), Some(403));
        assert!(denied.is_some_and(|e| e.message.contains("rak_charge_read")));
        assert!(access.is_some_and(|a| a.check_write("customer").is_err()));
    }
}
