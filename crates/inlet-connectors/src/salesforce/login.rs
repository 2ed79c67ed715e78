//! Logging in to Salesforce: one OAuth 2.0 grant at the login host's
//! `/services/oauth2/token` (production `https://login.salesforce.com`, a sandbox's
//! `https://test.salesforce.com`, a My Domain, or a fake), answered with an access token and
//! the org's `instance_url`, where every API call then goes.
//!
//! Salesforce says nothing of when a session ends, so a session is used until a request
//! is refused (401 `INVALID_SESSION_ID`); the scaffold then asks for a new one here and
//! sends the request once more. Refresh tokens may be rotated (the connected app's
//! policy): the old one then stops working, so the new one replaces it in memory and is
//! handed to the sync's key keeper, which stores it where the sync's key is (secrets.toml,
//! mode 0600), so the next start logs in. No secret is ever logged or put in a message.

use std::fmt;
use std::time::Duration;

use data_encoding::{BASE64, BASE64URL_NOPAD};
use inlet_core::{retry_in_place, ErrorKind, ServerWord, SourceError};
use reqwest::header::HeaderValue;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::http::{header, Auth, BoxFuture};
use crate::registry::KeyKeeper;

/// How the sync logs in (`grant` in `[syncs.NAME]`), and the secret each takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// The key is a refresh token from a web-server flow run once.
    RefreshToken,
    /// The key is the connected app's client secret; the app's run-as user is used.
    ClientCredentials,
    /// The key is the user's password followed by their security token (discouraged by
    /// Salesforce; logged as a warning).
    Password,
    /// The key is the private key (PEM) of the certificate uploaded to the connected app;
    /// each login is an assertion signed with it (RS256) for `username`.
    JwtBearer,
}

impl Grant {
    pub const NAMES: &'static str = "refresh_token, client_credentials, password or jwt_bearer";

    pub fn parse(text: &str) -> Option<Grant> {
        Some(match text {
            "refresh_token" => Grant::RefreshToken,
            "client_credentials" => Grant::ClientCredentials,
            "password" => Grant::Password,
            "jwt_bearer" => Grant::JwtBearer,
            _ => return None,
        })
    }
}

/// Everything a login needs.
#[derive(Clone)]
pub struct LoginSettings {
    /// The login host, without a trailing slash.
    pub login_url: String,
    pub grant: Grant,
    pub client_id: String,
    /// The client secret when it is not the key itself.
    pub client_secret: Option<String>,
    /// The integration user (password grant).
    pub username: Option<String>,
    /// The refresh token, client secret or password, as the grant says.
    pub key: String,
    /// Stores a rotated refresh token.
    pub keeper: KeyKeeper,
}

pub struct Login {
    http: reqwest::Client,
    settings: LoginSettings,
    /// The JWT bearer grant's signing key.
    signer: Option<RsaKeyPair>,
    state: Mutex<State>,
}

struct State {
    /// The refresh token in use (a rotated one replaces the stored one).
    refresh_token: String,
    session: Option<Session>,
}

struct Session {
    header: HeaderValue,
    instance_url: String,
}

impl Login {
    pub fn new(settings: LoginSettings) -> Result<Login, SourceError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("inlet/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| {
                SourceError::new(ErrorKind::Network, format!("could not set up HTTP: {e}"))
            })?;
        if settings.grant == Grant::Password {
            tracing::warn!(
                "logging in to Salesforce with a username and password, which Salesforce \
                 discourages; a refresh token or client credentials are safer"
            );
        }
        let signer = match settings.grant {
            Grant::JwtBearer => Some(signing_key(&settings.key)?),
            _ => None,
        };
        Ok(Login {
            http,
            signer,
            state: Mutex::new(State {
                refresh_token: settings.key.clone(),
                session: None,
            }),
            settings,
        })
    }

    /// Where the org's API is, logging in first if no session is open.
    pub async fn instance_url(&self) -> Result<String, SourceError> {
        let mut state = self.state.lock().await;
        if state.session.is_none() {
            self.log_in(&mut state).await?;
        }
        match &state.session {
            Some(s) => Ok(s.instance_url.clone()),
            None => Err(SourceError::new(
                ErrorKind::Internal,
                "no session after logging in",
            )),
        }
    }

    async fn log_in(&self, state: &mut State) -> Result<(), SourceError> {
        let s = &self.settings;
        let (mut status, mut body) = self.token_request(&state.refresh_token).await?;
        if status != 200 && s.grant == Grant::RefreshToken {
            // With rotation a refresh token works once: another process of the sync may
            // have spent it and stored the next one (`inlet sync add --force`, say).
            if let Some(stored) = s.keeper.stored().filter(|k| *k != state.refresh_token) {
                tracing::info!("the refresh token was refused: trying the one stored since");
                state.refresh_token = stored;
                (status, body) = self.token_request(&state.refresh_token).await?;
            }
        }
        if status != 200 {
            return Err(refusal(&s.login_url, s.grant, status, &body));
        }
        let unusable = |what: &str| {
            self.failed(
                ErrorKind::InvalidResponse,
                format!("the answer has no {what}"),
            )
        };
        let token = body["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unusable("access_token"))?;
        let instance_url = body["instance_url"]
            .as_str()
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .ok_or_else(|| unusable("instance_url"))?
            .trim_end_matches('/')
            .to_string();
        let header = header(&format!("Bearer {token}"))
            .map_err(|e| self.failed(ErrorKind::InvalidResponse, e.to_string()))?;
        if let Some(rotated) = body["refresh_token"].as_str().filter(|t| !t.is_empty()) {
            if s.grant == Grant::RefreshToken && rotated != state.refresh_token {
                state.refresh_token = rotated.to_string();
                s.keeper.keep(rotated);
            }
        }
        state.session = Some(Session {
            header,
            instance_url,
        });
        tracing::debug!(login_url = %s.login_url, "logged in to salesforce");
        Ok(())
    }

    /// A login that did not happen, saying why.
    fn failed(&self, kind: ErrorKind, what: String) -> SourceError {
        let at = &self.settings.login_url;
        SourceError::new(
            kind,
            format!("could not log in to Salesforce at {at}: {what}"),
        )
    }

    /// Asks the login host for a session by the sync's grant (`refresh_token` is the
    /// refresh grant's token): the answer's status and JSON body.
    async fn token_request(&self, refresh_token: &str) -> Result<(u16, Value), SourceError> {
        let s = &self.settings;
        let assertion;
        let mut form: Vec<(&str, &str)> = vec![("client_id", s.client_id.as_str())];
        match s.grant {
            Grant::JwtBearer => {
                assertion = self.assertion()?;
                form = vec![
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", assertion.as_str()),
                ];
            }
            Grant::RefreshToken => {
                form.push(("grant_type", "refresh_token"));
                form.push(("refresh_token", refresh_token));
            }
            Grant::ClientCredentials => {
                form.push(("grant_type", "client_credentials"));
                form.push(("client_secret", s.key.as_str()));
            }
            Grant::Password => {
                form.push(("grant_type", "password"));
                form.push(("username", s.username.as_deref().unwrap_or_default()));
                form.push(("password", s.key.as_str()));
            }
        }
        if let Some(secret) = &s.client_secret {
            form.push(("client_secret", secret));
        }
        let url = format!("{}/services/oauth2/token", s.login_url);
        // A login host that fails for a moment (a dropped connection, a 5xx) is asked again
        // at once, as every API call is, rather than failing the sync's start.
        let mut attempt = 0;
        let (status, body) = loop {
            attempt += 1;
            let sent = self
                .http
                .post(&url)
                .header("accept", "application/json")
                .form(&form)
                .send()
                .await;
            let answer = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    (response.bytes().await).map(|body| (status, body))
                }
                Err(e) => Err(e),
            };
            // Some(status) of a failure worth asking again for (None: no answer at all).
            let failure = match &answer {
                Ok((status, _)) if *status < 500 => None,
                Ok((status, _)) => Some(Some(*status)),
                Err(_) => Some(None),
            };
            let wait = failure
                .and_then(|status| retry_in_place(status, ServerWord::default(), attempt, 1.0));
            match (answer, wait) {
                (_, Some(wait)) => tokio::time::sleep(wait).await,
                (Ok(answer), None) => break answer,
                (Err(e), None) => {
                    return Err(self.failed(ErrorKind::Network, e.without_url().to_string()))
                }
            }
        };
        Ok((status, crate::json::parse(&body).unwrap_or(Value::Null)))
    }
}

impl Login {
    /// A JWT for the bearer grant: the app (`iss`) asks for a session of the user (`sub`) at
    /// the login host (`aud`), for the next three minutes.
    fn assertion(&self) -> Result<String, SourceError> {
        let s = &self.settings;
        let b64 = |bytes: &[u8]| BASE64URL_NOPAD.encode(bytes);
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            + 180;
        let claims = serde_json::json!({
            "iss": s.client_id,
            "sub": s.username.as_deref().unwrap_or_default(),
            "aud": s.login_url,
            "exp": exp,
        });
        let signed = format!(
            "{}.{}",
            b64(br#"{"alg":"RS256","typ":"JWT"}"#),
            b64(claims.to_string().as_bytes())
        );
        let key = self.signer.as_ref().ok_or_else(|| {
            SourceError::new(
                ErrorKind::Internal,
                "no signing key for the JWT bearer grant",
            )
        })?;
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        )
        .map_err(|_| SourceError::new(ErrorKind::Internal, "could not sign the JWT assertion"))?;
        Ok(format!("{signed}.{}", b64(&signature)))
    }
}

/// The RSA private key of a PEM (`PRIVATE KEY`, PKCS#8, or `RSA PRIVATE KEY`, PKCS#1).
fn signing_key(pem: &str) -> Result<RsaKeyPair, SourceError> {
    let refused = || {
        SourceError::new(
            ErrorKind::Unauthorized,
            "the key is not an RSA private key in PEM (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)",
        )
        .with_fix(
            "with --set grant=jwt_bearer, SALESFORCE_SECRET is the private key of the certificate \
             uploaded to the connected app: SALESFORCE_SECRET=\"$(cat server.key)\"",
        )
    };
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    let der = BASE64.decode(body.as_bytes()).map_err(|_| refused())?;
    let pair = if pem.contains("BEGIN RSA PRIVATE KEY") {
        RsaKeyPair::from_der(&der)
    } else {
        RsaKeyPair::from_pkcs8(&der)
    };
    pair.map_err(|_| refused())
}

/// The token endpoint's refusal (`{"error": ..., "error_description": ...}`), with what to
/// do about it.
fn refusal(login_url: &str, grant: Grant, status: u16, body: &Value) -> SourceError {
    let code = body["error"].as_str().unwrap_or("no error code");
    let said = match body["error_description"].as_str() {
        Some(d) => format!("{code}: {d}"),
        None => code.to_string(),
    };
    let message = format!("Salesforce at {login_url} refused to log in (HTTP {status}, {said})");
    if !matches!(status, 400 | 401 | 403) {
        return SourceError::new(ErrorKind::of_http_status(status), message);
    }
    let fix = match (code, grant) {
        ("invalid_client_id", _) => {
            "check client_id: it is the connected app's consumer key (Setup → App Manager)"
        }
        ("invalid_client", _) => "check the connected app's client secret (consumer secret)",
        (_, Grant::RefreshToken) => {
            "authorize inlet again to get a new refresh token (it was revoked, expired or \
             rotated), and store it with `inlet sync add ... --force`"
        }
        (_, Grant::ClientCredentials) => {
            "enable the client credentials flow on the connected app and give it a run-as \
             user (Setup → App Manager → Manage → Edit Policies), and check --login-url is \
             the org's My Domain"
        }
        (_, Grant::JwtBearer) => {
            "check that the certificate of this private key is uploaded to the connected app, \
             that username is a user the app is pre-authorized for, and that --login-url is \
             the org's login host"
        }
        (_, Grant::Password) => {
            "check username and the password (followed by the user's security token), and \
             that --login-url is the org's login host (test.salesforce.com for a sandbox)"
        }
    };
    SourceError::new(ErrorKind::Unauthorized, message).with_fix(fix)
}

impl Auth for Login {
    fn credentials(&self) -> BoxFuture<'_, Result<HeaderValue, SourceError>> {
        Box::pin(async move {
            let mut state = self.state.lock().await;
            if state.session.is_none() {
                self.log_in(&mut state).await?;
            }
            match &state.session {
                Some(s) => Ok(s.header.clone()),
                None => Err(SourceError::new(
                    ErrorKind::Internal,
                    "no session after logging in",
                )),
            }
        })
    }

    fn refused<'a>(&'a self, sent: &'a HeaderValue) -> BoxFuture<'a, Result<bool, SourceError>> {
        Box::pin(async move {
            let mut state = self.state.lock().await;
            if state.session.as_ref().is_some_and(|s| s.header != *sent) {
                return Ok(true); // another request logged in again meanwhile
            }
            self.log_in(&mut state).await?;
            Ok(true)
        })
    }
}

impl fmt::Debug for LoginSettings {
    // The key and client secret never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginSettings")
            .field("login_url", &self.login_url)
            .field("grant", &self.grant)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("login_url", &self.settings.login_url)
            .field("grant", &self.settings.grant)
            .field("client_id", &self.settings.client_id)
            .finish_non_exhaustive()
    }
}
