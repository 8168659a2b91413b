//! `events` through DataFusion on real SQLite and Parquet files, with events from the
//! simulator's generator, half of them sealed: counts, facets and JSON lookups agree with an
//! independent evaluation of the same events; time bounds prune without changing answers;
//! two orgs stay apart; errors name the problem.

use archive::{ArchiveWriter, Tiers};
use okta::filter::Filter;
use okta::LogEvent;
use sql::{SqlOutput, SqlSource, SqlValue};
use std::ops::ControlFlow;
use std::path::PathBuf;
use store::{EventQuery, OrgId, Store};

struct Fixture {
    _dir: tempfile::TempDir,
    source: SqlSource,
    db: PathBuf,
    root: PathBuf,
    org: OrgId,
    events: Vec<LogEvent>,
}

fn generate(n: usize, seed: u64) -> Vec<LogEvent> {
    // A 60-user org from the generator's default start, 2024-03-01.
    let config = sim::generate::OrgConfig {
        seed,
        users: 60,
        ..sim::generate::OrgConfig::default()
    };
    sim::generate::Generator::from_config(&config)
        .take(n)
        .map(|e| LogEvent::parse(&e.json).expect("parse"))
        .collect()
}

/// `n` events of org `acme`; those published before the middle are sealed.
fn fixture(n: usize) -> Fixture {
    fixture_sealed(n, true)
}

/// `n` events of org `acme`, half sealed if `seal`.
fn fixture_sealed(n: usize, seal: bool) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("idwatch.db");
    let root = dir.path().join("archive");
    let events = generate(n, 7);
    let mut store = Store::open(&db).expect("open");
    let org = store.ensure_org("acme").expect("org");
    for chunk in events.chunks(500) {
        store.commit_batch(org, chunk, "test").expect("commit");
    }
    let (first, last) = range(&events);
    if seal {
        let (writer, _) = ArchiveWriter::open(&mut store, &root).expect("writer");
        let report = writer
            .seal(&mut store, None, first + (last - first) / 2)
            .expect("seal");
        assert!(report.events > 0, "something was sealed");
    }
    Fixture {
        _dir: dir,
        source: SqlSource {
            store_path: db.clone(),
            archive_root: root.clone(),
        },
        db,
        root,
        org,
        events,
    }
}

fn range(events: &[LogEvent]) -> (i64, i64) {
    let times = events.iter().map(|e| e.published_micros());
    (
        times.clone().min().expect("events"),
        times.max().expect("events"),
    )
}

fn rows(source: &SqlSource, statement: &str) -> Vec<Vec<SqlValue>> {
    let mut out = Vec::new();
    sql::run(source, statement, &mut |o| {
        if let SqlOutput::Row(r) = o {
            out.push(r);
        }
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{statement}: {e}"));
    out
}

fn int(v: &SqlValue) -> i64 {
    match v {
        SqlValue::Integer(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

fn text(v: &SqlValue) -> &str {
    match v {
        SqlValue::Text(t) => t,
        other => panic!("not text: {other:?}"),
    }
}

fn rfc3339(micros: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_micros(micros)
        .expect("time")
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[test]
fn counts_and_facets_agree_with_the_query_path_on_both_tiers() {
    let f = fixture(3000);
    let total = rows(
        &f.source,
        "SELECT count(*), count(DISTINCT uuid), \
         sum(CASE WHEN tier = 'hot' THEN 1 ELSE 0 END), \
         sum(CASE WHEN tier = 'archive' THEN 1 ELSE 0 END) FROM events",
    );
    assert_eq!(int(&total[0][0]) as usize, f.events.len());
    assert_eq!(int(&total[0][1]) as usize, f.events.len());
    assert!(
        int(&total[0][2]) > 0 && int(&total[0][3]) > 0,
        "both tiers answer"
    );
    assert_eq!(int(&total[0][2]) + int(&total[0][3]), f.events.len() as i64);
    let store = Store::open_read_only(&f.db).expect("open");
    let facets = rows(
        &f.source,
        "SELECT event_type, count(*) FROM events GROUP BY event_type ORDER BY 2 DESC",
    );
    assert!(facets.len() > 3, "a real facet: {facets:?}");
    for row in &facets {
        let t = text(&row[0]);
        let q = EventQuery {
            filter: Some(Filter::parse(&format!("eventType eq \"{t}\"")).expect("filter")),
            ..EventQuery::default()
        };
        let mut n = 0i64;
        Tiers::new(&store, &f.root)
            .query(f.org, &q, &mut |_| {
                n += 1;
                ControlFlow::Continue(())
            })
            .expect("tier query");
        assert_eq!(n, int(&row[1]), "{t}");
    }
}

#[test]
fn time_bounds_and_json_extract_agree_with_the_events() {
    let f = fixture(3000);
    let (first, last) = range(&f.events);
    // Bounds on each side of the seal cutoff and across it.
    for (lo, hi) in [
        (first, first + (last - first) / 4),
        (first + (last - first) / 3, first + 2 * (last - first) / 3),
        (first + 3 * (last - first) / 4, last + 1),
    ] {
        let statement = format!(
            "SELECT count(*) FROM events WHERE published >= '{}' AND published < '{}' \
             AND json_extract(raw, '$.actor.alternateId') = actor_alternate_id",
            rfc3339(lo),
            rfc3339(hi)
        );
        let expected = f
            .events
            .iter()
            .filter(|e| {
                let t = e.published_micros() / 1000 * 1000;
                t >= lo / 1000 * 1000
                    && t < hi / 1000 * 1000
                    && e.doc()["actor"]["alternateId"].is_string()
            })
            .count() as i64;
        assert_eq!(
            int(&rows(&f.source, &statement)[0][0]),
            expected,
            "{statement}"
        );
    }
    // published_us, timestamps rendered as RFC 3339, nested paths and array indexes.
    let sample = &f.events[f.events.len() - 1];
    let got = rows(
        &f.source,
        &format!(
            "SELECT published, json_extract(raw, '$.client.geographicalContext.country'), \
             json_extract(raw, '$.target[0].id'), tier FROM events WHERE uuid = '{}'",
            sample.uuid().0
        ),
    );
    assert_eq!(got.len(), 1);
    assert_eq!(text(&got[0][0]), rfc3339(sample.published_micros()));
    let country = sample.doc()["client"]["geographicalContext"]["country"].as_str();
    assert_eq!(
        got[0][1],
        country.map_or(SqlValue::Null, |c| SqlValue::Text(c.into()))
    );
    let target = sample.doc()["target"][0]["id"].as_str();
    assert_eq!(
        got[0][2],
        target.map_or(SqlValue::Null, |c| SqlValue::Text(c.into()))
    );
    assert_eq!(text(&got[0][3]), "hot", "the newest event is not sealed");
    let us = rows(
        &f.source,
        &format!(
            "SELECT published_us FROM events WHERE uuid = '{}'",
            f.events[0].uuid().0
        ),
    );
    assert_eq!(int(&us[0][0]), f.events[0].published_micros() / 1000 * 1000);
}

#[test]
fn orgs_stay_apart_and_limits_stop_early() {
    let f = fixture(1200);
    let mut store = Store::open(&f.db).expect("open");
    let other = store.ensure_org("o'brien corp").expect("org");
    let more = generate(300, 99);
    store.commit_batch(other, &more, "test").expect("commit");
    drop(store);
    let by_org = rows(
        &f.source,
        "SELECT org, count(*) FROM events GROUP BY org ORDER BY org",
    );
    assert_eq!(
        by_org,
        vec![
            vec![SqlValue::Text("acme".into()), SqlValue::Integer(1200)],
            vec![
                SqlValue::Text("o'brien corp".into()),
                SqlValue::Integer(300)
            ],
        ]
    );
    let limited = rows(&f.source, "SELECT uuid FROM events LIMIT 7");
    assert_eq!(limited.len(), 7);
}

#[test]
fn bad_statements_are_errors_that_say_why() {
    let f = fixture(100);
    for (statement, says) in [
        ("SELEC nonsense", "SELEC"),
        ("SELECT nope FROM events", "nope"),
        (
            "SELECT json_extract(raw, 'actor') FROM events",
            "must start with `$`",
        ),
    ] {
        let err = sql::run(&f.source, statement, &mut |_| Ok(()))
            .err()
            .unwrap_or_else(|| panic!("{statement} must fail"));
        assert!(err.to_string().contains(says), "{statement}: {err}");
    }
    // Nothing is written: the store still holds every event.
    let n = rows(&f.source, "SELECT count(*) FROM events");
    assert_eq!(int(&n[0][0]), 100);
}

/// The Parquet files a statement's plan reads.
fn planned_files(source: &SqlSource, statement: &str) -> usize {
    let plan: String = rows(source, &format!("EXPLAIN {statement}"))
        .iter()
        .flat_map(|r| r.iter().map(|v| format!("{v:?}")))
        .collect();
    plan.matches(".parquet").count()
}

#[test]
fn time_bounds_prune_segments_before_any_file_is_opened() {
    let f = fixture(3000);
    let (first, last) = range(&f.events);
    let all = planned_files(&f.source, "SELECT count(*) FROM events");
    let early = planned_files(
        &f.source,
        &format!(
            "SELECT count(*) FROM events WHERE published < '{}'",
            rfc3339(first + (last - first) / 10)
        ),
    );
    let late = planned_files(
        &f.source,
        &format!(
            "SELECT count(*) FROM events WHERE published >= '{}'",
            rfc3339(last)
        ),
    );
    assert!(all > 1, "the fixture seals into several segments: {all}");
    assert!(early >= 1 && early < all, "{early} of {all} segments");
    assert_eq!(late, 0, "nothing sealed is that new");
}

#[test]
fn bounded_sql_over_a_large_hot_tier_misses_nothing() {
    // More hot events than one read chunk (4,096), none sealed.
    let f = fixture_sealed(10_000, false);
    let (first, last) = range(&f.events);
    let span = last - first;
    for (lo, hi) in [(0, 1), (1, 5), (3, 7), (9, 10), (0, 10)] {
        // Whole milliseconds, as the literals say.
        let since = (first + span * lo / 10) / 1000 * 1000;
        let until = (first + span * hi / 10) / 1000 * 1000 + if hi == 10 { 1000 } else { 0 };
        let statement = format!(
            "SELECT count(*) FROM events WHERE published >= '{}' AND published < '{}'",
            rfc3339(since),
            rfc3339(until)
        );
        let expected = f
            .events
            .iter()
            .filter(|e| e.published_micros() >= since && e.published_micros() < until)
            .count() as i64;
        assert!(expected > 0 || lo == hi);
        assert_eq!(
            int(&rows(&f.source, &statement)[0][0]),
            expected,
            "[{lo}/10, {hi}/10) of the range"
        );
    }
}
