//! `idwatch bench store --events N`: measures the store on generated events and prints every
//! figure beside a baseline measured in the same run, as a ratio: import vs parse-only, bytes per
//! event vs raw NDJSON, each indexed query vs the same query forced to scan, and a full scan vs
//! parse-only throughput. Numbers depend on the machine; ratios travel better.

use crate::config::Context;
use anyhow::Context as _;
use okta::filter::Filter;
use okta::LogEvent;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};
use store::{EventQuery, Store};

/// Arguments of `idwatch bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to measure.
    #[arg(value_enum)]
    target: Target,
    /// Events to generate.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Users in the generated org.
    #[arg(long, default_value_t = 2000)]
    users: usize,
    /// Events per transaction.
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Repetitions per query (the median is reported).
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Keep the benchmark store in this directory instead of a temporary one.
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// `sigma`: the rules to load (files or directories).
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<std::path::PathBuf>,
    /// `sigma`: read events from this NDJSON file instead of generating them.
    #[arg(long, value_name = "FILE")]
    file: Option<std::path::PathBuf>,
    /// `sigma`: also run the RSigma CLI at this path on the same file and rules
    /// (`rsigma engine eval -r RULES... -e @FILE`), for a side-by-side figure.
    #[arg(long, value_name = "BIN")]
    rsigma: Option<std::path::PathBuf>,
    /// `detect`: events stored per second.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// `detect`: how long the stream runs, in seconds.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// `collect`: the simulator's /api/v1/logs limit, requests per minute.
    #[arg(long, default_value_t = 120)]
    rate_limit: u32,
    /// `collect`: whole 60 s windows to measure.
    #[arg(long, default_value_t = 2)]
    windows: u32,
    /// `collect`: share of the bucket the collector may use.
    #[arg(long, default_value_t = 1.0)]
    share: f64,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Target {
    /// Import, size and query latency of the SQLite tier.
    Store,
    /// Sigma rules end to end from NDJSON, beside serde_json parse-only.
    Sigma,
    /// Sealing, size and query latency of the Parquet archive vs the hot tier.
    Archive,
    /// Alert latency, event stored → webhook received, under a steady event stream.
    Detect,
    /// Backfill events/s against the simulator, as a ratio of the rate-limit bound.
    Collect,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    if let Target::Collect = args.target {
        return super::bench_collect::run(
            ctx,
            super::bench_collect::Options {
                rate_limit: args.rate_limit,
                windows: args.windows,
                share: args.share,
                users: args.users,
                seed: args.seed,
                dir: args.dir,
            },
        );
    }
    if let Target::Detect = args.target {
        return super::bench_detect::run(
            ctx,
            super::bench_detect::Options {
                rate: args.rate,
                seconds: args.seconds,
                seed: args.seed,
                users: args.users,
                dir: args.dir,
            },
        );
    }
    if let Target::Archive = args.target {
        return super::bench_archive::run(
            ctx,
            super::bench_archive::Options {
                events: args.events,
                seed: args.seed,
                users: args.users,
                batch_size: args.batch_size,
                repeat: args.repeat,
                dir: args.dir,
                rules: args.rules,
            },
        );
    }
    if let Target::Sigma = args.target {
        return super::bench_sigma::run(
            ctx,
            super::bench_sigma::Options {
                events: args.events,
                seed: args.seed,
                users: args.users,
                rules: args.rules,
                file: args.file,
                rsigma: args.rsigma,
            },
        );
    }
    let tmp = tempfile_dir(args.dir.as_deref())?;
    let path = tmp.join("bench.db");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(path.with_extension("db-wal"));
    println!(
        "idwatch bench store: {} events, seed {}, {} users, batch {}, {} cores",
        args.events,
        args.seed,
        args.users,
        args.batch_size,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    // Data.
    let started = Instant::now();
    let raws: Vec<String> =
        super::gen::generate(args.seed, args.users, super::gen::default_start())
            .take(args.events as usize)
            .map(|e| e.json)
            .collect();
    let raw_bytes: usize = raws.iter().map(|r| r.len() + 1).sum();
    println!(
        "generated {} events ({:.0} bytes/event NDJSON) in {:.1}s",
        raws.len(),
        raw_bytes as f64 / raws.len().max(1) as f64,
        started.elapsed().as_secs_f64()
    );

    // Baseline: parsing alone.
    let started = Instant::now();
    let mut parsed = 0usize;
    for raw in &raws {
        if LogEvent::parse(raw).is_ok() {
            parsed += 1;
        }
    }
    let parse_rate = parsed as f64 / started.elapsed().as_secs_f64();

    // Import.
    let mut store = Store::open(&path).context("opening bench store")?;
    let org = store.ensure_org("bench")?;
    let started = Instant::now();
    let mut batch = Vec::with_capacity(args.batch_size);
    for raw in &raws {
        batch.push(LogEvent::parse(raw).map_err(|e| anyhow::anyhow!("{e}"))?);
        if batch.len() == args.batch_size {
            store.commit_batch(org, &batch, "bench")?;
            batch.clear();
        }
    }
    store.commit_batch(org, &batch, "bench")?;
    let import_rate = raws.len() as f64 / started.elapsed().as_secs_f64();
    println!();
    println!("{:<44} {:>14} {:>16}", "measure", "value", "vs baseline");
    println!(
        "{:<44} {:>14} {:>16}",
        "parse only (baseline)",
        format!("{parse_rate:.0} ev/s"),
        "1.00"
    );
    println!(
        "{:<44} {:>14} {:>16}",
        "import (parse + dedupe + index + chain)",
        format!("{import_rate:.0} ev/s"),
        format!("{:.2} of parse", import_rate / parse_rate)
    );

    // Size.
    let size = store.size_report()?;
    let ndjson_per_event = raw_bytes as f64 / raws.len().max(1) as f64;
    println!(
        "{:<44} {:>14} {:>16}",
        "store size, everything included",
        format!("{:.0} B/event", size.bytes_per_event()),
        format!("{:.3} of NDJSON", size.bytes_per_event() / ndjson_per_event)
    );
    for object in size.objects.iter().take(8) {
        println!(
            "  {:<42} {:>14}",
            object.name,
            format!(
                "{:.1} B/event",
                object.bytes as f64 / size.events.max(1) as f64
            )
        );
    }
    drop(raws);

    // Queries.
    let reader = Store::open_read_only(&path)?;
    let day = day_in_the_middle(&reader, org)?;
    let sample = sample_event(&reader, org)?;
    let session = sample.external_session_id().unwrap_or("none").to_string();
    let actor = sample.actor().id.unwrap_or("none").to_string();
    let cases: Vec<QueryCase> = vec![
        (
            "eventType + 1 day".into(),
            r#"eventType eq "user.session.start""#.into(),
            Some(day),
        ),
        (
            "one session".into(),
            format!(r#"authenticationContext.externalSessionId eq "{session}""#),
            None,
        ),
        (
            "one actor, all time".into(),
            format!(r#"actor.id eq "{actor}""#),
            None,
        ),
        (
            "events that touched one user".into(),
            format!(r#"target.id eq "{actor}""#),
            None,
        ),
        (
            "failed sign-ins (2 pivots)".into(),
            r#"eventType eq "user.session.start" and outcome.result eq "FAILURE""#.into(),
            None,
        ),
    ];
    println!();
    println!(
        "{:<34} {:>9} {:>12} {:>12} {:>10}",
        "query", "matches", "indexed", "forced scan", "speed-up"
    );
    for (name, filter, window) in &cases {
        let (n, indexed) = time_query(&reader, org, filter, *window, false, args.repeat)?;
        let (m, scan) = time_query(&reader, org, filter, *window, true, args.repeat.min(3))?;
        anyhow::ensure!(n == m, "plans disagree on {filter}: {n} vs {m}");
        println!(
            "{:<34} {:>9} {:>12} {:>12} {:>9.0}x",
            name,
            n,
            ms(indexed),
            ms(scan),
            scan.as_secs_f64() / indexed.as_secs_f64().max(1e-9)
        );
    }
    let full = r#"client.userAgent.rawUserAgent co "Firefox" and debugContext.debugData.requestUri co "githubcloud""#;
    let (n, scan) = time_query(&reader, org, full, None, true, args.repeat.min(3))?;
    let scan_rate = size.events as f64 / scan.as_secs_f64();
    println!(
        "{:<34} {:>9} {:>12} {:>12} {:>10}",
        "full scan (co + eq on raw JSON)",
        n,
        "-",
        ms(scan),
        format!("{:.2}xparse", scan_rate / parse_rate)
    );
    println!(
        "\nfull scan reads {scan_rate:.0} events/s; parse-only baseline {parse_rate:.0} events/s"
    );
    Ok(())
}

/// A benchmark query: name, filter, optional [since, until) window.
type QueryCase = (String, String, Option<(i64, i64)>);

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn tempfile_dir(dir: Option<&std::path::Path>) -> anyhow::Result<std::path::PathBuf> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::temp_dir().join(format!("idwatch-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn time_query(
    store: &Store,
    org: store::OrgId,
    filter: &str,
    window: Option<(i64, i64)>,
    force_scan: bool,
    repeat: usize,
) -> anyhow::Result<(u64, Duration)> {
    let mut times = Vec::new();
    let mut matches = 0;
    for _ in 0..repeat.max(1) {
        let query = EventQuery {
            filter: Some(Filter::parse(filter).map_err(|e| anyhow::anyhow!("{e}"))?),
            since: window.map(|w| w.0),
            until: window.map(|w| w.1),
            ordered: true,
            force_scan,
            ..EventQuery::default()
        };
        let started = Instant::now();
        let mut n = 0u64;
        store.query(org, &query, &mut |_| {
            n += 1;
            ControlFlow::Continue(())
        })?;
        times.push(started.elapsed());
        matches = n;
    }
    times.sort();
    Ok((matches, times[times.len() / 2]))
}

fn day_in_the_middle(store: &Store, org: store::OrgId) -> anyhow::Result<(i64, i64)> {
    let (first, last) = store.published_range(org)?.unwrap_or((0, 0));
    let day = 86_400_000_000i64;
    let mid = first + (last - first) / 2;
    let start = mid - mid.rem_euclid(day);
    Ok((start, start + day))
}

fn sample_event(store: &Store, org: store::OrgId) -> anyhow::Result<LogEvent> {
    let mut found = None;
    let q = EventQuery {
        filter: Some(
            Filter::parse(r#"eventType eq "user.authentication.sso""#)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        ),
        limit: Some(1),
        ordered: true,
        ..EventQuery::default()
    };
    store.query(org, &q, &mut |s| {
        found = Some(s.event);
        ControlFlow::Break(())
    })?;
    found.context("no sso event in the generated data")
}
