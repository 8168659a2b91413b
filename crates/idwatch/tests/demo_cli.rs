//! End-to-end tests of `idwatch demo` (the real binary: simulator, HTTP collection, streaming
//! detection, webhook delivery) and of `idwatch hunt` without `--rules` (the built-in pack over
//! simulator history with scenarios, honouring `[detect]` settings).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};
use tempfile::TempDir;

fn idwatch(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_idwatch"));
    cmd.env("IDWATCH_DATA", dir.join("data"))
        .env_remove("IDWATCH_CONFIG")
        .current_dir(dir);
    cmd
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("idwatch runs")
}

#[test]
fn demo_detects_scenarios_and_delivers_every_alert() {
    let tmp = TempDir::new().unwrap();
    let keep = tmp.path().join("demo");
    let out = run(idwatch(tmp.path())
        .args([
            "demo",
            "--users",
            "150",
            "--days",
            "2",
            "--timeout",
            "90s",
            "--keep",
        ])
        .arg(&keep));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));

    // One table row per scenario of the simulator.
    let table_start = stdout.find("SCENARIO ").expect("a table");
    let rows: Vec<&str> = stdout[table_start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    let names: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.split_whitespace().next())
        .collect();
    let expected: Vec<&str> = sim::scenario::SCENARIOS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, expected, "{stdout}");

    // The summary agrees with the rows, and detected rows carry a latency.
    let detected: Vec<&&str> = rows
        .iter()
        .filter(|r| r.split_whitespace().nth(1) == Some("yes"))
        .collect();
    assert!(
        stdout.contains(&format!(
            "{}/{} scenarios raised",
            detected.len(),
            rows.len()
        )),
        "{stdout}"
    );
    assert!(
        detected.len() * 2 >= rows.len(),
        "fewer than half detected:\n{stdout}"
    );
    for row in &detected {
        let latency = row.split_whitespace().nth(2).unwrap();
        let secs: f64 = latency.trim_end_matches('s').parse().expect("a latency");
        assert!(secs >= 0.0, "{row}");
    }

    // Every alert stored was delivered to the webhook, signed, and printed as it arrived.
    let last = stdout.lines().last().unwrap();
    let numbers: Vec<u64> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    // "N events stored (N by the poller), A alerts, D delivered to the webhook, in S.Ss."
    assert_eq!(numbers[2], numbers[3], "{last}");
    assert!(numbers[2] > 0, "{last}");
    assert!(!stdout.contains("(unsigned!)"), "{stdout}");
    let printed = stdout
        .lines()
        .filter(|l| {
            let level = l.split_whitespace().nth(1).unwrap_or("");
            ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&level)
        })
        .count() as u64;
    assert_eq!(printed, numbers[3], "{stdout}");
    // The kept store holds the collected events and the alerts.
    assert!(keep.join("idwatch.db").exists());
}

/// Writes the simulator's history of a small org with two scenarios as NDJSON; returns the
/// file and the malicious uuids of each scenario.
fn scenario_history(dir: &Path) -> (std::path::PathBuf, Vec<(String, Vec<String>)>) {
    let config = sim::world::WorldConfig {
        users: 60,
        days: 1,
        scenarios: vec!["brute-force".into(), "support-impersonation".into()],
        ..sim::world::WorldConfig::default()
    };
    let history = sim::world::history(&config).unwrap();
    let now = config.now;
    let mut lines = String::new();
    for event in history.events.take_while(|e| e.published < now) {
        lines.push_str(&event.json);
        lines.push('\n');
    }
    let path = dir.join("history.ndjson");
    std::fs::write(&path, lines).unwrap();
    let truth = history
        .truth
        .iter()
        .map(|t| (t.scenario.clone(), t.malicious_uuids.clone()))
        .collect();
    (path, truth)
}

#[test]
fn hunt_without_rules_runs_the_builtin_pack_and_honours_detect_config() {
    let tmp = TempDir::new().unwrap();
    let (file, truth) = scenario_history(tmp.path());
    let out = run(idwatch(tmp.path())
        .args(["hunt", "--format", "ndjson"])
        .arg(&file));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let matches: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson"))
        .collect();
    // The wire shape is sigma's Match, as with --rules.
    for m in &matches {
        for key in ["rule_id", "title", "level", "kind", "at", "event_uuids"] {
            assert!(m.get(key).is_some(), "{key} missing in {m}");
        }
    }
    let rules_on = |uuids: &[String]| -> Vec<String> {
        matches
            .iter()
            .filter(|m| {
                m["event_uuids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|u| uuids.iter().any(|x| Some(x.as_str()) == u.as_str()))
            })
            .map(|m| m["rule_id"].as_str().unwrap().to_string())
            .collect()
    };
    for (scenario, uuids) in &truth {
        assert!(
            !rules_on(uuids).is_empty(),
            "{scenario} not found by the pack"
        );
    }

    // Disabling every rule that fired on the impersonation through [detect] removes them.
    let (_, impersonation) = truth
        .iter()
        .find(|(s, _)| s == "support-impersonation")
        .unwrap();
    let mut fired = rules_on(impersonation);
    fired.sort();
    fired.dedup();
    let config = tmp.path().join("idwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[detect]\ndisable = [{}]\n",
            fired
                .iter()
                .map(|r| format!("{r:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .unwrap();
    let out = run(idwatch(tmp.path())
        .args(["hunt", "--format", "ndjson"])
        .arg(&file));
    let stdout = text(&out.stdout);
    for r in &fired {
        assert!(
            !stdout.contains(&format!("\"rule_id\":{r:?}")),
            "{r} still fired"
        );
    }
    assert!(
        text(&out.stderr).contains("matches of disabled rules dropped"),
        "{}",
        text(&out.stderr)
    );
}
