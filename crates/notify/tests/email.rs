//! The email sink against a real SMTP server: Python's aiosmtpd, requiring STARTTLS before
//! AUTH, with a self-signed certificate made for this test (rcgen) and trusted through the
//! sink's `ca_file`. CI needs `python3` with `pip install aiosmtpd`.

use crate::common::*;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const SERVER: &str = r#"
import asyncio, email, json, socket, ssl, sys
from email import policy
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

cert, key, user, password = sys.argv[1:5]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        text = parsed.get_body(preferencelist=("plain",))
        html = parsed.get_body(preferencelist=("html",))
        print(json.dumps({
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
            "data": envelope.content.decode("utf-8", "replace"),
        }), flush=True)
        return "250 OK queued"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == user
          and auth_data.password.decode() == password)
    return AuthResult(success=ok, handled=False)

context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=context,
                        require_starttls=True, authenticator=authenticator,
                        auth_require_tls=True)
controller.start()
print(f"PORT {port}", flush=True)
sys.stdin.read()
controller.stop()
"#;

struct SmtpServer {
    port: u16,
    messages: Arc<Mutex<Vec<serde_json::Value>>>,
    _child: tokio::process::Child,
}

async fn start_smtp(dir: &Path) -> SmtpServer {
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("smtpd.py"), SERVER).unwrap();
    let mut child = tokio::process::Command::new("python3")
        .arg(dir.join("smtpd.py"))
        .arg(dir.join("cert.pem"))
        .arg(dir.join("key.pem"))
        .args(["alerts@example.com", "smtp-pass-123"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs (CI must install python3 and `pip install aiosmtpd`)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("aiosmtpd starts (is `pip install aiosmtpd` done?)")
        .unwrap()
        .expect("aiosmtpd prints its port (is `pip install aiosmtpd` done?)");
    let port: u16 = first.strip_prefix("PORT ").unwrap().parse().unwrap();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&messages);
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            sink.lock()
                .unwrap()
                .push(serde_json::from_str(&line).unwrap());
        }
    });
    SmtpServer {
        port,
        messages,
        _child: child,
    }
}

fn email_config(dir: &Path, port: u16, password: &str) -> notify::AlertsConfig {
    let secret = secret_file(dir, "smtp-password", password);
    config(&format!(
        "[alerts.delivery]\ntimeout = \"5s\"\n[[alerts.sinks]]\nname = \"soc-email\"\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\nusername = \"alerts@example.com\"\npassword = {{ file = {secret} }}\nfrom = \"idwatch <alerts@example.com>\"\nto = [\"soc@example.com\", \"oncall@example.com\"]\nca_file = {:?}\n",
        dir.join("cert.pem").display().to_string()
    ))
}

#[tokio::test]
async fn email_sink_meets_the_contract_over_starttls_with_auth() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = start_smtp(dir.path()).await;
    let sinks = email_config(dir.path(), server.port, "smtp-pass-123")
        .build_sinks()
        .unwrap();
    let dead = email_config(dir.path(), dead_port(), "smtp-pass-123")
        .build_sinks()
        .unwrap();
    let messages = Arc::clone(&server.messages);
    let received = move || {
        messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    assert_sink_contract(
        &sinks["soc-email"],
        Some("smtp-pass-123"),
        received,
        Some(&dead["soc-email"]),
    )
    .await;

    let message = server.messages.lock().unwrap()[0].clone();
    assert_eq!(message["tls"], true, "the message went over STARTTLS");
    assert_eq!(message["authenticated"], true);
    assert_eq!(message["from"], "alerts@example.com");
    assert_eq!(
        message["to"],
        serde_json::json!(["soc@example.com", "oncall@example.com"])
    );
    let data = message["data"].as_str().unwrap();
    assert!(
        data.contains(
            "Subject: [idwatch HIGH] MFA factors reset, then admin console access (acme)"
        ),
        "{data}"
    );
    assert!(
        data.contains("Message-ID: <contract-key-1@idwatch>"),
        "{data}"
    );
    assert!(data.contains("multipart/alternative"), "{data}");
    // Python's MIME parser found both alternatives, decoded.
    let html = message["html"].as_str().unwrap();
    assert!(
        html.contains(
            "<th align=\"left\" valign=\"top\">Who</th><td>Jane Doe &lt;jane.doe@example.com&gt;"
        ),
        "{html}"
    );
    let text = message["text"].as_str().unwrap();
    assert!(
        text.starts_with("[HIGH] MFA factors reset, then admin console access (acme)"),
        "{text}"
    );
}

#[tokio::test]
async fn a_rejected_login_is_a_permanent_failure_with_the_servers_reply() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = start_smtp(dir.path()).await;
    let sinks = email_config(dir.path(), server.port, "wrong-password")
        .build_sinks()
        .unwrap();
    let alert = notify::sample::sample_alert();
    let message = notify::AlertMessage::new(&alert, &notify::MessageOptions::default());
    let err = sinks["soc-email"]
        .deliver(&notify::Delivery {
            alert: &alert,
            message: &message,
            idempotency_key: "k",
            attempt: 1,
        })
        .await
        .unwrap_err();
    assert!(!err.retriable(), "{err}");
    assert_eq!(err.status, Some(535), "{err}");
    assert!(server.messages.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_certificate_nobody_trusts_is_refused_and_retried() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = start_smtp(dir.path()).await;
    let secret = secret_file(dir.path(), "p", "smtp-pass-123");
    // No ca_file: the self-signed certificate is not trusted.
    let config = config(&format!(
        "[alerts.delivery]\ntimeout = \"5s\"\n[[alerts.sinks]]\nname = \"m\"\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {}\nusername = \"alerts@example.com\"\npassword = {{ file = {secret} }}\nfrom = \"alerts@example.com\"\nto = [\"soc@example.com\"]\n",
        server.port
    ));
    let sinks = config.build_sinks().unwrap();
    let alert = notify::sample::sample_alert();
    let message = notify::AlertMessage::new(&alert, &notify::MessageOptions::default());
    let err = sinks["m"]
        .deliver(&notify::Delivery {
            alert: &alert,
            message: &message,
            idempotency_key: "k",
            attempt: 1,
        })
        .await
        .unwrap_err();
    assert!(err.retriable(), "{err}");
    assert!(server.messages.lock().unwrap().is_empty());
}
