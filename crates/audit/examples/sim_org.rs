//! A simulated org to try the audit commands on: starts the simulator on loopback with a posture
//! and scenarios, writes the org's history as NDJSON (for `idwatch import`), prints the URL and
//! the token's environment line, and serves until killed.
//!
//! `cargo run -p audit --example sim_org -- weak support-impersonation,group-admin /tmp/h.ndjson`

use chrono::{DurationRound, Utc};
use sim::api::{SimConfig, SimServer};
use sim::directory::Posture;
use std::io::Write;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let posture = match args.first().map(String::as_str) {
        Some("weak") => Posture::Weak,
        _ => Posture::Hardened,
    };
    let scenarios: Vec<String> = args
        .get(1)
        .map(|s| {
            s.split(',')
                .filter(|s| !s.is_empty() && *s != "none")
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let now = Utc::now().duration_trunc(chrono::Duration::seconds(1))?;
    let config = SimConfig {
        seed: 11,
        users: 120,
        days: 2,
        now: Some(now),
        scenarios,
        posture,
        ..SimConfig::default()
    };
    if let Some(path) = args.get(2) {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let history = sim::world::history(&config.world_config(now))?;
        for event in history.events.take_while(|e| e.published < now) {
            writeln!(file, "{}", event.json)?;
        }
        file.flush()?;
    }
    let server = SimServer::start(config).await?;
    println!("{}", server.base_url());
    println!("SIM_TOKEN={}", server.token());
    for truth in server.truth() {
        for user in &truth.affected_users {
            println!(
                "# {}: {} ({}) changed by {:?}",
                truth.scenario, user.login, user.user_id, user.actor_class
            );
        }
    }
    std::io::stdout().flush()?;
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
