//! Quality of the built-in pack on the simulator: the whole pack (detections, correlations and
//! extensions, through the same `Correlator` `idwatch hunt` and `detect` drive) runs over the
//! generated history of an org with every attack scenario injected, and the scenarios'
//! ground truth decides:
//!
//! - recall: every scenario raises at least one alert of level high or above whose matched
//!   events include at least one of the scenario's malicious events;
//! - precision: alerts raised by background activity alone (no event of any scenario among their
//!   matched events), grouped by rule and group key as the alert store deduplicates them, stay
//!   within one per 100,000 background events, and at most 10 over 1 M events.
//!
//! Scenarios are placed after the first 8 days, so the first-seen rules have history to learn
//! from, as they would on an org idwatch has collected for a while. One test runs a 1,000-user
//! org for 16 days (about 160 k events); `million_background_events` runs 3,000 users for 35
//! days, over 1 M background events (about 40 s in the dev profile; `IDWATCH_QUALITY_USERS`,
//! `IDWATCH_QUALITY_DAYS` change both). Both print the per-scenario table the README shows
//! (`cargo test -p sigma --test pack_quality -- --nocapture`).

#![allow(clippy::unwrap_used)]

use chrono::Duration;
use sigma::{CompileOptions, Correlator, CorrelatorConfig, Level, Match, RuleSet, RuleSource};
use sim::generate::{Generator, Org, OrgConfig};
use sim::scenario::{self, GroundTruth};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::sync::Arc;

fn pack() -> Arc<RuleSet> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    Arc::new(
        RuleSet::compile(&[RuleSource::Path(dir)], &CompileOptions::default())
            .unwrap_or_else(|e| panic!("{e}")),
    )
}

struct Outcome {
    background_events: usize,
    scenario_events: usize,
    matches: Vec<Match>,
    truth: Vec<GroundTruth>,
    scenario_uuids: HashSet<String>,
}

fn run(users: usize, days: u32, min_background: usize) -> Outcome {
    let org = Org::build(&OrgConfig {
        users,
        ..OrgConfig::default()
    });
    let start = org.config.start;
    let end = start + Duration::days(i64::from(days));
    let names: Vec<String> = scenario::SCENARIOS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    let plan = scenario::plan(&org, &names, start + Duration::days(8), end, 7)
        .unwrap_or_else(|e| panic!("{e}"));
    let scenario_uuids: HashSet<String> = plan.events.iter().map(|e| e.uuid.clone()).collect();
    let scenario_events = plan.events.len();
    let mut generator = Generator::new(org, start);
    for e in plan.events {
        generator.inject(e);
    }
    let rules = pack();
    let mut correlator = Correlator::new(Arc::clone(&rules), CorrelatorConfig::default());
    let mut matches = Vec::new();
    let mut total = 0usize;
    for generated in generator.take_while(|e| e.published < end) {
        let event = okta::LogEvent::parse(&generated.json)
            .unwrap_or_else(|e| panic!("{e}: {}", generated.json));
        correlator.observe(&event, event.published(), &mut matches);
        total += 1;
    }
    correlator.flush(&mut matches);
    let background_events = total - scenario_events;
    assert!(
        background_events >= min_background,
        "{background_events} background events from {users} users in {days} days"
    );
    eprintln!(
        "{users} users, {days} days: {background_events} background + {scenario_events} scenario events, {} matches, state {:?}, ext {:?}",
        matches.len(),
        correlator.memory(),
        correlator.ext_stats()
    );
    Outcome {
        background_events,
        scenario_events,
        matches,
        truth: plan.truth,
        scenario_uuids,
    }
}

/// An alert as the store deduplicates matches: rule and group key.
fn alert_key(m: &Match) -> (String, String) {
    (
        m.rule_id.clone(),
        m.group_key
            .as_ref()
            .map(|g| serde_json::Value::Object(g.clone()).to_string())
            .unwrap_or_default(),
    )
}

/// Checks recall and precision; returns the benign alerts (rule title, group key, matches).
fn judge(o: &Outcome) -> Vec<(String, String, usize)> {
    println!("| scenario | detected (high+) | rules that fired on its malicious events (level) |");
    println!("|---|---|---|");
    let mut missed = Vec::new();
    for t in &o.truth {
        let malicious: HashSet<&str> = t.malicious_uuids.iter().map(String::as_str).collect();
        let hitting: Vec<&Match> = o
            .matches
            .iter()
            .filter(|m| m.event_uuids.iter().any(|u| malicious.contains(u.as_str())))
            .collect();
        let high = hitting.iter().any(|m| m.level >= Level::High);
        let mut rules: BTreeSet<String> = BTreeSet::new();
        for m in &hitting {
            rules.insert(format!("{} ({})", m.title, m.level));
        }
        println!(
            "| {} | {} | {} |",
            t.scenario,
            if high { "yes" } else { "NO" },
            rules.into_iter().collect::<Vec<_>>().join("; ")
        );
        if !high {
            missed.push(t.scenario.clone());
        }
    }
    let mut benign: BTreeMap<(String, String), (String, usize)> = BTreeMap::new();
    for m in &o.matches {
        if m.event_uuids.iter().any(|u| o.scenario_uuids.contains(u)) {
            continue;
        }
        let entry = benign
            .entry(alert_key(m))
            .or_insert_with(|| (format!("{} ({})", m.title, m.level), 0));
        entry.1 += 1;
    }
    println!(
        "\nbenign background: {} events ({} scenario events excluded), {} alerts after grouping by rule and group key",
        o.background_events,
        o.scenario_events,
        benign.len()
    );
    for ((_, key), (title, n)) in &benign {
        println!("  {title} {key}: {n} match(es)");
    }
    assert!(
        missed.is_empty(),
        "scenarios without a high alert: {missed:?}"
    );
    benign
        .into_iter()
        .map(|((_, key), (title, n))| (title, key, n))
        .collect()
}

#[test]
fn every_scenario_is_detected_and_background_is_quiet() {
    let o = run(1000, 16, 150_000);
    let benign = judge(&o);
    // The requirement's cap (issue 7: at most 10 over 1 M background events); a smaller
    // sample has fewer chances to be noisy, so the same cap is a looser bar here and the 1 M
    // run is the one to quote.
    assert!(
        benign.len() <= 10,
        "{} benign alerts over {} background events: {benign:?}",
        benign.len(),
        o.background_events
    );
}

#[test]
fn million_background_events() {
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|d| d.parse().ok())
            .unwrap_or(default)
    };
    let users = var("IDWATCH_QUALITY_USERS", 3000) as usize;
    let days = var("IDWATCH_QUALITY_DAYS", 35) as u32;
    let o = run(users, days, 1_000_000);
    let benign = judge(&o);
    assert!(
        benign.len() <= 10,
        "{} benign alerts: {benign:?}",
        benign.len()
    );
}
