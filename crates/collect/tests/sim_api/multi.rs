//! Many orgs at once, one task each, none starving another: an org stuck on a tiny rate limit
//! does not slow down an org beside it.

use crate::common::*;
use collect::{Poller, PollerConfig};
use sim::api::SimConfig;
use std::time::Duration;
use tokio::sync::watch;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orgs_collect_concurrently_and_independently() {
    let slow = sim(SimConfig {
        seed: 41,
        users: 200,
        days: 2,
        logs_rate_limit: 2,
        ..SimConfig::default()
    })
    .await;
    let fast_a = sim(SimConfig {
        seed: 42,
        users: 200,
        days: 2,
        ..SimConfig::default()
    })
    .await;
    let fast_b = sim(SimConfig {
        seed: 43,
        users: 150,
        days: 2,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("idwatch.db");
    let mut config = poller_config(2);
    config.page_limit = 200;
    let slow_poller = Poller::new(
        &path,
        "slow",
        ssws_client(&slow, client_config(0.5)),
        PollerConfig {
            once: false,
            ..config.clone()
        },
    )
    .expect("poller");
    let slow_stats = slow_poller.subscribe();
    let (stop, shutdown) = watch::channel(false);
    let slow_task = tokio::spawn(slow_poller.run(shutdown.clone()));
    let fast = vec![
        Poller::new(
            &path,
            "a",
            ssws_client(&fast_a, client_config(0.5)),
            config.clone(),
        )
        .expect("poller"),
        Poller::new(&path, "b", ssws_client(&fast_b, client_config(0.5)), config).expect("poller"),
    ];
    let results = tokio::time::timeout(Duration::from_secs(60), collect::run_all(fast, shutdown))
        .await
        .expect("the fast orgs finish while the slow one waits for its budget");
    for (org, result) in &results {
        let stats = result.as_ref().expect("caught up");
        assert!(stats.caught_up, "{org}");
    }
    // The slow org got its one request a minute and is far from done.
    assert!(slow_stats.borrow().pages <= 2, "{:?}", *slow_stats.borrow());
    stop.send(true).expect("stop");
    slow_task.await.expect("joins").expect("stops cleanly");

    assert_exactly(&stored_uuids(&path, "a"), &fast_a.visible_uuids());
    assert_exactly(&stored_uuids(&path, "b"), &fast_b.visible_uuids());
    // Same store, separate orgs: nothing crossed over.
    let a: std::collections::HashSet<_> = stored_uuids(&path, "a").into_iter().collect();
    assert!(stored_uuids(&path, "b").iter().all(|u| !a.contains(u)));
}
