//! Backfill and polling: exactly the org's events, restart from the cursor, cursor fallback.

use crate::common::*;
use collect::Poller;
use sim::api::SimConfig;
use tokio::sync::watch;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_stores_exactly_the_orgs_events() {
    let sim = sim(SimConfig {
        seed: 11,
        users: 200,
        days: 2,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("idwatch.db");
    let client = ssws_client(&sim, client_config(1.0));
    let poller = Poller::new(&path, "acme", client, poller_config(2)).expect("poller");
    let (_stop, shutdown) = watch::channel(false);
    let stats = poller.run(shutdown).await.expect("caught up");
    let stored = stored_uuids(&path, "acme");
    let expected = sim.visible_uuids();
    assert!(expected.len() > 3000, "several pages: {}", expected.len());
    assert_exactly(&stored, &expected);
    assert_eq!(stats.events as usize, expected.len());
    assert!(stats.caught_up);
}

/// Faults on (429 storms, 500, 503, slow answers, resets, truncated bodies) and late events in a
/// live org whose clock jumps ahead: the store ends with exactly the org's events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_late_events_lose_and_duplicate_nothing() {
    let sim = sim(SimConfig {
        seed: 23,
        users: 200,
        days: 1,
        live: true,
        faults: 0.2,
        logs_rate_limit: 1200,
        late: std::time::Duration::from_secs(300),
        late_fraction: 0.05,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("idwatch.db");
    let client = ssws_client(&sim, client_config(1.0));
    let mut config = poller_config(1);
    config.once = false;
    config.page_limit = 100;
    let poller = Poller::new(&path, "acme", client, config).expect("poller");
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(poller.run(shutdown));
    // An hour of live activity arrives in two-minute jumps while the poller runs; late events
    // become visible after events published later than them.
    for _ in 0..30 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        sim.skip_time(std::time::Duration::from_secs(120));
    }
    // Past the late delay: every event the org holds now becomes visible.
    let expected: std::collections::HashSet<String> = sim.event_uuids().into_iter().collect();
    sim.skip_time(std::time::Duration::from_secs(600));
    // Until every event is in and the seeded fault draws have covered four kinds (the
    // poller keeps polling meanwhile: which kinds come first depends on the request count).
    let fault_kinds = || {
        sim.accounting()
            .records
            .iter()
            .filter_map(|r| r.fault.clone())
            .collect::<std::collections::HashSet<_>>()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let stored: std::collections::HashSet<String> =
            stored_uuids(&path, "acme").into_iter().collect();
        let done = expected.is_subset(&stored) && fault_kinds().len() >= 4;
        if done || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    stop.send(true).expect("poller listening");
    let stats = task.await.expect("joins").expect("poller ends cleanly");
    // Drain what became visible meanwhile; the org keeps living while we compare.
    let visible_before = sim.visible_uuids();
    let drain = Poller::new(
        &path,
        "acme",
        ssws_client(&sim, client_config(1.0)),
        poller_config(1),
    )
    .expect("poller");
    let (_stop, shutdown) = watch::channel(false);
    drain.run(shutdown).await.expect("drained");
    let visible_after = sim.visible_uuids();
    let stored = stored_uuids(&path, "acme");
    let expected: Vec<String> = expected.into_iter().collect();
    assert_between(&stored, &expected, &visible_after);
    assert_between(&stored, &visible_before, &visible_after);

    // The faults really happened, and the poller saw them.
    let faults = fault_kinds();
    assert!(faults.len() >= 4, "faults injected: {faults:?}");
    assert!(stats.retries > 0 && stats.rate_limited > 0, "{stats:?}");
    // And late events really arrived after later-published ones.
    let store = store::Store::open_read_only(&path).expect("store");
    let org = store.org("acme").expect("org");
    let events = store.read_after(org, 0, usize::MAX).expect("read");
    let mut newest = i64::MIN;
    let mut out_of_order = 0;
    for e in &events {
        let p = e.event.published_micros();
        if p < newest.saturating_sub(60_000_000) {
            out_of_order += 1;
        }
        newest = newest.max(p);
    }
    assert!(out_of_order > 0, "no event arrived a minute late");
}

/// A poller stopped midway and a new one (new process state, same store) resume exactly from
/// the stored cursor: the first request of the second run is the cursor, nothing is re-read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_exactly_from_the_cursor() {
    let sim = sim(SimConfig {
        seed: 5,
        users: 200,
        days: 2,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("idwatch.db");
    let mut config = poller_config(2);
    config.page_limit = 200;
    let poller = Poller::new(
        &path,
        "acme",
        ssws_client(&sim, client_config(1.0)),
        config.clone(),
    )
    .expect("poller");
    let mut progress = poller.subscribe();
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(poller.run(shutdown));
    while progress.borrow().pages < 5 {
        progress.changed().await.expect("poller running");
    }
    stop.send(true).expect("stop");
    let first = task.await.expect("joins").expect("stops cleanly");
    assert!(!first.caught_up, "stopped midway");
    let stored_first = stored_uuids(&path, "acme").len();

    let cursor = {
        let store = store::Store::open_read_only(&path).expect("store");
        let org = store.org("acme").expect("org");
        store
            .collector_state(org)
            .expect("state")
            .and_then(|s| s.next_url)
            .expect("a cursor")
    };
    let requests_before = sim.accounting().records.len();
    let poller =
        Poller::new(&path, "acme", ssws_client(&sim, client_config(1.0)), config).expect("poller");
    let (_stop, shutdown) = watch::channel(false);
    let second = poller.run(shutdown).await.expect("caught up");
    let accounting = sim.accounting();
    let first_request = &accounting.records[requests_before];
    assert_eq!(
        format!("{}{}", sim.base_url(), first_request.uri),
        cursor,
        "resumed from the stored cursor"
    );
    assert_eq!(second.duplicates, 0, "nothing re-read");
    assert!(stored_first > 0 && second.events > 0);
    assert_exactly(&stored_uuids(&path, "acme"), &sim.visible_uuids());
}

/// A cursor Okta rejects (400 on `after`) is rebuilt from `since = newest − overlap`; the
/// overlap is dropped by dedupe and events added since are collected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_cursor_falls_back_to_since_with_dedupe() {
    let sim = sim(SimConfig {
        seed: 9,
        users: 300,
        days: 1,
        live: true,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("idwatch.db");
    let config = poller_config(1);
    let poller = Poller::new(
        &path,
        "acme",
        ssws_client(&sim, client_config(1.0)),
        config.clone(),
    )
    .expect("poller");
    let (_stop, shutdown) = watch::channel(false);
    poller.run(shutdown).await.expect("caught up");

    // The cursor goes bad (as an expired Okta cursor would), and the org moves on.
    {
        let mut store = store::Store::open(&path).expect("store");
        let org = store.org("acme").expect("org");
        store.reset_cursor(org, "test").expect("reset");
        let bad = format!(
            "{}/api/v1/logs?sortOrder=ASCENDING&limit=1000&after=1700000000000_999999999",
            sim.base_url()
        );
        store.start_cursor(org, &bad).expect("bad cursor");
    }
    sim.skip_time(std::time::Duration::from_secs(1800));

    let poller =
        Poller::new(&path, "acme", ssws_client(&sim, client_config(1.0)), config).expect("poller");
    let (_stop, shutdown) = watch::channel(false);
    let stats = poller
        .run(shutdown)
        .await
        .expect("caught up after fallback");
    assert_eq!(stats.cursor_resets, 1, "{stats:?}");
    assert!(stats.events > 0, "events of the last half hour collected");
    assert!(stats.duplicates > 0, "the overlap was re-read and dropped");
    assert_exactly(&stored_uuids(&path, "acme"), &sim.visible_uuids());
}
