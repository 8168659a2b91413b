//! The simulator's Event Hook emitter (Okta's verification, eligible types only, batches,
//! duplicates, reordering) delivering into our receiver on loopback while the real collector
//! polls the same simulated org into the same store: the store ends with exactly the org's
//! event set, each event once, and every event a hook delivery was answered 200 for was
//! already stored.

use crate::harness::*;
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hooked_and_polled_events_of_the_simulator_merge_into_one_exact_set() {
    let served = serve(default_options).await;
    let sim = sim::api::SimServer::start(sim::api::SimConfig {
        users: 60,
        seed: 7,
        // A fixed, weekday-busy history: the same envelopes and duplicates in every run.
        now: Some(sim::busy_tuesday()),
        token: Some("sim-token".into()),
        hook: Some(sim::hooks::HookConfig {
            interval: Duration::from_millis(100),
            max_batch: 3,
            // A day of history, not Okta's hour: enough envelopes that the 30 % duplicate
            // rate fires (CI once failed on a quiet hour with the wall clock as anchor).
            backfill: Duration::from_secs(24 * 3600),
            duplicate_rate: 0.3,
            reorder_rate: 0.3,
            ..sim::hooks::HookConfig::new(served.url(&format!("/hooks/okta/{ORG}")), SECRET)
        }),
        ..sim::api::SimConfig::default()
    })
    .await
    .expect("simulator starts");
    wait_until(Duration::from_secs(20), "the hook verified", || {
        sim.hook_status().and_then(|s| s.verified).is_some()
    })
    .await;
    assert_eq!(sim.hook_status().and_then(|s| s.verified), Some(true));

    // The collector backfills the whole history meanwhile.
    let client = collect::OktaClient::new(
        &sim.base_url(),
        collect::Credentials::Ssws(collect::Secret::new(sim.token())),
        collect::ClientConfig::default(),
    )
    .expect("client");
    let poller = collect::Poller::new(
        &served.db(),
        ORG,
        client,
        collect::PollerConfig {
            poll_interval: Duration::from_millis(200),
            since: Some(sim::busy_tuesday() - chrono::Duration::days(2)),
            once: true,
            ..collect::PollerConfig::default()
        },
    )
    .expect("poller");
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let polled = tokio::time::timeout(Duration::from_secs(120), poller.run(shutdown))
        .await
        .expect("the collector catches up")
        .expect("the collector ran");
    assert!(polled.events > 0);

    // Every hook delivery of the backfill day has been answered.
    let expected: HashSet<String> = sim.visible_uuids().into_iter().collect();
    wait_until(Duration::from_secs(30), "hook deliveries answered", || {
        sim.hook_status().is_some_and(|s| {
            s.idle && !s.deliveries.is_empty() && s.deliveries.iter().all(|d| d.status.is_some())
        })
    })
    .await;
    let status = sim.hook_status().expect("hook status");
    assert!(
        status.deliveries.iter().all(|d| d.status == Some(200)),
        "{:?}",
        status.deliveries.iter().find(|d| d.status != Some(200))
    );
    assert!(
        status.deliveries.iter().any(|d| d.duplicate),
        "the emitter sent duplicates"
    );
    let hooked: HashSet<String> = status
        .deliveries
        .iter()
        .flat_map(|d| d.uuids.clone())
        .collect();
    assert!(hooked.len() >= 5, "{} hooked events", hooked.len());

    let stored = served.stored(ORG);
    let stored_set: HashSet<String> = stored.iter().cloned().collect();
    assert_eq!(stored.len(), stored_set.len(), "no event stored twice");
    assert_eq!(stored_set, expected, "exactly the org's events");
    assert!(hooked.is_subset(&stored_set));
    let stats = &served.receiver.stats()[ORG];
    let received: usize = status.deliveries.iter().map(|d| d.uuids.len()).sum();
    assert_eq!(stats.events_received as usize, received);
    assert!(
        stats.duplicates > 0,
        "polled-first and redelivered events were merged"
    );
    assert_eq!(stats.events_rejected, 0);
}
