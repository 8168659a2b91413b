//! What the engine reports: a [`Match`] per rule that fired, with the rule's identity and
//! severity, the uuids of the events that made it fire and, for correlations, the group key and
//! the window. This is the wire shape of `idwatch hunt --format ndjson` and what `detect` turns
//! into alerts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Severity, Sigma's `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// `informational`.
    Informational,
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
    /// `critical`.
    Critical,
}

impl Level {
    /// The Sigma spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    pub(crate) fn from_rsigma(level: Option<rsigma_parser::Level>) -> Level {
        use rsigma_parser::Level as L;
        match level {
            Some(L::Informational) => Level::Informational,
            Some(L::Low) => Level::Low,
            Some(L::Medium) | None => Level::Medium,
            Some(L::High) => Level::High,
            Some(L::Critical) => Level::Critical,
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of rule produced a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// A single-event detection rule.
    Detection,
    /// `event_count` correlation.
    EventCount,
    /// `value_count` correlation.
    ValueCount,
    /// `temporal` correlation.
    Temporal,
    /// `temporal_ordered` correlation.
    TemporalOrdered,
    /// `value_sum` correlation.
    ValueSum,
    /// `value_avg` correlation.
    ValueAvg,
    /// `value_percentile` correlation.
    ValuePercentile,
    /// idwatch extension (`x-idwatch: new_term`): a term not seen in the history window.
    NewTerm,
    /// idwatch extension (`x-idwatch: geo_velocity`): impossible travel.
    GeoVelocity,
    /// idwatch extension (`x-idwatch: absence`): an event without its expected companion.
    Absence,
    /// idwatch extension (`x-idwatch: lookback`): an event with its precursor.
    Lookback,
    /// idwatch extension (`x-idwatch: session`): a session seen again from somewhere new.
    Session,
}

impl MatchKind {
    /// The Sigma spelling (`detection` for plain rules).
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Detection => "detection",
            MatchKind::EventCount => "event_count",
            MatchKind::ValueCount => "value_count",
            MatchKind::Temporal => "temporal",
            MatchKind::TemporalOrdered => "temporal_ordered",
            MatchKind::ValueSum => "value_sum",
            MatchKind::ValueAvg => "value_avg",
            MatchKind::ValuePercentile => "value_percentile",
            MatchKind::NewTerm => "new_term",
            MatchKind::GeoVelocity => "geo_velocity",
            MatchKind::Absence => "absence",
            MatchKind::Lookback => "lookback",
            MatchKind::Session => "session",
        }
    }
}

/// One rule firing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// The rule's `id`, else its `name`, else its `title`.
    pub rule_id: String,
    /// The rule's `title`.
    pub title: String,
    /// The rule's `level` (`medium` when the rule has none).
    pub level: Level,
    /// The rule's `tags`.
    pub tags: Vec<String>,
    /// Detection or the correlation type.
    pub kind: MatchKind,
    /// When it fired: the event's time for a detection, the window's end for a correlation.
    pub at: DateTime<Utc>,
    /// The uuids of the events that made it fire (for a correlation, those in the window, at
    /// most `CorrelatorConfig::max_match_events` of them; see `event_count`).
    pub event_uuids: Vec<String>,
    /// Correlations: how many events (or child correlation matches) were in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_count: Option<usize>,
    /// Correlations: group-by field → value (`null` when the events lack the field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_key: Option<serde_json::Map<String, serde_json::Value>>,
    /// Correlations: the first event's time in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_start: Option<DateTime<Utc>>,
    /// Correlations: the window's end (the event that completed it, or the window's close).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_end: Option<DateTime<Utc>>,
    /// Correlations: the value the condition was tested on (count, distinct count, sum, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}
