//! The state machine behind the extensions (see the module doc of [`crate::ext`]). The
//! [`crate::Correlator`] owns one [`ExtEngine`] and drives it with the same event time and
//! watermark as its correlations: a candidate (or, for `absence`, an event of the other rule)
//! is recorded when observed, decided once it is final (older than the watermark), and final
//! hits are processed per rule in `(time, role, uuid)` order, so the outcome does not depend on
//! arrival order within the allowed lateness. State is kept in ordered maps and saved as plain
//! serde data; every map is bounded by the rule's `max_keys` and by its time horizon.

use super::{Absence, Direction, ExtDef, ExtSpec, GeoVelocity, NewTerm, Session};
use crate::matches::Match;
use crate::ruleset::RuleSet;
use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of [`ExtState`]'s layout.
pub const EXT_STATE_VERSION: u32 = 1;

/// Counters of the extensions (saved with their state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtStats {
    /// Candidate (and other-rule) hits recorded.
    pub hits: u64,
    /// Hits older than the watermark when they arrived (not used).
    pub late_hits: u64,
    /// Keys dropped because a rule reached its `max_keys`.
    pub evicted_keys: u64,
    /// Matches reported.
    pub matches: u64,
}

/// A recorded hit waiting to become final.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pending {
    ts: i64,
    /// 0: an event of the other rule (`absence`); 1: a candidate. Others sort first at equal
    /// times, so "B at the same millisecond as A" counts for both directions.
    role: u8,
    uuid: String,
    values: Vec<Option<String>>,
}

impl Pending {
    fn order(&self) -> (i64, u8, &str) {
        (self.ts, self.role, &self.uuid)
    }
}

type Key = Vec<String>;

/// Maps with vector keys, saved as lists of pairs (JSON objects need string keys).
mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Ord + Deserialize<'de>,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Seen {
    first: i64,
    last: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Point {
    ts: i64,
    lat: f64,
    lon: f64,
    uuid: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Open {
    deadline: i64,
    ts: i64,
    uuid: String,
    key: Key,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SessionSeen {
    first: i64,
    last: i64,
    first_uuid: String,
    /// Per `new_all` then `new_any` field: the values seen (lowercase, at most `max_values`).
    values: Vec<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum KindState {
    NewTerm {
        #[serde(with = "pairs")]
        terms: BTreeMap<Key, i64>,
        #[serde(with = "pairs")]
        entities: BTreeMap<Key, Seen>,
        /// `after`: the other rule's latest event time per key.
        #[serde(default, with = "pairs")]
        last_other: BTreeMap<Key, i64>,
    },
    GeoVelocity {
        #[serde(with = "pairs")]
        last: BTreeMap<Key, Point>,
    },
    Absence {
        #[serde(with = "pairs")]
        last_other: BTreeMap<Key, i64>,
        open: Vec<Open>,
    },
    Session {
        #[serde(with = "pairs")]
        sessions: BTreeMap<Key, SessionSeen>,
    },
    Signal,
}

impl KindState {
    fn new(spec: &ExtSpec) -> KindState {
        match spec {
            ExtSpec::NewTerm(_) => KindState::NewTerm {
                terms: BTreeMap::new(),
                entities: BTreeMap::new(),
                last_other: BTreeMap::new(),
            },
            ExtSpec::GeoVelocity(_) => KindState::GeoVelocity {
                last: BTreeMap::new(),
            },
            ExtSpec::Absence(_) => KindState::Absence {
                last_other: BTreeMap::new(),
                open: Vec::new(),
            },
            ExtSpec::Session(_) => KindState::Session {
                sessions: BTreeMap::new(),
            },
            ExtSpec::Signal => KindState::Signal,
        }
    }

    fn keys(&self) -> usize {
        match self {
            KindState::NewTerm {
                terms,
                entities,
                last_other,
            } => terms.len() + entities.len() + last_other.len(),
            KindState::GeoVelocity { last } => last.len(),
            KindState::Absence { last_other, open } => last_other.len() + open.len(),
            KindState::Session { sessions } => sessions.len(),
            KindState::Signal => 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct RuleRuntime {
    pending: Vec<Pending>,
    state: KindState,
    /// A lower bound on the earliest pending hit and the earliest open absence deadline:
    /// `advance` leaves the rule alone while the watermark has not passed it.
    next_due: i64,
}

impl RuleRuntime {
    /// The exact earliest time something of this rule becomes due.
    fn earliest_due(&self) -> i64 {
        let pending = self.pending.iter().map(|p| p.ts).min().unwrap_or(i64::MAX);
        let open = match &self.state {
            KindState::Absence { open, .. } => {
                open.iter().map(|o| o.deadline).min().unwrap_or(i64::MAX)
            }
            _ => i64::MAX,
        };
        pending.min(open)
    }
}

/// The saved state of every extension rule: part of [`crate::CorrelatorState`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExtState {
    /// [`EXT_STATE_VERSION`] (0 in state written before extensions existed).
    #[serde(default)]
    pub version: u32,
    /// The earliest event time observed (ms): where `new_term` learning starts.
    #[serde(default)]
    pub origin_ms: Option<i64>,
    /// Counters.
    #[serde(default)]
    pub stats: ExtStats,
    #[serde(default)]
    rules: Vec<SavedRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SavedRule {
    rule: String,
    fingerprint: u64,
    pending: Vec<Pending>,
    state: KindState,
}

/// Runs the extension rules of one rule set. Owned by a [`crate::Correlator`].
#[derive(Debug, Clone)]
pub struct ExtEngine {
    rules: Vec<RuleRuntime>,
    origin: Option<i64>,
    stats: ExtStats,
    since_sweep: u32,
}

const SWEEP_EVERY: u32 = 8192;

impl ExtEngine {
    /// No state, for `rules`' extensions.
    pub(crate) fn new(rules: &RuleSet) -> ExtEngine {
        ExtEngine {
            rules: rules
                .ext
                .iter()
                .map(|d| RuleRuntime {
                    pending: Vec::new(),
                    state: KindState::new(&d.spec),
                    next_due: i64::MIN,
                })
                .collect(),
            origin: None,
            stats: ExtStats::default(),
            since_sweep: 0,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &ExtStats {
        &self.stats
    }

    /// Records `event`'s hits on extension rules (`hits`: the detection rules it matched).
    /// `late` events (older than the watermark) are counted, not used.
    pub(crate) fn observe(
        &mut self,
        rules: &RuleSet,
        hits: &[usize],
        event: &okta::LogEvent,
        at_ms: i64,
        late: bool,
    ) {
        if rules.ext.is_empty() {
            return;
        }
        if !late && self.origin.is_none_or(|o| at_ms < o) {
            self.origin = Some(at_ms);
        }
        for &r in hits {
            for &(xi, role) in &rules.ext_feeds[r] {
                if late {
                    self.stats.late_hits += 1;
                    continue;
                }
                let def = &rules.ext[xi];
                let fields = if role == 1 {
                    &def.candidate_fields
                } else {
                    match &def.other {
                        Some((_, f)) => f,
                        None => continue,
                    }
                };
                let values = fields.iter().map(|f| f.first(event.doc())).collect();
                self.stats.hits += 1;
                let rt = &mut self.rules[xi];
                rt.next_due = rt.next_due.min(at_ms);
                rt.pending.push(Pending {
                    ts: at_ms,
                    role,
                    uuid: event.uuid().0.clone(),
                    values,
                });
            }
        }
    }

    /// Decides every hit older than `w` (the watermark; `i64::MAX` at the end of a hunt).
    pub(crate) fn advance(&mut self, rules: &RuleSet, w: i64, out: &mut Vec<Match>) {
        if rules.ext.is_empty() {
            return;
        }
        let first = out.len();
        let origin = self.origin;
        for (xi, rt) in self.rules.iter_mut().enumerate() {
            if rt.next_due >= w {
                continue; // nothing pending or open is older than the watermark
            }
            let def = &rules.ext[xi];
            let mut due: Vec<Pending> = Vec::new();
            if rt.pending.iter().any(|p| p.ts < w) {
                let (now, later): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut rt.pending)
                    .into_iter()
                    .partition(|p| p.ts < w);
                rt.pending = later;
                due = now;
                due.sort_by(|a, b| a.order().cmp(&b.order()));
            }
            let mut ctx = Ctx {
                rules,
                def,
                origin,
                stats: &mut self.stats,
                out,
            };
            for hit in due {
                ctx.process(&mut rt.state, hit);
            }
            ctx.expire(&mut rt.state, w);
            rt.next_due = rt.earliest_due();
        }
        self.stats.matches += (out.len() - first) as u64;
        out[first..].sort_by(|a, b| {
            (a.at, &a.rule_id, &a.event_uuids).cmp(&(b.at, &b.rule_id, &b.event_uuids))
        });
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY || w == i64::MAX {
            self.since_sweep = 0;
            self.sweep(rules, w);
        }
    }

    /// Forgets what no future decision can use (terms past their history, old sessions, …).
    fn sweep(&mut self, rules: &RuleSet, w: i64) {
        if w == i64::MAX {
            return; // the end of a hunt: keep everything for export
        }
        for (xi, rt) in self.rules.iter_mut().enumerate() {
            match (&rules.ext[xi].spec, &mut rt.state) {
                (
                    ExtSpec::NewTerm(n),
                    KindState::NewTerm {
                        terms,
                        entities,
                        last_other,
                    },
                ) => {
                    let horizon = w.saturating_sub(n.history_ms);
                    terms.retain(|_, last| *last >= horizon);
                    entities.retain(|_, s| s.last >= horizon);
                    if let Some(a) = &n.after {
                        let horizon = w.saturating_sub(a.within_ms);
                        last_other.retain(|_, t| *t >= horizon);
                    }
                }
                (ExtSpec::GeoVelocity(g), KindState::GeoVelocity { last }) => {
                    let horizon = w.saturating_sub(g.forget_ms);
                    last.retain(|_, p| p.ts >= horizon);
                }
                (ExtSpec::Absence(a), KindState::Absence { last_other, .. }) => {
                    let horizon = w.saturating_sub(a.within_ms);
                    last_other.retain(|_, t| *t >= horizon);
                }
                (ExtSpec::Session(s), KindState::Session { sessions }) => {
                    let horizon = w.saturating_sub(s.ttl_ms);
                    sessions.retain(|_, v| v.last >= horizon);
                }
                _ => {}
            }
        }
    }

    /// Keys and pending hits held, and their approximate heap bytes.
    pub(crate) fn memory(&self) -> (usize, usize, usize) {
        let mut keys = 0;
        let mut pending = 0;
        let mut bytes = 0;
        for rt in &self.rules {
            let k = rt.state.keys();
            keys += k;
            pending += rt.pending.len();
            bytes += k * 96
                + rt.pending
                    .iter()
                    .map(|p| {
                        64 + p.uuid.len()
                            + p.values
                                .iter()
                                .map(|v| 24 + v.as_ref().map_or(0, String::len))
                                .sum::<usize>()
                    })
                    .sum::<usize>();
        }
        (keys, pending, bytes)
    }

    /// The state to save.
    pub(crate) fn export(&self, rules: &RuleSet) -> ExtState {
        ExtState {
            version: EXT_STATE_VERSION,
            origin_ms: self.origin,
            stats: self.stats.clone(),
            rules: rules
                .ext
                .iter()
                .zip(&self.rules)
                .map(|(def, rt)| {
                    let mut pending = rt.pending.clone();
                    pending.sort_by(|a, b| a.order().cmp(&b.order()));
                    SavedRule {
                        rule: rules.rules[def.rule].key().to_string(),
                        fingerprint: def.fingerprint,
                        pending,
                        state: rt.state.clone(),
                    }
                })
                .collect(),
        }
    }

    /// Replaces the state with a saved one; returns the rules whose state was dropped because
    /// they are gone or changed. State from before extensions existed (version 0) is empty.
    pub(crate) fn import(&mut self, rules: &RuleSet, saved: ExtState) -> Vec<String> {
        *self = ExtEngine::new(rules);
        if saved.version != EXT_STATE_VERSION {
            return saved.rules.into_iter().map(|r| r.rule).collect();
        }
        self.origin = saved.origin_ms;
        self.stats = saved.stats;
        let mut dropped = Vec::new();
        for sr in saved.rules {
            let found = rules.ext.iter().position(|d| {
                rules.rules[d.rule].key() == sr.rule && d.fingerprint == sr.fingerprint
            });
            let runtime = RuleRuntime {
                pending: sr.pending,
                state: sr.state,
                next_due: i64::MIN,
            };
            match found {
                Some(xi) if fits(&rules.ext[xi], &runtime) => self.rules[xi] = runtime,
                _ => dropped.push(sr.rule),
            }
        }
        dropped
    }
}

/// Whether saved state has the shape `def` gives its own (the state sits in a SQLite file a
/// user can edit or that can be damaged; the engine indexes hit values by position): each hit
/// carries one value per field its role reads, the state is of the rule's kind, and each
/// session tracks one value list per tracked field. State that does not fit is dropped, as
/// state of a changed rule is.
fn fits(def: &ExtDef, runtime: &RuleRuntime) -> bool {
    let hits_fit = runtime.pending.iter().all(|p| match p.role {
        1 => p.values.len() == def.candidate_fields.len(),
        0 => def
            .other
            .as_ref()
            .is_some_and(|(_, fields)| p.values.len() == fields.len()),
        _ => false,
    });
    let kind_fits = match (&def.spec, &runtime.state) {
        (ExtSpec::NewTerm(_), KindState::NewTerm { .. })
        | (ExtSpec::GeoVelocity(_), KindState::GeoVelocity { .. })
        | (ExtSpec::Absence(_), KindState::Absence { .. })
        | (ExtSpec::Signal, KindState::Signal) => true,
        (ExtSpec::Session(spec), KindState::Session { sessions }) => {
            let tracked = spec.new_all.len() + spec.new_any.len();
            sessions.values().all(|s| s.values.len() == tracked)
        }
        _ => false,
    };
    hits_fit && kind_fits
}

/// What processing one rule's hits needs.
struct Ctx<'a> {
    rules: &'a RuleSet,
    def: &'a ExtDef,
    origin: Option<i64>,
    stats: &'a mut ExtStats,
    out: &'a mut Vec<Match>,
}

fn all_some(values: &[Option<String>]) -> Option<Key> {
    values.iter().cloned().collect()
}

fn time(ms: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Great-circle distance in km (haversine, mean Earth radius).
pub(crate) fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0088 * a.sqrt().min(1.0).asin()
}

/// Drops the least recently seen tenth of `map` when it holds more than `max` keys.
fn bound<V>(
    map: &mut BTreeMap<Key, V>,
    max: usize,
    last: impl Fn(&V) -> i64,
    stats: &mut ExtStats,
) {
    if map.len() <= max {
        return;
    }
    let mut ages: Vec<(i64, Key)> = map.iter().map(|(k, v)| (last(v), k.clone())).collect();
    ages.sort();
    let drop = (map.len() / 10).max(map.len() - max);
    for (_, k) in ages.into_iter().take(drop) {
        map.remove(&k);
        stats.evicted_keys += 1;
    }
}

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        at: i64,
        uuids: Vec<String>,
        key: &[String],
        window: Option<(i64, i64)>,
        value: Option<f64>,
    ) {
        let info = &self.rules.rules[self.def.rule];
        let group_key = self
            .def
            .group_fields()
            .iter()
            .zip(key)
            .map(|(f, v)| (f.clone(), serde_json::Value::String(v.clone())))
            .collect();
        self.out.push(Match {
            rule_id: info.key().to_string(),
            title: info.title.clone(),
            level: info.level,
            tags: info.tags.clone(),
            kind: self.def.spec.kind(),
            at: time(at),
            event_count: Some(uuids.len()),
            event_uuids: uuids,
            group_key: Some(group_key),
            window_start: window.map(|w| time(w.0)),
            window_end: window.map(|w| time(w.1)),
            value,
        });
    }

    fn process(&mut self, state: &mut KindState, hit: Pending) {
        match (&self.def.spec, state) {
            (
                ExtSpec::NewTerm(spec),
                KindState::NewTerm {
                    terms,
                    entities,
                    last_other,
                },
            ) => {
                if hit.role == 0 {
                    if let Some(key) = all_some(&hit.values) {
                        let t = last_other.entry(key).or_insert(hit.ts);
                        *t = (*t).max(hit.ts);
                        let max = spec.max_keys;
                        bound(last_other, max, |t| *t, self.stats);
                    }
                    return;
                }
                self.new_term(spec, terms, entities, last_other, hit)
            }
            (ExtSpec::GeoVelocity(spec), KindState::GeoVelocity { last }) => {
                self.geo(spec, last, hit)
            }
            (ExtSpec::Absence(spec), KindState::Absence { last_other, open }) => {
                self.absence(spec, last_other, open, hit)
            }
            (ExtSpec::Session(spec), KindState::Session { sessions }) => {
                self.session(spec, sessions, hit)
            }
            _ => {}
        }
    }

    /// Time-driven decisions: `followed_by` candidates whose window ended before `w`.
    fn expire(&mut self, state: &mut KindState, w: i64) {
        if let (ExtSpec::Absence(spec), KindState::Absence { open, .. }) = (&self.def.spec, state) {
            self.fire_open(spec, open, w);
        }
    }

    fn new_term(
        &mut self,
        spec: &NewTerm,
        terms: &mut BTreeMap<Key, i64>,
        entities: &mut BTreeMap<Key, Seen>,
        last_other: &BTreeMap<Key, i64>,
        hit: Pending,
    ) {
        let nf = spec.fields.len();
        let ne = spec.entity.len();
        let no = spec.only.len();
        let Some(term) = all_some(&hit.values[..nf]) else {
            return;
        };
        let ts = hit.ts;
        let entity = if ne > 0 {
            all_some(&hit.values[nf..nf + ne])
        } else {
            None
        };
        let only_ok = spec.only.iter().enumerate().all(|(i, (_, allowed))| {
            hit.values[nf + ne + i]
                .as_ref()
                .is_some_and(|v| allowed.contains(&v.to_lowercase()))
        });
        let known = terms
            .get(&term)
            .is_some_and(|&last| ts.saturating_sub(last) <= spec.history_ms);
        let learning_from = if ne > 0 {
            entity
                .as_ref()
                .and_then(|e| entities.get(e))
                .filter(|s| ts.saturating_sub(s.last) <= spec.history_ms)
                .map(|s| s.first)
        } else {
            self.origin
        };
        let learned = learning_from.is_some_and(|f| ts.saturating_sub(f) >= spec.learning_ms);
        let after_ok = match &spec.after {
            None => true,
            Some(a) => all_some(&hit.values[nf + ne + no..])
                .and_then(|k| last_other.get(&k).copied())
                .is_some_and(|t| t <= ts && ts.saturating_sub(t) <= a.within_ms),
        };
        if !known && learned && only_ok && after_ok {
            self.emit(ts, vec![hit.uuid.clone()], &term, None, None);
        }
        let last = terms.entry(term).or_insert(ts);
        *last = (*last).max(ts);
        bound(terms, spec.max_keys, |t| *t, self.stats);
        if let Some(e) = entity {
            let seen = entities.entry(e).or_insert(Seen {
                first: ts,
                last: ts,
            });
            if ts.saturating_sub(seen.last) > spec.history_ms {
                seen.first = ts; // forgotten: learn again
            }
            seen.last = seen.last.max(ts);
            bound(entities, spec.max_keys, |s| s.last, self.stats);
        }
    }

    fn geo(&mut self, spec: &GeoVelocity, last: &mut BTreeMap<Key, Point>, hit: Pending) {
        let nb = spec.by.len();
        let Some(key) = all_some(&hit.values[..nb]) else {
            return;
        };
        let coord = |i: usize| {
            hit.values[i]
                .as_deref()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite())
        };
        let (Some(lat), Some(lon)) = (coord(nb), coord(nb + 1)) else {
            return;
        };
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return;
        }
        if let Some(prev) = last.get(&key) {
            let dt = hit.ts.saturating_sub(prev.ts);
            if dt <= spec.forget_ms {
                let km = distance_km(prev.lat, prev.lon, lat, lon);
                // At least a second apart, so equal timestamps give a finite speed.
                let hours = (dt.max(1000) as f64) / 3_600_000.0;
                let kmh = km / hours;
                if km >= spec.min_km && kmh > spec.max_kmh {
                    let uuids = vec![prev.uuid.clone(), hit.uuid.clone()];
                    let start = prev.ts;
                    self.emit(
                        hit.ts,
                        uuids,
                        &key,
                        Some((start, hit.ts)),
                        Some(kmh.round()),
                    );
                }
            }
        }
        last.insert(
            key,
            Point {
                ts: hit.ts,
                lat,
                lon,
                uuid: hit.uuid,
            },
        );
        bound(last, spec.max_keys, |p| p.ts, self.stats);
    }

    fn fire_open(&mut self, _spec: &Absence, open: &mut Vec<Open>, before: i64) {
        if !open.iter().any(|o| o.deadline < before) {
            return;
        }
        let (due, keep): (Vec<Open>, Vec<Open>) = std::mem::take(open)
            .into_iter()
            .partition(|o| o.deadline < before);
        *open = keep;
        for o in due {
            self.emit(
                o.deadline,
                vec![o.uuid.clone()],
                &o.key,
                Some((o.ts, o.deadline)),
                None,
            );
        }
    }

    fn absence(
        &mut self,
        spec: &Absence,
        last_other: &mut BTreeMap<Key, i64>,
        open: &mut Vec<Open>,
        hit: Pending,
    ) {
        // Windows that ended before this hit are decided first.
        self.fire_open(spec, open, hit.ts);
        let Some(key) = all_some(&hit.values) else {
            return;
        };
        if hit.role == 0 {
            last_other.insert(key.clone(), hit.ts);
            bound(last_other, spec.max_keys, |t| *t, self.stats);
            if spec.direction == Direction::FollowedBy {
                open.retain(|o| !(o.key == key && o.ts <= hit.ts));
            }
            return;
        }
        let other_at = last_other.get(&key).copied();
        match spec.direction {
            Direction::PrecededBy => {
                let recent = other_at.is_some_and(|t| hit.ts.saturating_sub(t) <= spec.within_ms);
                if recent == spec.present {
                    self.emit(
                        hit.ts,
                        vec![hit.uuid],
                        &key,
                        Some((hit.ts.saturating_sub(spec.within_ms), hit.ts)),
                        None,
                    );
                }
            }
            Direction::FollowedBy => {
                if other_at == Some(hit.ts) {
                    return;
                }
                if open.len() >= spec.max_keys {
                    open.remove(0);
                    self.stats.evicted_keys += 1;
                }
                let at = open.partition_point(|o| o.deadline <= hit.ts + spec.within_ms);
                open.insert(
                    at,
                    Open {
                        deadline: hit.ts.saturating_add(spec.within_ms),
                        ts: hit.ts,
                        uuid: hit.uuid,
                        key,
                    },
                );
            }
        }
    }

    fn session(&mut self, spec: &Session, sessions: &mut BTreeMap<Key, SessionSeen>, hit: Pending) {
        let nb = spec.by.len();
        let Some(key) = all_some(&hit.values[..nb]) else {
            return;
        };
        let tracked: Vec<Option<String>> = hit.values[nb..]
            .iter()
            .map(|v| v.as_ref().map(|s| s.to_lowercase()))
            .collect();
        let n_all = spec.new_all.len();
        let fresh = SessionSeen {
            first: hit.ts,
            last: hit.ts,
            first_uuid: hit.uuid.clone(),
            values: tracked
                .iter()
                .map(|v| v.iter().cloned().collect())
                .collect(),
        };
        match sessions.get_mut(&key) {
            Some(s) if hit.ts.saturating_sub(s.last) <= spec.ttl_ms => {
                let is_new = |i: usize| {
                    tracked[i]
                        .as_ref()
                        .is_some_and(|v| !s.values[i].contains(v))
                };
                let all_new = (0..n_all).all(is_new);
                let any_new = spec.new_any.is_empty() || (n_all..tracked.len()).any(is_new);
                if all_new && any_new {
                    let uuids = vec![s.first_uuid.clone(), hit.uuid.clone()];
                    let first = s.first;
                    let distinct = s.values.first().map_or(0, Vec::len) + 1;
                    self.emit(
                        hit.ts,
                        uuids,
                        &key,
                        Some((first, hit.ts)),
                        Some(distinct as f64),
                    );
                }
                for (i, v) in tracked.into_iter().enumerate() {
                    if let Some(v) = v {
                        if !s.values[i].contains(&v) && s.values[i].len() < spec.max_values {
                            s.values[i].push(v);
                        }
                    }
                }
                s.last = s.last.max(hit.ts);
            }
            _ => {
                sessions.insert(key, fresh);
                bound(sessions, spec.max_keys, |s| s.last, self.stats);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_great_circle_km() {
        // San Francisco to London: about 8,600 km.
        let d = distance_km(37.77, -122.42, 51.51, -0.13);
        assert!((8500.0..8700.0).contains(&d), "{d}");
        assert!(distance_km(10.0, 10.0, 10.0, 10.0) < 1e-9);
        // Antipodes: half the circumference.
        let d = distance_km(0.0, 0.0, 0.0, 180.0);
        assert!((20_000.0..20_040.0).contains(&d), "{d}");
    }
}
