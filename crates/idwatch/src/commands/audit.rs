//! `idwatch audit credentials`: every password reset/change and MFA factor change in the stored
//! log, grouped by the user whose credential changed, with who did it (self, admin, help desk,
//! Okta support, impersonation), from where, and a recommendation (force_reset, review_factors,
//! ok). Table for people, CSV for the help desk, JSON with every change for tools. Admin roles
//! (help desk vs admin) come from the archived roster snapshots (`idwatch admins snapshot`).

use crate::commands::admins::emit;
use crate::config::Context;
use crate::exit::Exit;
use crate::output::{Format, TableWriter};
use crate::time_arg::parse_time_arg;
use audit::credentials::{audit_credentials, to_csv, RoleHistory};
use audit::schedule::load_roster;
use chrono::Utc;
use store::SnapshotKind;

/// Arguments of `idwatch audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Password and MFA changes by user, who made them, and what to do.
    Credentials(CredentialArgs),
}

#[derive(Debug, clap::Args)]
struct CredentialArgs {
    /// The org (default: default_org).
    #[arg(long)]
    org: Option<String>,
    /// From (RFC 3339, a date, or a duration before now such as 90d).
    #[arg(long, default_value = "90d")]
    since: String,
    /// Until (exclusive; default now).
    #[arg(long)]
    until: Option<String>,
    /// Output format: table, csv or json.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Credentials(a) => credentials(ctx, a),
    }
}

fn credentials(ctx: &Context, args: CredentialArgs) -> anyhow::Result<()> {
    let now = Utc::now();
    let since = parse_time_arg(&args.since, now).map_err(Exit::bad_input)?;
    let until = match &args.until {
        Some(t) => Some(parse_time_arg(t, now).map_err(Exit::bad_input)?),
        None => None,
    };
    let store = ctx.open_store_read_only()?;
    let org_name = ctx.org(args.org.as_deref())?;
    let org = store
        .org(&org_name)
        .map_err(|e| Exit::bad_input(e.to_string()))?;
    let mut rosters = Vec::new();
    for meta in store.list_snapshots(org, SnapshotKind::AdminRoster)? {
        let (meta, roster) = load_roster(&store, meta.id)?;
        rosters.push((meta.taken_at, roster));
    }
    let had_rosters = !rosters.is_empty();
    let result = audit_credentials(&store, org, Some(since), until, &RoleHistory::new(rosters))?;
    match args.format {
        Format::Csv => emit(&to_csv(&result))?,
        Format::Json | Format::Ndjson => {
            emit(&format!("{}\n", serde_json::to_string_pretty(&result)?))?
        }
        Format::Table => {
            let header: Vec<String> = [
                "user",
                "recommendation",
                "by",
                "actors",
                "from",
                "pw",
                "mfa",
                "last",
                "reason",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let mut w = TableWriter::new(std::io::stdout().lock(), Format::Table, header)?;
            for u in &result.users {
                w.row(vec![
                    u.login.clone(),
                    u.recommendation.to_string(),
                    u.actor_classes
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                    u.actors.iter().cloned().collect::<Vec<_>>().join(","),
                    u.from.iter().cloned().collect::<Vec<_>>().join("; "),
                    u.password_changes.to_string(),
                    u.factor_changes.to_string(),
                    u.last.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    u.reason.clone(),
                ])?;
            }
            w.finish()?;
            for c in &result.org_changes {
                println!(
                    "org authenticator change: {} by {} at {}",
                    c.event_type,
                    c.actor,
                    c.published.format("%Y-%m-%dT%H:%M:%SZ")
                );
            }
            let force = result
                .users
                .iter()
                .filter(|u| u.recommendation == audit::Recommendation::ForceReset)
                .count();
            eprintln!(
                "{} users with credential changes since {}; {force} to force-reset",
                result.users.len(),
                since.format("%Y-%m-%dT%H:%M:%SZ")
            );
            if !had_rosters {
                eprintln!("note: no admin roster snapshot; help-desk admins show as admin (run `idwatch admins snapshot`)");
            }
        }
    }
    Ok(())
}
