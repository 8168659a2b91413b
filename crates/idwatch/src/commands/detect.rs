//! `idwatch detect status|run`: the streaming detector's durable state and one-shot use.
//!
//! - `status [--org NAME]`: per org, the detector's position against the store (backlog: events
//!   stored but not yet evaluated), events evaluated, alerts raised, when it last committed, and
//!   how many matches each allowlist entry suppressed, per rule.
//! - `run [--org NAME]`: evaluates everything stored since the detector's position with the
//!   org's pack (built-in rules, `[detect]`/`[sigma]` rule directories, tuning, disabled rules,
//!   allowlists) and commits position, state and alerts together, queuing deliveries for the
//!   `[alerts]` sinks, exactly as `idwatch serve` does, then exits (after `idwatch import`, say).

use crate::commands::org::print_table;
use crate::config::Context;
use crate::exit::Exit;
use std::sync::Arc;

/// `idwatch detect ...`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Position, backlog, alerts and allowlist suppressions per org.
    Status {
        /// Only this org.
        #[arg(long)]
        org: Option<String>,
    },
    /// Evaluate what was stored since the last run (or ever), raise and queue alerts, exit.
    Run {
        /// The org [default: every org in the store].
        #[arg(long)]
        org: Option<String>,
    },
}

pub fn run(ctx: &Context, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Status { org } => status(ctx, org),
        Command::Run { org } => run_once(ctx, org),
    }
}

fn orgs(store: &store::Store, only: Option<String>) -> anyhow::Result<Vec<(store::OrgId, String)>> {
    let mut orgs = store.orgs()?;
    if let Some(name) = only {
        orgs.retain(|(_, n)| *n == name);
        if orgs.is_empty() {
            return Err(Exit::bad_input(format!("no org `{name}` in the store")));
        }
    }
    Ok(orgs)
}

fn status(ctx: &Context, only: Option<String>) -> anyhow::Result<()> {
    let store = ctx.open_store_read_only()?;
    let orgs = orgs(&store, only)?;
    let mut rows = vec![[
        "ORG",
        "POSITION",
        "BACKLOG",
        "EVALUATED",
        "ALERTS",
        "COMMITTED",
    ]
    .map(str::to_string)
    .to_vec()];
    for (id, name) in &orgs {
        let last = store.last_seq(*id)?;
        let row = match store.detection_state(*id)? {
            Some(s) => vec![
                name.clone(),
                s.position.to_string(),
                (last - s.position).max(0).to_string(),
                s.events.to_string(),
                s.alerts.to_string(),
                s.updated_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ],
            None => vec![
                name.clone(),
                "-".into(),
                last.to_string(),
                "0".into(),
                "0".into(),
                "never".into(),
            ],
        };
        rows.push(row);
    }
    print_table(&rows);
    let counts = store.suppression_counts(None)?;
    let counts: Vec<_> = counts
        .into_iter()
        .filter(|c| orgs.iter().any(|(_, n)| *n == c.org))
        .collect();
    if !counts.is_empty() {
        println!();
        let mut rows = vec![["ORG", "ALLOWLIST ENTRY", "RULE", "SUPPRESSED", "LATEST"]
            .map(str::to_string)
            .to_vec()];
        for c in counts {
            rows.push(vec![
                c.org,
                c.entry,
                c.rule_id,
                c.count.to_string(),
                c.last_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ]);
        }
        print_table(&rows);
    }
    Ok(())
}

fn run_once(ctx: &Context, only: Option<String>) -> anyhow::Result<()> {
    let store = ctx.open_store()?;
    let orgs = orgs(&store, only)?;
    drop(store);
    let base = detect::BaseOptions {
        placeholders: ctx.config.sigma.placeholders.clone(),
        rule_paths: ctx.config.sigma.rules.clone(),
        allowed_lateness_ms: Some(super::hunt::lateness_ms(ctx, None)?),
    };
    let settings = ctx
        .config
        .detect
        .stream_settings()
        .map_err(|e| Exit::bad_input(e.to_string()))?;
    let mut total = 0;
    for (_, name) in orgs {
        let pack = detect::Pack::build(&ctx.config.detect, &base, Some(&name))
            .map_err(|e| Exit::bad_input(e.to_string()))?;
        let options = detect::DetectorOptions {
            settings,
            routing: ctx.config.alerts.routing(),
            start: detect::StartAt::Beginning,
        };
        let mut detector =
            detect::Detector::open(&ctx.store_path(), &name, Arc::new(pack), options)?;
        let from = detector.position();
        let raised = detector.catch_up(chrono::Utc::now())?;
        for r in &raised {
            println!(
                "{name}: alert {} {} {:<8} {}  {}",
                r.alert,
                match r.kind {
                    store::alerts::RaiseKind::Created => "new    ",
                    _ => "updated",
                },
                r.detection.matched.level.as_str(),
                r.detection.matched.title,
                r.detection.context.summary
            );
        }
        println!(
            "{name}: evaluated seq {}..{}, {} alerts raised or updated",
            from + 1,
            detector.position(),
            raised.len()
        );
        total += raised.len();
    }
    if total > 0 {
        return Err(Exit::findings(""));
    }
    Ok(())
}
