//! `idwatch hunt [--rules PATH...] [--org NAME] [--since 90d] [--until T] [FILE...]`: Sigma rules
//! (without `--rules`: the org's detection pack, i.e. the built-in rules plus `[detect]` and
//! `[sigma]` rule directories, extensions, tuning, disabled rules and allowlists) over stored
//! history (the org's events in `published` order) or over event files, through the
//! same `Correlator` the live detector uses, so a hunt and a stream agree. Matches print as a
//! table, a JSON array or NDJSON (one match per line: `rule_id`, `title`, `level`,
//! `event_uuids`, and for correlations `group_key`, `window_start`, `window_end`), followed by
//! a summary per rule (on stderr for json/ndjson). Exit code 1 when anything matched.

use crate::config::Context;
use crate::exit::Exit;
use crate::output::Format;
use crate::time_arg::{parse_duration, parse_time_arg};
use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use sigma::{Correlator, CorrelatorConfig, Match};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Arguments of `idwatch hunt`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rule files or directories [default: the built-in pack plus `[detect] rules` and
    /// `[sigma] rules` from idwatch.toml, with the org's `[detect]` settings].
    #[arg(long = "rules", value_name = "PATH", num_args = 1..)]
    rules: Vec<PathBuf>,
    /// The org whose stored events to hunt over (ignored when FILEs are given).
    #[arg(long)]
    org: Option<String>,
    /// Only events published at or after this (RFC 3339, a date, or 90d / 12h ago).
    #[arg(long)]
    since: Option<String>,
    /// Only events published before this.
    #[arg(long)]
    until: Option<String>,
    /// How late an event may be, after a later one, and still count in correlations
    /// [default: `[sigma] allowed_lateness`, else 60s]. Files need not be sorted within it.
    #[arg(long, value_name = "DURATION")]
    lateness: Option<String>,
    /// Output format (csv is not offered: matches are nested).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Event files (NDJSON, JSON arrays, hook envelopes, .gz) instead of the store.
    files: Vec<PathBuf>,
}

/// Allowed lateness from a flag or the config, in milliseconds.
pub fn lateness_ms(ctx: &Context, flag: Option<&str>) -> anyhow::Result<i64> {
    let text = flag.or(ctx.config.sigma.allowed_lateness.as_deref());
    match text {
        None => Ok(CorrelatorConfig::default().allowed_lateness_ms),
        Some(t) => parse_duration(t.trim())
            .map(|d| d.num_milliseconds())
            .ok_or_else(|| {
                Exit::bad_input(format!(
                    "allowed lateness `{t}` is not a duration (e.g. 60s, 5m, 1h)"
                ))
            }),
    }
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    if args.format == Format::Csv {
        return Err(Exit::bad_input(
            "hunt prints table, json or ndjson (matches are nested)",
        ));
    }
    let mut correlator = if args.rules.is_empty() {
        HuntEngine::pack(ctx, args.org.as_deref(), args.lateness.as_deref())?
    } else {
        let sources = super::rules::sources(ctx, args.rules.clone())?;
        let rules = Arc::new(super::rules::compile(ctx, &sources)?);
        let config = CorrelatorConfig {
            allowed_lateness_ms: lateness_ms(ctx, args.lateness.as_deref())?,
            ..CorrelatorConfig::default()
        };
        HuntEngine::Plain(Correlator::new(rules, config))
    };
    let now = chrono::Utc::now();
    let time = |arg: &Option<String>| -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
        arg.as_deref()
            .map(|t| parse_time_arg(t, now).map_err(Exit::bad_input))
            .transpose()
    };
    let since = time(&args.since)?;
    let until = time(&args.until)?;

    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} hunting: {pos} events ({per_sec}) {msg} {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let stdout = std::io::stdout();
    let mut printer = MatchPrinter::new(stdout.lock(), args.format);
    let started = Instant::now();
    let mut events = 0u64;
    let mut matches = Vec::new();
    let mut bad_records = 0usize;

    if args.files.is_empty() {
        let org_name = ctx.org(args.org.as_deref())?;
        let store = ctx.open_store_read_only()?;
        let org = store
            .find_org(&org_name)?
            .ok_or_else(|| Exit::bad_input(format!("no org `{org_name}` in the store")))?;
        let query = store::EventQuery {
            since: since.map(|t| t.timestamp_micros()),
            until: until.map(|t| t.timestamp_micros()),
            ordered: true,
            ..store::EventQuery::default()
        };
        let mut failure: Option<std::io::Error> = None;
        let archive_root = super::seal::archive_root(ctx);
        archive::Tiers::new(&store, &archive_root)
            .query(org, &query, &mut |stored| {
                events += 1;
                let e = &stored.event;
                correlator.observe(e, e.published(), &mut matches);
                if let Err(err) = printer.print_all(&mut matches) {
                    failure = Some(err);
                    return ControlFlow::Break(());
                }
                if events.is_multiple_of(4096) {
                    progress.set_position(events);
                }
                ControlFlow::Continue(())
            })
            .with_context(|| format!("reading org {org_name} from the store"))?;
        if let Some(err) = failure {
            return Err(err.into());
        }
    } else {
        for path in &args.files {
            progress.set_message(path.display().to_string());
            let reader = okta::import::EventReader::open(path)
                .map_err(|e| Exit::bad_input(e.to_string()))?;
            for item in reader {
                match item {
                    Ok(read) => {
                        let e = &read.event;
                        let t = e.published();
                        if since.is_some_and(|s| t < s) || until.is_some_and(|u| t >= u) {
                            continue;
                        }
                        events += 1;
                        correlator.observe(e, t, &mut matches);
                        printer.print_all(&mut matches)?;
                        if events.is_multiple_of(4096) {
                            progress.set_position(events);
                        }
                    }
                    Err(err) => {
                        bad_records += 1;
                        progress.suspend(|| eprintln!("{err}"));
                    }
                }
            }
        }
    }
    correlator.flush(&mut matches);
    printer.print_all(&mut matches)?;
    progress.finish_and_clear();
    let total = printer.count;
    let summary = printer.finish()?;

    let secs = started.elapsed().as_secs_f64();
    let mut text = String::new();
    for ((level, rule), (title, n)) in summary.iter().rev() {
        let level = level.as_str();
        text.push_str(&format!("{n:>8}  {level:<13} {rule}  {title}\n"));
    }
    let stats = correlator.stats().clone();
    text.push_str(&format!(
        "{} rules, {events} events in {secs:.2}s ({:.0} events/s): {total} matches",
        correlator.rule_count(),
        events as f64 / secs.max(1e-9),
    ));
    text.push_str(&correlator.suppression_note());
    if stats.late_events > 0 {
        text.push_str(&format!(
            "\nnote: {} events arrived more than the allowed lateness after a later one and were not counted by correlations; sort the input or pass --lateness",
            stats.late_events
        ));
    }
    if bad_records > 0 {
        text.push_str(&format!("\nnote: {bad_records} bad records skipped"));
    }
    if args.format == Format::Table {
        if total > 0 {
            println!();
        }
        println!("{text}");
    } else {
        eprintln!("{text}");
    }
    if total > 0 {
        return Err(Exit::findings(""));
    }
    Ok(())
}

/// What a hunt runs: explicit `--rules` through a plain correlator, or (no `--rules`) the org's
/// detection pack (built-in rules, configured rule directories, extensions, tuning, disabled
/// rules and allowlists) through the same `detect::Pipeline` the live detector uses. Both
/// print `sigma::Match`es, so the output is the same either way.
enum HuntEngine {
    Plain(Correlator),
    Pack(Box<detect::Pipeline>, Vec<detect::Detection>),
}

impl HuntEngine {
    fn pack(ctx: &Context, org: Option<&str>, lateness: Option<&str>) -> anyhow::Result<Self> {
        let org = org
            .map(str::to_string)
            .or_else(|| ctx.config.default_org.clone());
        let base = detect::BaseOptions {
            placeholders: ctx.config.sigma.placeholders.clone(),
            rule_paths: ctx.config.sigma.rules.clone(),
            allowed_lateness_ms: Some(lateness_ms(ctx, lateness)?),
        };
        let mut config = ctx.config.detect.clone();
        if lateness.is_some() {
            config.allowed_lateness = None; // the flag wins over `[detect] allowed_lateness`
        }
        let pack = detect::Pack::build(&config, &base, org.as_deref()).map_err(|e| {
            if let detect::DetectError::Rules(errors) = &e {
                for err in &errors.errors {
                    eprintln!("{err}");
                }
                return Exit::bad_input(format!("{} problem(s) in the rules", errors.errors.len()));
            }
            Exit::bad_input(format!("[detect] configuration: {e}"))
        })?;
        Ok(HuntEngine::Pack(
            Box::new(detect::Pipeline::new(Arc::new(pack))),
            Vec::new(),
        ))
    }

    fn observe(
        &mut self,
        event: &okta::LogEvent,
        at: chrono::DateTime<chrono::Utc>,
        out: &mut Vec<Match>,
    ) {
        match self {
            HuntEngine::Plain(c) => c.observe(event, at, out),
            HuntEngine::Pack(p, found) => {
                p.observe(event, found);
                out.extend(found.drain(..).map(|d| d.matched));
            }
        }
    }

    fn flush(&mut self, out: &mut Vec<Match>) {
        match self {
            HuntEngine::Plain(c) => c.flush(out),
            HuntEngine::Pack(p, found) => {
                p.flush(found);
                out.extend(found.drain(..).map(|d| d.matched));
            }
        }
    }

    fn stats(&self) -> &sigma::CorrelatorStats {
        match self {
            HuntEngine::Plain(c) => c.stats(),
            HuntEngine::Pack(p, _) => p.correlator_stats(),
        }
    }

    fn rule_count(&self) -> usize {
        match self {
            HuntEngine::Plain(c) => c.rules().rules().len(),
            HuntEngine::Pack(p, _) => p.pack().rules.rules().len(),
        }
    }

    /// Disabled and allowlisted matches, when any.
    fn suppression_note(&mut self) -> String {
        let HuntEngine::Pack(p, _) = self else {
            return String::new();
        };
        let stats = p.stats().clone();
        let mut note = String::new();
        if stats.disabled > 0 {
            note.push_str(&format!(
                "\n{} matches of disabled rules dropped",
                stats.disabled
            ));
        }
        for s in p.take_suppressed() {
            note.push_str(&format!(
                "\n{} matches of {} suppressed by allowlist entry `{}`",
                s.count, s.rule_id, s.entry
            ));
        }
        note
    }
}

/// Prints matches as they come, and counts them per rule.
struct MatchPrinter<W: Write> {
    out: W,
    format: Format,
    count: usize,
    summary: BTreeMap<(sigma::Level, String), (String, usize)>,
}

impl<W: Write> MatchPrinter<W> {
    fn new(out: W, format: Format) -> Self {
        MatchPrinter {
            out,
            format,
            count: 0,
            summary: BTreeMap::new(),
        }
    }

    fn print_all(&mut self, matches: &mut Vec<Match>) -> std::io::Result<()> {
        for m in matches.drain(..) {
            self.print(&m)?;
        }
        Ok(())
    }

    fn print(&mut self, m: &Match) -> std::io::Result<()> {
        let entry = self
            .summary
            .entry((m.level, m.rule_id.clone()))
            .or_insert_with(|| (m.title.clone(), 0));
        entry.1 += 1;
        match self.format {
            Format::Ndjson => {
                writeln!(
                    self.out,
                    "{}",
                    serde_json::to_string(m).map_err(std::io::Error::other)?
                )?;
            }
            Format::Json => {
                let sep = if self.count == 0 { "[" } else { "," };
                writeln!(
                    self.out,
                    "{sep}{}",
                    serde_json::to_string(m).map_err(std::io::Error::other)?
                )?;
            }
            Format::Table | Format::Csv => {
                if self.count == 0 {
                    writeln!(
                        self.out,
                        "{:<24} {:<8} {:<40} DETAIL",
                        "AT", "LEVEL", "RULE"
                    )?;
                }
                let detail = match &m.group_key {
                    Some(key) => format!(
                        "{} {} events {}",
                        m.kind.as_str(),
                        m.event_count.unwrap_or(0),
                        serde_json::Value::Object(key.clone())
                    ),
                    None => m.event_uuids.join(","),
                };
                writeln!(
                    self.out,
                    "{:<24} {:<8} {:<40} {detail}",
                    m.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    m.level.as_str(),
                    truncate(&m.title, 40),
                )?;
            }
        }
        self.count += 1;
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<BTreeMap<(sigma::Level, String), (String, usize)>> {
        if self.format == Format::Json {
            if self.count == 0 {
                writeln!(self.out, "[]")?;
            } else {
                writeln!(self.out, "]")?;
            }
        }
        self.out.flush()?;
        Ok(self.summary)
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
