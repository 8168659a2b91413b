//! `idwatch serve [--listen ADDR]`: runs the daemon (`server::Daemon`) in the foreground: for
//! every org the collector, the Event Hook receiver, streaming detection and audit schedules,
//! the archive schedule (seal, compact, retain), plus the alert delivery worker and `/metrics`, until SIGINT or SIGTERM. Everything it needs
//! is checked before it starts (exit 2 with the field named); once running, a failing
//! component is restarted and shown in `/metrics`, never silently dropped.

use crate::config::Context;
use crate::exit::Exit;
use anyhow::Context as _;
use std::net::SocketAddr;

/// Arguments of `idwatch serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on [default: `[server] listen`, else 127.0.0.1:8870].
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

/// `[archive]` as the daemon's schedule: the seal age (default 7d) and retention.
fn archive_schedule(ctx: &Context) -> anyhow::Result<server::ArchiveSchedule> {
    let archive = &ctx.config.archive;
    let seal_text = archive.seal_older_than.as_deref().unwrap_or("7d");
    Ok(server::ArchiveSchedule {
        root: super::seal::archive_root(ctx),
        seal_older_than_micros: super::seal::age("[archive] seal_older_than", seal_text)?,
        retain_micros: archive
            .retain
            .as_deref()
            .map(|text| super::seal::age("[archive] retain", text))
            .transpose()?,
    })
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let settings = server::DaemonSettings {
        data_dir: ctx.data_dir.clone(),
        store_path: ctx.store_path(),
        server: ctx.config.server.clone(),
        listen: args.listen,
        alerts: ctx.config.alerts.clone(),
        detect: ctx.config.detect.clone(),
        detect_base: detect::BaseOptions {
            placeholders: ctx.config.sigma.placeholders.clone(),
            rule_paths: ctx.config.sigma.rules.clone(),
            allowed_lateness_ms: Some(crate::commands::hunt::lateness_ms(ctx, None)?),
        },
        audit: ctx.config.audit.clone(),
        archive: Some(archive_schedule(ctx)?),
    };
    let daemon = server::Daemon::prepare(settings).map_err(|e| match e {
        server::DaemonError::Store(e) => anyhow::Error::new(e).context("opening the store"),
        other => Exit::bad_input(other.to_string()),
    })?;
    let addr = daemon
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "?".into());
    let orgs = daemon.orgs().clone();
    let list = |names: &[String]| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    println!(
        "idwatch serve: listening on http://{addr} (hooks at /hooks/okta/ORG, /metrics, /healthz)"
    );
    println!("  collecting: {}", list(&orgs.collected));
    println!("  event hooks: {}", list(&orgs.hooked));
    println!("  detecting: {}", list(&orgs.detected));
    println!("  alert sinks: {}", list(&orgs.sinks));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime
        .block_on(daemon.run(wait_for_signal()))
        .context("running the daemon")?;
    if report.unfinished.is_empty() {
        println!("idwatch serve: stopped; every task finished.");
    } else {
        println!(
            "idwatch serve: stopped; still running at exit: {}",
            report.unfinished.join(", ")
        );
    }
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
