//! OAuth 2.0 client credentials for an Okta service app: a `private_key_jwt` client assertion
//! (RS256 or ES256, signed with `jsonwebtoken` on ring), the token request to the org
//! authorization server (`/oauth2/v1/token`), access-token caching until shortly before expiry,
//! and DPoP (RFC 9449): an ephemeral P-256 key per process, a proof per request (`htm`, `htu`,
//! `iat`, `jti`, `ath` on resource calls, the server's `nonce` after `use_dpop_nonce`).

use crate::credentials::OAuthCredentials;
use crate::error::{ClientError, OktaError};
use crate::secret::Secret;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use url::Url;

/// Refresh a token this long before it expires.
const REFRESH_EARLY: Duration = Duration::from_secs(300);

/// A usable access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The token.
    pub value: Secret,
    /// DPoP-bound (`Authorization: DPoP`) rather than Bearer.
    pub dpop: bool,
    expires_at: Instant,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// The ephemeral DPoP key and the server's current nonce.
struct DpopKey {
    pair: EcdsaKeyPair,
    jwk: serde_json::Value,
    nonce: Mutex<Option<String>>,
}

impl DpopKey {
    fn generate() -> Result<DpopKey, ClientError> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| ClientError::Credentials("cannot generate a DPoP key".into()))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| ClientError::Credentials("cannot load the DPoP key".into()))?;
        let public = pair.public_key().as_ref();
        // Uncompressed point: 0x04 || x (32) || y (32).
        let (x, y) = (&public[1..33], &public[33..65]);
        let jwk = serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
        });
        Ok(DpopKey {
            pair,
            jwk,
            nonce: Mutex::new(None),
        })
    }

    fn nonce(&self) -> Option<String> {
        self.nonce.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_nonce(&self, nonce: String) {
        *self.nonce.lock().unwrap_or_else(|p| p.into_inner()) = Some(nonce);
    }

    /// A proof for `method url`, bound to `access_token` when given.
    fn proof(
        &self,
        method: &str,
        url: &Url,
        access_token: Option<&str>,
    ) -> Result<String, ClientError> {
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk});
        let mut claims = serde_json::json!({
            "htm": method,
            "htu": htu.as_str(),
            "iat": chrono::Utc::now().timestamp(),
            "jti": random_id(),
        });
        if let Some(nonce) = self.nonce() {
            claims["nonce"] = serde_json::Value::String(nonce);
        }
        if let Some(token) = access_token {
            let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
            claims["ath"] = serde_json::Value::String(URL_SAFE_NO_PAD.encode(digest.as_ref()));
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let rng = ring::rand::SystemRandom::new();
        let sig = self
            .pair
            .sign(&rng, input.as_bytes())
            .map_err(|_| ClientError::Credentials("cannot sign a DPoP proof".into()))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
    }
}

/// Gets and caches access tokens for one service app.
pub struct TokenSource {
    creds: OAuthCredentials,
    token_url: Url,
    key: EncodingKey,
    alg: Algorithm,
    dpop: Mutex<Option<std::sync::Arc<DpopKey>>>,
    token: tokio::sync::Mutex<Option<AccessToken>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("client_id", &self.creds.client_id)
            .field("token_url", &self.token_url.as_str())
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Reads a PEM private key: RSA (PKCS#1 or PKCS#8) → RS256, EC P-256 (PKCS#8) → ES256.
pub fn load_signing_key(pem: &Secret) -> Result<(EncodingKey, Algorithm), ClientError> {
    let bytes = pem.expose().as_bytes();
    let dummy = serde_json::json!({"probe": 1});
    if let Ok(key) = EncodingKey::from_rsa_pem(bytes) {
        if jsonwebtoken::encode(&Header::new(Algorithm::RS256), &dummy, &key).is_ok() {
            return Ok((key, Algorithm::RS256));
        }
    }
    if let Ok(key) = EncodingKey::from_ec_pem(bytes) {
        if jsonwebtoken::encode(&Header::new(Algorithm::ES256), &dummy, &key).is_ok() {
            return Ok((key, Algorithm::ES256));
        }
    }
    Err(ClientError::Credentials(
        "the private key is not an RSA or EC P-256 PEM key (PKCS#8 `BEGIN PRIVATE KEY`, or \
         `BEGIN RSA PRIVATE KEY`)"
            .into(),
    ))
}

impl TokenSource {
    /// A token source for `creds` at the org whose base URL is `base`.
    pub fn new(creds: OAuthCredentials, base: &Url) -> Result<TokenSource, ClientError> {
        let (key, alg) = load_signing_key(&creds.private_key)?;
        let token_url = base
            .join("/oauth2/v1/token")
            .map_err(|e| ClientError::Url(format!("token URL: {e}")))?;
        let dpop = if creds.dpop {
            Some(std::sync::Arc::new(DpopKey::generate()?))
        } else {
            None
        };
        Ok(TokenSource {
            creds,
            token_url,
            key,
            alg,
            dpop: Mutex::new(dpop),
            token: tokio::sync::Mutex::new(None),
        })
    }

    fn dpop_key(&self) -> Option<std::sync::Arc<DpopKey>> {
        self.dpop.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The `Authorization` value and, for DPoP tokens, the `DPoP` proof header for `method url`.
    pub async fn authorize(
        &self,
        http: &reqwest::Client,
        method: &str,
        url: &Url,
        requests: &std::sync::atomic::AtomicU64,
    ) -> Result<(String, Option<String>), ClientError> {
        let token = self.token(http, requests).await?;
        if token.dpop {
            let key = self
                .dpop_key()
                .ok_or_else(|| ClientError::Credentials("DPoP token without a DPoP key".into()))?;
            let proof = key.proof(method, url, Some(token.value.expose()))?;
            Ok((format!("DPoP {}", token.value.expose()), Some(proof)))
        } else {
            Ok((format!("Bearer {}", token.value.expose()), None))
        }
    }

    /// Forgets the cached token (after a 401), so the next call fetches a new one.
    pub async fn invalidate(&self) {
        *self.token.lock().await = None;
    }

    async fn token(
        &self,
        http: &reqwest::Client,
        requests: &std::sync::atomic::AtomicU64,
    ) -> Result<AccessToken, ClientError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref() {
            if t.expires_at > Instant::now() + REFRESH_EARLY {
                return Ok(t.clone());
            }
        }
        let token = self.fetch(http, requests).await?;
        *cached = Some(token.clone());
        Ok(token)
    }

    fn assertion(&self) -> Result<String, ClientError> {
        let now = chrono::Utc::now().timestamp();
        let mut header = Header::new(self.alg);
        header.kid = self.creds.key_id.clone();
        let claims = AssertionClaims {
            iss: &self.creds.client_id,
            sub: &self.creds.client_id,
            aud: self.token_url.as_str(),
            iat: now,
            exp: now + 300,
            jti: random_id(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| ClientError::Credentials(format!("signing the client assertion: {e}")))
    }

    /// One token request, with the `use_dpop_nonce` round trip and a switch to DPoP when the
    /// server demands it.
    async fn fetch(
        &self,
        http: &reqwest::Client,
        requests: &std::sync::atomic::AtomicU64,
    ) -> Result<AccessToken, ClientError> {
        let mut last = None;
        for _ in 0..3 {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "client_credentials")
                .append_pair("scope", &self.creds.scopes.join(" "))
                .append_pair(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                )
                .append_pair("client_assertion", &self.assertion()?)
                .finish();
            let mut req = http
                .post(self.token_url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body);
            let dpop = self.dpop_key();
            if let Some(key) = &dpop {
                req = req.header("DPoP", key.proof("POST", &self.token_url, None)?);
            }
            requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let resp = req.send().await.map_err(|e| ClientError::Transport {
                message: format!("token request to {}: {e}", self.token_url),
                attempts: 1,
            })?;
            let status = resp.status().as_u16();
            let nonce = resp
                .headers()
                .get("dpop-nonce")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let request_id = resp
                .headers()
                .get("x-okta-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let text = resp.text().await.map_err(|e| ClientError::Transport {
                message: format!("token response from {}: {e}", self.token_url),
                attempts: 1,
            })?;
            if (200..300).contains(&status) {
                let t: TokenResponse =
                    serde_json::from_str(&text).map_err(|e| ClientError::InvalidResponse {
                        url: self.token_url.to_string(),
                        reason: format!("token response: {e}"),
                    })?;
                let is_dpop = t.token_type.eq_ignore_ascii_case("DPoP");
                return Ok(AccessToken {
                    value: Secret::new(t.access_token),
                    dpop: is_dpop,
                    // Okta's tokens live an hour; a larger `expires_in` is capped at a day rather
                    // than trusted into an `Instant` overflow.
                    expires_at: Instant::now()
                        + Duration::from_secs(t.expires_in.unwrap_or(3600).min(86_400)),
                });
            }
            let err = Box::new(OktaError::from_body(status, &text, request_id));
            if err.is("use_dpop_nonce") {
                if let (Some(key), Some(nonce)) = (&dpop, nonce.clone()) {
                    key.set_nonce(nonce);
                    last = Some(err);
                    continue;
                }
            }
            if dpop.is_none() && (err.is("invalid_dpop_proof") || err.is("use_dpop_nonce")) {
                tracing::info!(client_id = %self.creds.client_id, "server requires DPoP; switching it on");
                let key = std::sync::Arc::new(DpopKey::generate()?);
                if let Some(n) = nonce {
                    key.set_nonce(n);
                }
                *self.dpop.lock().unwrap_or_else(|p| p.into_inner()) = Some(key);
                last = Some(err);
                continue;
            }
            return Err(match status {
                429 => ClientError::RateLimited {
                    error: err,
                    attempts: 1,
                },
                500..=599 => ClientError::Server {
                    error: err,
                    attempts: 1,
                },
                _ => ClientError::OAuth(err),
            });
        }
        Err(ClientError::OAuth(last.unwrap_or_default()))
    }
}

/// 128 random bits, hex (JWT `jti`).
pub(crate) fn random_id() -> String {
    format!(
        "{:016x}{:016x}",
        crate::rate::random_u64(),
        crate::rate::random_u64()
    )
}
