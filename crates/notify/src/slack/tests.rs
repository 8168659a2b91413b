//! Slack payload shape and config validation (delivery against a real HTTP peer is in the
//! crate's integration tests).

use super::*;
use crate::message::{AlertMessage, MessageOptions};
use crate::sample::sample_alert;
use store::alerts::AlertLevel;

#[test]
fn payload_escapes_mrkdwn_and_colours_by_level() {
    let mut alert = sample_alert();
    alert.context.summary = "<script> & <!channel> tricks".into();
    let message = AlertMessage::new(&alert, &MessageOptions::default());
    let payload = slack_payload(&message, None);
    let text = payload.to_string();
    assert!(
        text.contains("&lt;script&gt; &amp; &lt;!channel&gt; tricks"),
        "{text}"
    );
    assert!(!text.contains("<!channel>"));
    assert_eq!(payload["attachments"][0]["color"], "#E8712C");
    let blocks = payload["attachments"][0]["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert!(blocks[0]["text"]["text"]
        .as_str()
        .unwrap()
        .starts_with(":large_orange_circle: HIGH:"));
}

#[test]
fn long_text_is_cut_to_slack_limits() {
    let mut alert = sample_alert();
    alert.title = "x".repeat(400);
    alert.context.summary = "y".repeat(5000);
    let payload = slack_payload(&AlertMessage::new(&alert, &MessageOptions::default()), None);
    let blocks = payload["attachments"][0]["blocks"].as_array().unwrap();
    assert_eq!(
        blocks[0]["text"]["text"].as_str().unwrap().chars().count(),
        150
    );
    assert_eq!(
        blocks[1]["text"]["text"].as_str().unwrap().chars().count(),
        3000
    );
}

#[test]
fn critical_alerts_carry_the_configured_mention() {
    let mut alert = sample_alert();
    alert.level = AlertLevel::Critical;
    let payload = slack_payload(
        &AlertMessage::new(&alert, &MessageOptions::default()),
        Some("<!here>"),
    );
    let what = payload["attachments"][0]["blocks"][1]["text"]["text"]
        .as_str()
        .unwrap();
    assert!(what.starts_with("<!here> *What happened*"), "{what}");
    let bad = SlackSinkConfig {
        webhook_url: crate::secret::SecretRef::Env("X".into()),
        mention_on_critical: Some("@here".into()),
    };
    let err = bad.validate("soc").unwrap_err().to_string();
    assert!(
        err.contains("mention_on_critical") && err.contains("<!here>"),
        "{err}"
    );
}
