//! Measures the generator's single-threaded speed against a baseline in the same run: builds
//! the default org (500 users), generates EVENTS events (default 1,000,000) and writes them as
//! NDJSON to a buffered sink (what `idwatch sim generate` does, minus the disk), then serialises
//! the same events with plain `serde_json` (`serde_json::to_writer` of each event parsed to a
//! `Value`; the first 20,000 events, 5 passes, so memory stays small) and prints both rates and their ratio.
//! Run: `cargo run --release -p sim --example gen_speed [-- EVENTS]`.

use sim::generate::{Generator, OrgConfig};
use std::io::{BufWriter, Write};
use std::time::Instant;

/// Events serialised by the serde_json baseline (kept small so memory does not skew either side).
const BASELINE_EVENTS: usize = 20_000;
/// Passes over them, for a stable baseline.
const BASELINE_PASSES: usize = 5;

fn main() -> std::io::Result<()> {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let config = OrgConfig::default();

    let started = Instant::now();
    let mut out = BufWriter::with_capacity(1 << 20, std::io::sink());
    let mut bytes = 0usize;
    let mut last = None;
    let mut kept = Vec::new();
    for event in Generator::from_config(&config).take(events) {
        out.write_all(event.json.as_bytes())?;
        out.write_all(b"\n")?;
        bytes += event.json.len() + 1;
        last = Some(event.published);
        if kept.len() < BASELINE_EVENTS {
            kept.push(event.json);
        }
    }
    out.flush()?;
    let generate_seconds = started.elapsed().as_secs_f64();
    let generated_rate = events as f64 / generate_seconds;

    // Baseline: the same events as serde_json values, serialised by serde_json (not timed: parsing).
    let values: Vec<serde_json::Value> = kept
        .iter()
        .map(|json| serde_json::from_str(json))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let mut out = BufWriter::with_capacity(1 << 20, std::io::sink());
    for _ in 0..BASELINE_PASSES {
        for value in &values {
            serde_json::to_writer(&mut out, value)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    let serde_seconds = started.elapsed().as_secs_f64();
    let serde_rate = (values.len() * BASELINE_PASSES) as f64 / serde_seconds;

    println!(
        "generator: {events} events in {generate_seconds:.2} s = {generated_rate:.0} events/s ({:.0} bytes/event, {:.0} MB/s; last published {})",
        bytes as f64 / events.max(1) as f64,
        bytes as f64 / generate_seconds / 1e6,
        last.map(|t| t.to_rfc3339()).unwrap_or_default()
    );
    println!(
        "serde_json::to_writer of the first {} events as Values ({BASELINE_PASSES} passes): {serde_rate:.0} events/s",
        values.len()
    );
    println!(
        "ratio generator / serde_json serialisation: {:.2}",
        generated_rate / serde_rate
    );
    Ok(())
}
