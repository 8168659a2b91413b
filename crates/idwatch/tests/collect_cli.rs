//! `idwatch org` / `collect` / `status` through the real binary against an in-process
//! simulator over loopback HTTP, including the crash test: kill -9 the collector at 20 random
//! moments of a backfill of ≥ 200 k events; after a final run the store holds exactly the
//! simulator's events and its hash chain verifies.

use sim::api::{SimConfig, SimServer};
use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const TOKEN_VAR: &str = "IDWATCH_TEST_COLLECT_TOKEN";

fn idwatch(data: &Path, token: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_idwatch"));
    cmd.arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(data.join("none.toml"))
        .args(args)
        .env(TOKEN_VAR, token)
        .env_remove("IDWATCH_DATA")
        .env_remove("IDWATCH_CONFIG");
    cmd
}

fn run(data: &Path, token: &str, args: &[&str]) -> Output {
    idwatch(data, token, args).output().expect("idwatch runs")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stored(data: &Path, org: &str) -> Vec<String> {
    let store = store::Store::open_read_only(&data.join("idwatch.db")).expect("store");
    let Some(org) = store.find_org(org).expect("org") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let batch = store.read_after(org, after, 50_000).expect("read");
        let Some(last) = batch.last() else { break };
        after = last.seq;
        out.extend(batch.into_iter().map(|e| e.event.uuid().to_string()));
    }
    out
}

/// `--since` for a backfill of `days` before the simulator's clock ([`sim::busy_tuesday`]:
/// a fixed, weekday-busy history, the same whatever day the tests run).
fn since(days: i64) -> String {
    (sim::busy_tuesday() - chrono::Duration::days(days) - chrono::Duration::hours(1)).to_rfc3339()
}

fn start_sim(runtime: &tokio::runtime::Runtime, config: SimConfig) -> SimServer {
    runtime
        .block_on(SimServer::start(config))
        .expect("simulator starts")
}

fn setup(data: &Path, sim: &SimServer) {
    // An empty config file, so no idwatch.toml of the developer's is read.
    std::fs::create_dir_all(data).expect("data dir");
    std::fs::write(data.join("none.toml"), "").expect("config");
    let out = run(
        data,
        sim.token(),
        &[
            "org",
            "add",
            "acme",
            "--url",
            &sim.base_url(),
            "--token-env",
            TOKEN_VAR,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn org_commands_keep_references_only_and_test_reports_401() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sim = start_sim(
        &runtime,
        SimConfig {
            seed: 3,
            users: 100,
            days: 1,
            now: Some(sim::busy_tuesday()),
            ..SimConfig::default()
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path();
    setup(data, &sim);

    let out = run(data, sim.token(), &["org", "list"]);
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        listing.contains("SSWS token from env:IDWATCH_TEST_COLLECT_TOKEN"),
        "{listing}"
    );
    assert!(
        !listing.contains(sim.token()),
        "the secret is never printed"
    );
    // Nor stored anywhere in the store file.
    let bytes = std::fs::read(data.join("idwatch.db")).expect("db");
    let wal = std::fs::read(data.join("idwatch.db-wal")).unwrap_or_default();
    let needle = sim.token().as_bytes();
    assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    assert!(!wal.windows(needle.len()).any(|w| w == needle));

    let out = run(data, sim.token(), &["org", "test", "acme"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("acme: OK"),
        "{}",
        text(&out)
    );

    let out = run(data, "00wrong", &["org", "test", "acme"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("401") && err.contains("E0000011"), "{err}");

    let out = run(
        data,
        sim.token(),
        &["collect", "--once", "--since", &since(2), "--no-progress"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("caught up"), "{stdout}");
    let out = run(data, sim.token(), &["status"]);
    let status = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && status.contains("CURSOR AGE"),
        "{}",
        text(&out)
    );
    let out = run(data, sim.token(), &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status --json is JSON");
    assert_eq!(v["events"].as_u64(), Some(sim.visible_uuids().len() as u64));
    assert_eq!(v["has_cursor"], true);

    let out = run(data, sim.token(), &["org", "remove", "acme"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(data, sim.token(), &["collect", "--org", "acme", "--once"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// A tiny deterministic generator for the kill moments (the seed is printed).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn kill_dash_nine_twenty_times_during_a_backfill_loses_and_duplicates_nothing() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sim = start_sim(
        &runtime,
        SimConfig {
            seed: 77,
            users: 2500,
            days: 8,
            logs_rate_limit: 1_000_000,
            now: Some(sim::busy_tuesday()),
            ..SimConfig::default()
        },
    );
    let expected = sim.event_uuids();
    assert!(expected.len() >= 200_000, "{} events", expected.len());
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path();
    setup(data, &sim);

    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7)
        | 1;
    println!("kill moments seed {seed}");
    let mut kills_midway = 0;
    for round in 0..20 {
        let mut child = idwatch(
            data,
            sim.token(),
            &[
                "collect",
                "--once",
                "--since",
                &since(9),
                "--share",
                "1",
                "--no-progress",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("collector starts");
        let delay = Duration::from_millis(150 + next(&mut seed) % 900);
        std::thread::sleep(delay);
        let finished = child.try_wait().expect("poll child").is_some();
        child.kill().ok(); // SIGKILL
        child.wait().expect("reaped");
        if !finished {
            kills_midway += 1;
        }
        println!("round {round}: killed after {delay:?} (finished before: {finished})");
    }
    let before_final = stored(data, "acme").len();
    println!(
        "{before_final} of {} stored before the final run",
        expected.len()
    );
    assert!(
        before_final < expected.len(),
        "the kills must land during the backfill"
    );
    assert!(
        kills_midway >= 15,
        "only {kills_midway} kills hit a running collector"
    );

    let out = run(data, sim.token(), &["collect", "--once", "--no-progress"]);
    assert!(out.status.success(), "{}", text(&out));
    let got = stored(data, "acme");
    let got_set: HashSet<&String> = got.iter().collect();
    assert_eq!(got_set.len(), got.len(), "duplicates stored");
    let expected_set: HashSet<&String> = expected.iter().collect();
    let lost = expected_set.difference(&got_set).count();
    let extra = got_set.difference(&expected_set).count();
    assert_eq!(
        (lost, extra),
        (0, 0),
        "{lost} lost, {extra} extra of {}",
        expected.len()
    );

    let out = run(data, sim.token(), &["verify", "--org", "acme"]);
    assert!(
        out.status.success(),
        "the hash chain verifies after the kills: {}",
        text(&out)
    );
}
