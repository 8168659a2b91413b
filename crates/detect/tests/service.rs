//! The async `DetectService`: woken by the ingest signal, hands alerts on, commits on shutdown.

use crate::common::*;
use detect::{DetectService, DetectorOptions, StreamSettings};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_signal_wakes_detection_and_shutdown_commits() {
    let fx = Fixture::new("");
    fx.ingest("acme", &[benign(1, 0)]);
    let options = DetectorOptions {
        // A long poll: only the ingest signal can make this test finish in time.
        settings: StreamSettings {
            poll_interval: Duration::from_secs(3600),
            ..StreamSettings::default()
        },
        ..DetectorOptions::default()
    };
    let service = DetectService::open(&fx.store_path(), "acme", fx.pack("acme"), options).unwrap();
    let ingest = service.ingest_signal();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let service = service.with_alert_channel(tx);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(service.run(async move {
        let _ = stopped.await;
    }));

    // Give the service time to catch up and go to sleep, then store an alerting event.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let path = fx.store_path();
    tokio::task::spawn_blocking(move || {
        ingest_at(
            &path,
            "acme",
            &[grant(2, 10, "eve@example.com", "203.0.113.5")],
        )
    })
    .await
    .unwrap();
    ingest.notify_one();
    let raised = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("an alert within 20 s of the ingest signal")
        .expect("channel open");
    assert_eq!(raised.detection.matched.rule_id, "t-admin-grant");
    assert_eq!(raised.org, "acme");

    stop.send(()).unwrap();
    let stats = task.await.unwrap().unwrap();
    assert_eq!(stats.events, 2);
    assert_eq!(stats.alerts, 1);
    let store = fx.store();
    let org = store.org("acme").unwrap();
    assert_eq!(
        store.detection_state(org).unwrap().unwrap().position,
        store.last_seq(org).unwrap()
    );
}
