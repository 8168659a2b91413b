//! `idwatch bench collect`: backfill throughput against an in-process simulator over loopback
//! HTTP, as a ratio of the rate-limit bound (requests/min × 1000 events per page / 60).
//!
//! Two runs on the same generated org, in the same process:
//! 1. the baseline, unthrottled (a limit no client reaches): the collector's own ceiling on
//!    this machine (HTTP, JSON, SQLite), in events/s;
//! 2. throttled at `--rate-limit` requests/min with share `--share`: the steady-state rate over
//!    `--windows` whole windows, measured from the simulator's own request log as
//!    (windows × limit × share pages × 1000 events) / (arrival of the first request of window
//!    `windows + 1` − arrival of the first request), and the largest number of requests the
//!    simulator saw in any 60 s span, and its 429s.

use crate::config::Context;
use anyhow::Context as _;
use collect::{ClientConfig, Credentials, OktaClient, Poller, PollerConfig, RateConfig, Secret};
use sim::api::{SimConfig, SimServer};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// Requests per minute of the logs bucket in the throttled run.
    pub rate_limit: u32,
    /// Whole windows to measure.
    pub windows: u32,
    /// Share of the bucket the collector may use.
    pub share: f64,
    /// Users in the simulated org.
    pub users: usize,
    /// Seed of the org.
    pub seed: u64,
    /// Directory for the stores (a temporary one by default).
    pub dir: Option<std::path::PathBuf>,
}

fn client_for(sim: &SimServer, share: f64) -> anyhow::Result<OktaClient> {
    Ok(OktaClient::new(
        &sim.base_url(),
        Credentials::Ssws(Secret::new(sim.token())),
        ClientConfig {
            rate: RateConfig {
                share,
                ..RateConfig::default()
            },
            ..ClientConfig::default()
        },
    )?)
}

pub fn run(_ctx: &Context, options: Options) -> anyhow::Result<()> {
    let per_window = ((f64::from(options.rate_limit) * options.share).floor() as usize).max(1);
    let pages_needed = per_window * (options.windows as usize + 1) + 1;
    // About 12 events per user per day in the simulator; generate enough for every page full.
    let events_needed = pages_needed * 1000;
    let per_day = (options.users as f64 * 11.0).max(1.0);
    let days = ((events_needed as f64 / per_day).ceil() as u32 + 1).min(85);
    let dir = match &options.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("idwatch-bench-collect-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let sim_config = |limit: u32| SimConfig {
        seed: options.seed,
        users: options.users,
        days,
        logs_rate_limit: limit,
        ..SimConfig::default()
    };
    println!(
        "idwatch bench collect: {} users, {days} days, limit {}/min, share {}, {} windows, {} cores",
        options.users,
        options.rate_limit,
        options.share,
        options.windows,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    runtime.block_on(async {
        // 1. Baseline: unthrottled backfill of the whole org.
        let sim = SimServer::start(sim_config(10_000_000)).await?;
        let total = sim.visible_uuids().len();
        if total < events_needed {
            anyhow::bail!(
                "the org has {total} events, {events_needed} are needed: raise --users"
            );
        }
        let path = dir.join("baseline.db");
        remove_store(&path);
        let poller = Poller::new(
            &path,
            "bench",
            client_for(&sim, 1.0)?,
            PollerConfig {
                once: true,
                backfill: chrono::Duration::days(i64::from(days) + 1),
                ..PollerConfig::default()
            },
        )?;
        let started = Instant::now();
        let (_stop, shutdown) = watch::channel(false);
        let stats = poller.run(shutdown).await?;
        let elapsed = started.elapsed().as_secs_f64();
        let ceiling = stats.events as f64 / elapsed;
        println!(
            "baseline (unthrottled): {} events in {elapsed:.1} s = {ceiling:.0} events/s ({} requests)",
            stats.events, stats.requests
        );
        sim.shutdown().await;

        // 2. Throttled.
        let sim = SimServer::start(sim_config(options.rate_limit)).await?;
        let path = dir.join("throttled.db");
        remove_store(&path);
        let poller = Poller::new(
            &path,
            "bench",
            client_for(&sim, options.share)?,
            PollerConfig {
                once: false,
                backfill: chrono::Duration::days(i64::from(days) + 1),
                ..PollerConfig::default()
            },
        )?;
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(poller.run(shutdown));
        let target = per_window * options.windows as usize;
        let deadline = Instant::now() + Duration::from_secs(u64::from(options.windows + 2) * 60);
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if sim.accounting().bucket("/api/v1/logs").count() > target
                || Instant::now() > deadline
            {
                break;
            }
        }
        let _ = stop.send(true);
        let stats = task.await.context("poller task")??;
        let accounting = sim.accounting();
        let times: Vec<Duration> = accounting
            .bucket("/api/v1/logs")
            .map(|r| r.received)
            .collect();
        if times.len() <= target {
            anyhow::bail!("only {} requests in {} windows", times.len(), options.windows);
        }
        let span = (times[target] - times[0]).as_secs_f64();
        let events = (target * 1000) as f64;
        let rate = events / span;
        let bound = f64::from(options.rate_limit) * 1000.0 / 60.0;
        let max_in_window = accounting.max_in_window("/api/v1/logs", Duration::from_secs(60));
        println!(
            "throttled: {target} full pages in {span:.1} s = {rate:.0} events/s; bound {bound:.0} events/s"
        );
        println!(
            "ratio to the rate-limit bound: {:.3} (share {}: goal {:.2}); ceiling / bound = {:.1}",
            rate / bound,
            options.share,
            0.9 * options.share,
            ceiling / bound
        );
        println!(
            "most requests in any 60 s span: {max_in_window} (allowed {per_window}); 429s: {}; events stored: {}",
            accounting.count_status("/api/v1/logs", 429),
            stats.events
        );
        Ok(())
    })?;
    if options.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

fn remove_store(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(std::path::PathBuf::from(p));
    }
}
