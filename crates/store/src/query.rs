//! Queries: Okta filter syntax, `q` keywords and a time range over an org's events.
//!
//! A query is planned against the indexes, then every candidate is checked exactly by the same
//! evaluator the rest of idwatch uses (`okta::filter`), so the index only has to be a superset
//! of the answer, never exact: term lookups are case-insensitive, hashed ids may collide, and
//! anything the planner cannot translate simply becomes "no constraint".
//!
//! Two plans:
//! - **Indexed**: the filter's `and`/`or` skeleton over pivot attributes (eventType, outcome,
//!   actor, client IP, sessions, transaction, target ids; `eq` and, for interned terms, `sw co
//!   ew`) becomes SQL over the pivot indexes; rows come back in `published` order and their
//!   blocks are decompressed through a small cache.
//! - **Scan**: otherwise every block in the time range is decompressed, and events whose raw
//!   text lacks a literal the filter requires (ASCII, case-insensitive) are skipped before any
//!   JSON is parsed.
//!
//! Tiers: results come from the hot SQLite tier; sealed archive segments (a later tier) answer
//! the same [`EventQuery`] and are merged in `published` order.

use crate::codec::decode_block;
use crate::error::{SqlContext, StoreError};
use crate::open::{OrgId, Store};
use crate::pivots::{pivot_for, pivot_hash, PivotStorage, TermKind};
use aho_corasick::AhoCorasick;
use okta::filter::{Expr, Filter, Keywords, Literal, Op};
use okta::LogEvent;
use rusqlite::types::Value as SqlValue;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::ops::ControlFlow;
use std::rc::Rc;

/// What to look for.
#[derive(Debug, Default)]
pub struct EventQuery {
    /// Okta filter expression.
    pub filter: Option<Filter>,
    /// `q` keywords.
    pub keywords: Option<Keywords>,
    /// Inclusive lower bound on `published`, µs since the epoch.
    pub since: Option<i64>,
    /// Exclusive upper bound on `published`, µs since the epoch.
    pub until: Option<i64>,
    /// Only events whose insertion sequence is in `[start, end)`: "what was stored since",
    /// resolved from ingestion times by [`Store::seq_range_ingested`].
    pub seq_range: Option<(i64, i64)>,
    /// Stop after this many matches.
    pub limit: Option<usize>,
    /// Newest first.
    pub descending: bool,
    /// Deliver in `published` order (false lets a scan stream without buffering; counts and
    /// group-bys do not need order).
    pub ordered: bool,
    /// Ignore the indexes and scan (benchmarks and differential tests compare the two plans).
    pub force_scan: bool,
}

/// A matching event and where it is stored.
#[derive(Debug)]
pub struct StoredEvent {
    /// Insertion sequence.
    pub seq: i64,
    /// The event.
    pub event: LogEvent,
}

/// How a query ran.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct QueryStats {
    /// `indexed` or `scan`.
    pub plan: &'static str,
    /// The SQL constraint used by an indexed plan.
    pub constraint: Option<String>,
    /// Events whose JSON was parsed and checked.
    pub candidates: u64,
    /// Events delivered.
    pub matched: u64,
    /// Blocks decompressed.
    pub blocks_read: u64,
}

/// SQL text plus its parameters.
#[derive(Debug, Clone)]
struct SqlCondition {
    sql: String,
    params: Vec<SqlValue>,
}

/// Translates the index-answerable part of `expr` into a SQL condition that is a superset of
/// the matches, or `None` when nothing can be said without reading the JSON.
fn sql_condition(expr: &Expr, org: OrgId) -> Option<SqlCondition> {
    match expr {
        Expr::And(a, b) => match (sql_condition(a, org), sql_condition(b, org)) {
            (Some(a), Some(b)) => Some(SqlCondition {
                sql: format!("({} AND {})", a.sql, b.sql),
                params: [a.params, b.params].concat(),
            }),
            (Some(one), None) | (None, Some(one)) => Some(one),
            (None, None) => None,
        },
        Expr::Or(a, b) => {
            let (a, b) = (sql_condition(a, org)?, sql_condition(b, org)?);
            Some(SqlCondition {
                sql: format!("({} OR {})", a.sql, b.sql),
                params: [a.params, b.params].concat(),
            })
        }
        Expr::Not(_) => None,
        Expr::Compare(c) => {
            let Some(Literal::String(value)) = &c.value else {
                return None;
            };
            // SQLite folds case for ASCII only; the evaluator folds Unicode.
            if !value.is_ascii() {
                return None;
            }
            let pivot = pivot_for(&c.attr)?;
            let term_match = |kind: TermKind| -> Option<(String, SqlValue)> {
                let like = |pattern: String| {
                    (
                        format!(
                            "SELECT id FROM terms WHERE kind = {} AND value LIKE ? ESCAPE '\\'",
                            kind as i64
                        ),
                        SqlValue::Text(pattern),
                    )
                };
                let escaped = value
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                match c.op {
                    Op::Eq => Some((
                        format!(
                            "SELECT id FROM terms WHERE kind = {} AND value = ? COLLATE NOCASE",
                            kind as i64
                        ),
                        SqlValue::Text(value.clone()),
                    )),
                    Op::Sw => Some(like(format!("{escaped}%"))),
                    Op::Co => Some(like(format!("%{escaped}%"))),
                    Op::Ew => Some(like(format!("%{escaped}"))),
                    _ => None,
                }
            };
            match pivot.storage {
                PivotStorage::Term(kind, column) => {
                    let (subquery, param) = term_match(kind)?;
                    Some(SqlCondition {
                        sql: format!("{column} IN ({subquery})"),
                        params: vec![param],
                    })
                }
                PivotStorage::Hash(column) if c.op == Op::Eq => Some(SqlCondition {
                    sql: format!("{column} = ?"),
                    params: vec![SqlValue::Integer(pivot_hash(value))],
                }),
                PivotStorage::Hash(_) => None,
                PivotStorage::Targets => {
                    let (subquery, param) = term_match(TermKind::Target)?;
                    Some(SqlCondition {
                        sql: format!(
                            "seq IN (SELECT seq FROM targets WHERE org = {} AND term IN ({subquery}))",
                            org.0
                        ),
                        params: vec![param],
                    })
                }
            }
        }
    }
}

/// Literals every match must contain in its raw text: string operands of `eq sw co ew` on the
/// `and` spine, when they are plain ASCII that JSON never escapes.
fn required_literals(expr: &Expr, out: &mut Vec<String>) {
    match expr {
        Expr::And(a, b) => {
            required_literals(a, out);
            required_literals(b, out);
        }
        Expr::Compare(c) if matches!(c.op, Op::Eq | Op::Sw | Op::Co | Op::Ew) => {
            if let Some(Literal::String(v)) = &c.value {
                let plain = v.len() >= 3
                    && v.bytes().all(|b| {
                        b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'/') || b == b' '
                    });
                if plain {
                    out.push(v.clone());
                }
            }
        }
        _ => {}
    }
}

/// Checks raw text for all required literals before parsing.
struct Prefilter {
    needles: Vec<AhoCorasick>,
}

impl Prefilter {
    fn new(filter: Option<&Filter>, keywords: Option<&Keywords>) -> Result<Prefilter, StoreError> {
        let mut literals = Vec::new();
        if let Some(f) = filter {
            required_literals(f.expr(), &mut literals);
        }
        // Every keyword must appear in some value, so in the raw text.
        for term in keywords.map(Keywords::terms).unwrap_or_default() {
            if term.len() >= 3
                && term
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b'/'))
            {
                literals.push(term.clone());
            }
        }
        let needles = literals
            .iter()
            .map(|lit| {
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build([lit])
                    .map_err(|e| StoreError::Query(format!("literal `{lit}`: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Prefilter { needles })
    }

    fn may_match(&self, raw: &str) -> bool {
        self.needles.iter().all(|n| n.is_match(raw))
    }
}

/// A decoded block: its first seq and its events' raw texts.
type DecodedBlock = Rc<(i64, Vec<Box<str>>)>;

/// Decoded blocks, most recent first, bounded.
struct BlockCache {
    blocks: HashMap<i64, DecodedBlock>,
    order: VecDeque<i64>,
    reads: u64,
}

const BLOCK_CACHE: usize = 64;

impl BlockCache {
    fn new() -> BlockCache {
        BlockCache {
            blocks: HashMap::new(),
            order: VecDeque::new(),
            reads: 0,
        }
    }

    fn get(&mut self, conn: &rusqlite::Connection, id: i64) -> Result<DecodedBlock, StoreError> {
        if let Some(b) = self.blocks.get(&id) {
            return Ok(b.clone());
        }
        let (first, data): (i64, Vec<u8>) = conn
            .prepare_cached("SELECT first_seq, data FROM blocks WHERE id = ?1")
            .context("reading block")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .context("reading block")?;
        let decoded = Rc::new((first, decode_block(id, &data)?));
        self.reads += 1;
        if self.order.len() >= BLOCK_CACHE {
            if let Some(old) = self.order.pop_front() {
                self.blocks.remove(&old);
            }
        }
        self.order.push_back(id);
        self.blocks.insert(id, decoded.clone());
        Ok(decoded)
    }
}

impl EventQuery {
    fn accepts(&self, event: &LogEvent) -> bool {
        let t = event.published_micros();
        self.since.is_none_or(|s| t >= s)
            && self.until.is_none_or(|u| t < u)
            && self.filter.as_ref().is_none_or(|f| f.matches(event))
            && self.keywords.as_ref().is_none_or(|k| k.matches(event))
    }
}

/// Orders buffered scan results: by published then seq, reversed for descending.
#[derive(PartialEq, Eq)]
struct Ranked {
    key: (i64, i64),
    raw: Box<str>,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Store {
    /// Runs `query` over `org`, calling `visit` for each match until it returns `Break` or the
    /// limit is reached.
    pub fn query(
        &self,
        org: OrgId,
        query: &EventQuery,
        visit: &mut dyn FnMut(StoredEvent) -> ControlFlow<()>,
    ) -> Result<QueryStats, StoreError> {
        let condition = query
            .filter
            .as_ref()
            .filter(|_| !query.force_scan)
            .and_then(|f| sql_condition(f.expr(), org));
        match condition {
            Some(condition) => self.query_indexed(org, query, condition, visit),
            None => self.query_scan(org, query, visit),
        }
    }

    fn query_indexed(
        &self,
        org: OrgId,
        query: &EventQuery,
        condition: SqlCondition,
        visit: &mut dyn FnMut(StoredEvent) -> ControlFlow<()>,
    ) -> Result<QueryStats, StoreError> {
        let mut stats = QueryStats {
            plan: "indexed",
            constraint: Some(condition.sql.clone()),
            ..QueryStats::default()
        };
        let mut params: Vec<SqlValue> = vec![SqlValue::Integer(org.0)];
        let mut sql = String::from("SELECT seq, block FROM events WHERE org = ?");
        if let Some(since) = query.since {
            sql.push_str(" AND published >= ?");
            params.push(SqlValue::Integer(since));
        }
        if let Some(until) = query.until {
            sql.push_str(" AND published < ?");
            params.push(SqlValue::Integer(until));
        }
        if let Some((start, end)) = query.seq_range {
            sql.push_str(" AND seq >= ? AND seq < ?");
            params.push(SqlValue::Integer(start));
            params.push(SqlValue::Integer(end));
        }
        sql.push_str(" AND ");
        sql.push_str(&condition.sql);
        params.extend(condition.params);
        // `+published` keeps SQLite from walking the whole (org, published) index just to avoid
        // sorting: the pivot index narrows first, and the few candidates are sorted after.
        sql.push_str(if query.descending {
            " ORDER BY +published DESC, +seq DESC"
        } else {
            " ORDER BY +published, +seq"
        });
        let mut stmt = self.conn.prepare(&sql).context("planning query")?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params))
            .context("running query")?;
        let mut cache = BlockCache::new();
        while let Some(row) = rows.next().context("reading query rows")? {
            let seq: i64 = row.get(0).context("reading seq")?;
            let block_id: i64 = row.get(1).context("reading block id")?;
            let block = cache.get(&self.conn, block_id)?;
            let raw = usize::try_from(seq - block.0)
                .ok()
                .and_then(|i| block.1.get(i))
                .ok_or_else(|| StoreError::CorruptBlock {
                    block: block_id,
                    reason: format!("does not hold seq {seq}"),
                })?;
            stats.candidates += 1;
            let Ok(event) = LogEvent::parse(raw) else {
                continue;
            };
            if !query.accepts(&event) {
                continue;
            }
            stats.matched += 1;
            if visit(StoredEvent { seq, event }).is_break()
                || query.limit.is_some_and(|l| stats.matched as usize >= l)
            {
                break;
            }
        }
        stats.blocks_read = cache.reads;
        Ok(stats)
    }

    fn query_scan(
        &self,
        org: OrgId,
        query: &EventQuery,
        visit: &mut dyn FnMut(StoredEvent) -> ControlFlow<()>,
    ) -> Result<QueryStats, StoreError> {
        let mut stats = QueryStats {
            plan: "scan",
            ..QueryStats::default()
        };
        let prefilter = Prefilter::new(query.filter.as_ref(), query.keywords.as_ref())?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, first_seq, data FROM blocks
                 WHERE org = ?1 AND max_published >= ?2 AND min_published < ?3
                   AND first_seq + count > ?4 AND first_seq < ?5
                 ORDER BY id",
            )
            .context("planning scan")?;
        let (seq_start, seq_end) = query.seq_range.unwrap_or((i64::MIN, i64::MAX));
        let mut rows = stmt
            .query(rusqlite::params![
                org.0,
                query.since.unwrap_or(i64::MIN),
                query.until.unwrap_or(i64::MAX),
                seq_start,
                seq_end
            ])
            .context("running scan")?;
        // Ordered output buffers matches; with a limit only the best `limit` are kept.
        let mut buffer: BinaryHeap<Ranked> = BinaryHeap::new();
        let mut unbounded: Vec<Ranked> = Vec::new();
        let sign = if query.descending { -1 } else { 1 };
        'blocks: while let Some(row) = rows.next().context("reading blocks")? {
            let id: i64 = row.get(0).context("reading block")?;
            let first: i64 = row.get(1).context("reading block")?;
            let data: Vec<u8> = row.get(2).context("reading block")?;
            stats.blocks_read += 1;
            for (i, raw) in decode_block(id, &data)?.into_iter().enumerate() {
                let seq = first + i as i64;
                if seq < seq_start || seq >= seq_end || !prefilter.may_match(&raw) {
                    continue;
                }
                stats.candidates += 1;
                let Ok(event) = LogEvent::parse(&raw) else {
                    continue;
                };
                if !query.accepts(&event) {
                    continue;
                }
                if !query.ordered {
                    stats.matched += 1;
                    if visit(StoredEvent { seq, event }).is_break()
                        || query.limit.is_some_and(|l| stats.matched as usize >= l)
                    {
                        break 'blocks;
                    }
                    continue;
                }
                let ranked = Ranked {
                    key: (sign * event.published_micros(), sign * seq),
                    raw,
                };
                match query.limit {
                    Some(limit) => {
                        buffer.push(ranked);
                        if buffer.len() > limit {
                            buffer.pop();
                        }
                    }
                    None => unbounded.push(ranked),
                }
            }
        }
        if query.ordered {
            let mut all = if query.limit.is_some() {
                buffer.into_vec()
            } else {
                unbounded
            };
            all.sort_unstable();
            for ranked in all {
                let event =
                    LogEvent::parse(&ranked.raw).map_err(|e| StoreError::Query(e.to_string()))?;
                stats.matched += 1;
                if visit(StoredEvent {
                    seq: sign * ranked.key.1,
                    event,
                })
                .is_break()
                {
                    break;
                }
            }
        }
        Ok(stats)
    }
}

impl Store {
    /// The insertion-sequence range `[start, end)` of the events of `org` stored (ingested) in
    /// `[since, until)` (µs since the epoch; `None` is unbounded). Batches record when they were
    /// committed, so "what arrived in the last hour" is a range of seqs, whatever `published`
    /// says.
    pub fn seq_range_ingested(
        &self,
        org: OrgId,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<(i64, i64), StoreError> {
        let (start, end): (Option<i64>, Option<i64>) = self
            .conn
            .query_row(
                "SELECT min(first_seq), max(first_seq + count) FROM batches
                 WHERE org = ?1 AND ingested_at >= ?2 AND ingested_at < ?3",
                rusqlite::params![org.0, since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .context("resolving ingestion times to seqs")?;
        Ok(match (start, end) {
            (Some(start), Some(end)) => (start, end),
            _ => (0, 0),
        })
    }

    /// The lowest and highest seq of `org`'s hot events published in `[since, until)` (µs), or
    /// `None` when there are none: what a time-bounded scan in seq order has to read.
    pub fn seq_span_published(
        &self,
        org: OrgId,
        since: i64,
        until: i64,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT min(seq), max(seq) FROM events
                 WHERE org = ?1 AND published >= ?2 AND published < ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(rusqlite::params![org.0, since, until], |r| {
                    Ok(r.get::<_, Option<i64>>(0)?.zip(r.get::<_, Option<i64>>(1)?))
                })
            })
            .context("reading the seq span of a time range")
    }

    /// Up to `limit` events of `org` stored after `after_seq`, in insertion order: how a
    /// streaming consumer (detection, archive sealing) follows the store. Returns an empty
    /// vector when it has caught up.
    pub fn read_after(
        &self,
        org: OrgId,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                // A block holds at most BLOCK_EVENTS events, so the bound on first_seq is
                // implied by the second condition; it lets the blocks_seq index serve the read
                // instead of a scan of every block.
                "SELECT id, first_seq, data FROM blocks
                 WHERE org = ?1 AND first_seq > ?2 - ?3 AND first_seq + count > ?2
                 ORDER BY first_seq",
            )
            .context("planning read_after")?;
        let mut rows = stmt
            .query(rusqlite::params![
                org.0,
                after_seq + 1,
                crate::codec::BLOCK_EVENTS as i64
            ])
            .context("reading blocks after seq")?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().context("reading blocks after seq")? {
            let id: i64 = row.get(0).context("reading block")?;
            let first: i64 = row.get(1).context("reading block")?;
            let data: Vec<u8> = row.get(2).context("reading block")?;
            for (i, raw) in decode_block(id, &data)?.into_iter().enumerate() {
                let seq = first + i as i64;
                if seq <= after_seq {
                    continue;
                }
                let event = LogEvent::parse(&raw).map_err(|e| StoreError::CorruptBlock {
                    block: id,
                    reason: format!("seq {seq} does not parse: {e}"),
                })?;
                out.push(StoredEvent { seq, event });
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    /// The highest seq stored for `org` (0 when it has none).
    pub fn last_seq(&self, org: OrgId) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT coalesce(max(first_seq + count) - 1, 0) FROM batches WHERE org = ?1",
                [org.0],
                |r| r.get(0),
            )
            .context("reading last seq")
    }
}
