//! The archive through the binary: `seal`, `query`, `stats` and `verify` over both tiers, `export`,
//! `sql`, `retain`, and kill -9 during sealing and compaction, ten times: after every kill the
//! event set is exactly what was imported (nothing lost, nothing doubled) and verify passes.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn idwatch(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_idwatch"));
    cmd.arg("--data-dir")
        .arg(data)
        .env_remove("IDWATCH_CONFIG")
        .env_remove("IDWATCH_DATA")
        .current_dir(data.parent().unwrap_or(data))
        .stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("idwatch runs")
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{:?} failed: {}{}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn uuids_of_ndjson(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            v["uuid"].as_str().expect("uuid").to_string()
        })
        .collect()
}

/// The org's events as the binary sees them (both tiers), via export.
fn stored_uuids(data: &Path, out: &Path) -> (BTreeSet<String>, usize) {
    let _ = std::fs::remove_dir_all(out);
    ok(idwatch(data)
        .args(["export", "--org", "acme", "--format", "ndjson"])
        .arg(out));
    let text = std::fs::read_to_string(out.join("acme-events.ndjson")).expect("export file");
    (uuids_of_ndjson(&text), text.lines().count())
}

fn import_round(data: &Path, seed: u64, events: u64) -> BTreeSet<String> {
    std::fs::create_dir_all(data).expect("data dir");
    let file = data.join(format!("gen-{seed}.ndjson"));
    ok(idwatch(data)
        .args([
            "gen",
            "--events",
            &events.to_string(),
            "--seed",
            &seed.to_string(),
            "--users",
            "80",
        ])
        .arg("--out")
        .arg(&file));
    ok(idwatch(data).args(["import", "--org", "acme"]).arg(&file));
    let text = std::fs::read_to_string(&file).expect("generated");
    uuids_of_ndjson(&text)
}

#[test]
fn kill_9_during_seal_and_compaction_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let mut expected = BTreeSet::new();
    let mut interrupted = 0;
    for round in 0..10u64 {
        // New events each round on the same days, so each seal also recompacts those days.
        expected.extend(import_round(&data, 100 + round, 3000));
        let mut child = idwatch(&data)
            .args(["seal", "--org", "acme"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("seal starts");
        std::thread::sleep(Duration::from_millis(40 + 97 * round % 700));
        if child.try_wait().expect("wait").is_none() {
            interrupted += 1;
        }
        child.kill().expect("kill -9");
        let _ = child.wait();
        let (seen, lines) = stored_uuids(&data, &out);
        assert_eq!(lines, seen.len(), "round {round}: an event is doubled");
        assert_eq!(seen, expected, "round {round}: the event set changed");
        ok(idwatch(&data).args(["verify"]));
    }
    assert!(
        interrupted > 0,
        "no seal was interrupted: the test did not test anything"
    );
    // A clean run afterwards finishes the job: everything sealed, the set unchanged.
    let sealed = ok(idwatch(&data).args(["seal"]));
    assert!(sealed.contains("sealed"), "{sealed}");
    let (seen, lines) = stored_uuids(&data, &out);
    assert_eq!((seen.len(), lines), (expected.len(), expected.len()));
    assert_eq!(seen, expected);
    let verify = ok(idwatch(&data).args(["verify"]));
    assert!(
        verify.contains("archive acme") && verify.contains("intact"),
        "{verify}"
    );
    eprintln!("{interrupted} of 10 seals were killed mid-run");
}

#[test]
fn query_sql_verify_and_retain_through_the_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let expected = import_round(&data, 5, 4000);
    let filter = "eventType eq \"user.session.start\"";
    let before = ok(idwatch(&data).args(["query", "--org", "acme", "--format", "ndjson", filter]));
    let count_before = ok(idwatch(&data).args(["query", "--org", "acme", "--count", filter]));
    ok(idwatch(&data).args(["seal", "--org", "acme"]));
    let after = ok(idwatch(&data).args(["query", "--org", "acme", "--format", "ndjson", filter]));
    assert_eq!(after, before, "query output is the same after sealing");
    let count_after = ok(idwatch(&data).args(["query", "--org", "acme", "--count", filter]));
    assert_eq!(count_after, count_before);
    // stats accounts for every event in one tier or the other.
    let stats = ok(idwatch(&data).args(["stats"]));
    let line = stats
        .lines()
        .find(|l| l.starts_with("org acme: "))
        .expect("an org line");
    let number_after = |label: &str| -> usize {
        let rest = &line[line.find(label).expect(label) + label.len()..];
        rest.split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a number")
    };
    let (hot, archived) = (number_after("hot "), number_after("archive "));
    assert!(archived > 0, "{stats}");
    assert_eq!(hot + archived, expected.len(), "{stats}");
    assert_eq!(number_after("org acme: "), expected.len(), "{stats}");
    assert!(stats.contains("dropped by retention 0"), "{stats}");
    let sql = ok(idwatch(&data).args([
        "sql",
        "--format",
        "csv",
        "SELECT count(*) AS n, count(DISTINCT json_extract(raw, '$.uuid')) AS u FROM events",
    ]));
    assert_eq!(sql.trim(), format!("n,u\n{0},{0}", expected.len()));
    let bad = run(idwatch(&data).args(["sql", "SELEC nonsense"]));
    assert_eq!(bad.status.code(), Some(2), "a bad statement is bad input");
    ok(idwatch(&data).args(["verify"]));
    // Tamper with a sealed file: verify exits 3 and names it.
    let mut files = Vec::new();
    let mut stack = vec![data.join("archive")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else if e.path().extension().is_some_and(|x| x == "parquet") {
                files.push(e.path());
            }
        }
    }
    files.sort();
    let victim = files.first().expect("a sealed file").clone();
    let mut bytes = std::fs::read(&victim).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&victim, bytes).expect("write");
    let tampered = run(idwatch(&data).args(["verify"]));
    assert_eq!(tampered.status.code(), Some(3));
    let text = String::from_utf8_lossy(&tampered.stdout);
    let name = victim
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(text.contains(&name) && text.contains("modified"), "{text}");
    // Retention with no age configured is a clear error; with one, old days go.
    let no_age = run(idwatch(&data).args(["retain"]));
    assert_eq!(no_age.status.code(), Some(2));
    let retained = ok(idwatch(&data).args(["retain", "--older-than", "1d"]));
    assert!(retained.contains("dropped"), "{retained}");
}
