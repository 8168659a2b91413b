//! The Slack sink against an HTTP capture server: the contract, the Block Kit shape as received,
//! and the retry policy end to end through the worker (429 Retry-After, 5xx, permanent 4xx).

use crate::common::*;
use std::time::Duration;
use store::alerts::DeliveryState;

fn slack_config(dir: &std::path::Path, url: &str, extra: &str) -> notify::AlertsConfig {
    let secret = secret_file(dir, "slack-url", url);
    config(&format!(
        "[alerts.delivery]\nretry_initial = \"100ms\"\nretry_max = \"400ms\"\npoll_interval = \"20ms\"\ntimeout = \"2s\"\n{extra}\n[[alerts.sinks]]\nname = \"soc-slack\"\ntype = \"slack\"\nwebhook_url = {{ file = {secret} }}\n"
    ))
}

#[tokio::test]
async fn slack_sink_meets_the_contract() {
    let dir = tempfile::TempDir::new().unwrap();
    let server = CaptureServer::start(None).await;
    let url = server.url("/services/T000/B000/s3cr3tpart");
    let sinks = slack_config(dir.path(), &url, "").build_sinks().unwrap();
    let dead = slack_config(
        dir.path(),
        &format!("http://127.0.0.1:{}/x", dead_port()),
        "",
    )
    .build_sinks()
    .unwrap();
    let received = || {
        server
            .requests()
            .into_iter()
            .map(|r| r.body)
            .collect::<Vec<_>>()
    };
    assert_sink_contract(
        &sinks["soc-slack"],
        Some("s3cr3tpart"),
        received,
        Some(&dead["soc-slack"]),
    )
    .await;

    let request = &server.requests()[0];
    assert_eq!(
        request.headers["content-type"],
        "application/json; charset=utf-8"
    );
    let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
    let blocks = body["attachments"][0]["blocks"].as_array().unwrap();
    assert_eq!(body["attachments"][0]["color"], "#E8712C");
    assert_eq!(blocks[0]["type"], "header");
    let kinds: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"header"));
    assert_eq!(kinds.last(), Some(&"context"));
    let text = request.body.as_str();
    for label in [
        "*What happened*",
        "*Who*",
        "*Where*",
        "*Why it matters*",
        "*Evidence*",
    ] {
        assert!(text.contains(label), "{label}: {text}");
    }
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after_and_every_attempt_is_recorded() {
    let (f, mut store) = store_fixture();
    let server = CaptureServer::start(None).await;
    server.script([
        Answer {
            status: 429,
            retry_after: Some("1".into()),
            body: "rate_limited".into(),
        },
        Answer::status(503, "upstream busy"),
    ]);
    let config = slack_config(f.dir.path(), &server.url("/services/x"), "");
    let raised = store
        .raise(&new_alert(f.org, 1), &config.routing(), chrono::Utc::now())
        .unwrap();
    assert_eq!(raised.queued, 1);
    let (stop, worker) = spawn_worker(&f.path, &config);
    wait_for(
        Duration::from_secs(15),
        "delivery after 429 and 503",
        || {
            let s = summary(&f.path);
            async move { s.sent == 1 }
        },
    )
    .await;
    stop.send(()).unwrap();
    let stats = worker.await.unwrap();
    assert_eq!((stats.attempts, stats.delivered, stats.retrying), (3, 1, 2));

    let deliveries = store.deliveries(raised.alert).unwrap();
    let (entry, attempts) = &deliveries[0];
    assert_eq!(entry.state, DeliveryState::Sent);
    let statuses: Vec<_> = attempts.iter().map(|a| (a.outcome, a.status)).collect();
    assert_eq!(
        statuses,
        [
            ("retry", Some(429)),
            ("retry", Some(503)),
            ("delivered", Some(200))
        ]
    );
    // The 429's retry was scheduled a full Retry-After (1 s) later, and honoured.
    let wait = attempts[0].next_attempt_at.unwrap() - attempts[0].at;
    assert!(wait >= chrono::Duration::milliseconds(1000), "{wait:?}");
    assert!(attempts[1].at >= attempts[0].next_attempt_at.unwrap());
    assert_eq!(attempts[0].error.as_deref(), Some("HTTP 429: rate_limited"));
    // The 503 backed off by the policy: the second failure doubles the 100 ms first back-off,
    // and jitter keeps 50-100% of it. (Measured from when the attempt started.)
    let backoff = attempts[1].next_attempt_at.unwrap() - attempts[1].at;
    assert!(
        backoff >= chrono::Duration::milliseconds(100)
            && backoff <= chrono::Duration::milliseconds(1200),
        "{backoff:?}"
    );
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_404_marks_the_delivery_failed_with_slacks_reason() {
    let (f, mut store) = store_fixture();
    let server = CaptureServer::start(None).await;
    server.script([Answer::status(404, "no_service")]);
    let config = slack_config(f.dir.path(), &server.url("/services/gone"), "");
    let raised = store
        .raise(&new_alert(f.org, 1), &config.routing(), chrono::Utc::now())
        .unwrap();
    let (stop, worker) = spawn_worker(&f.path, &config);
    wait_for(Duration::from_secs(10), "the permanent failure", || {
        let s = summary(&f.path);
        async move { s.failed == 1 }
    })
    .await;
    stop.send(()).unwrap();
    worker.await.unwrap();
    let deliveries = store.deliveries(raised.alert).unwrap();
    let (entry, attempts) = &deliveries[0];
    assert_eq!(entry.state, DeliveryState::Failed);
    assert_eq!(entry.last_error.as_deref(), Some("HTTP 404: no_service"));
    assert_eq!(attempts.len(), 1, "a permanent failure is not retried");
    assert_eq!(attempts[0].status, Some(404));
    assert_eq!(server.requests().len(), 1);
    // Nothing was dropped: requeueing after fixing the sink delivers it.
    store
        .requeue_failed(raised.alert, chrono::Utc::now())
        .unwrap();
    let (stop, worker) = spawn_worker(&f.path, &config);
    wait_for(Duration::from_secs(10), "delivery after requeue", || {
        let s = summary(&f.path);
        async move { s.sent == 1 }
    })
    .await;
    stop.send(()).unwrap();
    worker.await.unwrap();
}
