//! Tamper evidence: every kind of edit someone with write access to the SQLite file can make is
//! found by `verify` and named by uuid.

use crate::common::{events, fixture, uuid_for, Fixture};
use rusqlite::Connection;
use store::ChainProblem;

fn stored(n: usize) -> (Fixture, Connection) {
    let mut f = fixture();
    for chunk in events(0..n).chunks(100) {
        f.store.commit_batch(f.org, chunk, "test").unwrap();
    }
    let conn = Connection::open(f.store.path()).unwrap();
    (f, conn)
}

fn problems(f: &mut Fixture) -> Vec<ChainProblem> {
    let report = f.store.verify(None, None).unwrap();
    report.orgs.into_iter().flat_map(|o| o.problems).collect()
}

#[test]
fn an_untouched_store_verifies() {
    let (mut f, _conn) = stored(450);
    let report = f.store.verify(Some(f.org), None).unwrap();
    assert!(report.is_intact());
    assert_eq!(report.orgs[0].events, 450);
    assert_eq!(report.orgs[0].batches, 5);
    assert_eq!(report.orgs[0].head.len(), 64);
}

#[test]
fn an_edited_index_column_is_named() {
    let (mut f, conn) = stored(300);
    let seq: i64 = conn
        .query_row(
            "SELECT seq FROM events ORDER BY seq LIMIT 1 OFFSET 42",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        "UPDATE events SET event_type = event_type + 1 WHERE seq = ?1",
        [seq],
    )
    .unwrap();
    let found = problems(&mut f);
    assert_eq!(found.len(), 1, "{found:?}");
    match &found[0] {
        ChainProblem::Modified { uuid, detail, .. } => {
            assert_eq!(uuid, &uuid_for(42));
            assert!(detail.contains("eventType"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rewritten_raw_json_is_named() {
    let (mut f, conn) = stored(300);
    // Re-encode block 2 with one event changed, as an attacker with the codec would.
    let (id, data): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT id, data FROM blocks ORDER BY id LIMIT 1 OFFSET 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let mut raws: Vec<String> = store::codec::decode_block(id, &data)
        .unwrap()
        .into_iter()
        .map(String::from)
        .collect();
    let victim = okta::LogEvent::parse(&raws[5]).unwrap().uuid().0.clone();
    raws[5] = raws[5]
        .replace("FAILURE", "SUCCESS")
        .replace("DENY", "ALLOW");
    raws[5] = raws[5].replace("\"severity\":\"INFO\"", "\"severity\":\"WARN\"");
    let forged = store::codec::encode_block(raws.iter().map(String::as_str)).unwrap();
    conn.execute(
        "UPDATE blocks SET data = ?1 WHERE id = ?2",
        rusqlite::params![forged, id],
    )
    .unwrap();
    let found = problems(&mut f);
    assert_eq!(
        found,
        vec![ChainProblem::Modified {
            uuid: victim,
            seq: found.first().map(seq_of).unwrap_or(0),
            detail: "its raw JSON differs from what was committed".into()
        }]
    );
}

fn seq_of(p: &ChainProblem) -> i64 {
    match p {
        ChainProblem::Modified { seq, .. }
        | ChainProblem::Deleted { seq, .. }
        | ChainProblem::Inserted { seq, .. } => *seq,
        _ => -1,
    }
}

#[test]
fn a_deleted_event_row_is_named() {
    let (mut f, conn) = stored(200);
    conn.execute(
        "DELETE FROM events WHERE seq = (SELECT seq FROM events ORDER BY seq LIMIT 1 OFFSET 7)",
        [],
    )
    .unwrap();
    let found = problems(&mut f);
    assert!(
        matches!(&found[..], [ChainProblem::Deleted { uuid, .. }] if uuid == &uuid_for(7)),
        "{found:?}"
    );
}

#[test]
fn a_deleted_block_names_every_event_in_it() {
    let (mut f, conn) = stored(200);
    conn.execute(
        "DELETE FROM blocks WHERE id = (SELECT min(id) FROM blocks)",
        [],
    )
    .unwrap();
    let found = problems(&mut f);
    let deleted: Vec<_> = found
        .iter()
        .filter_map(|p| match p {
            ChainProblem::Deleted { uuid, .. } => Some(uuid.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        deleted.len(),
        store::codec::BLOCK_EVENTS,
        "the first block is full"
    );
    assert_eq!(deleted[0], uuid_for(0));
}

#[test]
fn an_inserted_event_is_named() {
    let (mut f, conn) = stored(100);
    let extra = crate::common::event(999);
    let data = store::codec::encode_block([extra.raw()]).unwrap();
    conn.execute(
        "INSERT INTO blocks (org, first_seq, count, min_published, max_published, data)
         VALUES (1, 5000, 1, 0, 0, ?1)",
        [data],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO events (seq, org, block, published, event_type) VALUES (5000, 1, last_insert_rowid(), 0, 1)",
        [],
    )
    .unwrap();
    let found = problems(&mut f);
    assert_eq!(
        found,
        vec![ChainProblem::Inserted {
            uuid: uuid_for(999),
            seq: 5000
        }]
    );
}

#[test]
fn a_deleted_or_edited_batch_breaks_the_chain() {
    let (mut f, conn) = stored(300);
    conn.execute("UPDATE batches SET source = 'elsewhere' WHERE id = 2", [])
        .unwrap();
    let found = problems(&mut f);
    assert!(
        found
            .iter()
            .any(|p| matches!(p, ChainProblem::BatchAltered { batch: 2, .. })),
        "{found:?}"
    );

    let (mut f, conn) = stored(300);
    conn.execute("DELETE FROM batches WHERE id = 2", [])
        .unwrap();
    let found = problems(&mut f);
    assert!(
        found
            .iter()
            .any(|p| matches!(p, ChainProblem::BatchAltered { batch: 3, .. })),
        "{found:?}"
    );
    // The events the deleted batch covered are now outside the chain, and named.
    assert_eq!(
        found
            .iter()
            .filter(|p| matches!(p, ChainProblem::Inserted { .. }))
            .count(),
        100
    );
}

#[test]
fn a_truncated_chain_is_caught_with_the_recorded_head() {
    let (mut f, conn) = stored(300);
    let head = f.store.verify(Some(f.org), None).unwrap().orgs[0]
        .head
        .clone();
    conn.execute("DELETE FROM events WHERE seq >= 201", [])
        .unwrap();
    conn.execute("DELETE FROM blocks WHERE first_seq >= 201", [])
        .unwrap();
    conn.execute("DELETE FROM uuids WHERE seq >= 201", [])
        .unwrap();
    conn.execute("DELETE FROM batches WHERE id = 3", [])
        .unwrap();
    assert!(
        f.store.verify(Some(f.org), None).unwrap().is_intact(),
        "undetectable without the head"
    );
    let report = f.store.verify(Some(f.org), Some(&head)).unwrap();
    assert!(matches!(
        report.orgs[0].problems[..],
        [ChainProblem::HeadMismatch { .. }]
    ));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// Flipping any byte of any stored event's raw JSON is detected.
    #[test]
    fn changing_any_byte_of_raw_json_is_detected(block in 0usize..4, event_index in 0usize..64, byte in 0usize..400, flip in 1u8..=255) {
        let (mut f, conn) = stored(120);
        let (id, data): (i64, Vec<u8>) = conn
            .query_row("SELECT id, data FROM blocks ORDER BY id LIMIT 1 OFFSET ?1", [block], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        let mut raws: Vec<Vec<u8>> = store::codec::decode_block(id, &data).unwrap().into_iter().map(|r| r.as_bytes().to_vec()).collect();
        let count = raws.len();
        let target = &mut raws[event_index % count];
        let at = byte % target.len();
        target[at] ^= flip & 0x7f | 1;
        let texts: Vec<String> = raws.into_iter().map(|r| String::from_utf8_lossy(&r).into_owned()).collect();
        let forged = store::codec::encode_block(texts.iter().map(String::as_str)).unwrap();
        conn.execute("UPDATE blocks SET data = ?1 WHERE id = ?2", rusqlite::params![forged, id]).unwrap();
        let found = problems(&mut f);
        proptest::prop_assert!(!found.is_empty());
    }
}
