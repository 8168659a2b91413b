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
