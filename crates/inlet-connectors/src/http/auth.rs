//! Credentials, added to every request by an [`Auth`] provider: a static key
//! ([`StaticKey`], Stripe and HubSpot private apps) or an OAuth access token renewed from a
//! refresh token ([`super::RefreshToken`], HubSpot apps and Salesforce).
//!
//! The scaffold asks the provider for the `Authorization` value before each request; the
//! provider renews it when it is about to expire. When the server refuses it anyway (401),
//! the scaffold tells the provider, which renews it if it can, and sends the request once
//! more; a second refusal is a real one, and reaches the connector as a 401.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use inlet_core::SourceError;
use reqwest::header::HeaderValue;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Auth: Send + Sync + fmt::Debug {
    /// The `Authorization` header for the next request, renewed first if it is about to
    /// expire. An error (the token endpoint refused, or could not be reached) fails the
    /// request with it.
    fn credentials(&self) -> BoxFuture<'_, Result<HeaderValue, SourceError>>;

    /// The server refused `sent` (401). Renews the credentials if they can be, unless
    /// another request already has (they are no longer `sent`). True when sending the
    /// request again with new credentials is worth it.
    fn refused<'a>(&'a self, sent: &'a HeaderValue) -> BoxFuture<'a, Result<bool, SourceError>>;
}

/// A key that never changes: a refusal is final.
pub struct StaticKey(HeaderValue);

impl StaticKey {
    /// `Authorization: Bearer <token>`.
    pub fn bearer(token: &str) -> Result<Self, BadHeaderValue> {
        header(&format!("Bearer {token}")).map(StaticKey)
    }

    /// `Authorization: Basic base64(user:password)`.
    pub fn basic(user: &str, password: &str) -> Result<Self, BadHeaderValue> {
        let pair = data_encoding::BASE64.encode(format!("{user}:{password}").as_bytes());
        header(&format!("Basic {pair}")).map(StaticKey)
    }
}

impl fmt::Debug for StaticKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticKey(…)")
    }
}

impl Auth for StaticKey {
    fn credentials(&self) -> BoxFuture<'_, Result<HeaderValue, SourceError>> {
        Box::pin(std::future::ready(Ok(self.0.clone())))
    }

    fn refused<'a>(&'a self, _: &'a HeaderValue) -> BoxFuture<'a, Result<bool, SourceError>> {
        Box::pin(std::future::ready(Ok(false)))
    }
}

/// A configured value (a key, an API version) that HTTP cannot carry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a header value contains characters HTTP cannot carry")]
pub struct BadHeaderValue;

/// A header value from configuration or a token, marked sensitive (kept out of debug
/// output), or refused if HTTP cannot carry it.
pub fn header(value: &str) -> Result<HeaderValue, BadHeaderValue> {
    let mut v = HeaderValue::from_str(value).map_err(|_| BadHeaderValue)?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_keys_are_bearer_or_basic_and_never_shown() {
        let bearer = StaticKey::bearer("sk_test_123").expect("bearer");
        assert_eq!(bearer.0, "Bearer sk_test_123");
        let basic = StaticKey::basic("sk_test_123", "").expect("basic");
        assert_eq!(basic.0, "Basic c2tfdGVzdF8xMjM6");
        assert_eq!(format!("{basic:?}"), "StaticKey(…)");
        assert!(!format!("{:?}", bearer.0).contains("sk_test"));
        assert_eq!(StaticKey::bearer("a\nb").err(), Some(BadHeaderValue));
    }
}
