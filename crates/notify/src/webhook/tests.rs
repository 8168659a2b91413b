//! Signature, body shape and config validation for the webhook sink.

use super::*;
use crate::message::{AlertMessage, MessageOptions};
use crate::sample::sample_alert;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[test]
fn signature_covers_timestamp_and_body() {
    let sig = sign(b"0123456789abcdef", 1709294400, b"{\"a\":1}");
    let mut mac = Hmac::<Sha256>::new_from_slice(b"0123456789abcdef").unwrap();
    mac.update(b"1709294400.{\"a\":1}");
    assert_eq!(
        sig,
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    assert_ne!(sig, sign(b"0123456789abcdef", 1709294401, b"{\"a\":1}"));
    assert_ne!(sig, sign(b"0123456789abcdef", 1709294400, b"{\"a\":2}"));
    assert_ne!(sig, sign(b"0123456789abcdeF", 1709294400, b"{\"a\":1}"));
}

#[test]
fn body_has_the_schema_version_and_everything_a_responder_needs() {
    let alert = sample_alert();
    let body = webhook_body(
        &alert,
        &AlertMessage::new(&alert, &MessageOptions::default()),
        "k1",
    );
    assert_eq!(body["schema"], SCHEMA);
    assert_eq!(body["idempotency_key"], "k1");
    assert_eq!(body["alert"]["id"], alert.id.0);
    assert_eq!(
        body["alert"]["actor"]["alternate_id"],
        "jane.doe@example.com"
    );
    assert_eq!(body["alert"]["client"]["ip"], "203.0.113.7");
    assert_eq!(body["alert"]["event_uuids"].as_array().unwrap().len(), 2);
    assert!(body["alert"]["evidence"]["command"]
        .as_str()
        .unwrap()
        .starts_with("idwatch query --org acme 'uuid eq"));
}

#[test]
fn urls_must_be_https_except_to_localhost() {
    let config = |url: &str| WebhookSinkConfig {
        url: url.into(),
        secret: crate::secret::SecretRef::Env("X".into()),
    };
    assert!(config("https://soar.example.com/h").validate("s").is_ok());
    assert!(config("http://127.0.0.1:8080/h").validate("s").is_ok());
    let err = config("http://soar.example.com/h")
        .validate("s")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("alerts.sinks `s`: field `url`")
            && err.contains("e.g. https://soar.example.com/hooks/idwatch")
            && err.contains("got `http://soar.example.com/h`"),
        "{err}"
    );
    let err = config("soar.example.com")
        .validate("s")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a URL"), "{err}");
}
