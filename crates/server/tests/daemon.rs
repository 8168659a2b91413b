//! The `Daemon` in process, over real sockets: events arriving by Event Hook are evaluated by
//! streaming detection at once and their alerts delivered to a webhook peer; a graceful
//! restart resumes without re-alerting and without skipping; a sink that is down the whole
//! time gets every alert when it returns; the archive schedule seals what detection has
//! evaluated and applies retention. (Kill -9 is tested through the binary, in
//! `crates/idwatch/tests/serve_cli.rs`.)

use crate::harness::*;
use std::path::Path;
use std::time::Duration;

const WEBHOOK_SECRET: &str = "daemon-test-webhook-secret-0123";

#[derive(serde::Deserialize)]
struct File {
    #[serde(default)]
    server: server::ServerConfig,
    #[serde(default)]
    alerts: notify::AlertsConfig,
    #[serde(default)]
    detect: detect::DetectConfig,
}

fn settings(dir: &Path, sink_url: &str) -> server::DaemonSettings {
    std::fs::create_dir_all(dir.join("rules")).expect("rules dir");
    std::fs::write(dir.join("rules/mfa.yml"), RULE).expect("rule");
    std::fs::write(dir.join("hook-secret"), SECRET).expect("secret");
    std::fs::write(dir.join("webhook-secret"), WEBHOOK_SECRET).expect("secret");
    std::fs::write(dir.join("metrics-token"), METRICS_TOKEN).expect("token");
    let text = format!(
        r#"
[server]
listen = "127.0.0.1:0"
metrics_token = {{ file = "{dir}/metrics-token" }}
[server.hooks.{ORG}]
secret = {{ file = "{dir}/hook-secret" }}

[alerts.delivery]
poll_interval = "50ms"
retry_initial = "100ms"
retry_max = "200ms"
[[alerts.sinks]]
name = "soar"
type = "webhook"
url = "{sink_url}"
secret = {{ file = "{dir}/webhook-secret" }}

[detect]
builtin = false
rules = ["{dir}/rules"]
poll_interval = "100ms"
"#,
        dir = dir.display()
    );
    let file: File = toml::from_str(&text).expect("config parses");
    server::DaemonSettings {
        data_dir: dir.join("data"),
        store_path: dir.join("data/idwatch.db"),
        server: file.server,
        listen: None,
        alerts: file.alerts,
        detect: file.detect,
        detect_base: detect::BaseOptions::default(),
        audit: audit::AuditSchedule::default(),
        archive: None,
    }
}

struct Running {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<server::DaemonReport, server::DaemonError>>,
}

fn start(settings: server::DaemonSettings) -> Running {
    let daemon = server::Daemon::prepare(settings).expect("daemon prepares");
    let addr = daemon.local_addr().expect("bound");
    assert_eq!(daemon.orgs().hooked, vec![ORG.to_string()]);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(daemon.run(async move {
        let _ = stopped.await;
    }));
    Running { addr, stop, task }
}

impl Running {
    async fn stop(self) -> server::DaemonReport {
        let _ = self.stop.send(());
        self.task.await.expect("joined").expect("daemon ran")
    }

    async fn deliver(&self, client: &reqwest::Client, events: &[String]) {
        let response = client
            .post(format!("http://{}/hooks/okta/{ORG}", self.addr))
            .header("authorization", SECRET)
            .body(delivery("d", events))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
    }

    async fn metrics(&self, client: &reqwest::Client) -> String {
        client
            .get(format!("http://{}/metrics", self.addr))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .expect("sent")
            .text()
            .await
            .expect("text")
    }
}

fn alerts_in(db: &Path) -> usize {
    let store = store::Store::open_read_only(db).expect("store");
    store
        .list_alerts(&store::alerts::AlertFilter::default())
        .expect("alerts")
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hooked_events_raise_alerts_that_reach_the_sink_and_a_restart_neither_repeats_nor_skips() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let sink = capture().await;
    let client = reqwest::Client::new();
    let db = dir.path().join("data/idwatch.db");

    let daemon = start(settings(dir.path(), &sink.url()));
    let first: Vec<String> = (0..20).map(|n| firing_event(n, 1)).collect();
    for chunk in first.chunks(5) {
        daemon.deliver(&client, chunk).await;
    }
    wait_until(Duration::from_secs(30), "20 alerts delivered", || {
        sink.keys().len() == 20
    })
    .await;
    let metrics = daemon.metrics(&client).await;
    assert!(
        metrics.contains("idwatch_alerts_raised_total{org=\"acme\"} 20"),
        "{metrics}"
    );
    assert!(
        metrics.contains("idwatch_task_running{org=\"acme\",task=\"detect\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("idwatch_task_running{org=\"*\",task=\"deliver\"} 1"),
        "{metrics}"
    );
    let report = daemon.stop().await;
    assert!(report.unfinished.is_empty(), "{:?}", report.unfinished);

    // Restarted: Okta redelivers the first batch (a retry) and sends 5 new events.
    let daemon = start(settings(dir.path(), &sink.url()));
    let second: Vec<String> = (20..25).map(|n| firing_event(n, 1)).collect();
    daemon.deliver(&client, &first).await;
    daemon.deliver(&client, &second).await;
    wait_until(Duration::from_secs(30), "25 alerts delivered", || {
        sink.keys().len() == 25
    })
    .await;
    // Give a re-alert the chance to show up before judging that none happened.
    let settle = daemon.metrics(&client).await;
    assert!(
        settle.contains("idwatch_detection_backlog_events{org=\"acme\"} 0") || alerts_in(&db) == 25
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    daemon.stop().await;
    assert_eq!(alerts_in(&db), 25, "one alert per actor, none raised twice");
    assert!(
        sink.keys().values().all(|n| *n == 1),
        "a graceful restart delivers nothing twice: {:?}",
        sink.keys()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sink_down_for_the_whole_run_gets_every_alert_when_it_returns() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let sink = capture().await;
    sink.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let client = reqwest::Client::new();
    let db = dir.path().join("data/idwatch.db");

    let daemon = start(settings(dir.path(), &sink.url()));
    let events: Vec<String> = (0..12).map(|n| firing_event(n, 2)).collect();
    daemon.deliver(&client, &events).await;
    wait_until(Duration::from_secs(30), "12 alerts raised", || {
        alerts_in(&db) == 12
    })
    .await;
    // Attempts fail while the sink is down; nothing is delivered and nothing is given up.
    wait_until(Duration::from_secs(30), "failed attempts recorded", || {
        let store = store::Store::open_read_only(&db).expect("store");
        store.outbox_summary().expect("summary").pending == 12
            && store
                .list_alerts(&store::alerts::AlertFilter::default())
                .expect("alerts")
                .iter()
                .all(|a| {
                    store
                        .deliveries(a.id)
                        .map(|d| d.iter().all(|(e, _)| e.attempts >= 1))
                        .unwrap_or(false)
                })
    })
    .await;
    daemon.stop().await;
    assert_eq!(sink.requests(), 0);

    // The sink comes back; a new daemon run delivers all of them.
    sink.down.store(false, std::sync::atomic::Ordering::SeqCst);
    let daemon = start(settings(dir.path(), &sink.url()));
    wait_until(Duration::from_secs(30), "12 alerts delivered", || {
        sink.keys().len() == 12
    })
    .await;
    daemon.stop().await;
    let store = store::Store::open_read_only(&db).expect("store");
    let summary = store.outbox_summary().expect("summary");
    assert_eq!((summary.sent, summary.pending, summary.failed), (12, 0, 0));
}

/// Every event of the org in hot ∪ archive, by uuid, and how many are in each tier.
fn stored_everywhere(db: &Path, root: &Path) -> (Vec<String>, usize, usize) {
    let store = store::Store::open_read_only(db).expect("store");
    let org = store.org(ORG).expect("org");
    let archived: i64 = store
        .live_segments(org, None, None)
        .expect("segments")
        .iter()
        .map(|s| s.record.rows)
        .sum();
    let mut uuids = Vec::new();
    archive::Tiers::new(&store, root)
        .query(org, &store::EventQuery::default(), &mut |e| {
            uuids.push(e.event.uuid().to_string());
            std::ops::ControlFlow::Continue(())
        })
        .expect("query both tiers");
    uuids.sort();
    let hot = uuids.len() - archived as usize;
    (uuids, hot, archived as usize)
}

/// `firing_event` published `hours_ago` before now.
fn firing_event_at(n: usize, hours_ago: i64) -> String {
    let published = (chrono::Utc::now() - chrono::Duration::hours(hours_ago))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let event = firing_event(n, 3);
    let start = event.find("\"published\":\"").expect("published") + 13;
    format!("{}{published}{}", &event[..start], &event[start + 24..])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_archive_schedule_seals_evaluated_events_and_retention_drops_old_days() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let sink = capture().await;
    let client = reqwest::Client::new();
    let db = dir.path().join("data/idwatch.db");
    let root = dir.path().join("data/archive");
    let day = 24;
    let with_archive = |retain_days: Option<i64>| {
        let mut s = settings(dir.path(), &sink.url());
        s.server.schedules.archive_every = notify::duration::ConfigDuration(Duration::from_secs(1));
        s.archive = Some(server::ArchiveSchedule {
            root: root.clone(),
            seal_older_than_micros: 7 * 86_400_000_000,
            retain_micros: retain_days.map(|d| d * 86_400_000_000),
        });
        s
    };

    // 10 events 40 days old, 10 ten days old, 5 from the last hour.
    let mut events: Vec<String> = (0..10).map(|n| firing_event_at(n, 40 * day)).collect();
    events.extend((10..20).map(|n| firing_event_at(n, 10 * day)));
    events.extend((20..25).map(|n| firing_event_at(n, 1)));
    let mut expected: Vec<String> = events.iter().map(|e| uuid_of(e)).collect();
    expected.sort();

    let daemon = start(with_archive(None));
    // Three deliveries, so three hot blocks (the store seals whole blocks, by their newest
    // event).
    for chunk in [&events[..10], &events[10..20], &events[20..]] {
        daemon.deliver(&client, chunk).await;
    }
    // Detection evaluates all 25 (sealing never takes what it has not evaluated), and the
    // schedule moves the 20 older than 7 days into the archive.
    wait_until(Duration::from_secs(30), "25 alerts raised", || {
        alerts_in(&db) == 25
    })
    .await;
    wait_until(Duration::from_secs(30), "20 events sealed", || {
        stored_everywhere(&db, &root).2 == 20
    })
    .await;
    let (uuids, hot, archived) = stored_everywhere(&db, &root);
    assert_eq!((hot, archived), (5, 20));
    assert_eq!(
        uuids, expected,
        "sealing neither lost nor duplicated an event"
    );
    let metrics = daemon.metrics(&client).await;
    assert!(
        metrics.contains("task=\"archive\""),
        "the archive task is on the board: {metrics}"
    );
    daemon.stop().await;

    // With `retain = "30d"` the day 40 days ago goes, recorded as a checkpoint.
    let daemon = start(with_archive(Some(30)));
    wait_until(Duration::from_secs(30), "the old day dropped", || {
        stored_everywhere(&db, &root).2 == 10
    })
    .await;
    daemon.stop().await;
    let (uuids, hot, archived) = stored_everywhere(&db, &root);
    assert_eq!((uuids.len(), hot, archived), (15, 5, 10));
    let mut store = store::Store::open(&db).expect("store");
    let verification = archive::verify(&mut store, &root, None, None).expect("verify runs");
    assert!(verification.is_intact(), "{verification:?}");
    assert_eq!(verification.archive[0].retained_events, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_org_imported_while_the_daemon_runs_gets_detection_without_a_restart() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let sink = capture().await;
    let db = dir.path().join("data/idwatch.db");
    let mut s = settings(dir.path(), &sink.url());
    s.server.schedules.org_check = notify::duration::ConfigDuration(Duration::from_millis(200));
    let daemon = start(s);
    // Another process (`idwatch import --org newco`) stores an org the daemon has never seen.
    {
        let mut store = store::Store::open(&db).expect("store");
        let org = store.ensure_org("newco").expect("org");
        let events: Vec<okta::LogEvent> = (0..7)
            .map(|n| okta::LogEvent::parse(&firing_event(n, 9)).expect("event"))
            .collect();
        store.commit_batch(org, &events, "import").expect("commit");
    }
    wait_until(Duration::from_secs(30), "7 alerts for newco", || {
        let store = store::Store::open_read_only(&db).expect("store");
        store
            .list_alerts(&store::alerts::AlertFilter::default())
            .expect("alerts")
            .iter()
            .filter(|a| a.org_name == "newco")
            .count()
            == 7
    })
    .await;
    wait_until(Duration::from_secs(30), "7 deliveries", || {
        sink.keys().len() == 7
    })
    .await;
    let report = daemon.stop().await;
    assert!(
        report
            .tasks
            .contains_key(&("newco".to_string(), "detect".to_string())),
        "{:?}",
        report.tasks.keys()
    );
}
