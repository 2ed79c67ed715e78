//! Who may call: the private app's token (every scope), extra tokens with only some scopes,
//! and OAuth: a client id and secret that trade a refresh token for access tokens that
//! expire (`POST /oauth/v1/token`). HubSpot's answers for no token, an unknown one, an
//! expired one and a missing scope.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::clock::mix;
use super::errors::ApiError;

/// What a request's token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Access {
    /// `None` = every scope.
    pub scopes: Option<Vec<String>>,
    /// OAuth calls get no daily rate-limit headers.
    pub oauth: bool,
}

impl Access {
    /// 403 naming the scope when this token lacks it.
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        match &self.scopes {
            Some(scopes) if !scopes.iter().any(|s| s == scope) => Err(ApiError::new(
                    403,
                    "MISSING_SCOPES",
                    "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
                )
            .with("context", json!({"missingScopes": [scope]}))
            .with(
                "errors",
                json!([{"message": "One or more of the following scopes are required.", "context": {"requiredGranularScopes": [scope]}}]),
            )),
            _ => Ok(()),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Tokens {
    pub private: String,
    pub scoped: HashMap<String, Vec<String>>,
    pub client_id: String,
    pub client_secret: String,
    pub refresh_tokens: HashSet<String>,
    access: HashMap<String, Instant>,
    pub ttl: Duration,
    minted: u64,
    seed: u64,
}

fn derived(seed: u64, salt: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdef";
    (0..len)
        .map(|i| ALPHABET[(mix(seed ^ salt, i as u64) % 16) as usize] as char)
        .collect()
}

fn uuidish(seed: u64, salt: u64) -> String {
    let hex = derived(seed, salt, 32);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl Tokens {
    pub fn new(seed: u64, private: Option<String>) -> Tokens {
        let mut refresh_tokens = HashSet::new();
        refresh_tokens.insert(format!("na1-{}", uuidish(seed, 0x2ef)));
        Tokens {
            private: private.unwrap_or_else(|| format!("pat-na1-{}", uuidish(seed, 0x9a7))),
            scoped: HashMap::new(),
            client_id: uuidish(seed, 0xc11),
            client_secret: uuidish(seed, 0x5ec),
            refresh_tokens,
            access: HashMap::new(),
            ttl: Duration::from_secs(1800),
            minted: 0,
            seed,
        }
    }

    pub fn refresh_token(&self) -> String {
        self.refresh_tokens
            .iter()
            .next()
            .cloned()
            .unwrap_or_default()
    }

    /// A new private-app token with only `scopes`.
    pub fn add_scoped(&mut self, scopes: &[&str]) -> String {
        self.minted += 1;
        let token = format!(
            "pat-na1-{}",
            uuidish(self.seed, 0x5c0 ^ self.minted.wrapping_mul(0x9e37))
        );
        self.scoped.insert(
            token.clone(),
            scopes.iter().map(|s| s.to_string()).collect(),
        );
        token
    }

    /// Takes `scope` away from a scoped token; whether it had it.
    pub fn revoke(&mut self, token: &str, scope: &str) -> bool {
        let Some(scopes) = self.scoped.get_mut(token) else {
            return false;
        };
        let before = scopes.len();
        scopes.retain(|s| s != scope);
        scopes.len() < before
    }

    /// Every access token handed out so far expires now.
    pub fn expire_all(&mut self) {
        let now = Instant::now();
        for at in self.access.values_mut() {
            *at = (*at).min(now);
        }
    }

    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Access, ApiError> {
        let token = authorization
            .and_then(|h| h.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(ApiError::new(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            ));
        };
        if token == self.private {
            return Ok(Access {
                scopes: None,
                oauth: false,
            });
        }
        if let Some(scopes) = self.scoped.get(token) {
            return Ok(Access {
                scopes: Some(scopes.clone()),
                oauth: false,
            });
        }
        if let Some(expires) = self.access.get(token) {
            let now = Instant::now();
            if now < *expires {
                return Ok(Access {
                    scopes: None,
                    oauth: true,
                });
            }
            let ago = now.duration_since(*expires).as_secs() / 60;
            return Err(ApiError::new(
                401,
                "EXPIRED_AUTHENTICATION",
                format!("The OAuth token used to make this call expired {ago} minute(s) ago."),
            ));
        }
        Err(ApiError::new(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        ))
    }

    /// `POST /oauth/v1/token` with a form body; HubSpot's OAuth errors have their own shape.
    pub fn token(&mut self, form: &HashMap<String, String>) -> Result<Value, (u16, Value)> {
        let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
        let oauth_error = |status: &str, message: &str| {
            (
                400,
                json!({"status": status, "message": message, "correlationId": uuidish(self.seed, 0xe44)}),
            )
        };
        match field("grant_type") {
            "refresh_token" => {}
            "" => return Err(oauth_error("BAD_GRANT_TYPE", "missing grant_type")),
            _ => {
                return Err(oauth_error(
                    "UNSUPPORTED_GRANT_TYPE",
                    "the fake supports grant_type=refresh_token",
                ))
            }
        }
        if field("client_id") != self.client_id {
            return Err(oauth_error("BAD_CLIENT_ID", "missing or unknown client id"));
        }
        if field("client_secret") != self.client_secret {
            return Err(oauth_error(
                "BAD_CLIENT_SECRET",
                "missing or invalid client secret",
            ));
        }
        let refresh = field("refresh_token");
        if !self.refresh_tokens.contains(refresh) {
            return Err(oauth_error(
                "BAD_REFRESH_TOKEN",
                "missing or unknown refresh token",
            ));
        }
        self.minted += 1;
        let access = format!(
            "CO{}",
            derived(self.seed, 0xacc ^ self.minted.wrapping_mul(0x51), 40)
        );
        self.access
            .insert(access.clone(), Instant::now() + self.ttl);
        Ok(json!({
            "token_type": "bearer",
            "refresh_token": refresh,
            "access_token": access,
            "expires_in": self.ttl.as_secs(),
        }))
    }

    /// `GET /oauth/v1/access-tokens/{token}`: what the token is, and how long it has left.
    pub fn introspect(&self, token: &str, hub_id: u64) -> Option<Value> {
        let expires = self.access.get(token)?;
        let left = expires.saturating_duration_since(Instant::now()).as_secs();
        Some(json!({
            "token": token,
            "user": "owner@portal.example.com",
            "hub_domain": "portal.example.com",
            "scopes": ["crm.objects.contacts.read", "crm.objects.companies.read", "crm.objects.deals.read", "tickets", "e-commerce", "crm.objects.custom.read"],
            "hub_id": hub_id,
            "app_id": 1_000_001,
            "expires_in": left,
            "user_id": 5_000_000,
            "token_type": "access",
        }))
    }
}
