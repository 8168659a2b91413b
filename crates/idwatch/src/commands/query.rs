//! `idwatch query --org NAME 'FILTER'`: Okta's System Log filter syntax over the stored events,
//! with `--since/--until`, `--q` keywords, `--limit`, `--fields`, `--count`, `--group-by` and
//! four output formats. A syntax error points at the column.

use crate::config::Context;
use crate::exit::Exit;
use crate::output::{field_text, Format, TableWriter};
use crate::time_arg::parse_time_arg;
use okta::filter::{Filter, Keywords};
use std::collections::HashMap;
use std::io::Write;
use std::ops::ControlFlow;
use store::EventQuery;

/// Arguments of `idwatch query`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The org to query.
    #[arg(long)]
    org: Option<String>,
    /// Okta filter expression, e.g. 'eventType eq "user.session.start" and outcome.result eq "FAILURE"'.
    filter: Option<String>,
    /// Only events published at or after this (RFC 3339, a date, or 90d / 12h / 30m ago).
    #[arg(long)]
    since: Option<String>,
    /// Only events published before this.
    #[arg(long)]
    until: Option<String>,
    /// Only events stored (ingested) at or after this, whatever their `published` says: what
    /// arrived late, or since the last look.
    #[arg(long)]
    ingested_since: Option<String>,
    /// Only events stored before this.
    #[arg(long)]
    ingested_until: Option<String>,
    /// Okta `q` keyword search: every keyword must match some value (case-insensitive).
    #[arg(long = "q", value_name = "KEYWORDS")]
    keywords: Option<String>,
    /// At most this many events.
    #[arg(long)]
    limit: Option<usize>,
    /// Newest first.
    #[arg(long)]
    desc: bool,
    /// Fields to show (comma-separated dotted paths).
    #[arg(long, value_delimiter = ',')]
    fields: Vec<String>,
    /// Print only the number of matching events.
    #[arg(long, conflicts_with = "group_by")]
    count: bool,
    /// Count matching events per value of FIELD, most frequent first.
    #[arg(long, value_name = "FIELD")]
    group_by: Option<String>,
    /// Rows shown with --group-by.
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Print the plan (indexed or scan) and counts to stderr.
    #[arg(long)]
    explain: bool,
}

const DEFAULT_FIELDS: &[&str] = &[
    "published",
    "eventType",
    "actor.alternateId",
    "client.ipAddress",
    "outcome.result",
    "displayMessage",
];

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let org_name = ctx.org(args.org.as_deref())?;
    let now = chrono::Utc::now();
    let time = |arg: &Option<String>, flag: &str| -> anyhow::Result<Option<i64>> {
        arg.as_deref()
            .map(|t| {
                parse_time_arg(t, now)
                    .map(|t| t.timestamp_micros())
                    .map_err(|e| Exit::bad_input(format!("--{flag}: {e}")))
            })
            .transpose()
    };
    let filter = match args.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        Some(text) => Some(Filter::parse(text).map_err(|e| {
            Exit::bad_input(format!(
                "{e}\n  {text}\n  {}^",
                " ".repeat(e.column().saturating_sub(1))
            ))
        })?),
        None => None,
    };
    let keywords = match args.keywords.as_deref() {
        Some(q) => Some(Keywords::parse(q).map_err(|e| Exit::bad_input(format!("--q: {e}")))?),
        None => None,
    };
    let aggregate = args.count || args.group_by.is_some();
    let query = EventQuery {
        filter,
        keywords,
        since: time(&args.since, "since")?,
        until: time(&args.until, "until")?,
        limit: if aggregate { None } else { args.limit },
        descending: args.desc,
        ordered: !aggregate,
        ..EventQuery::default()
    };
    let store = ctx.open_store_read_only()?;
    let org = store
        .org(&org_name)
        .map_err(|e| Exit::bad_input(e.to_string()))?;
    let mut query = query;
    let (ingested_since, ingested_until) = (
        time(&args.ingested_since, "ingested-since")?,
        time(&args.ingested_until, "ingested-until")?,
    );
    if ingested_since.is_some() || ingested_until.is_some() {
        query.seq_range = Some(store.seq_range_ingested(org, ingested_since, ingested_until)?);
    }
    let archive_root = super::seal::archive_root(ctx);
    let tiers = archive::Tiers::new(&store, &archive_root);
    let stdout = std::io::stdout().lock();
    let started = std::time::Instant::now();

    let stats = if args.count {
        let mut n = 0u64;
        let stats = tiers.query(org, &query, &mut |_| {
            n += 1;
            ControlFlow::Continue(())
        })?;
        let mut out = stdout;
        match args.format {
            Format::Json | Format::Ndjson => writeln!(out, "{{\"count\":{n}}}")?,
            Format::Csv => writeln!(out, "count\n{n}")?,
            Format::Table => writeln!(out, "{n}")?,
        }
        stats
    } else if let Some(field) = &args.group_by {
        let mut counts: HashMap<String, u64> = HashMap::new();
        let stats = tiers.query(org, &query, &mut |stored| {
            *counts
                .entry(field_text(stored.event.doc(), field))
                .or_default() += 1;
            ControlFlow::Continue(())
        })?;
        let mut rows: Vec<(String, u64)> = counts.into_iter().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut table = TableWriter::new(stdout, args.format, vec![field.clone(), "count".into()])?;
        for (value, n) in rows.into_iter().take(args.top) {
            table.row(vec![value, n.to_string()])?;
        }
        table.finish()?;
        stats
    } else {
        let fields: Vec<String> = if args.fields.is_empty() {
            DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect()
        } else {
            args.fields.clone()
        };
        let raw_events =
            args.fields.is_empty() && matches!(args.format, Format::Json | Format::Ndjson);
        let mut table = TableWriter::new(stdout, args.format, fields.clone())?;
        let mut io_error = None;
        let stats = tiers.query(org, &query, &mut |stored| {
            let result = if raw_events {
                let raw = stored.event.raw();
                if args.format == Format::Ndjson && raw.contains('\n') {
                    // A pretty-printed original (an array element) is one line in NDJSON.
                    table.raw_json(&stored.event.doc().to_string())
                } else {
                    table.raw_json(raw)
                }
            } else {
                let doc = stored.event.doc();
                table.row(fields.iter().map(|f| field_text(doc, f)).collect())
            };
            match result {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    io_error = Some(e);
                    ControlFlow::Break(())
                }
            }
        })?;
        if let Some(e) = io_error {
            return Err(e.into());
        }
        table.finish()?;
        stats
    };
    if args.explain {
        eprintln!(
            "hot: plan {}{}: {} candidates parsed, {} matched, {} blocks read; archive: {} of {} segments ({} skipped by term filters), {} row groups ({} pruned), {} rows past pivots, {} parsed, {} matched; {:.1} ms",
            stats.hot.plan,
            stats
                .hot
                .constraint
                .as_deref()
                .map(|c| format!(" [{c}]"))
                .unwrap_or_default(),
            stats.hot.candidates,
            stats.hot.matched,
            stats.hot.blocks_read,
            stats.segments_live - stats.segments_pruned - stats.segments_pruned_by_terms,
            stats.segments_live,
            stats.segments_pruned_by_terms,
            stats.archive.row_groups,
            stats.archive.row_groups_pruned,
            stats.archive.rows_read,
            stats.archive_checked,
            stats.archive_matched,
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
