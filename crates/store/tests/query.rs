//! Queries: the indexed plan and the scan plan both give exactly what evaluating the filter on
//! every event in memory gives (an independent evaluation, not the store's own path).

use crate::common::{events, fixture};
use okta::filter::{Filter, Keywords};
use okta::LogEvent;
use std::ops::ControlFlow;
use store::EventQuery;

const FILTERS: &[&str] = &[
    r#"eventType eq "user.session.start""#,
    r#"eventType eq "USER.SESSION.START""#,
    r#"eventType sw "user.mfa""#,
    r#"eventType co "privilege" or eventType ew ".create""#,
    r#"eventType eq "user.session.start" and outcome.result eq "FAILURE""#,
    r#"actor.id eq "00u0003""#,
    r#"actor.alternateId eq "user2@example.com" and not (outcome.result eq "SUCCESS")"#,
    r#"client.ipAddress eq "203.0.113.7""#,
    r#"client.ipAddress eq "null""#,
    r#"authenticationContext.externalSessionId eq "idx00012""#,
    r#"authenticationContext.rootSessionId eq "idx00012" or transaction.id eq "tx00000077""#,
    r#"transaction.id eq "tx00000123""#,
    r#"target.id eq "00u0002""#,
    r#"target.alternateId eq "Okta Admin Console" and target.id eq "00u0005""#,
    r#"target.displayName co "admin""#,
    r#"debugContext.debugData.requestUri ew "/17""#,
    r#"debugContext.debugData.risk co "level=HIGH""#,
    r#"securityContext.isProxy eq "true""#,
    r#"securityContext.asNumber eq 13336"#,
    r#"securityContext.asNumber gt 13336"#,
    r#"client.geographicalContext.country eq "France" and eventType eq "policy.evaluate_sign_on""#,
    r#"outcome.reason pr"#,
    r#"not (eventType eq "user.session.start") and outcome.result ne "DENY""#,
    r#"eventType eq "does.not.exist""#,
];

fn run(f: &crate::common::Fixture, q: &EventQuery) -> Vec<String> {
    let mut got = Vec::new();
    f.store
        .query(f.org, q, &mut |s| {
            got.push(s.event.uuid().0.clone());
            ControlFlow::Continue(())
        })
        .unwrap();
    got
}

fn expected(
    all: &[LogEvent],
    filter: &Filter,
    since: Option<i64>,
    until: Option<i64>,
) -> Vec<String> {
    let mut hits: Vec<&LogEvent> = all
        .iter()
        .filter(|e| since.is_none_or(|s| e.published_micros() >= s))
        .filter(|e| until.is_none_or(|u| e.published_micros() < u))
        .filter(|e| filter.matches_value(e.doc()))
        .collect();
    hits.sort_by_key(|e| e.published_micros());
    hits.into_iter().map(|e| e.uuid().0.clone()).collect()
}

#[test]
fn both_plans_agree_with_evaluating_every_event() {
    let mut f = fixture();
    let all = events(0..3000);
    for chunk in all.chunks(700) {
        f.store.commit_batch(f.org, chunk, "test").unwrap();
    }
    let day = |d: u32| {
        chrono::NaiveDate::from_ymd_opt(2024, 3, d)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_micros()
    };
    for text in FILTERS {
        for (since, until) in [(None, None), (Some(day(2)), Some(day(3)))] {
            let want = expected(&all, &Filter::parse(text).unwrap(), since, until);
            for force_scan in [false, true] {
                let q = EventQuery {
                    filter: Some(Filter::parse(text).unwrap()),
                    since,
                    until,
                    ordered: true,
                    force_scan,
                    ..EventQuery::default()
                };
                let mut got = run(&f, &q);
                let mut want_sorted = want.clone();
                // Same published instant may come in either order; compare as sets then counts.
                got.sort();
                want_sorted.sort();
                assert_eq!(
                    got, want_sorted,
                    "filter {text} scan={force_scan} window={since:?}"
                );
            }
        }
    }
}

#[test]
fn pivot_filters_use_the_index_and_others_scan() {
    let mut f = fixture();
    f.store
        .commit_batch(f.org, &events(0..1000), "test")
        .unwrap();
    let plan = |text: &str| {
        let q = EventQuery {
            filter: Some(Filter::parse(text).unwrap()),
            ..EventQuery::default()
        };
        f.store
            .query(f.org, &q, &mut |_| ControlFlow::Continue(()))
            .unwrap()
    };
    let indexed = plan(r#"eventType eq "system.api_token.create" and outcome.result eq "DENY""#);
    assert_eq!(indexed.plan, "indexed");
    assert_eq!(
        indexed.candidates, indexed.matched,
        "the index answered exactly here"
    );
    let scan = plan(r#"debugContext.debugData.risk co "level=HIGH""#);
    assert_eq!(scan.plan, "scan");
    // The literal prefilter skipped parsing most non-matching events.
    assert!(scan.candidates < 1000 / 2, "{scan:?}");
}

#[test]
fn results_are_in_published_order_and_limit_and_desc_work() {
    let mut f = fixture();
    let all = events(0..800);
    f.store.commit_batch(f.org, &all, "test").unwrap();
    for force_scan in [false, true] {
        let base = EventQuery {
            filter: Some(Filter::parse(r#"eventType sw "user""#).unwrap()),
            ordered: true,
            force_scan,
            ..EventQuery::default()
        };
        let mut times = Vec::new();
        f.store
            .query(f.org, &base, &mut |s| {
                times.push(s.event.published_micros());
                ControlFlow::Continue(())
            })
            .unwrap();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        let limited = EventQuery {
            limit: Some(5),
            descending: true,
            ..base
        };
        let mut newest = Vec::new();
        f.store
            .query(f.org, &limited, &mut |s| {
                newest.push(s.event.published_micros());
                ControlFlow::Continue(())
            })
            .unwrap();
        let mut want = times.clone();
        want.reverse();
        want.truncate(5);
        assert_eq!(newest, want, "scan={force_scan}");
    }
}

#[test]
fn keyword_search_narrows_results() {
    let mut f = fixture();
    let all = events(0..400);
    f.store.commit_batch(f.org, &all, "test").unwrap();
    let q = EventQuery {
        keywords: Some(Keywords::parse("France user3@example.com").unwrap()),
        ..EventQuery::default()
    };
    let got = run(&f, &q);
    let keywords = Keywords::parse("France user3@example.com").unwrap();
    let want = all.iter().filter(|e| keywords.matches(e)).count();
    assert_eq!(got.len(), want);
    assert!(want > 0);
}

#[test]
fn seq_ranges_select_what_was_stored_in_them_under_both_plans() {
    let mut f = fixture();
    let all = events(0..900);
    for chunk in all.chunks(300) {
        f.store.commit_batch(f.org, chunk, "test").unwrap();
    }
    // The second batch's seqs, resolved from what read_after reports.
    let first_two = f.store.read_after(f.org, 0, 600).unwrap();
    let (start, end) = (first_two[300].seq, first_two[599].seq + 1);
    let wanted: Vec<String> = all[300..600]
        .iter()
        .filter(|e| e.event_type() == "user.session.start")
        .map(|e| e.uuid().0.clone())
        .collect();
    assert!(!wanted.is_empty());
    for force_scan in [false, true] {
        let q = EventQuery {
            filter: Some(Filter::parse(r#"eventType eq "user.session.start""#).unwrap()),
            seq_range: Some((start, end)),
            force_scan,
            ..EventQuery::default()
        };
        let mut got = run(&f, &q);
        got.sort();
        let mut want = wanted.clone();
        want.sort();
        assert_eq!(got, want, "force_scan {force_scan}");
    }
    // Ingestion times: everything was stored in the last minute, nothing in the future.
    let now = chrono::Utc::now().timestamp_micros();
    let (s, e) = f
        .store
        .seq_range_ingested(f.org, Some(now - 60_000_000), None)
        .unwrap();
    assert_eq!(e - s, 900);
    assert_eq!(
        f.store
            .seq_range_ingested(f.org, Some(now + 60_000_000), None)
            .unwrap(),
        (0, 0)
    );
}

#[test]
fn read_after_follows_the_store_in_insertion_order_without_gaps() {
    let mut f = fixture();
    let other = f.store.ensure_org("other").unwrap();
    let all = events(0..500);
    for (i, chunk) in all.chunks(70).enumerate() {
        // Interleave another org's batches: its seqs must not appear in acme's stream.
        f.store.commit_batch(f.org, chunk, "test").unwrap();
        f.store
            .commit_batch(other, &events(1000 + i * 3..1003 + i * 3), "test")
            .unwrap();
    }
    assert_eq!(f.store.count_events(f.org).unwrap(), 500);
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = f.store.read_after(f.org, after, 64).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 64);
        assert!(page.windows(2).all(|w| w[0].seq < w[1].seq));
        assert!(page[0].seq > after);
        after = page.last().unwrap().seq;
        seen.extend(page.into_iter().map(|s| s.event.uuid().0.clone()));
    }
    let want: Vec<String> = all.iter().map(|e| e.uuid().0.clone()).collect();
    assert_eq!(seen, want);
    assert_eq!(f.store.last_seq(f.org).unwrap(), after);
}
