//! `idwatch status [--org NAME] [--json]`: per org, what the collector's durable state says:
//! cursor age (since the cursor last moved), lag (now − newest published event), events/min
//! (new events stored by polling over the last 5 minutes), 429s, duplicates dropped, errors and
//! the last one. Reads the store only, so it works beside a running collector.

use crate::commands::collect::human;
use crate::commands::org::print_table;
use crate::config::Context;
use crate::exit::Exit;

/// Arguments of `idwatch status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this org.
    #[arg(long)]
    org: Option<String>,
    /// One JSON object per org.
    #[arg(long)]
    json: bool,
}

fn time_of(us: Option<i64>) -> Option<chrono::DateTime<chrono::Utc>> {
    us.and_then(chrono::DateTime::from_timestamp_micros)
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let store = ctx.open_store_read_only()?;
    let mut sources = store.sources()?;
    if let Some(org) = &args.org {
        sources.retain(|s| &s.org == org);
        if sources.is_empty() {
            return Err(Exit::bad_input(format!(
                "no org `{org}` (see `idwatch org list`)"
            )));
        }
    }
    if sources.is_empty() {
        println!("no orgs (add one with `idwatch org add`)");
        return Ok(());
    }
    let now = chrono::Utc::now();
    let mut rows = vec![[
        "ORG",
        "EVENTS",
        "CURSOR AGE",
        "LAG",
        "EVENTS/MIN",
        "429S",
        "DUPLICATES",
        "ERRORS",
        "LAST ERROR",
    ]
    .map(str::to_string)
    .to_vec()];
    for source in sources {
        let state = store.collector_state(source.org_id)?.unwrap_or_default();
        let events = store.count_events(source.org_id)?;
        let per_minute = store.poll_events_per_minute(source.org_id, 5)?;
        let cursor_at = time_of(state.cursor_at);
        let newest = time_of(state.newest_published);
        let last_error = state
            .last_error
            .as_ref()
            .map(|(e, at)| (e.clone(), time_of(Some(*at))));
        if args.json {
            let value = serde_json::json!({
                "org": source.org,
                "url": source.url,
                "events": events,
                "has_cursor": state.next_url.is_some(),
                "cursor_age_seconds": cursor_at.map(|c| (now - c).num_seconds()),
                "lag_seconds": newest.map(|p| (now - p).num_seconds()),
                "newest_published": newest.map(|p| p.to_rfc3339()),
                "events_per_minute": per_minute,
                "pages": state.pages,
                "requests": state.counters.requests,
                "rate_limited": state.counters.rate_limited,
                "retries": state.counters.retries,
                "duplicates": state.duplicates,
                "errors": state.counters.errors,
                "cursor_resets": state.cursor_resets,
                "last_error": last_error.as_ref().map(|(e, _)| e.clone()),
                "last_error_at": last_error.as_ref().and_then(|(_, at)| at.map(|t| t.to_rfc3339())),
            });
            println!("{value}");
            continue;
        }
        let age = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| human(now - t)).unwrap_or_else(|| "-".to_string())
        };
        let error_text = match &last_error {
            Some((e, at)) => format!("{} ago: {e}", age(*at)),
            None => "-".to_string(),
        };
        rows.push(vec![
            source.org,
            events.to_string(),
            if state.next_url.is_some() {
                age(cursor_at)
            } else {
                "no cursor".into()
            },
            age(newest),
            format!("{per_minute:.0}"),
            state.counters.rate_limited.to_string(),
            state.duplicates.to_string(),
            state.counters.errors.to_string(),
            error_text,
        ]);
    }
    if !args.json {
        print_table(&rows);
    }
    Ok(())
}
