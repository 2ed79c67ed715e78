//! The OAuth token endpoint (`POST /services/oauth2/token`) with the grants a server-side
//! sync uses: JWT bearer (RS256, verified against the connected app's certificate keys),
//! refresh token, client credentials (in the form or HTTP Basic) and username-password;
//! and the sessions it hands out, which expire (401 `INVALID_SESSION_ID`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use data_encoding::{BASE64, BASE64URL_NOPAD};
use ring::hmac;
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use serde_json::{json, Value};

use super::clock;
use super::errors::ApiError;

/// The connected app, the integration user and the sessions of one org.
#[derive(Debug)]
pub(crate) struct Auth {
    pub client_id: String,
    pub client_secret: String,
    pub username: String,
    pub password: String,
    pub refresh_token: String,
    pub org_id: String,
    pub user_id: String,
    /// What the token response names as `instance_url`.
    pub instance_url: String,
    /// Audiences a JWT may name: the login hosts, and the fake's own URL.
    pub audiences: HashSet<String>,
    /// Public keys (PKCS#1 DER) of the certificates uploaded to the connected app.
    pub jwt_keys: Vec<Vec<u8>>,
    pub ttl: Duration,
    /// The connected app's "refresh token rotation": each refresh answers with a new
    /// refresh token and the one used stops working.
    pub rotate_refresh_tokens: bool,
    /// Refresh tokens handed out by rotation so far.
    pub rotations: u64,
    sessions: HashMap<String, Instant>,
    next: u64,
}

type Refusal = (u16, Value);

fn refuse(error: &str, description: &str) -> Refusal {
    (
        400,
        json!({"error": error, "error_description": description}),
    )
}

impl Auth {
    pub fn new(seed: u64, org_id: String, user_id: String, instance_url: String) -> Auth {
        let mix = |salt: u64| format!("{:016x}", (seed ^ salt).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        Auth {
            client_id: format!("3MVG9{}{}", mix(1), mix(2)),
            client_secret: mix(3).to_uppercase(),
            username: "integration@example.org".into(),
            password: format!("pw-{}", mix(4)),
            refresh_token: format!("5Aep861{}{}", mix(5), mix(6)),
            org_id,
            user_id,
            audiences: [
                "https://login.salesforce.com".to_string(),
                "https://test.salesforce.com".to_string(),
                instance_url.clone(),
            ]
            .into_iter()
            .collect(),
            instance_url,
            jwt_keys: Vec::new(),
            ttl: Duration::from_secs(2 * 3600),
            rotate_refresh_tokens: false,
            rotations: 0,
            sessions: HashMap::new(),
            next: 0,
        }
    }

    /// A new session: `00D...!AR...`, valid for the session timeout.
    pub fn new_session(&mut self) -> String {
        self.next += 1;
        let token = format!(
            "{}!AR{:016x}{:08x}",
            &self.org_id[..15],
            (self.next ^ 0x5eed).wrapping_mul(0x2545_f491_4f6c_dd1d),
            self.next
        );
        self.sessions
            .insert(token.clone(), Instant::now() + self.ttl);
        token
    }

    /// Every session handed out so far ends now.
    pub fn expire_all(&mut self) {
        self.sessions.clear();
    }

    /// `Authorization: Bearer <session>` (or the older `OAuth <session>`).
    pub fn authenticate(&self, header: Option<&str>) -> Result<(), ApiError> {
        let token = header
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("OAuth "))
            })
            .map(str::trim)
            .ok_or_else(ApiError::session)?;
        match self.sessions.get(token) {
            Some(until) if Instant::now() < *until => Ok(()),
            _ => Err(ApiError::session()),
        }
    }

    fn granted(&mut self, with_refresh: bool) -> Value {
        let access_token = self.new_session();
        let issued_at = clock::now_ms().to_string();
        let id = format!(
            "https://login.salesforce.com/id/{}/{}",
            self.org_id, self.user_id
        );
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.client_secret.as_bytes());
        let signature =
            BASE64.encode(hmac::sign(&key, format!("{id}{issued_at}").as_bytes()).as_ref());
        let mut body = json!({
            "access_token": access_token,
            "instance_url": self.instance_url,
            "id": id,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": signature,
            "scope": "api refresh_token",
        });
        if with_refresh {
            body["refresh_token"] = json!(self.refresh_token);
        }
        body
    }

    fn client(
        &self,
        form: &HashMap<String, String>,
        basic: Option<(String, String)>,
    ) -> Result<(), Refusal> {
        let (id, secret) = match basic {
            Some(pair) => pair,
            None => (
                form.get("client_id").cloned().unwrap_or_default(),
                form.get("client_secret").cloned().unwrap_or_default(),
            ),
        };
        if id != self.client_id {
            return Err(refuse("invalid_client_id", "client identifier invalid"));
        }
        if secret != self.client_secret {
            return Err(refuse("invalid_client", "invalid client credentials"));
        }
        Ok(())
    }

    /// Answers a token request (`form` is its body; `basic` the HTTP Basic credentials).
    pub fn token(
        &mut self,
        form: &HashMap<String, String>,
        basic: Option<(String, String)>,
    ) -> Result<Value, Refusal> {
        let get = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
        match get("grant_type") {
            "password" => {
                self.client(form, basic)?;
                if get("username") != self.username || !get("password").starts_with(&self.password)
                {
                    return Err(refuse("invalid_grant", "authentication failure"));
                }
                Ok(self.granted(false))
            }
            "refresh_token" => {
                if get("client_id") != self.client_id {
                    return Err(refuse("invalid_client_id", "client identifier invalid"));
                }
                if form.contains_key("client_secret") && get("client_secret") != self.client_secret
                {
                    return Err(refuse("invalid_client", "invalid client credentials"));
                }
                if get("refresh_token") != self.refresh_token {
                    return Err(refuse("invalid_grant", "expired access/refresh token"));
                }
                if self.rotate_refresh_tokens {
                    self.rotations += 1;
                    let salt = self.rotations.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    self.refresh_token = format!("5Aep861{:016x}{:016x}", salt ^ 0x5eed, salt);
                }
                Ok(self.granted(self.rotate_refresh_tokens))
            }
            "client_credentials" => {
                self.client(form, basic)?;
                Ok(self.granted(false))
            }
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
                self.check_assertion(get("assertion"))?;
                Ok(self.granted(false))
            }
            "" => Err(refuse("unsupported_grant_type", "grant type not supported")),
            _ => Err(refuse("unsupported_grant_type", "grant type not supported")),
        }
    }

    fn check_assertion(&self, assertion: &str) -> Result<(), Refusal> {
        let invalid = || refuse("invalid_grant", "invalid assertion");
        let mut parts = assertion.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let decode = |part: &str| {
            BASE64URL_NOPAD
                .decode(part.trim_end_matches('=').as_bytes())
                .ok()
        };
        let header: Value = decode(header)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(invalid)?;
        if header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err(invalid());
        }
        let signed = &assertion[..assertion.len() - signature.len() - 1];
        let signature = decode(signature).ok_or_else(invalid)?;
        let verified = self.jwt_keys.iter().any(|key| {
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
                .verify(signed.as_bytes(), &signature)
                .is_ok()
        });
        if !verified {
            return Err(invalid());
        }
        let claims: Value = decode(claims)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(invalid)?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
        if text("iss") != self.client_id {
            return Err(refuse("invalid_client_id", "client identifier invalid"));
        }
        if !self.audiences.contains(text("aud").trim_end_matches('/')) {
            return Err(refuse("invalid_grant", "audience is invalid"));
        }
        if text("sub") != self.username {
            return Err(refuse(
                "invalid_grant",
                "user hasn't approved this consumer",
            ));
        }
        // `exp` in seconds; clients send it as a number or as text.
        let exp = match claims.get("exp") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        if exp.is_none_or(|exp| exp * 1000 < clock::now_ms()) {
            return Err(refuse("invalid_grant", "expired authorization code"));
        }
        Ok(())
    }
}

/// `Authorization: Basic base64(id:secret)`.
pub(crate) fn basic(header: Option<&str>) -> Option<(String, String)> {
    let encoded = header?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(BASE64.decode(encoded.trim().as_bytes()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// A DER element at the start of `der`: (tag, contents, the rest).
fn der(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| acc << 8 | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// A certificate's public key, as the connected app keeps it: PEM `PUBLIC KEY` (X.509
/// SubjectPublicKeyInfo) or `RSA PUBLIC KEY` (PKCS#1), as PKCS#1 DER for ring.
pub(crate) fn public_key(pem: &str) -> Result<Vec<u8>, String> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    let bytes = BASE64.decode(body.as_bytes()).map_err(|_| {
        "the public key is not PEM (base64 between BEGIN and END lines)".to_string()
    })?;
    if pem.contains("BEGIN RSA PUBLIC KEY") {
        return Ok(bytes);
    }
    let not_rsa =
        || "the public key is not an RSA key in PEM (PUBLIC KEY or RSA PUBLIC KEY)".to_string();
    let (_, spki, _) = der(&bytes).ok_or_else(not_rsa)?;
    let (_, _algorithm, rest) = der(spki).ok_or_else(not_rsa)?;
    let (tag, bits, _) = der(rest).ok_or_else(not_rsa)?;
    match (tag, bits.split_first()) {
        (0x03, Some((0, key))) => Ok(key.to_vec()),
        _ => Err(not_rsa()),
    }
}
