//! Email message content and config validation (delivery to a real SMTP server with STARTTLS
//! is in the crate's integration tests).

use super::*;
use crate::message::{AlertMessage, MessageOptions};
use crate::sample::sample_alert;

fn config() -> EmailSinkConfig {
    EmailSinkConfig {
        host: "smtp.example.com".into(),
        port: None,
        tls: EmailTls::Starttls,
        username: None,
        password: None,
        from: "idwatch <idwatch@example.com>".into(),
        to: vec!["soc@example.com".into()],
        ca_file: None,
    }
}

#[test]
fn html_escapes_and_carries_every_fact() {
    let mut alert = sample_alert();
    alert.context.summary = "<b>bold</b> & \"quoted\"".into();
    let message = AlertMessage::new(&alert, &MessageOptions::default());
    let html = email_html(&message);
    assert!(
        html.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;"),
        "{html}"
    );
    for needle in [
        "jane.doe@example.com",
        "203.0.113.7",
        "Germany",
        "AS3320",
        "uuid eq",
    ] {
        assert!(html.contains(needle), "{needle} in {html}");
    }
    assert_eq!(
        email_subject(&message),
        "[idwatch HIGH] MFA factors reset, then admin console access (acme)"
    );
}

#[test]
fn validation_names_the_field_and_shows_an_example() {
    assert!(config().validate("mail").is_ok());
    assert_eq!(config().port(), 587);
    let mut bad = config();
    bad.to.clear();
    let err = bad.validate("mail").unwrap_err().to_string();
    assert_eq!(
        err,
        "alerts.sinks `mail`: field `to`: needs at least one recipient, e.g. to = [\"soc@example.com\"]"
    );
    let mut bad = config();
    bad.from = "not an address".into();
    assert!(bad
        .validate("mail")
        .unwrap_err()
        .to_string()
        .contains("field `from`"));
    let mut bad = config();
    bad.host = "smtp.example.com:587".into();
    assert!(bad
        .validate("mail")
        .unwrap_err()
        .to_string()
        .contains("the port goes in `port`"));
    let mut bad = config();
    bad.username = Some("u".into());
    assert!(bad
        .validate("mail")
        .unwrap_err()
        .to_string()
        .contains("field `password`"));
}
