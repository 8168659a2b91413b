//! `idwatch gen --events N --seed S`: writes deterministic, realistic Okta System Log events as
//! NDJSON (the simulator's generator), for tests and benchmarks. Same arguments, same bytes.

use crate::config::Context;
use crate::exit::Exit;
use crate::time_arg::parse_time_arg;
use anyhow::Context as _;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// Arguments of `idwatch gen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of events.
    #[arg(long, default_value_t = 1000)]
    pub events: u64,
    /// Seed: the same seed gives the same events.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Users in the generated org.
    #[arg(long, default_value_t = 500)]
    pub users: usize,
    /// Time of the first event (RFC 3339 or e.g. 30d) [default: 2024-03-01T00:00:00Z].
    #[arg(long)]
    pub start: Option<String>,
    /// Output file (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(_ctx: &Context, args: Args) -> anyhow::Result<()> {
    let start = match &args.start {
        Some(s) => parse_time_arg(s, chrono::Utc::now()).map_err(Exit::bad_input)?,
        None => default_start(),
    };
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout().lock())),
    };
    for event in generate(args.seed, args.users, start).take(args.events as usize) {
        out.write_all(event.json.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// The default first event time: fixed, so output does not depend on the clock.
pub fn default_start() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2024-03-01T00:00:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default()
}

/// The generator's event stream.
pub fn generate(
    seed: u64,
    users: usize,
    start: chrono::DateTime<chrono::Utc>,
) -> impl Iterator<Item = sim::generate::GeneratedEvent> {
    let config = sim::generate::OrgConfig {
        seed,
        users,
        start,
        ..sim::generate::OrgConfig::default()
    };
    let org = sim::generate::Org::build(&config);
    sim::generate::Generator::new(org, start)
}
