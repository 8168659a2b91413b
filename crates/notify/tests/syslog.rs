//! The syslog sink against UDP and TCP listeners: what arrives parses as RFC 5424 (PRI,
//! version, header fields, structured data), the TCP stream is octet-counted, and CEF
//! survives hostile text (pipes, equals signs, backslashes, newlines) through its escaping.

use crate::common::*;
use notify::{AlertMessage, Delivery, MessageOptions};

fn syslog_config(address: &str, protocol: &str, format: &str) -> notify::AlertsConfig {
    config(&format!(
        "[alerts.delivery]\ntimeout = \"2s\"\n[[alerts.sinks]]\nname = \"siem\"\ntype = \"syslog\"\naddress = \"{address}\"\nprotocol = \"{protocol}\"\nformat = \"{format}\"\nfacility = \"local4\"\nhostname = \"idwatch-test\"\n"
    ))
}

#[tokio::test]
async fn syslog_over_udp_meets_the_contract_as_rfc5424() {
    let listener = SyslogListener::start().await;
    let sinks = syslog_config(&listener.udp.to_string(), "udp", "rfc5424")
        .build_sinks()
        .unwrap();
    // UDP has no answer, so there is no dead-peer failure to see.
    assert_sink_contract(&sinks["siem"], None, || listener.messages(), None).await;
    let parsed = parse_5424(&listener.messages()[0]).unwrap();
    assert_eq!(
        parsed.pri,
        20 * 8 + 3,
        "local4, severity err for a high alert"
    );
    assert_eq!(parsed.version, 1);
    assert_eq!(parsed.hostname, "idwatch-test");
    assert_eq!(parsed.app_name, "idwatch");
    assert_eq!(parsed.proc_id, std::process::id().to_string());
    assert_eq!(parsed.msg_id, "alert");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&parsed.timestamp).is_ok(),
        "{}",
        parsed.timestamp
    );
    let (id, params) = &parsed.sd[0];
    assert_eq!(id, "alert@32473");
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("id"), Some("4242"));
    assert_eq!(get("org"), Some("acme"));
    assert_eq!(get("level"), Some("high"));
    assert_eq!(get("key"), Some("contract-key-1"));
    assert!(
        parsed.msg.starts_with("HIGH MFA factors reset"),
        "{}",
        parsed.msg
    );
}

#[tokio::test]
async fn syslog_over_tcp_is_octet_counted_and_cef_escapes_hostile_text() {
    let listener = SyslogListener::start().await;
    let sinks = syslog_config(&listener.tcp.to_string(), "tcp", "cef")
        .build_sinks()
        .unwrap();
    let dead = syslog_config(&format!("127.0.0.1:{}", dead_port()), "tcp", "cef")
        .build_sinks()
        .unwrap();
    assert_sink_contract(
        &sinks["siem"],
        None,
        || listener.messages(),
        Some(&dead["siem"]),
    )
    .await;

    let mut alert = notify::sample::sample_alert();
    alert.title = r"Impossible | travel \ back".into();
    alert.org_name = "acme]\"corp".into();
    alert.context.summary = "a=b \\ c\nsecond line | pipe".into();
    let message = AlertMessage::new(&alert, &MessageOptions::default());
    sinks["siem"]
        .deliver(&Delivery {
            alert: &alert,
            message: &message,
            idempotency_key: "k2",
            attempt: 1,
        })
        .await
        .unwrap();
    wait_for(
        std::time::Duration::from_secs(10),
        "the second frame",
        || {
            let n = listener.messages().len();
            async move { n == 2 }
        },
    )
    .await;
    let parsed = parse_5424(&listener.messages()[1]).unwrap();
    let org = parsed.sd[0].1.iter().find(|(n, _)| n == "org").unwrap();
    assert_eq!(
        org.1, "acme]\"corp",
        "SD values round-trip through escaping"
    );
    let cef = parse_cef(&parsed.msg).unwrap();
    assert_eq!(cef.header[0], "0");
    assert_eq!(cef.header[1], "idwatch");
    assert_eq!(cef.header[4], "okta-mfa-reset-then-admin-access");
    assert_eq!(cef.header[5], r"Impossible | travel \ back");
    assert_eq!(cef.header[6], "8");
    assert_eq!(cef.get("msg"), Some("a=b \\ c\nsecond line | pipe"));
    assert_eq!(cef.get("cs1"), Some("acme]\"corp"));
    assert_eq!(cef.get("suser"), Some("jane.doe@example.com"));
    assert_eq!(cef.get("src"), Some("203.0.113.7"));
    assert_eq!(cef.get("externalId"), Some("0"));
    assert_eq!(cef.get("cnt"), Some("2"));
    assert_eq!(
        cef.get("start"),
        Some(alert.first_seen.timestamp_millis().to_string().as_str())
    );
}
