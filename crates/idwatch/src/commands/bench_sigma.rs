//! `idwatch bench sigma --rules PATH [--events N | --file F]`: Sigma detection end to end from
//! NDJSON (parse each line into a `LogEvent`, run every rule and correlation through the
//! `Correlator`) on one core, beside two baselines measured in the same run on the same lines:
//! serde_json parsing alone, and `LogEvent` parsing alone. The same rules without `eventType`
//! routing run as a variant; equal match counts show only the speed differs.

use crate::config::Context;
use anyhow::Context as _;
use sigma::{CompileOptions, Correlator, CorrelatorConfig, RuleSet};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// What `bench sigma` needs.
pub struct Options {
    pub events: u64,
    pub seed: u64,
    pub users: usize,
    pub rules: Vec<PathBuf>,
    pub file: Option<PathBuf>,
}

pub fn run(ctx: &Context, opts: Options) -> anyhow::Result<()> {
    let sources = super::rules::sources(ctx, opts.rules.clone())?;
    let options = super::rules::options(ctx);
    let started = Instant::now();
    let routed = Arc::new(super::rules::compile(ctx, &sources)?);
    let compile_time = started.elapsed();
    let unrouted = Arc::new(
        RuleSet::compile(
            &sources,
            &CompileOptions {
                disable_routing: true,
                ..options
            },
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?,
    );

    // The events: a file, or generated and written to one (so other tools can read the same).
    let path = match &opts.file {
        Some(p) => p.clone(),
        None => {
            let p = std::env::temp_dir().join(format!("idwatch-bench-sigma-{}.ndjson", opts.seed));
            let mut out = std::io::BufWriter::new(
                std::fs::File::create(&p).with_context(|| format!("creating {}", p.display()))?,
            );
            for e in super::gen::generate(opts.seed, opts.users, super::gen::default_start())
                .take(opts.events as usize)
            {
                out.write_all(e.json.as_bytes())?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
            p
        }
    };
    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let lines: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", path.display()))?;
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    println!(
        "idwatch bench sigma: {} events ({:.0} bytes/event) from {}, {} rules ({} detection, {} correlation; {} routed by eventType), compiled in {:.1} ms, 1 core",
        lines.len(),
        bytes as f64 / lines.len().max(1) as f64,
        path.display(),
        routed.rules().len(),
        routed.detection_count(),
        routed.correlation_count(),
        routed.detection_count() - routed.unrouted_count(),
        compile_time.as_secs_f64() * 1000.0,
    );

    let serde_rate = measure(|| {
        let mut n = 0usize;
        for l in &lines {
            if serde_json::from_str::<serde_json::Value>(l).is_ok() {
                n += 1;
            }
        }
        n
    });
    let parse_rate = measure(|| {
        lines
            .iter()
            .filter(|l| okta::LogEvent::parse(l).is_ok())
            .count()
    });
    let (routed_rate, routed_matches, memory) = run_rules(&routed, &lines);
    let (unrouted_rate, unrouted_matches, _) = run_rules(&unrouted, &lines);

    println!();
    println!(
        "{:<52} {:>14} {:>12} {:>10}",
        "measure", "events/s", "vs serde", "matches"
    );
    let row = |name: &str, rate: f64, matches: String| {
        println!(
            "{name:<52} {:>14.0} {:>12.2} {matches:>10}",
            rate,
            rate / serde_rate
        );
    };
    row("serde_json parse only (baseline)", serde_rate, "-".into());
    row("LogEvent::parse only", parse_rate, "-".into());
    row(
        "idwatch sigma end to end (routed by eventType)",
        routed_rate,
        routed_matches.to_string(),
    );
    row(
        "idwatch sigma end to end (one RSigma engine)",
        unrouted_rate,
        unrouted_matches.to_string(),
    );
    println!();
    println!(
        "correlation state at the end: {} groups, {} hits, ~{} bytes",
        memory.groups, memory.hits, memory.approx_bytes
    );
    Ok(())
}

fn measure(f: impl FnOnce() -> usize) -> f64 {
    let started = Instant::now();
    let n = f();
    n as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

fn run_rules(rules: &Arc<RuleSet>, lines: &[String]) -> (f64, usize, sigma::MemoryReport) {
    let mut correlator = Correlator::new(Arc::clone(rules), CorrelatorConfig::default());
    let mut out = Vec::new();
    let mut matches = 0usize;
    let started = Instant::now();
    let mut n = 0usize;
    for l in lines {
        if let Ok(e) = okta::LogEvent::parse(l) {
            n += 1;
            correlator.observe(&e, e.published(), &mut out);
            matches += out.len();
            out.clear();
        }
    }
    correlator.flush(&mut out);
    matches += out.len();
    let rate = n as f64 / started.elapsed().as_secs_f64().max(1e-9);
    (rate, matches, correlator.memory())
}
