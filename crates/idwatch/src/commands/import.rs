//! `idwatch import --org NAME FILE...`: reads NDJSON, JSON arrays, Event Hook envelopes and gzip
//! of any of them (from files or `-` for stdin), stores them in batches (one transaction each),
//! reports each bad record as `FILE:LINE: reason` and skips it (or stops, with `--strict`), and
//! ends with one summary line. Re-importing the same data stores nothing new and says so.

use crate::config::Context;
use crate::exit::Exit;
use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use okta::import::{EventReader, ImportError};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;
use store::BatchOutcome;

/// Arguments of `idwatch import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The org the events belong to.
    #[arg(long)]
    org: Option<String>,
    /// Stop at the first bad record with exit code 2 (batches already committed stay; importing
    /// again after fixing the file is safe).
    #[arg(long)]
    strict: bool,
    /// Events per transaction.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    batch_size: u32,
    /// Input files (`-` for standard input).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// Bad records printed before the rest are only counted.
const MAX_REPORTED: usize = 100;

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let org_name = ctx.org(args.org.as_deref())?;
    let mut store = ctx.open_store()?;
    let org = store
        .ensure_org(&org_name)
        .with_context(|| format!("creating org {org_name}"))?;
    let started = Instant::now();
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {pos} events ({per_sec}) {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut total = BatchOutcome::default();
    let mut rejected = 0usize;
    let batch_size = args.batch_size as usize;
    for path in &args.files {
        progress.set_message(path.display().to_string());
        let reader = EventReader::open(path).map_err(|e| Exit::bad_input(e.to_string()))?;
        let source = format!("import:{}", path.display());
        let mut batch = Vec::with_capacity(batch_size);
        for record in reader {
            match record {
                Ok(read) => {
                    batch.push(read.event);
                    if batch.len() >= batch_size {
                        total += store
                            .commit_batch(org, &batch, &source)
                            .context("storing a batch")?;
                        progress.inc(batch.len() as u64);
                        batch.clear();
                    }
                }
                Err(err) => {
                    rejected += 1;
                    let fatal = matches!(err, ImportError::Read { .. });
                    if rejected <= MAX_REPORTED || fatal || args.strict {
                        progress.suspend(|| eprintln!("{err}"));
                    }
                    if fatal || args.strict {
                        // Keep what was read before the bad record: it is valid and idempotent.
                        total += store
                            .commit_batch(org, &batch, &source)
                            .context("storing a batch")?;
                        progress.finish_and_clear();
                        print_summary(&org_name, &total, rejected, started);
                        return Err(Exit::bad_input(if fatal {
                            "import stopped: input unreadable".to_string()
                        } else {
                            "import stopped at the first bad record (--strict)".to_string()
                        }));
                    }
                }
            }
        }
        total += store
            .commit_batch(org, &batch, &source)
            .context("storing a batch")?;
        progress.inc(batch.len() as u64);
    }
    progress.finish_and_clear();
    if rejected > MAX_REPORTED {
        eprintln!("... and {} more bad records", rejected - MAX_REPORTED);
    }
    print_summary(&org_name, &total, rejected, started);
    Ok(())
}

fn print_summary(org: &str, total: &BatchOutcome, rejected: usize, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    let read = total.offered + rejected;
    let conflicts = if total.conflicts > 0 {
        format!(" ({} with different content)", total.conflicts)
    } else {
        String::new()
    };
    println!(
        "org {org}: read {read}, new {}, duplicates {}{conflicts}, rejected {rejected} in {secs:.2}s ({:.0} events/s)",
        total.new,
        total.duplicates,
        read as f64 / secs.max(1e-9)
    );
}
