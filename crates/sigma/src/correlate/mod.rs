//! `Correlator`: the stateful half of the engine. It runs a [`RuleSet`]'s detection rules on each
//! event, reports their matches, and feeds them to the correlation rules, which keep keyed
//! sliding windows by **event time**. Time is an argument (`observe(&event, at)`); nothing here
//! reads the clock, so the same code gives the same answers over stored history (a hunt) and a
//! live stream.
//!
//! ## Order, lateness and the watermark
//! Events may arrive out of order. The correlator keeps a watermark `W = latest event time seen
//! − allowed lateness`. A correlation hit is *final* once its time is below `W`, and final hits
//! are processed in event-time order per group, so the result depends only on the events, not
//! on the order they arrived in, as long as no event is later than the allowed lateness. An
//! event older than `W` when it arrives still gets its detection matches but is not counted by
//! correlations (it is reported in [`CorrelatorStats::late_events`]). A hunt reads events in
//! `published` order and calls [`Correlator::flush`] at the end; a stream may call
//! [`Correlator::advance_to`] when idle so windows close.
//!
//! ## Semantics
//! - A condition that more events can only make true (`gt`/`gte` on `event_count`,
//!   `value_count`, `value_sum`, `temporal`, `temporal_ordered`) is tested at each event over
//!   the window `[t − timespan, t]` and fires as soon as it holds.
//! - Any other condition (an upper bound, `eq`, `neq`, or `value_avg`/`value_percentile`) is
//!   tested when the window closes: it opens at the first event of the group and closes
//!   `timespan` later.
//! - After a correlation fires for a group, the events that made it fire are consumed: the
//!   next match needs new events (one alert per burst, not one per event after the threshold).
//! - `group-by` on a field with several values (`target.id`) puts the event in each group.
//! - A correlation match feeds the correlations that reference it (chaining), at the time its
//!   window ended, with its group key as fields.
//!
//! ## Bounds and state
//! Hits older than `W − timespan` are dropped, so memory follows the event rate within the
//! windows; [`CorrelatorConfig`] caps groups and hits per group (dropping the oldest, which can
//! only under-count, and is counted). [`Correlator::export_state`] returns plain serde data that
//! `detect` commits with its read position; after [`Correlator::import_state`], re-observing an
//! event already counted changes nothing (hits are deduplicated by event uuid and time, and
//! older events are late), so a resume cannot count twice.

pub(crate) mod def;

use crate::error::StateError;
use crate::event::OktaEvent;
use crate::ext::{ExtEngine, ExtState, ExtStats};
use crate::matches::Match;
use crate::ruleset::RuleSet;
use chrono::{DateTime, TimeZone, Utc};
use def::{CorrelationDef, Mode};
use rsigma_eval::event::EventValue;
use rsigma_parser::ConditionOperator;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// Version of [`CorrelatorState`]'s layout.
pub const STATE_VERSION: u32 = 1;

/// Limits and timing of a [`Correlator`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrelatorConfig {
    /// How late (in event time, milliseconds) an event may arrive after a later one and still be
    /// counted. Correlation matches are reported this much later than the event that completes
    /// them.
    pub allowed_lateness_ms: i64,
    /// Most groups kept across all correlations; beyond it the least recently active are dropped.
    pub max_groups: usize,
    /// Most hits kept per group; beyond it the oldest are dropped.
    pub max_hits_per_group: usize,
    /// Most event uuids listed in one correlation match.
    pub max_match_events: usize,
}

impl Default for CorrelatorConfig {
    fn default() -> Self {
        CorrelatorConfig {
            allowed_lateness_ms: 60_000,
            max_groups: 200_000,
            max_hits_per_group: 10_000,
            max_match_events: 100,
        }
    }
}

/// Counters a correlator keeps (also saved with its state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrelatorStats {
    /// Events observed.
    pub events: u64,
    /// Events older than the watermark when they arrived (not counted by correlations).
    pub late_events: u64,
    /// Hits dropped because a group reached `max_hits_per_group`.
    pub dropped_hits: u64,
    /// Groups dropped because `max_groups` was reached.
    pub evicted_groups: u64,
    /// Correlation matches reported.
    pub correlation_matches: u64,
}

/// How much state a correlator holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MemoryReport {
    /// Live groups across all correlations.
    pub groups: usize,
    /// Hits held in windows.
    pub hits: usize,
    /// Approximate heap bytes of both.
    pub approx_bytes: usize,
}

type GroupKey = Vec<Option<String>>;

/// One detection (or child correlation) match counted by a correlation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Hit {
    /// Event time, ms since the epoch.
    ts: i64,
    /// Event uuid (or the child match's last uuid): orders equal times, deduplicates replays.
    tie: String,
    /// Position of the matching rule in the correlation's `rules:`.
    pos: u16,
    /// Values of the correlation's `field` in the event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    values: Vec<String>,
    /// A child correlation's event uuids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    uuids: Vec<String>,
}

impl Hit {
    fn order(&self) -> (i64, &str, u16) {
        (self.ts, &self.tie, self.pos)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Group {
    /// Sorted by `Hit::order`.
    hits: VecDeque<Hit>,
    /// Hits at the front already processed (all earlier than the watermark).
    processed: usize,
    /// Start of the open window (`Mode::AtClose`).
    open: Option<i64>,
    /// Latest hit time, for eviction.
    last: i64,
}

impl Group {
    /// Hits sorted by [`Hit::order`] and `processed` within them, as the windows assume.
    fn is_well_formed(&self) -> bool {
        self.processed <= self.hits.len()
            && self
                .hits
                .iter()
                .zip(self.hits.iter().skip(1))
                .all(|(a, b)| a.order() <= b.order())
    }
}

/// The serializable state of a [`Correlator`]: commit it with the read position it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CorrelatorState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// Latest event time seen (ms), if any.
    pub max_seen_ms: Option<i64>,
    /// Counters.
    pub stats: CorrelatorStats,
    correlations: Vec<SavedCorrelation>,
    /// State of the rules with `x-idwatch` extensions (absent in state saved before them).
    #[serde(default)]
    pub ext: ExtState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SavedCorrelation {
    rule: String,
    fingerprint: u64,
    groups: Vec<(GroupKey, Group)>,
}

/// What [`Correlator::import_state`] restored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Groups restored.
    pub groups: usize,
    /// Correlations whose saved state was dropped because the rule is gone or changed.
    pub dropped_correlations: Vec<String>,
}

/// Per correlation: its groups and the ones with work to do.
#[derive(Debug)]
struct CorrelationState {
    groups: HashMap<GroupKey, Group>,
    dirty: HashSet<GroupKey>,
    /// A lower bound on the earliest time at which a dirty group has work (see [`Group::due`]):
    /// while the watermark has not passed it, `advance` skips this correlation without looking
    /// at its groups. `i64::MIN` means "look".
    next_due: i64,
}

impl Default for CorrelationState {
    fn default() -> Self {
        CorrelationState {
            groups: HashMap::new(),
            dirty: HashSet::new(),
            next_due: i64::MIN,
        }
    }
}

impl Group {
    /// The time after which [`process_group`] has work on this group: the first unprocessed
    /// hit, or the end of its open window. It does nothing while the watermark is at or below
    /// this (`hits[processed].ts < w` and `open + span < w` are its only triggers).
    fn due(&self, def: &CorrelationDef) -> i64 {
        let next_hit = self.hits.get(self.processed).map_or(i64::MAX, |h| h.ts);
        let close = match (def.mode, self.open) {
            (Mode::AtClose, Some(open)) => open.saturating_add(def.timespan_ms),
            _ => i64::MAX,
        };
        next_hit.min(close)
    }
}

/// Streaming detection and correlation over one rule set. See the module doc.
#[derive(Debug)]
pub struct Correlator {
    rules: Arc<RuleSet>,
    config: CorrelatorConfig,
    state: Vec<CorrelationState>,
    max_seen: Option<i64>,
    stats: CorrelatorStats,
    scratch: Vec<usize>,
    since_sweep: u32,
    ext: ExtEngine,
}

/// Fan-out cap for group keys of an event with many values in its group-by fields.
const MAX_KEYS_PER_EVENT: usize = 16;
/// Observations between sweeps that drop expired groups nobody touched.
const SWEEP_EVERY: u32 = 8192;

impl Correlator {
    /// A correlator with no state.
    pub fn new(rules: Arc<RuleSet>, config: CorrelatorConfig) -> Correlator {
        let state = (0..rules.correlations.len())
            .map(|_| CorrelationState::default())
            .collect();
        let ext = ExtEngine::new(&rules);
        Correlator {
            ext,
            rules,
            config,
            state,
            max_seen: None,
            stats: CorrelatorStats::default(),
            scratch: Vec::new(),
            since_sweep: 0,
        }
    }

    /// The rule set.
    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    /// Counters so far.
    pub fn stats(&self) -> &CorrelatorStats {
        &self.stats
    }

    /// Counters of the extension rules (`x-idwatch`) so far.
    pub fn ext_stats(&self) -> &ExtStats {
        self.ext.stats()
    }

    /// The watermark: correlation hits before it are final.
    pub fn watermark(&self) -> Option<DateTime<Utc>> {
        self.watermark_ms()
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
    }

    fn watermark_ms(&self) -> Option<i64> {
        self.max_seen
            .map(|m| m.saturating_sub(self.config.allowed_lateness_ms))
    }

    /// Runs every rule on `event` at event time `at` (normally its `published`) and appends the
    /// matches that are due: the event's detection matches at once, correlation matches once
    /// the watermark passes them.
    pub fn observe(&mut self, event: &okta::LogEvent, at: DateTime<Utc>, out: &mut Vec<Match>) {
        let at_ms = at.timestamp_millis();
        self.stats.events += 1;
        let mut hits = std::mem::take(&mut self.scratch);
        hits.clear();
        self.rules.matching_rules(event, &mut hits);
        for &r in &hits {
            if self.rules.rules[r].emitted {
                let mut m = self.rules.detection_match(r, event);
                m.at = at;
                out.push(m);
            }
        }
        let late = self.watermark_ms().is_some_and(|w| at_ms < w);
        self.ext.observe(&self.rules, &hits, event, at_ms, late);
        let feeds_any = hits.iter().any(|&r| !self.rules.feeds[r].is_empty());
        if feeds_any {
            if late {
                self.stats.late_events += 1;
            } else {
                let view = OktaEvent::new(event);
                let rules = Arc::clone(&self.rules);
                for &r in &hits {
                    for &(ci, pos) in &rules.feeds[r] {
                        self.record_event_hit(ci, pos, &view, event.uuid().0.as_str(), at_ms);
                    }
                }
            }
        } else if late {
            self.stats.late_events += 1;
        }
        self.scratch = hits;
        if self.max_seen.is_none_or(|m| at_ms > m) {
            self.max_seen = Some(at_ms);
        }
        if !self.rules.correlations.is_empty() {
            let w = self.watermark_ms().unwrap_or(i64::MIN);
            self.advance(w, out);
            self.since_sweep += 1;
            if self.since_sweep >= SWEEP_EVERY {
                self.since_sweep = 0;
                self.sweep(w);
            }
        }
        if !self.rules.ext.is_empty() {
            let w = self.watermark_ms().unwrap_or(i64::MIN);
            self.ext.advance(&self.rules, w, out);
        }
    }

    /// Moves event time forward without an event (a quiet stream), so windows that ended
    /// before `at − allowed lateness` are decided.
    pub fn advance_to(&mut self, at: DateTime<Utc>, out: &mut Vec<Match>) {
        let at_ms = at.timestamp_millis();
        if self.max_seen.is_none_or(|m| at_ms > m) {
            self.max_seen = Some(at_ms);
        }
        let w = self.watermark_ms().unwrap_or(i64::MIN);
        self.advance(w, out);
        self.ext.advance(&self.rules, w, out);
    }

    /// Decides everything still open, as at the end of time: the end of a hunt.
    pub fn flush(&mut self, out: &mut Vec<Match>) {
        self.advance(i64::MAX, out);
        self.ext.advance(&self.rules, i64::MAX, out);
    }

    /// Memory held by windows.
    pub fn memory(&self) -> MemoryReport {
        let mut report = MemoryReport::default();
        for cs in &self.state {
            report.groups += cs.groups.len();
            for (key, g) in &cs.groups {
                report.hits += g.hits.len();
                report.approx_bytes += std::mem::size_of::<Group>()
                    + key
                        .iter()
                        .map(|k| 24 + k.as_ref().map_or(0, |s| s.len()))
                        .sum::<usize>()
                    + g.hits
                        .iter()
                        .map(|h| {
                            std::mem::size_of::<Hit>()
                                + h.tie.len()
                                + h.values.iter().map(|v| 24 + v.len()).sum::<usize>()
                                + h.uuids.iter().map(|v| 24 + v.len()).sum::<usize>()
                        })
                        .sum::<usize>();
            }
        }
        let (keys, pending, bytes) = self.ext.memory();
        report.groups += keys;
        report.hits += pending;
        report.approx_bytes += bytes;
        report
    }

    /// The state to save (see the module doc).
    pub fn export_state(&self) -> CorrelatorState {
        let correlations = self
            .rules
            .correlations
            .iter()
            .zip(&self.state)
            .map(|(def, cs)| {
                let mut groups: Vec<(GroupKey, Group)> = cs
                    .groups
                    .iter()
                    .map(|(k, g)| (k.clone(), g.clone()))
                    .collect();
                groups.sort_by(|a, b| a.0.cmp(&b.0));
                SavedCorrelation {
                    rule: self.rules.rules[def.rule].key().to_string(),
                    fingerprint: def.fingerprint,
                    groups,
                }
            })
            .collect();
        CorrelatorState {
            version: STATE_VERSION,
            max_seen_ms: self.max_seen,
            stats: self.stats.clone(),
            correlations,
            ext: self.ext.export(&self.rules),
        }
    }

    /// Replaces this correlator's state with a saved one. State of correlations that no longer
    /// exist, or whose definition changed, is dropped and named in the report.
    pub fn import_state(&mut self, saved: CorrelatorState) -> Result<ImportReport, StateError> {
        if saved.version != STATE_VERSION {
            return Err(StateError::Version {
                expected: STATE_VERSION,
                found: saved.version,
            });
        }
        let mut report = ImportReport::default();
        for cs in &mut self.state {
            *cs = CorrelationState::default();
        }
        for sc in saved.correlations {
            let found = self.rules.correlations.iter().position(|def| {
                self.rules.rules[def.rule].key() == sc.rule && def.fingerprint == sc.fingerprint
            });
            // The state sits in a SQLite file a user can edit or that can be damaged: groups
            // whose hits are out of order (the windows binary-search them) are not trusted.
            let Some(ci) = found.filter(|_| sc.groups.iter().all(|(_, g)| g.is_well_formed()))
            else {
                report.dropped_correlations.push(sc.rule);
                continue;
            };
            let cs = &mut self.state[ci];
            for (key, group) in sc.groups {
                if group.processed < group.hits.len() || group.open.is_some() {
                    cs.dirty.insert(key.clone());
                }
                cs.groups.insert(key, group);
                report.groups += 1;
            }
        }
        let dropped_ext = self.ext.import(&self.rules, saved.ext);
        report.dropped_correlations.extend(dropped_ext);
        self.max_seen = saved.max_seen_ms;
        self.stats = saved.stats;
        Ok(report)
    }

    fn record_event_hit(
        &mut self,
        ci: usize,
        pos: usize,
        view: &OktaEvent<'_>,
        uuid: &str,
        at_ms: i64,
    ) {
        let def = &self.rules.correlations[ci];
        let keys = event_group_keys(def, pos, view);
        let values = match &def.field {
            Some(f) => strings_of(view.field(f)),
            None => Vec::new(),
        };
        for key in keys {
            let hit = Hit {
                ts: at_ms,
                tie: uuid.to_string(),
                pos: pos as u16,
                values: values.clone(),
                uuids: Vec::new(),
            };
            self.insert_hit(ci, key, hit);
        }
    }

    fn insert_hit(&mut self, ci: usize, key: GroupKey, hit: Hit) {
        let total_groups: usize = self.state.iter().map(|s| s.groups.len()).sum();
        if total_groups >= self.config.max_groups && !self.state[ci].groups.contains_key(&key) {
            self.evict_oldest_groups();
        }
        let cap = self.config.max_hits_per_group.max(1);
        let hit_ts = hit.ts;
        let cs = &mut self.state[ci];
        let group = cs.groups.entry(key.clone()).or_default();
        let at = group.hits.partition_point(|h| h.order() < hit.order());
        if group.hits.get(at).is_some_and(|h| h.order() == hit.order()) {
            return; // the same event again (a replay after restore)
        }
        group.last = group.last.max(hit.ts);
        group.hits.insert(at, hit);
        if group.hits.len() > cap {
            group.hits.pop_front();
            group.processed = group.processed.saturating_sub(1);
            self.stats.dropped_hits += 1;
        }
        cs.next_due = cs.next_due.min(hit_ts);
        cs.dirty.insert(key);
    }

    fn evict_oldest_groups(&mut self) {
        let mut all: Vec<(i64, usize, GroupKey)> = Vec::new();
        for (ci, cs) in self.state.iter().enumerate() {
            for (k, g) in &cs.groups {
                all.push((g.last, ci, k.clone()));
            }
        }
        all.sort();
        let drop = (all.len() / 10).max(1);
        for (_, ci, key) in all.into_iter().take(drop) {
            self.state[ci].groups.remove(&key);
            self.state[ci].dirty.remove(&key);
            self.stats.evicted_groups += 1;
        }
    }

    /// Processes every final hit (time below `w`), children before parents.
    fn advance(&mut self, w: i64, out: &mut Vec<Match>) {
        let rules = Arc::clone(&self.rules);
        let first = out.len();
        for &ci in &rules.correlation_order {
            let def = &rules.correlations[ci];
            if self.state[ci].next_due >= w {
                continue; // no dirty group has work before the watermark passes next_due
            }
            // The dirty groups with work now; the others stay dirty untouched.
            let cs = &mut self.state[ci];
            let mut next_due = i64::MAX;
            let mut due: Vec<GroupKey> = Vec::new();
            for key in &cs.dirty {
                match cs.groups.get(key) {
                    Some(g) => {
                        let at = g.due(def);
                        if at < w {
                            due.push(key.clone());
                        } else {
                            next_due = next_due.min(at);
                        }
                    }
                    None => due.push(key.clone()),
                }
            }
            due.sort();
            let mut fired: Vec<Match> = Vec::new();
            for key in due {
                cs.dirty.remove(&key);
                let Some(mut group) = cs.groups.remove(&key) else {
                    continue;
                };
                process_group(&rules, def, &key, &mut group, w, &self.config, &mut fired);
                prune(def, &mut group, w);
                let pending = group.processed < group.hits.len() || group.open.is_some();
                if pending {
                    next_due = next_due.min(group.due(def));
                    cs.dirty.insert(key.clone());
                }
                if !group.hits.is_empty() || group.open.is_some() {
                    cs.groups.insert(key, group);
                }
            }
            cs.next_due = next_due;
            for m in fired {
                self.stats.correlation_matches += 1;
                self.feed_parents(def.rule, &m);
                if rules.rules[def.rule].emitted {
                    out.push(m);
                }
            }
        }
        out[first..].sort_by(|a, b| {
            (a.at, &a.rule_id)
                .cmp(&(b.at, &b.rule_id))
                .then_with(|| format!("{:?}", a.group_key).cmp(&format!("{:?}", b.group_key)))
        });
    }

    fn feed_parents(&mut self, child: usize, m: &Match) {
        let rules = Arc::clone(&self.rules);
        for &(pi, pos) in &rules.feeds[child] {
            let def = &rules.correlations[pi];
            let key: GroupKey = def
                .group_by
                .iter()
                .map(|g| {
                    m.group_key
                        .as_ref()
                        .and_then(|k| k.get(&g.per_ref[pos]))
                        .and_then(|v| v.as_str().map(str::to_string))
                })
                .collect();
            let values = def
                .field
                .as_ref()
                .and_then(|f| m.group_key.as_ref().and_then(|k| k.get(f)))
                .and_then(|v| v.as_str().map(|s| vec![s.to_string()]))
                .unwrap_or_default();
            let ts = m.window_end.unwrap_or(m.at).timestamp_millis();
            let hit = Hit {
                ts,
                tie: m.event_uuids.last().cloned().unwrap_or_default(),
                pos: pos as u16,
                values,
                uuids: m.event_uuids.clone(),
            };
            self.insert_hit(pi, key, hit);
        }
    }

    /// Drops groups whose hits all expired (ones no event touched since).
    fn sweep(&mut self, w: i64) {
        let rules = Arc::clone(&self.rules);
        for (ci, cs) in self.state.iter_mut().enumerate() {
            let def = &rules.correlations[ci];
            cs.groups.retain(|key, g| {
                if cs.dirty.contains(key) {
                    return true;
                }
                prune(def, g, w);
                !g.hits.is_empty() || g.open.is_some()
            });
        }
    }
}

/// Drops hits that no future window can contain.
fn prune(def: &CorrelationDef, group: &mut Group, w: i64) {
    let horizon = w.saturating_sub(def.timespan_ms);
    let keep_from = group.open.map_or(horizon, |o| o.min(horizon));
    while group.processed > 0 && group.hits.front().is_some_and(|h| h.ts < keep_from) {
        group.hits.pop_front();
        group.processed -= 1;
    }
}

fn process_group(
    rules: &RuleSet,
    def: &CorrelationDef,
    key: &GroupKey,
    group: &mut Group,
    w: i64,
    config: &CorrelatorConfig,
    fired: &mut Vec<Match>,
) {
    let span = def.timespan_ms;
    let mut i = group.processed;
    while i < group.hits.len() && group.hits[i].ts < w {
        let ts = group.hits[i].ts;
        match def.mode {
            Mode::AtEvent => {
                let lo = group
                    .hits
                    .partition_point(|h| h.ts < ts.saturating_sub(span));
                if let Some(value) = window_value(def, group.hits.range(lo..=i)) {
                    if satisfied(def, value) {
                        let start = first_in_window(def, group.hits.range(lo..=i));
                        fired.push(correlation_match(
                            rules,
                            def,
                            key,
                            group.hits.range(lo..=i),
                            start,
                            ts,
                            value,
                            config,
                        ));
                        group.hits.drain(..=i);
                        i = 0;
                        continue;
                    }
                }
            }
            Mode::AtClose => {
                if let Some(open) = group.open {
                    if ts > open.saturating_add(span) {
                        i = close_window(rules, def, key, group, i, config, fired);
                    }
                }
                if group.open.is_none() {
                    group.open = Some(group.hits[i].ts);
                }
            }
        }
        i += 1;
    }
    group.processed = i;
    if def.mode == Mode::AtClose {
        if let Some(open) = group.open {
            if open.saturating_add(span) < w {
                let end = group.processed;
                group.processed = close_window(rules, def, key, group, end, config, fired);
            }
        }
    }
}

/// Decides the open window over hits `[0, end)` (all inside it); returns the new index of the
/// hit that was at `end`.
fn close_window(
    rules: &RuleSet,
    def: &CorrelationDef,
    key: &GroupKey,
    group: &mut Group,
    end: usize,
    config: &CorrelatorConfig,
    fired: &mut Vec<Match>,
) -> usize {
    let Some(open) = group.open.take() else {
        return end;
    };
    let close = open.saturating_add(def.timespan_ms);
    let lo = group.hits.partition_point(|h| h.ts < open);
    let hi = end.min(group.hits.len());
    if lo < hi {
        if let Some(value) = window_value(def, group.hits.range(lo..hi)) {
            if satisfied(def, value) {
                fired.push(correlation_match(
                    rules,
                    def,
                    key,
                    group.hits.range(lo..hi),
                    open,
                    close,
                    value,
                    config,
                ));
            }
        }
    }
    group.hits.drain(..hi);
    end - hi
}

fn satisfied(def: &CorrelationDef, value: f64) -> bool {
    def.predicates.iter().all(|&(op, bound)| match op {
        ConditionOperator::Lt => value < bound,
        ConditionOperator::Lte => value <= bound,
        ConditionOperator::Gt => value > bound,
        ConditionOperator::Gte => value >= bound,
        ConditionOperator::Eq => value == bound,
        ConditionOperator::Neq => value != bound,
    })
}

/// The number the condition is tested on, for a window's hits (sorted).
fn window_value<'a>(
    def: &CorrelationDef,
    hits: impl Iterator<Item = &'a Hit> + Clone,
) -> Option<f64> {
    use crate::matches::MatchKind as K;
    Some(match def.kind {
        K::EventCount => hits.count() as f64,
        K::ValueCount => {
            let distinct: HashSet<String> = hits
                .flat_map(|h| h.values.iter().map(|v| v.to_lowercase()))
                .collect();
            distinct.len() as f64
        }
        K::Temporal => {
            let seen: HashSet<u16> = hits.map(|h| h.pos).collect();
            seen.len() as f64
        }
        K::TemporalOrdered => {
            // The longest prefix of `rules:` matched in order (greedy on the earliest hits).
            let mut next = 0u16;
            for h in hits {
                if h.pos == next {
                    next += 1;
                    if next as usize == def.refs.len() {
                        break;
                    }
                }
            }
            next as f64
        }
        K::ValueSum | K::ValueAvg | K::ValuePercentile => {
            let mut numbers: Vec<f64> = hits
                .filter_map(|h| h.values.iter().find_map(|v| v.trim().parse::<f64>().ok()))
                .collect();
            if numbers.is_empty() {
                return None;
            }
            match def.kind {
                K::ValueSum => numbers.iter().sum(),
                K::ValueAvg => numbers.iter().sum::<f64>() / numbers.len() as f64,
                _ => {
                    numbers.sort_by(|a, b| a.total_cmp(b));
                    // Nearest rank.
                    let rank = ((def.percentile / 100.0) * numbers.len() as f64).ceil() as usize;
                    numbers[rank.clamp(1, numbers.len()) - 1]
                }
            }
        }
        // Detections and the extensions' kinds are not correlation types.
        _ => return None,
    })
}

/// Where a firing window starts: its first hit, or for `temporal_ordered` the first hit of
/// the in-order sequence.
fn first_in_window<'a>(def: &CorrelationDef, mut hits: impl Iterator<Item = &'a Hit>) -> i64 {
    if def.kind == crate::matches::MatchKind::TemporalOrdered {
        let all: Vec<&Hit> = hits.collect();
        return all
            .iter()
            .find(|h| h.pos == 0)
            .or(all.first())
            .map_or(0, |h| h.ts);
    }
    hits.next().map_or(0, |h| h.ts)
}

#[allow(clippy::too_many_arguments)]
fn correlation_match<'a>(
    rules: &RuleSet,
    def: &CorrelationDef,
    key: &GroupKey,
    hits: impl Iterator<Item = &'a Hit>,
    start: i64,
    end: i64,
    value: f64,
    config: &CorrelatorConfig,
) -> Match {
    let info = &rules.rules[def.rule];
    let mut uuids = Vec::new();
    let mut count = 0;
    for h in hits {
        count += 1;
        if h.uuids.is_empty() {
            if uuids.len() < config.max_match_events {
                uuids.push(h.tie.clone());
            }
        } else {
            for u in &h.uuids {
                if uuids.len() < config.max_match_events {
                    uuids.push(u.clone());
                }
            }
        }
    }
    let group_key: serde_json::Map<String, serde_json::Value> = def
        .group_by
        .iter()
        .zip(key)
        .map(|(g, v)| {
            (
                g.name.clone(),
                v.clone()
                    .map_or(serde_json::Value::Null, serde_json::Value::String),
            )
        })
        .collect();
    let at = Utc.timestamp_millis_opt(end).single().unwrap_or_default();
    Match {
        rule_id: info.key().to_string(),
        title: info.title.clone(),
        level: info.level,
        tags: info.tags.clone(),
        kind: def.kind,
        at,
        event_uuids: uuids,
        event_count: Some(count),
        group_key: Some(group_key),
        window_start: Utc.timestamp_millis_opt(start).single(),
        window_end: Some(at),
        value: Some(value),
    }
}

/// Text forms of a field's values (arrays fan out; null and absent give none).
fn strings_of(v: Option<EventValue<'_>>) -> Vec<String> {
    fn push(v: &EventValue<'_>, out: &mut Vec<String>) {
        match v {
            EventValue::Array(items) => items.iter().for_each(|i| push(i, out)),
            EventValue::Null | EventValue::Map(_) => {}
            other => {
                if let Some(s) = other.as_str() {
                    out.push(s.into_owned());
                }
            }
        }
    }
    let mut out = Vec::new();
    if let Some(v) = v {
        push(&v, &mut out);
    }
    out
}

/// The group keys an event belongs to: one per combination of its group-by values.
fn event_group_keys(def: &CorrelationDef, pos: usize, view: &OktaEvent<'_>) -> Vec<GroupKey> {
    let mut keys: Vec<GroupKey> = vec![Vec::new()];
    for g in &def.group_by {
        let mut values = strings_of(view.field(&g.per_ref[pos]));
        values.sort();
        values.dedup();
        let options: Vec<Option<String>> = if values.is_empty() {
            vec![None]
        } else {
            values.into_iter().map(Some).collect()
        };
        let mut next = Vec::new();
        for k in &keys {
            for o in &options {
                if next.len() < MAX_KEYS_PER_EVENT {
                    let mut k = k.clone();
                    k.push(o.clone());
                    next.push(k);
                }
            }
        }
        keys = next;
    }
    keys
}
