//! End-to-end tests of `idwatch admins`, `idwatch audit credentials` and `idwatch posture`: the
//! real binary against the simulator over loopback (an org added with `idwatch org add`), the
//! org's log imported with `idwatch import`, and tampering with the real sqlite3 CLI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, DurationRound, Utc};
use sim::api::{SimConfig, SimServer};
use sim::directory::Posture;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

fn idwatch(data: &Path, token: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_idwatch"));
    cmd.env("IDWATCH_DATA", data)
        .env_remove("IDWATCH_CONFIG")
        .env("SIM_TOKEN", token);
    cmd.current_dir(data.parent().unwrap_or(data));
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("idwatch runs")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn anchor() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::seconds(1))
        .expect("truncating now")
}

fn config(now: DateTime<Utc>, scenarios: &[&str], posture: Posture) -> SimConfig {
    SimConfig {
        seed: 11,
        users: 120,
        days: 2,
        now: Some(now),
        scenarios: scenarios.iter().map(|s| s.to_string()).collect(),
        posture,
        ..SimConfig::default()
    }
}

/// The org's history as NDJSON (the events the simulator serves).
fn history_file(dir: &Path, config: &SimConfig, now: DateTime<Utc>) -> PathBuf {
    let path = dir.join("history.ndjson");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let history = sim::world::history(&config.world_config(now)).unwrap();
    for event in history.events.take_while(|e| e.published < now) {
        writeln!(file, "{}", event.json).unwrap();
    }
    file.flush().unwrap();
    path
}

fn add_org(data: &Path, sim: &SimServer, replace: bool) {
    let mut cmd = idwatch(data, sim.token());
    cmd.args([
        "org",
        "add",
        "acme",
        "--url",
        &sim.base_url(),
        "--token-env",
        "SIM_TOKEN",
    ]);
    if replace {
        cmd.arg("--replace");
    }
    ok(&run(&mut cmd));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_diff_history_and_verify_from_the_command_line() {
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    let now = anchor();
    let baseline = SimServer::start(config(now, &[], Posture::Hardened))
        .await
        .unwrap();
    add_org(&data, &baseline, false);
    let first = ok(&run(
        idwatch(&data, baseline.token()).args(["admins", "snapshot", "--org", "acme"])
    ));
    assert!(first.starts_with("snapshot 1 of acme"), "{first}");
    assert!(first.contains("first snapshot of this org"), "{first}");
    baseline.shutdown().await;

    let attack = config(now, &["group-admin"], Posture::Hardened);
    let history = history_file(tmp.path(), &attack, now);
    ok(&run(idwatch(&data, "")
        .args(["import", "--org", "acme"])
        .arg(&history)));
    let attacked = SimServer::start(attack).await.unwrap();
    let truth = attacked.truth();
    add_org(&data, &attacked, true);
    let second = ok(&run(idwatch(&data, attacked.token()).args([
        "admins",
        "snapshot",
        "--org",
        "acme",
        "--lookback",
        "3d",
    ])));
    attacked.shutdown().await;
    assert!(second.starts_with("snapshot 2 of acme"), "{second}");
    assert!(second.contains("1 changes"), "{second}");
    assert!(second.contains("added"), "{second}");
    assert!(second.contains("group.user_membership.add"), "{second}");
    assert!(second.contains("warning:"), "{second}");
    assert!(second.contains("no privilege-grant event"), "{second}");

    let json = ok(&run(idwatch(&data, "").args([
        "admins",
        "diff",
        "--org",
        "acme",
        "--lookback",
        "3d",
        "--format",
        "json",
    ])));
    let diff: serde_json::Value = serde_json::from_str(&json).unwrap();
    let changes = diff["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["change"], "added");
    assert_eq!(changes[0]["grant"]["via"]["how"], "group");
    let uuid = changes[0]["explained_by"][0]["uuid"].as_str().unwrap();
    assert!(truth[0].malicious_uuids.iter().any(|u| u == uuid));

    let history = ok(&run(
        idwatch(&data, "").args(["admins", "history", "--org", "acme"])
    ));
    assert!(history.contains("(first snapshot)"), "{history}");
    assert!(history.contains("added user"), "{history}");

    let verified = ok(&run(idwatch(&data, "").args(["admins", "verify"])));
    assert!(verified.contains("2 snapshots: chain intact"), "{verified}");
    let db = data.join("idwatch.db");
    let out = Command::new("sqlite3")
        .arg(&db)
        .arg(
            "DROP TRIGGER snapshots_never_updated;
             UPDATE snapshots SET content = replace(content, 'SUPER_ADMIN', 'READ_ONLY_ADMIN') WHERE id = 1;",
        )
        .output()
        .expect("sqlite3 runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tampered = run(idwatch(&data, "").args(["admins", "verify"]));
    assert_eq!(
        tampered.status.code(),
        Some(3),
        "{}",
        text(&tampered.stdout)
    );
    let report = text(&tampered.stdout);
    assert!(
        report.contains("snapshot 1 (admins, taken") && report.contains("content modified"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_audit_csv_and_posture_from_the_command_line() {
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    let now = anchor();
    let weak = config(now, &["support-impersonation"], Posture::Weak);
    let history = history_file(tmp.path(), &weak, now);
    ok(&run(idwatch(&data, "")
        .args(["import", "--org", "acme"])
        .arg(&history)));
    let server = SimServer::start(weak).await.unwrap();
    let truth = server.truth();
    add_org(&data, &server, false);

    let csv = ok(&run(idwatch(&data, "").args([
        "audit",
        "credentials",
        "--org",
        "acme",
        "--since",
        "3d",
        "--format",
        "csv",
    ])));
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("login,user_id,recommendation,reason,actor_class"));
    let forced: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(2) == Some("force_reset"))
        .collect();
    let affected = &truth[0].affected_users;
    assert_eq!(forced.len(), affected.len(), "{csv}");
    for user in affected {
        let row = forced
            .iter()
            .find(|l| l.split(',').nth(1) == Some(user.user_id.as_str()))
            .unwrap_or_else(|| panic!("{} not flagged:\n{csv}", user.login));
        let class = serde_json::to_value(user.actor_class).unwrap();
        assert_eq!(row.split(',').nth(4), class.as_str(), "{row}");
    }

    let weak_posture = run(idwatch(&data, server.token()).args(["posture", "--org", "acme"]));
    assert_eq!(
        weak_posture.status.code(),
        Some(1),
        "{}",
        text(&weak_posture.stderr)
    );
    let table = text(&weak_posture.stdout);
    assert!(table.starts_with("check"), "{table}");
    assert_eq!(table.matches(" FAIL ").count(), 10, "{table}");
    let json = ok(&run(idwatch(&data, server.token())
        .args(["admins", "snapshot", "--org", "acme", "--format", "json"])));
    let snapshot: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(snapshot["roster"]["grants"].as_array().unwrap().len() > 3);
    server.shutdown().await;

    let hardened = SimServer::start(config(now, &[], Posture::Hardened))
        .await
        .unwrap();
    add_org(&data, &hardened, true);
    let out = run(
        idwatch(&data, hardened.token()).args(["posture", "--org", "acme", "--format", "json"])
    );
    let json = ok(&out);
    hardened.shutdown().await;
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 10);
    assert!(checks.iter().all(|c| c["status"] == "pass"), "{json}");
    assert!(report["regressions"].as_array().unwrap().is_empty());
}
