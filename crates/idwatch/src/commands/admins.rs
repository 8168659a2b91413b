//! `idwatch admins ...`: the admin roster. `snapshot` reads every admin role holder from the
//! org's API (through the collector's client and the org's stored source, or `--url` with
//! `--token-env`) and archives it; `show` prints one snapshot; `diff` compares two and names the
//! log events that explain each change (or warns that none does); `history` walks every
//! snapshot; `verify` recomputes the snapshot chain and names every tampered snapshot.

use crate::config::Context;
use crate::exit::{Exit, INTEGRITY};
use crate::output::{Format, TableWriter};
use crate::time_arg::parse_duration;
use anyhow::Context as _;
use audit::diff::{diff_rosters, ChangeKind, ExplainWindow, RosterDiff, SnapshotRef};
use audit::okta_source::OktaDirectory;
use audit::roster::Roster;
use audit::schedule::{load_roster, record_roster};
use chrono::Utc;
use std::io::Write;
use store::{OrgId, SnapshotId, SnapshotKind, SnapshotMeta, Store};

/// Arguments of `idwatch admins`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Read every admin role holder from the org and archive the roster.
    Snapshot(SnapshotArgs),
    /// Print one archived roster (default: the newest).
    Show(ShowArgs),
    /// What changed between two snapshots, and the log events that explain it.
    Diff(DiffArgs),
    /// Every snapshot and what changed at each.
    History(HistoryArgs),
    /// Recompute the snapshot chain; name every modified or removed snapshot.
    Verify(VerifyArgs),
}

/// Where to read an org's directory from.
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// The org's Okta URL (default: the org's stored collector source).
    #[arg(long, value_name = "URL", requires = "token_env")]
    pub url: Option<String>,
    /// Environment variable holding an SSWS API token for `--url`.
    #[arg(long, value_name = "VAR", requires = "url")]
    pub token_env: Option<String>,
}

#[derive(Debug, clap::Args)]
struct SnapshotArgs {
    /// The org (default: default_org).
    #[arg(long)]
    org: Option<String>,
    #[command(flatten)]
    source: SourceArgs,
    /// How far before the previous snapshot to look for explaining events.
    #[arg(long, default_value = "24h", value_parser = parse_window)]
    lookback: chrono::Duration,
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, clap::Args)]
struct ShowArgs {
    /// Snapshot id (default: the org's newest).
    snapshot: Option<i64>,
    /// The org (default: default_org).
    #[arg(long)]
    org: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, clap::Args)]
struct DiffArgs {
    /// The org (default: default_org).
    #[arg(long)]
    org: Option<String>,
    /// The older snapshot (default: the one before `--to`).
    #[arg(long, value_name = "SNAPSHOT")]
    from: Option<i64>,
    /// The newer snapshot (default: the newest).
    #[arg(long, value_name = "SNAPSHOT")]
    to: Option<i64>,
    /// How far before the older snapshot to look for explaining events.
    #[arg(long, default_value = "24h", value_parser = parse_window)]
    lookback: chrono::Duration,
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, clap::Args)]
struct HistoryArgs {
    /// The org (default: default_org).
    #[arg(long)]
    org: Option<String>,
    /// How far before each snapshot to look for explaining events.
    #[arg(long, default_value = "24h", value_parser = parse_window)]
    lookback: chrono::Duration,
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// Only this org (default: every org).
    #[arg(long)]
    org: Option<String>,
    /// The snapshot head link you recorded earlier (hex); catches truncation.
    #[arg(long, value_name = "HEX", requires = "org")]
    expect_head: Option<String>,
}

fn parse_window(text: &str) -> Result<chrono::Duration, String> {
    parse_duration(text).ok_or_else(|| format!("`{text}` is not a duration (24h, 3d, 90m)"))
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Snapshot(a) => snapshot(ctx, a),
        Command::Show(a) => show(ctx, a),
        Command::Diff(a) => diff(ctx, a),
        Command::History(a) => history(ctx, a),
        Command::Verify(a) => verify(ctx, a),
    }
}

/// Writes `text` to stdout; a closed pipe (`| head`) comes back as an error the exit code
/// treats as success, instead of a panic.
pub(crate) fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// A current-thread runtime for one command's HTTP calls.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The directory of `org`: `--url`/`--token-env`, else the org's stored collector source.
pub(crate) fn directory_for(
    store: &Store,
    org: &str,
    source: &SourceArgs,
) -> anyhow::Result<OktaDirectory> {
    let (url, spec) = match (&source.url, &source.token_env) {
        (Some(url), Some(var)) => (
            url.clone(),
            collect::CredentialSpec::Ssws {
                token: collect::SecretRef::Env(var.clone()),
            },
        ),
        _ => {
            let record = store.source(org)?.ok_or_else(|| {
                Exit::bad_input(format!(
                    "org `{org}` has no collector source in this store: add one, or pass --url and --token-env"
                ))
            })?;
            let spec = collect::CredentialSpec::from_json(&record.auth).map_err(|e| {
                Exit::bad_input(format!("org `{org}`: stored credential references: {e}"))
            })?;
            (record.url, spec)
        }
    };
    let credentials = spec
        .resolve()
        .map_err(|e| Exit::bad_input(format!("org `{org}`: {e}")))?;
    let client = collect::OktaClient::new(&url, credentials, collect::ClientConfig::default())
        .map_err(|e| Exit::bad_input(format!("org `{org}`: {e}")))?;
    Ok(OktaDirectory::new(client))
}

fn window(lookback: chrono::Duration) -> ExplainWindow {
    ExplainWindow {
        before: lookback,
        ..ExplainWindow::default()
    }
}

fn snapshot(ctx: &Context, args: SnapshotArgs) -> anyhow::Result<()> {
    let org_name = ctx.org(args.org.as_deref())?;
    let mut store = ctx.open_store()?;
    let directory = directory_for(&store, &org_name, &args.source)?;
    let roster = runtime()?
        .block_on(audit::take_roster(&directory))
        .with_context(|| format!("reading the admin roster of `{org_name}`"))?;
    let org = store.ensure_org(&org_name)?;
    let recorded = record_roster(
        &mut store,
        org,
        roster,
        &audit::DirectorySource::base_url(&directory),
        Utc::now(),
        window(args.lookback),
    )?;
    let counters = directory.client().counters();
    if args.format == Format::Json {
        let out = serde_json::json!({
            "snapshot": recorded.snapshot.id.0,
            "taken_at": recorded.snapshot.taken_at,
            "content_hash": recorded.snapshot.content_hash,
            "link": recorded.snapshot.link,
            "roster": recorded.roster,
            "diff": recorded.diff,
            "requests": counters.requests,
        });
        emit(&format!("{}\n", serde_json::to_string_pretty(&out)?))?;
        return Ok(());
    }
    let r = &recorded.roster;
    println!(
        "snapshot {} of {org_name} at {}: {} grants, {} admin users ({} super admins), {} admin groups, {} service apps; {} requests ({} rate-limited)",
        recorded.snapshot.id,
        recorded.snapshot.taken_at.format("%Y-%m-%dT%H:%M:%SZ"),
        r.grants.len(),
        r.admin_users().len(),
        r.super_admin_users().len(),
        count_kind(r, audit::roster::PrincipalKind::Group),
        count_kind(r, audit::roster::PrincipalKind::Client),
        counters.requests,
        counters.rate_limited,
    );
    println!("content sha256 {}", recorded.snapshot.content_hash);
    for gap in &r.gaps {
        println!("gap: {gap}");
    }
    match &recorded.diff {
        None => println!("first snapshot of this org"),
        Some(d) if d.changes.is_empty() => println!("no change since snapshot {}", from_id(d)),
        Some(d) => print_diff(d, Format::Table)?,
    }
    Ok(())
}

fn count_kind(r: &Roster, kind: audit::roster::PrincipalKind) -> usize {
    r.grants
        .iter()
        .filter(|g| g.principal.kind == kind)
        .map(|g| &g.principal.id)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

fn from_id(d: &RosterDiff) -> String {
    d.from
        .map(|f| f.id.to_string())
        .unwrap_or_else(|| "(none)".into())
}

fn org_of(store: &Store, ctx: &Context, flag: Option<&str>) -> anyhow::Result<(String, OrgId)> {
    let name = ctx.org(flag)?;
    let id = store
        .org(&name)
        .map_err(|e| Exit::bad_input(e.to_string()))?;
    Ok((name, id))
}

fn rosters(store: &Store, org: OrgId) -> anyhow::Result<Vec<SnapshotMeta>> {
    Ok(store.list_snapshots(org, SnapshotKind::AdminRoster)?)
}

fn loaded(store: &Store, org: OrgId, id: i64) -> anyhow::Result<(SnapshotMeta, Roster)> {
    let (meta, roster) =
        load_roster(store, SnapshotId(id)).map_err(|e| Exit::bad_input(e.to_string()))?;
    if meta.org != org {
        return Err(Exit::bad_input(format!(
            "snapshot {id} belongs to org `{}`",
            meta.org_name
        )));
    }
    Ok((meta, roster))
}

fn show(ctx: &Context, args: ShowArgs) -> anyhow::Result<()> {
    let store = ctx.open_store_read_only()?;
    let (org_name, org) = org_of(&store, ctx, args.org.as_deref())?;
    let id = match args.snapshot {
        Some(id) => id,
        None => rosters(&store, org)?
            .last()
            .map(|m| m.id.0)
            .ok_or_else(|| {
                Exit::bad_input(format!(
                    "org `{org_name}` has no roster snapshot (run `idwatch admins snapshot`)"
                ))
            })?,
    };
    let (meta, roster) = loaded(&store, org, id)?;
    if args.format != Format::Table {
        let mut w = TableWriter::new(std::io::stdout().lock(), args.format, header_grants())?;
        if args.format == Format::Csv {
            for g in &roster.grants {
                w.row(grant_cells(g))?;
            }
        } else {
            for g in &roster.grants {
                w.raw_json(&serde_json::to_string(g)?)?;
            }
        }
        return Ok(w.finish()?);
    }
    println!(
        "snapshot {} of {org_name}, taken {} from {}",
        meta.id,
        meta.taken_at.format("%Y-%m-%dT%H:%M:%SZ"),
        meta.source
    );
    let mut w = TableWriter::new(std::io::stdout().lock(), Format::Table, header_grants())?;
    for g in &roster.grants {
        w.row(grant_cells(g))?;
    }
    w.finish()?;
    for gap in &roster.gaps {
        println!("gap: {gap}");
    }
    Ok(())
}

fn header_grants() -> Vec<String> {
    ["kind", "principal", "id", "role", "how", "status"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn grant_cells(g: &audit::AdminGrant) -> Vec<String> {
    vec![
        g.principal.kind.to_string(),
        g.principal.name.clone(),
        g.principal.id.clone(),
        g.role_text(),
        g.via.to_string(),
        g.status.clone(),
    ]
}

fn diff(ctx: &Context, args: DiffArgs) -> anyhow::Result<()> {
    let store = ctx.open_store_read_only()?;
    let (org_name, org) = org_of(&store, ctx, args.org.as_deref())?;
    let list = rosters(&store, org)?;
    let to_id = match args.to {
        Some(id) => id,
        None => list.last().map(|m| m.id.0).ok_or_else(|| {
            Exit::bad_input(format!(
                "org `{org_name}` has no roster snapshot (run `idwatch admins snapshot`)"
            ))
        })?,
    };
    let from_id = match args.from {
        Some(id) => Some(id),
        None => list.iter().rev().find(|m| m.id.0 < to_id).map(|m| m.id.0),
    };
    let to = loaded(&store, org, to_id)?;
    let from = match from_id {
        Some(id) => Some(loaded(&store, org, id)?),
        None => None,
    };
    let reference = |m: &SnapshotMeta| SnapshotRef {
        id: m.id.0,
        taken_at: m.taken_at,
    };
    let d = diff_rosters(
        &store,
        org,
        from.as_ref().map(|(m, r)| (reference(m), r)),
        (reference(&to.0), &to.1),
        window(args.lookback),
    )?;
    print_diff(&d, args.format)
}

fn change_text(kind: &ChangeKind) -> String {
    match kind {
        ChangeKind::Added => "added".into(),
        ChangeKind::Removed => "removed".into(),
        ChangeKind::StatusChanged { from, to } => format!("{from}->{to}"),
    }
}

fn print_diff(d: &RosterDiff, format: Format) -> anyhow::Result<()> {
    if format == Format::Json || format == Format::Ndjson {
        emit(&format!("{}\n", serde_json::to_string_pretty(d)?))?;
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "snapshot {} -> {} ({} -> {}): {} changes",
        from_id(d),
        d.to.id,
        d.from
            .map(|f| f.taken_at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|| "empty".into()),
        d.to.taken_at.format("%Y-%m-%dT%H:%M:%SZ"),
        d.changes.len()
    )?;
    let header: Vec<String> = ["change", "kind", "principal", "role", "how", "explained by"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut w = TableWriter::new(&mut out, format, header)?;
    for c in &d.changes {
        let explained = if c.explained_by.is_empty() {
            "NONE".to_string()
        } else {
            c.explained_by
                .iter()
                .map(|e| {
                    format!(
                        "{} by {} {}",
                        e.event_type,
                        e.actor,
                        e.published.format("%Y-%m-%dT%H:%M:%SZ")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        w.row(vec![
            change_text(&c.kind),
            c.grant.principal.kind.to_string(),
            c.grant.principal.name.clone(),
            c.grant.role_text(),
            c.grant.via.to_string(),
            explained,
        ])?;
    }
    w.finish()?;
    if format == Format::Table {
        for c in &d.changes {
            for warning in &c.warnings {
                writeln!(
                    out,
                    "warning: {} {}: {warning}",
                    c.grant.principal.name,
                    c.grant.role_text()
                )?;
            }
            for e in &c.explained_by {
                writeln!(
                    out,
                    "evidence: {} {} uuid {}{}",
                    c.grant.principal.name,
                    e.event_type,
                    e.uuid,
                    e.client_ip
                        .as_deref()
                        .map(|ip| format!(" from {ip}"))
                        .unwrap_or_default()
                )?;
            }
        }
    }
    Ok(())
}

fn history(ctx: &Context, args: HistoryArgs) -> anyhow::Result<()> {
    let store = ctx.open_store_read_only()?;
    let (org_name, org) = org_of(&store, ctx, args.org.as_deref())?;
    let list = rosters(&store, org)?;
    if list.is_empty() {
        println!("org {org_name}: no roster snapshot (run `idwatch admins snapshot`)");
        return Ok(());
    }
    let mut diffs = Vec::new();
    let mut previous: Option<(SnapshotMeta, Roster)> = None;
    for meta in &list {
        let current = loaded(&store, org, meta.id.0)?;
        let reference = |m: &SnapshotMeta| SnapshotRef {
            id: m.id.0,
            taken_at: m.taken_at,
        };
        let d = diff_rosters(
            &store,
            org,
            previous.as_ref().map(|(m, r)| (reference(m), r)),
            (reference(&current.0), &current.1),
            window(args.lookback),
        )?;
        diffs.push((current.0.clone(), current.1.grants.len(), d));
        previous = Some(current);
    }
    if args.format == Format::Json || args.format == Format::Ndjson {
        let out: Vec<serde_json::Value> = diffs
            .iter()
            .map(|(m, grants, d)| {
                serde_json::json!({
                    "snapshot": m.id.0,
                    "taken_at": m.taken_at,
                    "content_hash": m.content_hash,
                    "grants": grants,
                    "changes": if d.from.is_none() { serde_json::Value::Null } else { serde_json::to_value(&d.changes).unwrap_or_default() },
                })
            })
            .collect();
        emit(&format!("{}\n", serde_json::to_string_pretty(&out)?))?;
        return Ok(());
    }
    for (meta, grants, d) in &diffs {
        if d.from.is_none() {
            println!(
                "snapshot {} {}: {grants} grants (first snapshot)",
                meta.id,
                meta.taken_at.format("%Y-%m-%dT%H:%M:%SZ")
            );
            continue;
        }
        if d.changes.is_empty() {
            println!(
                "snapshot {} {}: {grants} grants, no change",
                meta.id,
                meta.taken_at.format("%Y-%m-%dT%H:%M:%SZ")
            );
            continue;
        }
        println!(
            "snapshot {} {}: {grants} grants",
            meta.id,
            meta.taken_at.format("%Y-%m-%dT%H:%M:%SZ")
        );
        for c in &d.changes {
            let explained = if c.explained_by.is_empty() {
                "no explaining event".to_string()
            } else {
                c.explained_by
                    .iter()
                    .map(|e| format!("{} by {}", e.event_type, e.actor))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            println!(
                "  {} {} {} {} via {}: {explained}",
                change_text(&c.kind),
                c.grant.principal.kind,
                c.grant.principal.name,
                c.grant.role_text(),
                c.grant.via
            );
        }
    }
    Ok(())
}

fn verify(ctx: &Context, args: VerifyArgs) -> anyhow::Result<()> {
    let store = ctx.open_store_read_only()?;
    let org = match &args.org {
        Some(name) => Some(
            store
                .org(name)
                .map_err(|e| Exit::bad_input(e.to_string()))?,
        ),
        None => None,
    };
    let report = store.verify_snapshots(org, args.expect_head.as_deref())?;
    let mut problems = 0;
    for o in &report.orgs {
        if o.problems.is_empty() {
            println!(
                "org {}: {} snapshots: chain intact; head {}",
                o.org, o.snapshots, o.head
            );
        } else {
            println!(
                "org {}: {} snapshots: {} PROBLEMS",
                o.org,
                o.snapshots,
                o.problems.len()
            );
            for p in &o.problems {
                println!("  {p}");
            }
            problems += o.problems.len();
        }
    }
    if problems > 0 {
        return Err(Exit {
            code: INTEGRITY,
            message: format!("snapshot verification failed: {problems} problems"),
        }
        .into());
    }
    Ok(())
}
