//! The archive end to end on real SQLite files and real Parquet files, with events from the
//! simulator's generator: sealing keeps every query's answer (fixed and random filters, both
//! orders, limits), verify names tampered files and rows, retention keeps the chain verifiable,
//! a crash mid-seal is cleaned up, an independent reader (pyarrow) reads our files, and export round-trips.

use archive::{ArchiveWriter, Tiers};
use okta::filter::Filter;
use okta::LogEvent;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use store::{EventQuery, OrgId, Store};

const DAY: i64 = 86_400_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    db: PathBuf,
    root: PathBuf,
    org: OrgId,
    raws: Vec<String>,
}

fn events(n: usize, seed: u64) -> Vec<String> {
    // A 60-user org from the generator's default start, 2024-03-01.
    let config = sim::generate::OrgConfig {
        seed,
        users: 60,
        ..sim::generate::OrgConfig::default()
    };
    sim::generate::Generator::from_config(&config)
        .take(n)
        .map(|e| e.json)
        .collect()
}

fn fixture(n: usize) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("idwatch.db");
    let root = dir.path().join("archive");
    let raws = events(n, 7);
    let mut store = Store::open(&db).expect("open");
    let org = store.ensure_org("acme").expect("org");
    for chunk in raws.chunks(500) {
        let batch: Vec<LogEvent> = chunk
            .iter()
            .map(|r| LogEvent::parse(r).expect("parse"))
            .collect();
        store.commit_batch(org, &batch, "test").expect("commit");
    }
    Fixture {
        _dir: dir,
        db,
        root,
        org,
        raws,
    }
}

fn seal(f: &Fixture, cutoff: i64) -> archive::SealReport {
    let mut store = Store::open(&f.db).expect("open");
    let (writer, _) = ArchiveWriter::open(&mut store, &f.root).expect("writer");
    writer.seal(&mut store, None, cutoff).expect("seal")
}

fn uuids_hot(store: &Store, org: OrgId, q: &EventQuery) -> Vec<String> {
    let mut out = Vec::new();
    store
        .query(org, q, &mut |e| {
            out.push(e.event.uuid().0.clone());
            ControlFlow::Continue(())
        })
        .expect("hot query");
    out
}

fn uuids_tiers(store: &Store, root: &Path, org: OrgId, q: &EventQuery) -> Vec<String> {
    let mut out = Vec::new();
    Tiers::new(store, root)
        .query(org, q, &mut |e| {
            out.push(e.event.uuid().0.clone());
            ControlFlow::Continue(())
        })
        .expect("tier query");
    out
}

fn published_range(f: &Fixture) -> (i64, i64) {
    let times: Vec<i64> = f
        .raws
        .iter()
        .map(|r| LogEvent::parse(r).expect("parse").published_micros())
        .collect();
    (
        *times.iter().min().expect("events"),
        *times.iter().max().expect("events"),
    )
}

fn queries(first: i64, last: i64, sample: &LogEvent) -> Vec<EventQuery> {
    let mid = first + (last - first) / 2;
    let actor = sample.actor().alternate_id.unwrap_or("x").to_string();
    let texts = [
        "eventType eq \"user.session.start\"".to_string(),
        format!("actor.alternateId eq \"{actor}\""),
        "outcome.result eq \"FAILURE\" or eventType sw \"user.authentication\"".to_string(),
        "not (eventType eq \"user.session.start\") and client.userAgent.rawUserAgent co \"Mac\""
            .to_string(),
        "severity eq \"WARN\"".to_string(),
        "securityContext.asNumber gt 1000".to_string(),
        "target.type eq \"AppInstance\"".to_string(),
    ];
    let mut out = Vec::new();
    for text in texts {
        for (since, until, descending, limit) in [
            (None, None, false, None),
            (Some(mid - DAY / 2), Some(mid + DAY / 2), false, None),
            (None, None, true, Some(17)),
            (Some(first), None, false, Some(5)),
        ] {
            out.push(EventQuery {
                filter: Some(Filter::parse(&text).expect("filter")),
                since,
                until,
                descending,
                limit,
                ordered: true,
                ..EventQuery::default()
            });
        }
    }
    out
}

fn clone_query(q: &EventQuery) -> EventQuery {
    EventQuery {
        filter: q.filter.clone(),
        keywords: q.keywords.clone(),
        since: q.since,
        until: q.until,
        seq_range: q.seq_range,
        limit: q.limit,
        descending: q.descending,
        ordered: q.ordered,
        force_scan: q.force_scan,
    }
}

#[test]
fn sealing_keeps_every_answer() {
    let f = fixture(6000);
    let (first, last) = published_range(&f);
    let sample = LogEvent::parse(&f.raws[100]).expect("parse");
    let before_store = Store::open_read_only(&f.db).expect("open");
    let qs = queries(first, last, &sample);
    let before: Vec<Vec<String>> = qs
        .iter()
        .map(|q| uuids_hot(&before_store, f.org, q))
        .collect();
    let counts_before: Vec<usize> = qs
        .iter()
        .map(|q| {
            let mut q = clone_query(q);
            q.ordered = false;
            q.limit = None;
            uuids_hot(&before_store, f.org, &q).len()
        })
        .collect();
    drop(before_store);
    assert!(
        before.iter().any(|b| !b.is_empty()),
        "the fixture must match something"
    );

    // Seal the older half: both tiers hold events.
    let report = seal(&f, first + (last - first) / 2);
    assert!(report.events > 1000, "sealed {}", report.events);
    let store = Store::open_read_only(&f.db).expect("open");
    assert!(store.count_events(f.org).expect("count") as usize == f.raws.len());
    for (i, q) in qs.iter().enumerate() {
        let after = uuids_tiers(&store, &f.root, f.org, q);
        assert_eq!(
            after, before[i],
            "query {i} ({:?}) differs after sealing",
            q.filter
        );
        let mut unordered = clone_query(q);
        unordered.ordered = false;
        unordered.limit = None;
        let n = uuids_tiers(&store, &f.root, f.org, &unordered).len();
        assert_eq!(n, counts_before[i], "unordered count of query {i}");
    }
    // Everything sealed: still the same.
    drop(store);
    seal(&f, i64::MAX);
    let store = Store::open_read_only(&f.db).expect("open");
    assert!(
        uuids_hot(&store, f.org, &EventQuery::default()).is_empty(),
        "hot tier is empty"
    );
    for (i, q) in qs.iter().enumerate() {
        assert_eq!(
            uuids_tiers(&store, &f.root, f.org, q),
            before[i],
            "query {i} after full seal"
        );
    }
    let mut store = Store::open(&f.db).expect("open");
    let v = archive::verify(&mut store, &f.root, None, None).expect("verify");
    assert!(v.is_intact(), "{:?} {:?}", v.archive, v.unknown_files);
}

mod random_filters {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    struct Shared {
        fixture: Fixture,
        before: Store,
    }

    fn shared() -> &'static std::sync::Mutex<Shared> {
        static SHARED: OnceLock<std::sync::Mutex<Shared>> = OnceLock::new();
        SHARED.get_or_init(|| {
            let fixture = fixture(3000);
            // The baseline: an unsealed copy of the same store.
            let copy = fixture.db.with_file_name("before.db");
            std::fs::copy(&fixture.db, &copy).expect("copy");
            let (first, last) = published_range(&fixture);
            seal(&fixture, first + (last - first) / 3);
            let before = Store::open_read_only(&copy).expect("open copy");
            std::sync::Mutex::new(Shared { fixture, before })
        })
    }

    fn comparison() -> impl Strategy<Value = String> {
        let attrs = prop::sample::select(vec![
            "eventType",
            "outcome.result",
            "actor.alternateId",
            "actor.type",
            "client.ipAddress",
            "client.geographicalContext.country",
            "severity",
            "displayMessage",
            "authenticationContext.externalSessionId",
        ]);
        let ops = prop::sample::select(vec!["eq", "ne", "sw", "co", "ew", "gt", "lt"]);
        let values = prop::sample::select(vec![
            "user", "session", "SUCCESS", "FAILURE", "US", "a", "INFO", "WARN", "User", ".start",
            "1",
        ]);
        prop_oneof![
            (attrs.clone(), ops, values).prop_map(|(a, o, v)| format!("{a} {o} \"{v}\"")),
            attrs.prop_map(|a| format!("{a} pr")),
        ]
    }

    fn filter_text() -> impl Strategy<Value = String> {
        comparison().prop_recursive(3, 8, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
                inner.prop_map(|a| format!("not ({a})")),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn random_filters_agree_across_tiers(text in filter_text(), desc in any::<bool>(), limit in prop::option::of(1usize..40)) {
            let filter = Filter::parse(&text).expect("generated filters parse");
            let shared = shared().lock().expect("lock");
            let q = EventQuery { filter: Some(filter), descending: desc, limit, ordered: true, ..EventQuery::default() };
            let before = uuids_hot(&shared.before, shared.fixture.org, &q);
            let store = Store::open_read_only(&shared.fixture.db).expect("open");
            let after = uuids_tiers(&store, &shared.fixture.root, shared.fixture.org, &q);
            prop_assert_eq!(after, before, "filter {}", text);
        }
    }
}

fn live_segments(f: &Fixture) -> Vec<store::segments::Segment> {
    let store = Store::open_read_only(&f.db).expect("open");
    store.live_segments(f.org, None, None).expect("segments")
}

fn verify_problems(f: &Fixture) -> Vec<String> {
    let mut store = Store::open(&f.db).expect("open");
    let v = archive::verify(&mut store, &f.root, None, None).expect("verify");
    let mut out: Vec<String> = v.archive.iter().flat_map(|a| a.problems.clone()).collect();
    out.extend(v.unknown_files.iter().map(|u| format!("added file {u}")));
    out.extend(
        v.hot
            .orgs
            .iter()
            .flat_map(|o| o.problems.iter().map(|p| p.to_string())),
    );
    out
}

/// Rewrites a segment's file with `change` applied to its rows (a well-formed Parquet file, as
/// an attacker with write access would produce).
fn rewrite(
    f: &Fixture,
    segment: &store::segments::Segment,
    change: impl FnOnce(&mut Vec<archive::schema::SegmentRow>),
) {
    let path = f.root.join(&segment.record.path);
    let mut rows: Vec<archive::schema::SegmentRow> = archive::reader::read_rows(&path)
        .expect("read")
        .into_iter()
        .map(|(seq, ingested_at, raw)| archive::schema::SegmentRow {
            seq,
            ingested_at,
            event: LogEvent::parse(&raw).expect("parse"),
        })
        .collect();
    change(&mut rows);
    archive::writer::write_segment(&f.root, &segment.record.path, &mut rows).expect("rewrite");
}

#[test]
fn verify_names_modified_deleted_and_added_files_and_rows() {
    let f = fixture(4000);
    seal(&f, i64::MAX);
    assert!(verify_problems(&f).is_empty(), "{:?}", verify_problems(&f));
    let segments = live_segments(&f);
    assert!(
        segments.len() >= 3,
        "need several days, got {}",
        segments.len()
    );

    // A modified row: one event's raw JSON changed, file rewritten.
    let victim = LogEvent::parse(
        &archive::reader::read_rows(&f.root.join(&segments[0].record.path)).expect("read")[3].2,
    )
    .expect("parse");
    let victim_uuid = victim.uuid().0.clone();
    rewrite(&f, &segments[0], |rows| {
        let row = rows
            .iter_mut()
            .find(|r| r.event.uuid().0 == victim_uuid)
            .expect("row");
        let tampered = row
            .event
            .raw()
            .replacen("\"outcome\"", "\"outcome_\"", 1)
            .replacen("\"severity\":\"INFO\"", "\"severity\":\"DEBUG\"", 1);
        let tampered = if tampered == row.event.raw() {
            format!("{} ", row.event.raw())
        } else {
            tampered
        };
        row.event = LogEvent::parse(&tampered).expect("tampered parses");
    });
    let problems = verify_problems(&f);
    assert!(
        problems
            .iter()
            .any(|p| p.contains(&victim_uuid) && p.contains("modified")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains(&segments[0].record.path) && p.contains("SHA-256")),
        "{problems:?}"
    );

    // A deleted row in another segment.
    let rows1 = archive::reader::read_rows(&f.root.join(&segments[1].record.path)).expect("read");
    let gone = LogEvent::parse(&rows1[0].2)
        .expect("parse")
        .uuid()
        .0
        .clone();
    rewrite(&f, &segments[1], |rows| {
        rows.retain(|r| r.event.uuid().0 != gone)
    });
    let problems = verify_problems(&f);
    assert!(
        problems
            .iter()
            .any(|p| p.contains(&gone) && p.contains("deleted")),
        "{problems:?}"
    );

    // An added row: an event from another segment copied in.
    let rows2 = archive::reader::read_rows(&f.root.join(&segments[2].record.path)).expect("read");
    let extra = LogEvent::parse(&rows2[0].2).expect("parse");
    let extra_uuid = format!("{}", extra.uuid());
    let forged = extra
        .raw()
        .replacen(&extra_uuid, "0f0f0f0f-0000-4000-8000-000000000001", 1);
    rewrite(&f, &segments[2], |rows| {
        rows.push(archive::schema::SegmentRow {
            seq: 999_999,
            ingested_at: 0,
            event: LogEvent::parse(&forged).expect("forged parses"),
        })
    });
    let problems = verify_problems(&f);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("0f0f0f0f-0000-4000-8000-000000000001") && p.contains("inserted")),
        "{problems:?}"
    );

    // A deleted file.
    std::fs::remove_file(f.root.join(&segments[3 % segments.len()].record.path)).expect("rm");
    let problems = verify_problems(&f);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("deleted: its file is gone")),
        "{problems:?}"
    );

    // An added file (a copy of a segment under a new name).
    let added = "org=acme/date=2024-03-01/hour=all/part-99999999.parquet";
    std::fs::copy(f.root.join(&segments[1].record.path), f.root.join(added)).expect("copy");
    let problems = verify_problems(&f);
    assert!(problems.iter().any(|p| p.contains(added)), "{problems:?}");
}

#[test]
fn retention_drops_whole_days_and_the_chain_still_verifies() {
    let f = fixture(5000);
    let (first, last) = published_range(&f);
    let days = (last - first) / DAY;
    assert!(days >= 3, "fixture spans {days} days");
    let cutoff = archive::layout::day_start(first) + 2 * DAY;
    let mut store = Store::open(&f.db).expect("open");
    let (writer, _) = ArchiveWriter::open(&mut store, &f.root).expect("writer");
    let report = writer.retain(&mut store, None, cutoff).expect("retain");
    drop(writer);
    assert_eq!(report.dates.len(), 2, "{:?}", report.dates);
    let older = f
        .raws
        .iter()
        .filter(|r| LogEvent::parse(r).expect("parse").published_micros() < cutoff)
        .count() as u64;
    // Sealing takes whole 32-event hot blocks: the events of the one block that straddles the
    // cutoff stay hot until its newest event is older too.
    assert!(
        report.events <= older && report.events + 32 >= older,
        "{} of {older}",
        report.events
    );
    let expected_dropped = report.events;
    let v = archive::verify(&mut store, &f.root, None, None).expect("verify");
    assert!(v.is_intact(), "{:?}", v.archive);
    assert_eq!(v.archive[0].retained_events, expected_dropped);
    // What is left is exactly the events from the cutoff on, across both tiers.
    let left = uuids_tiers(
        &store,
        &f.root,
        f.org,
        &EventQuery {
            ordered: false,
            ..EventQuery::default()
        },
    );
    assert_eq!(left.len() as u64, f.raws.len() as u64 - expected_dropped);
    // No date directory before the cutoff remains.
    for date in &report.dates {
        assert!(
            !f.root.join(format!("org=acme/date={date}")).exists(),
            "{date} still on disk"
        );
    }
    // Re-importing dropped events stores nothing: dedupe covers everything ever stored.
    let old: Vec<LogEvent> = f.raws[..50]
        .iter()
        .map(|r| LogEvent::parse(r).expect("parse"))
        .collect();
    let outcome = store.commit_batch(f.org, &old, "again").expect("commit");
    assert_eq!(outcome.new, 0);
    drop(store);
    // Removing the retention checkpoint from the archive chain is caught.
    let conn = rusqlite::Connection::open(&f.db).expect("sqlite");
    conn.execute("DELETE FROM archive_log WHERE kind = 'retain'", [])
        .expect("delete");
    drop(conn);
    let problems = verify_problems(&f);
    assert!(!problems.is_empty(), "a removed checkpoint must be found");
}

#[test]
fn a_seal_interrupted_before_its_commit_is_cleaned_up() {
    let f = fixture(1500);
    let mut store = Store::open(&f.db).expect("open");
    // What a kill -9 between writing a file and committing leaves: a `writing` row, its file,
    // and a temporary file.
    let (id, rel) = store
        .begin_segment(f.org, 0, "2024-03-01", &|id| {
            archive::layout::hourly_path("acme", "2024-03-01", 0, id)
        })
        .expect("begin");
    let mut rows: Vec<archive::schema::SegmentRow> = f.raws[..10]
        .iter()
        .enumerate()
        .map(|(i, r)| archive::schema::SegmentRow {
            seq: i as i64 + 1,
            ingested_at: 0,
            event: LogEvent::parse(r).expect("parse"),
        })
        .collect();
    archive::writer::write_segment(&f.root, &rel, &mut rows).expect("write");
    std::fs::write(f.root.join(format!("{rel}.tmp")), b"partial").expect("tmp");
    let before = uuids_tiers(&store, &f.root, f.org, &EventQuery::default());
    assert_eq!(
        before.len(),
        f.raws.len(),
        "a writing segment is not queried"
    );
    let (_writer, cleanup) = ArchiveWriter::open(&mut store, &f.root).expect("writer");
    assert_eq!(cleanup.pending, 1);
    assert!(!f.root.join(&rel).exists());
    assert!(!f.root.join(format!("{rel}.tmp")).exists());
    assert!(store
        .pending_segments()
        .expect("pending")
        .iter()
        .all(|(p, _)| *p != id));
    drop(_writer);
    seal(&f, i64::MAX);
    let after = uuids_tiers(&store, &f.root, f.org, &EventQuery::default());
    assert_eq!(after, before);
}

#[test]
fn pyarrow_reads_our_files_and_finds_the_same_uuids() {
    let f = fixture(2500);
    seal(&f, i64::MAX);
    let script = r#"
import sys, pyarrow.dataset as ds
d = ds.dataset(sys.argv[1], format="parquet", partitioning="hive")
t = d.to_table(columns=["uuid", "event_type", "org", "date", "hour"])
assert set(t.column("org").to_pylist()) == {"acme"}, set(t.column("org").to_pylist())
for u in t.column("uuid").to_pylist():
    print(u)
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&f.root)
        .output()
        .expect("python3 runs (CI installs pyarrow: pip install pyarrow)");
    assert!(
        out.status.success(),
        "pyarrow failed (CI must `pip install pyarrow`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    theirs.sort();
    let mut ours: Vec<String> = f
        .raws
        .iter()
        .map(|r| LogEvent::parse(r).expect("parse").uuid().0.clone())
        .collect();
    ours.sort();
    assert_eq!(theirs, ours);
}

#[test]
fn export_round_trips_both_formats() {
    let f = fixture(2000);
    let (first, last) = published_range(&f);
    seal(&f, first + (last - first) / 2);
    let store = Store::open_read_only(&f.db).expect("open");
    let tiers = Tiers::new(&store, &f.root);
    let out = tempfile::tempdir().expect("tempdir");
    let nd = archive::export::export(
        &tiers,
        f.org,
        "acme",
        None,
        None,
        archive::export::ExportFormat::Ndjson,
        out.path(),
    )
    .expect("ndjson");
    assert_eq!(nd.events as usize, f.raws.len());
    let text = std::fs::read_to_string(out.path().join("acme-events.ndjson")).expect("read");
    let mut exported: Vec<&str> = text.lines().collect();
    let mut original: Vec<&str> = f.raws.iter().map(String::as_str).collect();
    exported.sort_unstable();
    original.sort_unstable();
    assert_eq!(exported, original, "NDJSON export is byte-exact");
    let pq = archive::export::export(
        &tiers,
        f.org,
        "acme",
        Some(first + DAY),
        None,
        archive::export::ExportFormat::Parquet,
        &out.path().join("pq"),
    )
    .expect("parquet");
    let expected = f
        .raws
        .iter()
        .filter(|r| LogEvent::parse(r).expect("parse").published_micros() >= first + DAY)
        .count();
    assert_eq!(pq.events as usize, expected);
    let mut n = 0;
    for file in &pq.files {
        n += archive::reader::read_rows(&out.path().join("pq").join(file))
            .expect("read")
            .len();
    }
    assert_eq!(n, expected);
}

#[test]
fn events_the_detector_has_not_evaluated_stay_hot() {
    let f = fixture(1000);
    let conn = rusqlite::Connection::open(&f.db).expect("sqlite");
    conn.execute(
        "INSERT INTO detect_positions (org, position, state, state_format, events, alerts, updated_at)
         VALUES (?1, 300, x'', 1, 300, 0, 0)",
        [f.org.0],
    )
    .expect("position");
    drop(conn);
    let report = seal(&f, i64::MAX);
    assert!(
        report.events > 0 && report.events <= 300,
        "sealed {}",
        report.events
    );
    let store = Store::open_read_only(&f.db).expect("open");
    let hot = store.read_after(f.org, 0, 10_000).expect("hot");
    assert!(
        hot.iter().all(|e| e.seq > 256),
        "only whole blocks up to the position are sealed"
    );
    assert!(hot.iter().any(|e| e.seq == 1000));
    assert_eq!(hot.len() as u64 + report.events, 1000);
}
