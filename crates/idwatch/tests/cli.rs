//! End-to-end tests of the `idwatch` binary: real processes, real files, the real sqlite3 CLI
//! for tampering, and kill -9 for crash safety.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod alerts;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

fn idwatch(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_idwatch"));
    cmd.env("IDWATCH_DATA", data).env_remove("IDWATCH_CONFIG");
    cmd.current_dir(data.parent().unwrap_or(data));
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("idwatch runs")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/okta/samples")
}

fn sample_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(samples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ndjson" || e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn import_samples_then_reimport_reports_duplicates() {
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    let out = run(idwatch(&data)
        .args(["import", "--org", "acme"])
        .args(sample_files()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(summary.starts_with("org acme: read 41, new "), "{summary}");
    assert!(summary.contains("rejected 0"), "{summary}");
    let again = run(idwatch(&data)
        .args(["import", "--org", "acme"])
        .args(sample_files()));
    let summary = text(&again.stdout);
    assert!(summary.contains("new 0, duplicates 41"), "{summary}");
}

#[test]
fn bad_records_are_reported_with_file_line_and_field_and_skipped() {
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    let file = tmp.path().join("mixed.ndjson");
    std::fs::write(
        &file,
        concat!(
            r#"{"uuid":"a","published":"2024-01-01T00:00:00Z","eventType":"user.session.start"}"#,
            "\n",
            r#"{"uuid":"b","published":"yesterday","eventType":"user.session.start"}"#,
            "\n",
            "{not json\n",
            r#"{"uuid":"c","published":"2024-01-01T00:00:02Z"}"#,
            "\n",
            r#"{"uuid":"d","published":"2024-01-01T00:00:03Z","eventType":"user.session.end"}"#,
            "\n",
        ),
    )
    .unwrap();
    let out = run(idwatch(&data).args(["import", "--org", "acme"]).arg(&file));
    assert!(out.status.success());
    let err = text(&out.stderr);
    let name = file.display().to_string();
    assert!(
        err.contains(&format!(
            "{name}:2: field `published`: expected an RFC 3339 time, got `yesterday`"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{name}:3: field `$`: invalid JSON")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{name}:4: field `eventType`: missing")),
        "{err}"
    );
    assert!(text(&out.stdout).contains("read 5, new 2, duplicates 0, rejected 3"));

    let strict = run(idwatch(&data)
        .args(["import", "--org", "acme", "--strict"])
        .arg(&file));
    assert_eq!(strict.status.code(), Some(2));
    // Nothing already stored was lost.
    let count = run(idwatch(&data).args(["query", "--org", "acme", "--count"]));
    assert_eq!(text(&count.stdout).trim(), "2");
}

#[test]
fn query_filters_formats_and_errors() {
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    assert!(run(idwatch(&data)
        .args(["import", "--org", "acme"])
        .args(sample_files()))
    .status
    .success());

    let out = run(idwatch(&data).args([
        "query",
        "--org",
        "acme",
        r#"eventType eq "user.session.start""#,
        "--format",
        "ndjson",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["eventType"], "user.session.start");
    }

    let out = run(idwatch(&data).args([
        "query",
        "--org",
        "acme",
        "--group-by",
        "eventType",
        "--format",
        "csv",
    ]));
    let csv = text(&out.stdout);
    assert!(csv.starts_with("eventType,count\n"), "{csv}");

    let out = run(idwatch(&data).args(["query", "--org", "acme", r#"eventType eq"#]));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("column 13"), "{err}");
    assert!(err.contains("eventType eq\n"), "{err}");

    // Everything was just stored: all of it was ingested in the last hour, none tomorrow.
    let all = run(idwatch(&data).args(["query", "--org", "acme", "--count"]));
    let recent = run(idwatch(&data).args([
        "query",
        "--org",
        "acme",
        "--count",
        "--ingested-since",
        "1h",
    ]));
    assert_eq!(text(&recent.stdout), text(&all.stdout));
    assert_ne!(text(&all.stdout).trim(), "0");
    let future = run(idwatch(&data).args([
        "query",
        "--org",
        "acme",
        "--count",
        "--ingested-since",
        "2999-01-01",
    ]));
    assert_eq!(text(&future.stdout).trim(), "0");

    let out = run(idwatch(&data).args(["query", "--org", "nobody", "--count"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no org named `nobody`"));
}

#[test]
fn sqlite3_cli_edit_is_named_by_verify() {
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    assert!(run(idwatch(&data)
        .args(["import", "--org", "acme"])
        .args(sample_files()))
    .status
    .success());
    let ok = run(idwatch(&data).args(["verify"]));
    assert!(ok.status.success(), "{}", text(&ok.stdout));
    assert!(text(&ok.stdout).contains("chain intact"));

    // Find a uuid, then make an attacker's edit with the sqlite3 CLI: relabel its event type.
    let db = data.join("idwatch.db");
    let edit = Command::new("sqlite3")
        .arg(&db)
        .arg("UPDATE events SET event_type = (SELECT id FROM terms WHERE kind = 1 AND value = 'user.session.end') WHERE seq = 3;")
        .output()
        .expect("sqlite3 CLI installed (.ci/run installs it)");
    assert!(edit.status.success(), "{}", text(&edit.stderr));
    let out = run(idwatch(&data).args([
        "query", "--org", "acme", "--format", "ndjson", "--limit", "100",
    ]));
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!events.is_empty());

    let bad = run(idwatch(&data).args(["verify"]));
    assert_eq!(bad.status.code(), Some(3));
    let report = text(&bad.stdout);
    assert!(
        report.contains("(seq 3) modified: stored index columns differ from its JSON: eventType"),
        "{report}"
    );
}

#[test]
fn kill_dash_nine_mid_import_leaves_whole_batches_and_rerun_completes() {
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    let file = tmp.path().join("big.ndjson");
    let gen = run(idwatch(&data)
        .args(["gen", "--events", "60000", "--seed", "3", "--out"])
        .arg(&file));
    assert!(gen.status.success(), "{}", text(&gen.stderr));
    let mut killed_midway = 0;
    for delay_ms in [150u64, 400, 700, 1000, 1500] {
        let mut child = idwatch(&data)
            .args(["import", "--org", "acme", "--batch-size", "500"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        if !finished {
            killed_midway += 1;
        }
        let verify = run(idwatch(&data).args(["verify"]));
        assert!(
            verify.status.success(),
            "after kill at {delay_ms} ms: {}",
            text(&verify.stdout)
        );
        let count = run(idwatch(&data).args(["query", "--org", "acme", "--count"]));
        let n: u64 = text(&count.stdout).trim().parse().unwrap_or(0);
        assert!(
            n.is_multiple_of(500) || n == 60000,
            "partial batch stored: {n}"
        );
    }
    let out = run(idwatch(&data).args(["import", "--org", "acme"]).arg(&file));
    assert!(out.status.success());
    let count = run(idwatch(&data).args(["query", "--org", "acme", "--count"]));
    assert_eq!(text(&count.stdout).trim(), "60000");
    assert!(run(idwatch(&data).args(["verify"])).status.success());
    assert!(killed_midway > 0, "at least one kill landed mid-import");
}

fn sigma_okta() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sigma/okta")
}

fn sigma_test_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sigma/tests/data/sigmahq")
}

/// An idwatch.toml with the placeholder the SigmaHQ pack needs; returns its path.
fn sigma_config(dir: &Path) -> PathBuf {
    // Not `idwatch.toml`: the tests run in `dir`, where that name would be read by default.
    let path = dir.join("sigma-test.toml");
    std::fs::write(
        &path,
        "[sigma]\nplaceholders = { legtimate_identifiers = [\"@example.com\"] }\n",
    )
    .unwrap();
    path
}

#[test]
fn rules_validate_accepts_the_sigmahq_pack_and_names_file_and_line_of_problems() {
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    let config = sigma_config(tmp.path());
    let out = run(idwatch(&data)
        .arg("--config")
        .arg(&config)
        .args(["rules", "validate"])
        .arg(sigma_okta()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("24 rules OK"),
        "{}",
        text(&out.stdout)
    );
    // Without the placeholder, the one rule that needs it is named with file and line.
    let out = run(idwatch(&data).args(["rules", "validate"]).arg(sigma_okta()));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("okta_session_impersonation_granted.yml:30: fe04b26b-0ac4-45d7-9404-4b9f16a440a9: placeholder %legtimate_identifiers%"),
        "{err}"
    );
}

#[test]
fn rules_test_runs_the_rule_test_files() {
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    let out = run(idwatch(&data)
        .args(["rules", "test"])
        .arg(sigma_test_data()));
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(stdout.trim_end().ends_with(" passed, 0 failed"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

const HUNT_RULES: &str = r#"
title: Failed sign-in
id: failed
name: failed_login
logsource: {product: okta}
detection:
    s:
        eventType: user.session.start
        outcome.result: FAILURE
    condition: s
---
title: Brute force
id: brute
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [actor.alternateId]
    timespan: 10m
    condition:
        gte: 3
level: high
"#;

fn hunt_events(dir: &Path) -> PathBuf {
    let path = dir.join("events.ndjson");
    let mut text = String::new();
    for (i, user) in ["alice", "bob", "alice", "alice"].iter().enumerate() {
        text.push_str(&format!(
            "{{\"uuid\":\"00000000-0000-4000-8000-00000000000{i}\",\"published\":\"2024-05-01T10:0{i}:00.000Z\",\"eventType\":\"user.session.start\",\"outcome\":{{\"result\":\"FAILURE\"}},\"actor\":{{\"alternateId\":\"{user}\"}}}}\n"
        ));
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn hunt_over_files_and_over_the_store_gives_the_same_matches() {
    let tmp = TempDir::new().unwrap();
    let data = tmp.path().join("data");
    let rules = tmp.path().join("rules.yml");
    std::fs::write(&rules, HUNT_RULES).unwrap();
    let events = hunt_events(tmp.path());
    let out = run(idwatch(&data)
        .args(["hunt", "--format", "ndjson", "--rules"])
        .arg(&rules)
        .arg("--")
        .arg(&events));
    assert_eq!(
        out.status.code(),
        Some(1),
        "matches found: {}",
        text(&out.stderr)
    );
    let from_files = text(&out.stdout);
    let lines: Vec<serde_json::Value> = from_files
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{from_files}");
    let m = &lines[0];
    assert_eq!(m["rule_id"], "brute");
    assert_eq!(m["title"], "Brute force");
    assert_eq!(m["level"], "high");
    assert_eq!(m["group_key"]["actor.alternateId"], "alice");
    assert_eq!(m["event_uuids"].as_array().unwrap().len(), 3);
    assert_eq!(m["window_start"], "2024-05-01T10:00:00Z");
    assert_eq!(m["window_end"], "2024-05-01T10:03:00Z");
    assert!(
        text(&out.stderr).contains("1  high"),
        "{}",
        text(&out.stderr)
    );

    let out = run(idwatch(&data)
        .args(["import", "--org", "acme"])
        .arg(&events));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(idwatch(&data)
        .args(["hunt", "--org", "acme", "--format", "ndjson", "--rules"])
        .arg(&rules));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), from_files);
    // Nothing before the burst: exit 0, no lines.
    let out = run(idwatch(&data)
        .args([
            "hunt",
            "--org",
            "acme",
            "--until",
            "2024-05-01T10:02:00Z",
            "--format",
            "ndjson",
            "--rules",
        ])
        .arg(&rules));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).is_empty());
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let out = run(idwatch(&data)
        .args(["import", "--org", "acme"])
        .args(sample_files()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The read end of stdout is closed before the command writes a line (`idwatch stats |
    // head -0`): no panic message, exit 0, like grep or cat.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = run(idwatch(&data)
        .arg("stats")
        .stdout(Stdio::from(writer))
        .env("RUST_BACKTRACE", "1"));
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        text(&out.stderr)
    );
    assert_eq!(text(&out.stderr), "", "nothing on stderr");
}
