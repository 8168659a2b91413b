//! Ingest: dedupe across batches and within one, conflicts, reopen, migrations twice.

use crate::common::{event, events, fixture};
use okta::LogEvent;
use store::Store;

#[test]
fn importing_the_same_events_twice_adds_nothing() {
    let mut f = fixture();
    let batch = events(0..500);
    let first = f.store.commit_batch(f.org, &batch, "test").unwrap();
    assert_eq!((first.new, first.duplicates), (500, 0));
    let again = f.store.commit_batch(f.org, &batch, "test").unwrap();
    assert_eq!((again.new, again.duplicates, again.conflicts), (0, 500, 0));
    assert_eq!(f.store.count_events(f.org).unwrap(), 500);
}

#[test]
fn duplicates_inside_one_batch_and_overlapping_batches_are_stored_once() {
    let mut f = fixture();
    let mut batch = events(0..10);
    batch.push(event(3));
    let out = f.store.commit_batch(f.org, &batch, "test").unwrap();
    assert_eq!((out.new, out.duplicates), (10, 1));
    let out = f.store.commit_batch(f.org, &events(5..20), "test").unwrap();
    assert_eq!((out.new, out.duplicates), (10, 5));
    assert_eq!(f.store.count_events(f.org).unwrap(), 20);
}

#[test]
fn same_uuid_with_different_content_is_a_counted_conflict() {
    let mut f = fixture();
    f.store.commit_batch(f.org, &events(0..3), "test").unwrap();
    let raw = event(1).raw().replace("\"Event 1\"", "\"Event one\"");
    let changed = LogEvent::parse(&raw).unwrap();
    let out = f.store.commit_batch(f.org, &[changed], "test").unwrap();
    assert_eq!((out.new, out.duplicates, out.conflicts), (0, 1, 1));
}

#[test]
fn orgs_are_separate_namespaces() {
    let mut f = fixture();
    let other = f.store.ensure_org("globex").unwrap();
    f.store.commit_batch(f.org, &events(0..50), "test").unwrap();
    let out = f.store.commit_batch(other, &events(0..50), "test").unwrap();
    assert_eq!(out.new, 50);
    assert_eq!(f.store.count_events(f.org).unwrap(), 50);
    assert_eq!(f.store.count_events(other).unwrap(), 50);
}

#[test]
fn reopening_keeps_everything_and_migrations_are_idempotent() {
    let mut f = fixture();
    f.store
        .commit_batch(f.org, &events(0..300), "test")
        .unwrap();
    let path = f.store.path().to_path_buf();
    drop(f.store);
    let mut store = Store::open(&path).unwrap();
    let org = store.org("acme").unwrap();
    assert_eq!(store.count_events(org).unwrap(), 300);
    let out = store.commit_batch(org, &events(250..400), "test").unwrap();
    assert_eq!((out.new, out.duplicates), (100, 50));
    assert!(store.verify(None, None).unwrap().is_intact());
}

#[test]
fn raw_json_comes_back_byte_for_byte() {
    let mut f = fixture();
    let odd = r#"{ "uuid" : "uuid", "published":"2024-03-01T00:00:00.000Z",
        "eventType":"user.session.start", "n": 1.50, "s": "caf\u00e9 ✓" }"#;
    let e = LogEvent::parse(odd).unwrap();
    f.store.commit_batch(f.org, &[e], "test").unwrap();
    let mut got = Vec::new();
    f.store
        .query(f.org, &store::EventQuery::default(), &mut |s| {
            got.push(s.event.raw().to_string());
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(got, [odd]);
}

#[test]
fn every_shared_sample_is_stored_and_uuid_reuse_is_reported_as_conflicts() {
    let mut f = fixture();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/okta/samples");
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_none_or(|e| e != "ndjson" && e != "json")
        {
            continue;
        }
        for record in okta::import::EventReader::open(&path).unwrap() {
            all.push(record.unwrap().event);
        }
    }
    let out = f.store.commit_batch(f.org, &all, "samples").unwrap();
    let distinct: std::collections::HashSet<_> = all.iter().map(|e| e.uuid().key()).collect();
    assert_eq!(out.new, distinct.len());
    assert_eq!(out.new + out.duplicates, all.len());
    assert!(
        out.conflicts > 0,
        "the samples reuse uuids for different events"
    );
    assert!(f.store.verify(None, None).unwrap().is_intact());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]
    /// However events are split into batches, repeated and reordered, each uuid is stored once,
    /// and replaying any batch stores nothing new.
    #[test]
    fn any_batching_stores_each_uuid_exactly_once(
        picks in proptest::collection::vec(0usize..120, 1..400),
        cut_every in 1usize..60,
    ) {
        let mut f = fixture();
        let all: Vec<LogEvent> = picks.iter().map(|i| event(*i)).collect();
        let mut new = 0;
        for chunk in all.chunks(cut_every) {
            new += f.store.commit_batch(f.org, chunk, "test").unwrap().new;
        }
        let distinct: std::collections::HashSet<usize> = picks.iter().copied().collect();
        proptest::prop_assert_eq!(new, distinct.len());
        proptest::prop_assert_eq!(f.store.count_events(f.org).unwrap() as usize, distinct.len());
        for chunk in all.chunks(cut_every) {
            proptest::prop_assert_eq!(f.store.commit_batch(f.org, chunk, "test").unwrap().new, 0);
        }
        proptest::prop_assert!(f.store.verify(None, None).unwrap().is_intact());
    }
}
