//! OAuth 2.0 access tokens from a refresh token (RFC 6749 §6), as HubSpot apps
//! (`POST /oauth/v1/token`) and Salesforce connected apps (`/services/oauth2/token`) issue
//! them: a form `POST` with `grant_type=refresh_token`, answered with an `access_token`, an
//! `expires_in` (HubSpot; Salesforce gives none, so its token is renewed on a 401 only), a
//! new `refresh_token` when the vendor rotates them, and Salesforce's `instance_url`.
//!
//! Tokens are renewed [`RENEW_BEFORE`] ahead of their expiry (HubSpot says not to wait for
//! a 401) and when a request is refused; one renewal serves every request waiting for it.
//! No token is ever logged or put in a message.

use std::fmt;
use std::time::Duration;

use inlet_core::{ErrorKind, SourceError};
use reqwest::header::HeaderValue;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::auth::{header, Auth, BoxFuture};

/// How long before its expiry a token is renewed.
pub const RENEW_BEFORE: Duration = Duration::from_secs(300);

pub struct RefreshToken {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: Option<String>,
    state: Mutex<State>,
}

struct State {
    refresh_token: String,
    access: Option<Access>,
}

struct Access {
    header: HeaderValue,
    /// `None`: the vendor did not say; used until refused.
    expires_at: Option<Instant>,
    instance_url: Option<String>,
}

impl RefreshToken {
    /// `client_secret` is optional for public clients (Salesforce allows it).
    pub fn new(
        token_url: &str,
        client_id: &str,
        client_secret: Option<&str>,
        refresh_token: &str,
    ) -> Result<Self, SourceError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("inlet/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| {
                SourceError::new(ErrorKind::Network, format!("could not set up HTTP: {e}"))
            })?;
        Ok(RefreshToken {
            http,
            token_url: token_url.to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.map(str::to_string),
            state: Mutex::new(State {
                refresh_token: refresh_token.to_string(),
                access: None,
            }),
        })
    }

    /// The `instance_url` of the last token response (Salesforce: where the org's API is).
    pub async fn instance_url(&self) -> Result<Option<String>, SourceError> {
        let mut state = self.state.lock().await;
        if state.access.is_none() {
            self.renew(&mut state).await?;
        }
        Ok(state.access.as_ref().and_then(|a| a.instance_url.clone()))
    }

    async fn renew(&self, state: &mut State) -> Result<(), SourceError> {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", state.refresh_token.as_str()),
            ("client_id", self.client_id.as_str()),
        ];
        if let Some(secret) = &self.client_secret {
            form.push(("client_secret", secret));
        }
        let failed = |kind, what: String| {
            SourceError::new(kind, format!("could not renew the access token: {what}"))
        };
        let response = self
            .http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| failed(ErrorKind::Network, e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| failed(ErrorKind::Network, e.without_url().to_string()))?;
        let body = crate::json::parse(&body).unwrap_or(Value::Null);
        if status != 200 {
            return Err(refusal(status, &body));
        }
        let token = body["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                failed(
                    ErrorKind::InvalidResponse,
                    "the token endpoint's answer has no access_token".into(),
                )
            })?;
        let header = header(&format!("Bearer {token}"))
            .map_err(|e| failed(ErrorKind::InvalidResponse, e.to_string()))?;
        // A number of seconds; anything else (absent, negative, huge) says nothing.
        let expires_at = body["expires_in"]
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .and_then(|s| Duration::try_from_secs_f64(s.min(86_400.0 * 365.0)).ok())
            .map(|lifetime| Instant::now() + lifetime);
        if let Some(rotated) = body["refresh_token"].as_str().filter(|t| !t.is_empty()) {
            state.refresh_token = rotated.to_string();
        }
        state.access = Some(Access {
            header,
            expires_at,
            instance_url: body["instance_url"].as_str().map(str::to_string),
        });
        tracing::debug!(token_url = %self.token_url, "renewed the access token");
        Ok(())
    }
}

/// A token endpoint's refusal: `{"error": ..., "error_description": ...}` (RFC 6749 §5.2,
/// Salesforce), or HubSpot's `{"status": ..., "message": ...}`.
fn refusal(status: u16, body: &Value) -> SourceError {
    let text = |a: &str, b: &str| body[a].as_str().or(body[b].as_str());
    let code = text("error", "status").unwrap_or("no error code");
    let said = match text("error_description", "message") {
        Some(d) => format!("{code}: {d}"),
        None => code.to_string(),
    };
    let message =
        format!("the token endpoint refused to renew the access token (HTTP {status}, {said})");
    match status {
        400 | 401 | 403 => SourceError::new(ErrorKind::Unauthorized, message).with_fix(
            "authorize inlet with the vendor again to get a new refresh token (it was revoked, \
             expired or rotated), and store it",
        ),
        _ => SourceError::new(ErrorKind::of_http_status(status), message),
    }
}

impl Auth for RefreshToken {
    fn credentials(&self) -> BoxFuture<'_, Result<HeaderValue, SourceError>> {
        Box::pin(async move {
            let mut state = self.state.lock().await;
            let fresh = state.access.as_ref().is_some_and(|a| {
                a.expires_at
                    .is_none_or(|at| at.saturating_duration_since(Instant::now()) > RENEW_BEFORE)
            });
            if !fresh {
                self.renew(&mut state).await?;
            }
            match &state.access {
                Some(access) => Ok(access.header.clone()),
                None => Err(SourceError::new(
                    ErrorKind::Internal,
                    "no access token after renewing it",
                )),
            }
        })
    }

    fn refused<'a>(&'a self, sent: &'a HeaderValue) -> BoxFuture<'a, Result<bool, SourceError>> {
        Box::pin(async move {
            let mut state = self.state.lock().await;
            if state.access.as_ref().is_some_and(|a| a.header != *sent) {
                return Ok(true); // another request renewed it meanwhile
            }
            self.renew(&mut state).await?;
            Ok(true)
        })
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshToken")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}
