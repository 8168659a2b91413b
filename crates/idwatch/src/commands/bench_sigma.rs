//! `idwatch bench sigma --rules PATH [--events N | --file F]`: Sigma detection end to end from
//! NDJSON (parse each line into a `LogEvent`, run every rule and correlation through the
//! `Correlator`) on one core, beside two baselines measured in the same run on the same lines:
//! serde_json parsing alone, and `LogEvent` parsing alone. The same rules without `eventType`
//! routing run as a variant; equal match counts show only the speed differs. With `--rsigma
//! BIN`, the RSigma CLI runs on the same file and rules as a child process, timed by the CPU
//! time it used (so "per core" holds whatever threads it starts).

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
    pub rsigma: Option<PathBuf>,
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
    if let Some(bin) = &opts.rsigma {
        match run_rsigma(bin, &opts.rules, &path, lines.len()) {
            Ok(r) => {
                row(
                    "rsigma CLI (engine eval), per CPU second",
                    r.per_cpu_second,
                    r.matches.to_string(),
                );
                println!(
                    "  rsigma: {:.1} s wall, {:.1} s CPU (user+sys of the child), {} output lines",
                    r.wall, r.cpu, r.matches
                );
            }
            Err(e) => println!("rsigma CLI: not measured: {e:#}"),
        }
    }
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

/// What one run of the RSigma CLI measured.
struct RsigmaRun {
    wall: f64,
    cpu: f64,
    per_cpu_second: f64,
    matches: usize,
}

/// CPU seconds (user + system) of this process's waited-for children, from
/// `/proc/self/stat` (fields 16 and 17, in clock ticks of 1/100 s).
fn children_cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unexpected /proc/self/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); cutime is field 16, cstime field 17.
    let tick = |i: usize| -> anyhow::Result<f64> {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<f64>().ok())
            .map(|t| t / 100.0)
            .context("unexpected /proc/self/stat")
    };
    Ok(tick(16)? + tick(17)?)
}

/// Runs `BIN engine eval -r RULE_PATH... -e @FILE --output-format ndjson`, counting its output
/// lines (one per match).
fn run_rsigma(
    bin: &std::path::Path,
    rules: &[PathBuf],
    file: &std::path::Path,
    events: usize,
) -> anyhow::Result<RsigmaRun> {
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["engine", "eval"]);
    for r in rules {
        cmd.arg("-r").arg(r);
    }
    cmd.arg("-e")
        .arg(format!("@{}", file.display()))
        .args(["--output-format", "ndjson"]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let cpu_before = children_cpu_seconds()?;
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("rsigma stdout")?;
    let matches = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .count();
    let output = child.wait_with_output().context("waiting for rsigma")?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = children_cpu_seconds()? - cpu_before;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        anyhow::bail!(
            "{} exited with {}: {}",
            bin.display(),
            output.status,
            stderr.lines().take(5).collect::<Vec<_>>().join(" / ")
        );
    }
    Ok(RsigmaRun {
        wall,
        cpu,
        per_cpu_second: events as f64 / cpu.max(1e-9),
        matches,
    })
}
