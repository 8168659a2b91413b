//! The rate budget against the simulator's own accounting: with share 50 % the collector never
//! sends more than half the bucket in any 60-second span, with share 100 % never more than the
//! bucket (and so never meets a 429), and in both cases it does use what it may.

use crate::common::*;
use collect::Poller;
use sim::api::SimConfig;
use std::time::Duration;
use tokio::sync::watch;

const WINDOW: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_than_the_share_of_the_bucket_in_any_window() {
    // Two orgs run side by side (one test, one wait): share 50 % and 100 % of 20/min.
    let half = sim(SimConfig {
        seed: 31,
        users: 300,
        days: 3,
        logs_rate_limit: 20,
        ..SimConfig::default()
    })
    .await;
    let full = sim(SimConfig {
        seed: 32,
        users: 300,
        days: 3,
        logs_rate_limit: 20,
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("idwatch.db");
    let mut config = poller_config(3);
    config.once = false;
    // Small pages: the backfill needs far more requests than the budget allows.
    config.page_limit = 20;
    let p_half = Poller::new(
        &path,
        "half",
        ssws_client(&half, client_config(0.5)),
        config.clone(),
    )
    .expect("poller");
    let p_full = Poller::new(
        &path,
        "full",
        ssws_client(&full, client_config(1.0)),
        config,
    )
    .expect("poller");
    let (stop, shutdown) = watch::channel(false);
    let t_half = tokio::spawn(p_half.run(shutdown.clone()));
    let t_full = tokio::spawn(p_full.run(shutdown));
    // Long enough to cross a window boundary with the budget exhausted on both sides of it.
    tokio::time::sleep(Duration::from_secs(75)).await;
    stop.send(true).expect("stop");
    let s_half = t_half.await.expect("joins").expect("stops");
    let s_full = t_full.await.expect("joins").expect("stops");

    let a_half = half.accounting();
    let a_full = full.accounting();
    let max_half = a_half.max_in_window("/api/v1/logs", WINDOW);
    let max_full = a_full.max_in_window("/api/v1/logs", WINDOW);
    assert!(
        max_half <= 10,
        "share 50 %: {max_half} requests in one window"
    );
    assert!(
        max_full <= 20,
        "share 100 %: {max_full} requests in one window"
    );
    // It used its budget (the assertions above could fail), and needed no 429 to learn it.
    assert!(max_half >= 9, "share 50 % used only {max_half} of 10");
    assert!(max_full >= 19, "share 100 % used only {max_full} of 20");
    let total_half = a_half.bucket("/api/v1/logs").count();
    assert!(total_half >= 19, "two windows' worth: {total_half}");
    assert_eq!(a_half.count_status("/api/v1/logs", 429), 0);
    assert_eq!(a_full.count_status("/api/v1/logs", 429), 0);
    assert!(
        !s_half.caught_up && !s_full.caught_up,
        "the budget, not the data, was the limit"
    );
}
