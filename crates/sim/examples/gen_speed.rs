//! Measures the generator's single-threaded speed: builds the default org (500 users), generates
//! 1,000,000 events and prints events per second and bytes per event.
//! Run: `cargo run --release -p sim --example gen_speed [-- EVENTS]`.

use sim::generate::{Generator, OrgConfig};
use std::time::Instant;

fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let config = OrgConfig::default();
    let started = Instant::now();
    let mut bytes = 0usize;
    let mut last = None;
    for event in Generator::from_config(&config).take(events) {
        bytes += event.json.len();
        last = Some(event.published);
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{events} events in {seconds:.2} s: {:.0} events/s, {:.0} bytes/event, {:.0} MB/s; last published {}",
        events as f64 / seconds,
        bytes as f64 / events.max(1) as f64,
        bytes as f64 / seconds / 1e6,
        last.map(|t| t.to_rfc3339()).unwrap_or_default()
    );
}
