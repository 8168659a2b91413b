//! `idwatch collect [--org NAME ... | --all] [--backfill 90d | --since TIME] [--once]`: polls each org's System
//! Log into the store, one task per org (see `collect::Poller`): the cursor is committed with
//! every page, so Ctrl-C, SIGTERM or kill -9 lose nothing and the next run resumes from it.
//! `--once` collects until every org is caught up, then exits 0. On a terminal, a progress bar
//! per org shows how far the backfill has come, with an ETA.

use crate::config::Context;
use crate::exit::Exit;
use anyhow::Context as _;
use collect::{ClientConfig, Poller, PollerConfig, PollerStats, RateConfig};
use std::io::IsTerminal;
use std::time::Duration;
use tokio::sync::watch;

/// Arguments of `idwatch collect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Org(s) to collect (repeatable) [default: default_org, or the only org].
    #[arg(long = "org", value_name = "NAME")]
    orgs: Vec<String>,
    /// Collect every org added with `idwatch org add`.
    #[arg(long, conflicts_with = "orgs")]
    all: bool,
    /// How far back an org without a cursor starts (Okta keeps 90 days).
    #[arg(long, value_name = "DURATION", default_value = "7d")]
    backfill: String,
    /// Where an org without a cursor starts instead of now − backfill: RFC 3339 or a date
    /// (e.g. the day an incident began). Okta refuses a start older than it keeps.
    #[arg(long, value_name = "TIME", conflicts_with = "backfill")]
    since: Option<String>,
    /// Stop when every org is caught up (exit 0) instead of polling forever.
    #[arg(long)]
    once: bool,
    /// Share of each rate-limit bucket idwatch may use (other tools share it).
    #[arg(long, default_value_t = 0.5, value_name = "FRACTION")]
    share: f64,
    /// Sleep between polls once caught up.
    #[arg(long, default_value = "20s", value_name = "DURATION")]
    poll_interval: String,
    /// Events per page for new cursors (1–1000).
    #[arg(long, default_value_t = 1000)]
    page_limit: u32,
    /// No progress bars, even on a terminal.
    #[arg(long)]
    no_progress: bool,
}

fn duration_arg(flag: &str, text: &str) -> anyhow::Result<chrono::Duration> {
    crate::time_arg::parse_duration(text.trim()).ok_or_else(|| {
        Exit::bad_input(format!(
            "{flag} `{text}` is not a duration (e.g. 90d, 12h, 30m, 45s)"
        ))
    })
}

/// The orgs a command names: the flags, `--all`, `default_org`, or the only one there is.
pub fn select_orgs(ctx: &Context, orgs: &[String], all: bool) -> anyhow::Result<Vec<String>> {
    let store = ctx.open_store()?;
    let known: Vec<String> = store.sources()?.into_iter().map(|s| s.org).collect();
    if all {
        if known.is_empty() {
            return Err(Exit::bad_input(
                "no orgs to collect: add one with `idwatch org add NAME --url ... --token-env VAR`",
            ));
        }
        return Ok(known);
    }
    let chosen = if !orgs.is_empty() {
        orgs.to_vec()
    } else if let Some(default) = &ctx.config.default_org {
        vec![default.clone()]
    } else if known.len() == 1 {
        known.clone()
    } else {
        return Err(Exit::bad_input(format!(
            "which org? pass --org NAME or --all (orgs: {})",
            if known.is_empty() {
                "none yet".to_string()
            } else {
                known.join(", ")
            }
        )));
    };
    for org in &chosen {
        if !known.contains(org) {
            return Err(Exit::bad_input(format!(
                "no org `{org}` (see `idwatch org list`; add it with `idwatch org add`)"
            )));
        }
    }
    Ok(chosen)
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    if !(args.share > 0.0 && args.share <= 1.0) {
        return Err(Exit::bad_input(format!(
            "--share {} must be in (0, 1]",
            args.share
        )));
    }
    if !(1..=1000).contains(&args.page_limit) {
        return Err(Exit::bad_input("--page-limit must be 1–1000"));
    }
    let backfill = duration_arg("--backfill", &args.backfill)?;
    if backfill > chrono::Duration::days(180) {
        return Err(Exit::bad_input(
            "--backfill is at most 180d (Okta refuses older `since`; it keeps 90 days)",
        ));
    }
    let since = args
        .since
        .as_deref()
        .map(|text| crate::time_arg::parse_time_arg(text, chrono::Utc::now()))
        .transpose()
        .map_err(|e| Exit::bad_input(format!("--since: {e}")))?;
    let poll_interval = duration_arg("--poll-interval", &args.poll_interval)?
        .to_std()
        .map_err(|_| Exit::bad_input("--poll-interval must be positive"))?;
    let orgs = select_orgs(ctx, &args.orgs, args.all)?;
    let client_config = ClientConfig {
        rate: RateConfig {
            share: args.share,
            ..RateConfig::default()
        },
        ..ClientConfig::default()
    };
    let poller_config = PollerConfig {
        poll_interval,
        page_limit: args.page_limit,
        backfill,
        since,
        once: args.once,
        ..PollerConfig::default()
    };
    let path = ctx.store_path();
    let mut pollers = Vec::new();
    for org in &orgs {
        let poller = Poller::from_store(&path, org, client_config.clone(), poller_config.clone())
            .map_err(|e| Exit::bad_input(e.to_string()))?;
        pollers.push(poller);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    let results = runtime.block_on(async move {
        let (stop, shutdown) = watch::channel(false);
        let receivers: Vec<watch::Receiver<PollerStats>> =
            pollers.iter().map(Poller::subscribe).collect();
        tokio::spawn(async move {
            wait_for_signal().await;
            let _ = stop.send(true);
        });
        let progress = show_progress.then(|| tokio::spawn(show_bars(receivers)));
        let results = collect::run_all(pollers, shutdown).await;
        if let Some(task) = progress {
            let _ = task.await;
        }
        results
    });
    let mut failures = Vec::new();
    for (org, result) in results {
        match result {
            Ok(stats) => println!("{}", summary(&stats)),
            Err(e) => {
                eprintln!("idwatch: {e}");
                failures.push(org);
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Exit::bad_input(format!(
            "collection failed for {}",
            failures.join(", ")
        )))
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// One line per org after a run.
pub fn summary(stats: &PollerStats) -> String {
    let now = chrono::Utc::now();
    let mut line = format!(
        "{}: {} new events, {} duplicates dropped, {} pages, {} requests, {} rate-limited (429), {} retries",
        stats.org, stats.events, stats.duplicates, stats.pages, stats.requests, stats.rate_limited, stats.retries
    );
    if stats.caught_up {
        line.push_str(", caught up");
    }
    if let Some(lag) = stats.lag(now) {
        line.push_str(&format!(", lag {}", human(lag)));
    }
    if stats.cursor_resets > 0 {
        line.push_str(&format!(", {} cursor resets", stats.cursor_resets));
    }
    if let Some((e, _)) = &stats.last_error {
        line.push_str(&format!("; last error: {e}"));
    }
    line
}

/// `1h 02m`, `3m 10s`, `12s`.
pub fn human(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    if s >= 86_400 {
        format!("{}d {:02}h", s / 86_400, (s % 86_400) / 3600)
    } else if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// One bar per org: log time covered since the backfill's `since`, to now.
async fn show_bars(receivers: Vec<watch::Receiver<PollerStats>>) {
    use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
    let multi = MultiProgress::new();
    let style =
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {percent:>3}% ETA {eta:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    let bars: Vec<ProgressBar> = receivers
        .iter()
        .map(|rx| {
            let bar = multi.add(ProgressBar::new(1));
            bar.set_style(style.clone());
            bar.set_prefix(rx.borrow().org.clone());
            bar
        })
        .collect();
    loop {
        let now = chrono::Utc::now();
        let mut all_done = true;
        for (rx, bar) in receivers.iter().zip(&bars) {
            let s = rx.borrow().clone();
            if let (Some(since), Some(newest)) = (s.backfill_since, s.newest_published) {
                let total = (now - since).num_seconds().max(1) as u64;
                let done = (newest - since).num_seconds().clamp(0, total as i64) as u64;
                bar.set_length(total);
                bar.set_position(if s.caught_up { total } else { done });
            } else if s.caught_up {
                bar.set_length(1);
                bar.set_position(1);
            }
            bar.set_message(format!(
                "{} events, {} dup, {} 429s{}",
                s.events,
                s.duplicates,
                s.rate_limited,
                if s.caught_up { ", caught up" } else { "" }
            ));
            if s.finished {
                bar.finish();
            } else {
                all_done = false;
            }
        }
        if all_done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
