//! `idwatch bench detect [--rate 1000] [--seconds 30]`: alert latency from an event being stored
//! to its alert arriving at a webhook, under a steady stream of realistic events. A writer
//! thread stores simulator-generated events in batches every 10 ms (its own connection, as a
//! collector would) and fires the ingest signal; a few events per second are admin-role grants
//! by distinct actors, each of which must become its own alert. Detection
//! (`detect::DetectService` with the built-in pack plus one marker rule) and delivery
//! (`notify::DeliveryWorker`, webhook sink, HMAC-signed) run as in the daemon; a webhook
//! capture server on loopback records arrival times. Reported as p50/p99/max beside the
//! baseline measured in the same run: the store's own batch commit latency.

use crate::commands::demo::{webhook_alerts_config, Capture};
use crate::config::Context;
use anyhow::Context as _;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::Store;
use tokio::sync::{mpsc, watch};

/// What to run.
pub struct Options {
    /// Events stored per second.
    pub rate: u64,
    /// How long the stream runs.
    pub seconds: u64,
    /// Generator seed.
    pub seed: u64,
    /// Users in the generated org.
    pub users: usize,
    /// Keep the store here.
    pub dir: Option<std::path::PathBuf>,
}

const MARKER_RULE: &str = r#"title: Bench marker (admin role granted by a bench actor)
id: bench-marker
logsource: {product: okta, service: okta}
detection:
    selection:
        eventType: user.account.privilege.grant
        actor.alternateId|startswith: 'bench-'
    condition: selection
level: high
"#;

/// Alerting events per second.
const MARKERS_PER_SECOND: u64 = 5;
/// The writer commits a batch this often.
const TICK: Duration = Duration::from_millis(10);

pub fn run(_ctx: &Context, options: Options) -> anyhow::Result<()> {
    if options.rate == 0 || options.seconds == 0 {
        return Err(crate::exit::Exit::bad_input(
            "bench detect needs --rate and --seconds of at least 1",
        ));
    }
    let dir = match &options.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("idwatch-bench-detect-{}", std::process::id())),
    };
    if dir.exists() {
        let _ = std::fs::remove_file(dir.join("idwatch.db"));
        let _ = std::fs::remove_file(dir.join("idwatch.db-wal"));
        let _ = std::fs::remove_file(dir.join("idwatch.db-shm"));
    }
    std::fs::create_dir_all(dir.join("rules"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(bench(&dir, &options));
    drop(runtime);
    if options.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn marker_event(n: u64, run: u32) -> String {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    serde_json::json!({
        "uuid": format!("{run:08x}-0000-4000-8000-{n:012x}"),
        "published": now,
        "eventType": "user.account.privilege.grant",
        "displayMessage": "Grant user privilege",
        "severity": "INFO",
        "actor": {"id": format!("00ubench{n}"), "type": "User",
                  "alternateId": format!("bench-{n}@example.com"), "displayName": format!("Bench {n}")},
        "client": {"ipAddress": "198.51.100.7", "geographicalContext": {"country": "Norway"}},
        "outcome": {"result": "SUCCESS"},
        "target": [{"id": "00ubenchtarget", "type": "User", "alternateId": "target@example.com"}],
        "debugContext": {"debugData": {"privilegeGranted": "Application administrator"}}
    })
    .to_string()
}

#[derive(Default)]
struct Shared {
    /// Marker n → when the batch holding it was committed.
    stored: HashMap<u64, Instant>,
    /// Every batch commit's duration.
    commits: Vec<Duration>,
    events: u64,
}

async fn bench(dir: &std::path::Path, options: &Options) -> anyhow::Result<()> {
    let store_path = dir.join("idwatch.db");
    std::fs::write(dir.join("rules/bench.yml"), MARKER_RULE)?;
    let (hook_tx, mut hook_rx) = mpsc::unbounded_channel();
    let capture = Capture::start(hook_tx).await?;
    let alerts_config = webhook_alerts_config(dir, &capture.url)?;
    let org = "bench";
    Store::open(&store_path)?.ensure_org(org)?;

    let config = detect::DetectConfig {
        rules: vec![dir.join("rules")],
        ..detect::DetectConfig::default()
    };
    let pack = Arc::new(detect::Pack::build(
        &config,
        &detect::BaseOptions::default(),
        Some(org),
    )?);
    let rule_count = pack.rules.rules().len();
    let worker = notify::DeliveryWorker::new(
        Store::open(&store_path)?,
        alerts_config.build_sinks()?,
        notify::WorkerOptions::from_config(&alerts_config),
    );
    let (raised_tx, mut raised_rx) = mpsc::unbounded_channel();
    let service = detect::DetectService::open(
        &store_path,
        org,
        pack,
        detect::DetectorOptions {
            routing: alerts_config.routing(),
            ..detect::DetectorOptions::default()
        },
    )?
    .with_delivery_waker(worker.waker())
    .with_alert_channel(raised_tx);
    let ingest = service.ingest_signal();
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let detect_task = tokio::spawn(service.run(stopped(stop_rx.clone())));
    let worker_task = tokio::spawn({
        let shutdown = stopped(stop_rx.clone());
        async move { worker.run(shutdown).await }
    });

    println!(
        "idwatch bench detect: {} events/s for {} s, {} alerting events/s (distinct actors), \
         {rule_count} rules (built-in pack + 1 marker rule), webhook on loopback, {} cores",
        options.rate,
        options.seconds,
        MARKERS_PER_SECOND,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    // The writer: a collector-like thread storing batches on a fixed schedule.
    let shared = Arc::new(Mutex::new(Shared::default()));
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let shared = Arc::clone(&shared);
        let done = Arc::clone(&done);
        let ingest = Arc::clone(&ingest);
        let path = store_path.clone();
        let (rate, seconds, seed, users) =
            (options.rate, options.seconds, options.seed, options.users);
        std::thread::spawn(move || -> anyhow::Result<()> {
            let mut store = Store::open(&path)?;
            let org = store.ensure_org("bench")?;
            let org_config = sim::generate::OrgConfig {
                seed,
                users,
                start: chrono::Utc::now() - chrono::Duration::days(1),
                ..sim::generate::OrgConfig::default()
            };
            let mut generator = sim::generate::Generator::from_config(&org_config);
            let run = std::process::id();
            let ticks = seconds * 1000 / TICK.as_millis() as u64;
            let per_tick = (rate * TICK.as_millis() as u64).div_ceil(1000).max(1);
            let marker_every = (1000 / MARKERS_PER_SECOND) / TICK.as_millis() as u64;
            let start = Instant::now();
            let mut markers = 0u64;
            for tick in 0..ticks {
                let due = start + TICK * tick as u32;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let mut batch = Vec::with_capacity(per_tick as usize + 1);
                let mut marker = None;
                for _ in 0..per_tick {
                    let Some(e) = generator.next() else { break };
                    batch.push(okta::LogEvent::parse(&e.json)?);
                }
                if tick % marker_every.max(1) == 0 {
                    batch.push(okta::LogEvent::parse(&marker_event(markers, run))?);
                    marker = Some(markers);
                    markers += 1;
                }
                let began = Instant::now();
                store.commit_batch(org, &batch, "bench")?;
                let stored_at = Instant::now();
                ingest.notify_one();
                let mut s = shared
                    .lock()
                    .map_err(|_| anyhow::anyhow!("lock poisoned"))?;
                s.commits.push(stored_at - began);
                s.events += batch.len() as u64;
                if let Some(n) = marker {
                    s.stored.insert(n, stored_at);
                }
            }
            done.store(true, Ordering::SeqCst);
            Ok(())
        })
    };

    // Arrivals, until the writer is done and every marker arrived (or 10 s more).
    let mut delivered: HashMap<u64, Instant> = HashMap::new();
    let mut committed: HashMap<u64, Instant> = HashMap::new();
    let started = Instant::now();
    let mut finished_at: Option<Instant> = None;
    loop {
        tokio::select! {
            Some(received) = hook_rx.recv() => {
                if let Some(n) = marker_of(received.body["alert"]["group_key"]["actor.alternateId"].as_str()) {
                    delivered.entry(n).or_insert(received.instant);
                }
            }
            Some(raised) = raised_rx.recv() => {
                let actor = raised.detection.group_key.get("actor.alternateId").and_then(|v| v.as_str());
                if let Some(n) = marker_of(actor) {
                    committed.entry(n).or_insert_with(Instant::now);
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        if done.load(Ordering::SeqCst) && finished_at.is_none() {
            finished_at = Some(Instant::now());
        }
        if let Some(at) = finished_at {
            let expected = shared.lock().map(|s| s.stored.len()).unwrap_or(0);
            if delivered.len() >= expected || at.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(options.seconds + 60) {
            break;
        }
    }
    let writer_result = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
    writer_result?;
    let _ = stop_tx.send(true);
    let detect_stats = detect_task.await.context("detection task")??;
    let _ = worker_task.await.context("delivery task")?;
    capture.shutdown().await;

    let shared = shared
        .lock()
        .map_err(|_| anyhow::anyhow!("lock poisoned"))?;
    let latencies = |arrivals: &HashMap<u64, Instant>| -> Vec<Duration> {
        shared
            .stored
            .iter()
            .filter_map(|(n, stored)| {
                arrivals
                    .get(n)
                    .map(|a| a.saturating_duration_since(*stored))
            })
            .collect()
    };
    let commit = Stats::of(shared.commits.clone());
    let to_alert = Stats::of(latencies(&committed));
    let to_webhook = Stats::of(latencies(&delivered));
    let elapsed = options.seconds as f64;
    println!(
        "stored {} events ({:.0}/s), detection evaluated {}, {} of {} alerting events reached the webhook\n",
        shared.events,
        shared.events as f64 / elapsed,
        detect_stats.events,
        delivered.len(),
        shared.stored.len()
    );
    println!(
        "{:<44} {:>9} {:>9} {:>9}   p99 vs baseline p99",
        "measure", "p50", "p99", "max"
    );
    let row = |name: &str, s: &Stats| {
        println!(
            "{name:<44} {:>9} {:>9} {:>9}   {:>6.1}×",
            ms(s.p50),
            ms(s.p99),
            ms(s.max),
            s.p99.as_secs_f64() / commit.p99.as_secs_f64().max(1e-9)
        );
    };
    row("store batch commit (baseline)", &commit);
    row("event stored → alert committed", &to_alert);
    row("event stored → webhook received", &to_webhook);
    let verdict = if to_webhook.n == shared.stored.len() && to_webhook.p99 <= Duration::from_secs(1)
    {
        "met"
    } else {
        "NOT met"
    };
    println!(
        "\ngoal p99 ≤ 1 s from stored to webhook: {verdict} ({} samples)",
        to_webhook.n
    );
    Ok(())
}

fn marker_of(actor: Option<&str>) -> Option<u64> {
    actor?
        .strip_prefix("bench-")?
        .strip_suffix("@example.com")?
        .parse()
        .ok()
}

struct Stats {
    n: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Stats {
        samples.sort();
        let pick = |p: f64| {
            if samples.is_empty() {
                return Duration::ZERO;
            }
            let rank = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            samples[rank - 1]
        };
        Stats {
            n: samples.len(),
            p50: pick(0.50),
            p99: pick(0.99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
