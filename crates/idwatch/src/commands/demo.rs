//! `idwatch demo`: shows the product working on the embedded default, with nothing to set up.
//! It generates a week of a realistic 500-user Okta org (the simulator's generator), imports it
//! into a temporary store, answers the questions an incident responder asks first, and verifies
//! the hash chain. Later issues extend it with the live simulator, detections and alerts.

use crate::config::Context;
use anyhow::Context as _;
use okta::filter::Filter;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::Instant;
use store::{EventQuery, Store};

/// Arguments of `idwatch demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Events to generate.
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Generator seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Keep the demo store in this directory (default: a temporary directory, removed after).
    #[arg(long)]
    keep: Option<std::path::PathBuf>,
}

pub fn run(_ctx: &Context, args: Args) -> anyhow::Result<()> {
    let dir = match &args.keep {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("idwatch-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = demo(&dir, &args);
    if args.keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn demo(dir: &std::path::Path, args: &Args) -> anyhow::Result<()> {
    let path = dir.join("idwatch.db");
    println!("idwatch demo: a simulated 500-user Okta org, stored and investigated locally\n");

    // 1. Collect: generated System Log events into a fresh store.
    let started = Instant::now();
    let mut store = Store::open(&path)?;
    let org = store.ensure_org("demo")?;
    let mut batch = Vec::with_capacity(1000);
    let mut total = store::BatchOutcome::default();
    for generated in
        super::gen::generate(args.seed, 500, super::gen::default_start()).take(args.events as usize)
    {
        batch.push(okta::LogEvent::parse(&generated.json).map_err(|e| anyhow::anyhow!("{e}"))?);
        if batch.len() == 1000 {
            total += store.commit_batch(org, &batch, "demo")?;
            batch.clear();
        }
    }
    total += store.commit_batch(org, &batch, "demo")?;
    let secs = started.elapsed().as_secs_f64();
    let (first, last) = store.published_range(org)?.unwrap_or((0, 0));
    println!(
        "1. stored {} events ({} to {}) in {secs:.1}s, {:.0} events/s",
        total.new,
        fmt_time(first),
        fmt_time(last),
        total.new as f64 / secs
    );
    let again = store.commit_batch(
        org,
        &[okta::LogEvent::parse(&first_event(args.seed)).map_err(|e| anyhow::anyhow!("{e}"))?],
        "demo",
    )?;
    println!(
        "   re-sending an event already stored: new {}, duplicates {} (idempotent on uuid)",
        again.new, again.duplicates
    );
    let size = store.size_report()?;
    println!(
        "   store: {:.0} bytes/event including every index and the hash chain\n",
        size.bytes_per_event()
    );

    // 2. Investigate with Okta's own filter syntax.
    let reader = Store::open_read_only(&path)?;
    let failed = r#"eventType eq "user.session.start" and outcome.result eq "FAILURE""#;
    println!("2. idwatch query '{failed}' --group-by client.ipAddress --top 5");
    let top = group_by(&reader, org, failed, "client.ipAddress")?;
    for (ip, n) in top.iter().take(5) {
        println!("   {ip:<18} {n}");
    }
    let admin = r#"eventType eq "user.session.access_admin_app""#;
    println!("\n   idwatch query '{admin}' --group-by actor.alternateId");
    for (who, n) in group_by(&reader, org, admin, "actor.alternateId")?
        .iter()
        .take(5)
    {
        println!("   {who:<34} {n}");
    }
    let mfa = r#"eventType sw "user.mfa" or eventType eq "user.account.update_password""#;
    println!("\n   idwatch query '{mfa}' --group-by eventType");
    for (ty, n) in group_by(&reader, org, mfa, "eventType")?.iter().take(6) {
        println!("   {ty:<40} {n}");
    }

    // 3. Tamper evidence.
    let started = Instant::now();
    let report = store.verify(Some(org), None)?;
    let o = &report.orgs[0];
    println!(
        "\n3. idwatch verify: {} batches, {} events, {} in {:.1}s; head {}",
        o.batches,
        o.events,
        if o.problems.is_empty() {
            "chain intact"
        } else {
            "PROBLEMS"
        },
        started.elapsed().as_secs_f64(),
        &o.head[..16.min(o.head.len())]
    );
    println!("\nNext: `idwatch import --org NAME FILE` for your own export, then `idwatch query`.");
    Ok(())
}

fn first_event(seed: u64) -> String {
    super::gen::generate(seed, 500, super::gen::default_start())
        .next()
        .map(|e| e.json)
        .unwrap_or_default()
}

fn group_by(
    store: &Store,
    org: store::OrgId,
    filter: &str,
    field: &str,
) -> anyhow::Result<Vec<(String, u64)>> {
    let query = EventQuery {
        filter: Some(Filter::parse(filter).map_err(|e| anyhow::anyhow!("{e}"))?),
        ..EventQuery::default()
    };
    let mut counts: HashMap<String, u64> = HashMap::new();
    store.query(org, &query, &mut |s| {
        *counts
            .entry(crate::output::field_text(s.event.doc(), field))
            .or_default() += 1;
        ControlFlow::Continue(())
    })?;
    let mut rows: Vec<_> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(rows)
}

fn fmt_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}
