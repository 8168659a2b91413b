//! Durability over a real store: a sink that is down for the whole time alerts are raised gets
//! every one of them once it comes back, each exactly once per idempotency key at the receiver;
//! and the outbox row is created in the same transaction as the alert.

use crate::common::*;
use std::collections::HashSet;
use std::time::Duration;

const SECRET: &str = "durability-secret-0123456789";

#[tokio::test]
async fn alerts_raised_while_the_sink_is_down_are_delivered_when_it_returns() {
    let (f, mut store) = store_fixture();
    let port = dead_port();
    let secret = secret_file(f.dir.path(), "s", SECRET);
    let config = config(&format!(
        "[alerts.delivery]\npoll_interval = \"20ms\"\nretry_initial = \"50ms\"\nretry_max = \"300ms\"\ntimeout = \"1s\"\nconcurrency = 4\n[[alerts.sinks]]\nname = \"soar\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\nsecret = {{ file = {secret} }}\n"
    ));
    let (stop, worker) = spawn_worker(&f.path, &config);
    let routing = config.routing();
    for i in 0..25 {
        let raised = store
            .raise(&new_alert(f.org, i), &routing, chrono::Utc::now())
            .unwrap();
        assert_eq!(raised.queued, 1);
    }
    // Every row is tried and fails while nothing listens; the failures are recorded.
    wait_for(
        Duration::from_secs(20),
        "every row to fail at least twice",
        || {
            let store = store::Store::open(&f.path).unwrap();
            let ok = (1..=25).all(|id| {
                store
                    .deliveries(store::alerts::AlertId(id))
                    .unwrap()
                    .iter()
                    .all(|(e, a)| e.attempts >= 2 && a.iter().all(|x| x.outcome == "retry"))
            });
            async move { ok }
        },
    )
    .await;
    assert_eq!(summary(&f.path).pending, 25);
    let attempts = store.deliveries(store::alerts::AlertId(1)).unwrap();
    let error = attempts[0].1[0].error.clone().unwrap();
    assert!(error.starts_with("connection failed"), "{error}");

    // The sink comes back on the same port.
    let server = CaptureServer::start_on(
        format!("127.0.0.1:{port}").parse().unwrap(),
        Some(SECRET.as_bytes()),
        Duration::ZERO,
    )
    .await;
    wait_for(Duration::from_secs(20), "every alert delivered", || {
        let s = summary(&f.path);
        async move { s.sent == 25 }
    })
    .await;
    stop.send(()).unwrap();
    worker.await.unwrap();

    let requests = server.requests();
    assert!(requests.iter().all(|r| r.verified == Some(true)));
    let keys: HashSet<String> = requests
        .iter()
        .map(|r| r.headers["idempotency-key"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 25, "one distinct key per alert");
    let ids: HashSet<i64> = requests
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["alert"]["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, (1..=25).collect::<HashSet<_>>());
}

#[tokio::test]
async fn a_sink_added_for_an_org_only_gets_that_orgs_alerts_at_its_level() {
    let (f, mut store) = store_fixture();
    let globex = store.ensure_org("globex").unwrap();
    let server = CaptureServer::start(None).await;
    let url = secret_file(f.dir.path(), "u", &server.url("/s"));
    let config = config(&format!(
        "[alerts.delivery]\npoll_interval = \"20ms\"\n[[alerts.sinks]]\nname = \"globex-critical\"\ntype = \"slack\"\norgs = [\"globex\"]\nmin_level = \"critical\"\nwebhook_url = {{ file = {url} }}\n"
    ));
    let routing = config.routing();
    let mut high = new_alert(globex, 1);
    high.level = store::alerts::AlertLevel::High;
    assert_eq!(
        store
            .raise(&high, &routing, chrono::Utc::now())
            .unwrap()
            .queued,
        0
    );
    let mut critical_acme = new_alert(f.org, 2);
    critical_acme.level = store::alerts::AlertLevel::Critical;
    assert_eq!(
        store
            .raise(&critical_acme, &routing, chrono::Utc::now())
            .unwrap()
            .queued,
        0
    );
    let mut critical = new_alert(globex, 3);
    critical.level = store::alerts::AlertLevel::Critical;
    let raised = store
        .raise(&critical, &routing, chrono::Utc::now())
        .unwrap();
    assert_eq!(raised.queued, 1);
    let sinks = config.build_sinks().unwrap();
    let worker = notify::DeliveryWorker::new(
        store::Store::open(&f.path).unwrap(),
        sinks,
        notify::WorkerOptions::from_config(&config),
    );
    let stats = worker.run_once().await.unwrap();
    assert_eq!((stats.attempts, stats.delivered), (1, 1));
    assert_eq!(server.requests().len(), 1);
    assert!(server.requests()[0].body.contains(":red_circle: CRITICAL"));
}
