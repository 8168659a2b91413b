//! Test peers and fixtures: an HTTP capture server on 127.0.0.1:0 (axum) that records every
//! request and answers from a script, a syslog listener (UDP and TCP) with an RFC 5424 parser
//! written independently of the encoder, condition polling with a deadline, and
//! `assert_sink_contract`, which every sink passes.

#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use notify::{AlertMessage, Delivery, MessageOptions, Sink};
use sha2::Sha256;
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Polls `check` until it is true or `timeout` passes.
pub async fn wait_for<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One request the capture server received.
#[derive(Debug, Clone)]
pub struct Captured {
    pub headers: HeaderMap,
    pub body: String,
    /// For webhook receivers: whether the signature and timestamp verified.
    pub verified: Option<bool>,
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Answer {
    pub fn status(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: None,
            body: body.into(),
        }
    }
}

#[derive(Clone, Default)]
pub struct CaptureState {
    pub requests: Arc<Mutex<Vec<Captured>>>,
    pub script: Arc<Mutex<VecDeque<Answer>>>,
    /// When set, requests are verified as idwatch webhooks with this secret.
    pub secret: Option<Vec<u8>>,
    /// Per-request delay (to make a burst last long enough to kill a worker in it).
    pub delay: Duration,
}

/// An HTTP capture server on loopback.
pub struct CaptureServer {
    pub addr: SocketAddr,
    pub state: CaptureState,
    task: tokio::task::JoinHandle<()>,
}

impl CaptureServer {
    pub async fn start(secret: Option<&[u8]>) -> CaptureServer {
        Self::start_on("127.0.0.1:0".parse().unwrap(), secret, Duration::ZERO).await
    }

    pub async fn start_on(
        addr: SocketAddr,
        secret: Option<&[u8]>,
        delay: Duration,
    ) -> CaptureServer {
        let state = CaptureState {
            secret: secret.map(<[u8]>::to_vec),
            delay,
            ..CaptureState::default()
        };
        let app = Router::new()
            .route("/{*path}", post(capture))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        CaptureServer { addr, state, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Captured> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.script.lock().unwrap().extend(answers);
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// What a webhook receiver does: check the timestamp is recent and the signature matches.
pub fn verify_webhook(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(ts) = headers
        .get("x-idwatch-timestamp")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
    else {
        return false;
    };
    if (chrono::Utc::now().timestamp() - ts).abs() > 300 {
        return false;
    }
    let Some(sig) = headers
        .get("x-idwatch-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha256="))
        .and_then(|v| hex::decode(v).ok())
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

async fn capture(State(state): State<CaptureState>, headers: HeaderMap, body: Bytes) -> Response {
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    let verified = state
        .secret
        .as_ref()
        .map(|secret| verify_webhook(secret, &headers, &body));
    state.requests.lock().unwrap().push(Captured {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        verified,
    });
    let answer = state.script.lock().unwrap().pop_front();
    match answer {
        None => (StatusCode::OK, "ok").into_response(),
        Some(a) => {
            let mut response = (StatusCode::from_u16(a.status).unwrap(), a.body).into_response();
            if let Some(after) = a.retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", after.parse().unwrap());
            }
            response
        }
    }
}

/// A syslog collector on loopback: every UDP datagram and every octet-counted TCP frame.
pub struct SyslogListener {
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub received: Arc<Mutex<Vec<String>>>,
}

impl SyslogListener {
    pub async fn start() -> SyslogListener {
        let received = Arc::new(Mutex::new(Vec::new()));
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let udp_addr = udp.local_addr().unwrap();
        let sink = Arc::clone(&received);
        tokio::spawn(async move {
            let mut buf = vec![0_u8; 65_536];
            while let Ok((n, _)) = udp.recv_from(&mut buf).await {
                sink.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        });
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp_addr = tcp.local_addr().unwrap();
        let sink = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = tcp.accept().await {
                let sink = Arc::clone(&sink);
                tokio::spawn(async move {
                    let mut data = Vec::new();
                    let _ = stream.read_to_end(&mut data).await;
                    // RFC 6587 octet counting: LEN SP MSG, repeated.
                    let mut rest = &data[..];
                    while !rest.is_empty() {
                        let space = rest.iter().position(|b| *b == b' ').expect("frame length");
                        let len: usize = std::str::from_utf8(&rest[..space])
                            .unwrap()
                            .parse()
                            .unwrap();
                        let frame = &rest[space + 1..space + 1 + len];
                        sink.lock()
                            .unwrap()
                            .push(String::from_utf8(frame.to_vec()).unwrap());
                        rest = &rest[space + 1 + len..];
                    }
                });
            }
        });
        SyslogListener {
            udp: udp_addr,
            tcp: tcp_addr,
            received,
        }
    }

    pub fn messages(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}

/// An RFC 5424 message, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Syslog5424 {
    pub pri: u16,
    pub version: u8,
    pub timestamp: String,
    pub hostname: String,
    pub app_name: String,
    pub proc_id: String,
    pub msg_id: String,
    /// (SD-ID, [(name, value unescaped)])
    pub sd: Vec<(String, Vec<(String, String)>)>,
    pub msg: String,
}

/// Parses RFC 5424 (§6): header fields separated by single spaces, then structured data with
/// escaped PARAM-VALUEs, then MSG (a leading BOM removed).
pub fn parse_5424(line: &str) -> Result<Syslog5424, String> {
    let rest = line.strip_prefix('<').ok_or("no PRI")?;
    let close = rest.find('>').ok_or("unterminated PRI")?;
    let pri: u16 = rest[..close].parse().map_err(|_| "bad PRI")?;
    let mut fields = rest[close + 1..].splitn(7, ' ');
    let mut next = |what: &str| {
        fields
            .next()
            .map(str::to_string)
            .ok_or(format!("missing {what}"))
    };
    let version: u8 = next("VERSION")?.parse().map_err(|_| "bad VERSION")?;
    let timestamp = next("TIMESTAMP")?;
    let hostname = next("HOSTNAME")?;
    let app_name = next("APP-NAME")?;
    let proc_id = next("PROCID")?;
    let msg_id = next("MSGID")?;
    let rest: Vec<char> = next("SD")?.chars().collect();
    let mut sd = Vec::new();
    let mut i = 0;
    if rest.first() == Some(&'-') {
        i = 1;
    } else {
        while rest.get(i) == Some(&'[') {
            i += 1;
            let mut id = String::new();
            while let Some(&c) = rest.get(i) {
                if c == ' ' || c == ']' {
                    break;
                }
                id.push(c);
                i += 1;
            }
            let mut params = Vec::new();
            loop {
                match rest.get(i) {
                    Some(']') => {
                        i += 1;
                        break;
                    }
                    Some(' ') => i += 1,
                    Some(_) => {
                        let mut name = String::new();
                        while let Some(&c) = rest.get(i) {
                            i += 1;
                            if c == '=' {
                                break;
                            }
                            name.push(c);
                        }
                        if rest.get(i) != Some(&'"') {
                            return Err(format!("PARAM-VALUE of {name} is not quoted"));
                        }
                        i += 1;
                        let mut value = String::new();
                        loop {
                            match rest.get(i) {
                                Some('\\') => {
                                    let escaped = *rest.get(i + 1).ok_or("dangling escape")?;
                                    if !matches!(escaped, '"' | '\\' | ']') {
                                        value.push('\\');
                                    }
                                    value.push(escaped);
                                    i += 2;
                                }
                                Some('"') => {
                                    i += 1;
                                    break;
                                }
                                Some(']') => return Err("unescaped ] in PARAM-VALUE".into()),
                                Some(&c) => {
                                    value.push(c);
                                    i += 1;
                                }
                                None => return Err("unterminated PARAM-VALUE".into()),
                            }
                        }
                        params.push((name, value));
                    }
                    None => return Err("unterminated SD-ELEMENT".into()),
                }
            }
            sd.push((id, params));
        }
    }
    let msg: String = rest[i.min(rest.len())..].iter().collect();
    let msg = msg.strip_prefix(' ').unwrap_or(&msg);
    let msg = msg.strip_prefix('\u{feff}').unwrap_or(msg).to_string();
    Ok(Syslog5424 {
        pri,
        version,
        timestamp,
        hostname,
        app_name,
        proc_id,
        msg_id,
        sd,
        msg,
    })
}

/// A CEF event, parsed: the 7 header fields unescaped, and the extension pairs unescaped.
#[derive(Debug, Clone, PartialEq)]
pub struct Cef {
    pub header: Vec<String>,
    pub extension: Vec<(String, String)>,
}

impl Cef {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.extension
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses CEF: `CEF:0|...|` with `\|` and `\\` escapes in the 7 header fields, then `key=value`
/// pairs: every unescaped `=` ends a key (the word before it), and a value runs to the space
/// before the next key. Values unescape `\=`, `\\`, `\n`, `\r`.
pub fn parse_cef(text: &str) -> Result<Cef, String> {
    let body = text.strip_prefix("CEF:").ok_or("no CEF: prefix")?;
    let mut header = Vec::new();
    let mut field = String::new();
    let mut chars = body.chars();
    while header.len() < 7 {
        match chars.next() {
            Some('\\') => field.push(chars.next().ok_or("dangling escape")?),
            Some('|') => header.push(std::mem::take(&mut field)),
            Some(c) => field.push(c),
            None => return Err(format!("only {} header fields", header.len())),
        }
    }
    let ext: Vec<char> = chars.collect();
    let mut equals = Vec::new();
    let mut i = 0;
    while i < ext.len() {
        match ext[i] {
            '\\' => i += 2,
            '=' => {
                equals.push(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    let key_starts: Vec<usize> = equals
        .iter()
        .map(|&eq| {
            ext[..eq]
                .iter()
                .rposition(|c| *c == ' ')
                .map_or(0, |s| s + 1)
        })
        .collect();
    let unescape = |v: &[char]| {
        let mut out = String::new();
        let mut it = v.iter();
        while let Some(&c) = it.next() {
            if c == '\\' {
                match it.next() {
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some(&o) => out.push(o),
                    None => {}
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    let mut extension = Vec::new();
    for (j, &eq) in equals.iter().enumerate() {
        let key: String = ext[key_starts[j]..eq].iter().collect();
        let end = key_starts
            .get(j + 1)
            .map_or(ext.len(), |s| s.saturating_sub(1));
        extension.push((key, unescape(&ext[eq + 1..end.max(eq + 1)])));
    }
    Ok(Cef { header, extension })
}

/// Every sink's contract: it delivers the synthetic alert and the peer receives one message
/// carrying what a responder needs; a dead peer is a retriable error naming sink and alert;
/// `Debug` shows no secret.
pub async fn assert_sink_contract<F>(
    sink: &Sink,
    secret: Option<&str>,
    received: F,
    dead_peer: Option<&Sink>,
) where
    F: Fn() -> Vec<String>,
{
    let mut alert = notify::sample::sample_alert();
    alert.id = store::alerts::AlertId(4242);
    let message = AlertMessage::new(&alert, &MessageOptions::default());
    let before = received().len();
    let delivery = Delivery {
        alert: &alert,
        message: &message,
        idempotency_key: "contract-key-1",
        attempt: 1,
    };
    sink.deliver(&delivery)
        .await
        .expect("delivers to a live peer");
    wait_for(
        Duration::from_secs(10),
        "the peer to receive the message",
        || {
            let n = received().len();
            async move { n > before }
        },
    )
    .await;
    let all = received();
    assert_eq!(all.len(), before + 1, "exactly one message per delivery");
    let text = &all[before];
    for needle in [
        "MFA factors reset, then admin console access",
        "jane.doe@example.com",
        "203.0.113.7",
        "Germany",
        "4242",
        "acme",
        "uuid eq",
    ] {
        assert!(
            text.contains(needle),
            "{} message lacks {needle}: {text}",
            sink.name()
        );
    }
    if let Some(dead) = dead_peer {
        let err = dead
            .deliver(&delivery)
            .await
            .expect_err("a dead peer fails");
        assert!(err.retriable(), "{err}");
        assert_eq!(err.alert_id.0, 4242);
        assert!(
            err.to_string().contains(&format!("sink `{}`", dead.name())),
            "{err}"
        );
    }
    if let Some(secret) = secret {
        let debug = format!("{sink:?}");
        assert!(!debug.contains(secret), "Debug leaks the secret: {debug}");
    }
}

/// A port on loopback with nothing listening (bound, then released).
pub fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Parses an `[alerts]` section (the TOML as a user writes it).
pub fn config(text: &str) -> notify::AlertsConfig {
    #[derive(serde::Deserialize)]
    struct File {
        alerts: notify::AlertsConfig,
    }
    let file: File = toml::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    file.alerts.validate().unwrap();
    file.alerts
}

/// Writes a secret file and returns its path as a TOML string literal.
pub fn secret_file(dir: &std::path::Path, name: &str, value: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("{value}\n")).unwrap();
    format!("{:?}", path.display().to_string())
}

/// A store in a temp dir with org `acme`.
pub struct StoreFixture {
    pub dir: tempfile::TempDir,
    pub path: std::path::PathBuf,
    pub org: store::OrgId,
}

pub fn store_fixture() -> (StoreFixture, store::Store) {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("idwatch.db");
    let mut store = store::Store::open(&path).unwrap();
    let org = store.ensure_org("acme").unwrap();
    (StoreFixture { dir, path, org }, store)
}

/// The `i`th distinct alert (its own actor, so none fold together).
pub fn new_alert(org: store::OrgId, i: usize) -> store::alerts::NewAlert {
    let sample = notify::sample::sample_alert();
    let mut group_key = std::collections::BTreeMap::new();
    group_key.insert(
        "actor.alternateId".to_string(),
        serde_json::json!(format!("user{i}@example.com")),
    );
    store::alerts::NewAlert {
        org,
        rule_id: sample.rule_id,
        title: sample.title,
        level: sample.level,
        group_key,
        first_seen: sample.first_seen,
        last_seen: sample.last_seen,
        event_uuids: vec![format!("00000000-0000-4000-8000-{i:012}")],
        context: sample.context,
    }
}

/// Runs a worker over the store file in the background until the returned sender fires.
pub fn spawn_worker(
    path: &std::path::Path,
    config: &notify::AlertsConfig,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<notify::WorkerStats>,
) {
    let store = store::Store::open(path).unwrap();
    let sinks = config.build_sinks().unwrap();
    let worker =
        notify::DeliveryWorker::new(store, sinks, notify::WorkerOptions::from_config(config));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        worker
            .run(async {
                let _ = rx.await;
            })
            .await
            .unwrap()
    });
    (tx, handle)
}

/// Outbox summary read through a separate connection.
pub fn summary(path: &std::path::Path) -> store::alerts::OutboxSummary {
    store::Store::open(path).unwrap().outbox_summary().unwrap()
}
