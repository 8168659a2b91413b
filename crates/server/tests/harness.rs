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
