//! OAuth 2.0 service apps against the simulator's token endpoint: `private_key_jwt` with RSA
//! (RS256) and EC P-256 (ES256) keys, DPoP-bound tokens (asked for, and switched on when the
//! app requires them), and clear errors for a wrong key or a missing scope.

use crate::common::*;
use collect::{ClientError, OAuthCredentials, Poller};
use sim::api::{OAuthClient, SimConfig};
use tokio::sync::watch;

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn app(client_id: &str, public_key: &str, scopes: &[&str], require_dpop: bool) -> OAuthClient {
    OAuthClient {
        client_id: client_id.into(),
        public_key_pem: fixture(public_key),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        require_dpop,
    }
}

fn oauth_client(
    sim: &sim::api::SimServer,
    client_id: &str,
    private_key: &str,
    dpop: bool,
) -> OktaClient {
    OktaClient::new(
        &sim.base_url(),
        Credentials::OAuth(OAuthCredentials {
            client_id: client_id.into(),
            private_key: Secret::new(fixture(private_key)),
            key_id: None,
            scopes: vec![collect::LOGS_READ_SCOPE.into()],
            dpop,
        }),
        client_config(1.0),
    )
    .expect("client")
}

async fn oauth_sim() -> sim::api::SimServer {
    sim(SimConfig {
        seed: 51,
        users: 150,
        days: 1,
        oauth_clients: vec![
            app("0oarsa", "test-rsa.pub.pem", &["okta.logs.read"], false),
            app("0oaec", "test-ec.pub.pem", &["okta.logs.read"], false),
            app("0oadpop", "test-ec.pub.pem", &["okta.logs.read"], true),
            app("0oausers", "test-rsa.pub.pem", &["okta.users.read"], false),
        ],
        ..SimConfig::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_apps_collect_with_rsa_ec_and_dpop() {
    let sim = oauth_sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("idwatch.db");
    // RS256 Bearer; ES256 with DPoP asked for; DPoP required but not asked for (switched on).
    let cases = [
        ("rsa", "0oarsa", "test-rsa.pem", false),
        ("ec-dpop", "0oaec", "test-ec.pem", true),
        ("required-dpop", "0oadpop", "test-ec.pem", false),
    ];
    for (org, client_id, key, dpop) in cases {
        let client = oauth_client(&sim, client_id, key, dpop);
        let poller = Poller::new(&path, org, client, poller_config(1)).expect("poller");
        let (_stop, shutdown) = watch::channel(false);
        let stats = poller
            .run(shutdown)
            .await
            .unwrap_or_else(|e| panic!("{org}: {e}"));
        assert!(stats.pages >= 2, "{org}: {stats:?}");
        assert_exactly(&stored_uuids(&path, org), &sim.visible_uuids());
    }
    let accounting = sim.accounting();
    let tokens = accounting
        .records
        .iter()
        .filter(|r| r.uri.starts_with("/oauth2/v1/token") && r.status == 200)
        .count();
    // One token per app, reused for every page.
    assert_eq!(tokens, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_and_missing_scope_are_clear_errors() {
    let sim = oauth_sim().await;
    // The EC key does not verify for the RSA app.
    let wrong_key = oauth_client(&sim, "0oarsa", "test-ec.pem", false);
    let err = wrong_key.test_connection().await.expect_err("refused");
    assert!(matches!(err, ClientError::OAuth(_)), "{err:?}");
    assert!(err.to_string().contains("invalid_client"), "{err}");
    // An app without okta.logs.read.
    let no_scope = oauth_client(&sim, "0oausers", "test-rsa.pem", false);
    let err = no_scope.test_connection().await.expect_err("refused");
    assert!(err.to_string().contains("okta.logs.read"), "{err}");
    // A wrong SSWS token: 401 E0000011.
    let bad = OktaClient::new(
        &sim.base_url(),
        Credentials::Ssws(Secret::new("00notthetoken")),
        client_config(1.0),
    )
    .expect("client");
    let err = bad.test_connection().await.expect_err("401");
    assert!(
        matches!(&err, ClientError::Unauthorized(e) if e.is("E0000011")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("00notthetoken"), "{err}");
}
