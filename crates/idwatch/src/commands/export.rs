//! `idwatch export --org X --format parquet|ndjson [--since …] [--until …] DIR`: a hand-off copy
//! of an org's events from both tiers (Parquet in the archive's schema and Hive layout, or
//! NDJSON of the raw events exactly as received).

use crate::config::Context;
use crate::exit::Exit;
use crate::time_arg::parse_time_arg;
use std::path::PathBuf;

/// Arguments of `idwatch export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The org to export.
    #[arg(long)]
    org: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Parquet)]
    format: ExportFormat,
    /// Only events published at or after this (RFC 3339, a date, or 90d / 12h ago).
    #[arg(long)]
    since: Option<String>,
    /// Only events published before this.
    #[arg(long)]
    until: Option<String>,
    /// Directory to write into (created if missing).
    dir: PathBuf,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    Parquet,
    Ndjson,
}

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
    let (since, until) = (time(&args.since, "since")?, time(&args.until, "until")?);
    let store = ctx.open_store_read_only()?;
    let org = store
        .org(&org_name)
        .map_err(|e| Exit::bad_input(e.to_string()))?;
    let root = super::seal::archive_root(ctx);
    let tiers = archive::Tiers::new(&store, &root);
    let format = match args.format {
        ExportFormat::Parquet => archive::export::ExportFormat::Parquet,
        ExportFormat::Ndjson => archive::export::ExportFormat::Ndjson,
    };
    let report = archive::export::export(&tiers, org, &org_name, since, until, format, &args.dir)?;
    println!(
        "exported {} events into {} files ({:.1} MB) under {}",
        report.events,
        report.files.len(),
        report.bytes as f64 / 1e6,
        args.dir.display()
    );
    Ok(())
}
