//! `idwatch demo`: the product end to end on a simulated org, with nothing to set up. In one
//! process it starts the Okta simulator (`sim::api::SimServer`) with every attack scenario
//! injected into a realistic background org, collects its System Log over HTTP with the real
//! poller (`collect::Poller`) into a temporary store, runs streaming detection on every stored
//! event (`detect::DetectService`, the built-in rule pack), and delivers alerts through the
//! durable outbox (`notify::DeliveryWorker`) to a signed webhook served on loopback by the demo
//! itself. Each alert is printed as the webhook receives it; at the end a table per scenario
//! (from the simulator's ground truth) says whether it was detected, by which rules, and how
//! long after the attack's first event was stored the alert arrived.

use crate::config::Context;
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::alerts::{Alert, AlertFilter, AlertLevel};
use store::Store;
use tokio::sync::{mpsc, watch};

/// Arguments of `idwatch demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Users in the simulated org.
    #[arg(long, default_value_t = 500)]
    users: usize,
    /// Days of history before now (the scenarios are placed in it; the org then stays live).
    #[arg(long, default_value_t = 3)]
    days: u32,
    /// Seed of the org, its activity and the scenarios.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Stop after this long even if not every scenario was detected.
    #[arg(long, default_value = "75s", value_parser = parse_duration_arg)]
    timeout: Duration,
    /// Only these scenarios (default: every one).
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// Keep the demo's data directory here (default: a temporary directory, removed after).
    #[arg(long)]
    keep: Option<PathBuf>,
}

fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    detect::config::parse_duration(text)
}

pub fn run(_ctx: &Context, args: Args) -> anyhow::Result<()> {
    let dir = match &args.keep {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("idwatch-demo-{}", std::process::id())),
    };
    if args.keep.is_none() && dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(demo(&dir, &args));
    drop(runtime);
    if args.keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// One webhook request the capture server received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// When it arrived (wall clock).
    pub at: DateTime<Utc>,
    /// Monotonic arrival time.
    pub instant: Instant,
    /// The JSON body.
    pub body: serde_json::Value,
    /// Whether the `X-Idwatch-Signature` header was present.
    pub signed: bool,
}

/// A webhook receiver on 127.0.0.1: every POST body is sent down the channel and answered 200.
pub(crate) struct Capture {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Capture {
    pub(crate) async fn start(tx: mpsc::UnboundedSender<Received>) -> anyhow::Result<Capture> {
        use axum::routing::post;
        let app = axum::Router::new().route(
            "/hook",
            post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let tx = tx.clone();
                    async move {
                        let received = Received {
                            at: Utc::now(),
                            instant: Instant::now(),
                            body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
                            signed: headers
                                .keys()
                                .any(|k| k.as_str().to_ascii_lowercase().contains("signature")),
                        };
                        let _ = tx.send(received);
                        axum::http::StatusCode::OK
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the webhook capture server")?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Capture {
            url: format!("http://{addr}/hook"),
            stop: Some(stop),
            task,
        })
    }

    pub(crate) async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }
}

/// The `[alerts]` config of a single webhook sink to `url`, its secret in a file under `dir`.
pub(crate) fn webhook_alerts_config(dir: &Path, url: &str) -> anyhow::Result<notify::AlertsConfig> {
    use std::hash::{BuildHasher, Hasher};
    let mut secret = String::new();
    for _ in 0..4 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        secret.push_str(&format!("{:016x}", h.finish()));
    }
    let secret_path = dir.join("webhook.secret");
    std::fs::write(&secret_path, &secret)
        .with_context(|| format!("writing {}", secret_path.display()))?;
    let text = format!(
        "suppression = \"15m\"\n[delivery]\npoll_interval = \"100ms\"\n[[sinks]]\nname = \"demo-webhook\"\ntype = \"webhook\"\nurl = {url:?}\nsecret = {{ file = {:?} }}\n",
        secret_path.display().to_string()
    );
    let config: notify::AlertsConfig =
        toml::from_str(&text).context("building the demo's alert sink")?;
    Ok(config)
}

/// What the demo learns about each alert it delivered.
struct Delivered {
    alert_id: i64,
    received: DateTime<Utc>,
}

async fn demo(dir: &Path, args: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let store_path = dir.join("idwatch.db");
    let scenarios: Vec<String> = if args.scenarios.is_empty() {
        sim::scenario::SCENARIOS
            .iter()
            .map(|(n, _)| n.to_string())
            .collect()
    } else {
        args.scenarios.clone()
    };
    println!(
        "idwatch demo: a simulated {}-user Okta org with {} attack scenarios in {} days of activity,\n\
         collected over HTTP, detected as it is stored, alerts delivered to a local webhook.\n",
        args.users,
        scenarios.len(),
        args.days
    );

    // 1. The webhook the alerts go to, and the simulator.
    let (hook_tx, mut hook_rx) = mpsc::unbounded_channel();
    let capture = Capture::start(hook_tx).await?;
    let alerts_config = webhook_alerts_config(dir, &capture.url)?;
    let sim = sim::api::SimServer::start(sim::api::SimConfig {
        seed: args.seed,
        users: args.users,
        days: args.days,
        scenarios: scenarios.clone(),
        live: true,
        logs_rate_limit: 100_000,
        ..sim::api::SimConfig::default()
    })
    .await
    .context("starting the simulator")?;
    let truth = sim.truth();
    let total_events = sim.event_uuids().len();
    println!(
        "simulator  {} (Okta API on loopback): {} events of history, {} scenarios, live",
        sim.base_url(),
        total_events,
        truth.len()
    );

    // 2. Collection, detection, delivery.
    let org = "demo";
    let client = collect::OktaClient::new(
        &sim.base_url(),
        collect::Credentials::Ssws(collect::Secret::new(sim.token())),
        collect::ClientConfig::default(),
    )
    .context("building the Okta client")?;
    let poller = collect::Poller::new(
        &store_path,
        org,
        client,
        collect::PollerConfig {
            poll_interval: Duration::from_secs(1),
            backfill: chrono::Duration::days(i64::from(args.days) + 1),
            ..collect::PollerConfig::default()
        },
    )?;
    let mut poller_stats = poller.subscribe();
    let pack = Arc::new(detect::Pack::build(
        &detect::DetectConfig::default(),
        &detect::BaseOptions::default(),
        Some(org),
    )?);
    println!(
        "detection  {} built-in rules ({} files), streaming on every stored event",
        pack.rules.rules().iter().filter(|r| r.emitted).count(),
        pack.files.0
    );
    let sinks = alerts_config.build_sinks()?;
    let worker = notify::DeliveryWorker::new(
        Store::open(&store_path)?,
        sinks,
        notify::WorkerOptions::from_config(&alerts_config),
    );
    let (raised_tx, mut raised_rx) = mpsc::unbounded_channel();
    let detect_options = detect::DetectorOptions {
        settings: detect::StreamSettings {
            poll_interval: Duration::from_millis(250),
            ..detect::StreamSettings::default()
        },
        routing: alerts_config.routing(),
        start: detect::StartAt::Beginning,
    };
    let service = detect::DetectService::open(&store_path, org, pack, detect_options)?
        .with_delivery_waker(worker.waker())
        .with_alert_channel(raised_tx);
    let ingest = service.ingest_signal();
    println!(
        "alerts     webhook {} (HMAC-signed, durable outbox)\n",
        capture.url
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let poll_task = tokio::spawn(poller.run(stop_rx.clone()));
    let detect_task = tokio::spawn(service.run(stopped(stop_rx.clone())));
    let worker_task = tokio::spawn({
        let shutdown = stopped(stop_rx.clone());
        async move { worker.run(shutdown).await }
    });

    // 3. Watch: print alerts as the webhook receives them; stop when every scenario has one.
    let mut delivered_high: HashMap<i64, bool> = HashMap::new();
    let mut delivered: Vec<Delivered> = Vec::new();
    let mut alert_scenario: HashMap<i64, Vec<usize>> = HashMap::new();
    let malicious: Vec<BTreeSet<String>> = truth
        .iter()
        .map(|t| t.malicious_uuids.iter().cloned().collect())
        .collect();
    let mut caught_up_at: Option<Instant> = None;
    let mut collected = 0u64;
    // A year is "forever" for a demo; a larger `--timeout` would overflow the clock.
    let deadline =
        tokio::time::Instant::now() + args.timeout.min(Duration::from_secs(365 * 86_400));
    println!("{:<12} {:<9} {:<44} WHAT", "RECEIVED", "LEVEL", "RULE");
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            changed = poller_stats.changed() => {
                if changed.is_err() { break; }
                let stats = poller_stats.borrow_and_update().clone();
                if stats.events > collected {
                    collected = stats.events;
                    ingest.notify_one();
                }
                if stats.caught_up && caught_up_at.is_none() {
                    caught_up_at = Some(Instant::now());
                    println!(
                        "{:<12} {:<9} {}",
                        Utc::now().format("%H:%M:%S%.3f"),
                        "-",
                        format_args!("collector caught up: {} events stored in {:.1}s", stats.events, started.elapsed().as_secs_f64()),
                    );
                }
            }
            Some(raised) = raised_rx.recv() => {
                let uuids: BTreeSet<&String> = raised.detection.matched.event_uuids.iter().collect();
                let hits: Vec<usize> = malicious
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| uuids.iter().any(|u| m.contains(*u)))
                    .map(|(i, _)| i)
                    .collect();
                alert_scenario.entry(raised.alert.0).or_default().extend(hits);
            }
            Some(received) = hook_rx.recv() => {
                let alert = &received.body["alert"];
                let id = alert["id"].as_i64().unwrap_or_default();
                delivered.push(Delivered { alert_id: id, received: received.at });
                let level = alert["level"].as_str().unwrap_or("?").to_uppercase();
                let title = alert["rule"]["title"].as_str().unwrap_or("?");
                let summary = alert["summary"].as_str().unwrap_or("");
                println!(
                    "{:<12} {:<9} {:<44} {}{}",
                    received.at.format("%H:%M:%S%.3f"),
                    level,
                    truncate(title, 44),
                    truncate(summary, 90),
                    if received.signed { "" } else { " (unsigned!)" }
                );
                delivered_high.insert(id, is_high(alert["level"].as_str()));
            }
        }
        let detected: BTreeSet<usize> = alert_scenario
            .iter()
            .filter(|(id, _)| delivered_high.get(*id).copied().unwrap_or(false))
            .flat_map(|(_, s)| s.iter().copied())
            .collect();
        let all = detected.len() == truth.len();
        if let Some(at) = caught_up_at {
            // Once collected: stop when every scenario has a high alert, else after 15 s more
            // (windows still open close as the live stream moves event time on).
            if all && at.elapsed() > Duration::from_secs(2) {
                break;
            }
            if at.elapsed() > Duration::from_secs(15) {
                break;
            }
        }
    }
    // Let in-flight deliveries land.
    tokio::time::sleep(Duration::from_millis(600)).await;
    while let Ok(received) = hook_rx.try_recv() {
        let id = received.body["alert"]["id"].as_i64().unwrap_or_default();
        delivered.push(Delivered {
            alert_id: id,
            received: received.at,
        });
    }
    let _ = stop_tx.send(true);
    let poll_stats = poll_task.await.context("poller task")?;
    let _ = detect_task.await.context("detection task")??;
    let _ = worker_task.await.context("delivery task")?;
    capture.shutdown().await;
    sim.shutdown().await;

    // 4. The table, from the store and the ground truth.
    let store = Store::open_read_only(&store_path)?;
    let org_id = store.org(org)?;
    let alerts = store.list_alerts(&AlertFilter {
        org: Some(org_id),
        ..AlertFilter::default()
    })?;
    let first_received: HashMap<i64, DateTime<Utc>> =
        delivered.iter().fold(HashMap::new(), |mut m, d| {
            let e = m.entry(d.alert_id).or_insert(d.received);
            *e = (*e).min(d.received);
            m
        });
    print_table(&store, org_id, &truth, &alerts, &first_received)?;
    let stored = store.count_events(org_id)?;
    println!(
        "\n{} events stored ({} by the poller), {} alerts, {} delivered to the webhook, in {:.1}s.",
        stored,
        poll_stats.map(|s| s.events).unwrap_or_default(),
        alerts.len(),
        first_received.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn is_high(level: Option<&str>) -> bool {
    level
        .and_then(|l| l.parse::<AlertLevel>().ok())
        .is_some_and(|l| l >= AlertLevel::High)
}

fn print_table(
    store: &Store,
    org: store::OrgId,
    truth: &[sim::scenario::GroundTruth],
    alerts: &[Alert],
    received: &HashMap<i64, DateTime<Utc>>,
) -> anyhow::Result<()> {
    println!(
        "\n{:<24} {:<9} {:>10}  RULES (level)",
        "SCENARIO", "DETECTED", "LATENCY"
    );
    let mut on_scenarios: BTreeSet<i64> = BTreeSet::new();
    let mut detected = 0;
    for t in truth {
        let set: BTreeSet<&str> = t.malicious_uuids.iter().map(String::as_str).collect();
        let matching: Vec<&Alert> = alerts
            .iter()
            .filter(|a| a.event_uuids.iter().any(|u| set.contains(u.as_str())))
            .collect();
        on_scenarios.extend(matching.iter().map(|a| a.id.0));
        let high = matching.iter().any(|a| a.level >= AlertLevel::High);
        // When the attack's first event was stored.
        let mut first_stored: Option<DateTime<Utc>> = None;
        for uuid in &t.malicious_uuids {
            if let Some(seq) = store.seq_of_uuid(org, uuid)? {
                if let Some(at) = store.ingested_at(org, seq)? {
                    first_stored = Some(first_stored.map_or(at, |f| f.min(at)));
                }
            }
        }
        let first_alert = matching
            .iter()
            .map(|a| received.get(&a.id.0).copied().unwrap_or(a.created_at))
            .min();
        let latency = match (first_stored, first_alert) {
            (Some(s), Some(a)) => {
                format!("{:.2}s", (a - s).num_milliseconds().max(0) as f64 / 1000.0)
            }
            _ => "-".to_string(),
        };
        let mut rules: BTreeMap<(AlertLevel, String), ()> = BTreeMap::new();
        for a in &matching {
            rules.insert((a.level, a.title.clone()), ());
        }
        let mut rules_text = rules
            .keys()
            .rev()
            .take(3)
            .map(|(l, t)| format!("{t} ({l})"))
            .collect::<Vec<_>>()
            .join("; ");
        if rules.len() > 3 {
            rules_text.push_str(&format!("; +{} more", rules.len() - 3));
        }
        let verdict = if high {
            detected += 1;
            "yes"
        } else if matching.is_empty() {
            "NO"
        } else {
            "low only"
        };
        println!(
            "{:<24} {:<9} {:>10}  {}",
            t.scenario,
            verdict,
            latency,
            if rules_text.is_empty() {
                "-".to_string()
            } else {
                rules_text
            }
        );
    }
    let background: Vec<&Alert> = alerts
        .iter()
        .filter(|a| !on_scenarios.contains(&a.id.0))
        .collect();
    println!(
        "\n{detected}/{} scenarios raised an alert of level high or above. LATENCY: from the attack's \
         first event being stored to its first alert reaching the webhook.",
        truth.len()
    );
    let mut by_rule: BTreeMap<String, usize> = BTreeMap::new();
    for a in &background {
        *by_rule
            .entry(format!("{} ({})", a.title, a.level))
            .or_default() += 1;
    }
    if background.is_empty() {
        println!("Alerts on the benign background activity: none.");
    } else {
        let list = by_rule
            .iter()
            .map(|(r, n)| format!("{n} × {r}"))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "Alerts on the benign background activity: {} ({list}).",
            background.len()
        );
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
