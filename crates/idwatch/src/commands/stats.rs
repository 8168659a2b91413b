//! `idwatch stats`: events per org and where the store's bytes go (tables and indexes).

use crate::config::Context;

/// Arguments of `idwatch stats`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Context, _args: Args) -> anyhow::Result<()> {
    let store = ctx.open_store()?;
    for (id, name) in store.orgs()? {
        println!("org {name}: {} events", store.count_events(id)?);
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
    Ok(())
}
