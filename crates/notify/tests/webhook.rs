//! The webhook sink against a receiver that verifies the HMAC signature and timestamp, and
//! checks the idempotency key and the versioned body.

use crate::common::*;
use notify::{AlertMessage, Delivery, MessageOptions};

const SECRET: &str = "whsec-0123456789abcdef0123456789";

fn webhook_config(dir: &std::path::Path, url: &str) -> notify::AlertsConfig {
    let secret = secret_file(dir, "webhook-secret", SECRET);
    config(&format!(
        "[alerts.delivery]\ntimeout = \"2s\"\n[[alerts.sinks]]\nname = \"soar\"\ntype = \"webhook\"\nurl = \"{url}\"\nsecret = {{ file = {secret} }}\n"
    ))
}

#[tokio::test]
async fn webhook_sink_meets_the_contract_and_the_receiver_verifies_it() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = CaptureServer::start(Some(SECRET.as_bytes())).await;
    let sinks = webhook_config(dir.path(), &server.url("/hooks/idwatch"))
        .build_sinks()
        .unwrap();
    let dead = webhook_config(dir.path(), &format!("http://127.0.0.1:{}/h", dead_port()))
        .build_sinks()
        .unwrap();
    let received = || {
        server
            .requests()
            .into_iter()
            .map(|r| r.body)
            .collect::<Vec<_>>()
    };
    assert_sink_contract(&sinks["soar"], Some(SECRET), received, Some(&dead["soar"])).await;

    let request = &server.requests()[0];
    assert_eq!(
        request.verified,
        Some(true),
        "HMAC over timestamp.body verifies"
    );
    assert_eq!(request.headers["idempotency-key"], "contract-key-1");
    assert_eq!(request.headers["x-idwatch-attempt"], "1");
    let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(body["schema"], "idwatch.alert.v1");
    assert_eq!(body["idempotency_key"], "contract-key-1");
    assert_eq!(body["alert"]["id"], 4242);
    assert_eq!(body["alert"]["level"], "high");
    assert_eq!(body["alert"]["client"]["asn"], 3320);

    // A receiver rejects a body changed in transit, a replayed old timestamp, or a wrong key.
    let mut headers = request.headers.clone();
    assert!(!verify_webhook(
        SECRET.as_bytes(),
        &headers,
        request.body.replace("high", "low").as_bytes()
    ));
    assert!(!verify_webhook(
        b"another-secret-entirely",
        &headers,
        request.body.as_bytes()
    ));
    let old = (chrono::Utc::now().timestamp() - 3600).to_string();
    headers.insert("x-idwatch-timestamp", old.parse().unwrap());
    assert!(!verify_webhook(
        SECRET.as_bytes(),
        &headers,
        request.body.as_bytes()
    ));
}

#[tokio::test]
async fn retries_keep_the_idempotency_key_and_sign_afresh() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = CaptureServer::start(Some(SECRET.as_bytes())).await;
    server.script([Answer::status(502, "bad gateway")]);
    let sinks = webhook_config(dir.path(), &server.url("/h"))
        .build_sinks()
        .unwrap();
    let alert = notify::sample::sample_alert();
    let message = AlertMessage::new(&alert, &MessageOptions::default());
    let mut delivery = Delivery {
        alert: &alert,
        message: &message,
        idempotency_key: "same-key",
        attempt: 1,
    };
    let err = sinks["soar"].deliver(&delivery).await.unwrap_err();
    assert!(err.retriable() && err.status == Some(502), "{err}");
    delivery.attempt = 2;
    assert_eq!(sinks["soar"].deliver(&delivery).await.unwrap(), Some(200));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.verified == Some(true)));
    assert!(requests
        .iter()
        .all(|r| r.headers["idempotency-key"] == "same-key"));
    assert_eq!(requests[1].headers["x-idwatch-attempt"], "2");
}
