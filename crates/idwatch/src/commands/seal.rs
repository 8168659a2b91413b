//! `idwatch seal [--org X] [--older-than DURATION]`: moves hot events older than DURATION
//! (default: everything) into Parquet segments in the archive, then compacts each finished day
//! into one file. Also where the archive's location is resolved for every archive command.

use crate::config::Context;
use crate::exit::Exit;
use anyhow::Context as _;
use std::path::PathBuf;

/// Arguments of `idwatch seal`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this org (default: every org).
    #[arg(long)]
    org: Option<String>,
    /// Seal events published more than this long ago (e.g. 7d, 12h); default: all of them.
    #[arg(long, value_name = "DURATION")]
    older_than: Option<String>,
}

/// The archive directory: `[archive] dir`, else `<data dir>/archive`.
pub fn archive_root(ctx: &Context) -> PathBuf {
    ctx.config
        .archive
        .dir
        .clone()
        .unwrap_or_else(|| archive::layout::default_root(&ctx.data_dir))
}

/// Parses an age flag (`3y`, `90d`) into microseconds.
pub fn age(flag: &str, text: &str) -> anyhow::Result<i64> {
    archive::parse_age(text).map_err(|e| Exit::bad_input(format!("{flag}: {e}")))
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let cutoff = match &args.older_than {
        Some(text) => chrono::Utc::now().timestamp_micros() - age("--older-than", text)?,
        None => i64::MAX,
    };
    let mut store = ctx.open_store()?;
    let org = match &args.org {
        Some(name) => Some(
            store
                .org(name)
                .map_err(|e| Exit::bad_input(e.to_string()))?,
        ),
        None => None,
    };
    let root = archive_root(ctx);
    let (writer, cleanup) = archive::ArchiveWriter::open(&mut store, &root)
        .with_context(|| format!("opening the archive {}", root.display()))?;
    if cleanup.pending + cleanup.superseded + cleanup.temporary > 0 {
        eprintln!(
            "cleaned up after an interrupted run: {} unfinished segments, {} superseded files, {} temporary files",
            cleanup.pending, cleanup.superseded, cleanup.temporary
        );
    }
    let started = std::time::Instant::now();
    let report = writer.seal(&mut store, org, cutoff)?;
    println!(
        "sealed {} events into {} segments ({:.1} MB); compacted {} days ({} segments into {:.1} MB) in {:.1}s",
        report.events,
        report.segments,
        report.bytes as f64 / 1e6,
        report.days_compacted,
        report.segments_replaced,
        report.compacted_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
