//! OAuth 2.0 for Okta-scoped tokens, as Okta's org authorization server does it:
//! `POST /oauth2/v1/token` with `grant_type=client_credentials` and a `private_key_jwt` client
//! assertion (RS256/384/512 or ES256/384, `iss` = `sub` = client id, `aud` = the token URL,
//! `exp` at most an hour ahead, each `jti` once), requested scopes checked against the app's
//! grants, one-hour access tokens; optional DPoP (RFC 9449): a proof JWT in the `DPoP` header
//! (`typ: dpop+jwt`, `jwk`, `htm`, `htu`, `iat`, `jti`), the `use_dpop_nonce` round trip, a
//! `DPoP` token bound to the proof key's thumbprint, and per-request proofs with `ath` on
//! resource calls. Resource requests then need the route's scope (403 `E0000006` otherwise).

use super::error::{ApiError, OAuthError};
use super::Shared;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Access token lifetime (Okta: fixed at one hour).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// How far a proof's `iat` may be from the server's clock.
const PROOF_SKEW_SECONDS: i64 = 300;
/// The assertion type `private_key_jwt` uses.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A registered OAuth 2.0 service app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// `client_id` (`0oa…`).
    pub client_id: String,
    /// PEM public key (`PUBLIC KEY`, RSA or EC P-256/P-384) that verifies the client's
    /// assertions.
    pub public_key_pem: String,
    /// Scopes granted to the app (e.g. `okta.logs.read`).
    pub scopes: Vec<String>,
    /// Whether the app requires DPoP-bound tokens.
    pub require_dpop: bool,
}

/// An issued access token.
#[derive(Debug, Clone)]
struct Grant {
    scopes: HashSet<String>,
    expires: Instant,
    /// Thumbprint of the DPoP key the token is bound to.
    jkt: Option<String>,
}

/// Issued tokens, used `jti`s and the current DPoP nonce.
#[derive(Debug, Default)]
pub(crate) struct OAuthState {
    grants: HashMap<String, Grant>,
    used_jti: HashSet<String>,
    nonce: String,
    issued: u64,
}

impl OAuthState {
    pub(crate) fn new(seed: u64) -> OAuthState {
        OAuthState {
            nonce: format!("dpn{}", super::error::base62(seed ^ 0xd0d0_0000, 24)),
            ..OAuthState::default()
        }
    }
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: i64,
    #[serde(default)]
    jti: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ProofClaims {
    htm: String,
    htu: String,
    iat: i64,
    jti: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    ath: Option<String>,
}

fn decoding_key(pem: &str, alg: Algorithm) -> Option<DecodingKey> {
    match alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => DecodingKey::from_rsa_pem(pem.as_bytes()).ok(),
        Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(pem.as_bytes()).ok(),
        _ => None,
    }
}

/// RFC 7638 thumbprint of a JWK (EC or RSA public key), base64url.
fn thumbprint(jwk: &Value) -> Option<String> {
    let canonical = match jwk.get("kty")?.as_str()? {
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk.get("crv")?.as_str()?,
            jwk.get("x")?.as_str()?,
            jwk.get("y")?.as_str()?
        ),
        "RSA" => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            jwk.get("e")?.as_str()?,
            jwk.get("n")?.as_str()?
        ),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// A verified DPoP proof: its key thumbprint and claims.
struct Proof {
    jkt: String,
    claims: ProofClaims,
}

/// Verifies a DPoP proof's signature, type and `htm`/`htu`/`iat`.
fn verify_proof(proof: &str, method: &str, url: &str, now: i64) -> Result<Proof, String> {
    let header = jsonwebtoken::decode_header(proof).map_err(|e| format!("bad proof: {e}"))?;
    if header.typ.as_deref() != Some("dpop+jwt") {
        return Err("the proof's typ is not dpop+jwt".into());
    }
    let jwk = header.jwk.ok_or("the proof has no jwk")?;
    let jwk_value = serde_json::to_value(&jwk).map_err(|e| e.to_string())?;
    let jkt = thumbprint(&jwk_value).ok_or("the proof's jwk is not an EC or RSA public key")?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("bad jwk: {e}"))?;
    let mut validation = Validation::new(header.alg);
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
        .map_err(|e| format!("the proof does not verify: {e}"))?
        .claims;
    if !claims.htm.eq_ignore_ascii_case(method) {
        return Err(format!("htm `{}` is not {method}", claims.htm));
    }
    if strip_query(&claims.htu) != strip_query(url) {
        return Err(format!("htu `{}` is not {}", claims.htu, strip_query(url)));
    }
    if (claims.iat - now).abs() > PROOF_SKEW_SECONDS {
        return Err("the proof's iat is too far from now".into());
    }
    Ok(Proof { jkt, claims })
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `POST /oauth2/v1/token`.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match issue(&shared, &headers, &body) {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

fn issue(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let params = form(body);
    let token_url = format!("{}/oauth2/v1/token", shared.base_url);
    let now = chrono::Utc::now().timestamp();
    if params.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return Err(OAuthError::bad_request(
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server. \
             Configured grant types: [client_credentials].",
        ));
    }
    if params.get("client_assertion_type").map(String::as_str) != Some(ASSERTION_TYPE) {
        return Err(OAuthError::invalid_client(
            "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
             (private_key_jwt is the only client authentication for Okta-scoped tokens)",
        ));
    }
    let assertion = params
        .get("client_assertion")
        .ok_or_else(|| OAuthError::invalid_client("client_assertion is missing"))?;
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| {
        OAuthError::invalid_client(format!("The client_assertion is not a JWT: {e}"))
    })?;
    // Find the client from the unverified issuer, then verify with its key.
    let mut peek = Validation::new(header.alg);
    peek.insecure_disable_signature_validation();
    peek.validate_exp = false;
    peek.validate_aud = false;
    peek.required_spec_claims = HashSet::new();
    let unverified = jsonwebtoken::decode::<AssertionClaims>(
        assertion,
        &DecodingKey::from_secret(&[]),
        &peek,
    )
    .map_err(|e| OAuthError::invalid_client(format!("The client_assertion is invalid: {e}")))?;
    let client = shared
        .config
        .oauth_clients
        .iter()
        .find(|c| c.client_id == unverified.claims.iss)
        .ok_or_else(|| OAuthError::invalid_client("The client_id is not registered."))?;
    let key = decoding_key(&client.public_key_pem, header.alg).ok_or_else(|| {
        OAuthError::invalid_client(format!(
            "The client_assertion algorithm {:?} does not match the client's key",
            header.alg
        ))
    })?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[token_url.as_str()]);
    validation.set_issuer(&[client.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let claims = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
        .map_err(|e| {
            OAuthError::invalid_client(format!(
                "The client_assertion signature or claims are invalid: {e}"
            ))
        })?
        .claims;
    if claims.sub != client.client_id {
        return Err(OAuthError::invalid_client(
            "The client_assertion sub must be the client_id.",
        ));
    }
    if claims.exp > now + 3600 + 60 {
        return Err(OAuthError::invalid_client(
            "The client_assertion exp must be at most one hour in the future.",
        ));
    }
    let jti = claims
        .jti
        .ok_or_else(|| OAuthError::invalid_client("The client_assertion has no jti."))?;

    let requested: Vec<String> = params
        .get("scope")
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    if requested.is_empty() {
        return Err(OAuthError::bad_request(
            "invalid_scope",
            "The scope parameter is required.",
        ));
    }
    let refused: Vec<&str> = requested
        .iter()
        .filter(|s| !client.scopes.contains(s))
        .map(String::as_str)
        .collect();
    if !refused.is_empty() {
        return Err(OAuthError::bad_request(
            "invalid_scope",
            format!(
                "The following scopes are not allowed: {}",
                refused.join(" ")
            ),
        ));
    }

    let mut state = super::lock(&shared.oauth);
    let proof_text = headers.get("dpop").and_then(|v| v.to_str().ok());
    let jkt = match proof_text {
        None if client.require_dpop => {
            return Err(OAuthError::bad_request(
                "invalid_dpop_proof",
                "The DPoP proof JWT header is missing.",
            ))
        }
        None => None,
        Some(text) => {
            let proof = verify_proof(text, "POST", &token_url, now)
                .map_err(|e| OAuthError::bad_request("invalid_dpop_proof", e))?;
            if proof.claims.nonce.as_deref() != Some(state.nonce.as_str()) {
                let mut response = OAuthError::bad_request(
                    "use_dpop_nonce",
                    "Authorization server requires nonce in DPoP proof.",
                )
                .into_response();
                if let Ok(value) = HeaderValue::from_str(&state.nonce) {
                    response.headers_mut().insert("dpop-nonce", value);
                }
                return Ok(response);
            }
            if !state.used_jti.insert(format!("dpop:{}", proof.claims.jti)) {
                return Err(OAuthError::bad_request(
                    "invalid_dpop_proof",
                    "The DPoP proof jti was already used.",
                ));
            }
            Some(proof.jkt)
        }
    };
    if !state.used_jti.insert(format!("{}:{jti}", client.client_id)) {
        return Err(OAuthError::invalid_client(
            "The client_assertion jti was already used.",
        ));
    }
    state.issued += 1;
    let access_token = format!(
        "eyJ{}.{}",
        super::error::base62(state.issued ^ shared.config.seed, 30),
        random_suffix()
    );
    let token_type = if jkt.is_some() { "DPoP" } else { "Bearer" };
    state.grants.insert(
        access_token.clone(),
        Grant {
            scopes: requested.iter().cloned().collect(),
            expires: Instant::now() + TOKEN_LIFETIME,
            jkt,
        },
    );
    Ok(axum::Json(json!({
        "token_type": token_type,
        "expires_in": TOKEN_LIFETIME.as_secs(),
        "access_token": access_token,
        "scope": requested.join(" "),
    }))
    .into_response())
}

fn random_suffix() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 24];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        bytes = [7; 24];
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks a `Bearer` or `DPoP` access token for a resource request needing `scope`.
pub(crate) fn authorize(
    shared: &Shared,
    scheme: &str,
    token: &str,
    headers: &HeaderMap,
    method: &Method,
    uri: &Uri,
    scope: Option<&str>,
) -> Result<(), ApiError> {
    let state = super::lock(&shared.oauth);
    let grant = state
        .grants
        .get(token)
        .filter(|g| g.expires > Instant::now())
        .ok_or_else(ApiError::invalid_token)?;
    match (&grant.jkt, scheme.eq_ignore_ascii_case("DPoP")) {
        (None, false) => {}
        (Some(jkt), true) => {
            let proof = headers
                .get("dpop")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| ApiError::invalid_token().cause("DPoP proof header missing"))?;
            let url = format!("{}{}", shared.base_url, uri.path());
            let proof = verify_proof(proof, method.as_str(), &url, chrono::Utc::now().timestamp())
                .map_err(|e| ApiError::invalid_token().cause(e))?;
            if &proof.jkt != jkt {
                return Err(ApiError::invalid_token().cause("the DPoP key is not the token's key"));
            }
            let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
            if proof.claims.ath.as_deref() != Some(ath.as_str()) {
                return Err(ApiError::invalid_token().cause("the DPoP proof's ath does not match"));
            }
        }
        (Some(_), false) => {
            return Err(ApiError::invalid_token().cause("a DPoP-bound token needs the DPoP scheme"))
        }
        (None, true) => return Err(ApiError::invalid_token().cause("not a DPoP-bound token")),
    }
    if let Some(scope) = scope {
        if !grant.scopes.contains(scope) {
            return Err(ApiError::forbidden(format!(
                "The access token is missing the scope {scope}"
            )));
        }
    }
    Ok(())
}
