//! `idwatch verify [--org X] [--expect-head HEX]`: recomputes the hash chain and names every
//! modified, deleted or inserted event by uuid, in the hot tier and in the archive (the archive
//! chain, every sealed file's hash, and each sealed row against the chain; files nobody owns).
//! Exit code 3 when anything is wrong.

use crate::config::Context;
use crate::exit::{Exit, INTEGRITY};

/// Arguments of `idwatch verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this org (default: every org).
    #[arg(long)]
    org: Option<String>,
    /// The head link you recorded earlier (hex); catches truncation and whole-chain rewrites.
    #[arg(long, value_name = "HEX", requires = "org")]
    expect_head: Option<String>,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let mut store = ctx.open_store_read_only()?;
    let org = match &args.org {
        Some(name) => Some(
            store
                .org(name)
                .map_err(|e| Exit::bad_input(e.to_string()))?,
        ),
        None => None,
    };
    let started = std::time::Instant::now();
    let archive_root = super::seal::archive_root(ctx);
    let full = archive::verify(&mut store, &archive_root, org, args.expect_head.as_deref())?;
    let report = &full.hot;
    let mut problems = 0;
    for org in &report.orgs {
        if org.problems.is_empty() {
            println!(
                "org {}: {} batches, {} events: chain intact; head {}",
                org.org, org.batches, org.events, org.head
            );
        } else {
            println!(
                "org {}: {} batches, {} events: {} PROBLEMS",
                org.org,
                org.batches,
                org.events,
                org.problems.len()
            );
            for p in &org.problems {
                println!("  {p}");
            }
            problems += org.problems.len();
        }
    }
    for a in &full.archive {
        if a.log_entries == 0 && a.problems.is_empty() {
            continue;
        }
        if a.problems.is_empty() {
            println!(
                "archive {}: {} segments, {} events sealed, {} dropped by retention checkpoints: intact; head {}",
                a.org, a.segments, a.archived_events, a.retained_events, a.head
            );
        } else {
            println!(
                "archive {}: {} segments, {} events sealed: {} PROBLEMS",
                a.org,
                a.segments,
                a.archived_events,
                a.problems.len()
            );
            for p in &a.problems {
                println!("  {p}");
            }
            problems += a.problems.len();
        }
    }
    for file in &full.unknown_files {
        println!("archive: file {file} is not a sealed segment (added)");
        problems += 1;
    }
    eprintln!("verified in {:.2}s", started.elapsed().as_secs_f64());
    if problems > 0 {
        return Err(Exit {
            code: INTEGRITY,
            message: format!("verification failed: {problems} problems"),
        }
        .into());
    }
    Ok(())
}
