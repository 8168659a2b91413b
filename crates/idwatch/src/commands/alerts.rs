//! `idwatch alerts ...`: the alert lifecycle and delivery from the command line. `list` and
//! `show` read alerts (with every delivery attempt), `ack` and `close` record who, when and why,
//! `raise` files an alert by hand (an analyst's finding, a script), `retry` requeues failed
//! deliveries after a sink is fixed, `deliver` runs the delivery worker over the outbox
//! (`--once`: what is due now, then exit), and `test-sink` sends a synthetic alert to one sink.

use crate::config::Context;
use crate::exit::Exit;
use crate::output::{Format, TableWriter};
use crate::time_arg::parse_time_arg;
use anyhow::Context as _;
use chrono::Utc;
use notify::{AlertMessage, Delivery, DeliveryWorker, WorkerOptions};
use std::collections::BTreeMap;
use std::io::Write;
use store::alerts::{
    Alert, AlertActor, AlertClient, AlertContext, AlertFilter, AlertId, AlertLevel, AlertStatus,
    NewAlert,
};

/// Arguments of `idwatch alerts`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// List alerts, newest first.
    List(ListArgs),
    /// Show one alert: context, events, notes, and every delivery attempt.
    Show(ShowArgs),
    /// Acknowledge an alert (repeats still fold into it).
    Ack(StatusArgs),
    /// Close an alert (a repeat after this raises a new one).
    Close(StatusArgs),
    /// Raise an alert by hand; it is deduplicated and delivered like any other.
    Raise(RaiseArgs),
    /// Queue an alert's failed deliveries again (after fixing the sink).
    Retry(ShowArgs),
    /// Run the delivery worker: deliver what the outbox holds, retrying, until stopped.
    Deliver(DeliverArgs),
    /// Send a synthetic alert to one sink, to check its configuration.
    TestSink(TestSinkArgs),
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Only this org.
    #[arg(long)]
    org: Option<String>,
    /// Only this status: open, acknowledged, closed.
    #[arg(long, value_parser = parse_status)]
    status: Option<AlertStatus>,
    /// Only this level and above: informational, low, medium, high, critical.
    #[arg(long, value_parser = parse_level)]
    level: Option<AlertLevel>,
    /// Only alerts whose latest event is at or after this (RFC 3339, a date, or 7d / 12h ago).
    #[arg(long)]
    since: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, clap::Args)]
struct ShowArgs {
    /// The alert id.
    #[arg(value_parser = parse_id)]
    id: AlertId,
    /// `table` (text for people) or `json`.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// The alert id.
    #[arg(value_parser = parse_id)]
    id: AlertId,
    /// Why: recorded with the status change.
    #[arg(long, default_value = "")]
    note: String,
    /// Who [default: $USER].
    #[arg(long)]
    by: Option<String>,
}

#[derive(Debug, clap::Args)]
struct RaiseArgs {
    /// The org.
    #[arg(long)]
    org: Option<String>,
    /// Rule id (repeats of the same rule and group within the suppression window fold).
    #[arg(long, default_value = "manual")]
    rule: String,
    /// Title.
    #[arg(long)]
    title: String,
    /// Level.
    #[arg(long, value_parser = parse_level, default_value = "medium")]
    level: AlertLevel,
    /// What happened.
    #[arg(long, default_value = "")]
    summary: String,
    /// Why it matters.
    #[arg(long, default_value = "")]
    description: String,
    /// Who (login).
    #[arg(long)]
    actor: Option<String>,
    /// From where (IP address).
    #[arg(long)]
    ip: Option<String>,
    /// Group key entries, FIELD=VALUE (repeatable).
    #[arg(long = "group", value_name = "FIELD=VALUE")]
    group: Vec<String>,
    /// Uuids of the events behind it (repeatable).
    #[arg(long = "event", value_name = "UUID")]
    events: Vec<String>,
    /// Event time [default: now].
    #[arg(long)]
    at: Option<String>,
}

#[derive(Debug, clap::Args)]
struct DeliverArgs {
    /// Deliver what is due now, then exit (retries scheduled later stay queued).
    #[arg(long)]
    once: bool,
}

#[derive(Debug, clap::Args)]
struct TestSinkArgs {
    /// The sink's name in `[[alerts.sinks]]`.
    name: String,
}

fn parse_status(s: &str) -> Result<AlertStatus, String> {
    s.parse()
}

fn parse_level(s: &str) -> Result<AlertLevel, String> {
    s.parse()
}

fn parse_id(s: &str) -> Result<AlertId, String> {
    s.parse()
}

fn author(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "cli".into())
}

/// Runs `idwatch alerts`.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::List(a) => list(ctx, a),
        Command::Show(a) => show(ctx, a),
        Command::Ack(a) => set_status(ctx, a, AlertStatus::Acknowledged),
        Command::Close(a) => set_status(ctx, a, AlertStatus::Closed),
        Command::Raise(a) => raise(ctx, a),
        Command::Retry(a) => retry(ctx, a),
        Command::Deliver(a) => deliver(ctx, a),
        Command::TestSink(a) => test_sink(ctx, a),
    }
}

fn store_error(err: store::StoreError) -> anyhow::Error {
    match err {
        store::StoreError::UnknownAlert(_)
        | store::StoreError::AlertClosed { .. }
        | store::StoreError::UnknownOrg(_) => Exit::bad_input(err.to_string()),
        other => other.into(),
    }
}

fn list(ctx: &Context, args: ListArgs) -> anyhow::Result<()> {
    // A write connection: it brings an older store's schema up to date first.
    let store = ctx.open_store()?;
    let org = match &args.org {
        Some(name) => Some(store.org(name).map_err(store_error)?),
        None => None,
    };
    let since = args
        .since
        .as_deref()
        .map(|s| parse_time_arg(s, Utc::now()))
        .transpose()
        .map_err(Exit::bad_input)?;
    let alerts = store.list_alerts(&AlertFilter {
        org,
        status: args.status,
        min_level: args.level,
        since,
        limit: Some(args.limit),
    })?;
    let stdout = std::io::stdout().lock();
    if matches!(args.format, Format::Json | Format::Ndjson) {
        let mut w = TableWriter::new(stdout, args.format, Vec::new())?;
        for alert in &alerts {
            w.raw_json(&serde_json::to_string(alert)?)?;
        }
        return Ok(w.finish()?);
    }
    let header = [
        "id",
        "level",
        "status",
        "org",
        "rule",
        "title",
        "count",
        "last_seen",
        "delivery",
    ];
    let mut w = TableWriter::new(
        stdout,
        args.format,
        header.iter().map(|h| h.to_string()).collect(),
    )?;
    for alert in &alerts {
        let deliveries = store.deliveries(alert.id)?;
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (entry, _) in &deliveries {
            *counts.entry(entry.state.as_str()).or_default() += 1;
        }
        let delivery = if counts.is_empty() {
            "-".to_string()
        } else {
            counts
                .iter()
                .map(|(state, n)| format!("{n} {state}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        w.row(vec![
            alert.id.to_string(),
            alert.level.to_string(),
            alert.status.to_string(),
            alert.org_name.clone(),
            alert.rule_id.clone(),
            alert.title.clone(),
            alert.count.to_string(),
            notify::message::rfc3339(alert.last_seen),
            delivery,
        ])?;
    }
    Ok(w.finish()?)
}

fn show(ctx: &Context, args: ShowArgs) -> anyhow::Result<()> {
    let store = ctx.open_store()?;
    let alert = store.alert(args.id).map_err(store_error)?;
    let deliveries = store.deliveries(args.id)?;
    let mut out = std::io::stdout().lock();
    if matches!(args.format, Format::Json | Format::Ndjson) {
        let value = serde_json::json!({
            "alert": alert,
            "deliveries": deliveries
                .iter()
                .map(|(entry, attempts)| serde_json::json!({ "delivery": entry, "attempts": attempts }))
                .collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    print_alert(&mut out, ctx, &alert, &deliveries)?;
    Ok(())
}

fn print_alert(
    out: &mut impl Write,
    ctx: &Context,
    alert: &Alert,
    deliveries: &[(
        store::alerts::OutboxEntry,
        Vec<store::alerts::DeliveryAttempt>,
    )],
) -> std::io::Result<()> {
    let m = AlertMessage::new(alert, &ctx.config.alerts.message_options());
    writeln!(out, "alert {}: {}", alert.id, m.headline())?;
    writeln!(out, "  status:         {}", alert.status)?;
    writeln!(out, "  rule:           {}", alert.rule_id)?;
    writeln!(out, "  what happened:  {}", m.what)?;
    if let Some(who) = &m.who {
        writeln!(out, "  who:            {who}")?;
    }
    if let Some(location) = &m.location {
        writeln!(out, "  where:          {location}")?;
    }
    if !m.why.is_empty() {
        writeln!(out, "  why it matters: {}", m.why)?;
    }
    writeln!(out, "  seen:           {}", m.seen())?;
    if !m.group.is_empty() {
        writeln!(out, "  grouped by:     {}", m.group_line())?;
    }
    writeln!(out, "  evidence:       {}", m.evidence_line())?;
    writeln!(out, "  events ({}):", alert.event_uuids.len())?;
    for uuid in &alert.event_uuids {
        writeln!(out, "    {uuid}")?;
    }
    if !alert.notes.is_empty() {
        writeln!(out, "  notes:")?;
        for note in &alert.notes {
            let text = if note.text.is_empty() {
                String::new()
            } else {
                format!(": {}", note.text)
            };
            writeln!(
                out,
                "    {}  {}  {}{text}",
                notify::message::rfc3339(note.at),
                note.author,
                note.status
            )?;
        }
    }
    if deliveries.is_empty() {
        writeln!(out, "  deliveries: none (no sink takes this org and level)")?;
    } else {
        writeln!(out, "  deliveries:")?;
    }
    for (entry, attempts) in deliveries {
        let mut line = format!(
            "    {}  {}  {} attempts  key {}",
            entry.sink, entry.state, entry.attempts, entry.idempotency_key
        );
        if let Some(next) = entry.next_attempt_at.filter(|_| entry.attempts > 0) {
            line.push_str(&format!("  next {}", notify::message::rfc3339(next)));
        }
        writeln!(out, "{line}")?;
        for a in attempts {
            let mut line = format!(
                "      {}  {:<9}  {:>4} ms",
                notify::message::rfc3339(a.at),
                a.outcome,
                a.duration_ms
            );
            if let Some(status) = a.status {
                line.push_str(&format!("  status {status}"));
            }
            if let Some(error) = &a.error {
                line.push_str(&format!("  {error}"));
            }
            if let Some(next) = a.next_attempt_at {
                line.push_str(&format!("  (next {})", notify::message::rfc3339(next)));
            }
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

fn set_status(ctx: &Context, args: StatusArgs, status: AlertStatus) -> anyhow::Result<()> {
    let mut store = ctx.open_store()?;
    let who = author(args.by);
    let alert = store
        .set_alert_status(args.id, status, &who, &args.note, Utc::now())
        .map_err(store_error)?;
    println!(
        "alert {} {} by {who}: {}",
        alert.id, alert.status, alert.title
    );
    Ok(())
}

fn raise(ctx: &Context, args: RaiseArgs) -> anyhow::Result<()> {
    let org_name = ctx.org(args.org.as_deref())?;
    let at = match &args.at {
        Some(text) => parse_time_arg(text, Utc::now()).map_err(Exit::bad_input)?,
        None => Utc::now(),
    };
    let mut group_key = BTreeMap::new();
    for pair in &args.group {
        let (field, value) = pair.split_once('=').ok_or_else(|| {
            Exit::bad_input(format!(
                "--group `{pair}`: write FIELD=VALUE, e.g. --group actor.alternateId=jane@example.com"
            ))
        })?;
        group_key.insert(
            field.to_string(),
            serde_json::Value::String(value.to_string()),
        );
    }
    let mut store = ctx.open_store()?;
    let org = store.ensure_org(&org_name)?;
    let raised = store.raise(
        &NewAlert {
            org,
            rule_id: args.rule,
            title: args.title,
            level: args.level,
            group_key,
            first_seen: at,
            last_seen: at,
            event_uuids: args.events,
            context: AlertContext {
                summary: args.summary,
                description: args.description,
                actor: args.actor.map(|login| AlertActor {
                    alternate_id: Some(login),
                    ..AlertActor::default()
                }),
                client: args.ip.map(|ip| AlertClient {
                    ip: Some(ip),
                    ..AlertClient::default()
                }),
                references: Vec::new(),
            },
        },
        &ctx.config.alerts.routing(),
        Utc::now(),
    )?;
    let what = match raised.kind {
        store::alerts::RaiseKind::Created => "raised",
        store::alerts::RaiseKind::Updated => "folded into",
        store::alerts::RaiseKind::Unchanged => "already on",
    };
    println!(
        "alert {}: {what}; {} deliveries queued",
        raised.alert, raised.queued
    );
    Ok(())
}

fn retry(ctx: &Context, args: ShowArgs) -> anyhow::Result<()> {
    let mut store = ctx.open_store()?;
    store.alert(args.id).map_err(store_error)?;
    let n = store.requeue_failed(args.id, Utc::now())?;
    println!("alert {}: {n} failed deliveries queued again", args.id);
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn deliver(ctx: &Context, args: DeliverArgs) -> anyhow::Result<()> {
    let alerts = &ctx.config.alerts;
    if alerts.sinks.is_empty() {
        return Err(Exit::bad_input(format!(
            "no sinks configured: add [[alerts.sinks]] to idwatch.toml, e.g.\n{}",
            notify::slack::SLACK_EXAMPLE
        )));
    }
    let sinks = alerts
        .build_sinks()
        .map_err(|e| Exit::bad_input(e.to_string()))?;
    let store = ctx.open_store()?;
    let names: Vec<&str> = sinks.keys().map(String::as_str).collect();
    eprintln!(
        "idwatch: delivering alerts from {} to {}{}",
        store.path().display(),
        names.join(", "),
        if args.once { "" } else { " (Ctrl-C to stop)" }
    );
    let worker = DeliveryWorker::new(store, sinks, WorkerOptions::from_config(alerts));
    let rt = runtime()?;
    let stats = rt.block_on(async {
        if args.once {
            worker.run_once().await
        } else {
            worker.run(shutdown_signal()).await
        }
    })?;
    let summary = ctx.open_store_read_only()?.outbox_summary()?;
    println!(
        "{} attempts: {} delivered, {} to retry, {} failed; outbox: {} pending, {} sent, {} failed",
        stats.attempts,
        stats.delivered,
        stats.retrying,
        stats.failed,
        summary.pending,
        summary.sent,
        summary.failed
    );
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn test_sink(ctx: &Context, args: TestSinkArgs) -> anyhow::Result<()> {
    let alerts = &ctx.config.alerts;
    let entry = alerts.sink(&args.name).ok_or_else(|| {
        let names: Vec<&str> = alerts.sinks.iter().map(|s| s.name.as_str()).collect();
        Exit::bad_input(format!(
            "no sink named `{}` in [[alerts.sinks]] (configured: {})",
            args.name,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ))
    })?;
    let sink = entry
        .sink
        .build(
            &entry.name,
            &notify::BuildContext {
                timeout: alerts.delivery.timeout.0,
            },
        )
        .map_err(|e| Exit::bad_input(e.to_string()))?;
    let mut alert = notify::sample::sample_alert();
    alert.title = format!("idwatch test alert: {}", alert.title);
    let message = AlertMessage::new(&alert, &alerts.message_options());
    let key = format!("test-{}", Utc::now().timestamp_micros());
    let started = std::time::Instant::now();
    let rt = runtime()?;
    let result = rt.block_on(sink.deliver(&Delivery {
        alert: &alert,
        message: &message,
        idempotency_key: &key,
        attempt: 1,
    }));
    let ms = started.elapsed().as_millis();
    match result {
        Ok(status) => {
            let status = status.map(|s| format!(" (status {s})")).unwrap_or_default();
            println!(
                "sink {} ({}): delivered a synthetic alert{status} in {ms} ms",
                entry.name,
                entry.sink.kind()
            );
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!(
            "{e} ({}; after {ms} ms)",
            if e.retriable() {
                "temporary: the worker would retry"
            } else {
                "permanent: the worker would mark it failed"
            }
        )),
    }
}
