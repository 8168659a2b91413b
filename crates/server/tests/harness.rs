//! What the tests share: events from the simulator's generator, hook delivery bodies, and a
//! receiver served on a loopback port.

use server::{HookOptions, HookReceiver};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

pub const ORG: &str = "acme";
pub const SECRET: &str = "Basic aWR3YXRjaDp0ZXN0LXNlY3JldA==";

/// `n` realistic events (the simulator's generator), as JSON lines.
pub fn events(seed: u64, n: usize) -> Vec<String> {
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-02T08:00:00Z")
        .expect("start time")
        .with_timezone(&chrono::Utc);
    let config = sim::generate::OrgConfig {
        seed,
        users: 50,
        start,
        ..sim::generate::OrgConfig::default()
    };
    sim::generate::Generator::from_config(&config)
        .take(n)
        .map(|e| e.json)
        .collect()
}

/// An Event Hook delivery of `events`.
pub fn delivery(event_id: &str, events: &[String]) -> String {
    format!(
        r#"{{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","source":"https://acme.okta.com/api/v1/eventHooks/who1","eventId":"{event_id}","eventTime":"2026-03-02T08:00:00.000Z","contentType":"application/json","data":{{"events":[{}]}}}}"#,
        events.join(",")
    )
}

pub fn uuid_of(event: &str) -> String {
    serde_json::from_str::<serde_json::Value>(event).expect("event is JSON")["uuid"]
        .as_str()
        .expect("uuid")
        .to_string()
}

/// A hook receiver on a loopback port, over a store in a temp dir.
pub struct Served {
    pub addr: SocketAddr,
    pub dir: TempDir,
    pub receiver: Arc<HookReceiver>,
    pub client: reqwest::Client,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Served {
    pub fn db(&self) -> PathBuf {
        self.dir.path().join("idwatch.db")
    }

    pub fn quarantine(&self) -> PathBuf {
        self.dir.path().join("rejected")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The uuids stored for `org`, read through a connection of its own.
    pub fn stored(&self, org: &str) -> Vec<String> {
        let store = store::Store::open_read_only(&self.db()).expect("store opens");
        let Some(id) = store.find_org(org).expect("org lookup") else {
            return Vec::new();
        };
        let mut uuids: Vec<String> = store
            .read_after(id, 0, usize::MAX)
            .expect("read")
            .into_iter()
            .map(|e| e.event.uuid().to_string())
            .collect();
        uuids.sort();
        uuids
    }

    pub async fn post(
        &self,
        auth: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url(&format!("/hooks/okta/{ORG}")))
            .header("content-type", "application/json")
            .body(body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send().await.expect("request sent")
    }
}

pub const METRICS_TOKEN: &str = "metrics-token-4b1d";

pub async fn serve(options: impl FnOnce(&std::path::Path) -> HookOptions) -> Served {
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("idwatch.db");
    let store = store::Store::open(&db).expect("store opens");
    let mut secrets = BTreeMap::new();
    secrets.insert(ORG.to_string(), notify::Secret::new(SECRET));
    let receiver = Arc::new(HookReceiver::new(store, &secrets, options(dir.path())));
    let metrics = Arc::new(server::Metrics::new(
        db,
        Some(&notify::Secret::new(METRICS_TOKEN)),
        Some(Arc::clone(&receiver)),
        Arc::new(server::TaskBoard::default()),
    ));
    let app = server::app::router(Arc::clone(&receiver), metrics);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
            .expect("serve");
    });
    Served {
        addr,
        dir,
        receiver,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client"),
        _shutdown: tx,
    }
}

pub fn default_options(dir: &std::path::Path) -> HookOptions {
    HookOptions {
        quarantine_dir: Some(dir.join("rejected")),
        ..HookOptions::default()
    }
}

/// A webhook receiver on loopback recording each request's idempotency key and alert id. While
/// `down` is set it answers 503 (and records nothing), like a sink in an outage.
pub struct Capture {
    pub port: u16,
    pub seen: Arc<std::sync::Mutex<Vec<(String, i64)>>>,
    pub down: Arc<std::sync::atomic::AtomicBool>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Capture {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    pub fn keys(&self) -> std::collections::BTreeMap<String, usize> {
        let mut keys = std::collections::BTreeMap::new();
        for (key, _) in self.seen.lock().expect("lock").iter() {
            *keys.entry(key.clone()).or_default() += 1;
        }
        keys
    }

    pub fn requests(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }
}

pub async fn capture() -> Capture {
    use axum::http::{HeaderMap, StatusCode};
    let seen: Arc<std::sync::Mutex<Vec<(String, i64)>>> = Arc::default();
    let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (state, is_down) = (Arc::clone(&seen), Arc::clone(&down));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let (state, is_down) = (Arc::clone(&state), Arc::clone(&is_down));
            async move {
                if is_down.load(std::sync::atomic::Ordering::SeqCst) {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let id = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["alert"]["id"].as_i64())
                    .unwrap_or(-1);
                state.lock().expect("lock").push((key, id));
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Capture {
        port,
        seen,
        down,
        _shutdown: tx,
    }
}

/// An event that the test rule (`RULE`) fires on: an MFA reset by actor `n`.
pub fn firing_event(n: usize, uuid_seed: u64) -> String {
    format!(
        r#"{{"uuid":"{:08x}-0000-4000-8000-{:012x}","published":"2026-03-02T09:{:02}:{:02}.000Z","eventType":"user.mfa.factor.reset_all","version":"0","severity":"INFO","displayMessage":"Reset all factors for user","actor":{{"id":"00u{n:06}","type":"User","alternateId":"admin{n}@example.com","displayName":"Admin {n}"}},"client":{{"ipAddress":"198.51.100.{}"}},"outcome":{{"result":"SUCCESS"}},"target":[{{"id":"00uT{n:06}","type":"User","alternateId":"user{n}@example.com"}}]}}"#,
        uuid_seed,
        n,
        (n / 60) % 60,
        n % 60,
        n % 250 + 1
    )
}

/// A Sigma rule on `user.mfa.factor.reset_all` (single event: one alert per actor).
pub const RULE: &str = r#"title: Test MFA reset
id: 5f0c1d9e-7a40-4d8e-9a0b-2c6a1e7f0a11
status: test
logsource:
    product: okta
    service: okta
detection:
    selection:
        eventType: user.mfa.factor.reset_all
    condition: selection
level: high
"#;

pub async fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
