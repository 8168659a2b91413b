//! Term filters: per segment, one Bloom filter per lookup column (session ids, transaction id,
//! actor, client IP) over the values' case-folded text, kept in the store's catalog. A query
//! whose filter needs `attr eq "value"` on one of those columns skips every segment whose filter
//! says the value is absent, before any file is opened: this is what makes "one session's
//! events" over years of archive a lookup and not a scan.
//!
//! Soundness: a filter holds, for every row, the text form of every string, number and boolean
//! the Okta filter evaluator would compare at the column's path (exact keys, fanning out over
//! arrays, as `okta::event::visit_path` does), folded the way it folds (`char::to_lowercase`
//! per character). `eq` with a string literal matches only if one of those texts equals the
//! folded literal, so "absent" is never wrong; false positives (1 %) only cost a scan.

use crate::schema::STRING_PIVOTS;
use okta::event::{visit_path, KeyMatch};
use okta::filter::{Expr, Literal, Op};
use okta::LogEvent;
use serde_json::Value;
use std::collections::HashSet;

/// The string pivots that get a term filter (by name; see [`crate::schema::STRING_PIVOTS`]).
pub const TERM_COLUMNS: &[&str] = &[
    "session_id",
    "root_session_id",
    "transaction_id",
    "actor_id",
    "actor_alternate_id",
    "client_ip",
];

/// Bits per distinct value (≈ 1 % false positives with [`HASHES`] probes).
const BITS_PER_VALUE: usize = 10;
/// Probes per value.
const HASHES: u32 = 7;
const MAGIC: &[u8; 4] = b"IWT1";

/// One column's Bloom filter.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bloom {
    words: Vec<u64>,
}

impl Bloom {
    fn with_capacity(values: usize) -> Bloom {
        let bits = (values * BITS_PER_VALUE).max(64);
        Bloom {
            words: vec![0; bits.div_ceil(64)],
        }
    }

    fn positions(&self, folded: &str) -> impl Iterator<Item = usize> {
        let h = twox_hash::XxHash64::oneshot(0x6964_7761_7463_6831, folded.as_bytes());
        let (h1, h2) = (h & 0xffff_ffff, (h >> 32) | 1);
        let bits = (self.words.len() * 64) as u64;
        (0..u64::from(HASHES)).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % bits) as usize)
    }

    fn insert(&mut self, folded: &str) {
        let positions: Vec<usize> = self.positions(folded).collect();
        for p in positions {
            self.words[p / 64] |= 1 << (p % 64);
        }
    }

    fn may_contain(&self, folded: &str) -> bool {
        self.positions(folded)
            .all(|p| self.words[p / 64] & (1 << (p % 64)) != 0)
    }
}

/// The term filters of one segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermFilters {
    /// (string pivot index, filter).
    columns: Vec<(usize, Bloom)>,
}

/// Folds text the way the filter evaluator does.
pub fn fold(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// The text forms `eq` compares at `path` in `doc`, folded.
fn texts_at(doc: &Value, path: &[&str], out: &mut HashSet<String>) {
    visit_path(doc, path, KeyMatch::Exact, &mut |v| {
        match v {
            Value::String(s) => {
                out.insert(fold(s));
            }
            Value::Number(n) => {
                out.insert(n.to_string());
            }
            Value::Bool(b) => {
                out.insert(b.to_string());
            }
            _ => {}
        }
        false
    });
}

impl TermFilters {
    /// Builds the filters for the events of one segment.
    pub fn build<'a>(events: impl IntoIterator<Item = &'a LogEvent> + Clone) -> TermFilters {
        let mut columns = Vec::with_capacity(TERM_COLUMNS.len());
        for name in TERM_COLUMNS {
            let Some(index) = STRING_PIVOTS.iter().position(|p| p.name == *name) else {
                continue;
            };
            let path: Vec<&str> = STRING_PIVOTS[index].attr.split('.').collect();
            let mut values = HashSet::new();
            for event in events.clone() {
                texts_at(event.doc(), &path, &mut values);
            }
            let mut bloom = Bloom::with_capacity(values.len());
            for v in &values {
                bloom.insert(v);
            }
            columns.push((index, bloom));
        }
        TermFilters { columns }
    }

    /// The catalog's bytes: `IWT1`, a count, then per column its pivot index, probes, word
    /// count (u32 LE) and words (u64 LE).
    pub fn encode(&self) -> Vec<u8> {
        let words: usize = self.columns.iter().map(|(_, b)| b.words.len()).sum();
        let mut out = Vec::with_capacity(5 + self.columns.len() * 6 + words * 8);
        out.extend_from_slice(MAGIC);
        out.push(self.columns.len() as u8);
        for (index, bloom) in &self.columns {
            out.push(*index as u8);
            out.push(HASHES as u8);
            out.extend_from_slice(&(bloom.words.len() as u32).to_le_bytes());
            for w in &bloom.words {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        out
    }

    /// Reads what [`TermFilters::encode`] wrote; `None` when the bytes are not that (the caller
    /// then scans the segment: a damaged filter costs time, never a result).
    pub fn decode(bytes: &[u8]) -> Option<TermFilters> {
        let rest = bytes.strip_prefix(MAGIC.as_slice())?;
        let (&count, mut rest) = rest.split_first()?;
        let mut columns = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let (&index, r) = rest.split_first()?;
            let (&hashes, r) = r.split_first()?;
            let n = u32::from_le_bytes(r.get(..4)?.try_into().ok()?) as usize;
            let r = &r[4..];
            let body = r.get(..n.checked_mul(8)?)?;
            if hashes as u32 != HASHES || n == 0 || index as usize >= STRING_PIVOTS.len() {
                return None;
            }
            let words = body
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect();
            columns.push((index as usize, Bloom { words }));
            rest = &r[n * 8..];
        }
        rest.is_empty().then_some(TermFilters { columns })
    }

    fn column(&self, index: usize) -> Option<&Bloom> {
        self.columns
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, b)| b)
    }
}

/// What a filter needs from the term filters: a tree of `eq` probes (anything else is
/// "maybe").
#[derive(Debug, Clone)]
pub enum TermProbe {
    /// Both.
    And(Box<TermProbe>, Box<TermProbe>),
    /// Either.
    Or(Box<TermProbe>, Box<TermProbe>),
    /// The column (string pivot index) holds this folded text.
    Eq(usize, String),
    /// Cannot tell.
    Maybe,
}

impl TermProbe {
    /// The probe of a filter expression; `None` when it has no `eq` on a term column.
    pub fn compile(expr: &Expr) -> Option<TermProbe> {
        let probe = probe_of(expr);
        probe.useful().then_some(probe)
    }

    fn useful(&self) -> bool {
        match self {
            TermProbe::And(a, b) => a.useful() || b.useful(),
            TermProbe::Or(a, b) => a.useful() && b.useful(),
            TermProbe::Eq(..) => true,
            TermProbe::Maybe => false,
        }
    }

    /// False only when no event of the segment can match.
    pub fn may_match(&self, filters: &TermFilters) -> bool {
        match self {
            TermProbe::And(a, b) => a.may_match(filters) && b.may_match(filters),
            TermProbe::Or(a, b) => a.may_match(filters) || b.may_match(filters),
            TermProbe::Eq(index, text) => filters
                .column(*index)
                .is_none_or(|bloom| bloom.may_contain(text)),
            TermProbe::Maybe => true,
        }
    }
}

fn probe_of(expr: &Expr) -> TermProbe {
    match expr {
        Expr::And(a, b) => TermProbe::And(Box::new(probe_of(a)), Box::new(probe_of(b))),
        Expr::Or(a, b) => TermProbe::Or(Box::new(probe_of(a)), Box::new(probe_of(b))),
        Expr::Compare(c) if matches!(c.op, Op::Eq) => match &c.value {
            Some(Literal::String(text)) => STRING_PIVOTS
                .iter()
                .position(|p| p.attr == c.attr && TERM_COLUMNS.contains(&p.name))
                .map_or(TermProbe::Maybe, |index| TermProbe::Eq(index, fold(text))),
            _ => TermProbe::Maybe,
        },
        _ => TermProbe::Maybe,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SegmentRow;
    use okta::filter::Filter;

    fn row(seq: i64, session: &Value, ip: &str) -> SegmentRow {
        let raw = serde_json::json!({
            "uuid": format!("00000000-0000-4000-8000-{seq:012}"),
            "published": "2026-11-01T10:00:00.000Z",
            "eventType": "user.session.start",
            "actor": {"id": format!("00u{seq}"), "alternateId": format!("User{seq}@Example.com")},
            "client": {"ipAddress": ip},
            "authenticationContext": {"externalSessionId": session},
        })
        .to_string();
        SegmentRow {
            seq,
            ingested_at: 0,
            event: LogEvent::parse(&raw).expect("event parses"),
        }
    }

    fn probe(text: &str) -> TermProbe {
        let filter = Filter::parse(text).expect("filter parses");
        TermProbe::compile(filter.expr()).expect("a probe")
    }

    #[test]
    fn absent_values_are_pruned_and_present_ones_kept() {
        let rows: Vec<SegmentRow> = (0..500)
            .map(|i| row(i, &Value::from(format!("102Sess{i:04}")), "198.51.100.7"))
            .collect();
        let filters =
            TermFilters::decode(&TermFilters::build(rows.iter().map(|r| &r.event)).encode())
                .expect("decodes");
        let session = "authenticationContext.externalSessionId";
        for i in 0..500 {
            let p = probe(&format!(r#"{session} eq "102SESS{i:04}""#));
            assert!(p.may_match(&filters), "session {i} (case folded) is kept");
        }
        let false_positives = (1000..3000)
            .filter(|i| probe(&format!(r#"{session} eq "102Sess{i:04}""#)).may_match(&filters))
            .count();
        assert!(
            false_positives < 60,
            "{false_positives} of 2000 absent ids kept"
        );
        assert!(probe(r#"actor.alternateId eq "user7@example.com""#).may_match(&filters));
        assert!(!probe(r#"client.ipAddress eq "203.0.113.9""#).may_match(&filters));
        // `or` needs both sides to prune; `and` either; anything else keeps the segment.
        let or =
            probe(r#"client.ipAddress eq "203.0.113.9" or client.ipAddress eq "198.51.100.7""#);
        assert!(or.may_match(&filters));
        let and =
            probe(r#"eventType eq "user.session.start" and client.ipAddress eq "203.0.113.9""#);
        assert!(!and.may_match(&filters));
        let not = Filter::parse(r#"not (client.ipAddress eq "198.51.100.7")"#).expect("parses");
        assert!(TermProbe::compile(not.expr()).is_none());
    }

    #[test]
    fn numbers_and_arrays_are_indexed_by_their_text() {
        let rows = [
            row(1, &Value::from(12345), "198.51.100.7"),
            row(2, &serde_json::json!(["idxA", "idxB"]), "198.51.100.7"),
        ];
        let filters = TermFilters::build(rows.iter().map(|r| &r.event));
        let session = "authenticationContext.externalSessionId";
        for value in ["12345", "idxa", "IDXB"] {
            let p = probe(&format!(r#"{session} eq "{value}""#));
            assert!(p.may_match(&filters), "{value}");
        }
    }

    #[test]
    fn damaged_bytes_decode_to_nothing() {
        let rows = [row(1, &Value::from("s1"), "198.51.100.7")];
        let bytes = TermFilters::build(rows.iter().map(|r| &r.event)).encode();
        assert!(TermFilters::decode(&bytes[..bytes.len() - 1]).is_none());
        assert!(TermFilters::decode(b"nope").is_none());
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(TermFilters::decode(&extra).is_none());
    }

    proptest::proptest! {
        /// Whenever the evaluator says a row matches `eq`, its segment's filter keeps it.
        #[test]
        fn a_matching_row_is_never_pruned(
            value in "\\PC{0,10}",
            literal in "\\PC{0,10}",
            same in proptest::bool::ANY,
        ) {
            let literal = if same { value.to_uppercase() } else { literal };
            let rows = [row(1, &Value::from(value.clone()), "198.51.100.7")];
            let filters = TermFilters::build(rows.iter().map(|r| &r.event));
            let text = format!(
                "authenticationContext.externalSessionId eq {}",
                Value::from(literal.clone())
            );
            let filter = Filter::parse(&text).expect("parses");
            if filter.matches(&rows[0].event) {
                let p = TermProbe::compile(filter.expr()).expect("a probe");
                proptest::prop_assert!(p.may_match(&filters), "{} on {:?}", text, value);
            }
        }
    }
}
