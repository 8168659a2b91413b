//! `Pipeline`: one org's detection engine over a stream of events, shared by the live detector
//! and `idwatch hunt` so the two agree. It runs the pack's rules through the event-time
//! `sigma::Correlator`, drops matches of disabled rules, applies the allowlist (counting every
//! suppression per entry and rule), and turns what is left into [`Detection`]s: the match plus
//! the alert's group key, first/last seen and context (who, where, why).
//!
//! Its state ([`PipelineState`]: correlation windows, counters) is plain serde, exported after
//! a batch and committed with the detector's read position.

use crate::allow::Evidence;
use crate::catalog::Pack;
use crate::error::DetectError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sigma::{Correlator, CorrelatorState, Level, Match, MatchKind};
use std::collections::BTreeMap;
use std::sync::Arc;
use store::alerts::{AlertActor, AlertClient, AlertContext, AlertLevel, NewAlert};
use store::detection::SuppressionDelta;
use store::OrgId;

/// Version of [`PipelineState`]'s layout.
pub const PIPELINE_STATE_VERSION: u32 = 1;

/// A match that survived disabling and allowlists, ready to become an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// What the engine reported (the `idwatch hunt` wire shape).
    pub matched: Match,
    /// What makes two matches the same alert: the correlation's group key, or the actor for a
    /// single-event rule.
    pub group_key: BTreeMap<String, Value>,
    /// Earliest event time.
    pub first_seen: DateTime<Utc>,
    /// Latest event time.
    pub last_seen: DateTime<Utc>,
    /// Who, where, why.
    pub context: AlertContext,
}

impl Detection {
    /// The alert to raise for `org`.
    pub fn to_alert(&self, org: OrgId) -> NewAlert {
        NewAlert {
            org,
            rule_id: self.matched.rule_id.clone(),
            title: self.matched.title.clone(),
            level: alert_level(self.matched.level),
            group_key: self.group_key.clone(),
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            event_uuids: self.matched.event_uuids.clone(),
            context: self.context.clone(),
        }
    }
}

/// Sigma's level as an alert level.
pub fn alert_level(level: Level) -> AlertLevel {
    match level {
        Level::Informational => AlertLevel::Informational,
        Level::Low => AlertLevel::Low,
        Level::Medium => AlertLevel::Medium,
        Level::High => AlertLevel::High,
        Level::Critical => AlertLevel::Critical,
    }
}

/// Counters of a pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineStats {
    /// Events observed.
    pub events: u64,
    /// Matches the engine reported.
    pub matches: u64,
    /// Matches dropped because their rule is disabled.
    pub disabled: u64,
    /// Matches suppressed by an allowlist entry.
    pub suppressed: u64,
    /// Detections passed on.
    pub detections: u64,
}

/// The serializable state of a [`Pipeline`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PipelineState {
    /// [`PIPELINE_STATE_VERSION`].
    pub version: u32,
    /// Correlation windows.
    pub correlator: CorrelatorState,
    /// Counters.
    pub stats: PipelineStats,
}

/// One org's engine. See the module doc.
#[derive(Debug)]
pub struct Pipeline {
    pack: Arc<Pack>,
    correlator: Correlator,
    stats: PipelineStats,
    /// (entry, rule) → (count, latest time) since the last [`Pipeline::take_suppressed`].
    suppressed: BTreeMap<(String, String), (u64, DateTime<Utc>)>,
    scratch: Vec<Match>,
}

impl Pipeline {
    /// A pipeline with no state.
    pub fn new(pack: Arc<Pack>) -> Pipeline {
        let correlator = Correlator::new(Arc::clone(&pack.rules), pack.correlator.clone());
        Pipeline {
            pack,
            correlator,
            stats: PipelineStats::default(),
            suppressed: BTreeMap::new(),
            scratch: Vec::new(),
        }
    }

    /// The pack it runs.
    pub fn pack(&self) -> &Arc<Pack> {
        &self.pack
    }

    /// Counters so far.
    pub fn stats(&self) -> &PipelineStats {
        &self.stats
    }

    /// The correlator's counters (late events, dropped hits).
    pub fn correlator_stats(&self) -> &sigma::CorrelatorStats {
        self.correlator.stats()
    }

    /// The latest event time seen (the correlator's watermark plus the allowed lateness).
    pub fn max_seen(&self) -> Option<DateTime<Utc>> {
        self.correlator
            .watermark()
            .map(|w| w + chrono::Duration::milliseconds(self.pack.correlator.allowed_lateness_ms))
    }

    /// Evaluates one event (at its `published` time).
    pub fn observe(&mut self, event: &okta::LogEvent, out: &mut Vec<Detection>) {
        self.stats.events += 1;
        let mut matches = std::mem::take(&mut self.scratch);
        self.correlator
            .observe(event, event.published(), &mut matches);
        self.finish(&mut matches, Some(event), out);
        self.scratch = matches;
    }

    /// Moves event time forward without an event (a quiet stream), so windows close.
    pub fn advance_to(&mut self, at: DateTime<Utc>, out: &mut Vec<Detection>) {
        let mut matches = std::mem::take(&mut self.scratch);
        self.correlator.advance_to(at, &mut matches);
        self.finish(&mut matches, None, out);
        self.scratch = matches;
    }

    /// Closes every window (the end of a hunt).
    pub fn flush(&mut self, out: &mut Vec<Detection>) {
        let mut matches = std::mem::take(&mut self.scratch);
        self.correlator.flush(&mut matches);
        self.finish(&mut matches, None, out);
        self.scratch = matches;
    }

    fn finish(
        &mut self,
        matches: &mut Vec<Match>,
        event: Option<&okta::LogEvent>,
        out: &mut Vec<Detection>,
    ) {
        for m in matches.drain(..) {
            self.stats.matches += 1;
            if self.pack.is_disabled(&m.rule_id) {
                self.stats.disabled += 1;
                continue;
            }
            // Detection matches reported during `observe` are about that event.
            let event = event.filter(|_| m.kind == MatchKind::Detection);
            if !self.pack.allowlist.is_empty() {
                let evidence = Evidence::of(&m, event);
                if let Some(entry) = self.pack.allowlist.suppressing(&m.rule_id, &evidence) {
                    self.stats.suppressed += 1;
                    let slot = self
                        .suppressed
                        .entry((entry.to_string(), m.rule_id.clone()))
                        .or_insert((0, m.at));
                    slot.0 += 1;
                    slot.1 = slot.1.max(m.at);
                    tracing::debug!(rule = %m.rule_id, entry, "match suppressed by allowlist");
                    continue;
                }
            }
            self.stats.detections += 1;
            out.push(self.detection(m, event));
        }
    }

    fn detection(&self, m: Match, event: Option<&okta::LogEvent>) -> Detection {
        let info = self
            .pack
            .rules
            .find(&m.rule_id)
            .map(|i| &self.pack.rules.rules()[i]);
        let description = info.and_then(|r| r.description.clone()).unwrap_or_default();
        let (group_key, context) = match event {
            Some(e) => event_context(e, description),
            None => group_context(&m, description),
        };
        Detection {
            first_seen: m.window_start.unwrap_or(m.at),
            last_seen: m.window_end.unwrap_or(m.at),
            group_key,
            context,
            matched: m,
        }
    }

    /// Suppression counts since the last call, for the next commit.
    pub fn take_suppressed(&mut self) -> Vec<SuppressionDelta> {
        std::mem::take(&mut self.suppressed)
            .into_iter()
            .map(|((entry, rule_id), (count, last_at))| SuppressionDelta {
                entry,
                rule_id,
                count,
                last_at,
            })
            .collect()
    }

    /// Puts back counts taken for a commit that failed.
    pub fn restore_suppressed(&mut self, deltas: Vec<SuppressionDelta>) {
        for d in deltas {
            let slot = self
                .suppressed
                .entry((d.entry, d.rule_id))
                .or_insert((0, d.last_at));
            slot.0 += d.count;
            slot.1 = slot.1.max(d.last_at);
        }
    }

    /// The state to commit with the read position.
    pub fn export_state(&self) -> PipelineState {
        PipelineState {
            version: PIPELINE_STATE_VERSION,
            correlator: self.correlator.export_state(),
            stats: self.stats.clone(),
        }
    }

    /// Restores committed state. Windows of correlations that changed are dropped (reported).
    pub fn import_state(&mut self, org: &str, state: PipelineState) -> Result<(), DetectError> {
        if state.version != PIPELINE_STATE_VERSION {
            return Err(DetectError::State {
                org: org.to_string(),
                reason: format!(
                    "format version {}, this idwatch reads {PIPELINE_STATE_VERSION}",
                    state.version
                ),
            });
        }
        let report = self
            .correlator
            .import_state(state.correlator)
            .map_err(|e| DetectError::State {
                org: org.to_string(),
                reason: e.to_string(),
            })?;
        if !report.dropped_correlations.is_empty() {
            tracing::warn!(
                org,
                dropped = ?report.dropped_correlations,
                "correlation rules changed since the last run: their open windows start afresh"
            );
        }
        self.stats = state.stats;
        Ok(())
    }
}

/// Group key and context of a single-event match: grouped by actor, so repeats by one actor
/// within the suppression window are one alert.
fn event_context(
    e: &okta::LogEvent,
    description: String,
) -> (BTreeMap<String, Value>, AlertContext) {
    let actor = e.actor();
    let mut group_key = BTreeMap::new();
    let who = actor.alternate_id.or(actor.id).or(e.client_ip());
    if let Some(who) = who {
        group_key.insert(
            "actor.alternateId".to_string(),
            Value::String(who.to_string()),
        );
    }
    let what = e.display_message().unwrap_or(e.event_type());
    let target = e
        .targets()
        .find_map(|t| t.alternate_id.or(t.display_name))
        .map(|t| format!(" on {t}"))
        .unwrap_or_default();
    let place = match (e.client_ip(), e.client_country()) {
        (Some(ip), Some(c)) => format!(" from {ip} ({c})"),
        (Some(ip), None) => format!(" from {ip}"),
        _ => String::new(),
    };
    let outcome = e
        .outcome_result()
        .map(|o| format!(" [{o}]"))
        .unwrap_or_default();
    let summary = format!(
        "{}: {what}{target}{place}{outcome}",
        who.unwrap_or("unknown actor")
    );
    let context = AlertContext {
        summary,
        description,
        actor: Some(AlertActor {
            id: actor.id.map(str::to_string),
            alternate_id: actor.alternate_id.map(str::to_string),
            display_name: actor.display_name.map(str::to_string),
            kind: actor.kind.map(str::to_string),
        }),
        client: Some(AlertClient {
            ip: e.client_ip().map(str::to_string),
            country: e.client_country().map(str::to_string),
            city: e.client_city().map(str::to_string),
            asn: e.as_number().and_then(|n| u32::try_from(n).ok()),
            as_org: e.as_org().map(str::to_string),
            user_agent: e.user_agent().map(str::to_string),
        }),
        references: Vec::new(),
    };
    (group_key, context)
}

/// Group key and context of a correlation match, from its group key.
fn group_context(m: &Match, description: String) -> (BTreeMap<String, Value>, AlertContext) {
    let group_key: BTreeMap<String, Value> = m
        .group_key
        .clone()
        .map(|k| k.into_iter().collect())
        .unwrap_or_default();
    let mut actor = AlertActor::default();
    let mut client = AlertClient::default();
    for (field, value) in &group_key {
        let Some(text) = value.as_str() else { continue };
        let lower = field.to_ascii_lowercase();
        match lower.as_str() {
            "actor.alternateid" => actor.alternate_id = Some(text.to_string()),
            "actor.id" => actor.id = Some(text.to_string()),
            "actor.displayname" => actor.display_name = Some(text.to_string()),
            f if f.contains("ipaddress") => client.ip = Some(text.to_string()),
            _ => {}
        }
    }
    let key_text = group_key
        .iter()
        .map(|(k, v)| format!("{k}={}", okta::event::value_text(v)))
        .collect::<Vec<_>>()
        .join(", ");
    let count = m.event_count.unwrap_or(m.event_uuids.len());
    let span = match (m.window_start, m.window_end) {
        (Some(s), Some(e)) => {
            let secs = (e - s).num_seconds().max(0);
            format!(" in {}", human_span(secs))
        }
        _ => String::new(),
    };
    let summary = if key_text.is_empty() {
        format!("{count} matching events{span}")
    } else {
        format!("{count} matching events{span} for {key_text}")
    };
    let context = AlertContext {
        summary,
        description,
        actor: (actor != AlertActor::default()).then_some(actor),
        client: (client != AlertClient::default()).then_some(client),
        references: Vec::new(),
    };
    (group_key, context)
}

fn human_span(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s => format!("{}h", s / 3600),
    }
}
