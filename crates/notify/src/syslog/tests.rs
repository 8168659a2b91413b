//! RFC 5424 header fields, structured-data and CEF escaping, and config validation.

use super::*;
use crate::message::{AlertMessage, MessageOptions};
use crate::sample::sample_alert;
use chrono::TimeZone;
use proptest::prelude::*;
use store::alerts::AlertLevel;

fn header() -> HeaderFields {
    HeaderFields {
        facility: Facility::Authpriv,
        hostname: "idwatch-1".into(),
        app_name: "idwatch".into(),
        proc_id: "4242".into(),
    }
}

/// Reverses `cef_escape_extension`, written independently of it.
fn unescape_extension(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn pri_is_facility_times_eight_plus_the_level_severity() {
    let now = chrono::Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap();
    for (level, severity) in [
        (AlertLevel::Critical, 2),
        (AlertLevel::High, 3),
        (AlertLevel::Medium, 4),
        (AlertLevel::Low, 5),
        (AlertLevel::Informational, 6),
    ] {
        let mut alert = sample_alert();
        alert.level = level;
        let m = AlertMessage::new(&alert, &MessageOptions::default());
        let line = rfc5424_line(&m, "k", &header(), "msg", now);
        assert!(
            line.starts_with(&format!(
                "<{}>1 2024-03-01T12:00:00.000Z idwatch-1 idwatch 4242 alert [alert@32473 ",
                10 * 8 + severity
            )),
            "{line}"
        );
    }
}

#[test]
fn structured_data_values_escape_quote_backslash_and_bracket() {
    let mut alert = sample_alert();
    alert.org_name = r#"a"b\c]d"#.into();
    let m = AlertMessage::new(&alert, &MessageOptions::default());
    let line = rfc5424_line(&m, "k", &header(), "msg", chrono::Utc::now());
    assert!(line.contains(r#"org="a\"b\\c\]d""#), "{line}");
}

#[test]
fn non_ascii_messages_start_with_the_bom() {
    let m = AlertMessage::new(&sample_alert(), &MessageOptions::default());
    let ascii = rfc5424_line(&m, "k", &header(), "plain", chrono::Utc::now());
    assert!(ascii.ends_with("] plain"));
    let utf8 = rfc5424_line(&m, "k", &header(), "Zürich", chrono::Utc::now());
    assert!(utf8.ends_with("] \u{feff}Zürich"));
}

#[test]
fn cef_escapes_header_pipes_and_extension_equals() {
    let mut alert = sample_alert();
    alert.title = r"pipe | and \ backslash".into();
    alert.context.summary = "a=b\nnext line \\ end".into();
    let m = AlertMessage::new(&alert, &MessageOptions::default());
    let line = cef_line(&m, "key");
    assert!(line.contains(r"|pipe \| and \\ backslash|8|"), "{line}");
    assert!(line.contains(r"msg=a\=b\nnext line \\ end"), "{line}");
    assert!(!line.contains('\n'));
}

#[test]
fn validation_wants_host_and_port() {
    let config = |address: &str| SyslogSinkConfig {
        address: address.into(),
        protocol: SyslogProtocol::Tcp,
        format: SyslogFormat::Cef,
        facility: Facility::Local4,
        hostname: None,
        app_name: None,
    };
    assert!(config("siem.example.com:514").validate("s").is_ok());
    assert!(config("[::1]:514").validate("s").is_ok());
    let err = config("siem.example.com")
        .validate("s")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("e.g. address = \"siem.example.com:514\""),
        "{err}"
    );
    let mut bad = config("h:1");
    bad.app_name = Some("id watch".into());
    assert!(bad
        .validate("s")
        .unwrap_err()
        .to_string()
        .contains("app_name"));
}

proptest! {
    #[test]
    fn cef_extension_escaping_round_trips(value in "[a-z=\\\\|\n\r ]{0,40}") {
        let escaped = cef_escape_extension(&value);
        prop_assert!(!escaped.contains('\n') && !escaped.contains('\r'));
        // No unescaped `=` remains, so a parser can split key=value pairs.
        let mut prev_backslashes = 0;
        for c in escaped.chars() {
            if c == '=' { prop_assert!(prev_backslashes % 2 == 1); }
            prev_backslashes = if c == '\\' { prev_backslashes + 1 } else { 0 };
        }
        prop_assert_eq!(unescape_extension(&escaped), value);
    }

    #[test]
    fn cef_header_escaping_leaves_no_bare_pipe(value in "[a-z|\\\\ ]{0,40}") {
        let escaped = cef_escape_header(&value);
        let mut prev_backslashes = 0;
        for c in escaped.chars() {
            if c == '|' { prop_assert!(prev_backslashes % 2 == 1); }
            prev_backslashes = if c == '\\' { prev_backslashes + 1 } else { 0 };
        }
        prop_assert_eq!(unescape_extension(&escaped), value);
    }
}
