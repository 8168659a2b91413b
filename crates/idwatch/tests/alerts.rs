//! `idwatch alerts` end to end: the lifecycle through the CLI, and the delivery worker as a
//! child process killed with SIGKILL in the middle of a burst, then restarted: every alert
//! reaches the receiver, exactly once per idempotency key.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn idwatch(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_idwatch"));
    cmd.env("IDWATCH_DATA", dir.join("data"))
        .env("IDWATCH_CONFIG", dir.join("idwatch.toml"))
        .env("USER", "ana")
        .current_dir(dir);
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("idwatch runs")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
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

#[test]
fn alerts_are_raised_listed_acknowledged_and_closed_through_the_cli() {
    let tmp = TempDir::new().unwrap();
    std::fs::write(tmp.path().join("idwatch.toml"), "default_org = \"acme\"\n").unwrap();
    let raised = ok(run(idwatch(tmp.path()).args([
        "alerts",
        "raise",
        "--rule",
        "okta-admin-from-new-country",
        "--title",
        "Admin console from a new country",
        "--level",
        "high",
        "--actor",
        "jane@example.com",
        "--ip",
        "203.0.113.7",
        "--group",
        "actor.alternateId=jane@example.com",
        "--event",
        "u-1",
        "--summary",
        "jane@example.com opened the Admin Console from Germany for the first time",
    ])));
    assert_eq!(raised.trim(), "alert 1: raised; 0 deliveries queued");
    // The same rule and group within the window folds into alert 1.
    let again = ok(run(idwatch(tmp.path()).args([
        "alerts",
        "raise",
        "--rule",
        "okta-admin-from-new-country",
        "--title",
        "Admin console from a new country",
        "--group",
        "actor.alternateId=jane@example.com",
        "--event",
        "u-2",
    ])));
    assert_eq!(again.trim(), "alert 1: folded into; 0 deliveries queued");
    ok(run(idwatch(tmp.path()).args([
        "alerts",
        "raise",
        "--title",
        "Something low",
        "--level",
        "low",
    ])));

    let list =
        ok(run(idwatch(tmp.path()).args([
            "alerts", "list", "--status", "open", "--level", "medium",
        ])));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].starts_with("id  level"), "{list}");
    assert!(
        lines[1].starts_with("1   high   open    acme  okta-admin-from-new-country"),
        "{list}"
    );
    assert!(lines[1].contains("  2  "), "count 2: {list}");

    let acked = ok(run(idwatch(tmp.path()).args([
        "alerts",
        "ack",
        "1",
        "--note",
        "calling jane",
    ])));
    assert_eq!(
        acked.trim(),
        "alert 1 acknowledged by ana: Admin console from a new country"
    );
    let closed = ok(run(idwatch(tmp.path()).args([
        "alerts",
        "close",
        "1",
        "--note",
        "travel, confirmed by phone",
        "--by",
        "ben",
    ])));
    assert_eq!(
        closed.trim(),
        "alert 1 closed by ben: Admin console from a new country"
    );
    let refused = run(idwatch(tmp.path()).args(["alerts", "ack", "1"]));
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("alert 1 is closed"),
        "{}",
        text(&refused.stderr)
    );
    let missing = run(idwatch(tmp.path()).args(["alerts", "show", "99"]));
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains("no alert 99"),
        "{}",
        text(&missing.stderr)
    );

    let show = ok(run(idwatch(tmp.path()).args(["alerts", "show", "1"])));
    assert!(
        show.starts_with("alert 1: [HIGH] Admin console from a new country (acme)"),
        "{show}"
    );
    assert!(show.contains("  status:         closed"), "{show}");
    assert!(
        show.contains("  who:            jane@example.com"),
        "{show}"
    );
    assert!(
        show.contains("idwatch query --org acme 'uuid eq \"u-1\" or uuid eq \"u-2\"'"),
        "{show}"
    );
    assert!(show.contains("  ana  acknowledged: calling jane"), "{show}");
    assert!(
        show.contains("  ben  closed: travel, confirmed by phone"),
        "{show}"
    );

    let json = ok(run(
        idwatch(tmp.path()).args(["alerts", "show", "1", "--format", "json"])
    ));
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["alert"]["status"], "closed");
    assert_eq!(value["alert"]["count"], 2);
    assert_eq!(value["alert"]["notes"].as_array().unwrap().len(), 2);
    let closed_list =
        ok(run(idwatch(tmp.path()).args([
            "alerts", "list", "--status", "closed", "--format", "ndjson",
        ])));
    assert_eq!(closed_list.lines().count(), 1);
    // A repeat after closing is a new alert.
    let after = ok(run(idwatch(tmp.path()).args([
        "alerts",
        "raise",
        "--rule",
        "okta-admin-from-new-country",
        "--title",
        "Admin console from a new country",
        "--group",
        "actor.alternateId=jane@example.com",
        "--event",
        "u-3",
    ])));
    assert_eq!(after.trim(), "alert 3: raised; 0 deliveries queued");
}

#[test]
fn a_bad_alerts_section_is_refused_with_a_valid_example() {
    let tmp = TempDir::new().unwrap();
    std::fs::write(
        tmp.path().join("idwatch.toml"),
        "[[alerts.sinks]]\nname = \"siem\"\ntype = \"syslog\"\naddress = \"siem.example.com\"\n",
    )
    .unwrap();
    let out = run(idwatch(tmp.path()).args(["alerts", "list"]));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("alerts.sinks `siem`: field `address`: must be host:port, e.g. address = \"siem.example.com:514\""), "{err}");
    let no_sinks = {
        std::fs::write(tmp.path().join("idwatch.toml"), "").unwrap();
        run(idwatch(tmp.path()).args(["alerts", "deliver", "--once"]))
    };
    assert_eq!(no_sinks.status.code(), Some(2));
    assert!(text(&no_sinks.stderr).contains("webhook_url = { env = \"IDWATCH_SLACK_WEBHOOK\" }"));
}

/// A webhook receiver: verifies each request's signature and records its idempotency key.
struct Receiver {
    port: u16,
    seen: Arc<Mutex<Vec<(String, bool, i64)>>>,
    _rt: tokio::runtime::Runtime,
}

fn receiver(secret: &'static str, delay: Duration) -> Receiver {
    use axum::http::HeaderMap;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let seen: Arc<Mutex<Vec<(String, bool, i64)>>> = Arc::default();
    let state = Arc::clone(&seen);
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let state = Arc::clone(&state);
            async move {
                tokio::time::sleep(delay).await;
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
                mac.update(format!("{}.", header("x-idwatch-timestamp")).as_bytes());
                mac.update(&body);
                let sig = hex::decode(header("x-idwatch-signature").trim_start_matches("sha256="))
                    .unwrap_or_default();
                let verified = mac.verify_slice(&sig).is_ok();
                let id = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["alert"]["id"]
                    .as_i64()
                    .unwrap();
                state
                    .lock()
                    .unwrap()
                    .push((header("idempotency-key"), verified, id));
                "ok"
            }
        }),
    );
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver {
        port,
        seen,
        _rt: rt,
    }
}

#[test]
fn a_delivery_worker_killed_mid_burst_delivers_everything_after_restart() {
    const ALERTS: usize = 200;
    const SECRET: &str = "kill-test-secret-0123456789abcdef";
    let tmp = TempDir::new().unwrap();
    let rx = receiver(SECRET, Duration::from_millis(15));
    std::fs::write(tmp.path().join("hook-secret"), SECRET).unwrap();
    let config = format!(
        "default_org = \"acme\"\n[alerts.delivery]\npoll_interval = \"20ms\"\nconcurrency = 4\ntimeout = \"2s\"\n\n[[alerts.sinks]]\nname = \"soar\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{}/hook\"\nsecret = {{ file = {:?} }}\n",
        rx.port,
        tmp.path().join("hook-secret").display().to_string()
    );
    std::fs::write(tmp.path().join("idwatch.toml"), &config).unwrap();

    // Raise the burst through the store with the routing idwatch.toml gives.
    #[derive(serde::Deserialize)]
    struct File {
        alerts: notify::AlertsConfig,
    }
    let routing = toml::from_str::<File>(&config.replace("default_org = \"acme\"\n", ""))
        .unwrap()
        .alerts
        .routing();
    let db = tmp.path().join("data/idwatch.db");
    let mut store = store::Store::open(&db).unwrap();
    let org = store.ensure_org("acme").unwrap();
    for i in 0..ALERTS {
        let mut alert = notify::sample::sample_alert();
        alert.group_key.insert("n".into(), serde_json::json!(i));
        let new = store::alerts::NewAlert {
            org,
            rule_id: alert.rule_id,
            title: alert.title,
            level: alert.level,
            group_key: alert.group_key,
            first_seen: alert.first_seen,
            last_seen: alert.last_seen,
            event_uuids: vec![format!("evt-{i}")],
            context: alert.context,
        };
        assert_eq!(
            store
                .raise(&new, &routing, chrono::Utc::now())
                .unwrap()
                .queued,
            1
        );
    }

    let start = || {
        idwatch(tmp.path())
            .args(["alerts", "deliver"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let received = || rx.seen.lock().unwrap().len();
    let mut child = start();
    wait_for(Duration::from_secs(60), "the burst to be under way", || {
        received() >= 40
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = received();
    assert!(
        at_kill < ALERTS,
        "the kill came after the burst ({at_kill}); nothing was tested"
    );

    let mut child = start();
    wait_for(
        Duration::from_secs(90),
        "every delivery recorded as sent",
        || store.outbox_summary().unwrap().sent == ALERTS as u64,
    );
    child.kill().unwrap();
    child.wait().unwrap();

    let seen = rx.seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|(_, verified, _)| *verified),
        "every request is signed"
    );
    let mut per_key: HashMap<&str, usize> = HashMap::new();
    for (key, _, _) in &seen {
        *per_key.entry(key.as_str()).or_default() += 1;
    }
    assert_eq!(
        per_key.len(),
        ALERTS,
        "one distinct idempotency key per alert reached the receiver"
    );
    let ids: HashSet<i64> = seen.iter().map(|(_, _, id)| *id).collect();
    assert_eq!(ids.len(), ALERTS);
    // Redeliveries are only what was in flight when the worker died (at most `concurrency`).
    let duplicates = seen.len() - per_key.len();
    assert!(duplicates <= 4, "{duplicates} duplicates");
    assert_eq!(store.outbox_summary().unwrap().pending, 0);
}
