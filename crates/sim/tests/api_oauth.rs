//! OAuth 2.0 client credentials with `private_key_jwt` and DPoP against the running simulator:
//! token issuance, scope checks (403), invalid tokens (401), assertion and proof validation.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sim::api::{OAuthClient, SimConfig, SimServer};
use std::sync::atomic::{AtomicU64, Ordering};

/// An ES256 key: the signing key and the public key as PEM and JWK.
struct Key {
    encoding: EncodingKey,
    pem: String,
    jwk: Value,
}

fn key() -> Key {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("pair");
    let point = pair.public_key().as_ref().to_vec();
    // SubjectPublicKeyInfo for a P-256 key: fixed prefix, then the uncompressed point.
    let mut spki = hex_bytes("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    spki.extend_from_slice(&point);
    let body = STANDARD.encode(&spki);
    let pem = format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n");
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    Key {
        encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
        pem,
        jwk,
    }
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

static JTI: AtomicU64 = AtomicU64::new(0);

fn jti() -> String {
    format!("jti-{}", JTI.fetch_add(1, Ordering::SeqCst))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn assertion(key: &Key, client_id: &str, aud: &str, jti: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::ES256),
        &json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": now(), "exp": now() + 300, "jti": jti}),
        &key.encoding,
    )
    .expect("sign")
}

fn proof(key: &Key, method: &str, url: &str, nonce: Option<&str>, token: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("dpop+jwt".into());
    header.jwk = Some(serde_json::from_value(key.jwk.clone()).expect("jwk"));
    let mut claims = json!({"htm": method, "htu": url, "iat": now(), "jti": jti()});
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    if let Some(token) = token {
        claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
    }
    jsonwebtoken::encode(&header, &claims, &key.encoding).expect("sign proof")
}

async fn server(client_key: &Key, require_dpop: bool) -> SimServer {
    SimServer::start(SimConfig {
        users: 5,
        token: Some("ssws".into()),
        oauth_clients: vec![OAuthClient {
            client_id: "0oaservice".into(),
            public_key_pem: client_key.pem.clone(),
            scopes: vec!["okta.logs.read".into(), "okta.roles.read".into()],
            require_dpop,
        }],
        ..SimConfig::default()
    })
    .await
    .expect("start")
}

async fn token_request(
    sim: &SimServer,
    assertion: &str,
    scope: &str,
    dpop: Option<String>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/oauth2/v1/token", sim.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ]);
    if let Some(proof) = dpop {
        request = request.header("DPoP", proof);
    }
    let response = request.send().await.expect("token request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.expect("json"))
}

#[tokio::test]
async fn bearer_tokens_carry_scopes_and_missing_scope_is_403() {
    let client_key = key();
    let sim = server(&client_key, false).await;
    let aud = format!("{}/oauth2/v1/token", sim.base_url());
    let (status, _, body) = token_request(
        &sim,
        &assertion(&client_key, "0oaservice", &aud, &jti()),
        "okta.logs.read",
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "okta.logs.read");
    let access = body["access_token"].as_str().expect("token");
    let http = reqwest::Client::new();
    let logs = http
        .get(format!("{}/api/v1/logs?limit=5", sim.base_url()))
        .bearer_auth(access)
        .send()
        .await
        .expect("logs");
    assert_eq!(logs.status().as_u16(), 200);
    let users = http
        .get(format!("{}/api/v1/iam/assignees/users", sim.base_url()))
        .bearer_auth(access)
        .send()
        .await
        .expect("roles");
    assert_eq!(users.status().as_u16(), 403);
    let body: Value = users.json().await.expect("json");
    assert_eq!(body["errorCode"], "E0000006");
    let bad = http
        .get(format!("{}/api/v1/logs", sim.base_url()))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("logs");
    assert_eq!(bad.status().as_u16(), 401);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["errorCode"], "E0000011");
}

#[tokio::test]
async fn bad_assertions_and_scopes_are_refused() {
    let client_key = key();
    let other_key = key();
    let sim = server(&client_key, false).await;
    let aud = format!("{}/oauth2/v1/token", sim.base_url());
    let cases = [
        (
            assertion(&other_key, "0oaservice", &aud, &jti()),
            "okta.logs.read",
            401,
            "invalid_client",
        ),
        (
            assertion(
                &client_key,
                "0oaservice",
                "https://elsewhere/oauth2/v1/token",
                &jti(),
            ),
            "okta.logs.read",
            401,
            "invalid_client",
        ),
        (
            assertion(&client_key, "0oaunknown", &aud, &jti()),
            "okta.logs.read",
            401,
            "invalid_client",
        ),
        (
            assertion(&client_key, "0oaservice", &aud, &jti()),
            "okta.users.read",
            400,
            "invalid_scope",
        ),
        (
            "not.a.jwt".to_string(),
            "okta.logs.read",
            401,
            "invalid_client",
        ),
    ];
    for (assertion, scope, status, error) in cases {
        let (got, _, body) = token_request(&sim, &assertion, scope, None).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{body}"
        );
        assert!(body["error_description"].as_str().is_some());
    }
    // A jti works once.
    let once = assertion(&client_key, "0oaservice", &aud, "replayed");
    let (first, _, _) = token_request(&sim, &once, "okta.logs.read", None).await;
    let (second, _, body) = token_request(&sim, &once, "okta.logs.read", None).await;
    assert_eq!((first, second), (200, 401), "{body}");
}

#[tokio::test]
async fn dpop_nonce_round_trip_and_bound_resource_calls() {
    let client_key = key();
    let dpop_key = key();
    let sim = server(&client_key, true).await;
    let token_url = format!("{}/oauth2/v1/token", sim.base_url());
    let fresh = || assertion(&client_key, "0oaservice", &token_url, &jti());
    let (status, _, body) = token_request(&sim, &fresh(), "okta.logs.read", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    let (status, headers, body) = token_request(
        &sim,
        &fresh(),
        "okta.logs.read",
        Some(proof(&dpop_key, "POST", &token_url, None, None)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("use_dpop_nonce"))
    );
    let nonce = headers
        .get("dpop-nonce")
        .and_then(|v| v.to_str().ok())
        .expect("dpop-nonce header")
        .to_string();
    let (status, _, body) = token_request(
        &sim,
        &fresh(),
        "okta.logs.read",
        Some(proof(&dpop_key, "POST", &token_url, Some(&nonce), None)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().expect("token").to_string();
    let logs_url = format!("{}/api/v1/logs", sim.base_url());
    let http = reqwest::Client::new();
    let call = |scheme: &str, proof: Option<String>| {
        let mut request = http
            .get(format!("{logs_url}?limit=3"))
            .header("Authorization", format!("{scheme} {access}"));
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        request.send()
    };
    let ok = call(
        "DPoP",
        Some(proof(&dpop_key, "GET", &logs_url, None, Some(&access))),
    )
    .await
    .expect("call");
    assert_eq!(ok.status().as_u16(), 200);
    let no_proof = call("DPoP", None).await.expect("call");
    assert_eq!(no_proof.status().as_u16(), 401);
    let as_bearer = call("Bearer", None).await.expect("call");
    assert_eq!(as_bearer.status().as_u16(), 401);
    let other_key = key();
    let wrong_key = call(
        "DPoP",
        Some(proof(&other_key, "GET", &logs_url, None, Some(&access))),
    )
    .await
    .expect("call");
    assert_eq!(wrong_key.status().as_u16(), 401);
    let no_ath = call("DPoP", Some(proof(&dpop_key, "GET", &logs_url, None, None)))
        .await
        .expect("call");
    assert_eq!(no_ath.status().as_u16(), 401);
}
