//! `idwatch serve` as a child process, with real peers on loopback: Okta's Event Hook deliveries
//! (posted by the test, retried like Okta retries what was not answered 200) and a webhook sink
//! that records every request's idempotency key.
//!
//! - kill -9 in the middle of a burst of events that fire a rule, then a restart: every alert
//!   reaches the sink, exactly one idempotency key per alert, no alert raised twice; the only
//!   repeats are deliveries that were in flight at the kill (same key, dropped by receivers).
//! - a sink down for the whole first run: after a restart with the sink back, every alert is
//!   delivered.
//! - a bad `[server]` section and SIGTERM: clear error (exit 2); graceful stop (exit 0).

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const ORG: &str = "acme";
const HOOK_SECRET: &str = "Basic YWNtZTpzZXJ2ZS1jbGktdGVzdA==";
const WEBHOOK_SECRET: &str = "serve-cli-webhook-secret-0123456789";
const CONCURRENCY: usize = 4;

const RULE: &str = r#"title: Test MFA reset
id: 7d3f0a52-9c1e-4b7a-8f00-3b1d2e4c5a66
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

/// An MFA reset by actor `n` (one alert per actor).
fn firing_event(n: usize) -> String {
    format!(
        r#"{{"uuid":"5e5e0000-0000-4000-8000-{n:012x}","published":"2026-03-02T09:{:02}:{:02}.000Z","eventType":"user.mfa.factor.reset_all","version":"0","severity":"INFO","displayMessage":"Reset all factors for user","actor":{{"id":"00u{n:06}","type":"User","alternateId":"admin{n}@example.com","displayName":"Admin {n}"}},"client":{{"ipAddress":"198.51.100.{}"}},"outcome":{{"result":"SUCCESS"}},"target":[{{"id":"00uT{n:06}","type":"User","alternateId":"user{n}@example.com"}}]}}"#,
        (n / 60) % 60,
        n % 60,
        n % 250 + 1
    )
}

fn delivery(id: usize, events: &[String]) -> String {
    format!(
        r#"{{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","eventId":"delivery-{id}","data":{{"events":[{}]}}}}"#,
        events.join(",")
    )
}

fn wait_for(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The webhook sink: records (idempotency key, alert id) of each request it accepts; answers
/// 503 while `down`.
struct Sink {
    port: u16,
    seen: Arc<Mutex<Vec<(String, i64)>>>,
    down: Arc<AtomicBool>,
}

impl Sink {
    fn keys(&self) -> BTreeMap<String, usize> {
        let mut keys = BTreeMap::new();
        for (key, _) in self.seen.lock().expect("lock").iter() {
            *keys.entry(key.clone()).or_default() += 1;
        }
        keys
    }
}

fn sink(rt: &tokio::runtime::Runtime, delay: Duration) -> Sink {
    use axum::http::{HeaderMap, StatusCode};
    let seen: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let down = Arc::new(AtomicBool::new(false));
    let (state, is_down) = (Arc::clone(&seen), Arc::clone(&down));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let (state, is_down) = (Arc::clone(&state), Arc::clone(&is_down));
            async move {
                tokio::time::sleep(delay).await;
                if is_down.load(Ordering::SeqCst) {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
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
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Sink { port, seen, down }
}

fn write_config(dir: &Path, sink_port: u16) {
    std::fs::create_dir_all(dir.join("rules")).expect("rules dir");
    std::fs::write(dir.join("rules/mfa.yml"), RULE).expect("rule");
    std::fs::write(dir.join("hook-secret"), HOOK_SECRET).expect("secret");
    std::fs::write(dir.join("webhook-secret"), WEBHOOK_SECRET).expect("secret");
    let config = format!(
        r#"[server]
listen = "127.0.0.1:0"
[server.hooks.{ORG}]
secret = {{ file = "{dir}/hook-secret" }}

[alerts.delivery]
poll_interval = "20ms"
concurrency = {CONCURRENCY}
timeout = "2s"
retry_initial = "100ms"
retry_max = "1s"
[[alerts.sinks]]
name = "soar"
type = "webhook"
url = "http://127.0.0.1:{sink_port}/hook"
secret = {{ file = "{dir}/webhook-secret" }}

[detect]
builtin = false
rules = ["{dir}/rules"]
poll_interval = "100ms"
"#,
        dir = dir.display()
    );
    std::fs::write(dir.join("idwatch.toml"), config).expect("config");
}

fn idwatch(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_idwatch"));
    cmd.env("IDWATCH_DATA", dir.join("data"))
        .env("IDWATCH_CONFIG", dir.join("idwatch.toml"))
        .env_remove("IDWATCH_LOG")
        .current_dir(dir);
    cmd
}

/// Starts `idwatch serve` and returns it with the address it printed.
fn serve(dir: &Path) -> (Child, String) {
    let mut child = idwatch(dir)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("idwatch serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines
        .next()
        .expect("a first line")
        .expect("readable stdout");
    let addr = first
        .split("listening on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in `{first}`"))
        .to_string();
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn alerts_in(db: &Path) -> usize {
    let Ok(store) = store::Store::open_read_only(db) else {
        return 0;
    };
    store
        .list_alerts(&store::alerts::AlertFilter::default())
        .map(|a| a.len())
        .unwrap_or(0)
}

/// Posts `deliveries` to the hook (4 at a time, each sender pausing `pace` between requests),
/// returning the ids answered 200. Like Okta, a delivery not answered 200 is for the caller to
/// retry.
async fn post_all(
    addr: String,
    deliveries: Vec<(usize, String)>,
    pace: Duration,
) -> HashSet<usize> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let queue = Arc::new(Mutex::new(deliveries));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (client, acked, queue, addr) = (
            client.clone(),
            Arc::clone(&acked),
            Arc::clone(&queue),
            addr.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let Some((id, body)) = queue.lock().expect("lock").pop() else {
                    break;
                };
                let answered = client
                    .post(format!("http://{addr}/hooks/okta/{ORG}"))
                    .header("authorization", HOOK_SECRET)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                if answered.is_ok_and(|r| r.status() == 200) {
                    acked.lock().expect("lock").insert(id);
                }
                tokio::time::sleep(pace).await;
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let acked = acked.lock().expect("lock").clone();
    acked
}

#[test]
fn a_daemon_killed_mid_burst_delivers_every_alert_once_per_key_after_restart() {
    const EVENTS: usize = 400;
    const PER_DELIVERY: usize = 4;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let tmp = TempDir::new().expect("temp dir");
    let dir = tmp.path();
    let sink = sink(&rt, Duration::from_millis(10));
    write_config(dir, sink.port);
    let db = dir.join("data/idwatch.db");
    let events: Vec<String> = (0..EVENTS).map(firing_event).collect();
    let deliveries: Vec<(usize, String)> = events
        .chunks(PER_DELIVERY)
        .enumerate()
        .map(|(i, chunk)| (i, delivery(i, chunk)))
        .collect();

    let (mut child, addr) = serve(dir);
    // The burst goes in while the daemon detects and delivers; it is killed part-way.
    // Paced so that the kill lands while events are still arriving, being evaluated and being
    // delivered.
    let burst = rt.spawn(post_all(
        addr,
        deliveries.clone(),
        Duration::from_millis(15),
    ));
    wait_for(Duration::from_secs(60), "the burst to be under way", || {
        sink.keys().len() >= 20
    });
    child.kill().expect("SIGKILL"); // kill -9
    child.wait().expect("reaped");
    let delivered_at_kill = sink.keys().len();
    let acked = rt.block_on(burst).expect("burst task");
    let raised_at_kill = alerts_in(&db);
    assert!(
        delivered_at_kill < EVENTS,
        "the kill came after every alert was delivered ({delivered_at_kill}); nothing was tested"
    );

    // Restart; Okta retries every delivery it did not get a 200 for, and (being at-least-once)
    // a few it did.
    let (mut child, addr) = serve(dir);
    let mut retry: Vec<(usize, String)> = deliveries
        .iter()
        .filter(|(id, _)| !acked.contains(id) || id % 10 == 0)
        .cloned()
        .collect();
    retry.reverse();
    let acked_again = rt.block_on(post_all(addr, retry.clone(), Duration::ZERO));
    assert_eq!(
        acked_again.len(),
        retry.len(),
        "every retried delivery is answered 200"
    );
    wait_for(Duration::from_secs(120), "every alert delivered", || {
        sink.keys().len() >= EVENTS
    });
    // Let anything that would be a repeat arrive before judging.
    std::thread::sleep(Duration::from_millis(500));
    child.kill().expect("stop");
    child.wait().expect("reaped");

    assert_eq!(
        alerts_in(&db),
        EVENTS,
        "one alert per actor; none raised twice"
    );
    let keys = sink.keys();
    assert_eq!(keys.len(), EVENTS, "one idempotency key per alert");
    let seen = sink.seen.lock().expect("lock").clone();
    let ids: HashSet<i64> = seen.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids.len(), EVENTS, "every alert reached the sink");
    let repeats = seen.len() - keys.len();
    assert!(
        repeats <= CONCURRENCY,
        "only deliveries in flight at the kill are repeated (same key): {repeats}"
    );
    eprintln!(
        "killed with {} of {} deliveries answered, {raised_at_kill} alerts raised and \
         {delivered_at_kill} delivered; {} deliveries retried; {repeats} repeated keys",
        acked.len(),
        deliveries.len(),
        retry.len()
    );
}

#[test]
fn a_sink_down_for_the_whole_run_gets_every_alert_when_it_returns() {
    const EVENTS: usize = 60;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let tmp = TempDir::new().expect("temp dir");
    let dir = tmp.path();
    let sink = sink(&rt, Duration::ZERO);
    sink.down.store(true, Ordering::SeqCst);
    write_config(dir, sink.port);
    let db = dir.join("data/idwatch.db");
    let deliveries: Vec<(usize, String)> = (0..EVENTS)
        .map(firing_event)
        .collect::<Vec<_>>()
        .chunks(6)
        .enumerate()
        .map(|(i, chunk)| (i, delivery(i, chunk)))
        .collect();

    let (mut child, addr) = serve(dir);
    let acked = rt.block_on(post_all(addr, deliveries.clone(), Duration::ZERO));
    assert_eq!(acked.len(), deliveries.len());
    wait_for(Duration::from_secs(60), "every alert raised", || {
        alerts_in(&db) == EVENTS
    });
    // Attempts keep failing while it is down; none is given up.
    wait_for(
        Duration::from_secs(60),
        "attempts on every delivery",
        || {
            let store = store::Store::open_read_only(&db).expect("store");
            let alerts = store
                .list_alerts(&store::alerts::AlertFilter::default())
                .expect("alerts");
            alerts.iter().all(|a| {
                store
                    .deliveries(a.id)
                    .is_ok_and(|d| d.iter().all(|(entry, _)| entry.attempts >= 2))
            })
        },
    );
    let summary = store::Store::open_read_only(&db)
        .expect("store")
        .outbox_summary()
        .expect("summary");
    assert_eq!(
        (summary.pending, summary.sent, summary.failed),
        (EVENTS as u64, 0, 0)
    );
    let status = {
        #[cfg(unix)]
        {
            let pid = child.id().to_string();
            let term = Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill runs");
            assert!(term.success());
        }
        child.wait().expect("reaped")
    };
    assert!(
        status.success(),
        "SIGTERM stops the daemon cleanly: {status:?}"
    );
    assert!(sink.keys().is_empty());

    // The sink is back; the next run delivers everything.
    sink.down.store(false, Ordering::SeqCst);
    let (mut child, _addr) = serve(dir);
    wait_for(Duration::from_secs(60), "every alert delivered", || {
        sink.keys().len() == EVENTS
    });
    child.kill().expect("stop");
    child.wait().expect("reaped");
    let summary = store::Store::open_read_only(&db)
        .expect("store")
        .outbox_summary()
        .expect("summary");
    assert_eq!(
        (summary.pending, summary.sent, summary.failed),
        (0, EVENTS as u64, 0)
    );
    assert!(sink.keys().values().all(|n| *n == 1));
}

#[test]
fn a_bad_server_section_is_refused_before_anything_starts() {
    let tmp = TempDir::new().expect("temp dir");
    std::fs::write(
        tmp.path().join("idwatch.toml"),
        "[server.hooks.acme]\nsecret = { env = \"IDWATCH_TEST_SERVE_NO_SUCH_VAR\" }\n",
    )
    .expect("config");
    let out = idwatch(tmp.path())
        .arg("serve")
        .output()
        .expect("idwatch runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server: field `hooks.acme.secret`: environment variable IDWATCH_TEST_SERVE_NO_SUCH_VAR is not set"),
        "{err}"
    );
    assert!(!tmp.path().join("data/idwatch.db").exists() || out.stdout.is_empty());
}
