//! `idwatch posture`: checks the tenant against Okta's hardening guidance (support access, MFA
//! for the Admin Console and every group, password policy, super-admin count, weak factors,
//! admin sessions, API token network restrictions, external IdPs, ThreatInsight) and archives
//! the results beside the roster snapshots (the roster is read live). Exit code 1 when any
//! check fails.

use crate::commands::admins::{directory_for, emit, runtime, SourceArgs};
use crate::config::Context;
use crate::exit::Exit;
use crate::output::{Format, TableWriter};
use anyhow::Context as _;
use audit::posture::{evaluate, read_posture, Status};
use audit::schedule::record_posture;
use audit::DirectorySource;
use chrono::Utc;

/// Arguments of `idwatch posture`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The org (default: default_org).
    #[arg(long)]
    org: Option<String>,
    #[command(flatten)]
    source: SourceArgs,
    /// Output format: table or json.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let org_name = ctx.org(args.org.as_deref())?;
    let mut store = ctx.open_store()?;
    let directory = directory_for(&store, &org_name, &args.source)?;
    let org = store.ensure_org(&org_name)?;
    let input = runtime()?
        .block_on(async {
            let roster = audit::take_roster(&directory).await?;
            Ok::<_, audit::roster::RosterError>(read_posture(&directory, roster).await)
        })
        .with_context(|| format!("reading the configuration of `{org_name}`"))?;
    let report = evaluate(&input, &ctx.config.audit.posture, Utc::now());
    let recorded = record_posture(&mut store, org, report, &directory.base_url())?;
    let report = &recorded.report;
    match args.format {
        Format::Json | Format::Ndjson => {
            let out = serde_json::json!({
                "org": org_name,
                "snapshot": recorded.snapshot.id.0,
                "checked_at": report.checked_at,
                "checks": report.checks,
                "regressions": recorded.regressions,
            });
            emit(&format!("{}\n", serde_json::to_string_pretty(&out)?))?;
        }
        _ => {
            let header: Vec<String> = ["check", "status", "evidence", "remediation"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let mut w = TableWriter::new(std::io::stdout().lock(), args.format, header)?;
            for c in &report.checks {
                w.row(vec![
                    c.id.clone(),
                    c.status.to_string().to_uppercase(),
                    c.evidence.join("; "),
                    c.remediation.clone(),
                ])?;
            }
            w.finish()?;
            if args.format == Format::Table {
                for c in report.checks.iter().filter(|c| c.status != Status::Pass) {
                    println!("\n{} ({}): {}", c.title, c.status, c.id);
                    for e in &c.evidence {
                        println!("  - {e}");
                    }
                    println!("  fix: {}", c.remediation);
                }
                for r in &recorded.regressions {
                    println!("REGRESSION {}: {} -> {}", r.id, r.from, r.to);
                }
                println!(
                    "\nposture snapshot {} archived (sha256 {})",
                    recorded.snapshot.id, recorded.snapshot.content_hash
                );
            }
        }
    }
    let failed = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .count();
    if failed > 0 {
        return Err(Exit::findings(format!("{failed} posture checks failed")));
    }
    Ok(())
}
