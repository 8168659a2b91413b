//! `idwatch bench archive --events N`: the archive against the hot tier, on generated events,
//! in one run. Imports N events into a store, copies it (the hot-only baseline), seals the copy
//! into the archive and compacts it, then reports: bytes/event (Parquet files + what the SQLite
//! catalog keeps: uuid index, chain manifests, segment catalog), import and seal events/s, and
//! the latency of five queries on both tiers vs the hot tier alone, as ratios (median of
//! `--repeat` runs): (a) eventType + 1 day, (b) one actor over 90 days, (c) one session, (d) a
//! `co` filter over the raw JSON of everything, (e) a group-by count (through `idwatch query`'s
//! path and through `idwatch sql`); then a retro hunt of Sigma rules over the archive.

use crate::config::Context;
use anyhow::Context as _;
use okta::filter::Filter;
use okta::LogEvent;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{EventQuery, Store};

/// What `idwatch bench archive` was asked.
pub struct Options {
    pub events: u64,
    pub seed: u64,
    pub users: usize,
    pub batch_size: usize,
    pub repeat: usize,
    pub dir: Option<PathBuf>,
    pub rules: Vec<PathBuf>,
}

/// A benchmark query: name, filter, since, until, ordered.
type Case = (&'static str, String, Option<i64>, Option<i64>, bool);

/// Runs a full pass, handing every event to the callback.
type FullPass<'a> = dyn FnMut(&mut dyn FnMut(&LogEvent)) -> anyhow::Result<()> + 'a;

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs.get(runs.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

pub fn run(ctx: &Context, opts: Options) -> anyhow::Result<()> {
    let _ = ctx;
    let base = opts
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("idwatch-bench-archive"));
    let hot_path = base.join("hot.db");
    let sealed_path = base.join("sealed.db");
    let root = base.join("archive");
    // A kept `--dir` with a hot store of the same size is reused (the import is the slow part).
    let reuse = opts.dir.is_some()
        && Store::open_read_only(&hot_path)
            .and_then(|s| {
                let org = s.org("bench")?;
                s.count_events(org)
            })
            .is_ok_and(|n| n == opts.events);
    // …and so is a sealed copy whose archive holds every event (to re-measure queries only).
    let reuse_sealed = reuse
        && Store::open_read_only(&sealed_path)
            .and_then(|s| {
                let org = s.org("bench")?;
                Ok(s.live_segments(org, None, None)?
                    .iter()
                    .map(|x| x.record.rows as u64)
                    .sum::<u64>())
            })
            .is_ok_and(|n| n == opts.events);
    if !reuse {
        let _ = std::fs::remove_dir_all(&base);
    }
    if !reuse_sealed {
        let _ = std::fs::remove_dir_all(&root);
        let _ = std::fs::remove_file(&sealed_path);
        let _ = std::fs::remove_file(sealed_path.with_extension("db-wal"));
        let _ = std::fs::remove_file(sealed_path.with_extension("db-shm"));
    }
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    println!(
        "idwatch bench archive: {} events, seed {}, {} users, batch {}, median of {} runs, in {}",
        opts.events,
        opts.seed,
        opts.users,
        opts.batch_size,
        opts.repeat,
        base.display()
    );

    // Data and import (the hot-only baseline).
    let org;
    let hot_size;
    if reuse {
        let store = Store::open(&hot_path)?;
        org = store.org("bench")?;
        hot_size = store.size_report()?;
        println!(
            "reusing the hot store in {} ({:.0} B/event)",
            hot_path.display(),
            hot_size.bytes_per_event()
        );
    } else {
        let raws: Vec<String> =
            super::gen::generate(opts.seed, opts.users, super::gen::default_start())
                .take(opts.events as usize)
                .map(|e| e.json)
                .collect();
        let raw_bytes: usize = raws.iter().map(|r| r.len() + 1).sum();
        let mut store = Store::open(&hot_path).context("opening bench store")?;
        org = store.ensure_org("bench")?;
        let started = Instant::now();
        let mut batch = Vec::with_capacity(opts.batch_size);
        for raw in &raws {
            batch.push(LogEvent::parse(raw).map_err(|e| anyhow::anyhow!("{e}"))?);
            if batch.len() == opts.batch_size {
                store.commit_batch(org, &batch, "bench")?;
                batch.clear();
            }
        }
        store.commit_batch(org, &batch, "bench")?;
        let import_secs = started.elapsed().as_secs_f64();
        hot_size = store.size_report()?;
        println!(
            "import (hot tier): {:.0} events/s; NDJSON {:.0} B/event; hot tier {:.0} B/event",
            raws.len() as f64 / import_secs,
            raw_bytes as f64 / raws.len().max(1) as f64,
            hot_size.bytes_per_event()
        );
    }
    // Seal everything and compact.
    let sealed = if reuse_sealed {
        println!("reusing the sealed store in {}", sealed_path.display());
        Store::open(&sealed_path)?
    } else {
        std::fs::copy(&hot_path, &sealed_path).context("copying the store")?;
        let mut sealed = Store::open(&sealed_path)?;
        let started = Instant::now();
        let (writer, _) = archive::ArchiveWriter::open(&mut sealed, &root)?;
        let report = writer.seal(&mut sealed, None, i64::MAX)?;
        let seal_secs = started.elapsed().as_secs_f64();
        drop(writer);
        sealed.vacuum()?;
        println!(
            "seal + compaction: {} events into {} hourly segments, compacted into {} daily files; {:.0} events/s",
            report.events,
            report.segments,
            report.days_compacted,
            report.events as f64 / seal_secs
        );
        sealed
    };
    let catalog = sealed.size_report()?;
    drop(sealed);
    let parquet = dir_bytes(&root);
    let n = opts.events.max(1) as f64;
    println!(
        "archive size: {:.0} B/event = Parquet {:.0} + SQLite catalog {:.0} (goal ≤ 250); vs hot tier {:.0} B/event: {:.2}x smaller",
        (parquet + catalog.total_bytes) as f64 / n,
        parquet as f64 / n,
        catalog.total_bytes as f64 / n,
        hot_size.bytes_per_event(),
        hot_size.bytes_per_event() / ((parquet + catalog.total_bytes) as f64 / n)
    );
    for o in catalog.objects.iter().take(5) {
        println!(
            "  catalog {:<24} {:>6.1} B/event",
            o.name,
            o.bytes as f64 / n
        );
    }

    // Queries.
    let hot = Store::open_read_only(&hot_path)?;
    let sealed = Store::open_read_only(&sealed_path)?;
    let tiers = archive::Tiers::new(&sealed, &root);
    let (first, last) = hot.published_range(org)?.unwrap_or((0, 0));
    let mid = archive::layout::day_start(first + (last - first) / 2);
    let sample = {
        let mut found = None;
        hot.query(
            org,
            &EventQuery {
                filter: Some(Filter::parse(
                    "eventType eq \"user.session.start\" and authenticationContext.externalSessionId pr",
                )?),
                since: Some(mid),
                limit: Some(1),
                ..EventQuery::default()
            },
            &mut |e| {
                found = Some(e.event);
                ControlFlow::Break(())
            },
        )?;
        found.ok_or_else(|| anyhow::anyhow!("no session start in the generated data"))?
    };
    let actor = sample.actor().alternate_id.unwrap_or("").to_string();
    let session = sample.external_session_id().unwrap_or("").to_string();
    let day = 86_400_000_000i64;
    let cases: Vec<Case> = vec![
        (
            "(a) eventType + 1 day",
            "eventType eq \"user.authentication.sso\"".into(),
            Some(mid),
            Some(mid + day),
            true,
        ),
        (
            "(b) one actor, 90 days",
            format!("actor.alternateId eq \"{actor}\""),
            Some(last - 90 * day),
            None,
            true,
        ),
        (
            "(c) one session",
            format!("authenticationContext.externalSessionId eq \"{session}\""),
            None,
            None,
            true,
        ),
        (
            "(d) co over raw JSON, all",
            "client.userAgent.rawUserAgent co \"Firefox\"".into(),
            None,
            None,
            false,
        ),
    ];
    println!(
        "{:<30} {:>9} {:>12} {:>12} {:>8}",
        "query", "matches", "hot tier", "archive", "ratio"
    );
    let repeat = opts.repeat.max(1);
    for (name, filter, since, until, ordered) in &cases {
        let query = EventQuery {
            filter: Some(Filter::parse(filter)?),
            since: *since,
            until: *until,
            ordered: *ordered,
            ..EventQuery::default()
        };
        let mut hot_runs = Vec::new();
        let mut arc_runs = Vec::new();
        let mut counts = (0u64, 0u64);
        for _ in 0..repeat {
            let t = Instant::now();
            let mut n = 0;
            hot.query(org, &query, &mut |_| {
                n += 1;
                ControlFlow::Continue(())
            })?;
            hot_runs.push(t.elapsed());
            counts.0 = n;
            let t = Instant::now();
            let mut n = 0;
            tiers.query(org, &query, &mut |_| {
                n += 1;
                ControlFlow::Continue(())
            })?;
            arc_runs.push(t.elapsed());
            counts.1 = n;
        }
        if counts.0 != counts.1 {
            anyhow::bail!(
                "{name}: the hot tier found {} events, the archive {}",
                counts.0,
                counts.1
            );
        }
        let (h, a) = (median(hot_runs), median(arc_runs));
        println!(
            "{:<30} {:>9} {:>12} {:>12} {:>7.2}x",
            name,
            counts.0,
            ms(h),
            ms(a),
            h.as_secs_f64() / a.as_secs_f64().max(1e-9)
        );
    }
    // (e) group-by count, through the query path and through SQL.
    let group = |run: &mut FullPass<'_>| -> anyhow::Result<(Duration, usize)> {
        let mut runs = Vec::new();
        let mut groups = 0;
        for _ in 0..repeat {
            let t = Instant::now();
            let mut counts: HashMap<String, u64> = HashMap::new();
            run(&mut |e| *counts.entry(e.event_type().to_string()).or_default() += 1)?;
            runs.push(t.elapsed());
            groups = counts.len();
        }
        Ok((median(runs), groups))
    };
    let all = EventQuery::default();
    let (h, groups) = group(&mut |f| {
        hot.query(org, &all, &mut |e| {
            f(&e.event);
            ControlFlow::Continue(())
        })?;
        Ok(())
    })?;
    let (a, _) = group(&mut |f| {
        tiers.query(org, &all, &mut |e| {
            f(&e.event);
            ControlFlow::Continue(())
        })?;
        Ok(())
    })?;
    println!(
        "{:<30} {:>9} {:>12} {:>12} {:>7.2}x",
        "(e) group-by eventType",
        groups,
        ms(h),
        ms(a),
        h.as_secs_f64() / a.as_secs_f64().max(1e-9)
    );
    let sql = "SELECT event_type, count(*) FROM events GROUP BY event_type";
    let sql_time = |store_path: &Path| -> anyhow::Result<Duration> {
        let source = sql::SqlSource {
            store_path: store_path.to_path_buf(),
            archive_root: root.clone(),
        };
        let mut runs = Vec::new();
        for _ in 0..repeat {
            let t = Instant::now();
            sql::run(&source, sql, &mut |_| Ok(()))?;
            runs.push(t.elapsed());
        }
        Ok(median(runs))
    };
    let (h, a) = (sql_time(&hot_path)?, sql_time(&sealed_path)?);
    println!(
        "{:<30} {:>9} {:>12} {:>12} {:>7.2}x",
        "(e) same, idwatch sql",
        groups,
        ms(h),
        ms(a),
        h.as_secs_f64() / a.as_secs_f64().max(1e-9)
    );

    // Retro hunt over the archive.
    let rules = if opts.rules.is_empty() {
        vec![PathBuf::from("../shared/sigma/okta")]
    } else {
        opts.rules.clone()
    };
    match super::rules::sources(ctx, rules).and_then(|s| super::rules::compile(ctx, &s)) {
        Ok(ruleset) => {
            let ruleset = Arc::new(ruleset);
            let rule_count = ruleset.rules().len();
            let mut correlator =
                sigma::Correlator::new(Arc::clone(&ruleset), sigma::CorrelatorConfig::default());
            let query = EventQuery {
                ordered: true,
                ..EventQuery::default()
            };
            let t = Instant::now();
            let mut events = 0u64;
            let mut matches = Vec::new();
            let mut total_matches = 0usize;
            tiers.query(org, &query, &mut |e| {
                events += 1;
                correlator.observe(&e.event, e.event.published(), &mut matches);
                total_matches += matches.len();
                matches.clear();
                ControlFlow::Continue(())
            })?;
            let secs = t.elapsed().as_secs_f64();
            println!(
                "retro hunt: {rule_count} Sigma rules over {events} archived events in {secs:.1}s: {:.0} events/s, {total_matches} matches",
                events as f64 / secs
            );
        }
        Err(e) => println!("retro hunt skipped: {e:#}"),
    }
    if opts.dir.is_none() {
        let _ = std::fs::remove_dir_all(&base);
    }
    Ok(())
}
