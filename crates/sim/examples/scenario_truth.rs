//! Prints the ground truth (and event and change counts) of scenarios planned against the
//! default org (500 users, seed 1) in its first week, as JSON lines:
//! `cargo run -p sim --example scenario_truth -- [NAME,NAME...] [SEED]` (default: all, seed 7).

use chrono::Duration;
use sim::generate::{Org, OrgConfig};
use sim::scenario;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let names: Vec<String> = match std::env::args().nth(1) {
        Some(list) => list.split(',').map(str::to_string).collect(),
        None => scenario::SCENARIOS
            .iter()
            .map(|(n, _)| n.to_string())
            .collect(),
    };
    let seed: u64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let org = Org::build(&OrgConfig::default());
    let start = org.config.start;
    for name in &names {
        let plan = scenario::plan(
            &org,
            std::slice::from_ref(name),
            start,
            start + Duration::days(7),
            seed,
        )?;
        let mut truth = serde_json::to_value(&plan.truth[0])?;
        let uuids = truth["malicious_uuids"].as_array().map_or(0, Vec::len);
        truth["malicious_uuids"] = serde_json::json!(format!("{uuids} uuids"));
        truth["events"] = plan.events.len().into();
        truth["changes"] = serde_json::to_value(&plan.changes)?;
        println!("{truth}");
    }
    Ok(())
}
