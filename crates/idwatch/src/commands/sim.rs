//! `idwatch sim serve | generate | scenarios`: run the Okta org simulator on loopback, write its
//! history offline as NDJSON, list its attack scenarios.
//!
//! `serve` and `generate` build the history from the same seed, users, days, scenarios and
//! `--now` (the end of the history), so they hold exactly the same events with the same uuids.
//! `generate` defaults `--now` to a fixed anchor (2024-04-01T00:00:00Z) so its output never
//! depends on the clock; `serve` defaults it to the current time truncated to the second and
//! prints the value, so `generate --now <that value>` reproduces what it serves.

use crate::config::Context;
use crate::exit::Exit;
use crate::time_arg::parse_time_arg;
use anyhow::Context as _;
use chrono::{DateTime, SecondsFormat, Utc};
use sim::api::{OAuthClient, SimConfig, SimServer};
use sim::directory::Posture;
use sim::hooks::HookConfig;
use sim::world::{default_anchor, history, WorldConfig};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `idwatch sim ...`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Serve a simulated Okta org (System Log, directory, OAuth, event hooks) on 127.0.0.1.
    Serve(ServeArgs),
    /// Write the org's history as NDJSON, exactly the events `serve` holds for the same flags.
    Generate(GenerateArgs),
    /// List the attack scenarios.
    Scenarios,
}

/// What the org and its history are (shared by `serve` and `generate`).
#[derive(Debug, clap::Args)]
pub struct OrgArgs {
    /// Seed: the same seed, users, days, scenarios and --now give the same history.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Users in the org.
    #[arg(long, default_value_t = 500)]
    pub users: usize,
    /// Days of history before --now.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Attack scenarios to inject, comma-separated (`idwatch sim scenarios` lists them).
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub scenario: Vec<String>,
    /// End of the history (RFC 3339, a date, or e.g. 2d for two days ago) [default: generate:
    /// 2024-04-01T00:00:00Z; serve: now, to the second].
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Write the scenarios' ground truth (JSON) to this file.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
}

/// `idwatch sim serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub org: OrgArgs,
    /// TCP port on 127.0.0.1 (0: any free port; the URL is printed).
    #[arg(long, default_value_t = 8443)]
    pub port: u16,
    /// The SSWS API token clients must send (prefer --token-env: arguments are visible to
    /// other users of the machine).
    #[arg(long, conflicts_with = "token_env", value_name = "TOKEN")]
    pub token: Option<String>,
    /// Read the SSWS token from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Keep generating activity in real time after --now.
    #[arg(long)]
    pub live: bool,
    /// Requests per minute allowed on /api/v1/logs (Okta Workforce: 120).
    #[arg(long, default_value_t = 120, value_name = "N")]
    pub rate_limit: u32,
    /// Most requests in flight at once.
    #[arg(long, default_value_t = 75, value_name = "N")]
    pub concurrency: usize,
    /// Fraction (0-1) of requests that get a fault: 429 storm, 500, 503, slow, reset,
    /// truncated body.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub faults: f64,
    /// Late events: some events are visible only this many seconds after their published.
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    pub late: u64,
    /// Fraction (0-1) of events that are late when --late is set.
    #[arg(long, default_value_t = 0.02, value_name = "FRACTION")]
    pub late_fraction: f64,
    /// Deliver events to this event hook endpoint (after Okta's verification GET).
    #[arg(long, requires = "hook_secret_source", value_name = "URL")]
    pub hook_url: Option<String>,
    /// The Authorization header value sent with hook deliveries.
    #[arg(long, group = "hook_secret_source", value_name = "S")]
    pub hook_secret: Option<String>,
    /// Read the hook secret from this environment variable.
    #[arg(long, group = "hook_secret_source", value_name = "VAR")]
    pub hook_secret_env: Option<String>,
    /// Tenant posture the directory shows.
    #[arg(long, value_enum, default_value_t = PostureArg::Hardened)]
    pub posture: PostureArg,
    /// Register an OAuth 2.0 service app for private_key_jwt: CLIENT_ID=PUBLIC_KEY_PEM_FILE.
    #[arg(long, value_name = "ID=FILE")]
    pub oauth_client: Option<String>,
    /// Scopes granted to the --oauth-client app, space- or comma-separated.
    #[arg(
        long,
        default_value = "okta.logs.read okta.users.read okta.groups.read okta.roles.read okta.apps.read okta.policies.read okta.authenticators.read okta.orgs.read okta.apiTokens.read okta.idps.read okta.networkZones.read okta.threatInsights.read"
    )]
    pub oauth_scopes: String,
    /// Require DPoP-bound tokens for the --oauth-client app.
    #[arg(long)]
    pub oauth_dpop: bool,
}

/// Directory posture.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PostureArg {
    /// Okta's hardening guidance followed.
    Hardened,
    /// The opposite of each hardening step.
    Weak,
}

/// `idwatch sim generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub org: OrgArgs,
    /// Output NDJSON file (`-`: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub fn run(_ctx: &Context, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Scenarios => {
            let width = sim::scenario::SCENARIOS
                .iter()
                .map(|(name, _)| name.len())
                .max()
                .unwrap_or(0);
            let mut out = std::io::stdout().lock();
            for (name, description) in sim::scenario::SCENARIOS {
                writeln!(out, "{name:width$}  {description}")?;
            }
            Ok(())
        }
        Command::Generate(args) => generate(args),
        Command::Serve(args) => serve(args),
    }
}

fn resolve_now(text: Option<&str>, default: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    match text {
        None => Ok(default),
        Some(text) => {
            parse_time_arg(text, Utc::now()).map_err(|e| Exit::bad_input(format!("--now: {e}")))
        }
    }
}

fn scenarios(args: &OrgArgs) -> Vec<String> {
    args.scenario
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn write_truth(path: &Path, truth: &[sim::scenario::GroundTruth]) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(truth).context("serializing the ground truth")?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

fn text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    let now = resolve_now(args.org.now.as_deref(), default_anchor())?;
    let config = WorldConfig {
        seed: args.org.seed,
        users: args.org.users,
        days: args.org.days,
        scenarios: scenarios(&args.org),
        now,
        ..WorldConfig::default()
    };
    let started = Instant::now();
    let history = history(&config).map_err(|e| Exit::bad_input(e.to_string()))?;
    let mut out: Box<dyn Write> = if args.out.as_os_str() == "-" {
        Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout().lock()))
    } else {
        Box::new(BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&args.out)
                .with_context(|| format!("creating {}", args.out.display()))?,
        ))
    };
    let mut count = 0u64;
    for event in history.events.take_while(|e| e.published < now) {
        out.write_all(event.json.as_bytes())?;
        out.write_all(b"\n")?;
        count += 1;
    }
    out.flush()
        .with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(path) = &args.org.truth {
        write_truth(path, &history.truth)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "wrote {count} events ({} to {}, {} users, seed {}) to {} in {seconds:.2} s ({:.0} events/s)",
        text(history.start),
        text(now),
        args.org.users,
        args.org.seed,
        args.out.display(),
        count as f64 / seconds.max(1e-9)
    );
    Ok(())
}

fn env_secret(var: &str, flag: &str) -> anyhow::Result<String> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Exit::bad_input(format!("{flag}: environment variable {var} is not set")))
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let now = resolve_now(
        args.org.now.as_deref(),
        DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_else(Utc::now),
    )?;
    let (token, token_generated) = match (&args.token, &args.token_env) {
        (Some(token), _) => (Some(token.clone()), false),
        (None, Some(var)) => (Some(env_secret(var, "--token-env")?), false),
        (None, None) => (None, true),
    };
    let hook = match &args.hook_url {
        None => None,
        Some(url) => {
            let secret = match (&args.hook_secret, &args.hook_secret_env) {
                (Some(secret), _) => secret.clone(),
                (None, Some(var)) => env_secret(var, "--hook-secret-env")?,
                (None, None) => {
                    return Err(Exit::bad_input(
                        "--hook-url needs --hook-secret or --hook-secret-env",
                    ))
                }
            };
            Some(HookConfig::new(url.clone(), secret))
        }
    };
    let oauth_clients = match &args.oauth_client {
        None => Vec::new(),
        Some(spec) => {
            let (id, file) = spec.split_once('=').ok_or_else(|| {
                Exit::bad_input(format!(
                    "--oauth-client `{spec}`: expected CLIENT_ID=PUBLIC_KEY_PEM_FILE"
                ))
            })?;
            let pem = std::fs::read_to_string(file)
                .with_context(|| format!("--oauth-client: reading {file}"))?;
            vec![OAuthClient {
                client_id: id.to_string(),
                public_key_pem: pem,
                scopes: args
                    .oauth_scopes
                    .split([' ', ','])
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                require_dpop: args.oauth_dpop,
            }]
        }
    };
    let config = SimConfig {
        port: args.port,
        seed: args.org.seed,
        token,
        users: args.org.users,
        days: args.org.days,
        scenarios: scenarios(&args.org),
        now: Some(now),
        live: args.live,
        logs_rate_limit: args.rate_limit,
        concurrency_limit: args.concurrency,
        faults: args.faults,
        late: Duration::from_secs(args.late),
        late_fraction: args.late_fraction,
        posture: match args.posture {
            PostureArg::Hardened => Posture::Hardened,
            PostureArg::Weak => Posture::Weak,
        },
        oauth_clients,
        hook,
        ..SimConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let started = Instant::now();
        let server = SimServer::start(config).await.map_err(|e| match e {
            sim::api::SimError::World(e) => Exit::bad_input(e.to_string()),
            sim::api::SimError::Invalid(e) => Exit::bad_input(e),
            other => anyhow::Error::new(other),
        })?;
        if let Some(path) = &args.org.truth {
            write_truth(path, &server.truth())?;
        }
        let events = server.event_uuids().len();
        let mut out = std::io::stdout().lock();
        writeln!(out, "serving the simulated org on {}", server.base_url())?;
        writeln!(
            out,
            "history: {events} events, {} to {} ({} users, seed {}{}), built in {:.2} s",
            text(now - chrono::Duration::days(i64::from(args.org.days))),
            text(now),
            args.org.users,
            args.org.seed,
            if args.org.scenario.is_empty() {
                String::new()
            } else {
                format!(", scenarios {}", args.org.scenario.join(","))
            },
            started.elapsed().as_secs_f64()
        )?;
        writeln!(
            out,
            "same events offline: idwatch sim generate --seed {} --users {} --days {} --now {}{} --out FILE",
            args.org.seed,
            args.org.users,
            args.org.days,
            text(now),
            if args.org.scenario.is_empty() {
                String::new()
            } else {
                format!(" --scenario {}", args.org.scenario.join(","))
            }
        )?;
        if token_generated {
            writeln!(out, "token (generated, none was given): {}", server.token())?;
        } else {
            writeln!(out, "token: as given")?;
        }
        writeln!(out, "press Ctrl-C to stop")?;
        out.flush()?;
        drop(out);
        wait_for_stop().await;
        server.shutdown().await;
        Ok::<(), anyhow::Error>(())
    })
}

async fn wait_for_stop() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
