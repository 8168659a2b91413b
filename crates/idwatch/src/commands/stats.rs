//! `idwatch stats`: events per org in each tier (the hot SQLite store and the sealed Parquet
//! archive, with its days and size), and where the store's bytes go (tables and indexes).

use crate::config::Context;

/// Arguments of `idwatch stats`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Context, _args: Args) -> anyhow::Result<()> {
    let store = ctx.open_store()?;
    let mut archived_total = (0i64, 0i64, 0usize);
    for (id, name) in store.orgs()? {
        let stored = store.count_events(id)? as i64;
        let hot = store.count_hot_events(id)? as i64;
        let segments = store.live_segments(id, None, None)?;
        if segments.is_empty() && stored == hot {
            println!("org {name}: {stored} events, all in the hot tier");
            continue;
        }
        let rows: i64 = segments.iter().map(|s| s.record.rows).sum();
        let bytes: i64 = segments.iter().map(|s| s.record.bytes).sum();
        let first = segments
            .iter()
            .map(|s| s.record.date.as_str())
            .min()
            .unwrap_or("-");
        let last = segments
            .iter()
            .map(|s| s.record.date.as_str())
            .max()
            .unwrap_or("-");
        println!(
            "org {name}: {stored} events stored: hot {hot}, archive {rows} in {} segments ({first} … {last}, {bytes} bytes, {:.0} bytes/event), dropped by retention {}",
            segments.len(),
            bytes as f64 / rows.max(1) as f64,
            stored - hot - rows
        );
        archived_total.0 += rows;
        archived_total.1 += bytes;
        archived_total.2 += segments.len();
    }
    let size = store.size_report()?;
    println!(
        "store {}: {} events, {} bytes, {:.0} bytes/event",
        store.path().display(),
        size.events,
        size.total_bytes,
        size.bytes_per_event()
    );
    for object in &size.objects {
        println!(
            "  {:<22} {:>12} bytes  {:>7.1} bytes/event",
            object.name,
            object.bytes,
            object.bytes as f64 / size.events.max(1) as f64
        );
    }
    let (rows, bytes, segments) = archived_total;
    if segments > 0 {
        println!(
            "archive {}: {rows} events in {segments} segments, {bytes} bytes, {:.0} bytes/event",
            super::seal::archive_root(ctx).display(),
            bytes as f64 / rows.max(1) as f64
        );
    }
    Ok(())
}
