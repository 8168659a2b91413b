//! Readers work while a writer ingests: a reader on its own connection keeps answering, and
//! never sees a partial batch.

use crate::common::{events, fixture};
use std::ops::ControlFlow;
use store::{EventQuery, Store};

#[test]
fn a_reader_sees_only_whole_batches_while_a_writer_ingests() {
    let mut f = fixture();
    let path = f.store.path().to_path_buf();
    let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reads_seen = reads.clone();
    let writer = std::thread::spawn(move || {
        for (i, chunk) in events(0..6000).chunks(250).enumerate() {
            f.store.commit_batch(f.org, chunk, "test").unwrap();
            if i == 10 {
                // Make sure at least two reads happen in the middle of the ingest.
                let start = reads_seen.load(std::sync::atomic::Ordering::SeqCst);
                while reads_seen.load(std::sync::atomic::Ordering::SeqCst) < start + 2 {
                    std::thread::yield_now();
                }
            }
        }
        f
    });
    let reader = Store::open_read_only(&path).unwrap();
    let org = reader.org("acme").unwrap();
    let mut observations = Vec::new();
    while !writer.is_finished() {
        let mut n = 0u64;
        reader
            .query(org, &EventQuery::default(), &mut |_| {
                n += 1;
                ControlFlow::Continue(())
            })
            .unwrap();
        observations.push(n);
        reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    let f = writer.join().unwrap();
    assert!(
        observations.iter().all(|n| n % 250 == 0),
        "partial batch seen: {observations:?}"
    );
    assert!(observations.windows(2).all(|w| w[0] <= w[1]));
    assert!(
        observations.iter().any(|n| *n > 0 && *n < 6000),
        "the reader ran during the ingest: {observations:?}"
    );
    assert_eq!(f.store.count_events(f.org).unwrap(), 6000);
}
