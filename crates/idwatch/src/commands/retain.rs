//! `idwatch retain [--org X] [--older-than 3y]`: drops whole date partitions of the archive
//! older than the retention age (`--older-than`, else `[archive] retain` in idwatch.toml),
//! recording a retention checkpoint in the archive chain so `idwatch verify` still accounts for
//! every event ever committed. Hot events that old are sealed first.

use crate::config::Context;
use crate::exit::Exit;
use anyhow::Context as _;

/// Arguments of `idwatch retain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this org (default: every org).
    #[arg(long)]
    org: Option<String>,
    /// Drop days that ended more than this long ago (e.g. 3y, 400d); default: `[archive] retain`.
    #[arg(long, value_name = "DURATION")]
    older_than: Option<String>,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let text = args
        .older_than
        .clone()
        .or_else(|| ctx.config.archive.retain.clone())
        .ok_or_else(|| {
            Exit::bad_input(
                "no retention age: pass --older-than 3y or set [archive] retain = \"3y\"",
            )
        })?;
    let cutoff = chrono::Utc::now().timestamp_micros() - super::seal::age("--older-than", &text)?;
    let mut store = ctx.open_store()?;
    let org = match &args.org {
        Some(name) => Some(
            store
                .org(name)
                .map_err(|e| Exit::bad_input(e.to_string()))?,
        ),
        None => None,
    };
    let root = super::seal::archive_root(ctx);
    let (writer, _) = archive::ArchiveWriter::open(&mut store, &root)
        .with_context(|| format!("opening the archive {}", root.display()))?;
    let report = writer.retain(&mut store, org, cutoff)?;
    let cutoff_day = archive::layout::date_of(archive::layout::day_start(cutoff));
    if report.segments == 0 {
        println!("nothing published before {cutoff_day} to drop");
    } else {
        println!(
            "dropped {} events in {} segments ({} days: {} … {}), everything before {cutoff_day}; checkpoint recorded",
            report.events,
            report.segments,
            report.dates.len(),
            report.dates.first().map(String::as_str).unwrap_or(""),
            report.dates.last().map(String::as_str).unwrap_or("")
        );
    }
    Ok(())
}
