//! Golden files for the wire formats: the Slack payload, the webhook body, the CEF line and the
//! RFC 5424 line for the synthetic alert. A change here is a change receivers see, so the files
//! are updated only on purpose: `IDWATCH_UPDATE_GOLDEN=1 cargo test -p notify --test tests golden`.

use chrono::TimeZone;
use notify::syslog::{cef_line, rfc5424_line, Facility, HeaderFields};
use notify::{AlertMessage, MessageOptions};
use std::path::PathBuf;

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("IDWATCH_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (create it with IDWATCH_UPDATE_GOLDEN=1)",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs from what is produced now; if the change is intended, rerun with IDWATCH_UPDATE_GOLDEN=1.\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

fn message() -> (store::alerts::Alert, AlertMessage) {
    let alert = notify::sample::sample_alert();
    let message = AlertMessage::new(
        &alert,
        &MessageOptions {
            evidence_url: Some(
                "https://idwatch.example.com/alerts/{alert_id}?org={org}&q={filter}".into(),
            ),
        },
    );
    (alert, message)
}

#[test]
fn slack_blocks_match_the_golden_file() {
    let (_, message) = message();
    let payload = notify::slack::slack_payload(&message, None);
    golden(
        "slack_payload.json",
        &(serde_json::to_string_pretty(&payload).unwrap() + "\n"),
    );
}

#[test]
fn webhook_body_matches_the_golden_file() {
    let (alert, message) = message();
    let body = notify::webhook::webhook_body(&alert, &message, "3f1c9a0d2b4e6f8091a2b3c4d5e6f708");
    golden(
        "webhook_body.json",
        &(serde_json::to_string_pretty(&body).unwrap() + "\n"),
    );
}

#[test]
fn cef_and_rfc5424_lines_match_the_golden_files() {
    let (_, message) = message();
    let cef = cef_line(&message, "3f1c9a0d2b4e6f8091a2b3c4d5e6f708");
    golden("cef_line.txt", &(cef.clone() + "\n"));
    let header = HeaderFields {
        facility: Facility::Authpriv,
        hostname: "idwatch-1.example.com".into(),
        app_name: "idwatch".into(),
        proc_id: "4242".into(),
    };
    let at = chrono::Utc.with_ymd_and_hms(2024, 3, 1, 12, 5, 0).unwrap();
    let line = rfc5424_line(
        &message,
        "3f1c9a0d2b4e6f8091a2b3c4d5e6f708",
        &header,
        &cef,
        at,
    );
    golden("syslog_cef.txt", &(line + "\n"));
}
