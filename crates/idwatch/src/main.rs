//! The `idwatch` binary: parses the command line, starts tracing, runs one command from
//! `commands/`, and turns its error into an exit code (see `exit`). Nothing else lives here.

mod commands;
mod config;
mod exit;
mod output;
mod time_arg;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Keep your own tamper-evident copy of the Okta System Log, and query it with Okta's own filter
/// syntax.
#[derive(Debug, Parser)]
#[command(name = "idwatch", version, about, max_term_width = 100)]
pub struct Cli {
    /// Data directory (holds idwatch.db).
    #[arg(long, global = true, env = "IDWATCH_DATA", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Configuration file [default: ./idwatch.toml when present].
    #[arg(long, global = true, env = "IDWATCH_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show idwatch working on a simulated org, with nothing to set up.
    Demo(commands::demo::Args),
    /// Import events from NDJSON, JSON arrays, Event Hook envelopes or .gz of these.
    Import(commands::import::Args),
    /// Query stored events with Okta's System Log filter syntax.
    Query(commands::query::Args),
    /// Recompute the hash chain and name every modified, deleted or inserted event.
    Verify(commands::verify::Args),
    /// Write deterministic, realistic Okta events (NDJSON) for tests and benchmarks.
    Gen(commands::gen::Args),
    /// Check, list and test Sigma rules.
    #[command(subcommand)]
    Rules(commands::rules::Command),
    /// Run Sigma rules over stored events or event files (a retro hunt).
    Hunt(commands::hunt::Args),
    /// Measure idwatch on generated data.
    Bench(commands::bench::Args),
    /// Show what the store holds and where its bytes go.
    Stats(commands::stats::Args),
    /// Alerts: list, show, ack, close, deliver, test a sink.
    Alerts(commands::alerts::Args),
    /// Move hot events into the Parquet archive (and compact finished days).
    Seal(commands::seal::Args),
    /// Drop archive partitions older than the retention age (chain stays verifiable).
    Retain(commands::retain::Args),
    /// Export an org's events (both tiers) as Parquet or NDJSON.
    Export(commands::export::Args),
    /// SQL over both tiers (the `events` table), on DataFusion.
    Sql(commands::sql::Args),
    /// Admin roster: snapshot, show, diff (with explaining events), history, verify.
    Admins(commands::admins::Args),
    /// Audits over stored events: credential (password and MFA) changes by user.
    Audit(commands::audit::Args),
    /// Check the tenant's configuration against Okta's hardening guidance.
    Posture(commands::posture::Args),
    /// Orgs to collect from: add, list, remove, test credentials.
    #[command(subcommand)]
    Org(commands::org::Command),
    /// Poll orgs' System Logs into the store (cursor committed with every page).
    Collect(commands::collect::Args),
    /// Per org: cursor age, lag, events/min, 429s, duplicates dropped, last error.
    Status(commands::status::Args),
    /// Run the daemon: collection, Event Hooks, detection, alert delivery, /metrics.
    Serve(commands::serve::Args),
    /// Streaming detection: its position, backlog and allowlist counts; a one-shot run.
    #[command(subcommand)]
    Detect(commands::detect::Command),
    /// The Okta org simulator: serve it on loopback, write its history, list its scenarios.
    #[command(subcommand)]
    Sim(commands::sim::Command),
}

/// Whether a panic is `println!` failing because the reader of our output went away
/// (`idwatch query ... | head`): that ends the command quietly, like `grep` or `cat`.
fn is_broken_pipe(payload: &(dyn std::any::Any + Send)) -> bool {
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    text.starts_with("failed printing to stdout") && text.contains("Broken pipe")
}

fn main() -> ExitCode {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_broken_pipe(info.payload()) {
            default_hook(info);
        }
    }));
    match std::panic::catch_unwind(run) {
        Ok(code) => code,
        Err(payload) if is_broken_pipe(payload.as_ref()) => ExitCode::SUCCESS,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

fn run() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IDWATCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result =
        config::Context::load(cli.data_dir.as_deref(), cli.config.as_deref()).and_then(|ctx| {
            match cli.command {
                Command::Demo(args) => commands::demo::run(&ctx, args),
                Command::Import(args) => commands::import::run(&ctx, args),
                Command::Query(args) => commands::query::run(&ctx, args),
                Command::Verify(args) => commands::verify::run(&ctx, args),
                Command::Gen(args) => commands::gen::run(&ctx, args),
                Command::Rules(command) => commands::rules::run(&ctx, command),
                Command::Hunt(args) => commands::hunt::run(&ctx, args),
                Command::Bench(args) => commands::bench::run(&ctx, args),
                Command::Stats(args) => commands::stats::run(&ctx, args),
                Command::Alerts(args) => commands::alerts::run(&ctx, args),
                Command::Seal(args) => commands::seal::run(&ctx, args),
                Command::Retain(args) => commands::retain::run(&ctx, args),
                Command::Export(args) => commands::export::run(&ctx, args),
                Command::Sql(args) => commands::sql::run(&ctx, args),
                Command::Admins(args) => commands::admins::run(&ctx, args),
                Command::Audit(args) => commands::audit::run(&ctx, args),
                Command::Posture(args) => commands::posture::run(&ctx, args),
                Command::Org(command) => commands::org::run(&ctx, command),
                Command::Collect(args) => commands::collect::run(&ctx, args),
                Command::Status(args) => commands::status::run(&ctx, args),
                Command::Serve(args) => commands::serve::run(&ctx, args),
                Command::Detect(command) => commands::detect::run(&ctx, command),
                Command::Sim(command) => commands::sim::run(&ctx, command),
            }
        });
    exit::code_for(result)
}
