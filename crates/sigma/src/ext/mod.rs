//! idwatch's extensions to Sigma, for the detections Sigma cannot express: first-seen terms over
//! a history window, geo-velocity (impossible travel), absence ("A not followed by B"), and
//! session-keyed state across IPs/ASNs/OSs. An extension is an `x-idwatch:` block in an
//! otherwise ordinary Sigma detection rule; plain Sigma tools keep it as a custom attribute and
//! ignore it (they then see the rule's selection alone, a noisier but valid rule).
//!
//! The rule's `detection` chooses the **candidate** events; the block says what state is kept
//! over them and when the rule fires. Such a rule's plain per-event matches are not reported;
//! only the extension's are.
//!
//! ```yaml
//! x-idwatch:
//!   new_term:                      # fires on a term (tuple of fields) not seen in `history`
//!     fields: [actor.id, securityContext.asNumber]
//!     history: 30d                 # how long a term stays known after it was last seen
//!     learning: 7d                 # nothing is new until the stream (or `entity`) is this old
//!     entity: [actor.id]           # optional: learning counts from the entity's first sighting
//!     only: {eventType: [user.mfa.factor.activate]}  # optional: which candidates may fire
//!                                  # (all candidates teach the history)
//!     after:                       # optional: and only within `within` after an event of
//!       rule: credential-reset     # another rule with the same key
//!       within: 2h
//!       by: [actor.id]             # key on the candidate
//!       other_by: ['target[type=User].id']   # key on the other rule's events
//!   geo_velocity:                  # consecutive candidates of one key too far apart for the time
//!     by: [actor.id]
//!     max_kmh: 900
//!     min_km: 500                  # shorter hops never fire (geo-IP noise)
//!     forget_after: 24h            # the last location is forgotten after this
//!     lat: client.geographicalContext.geolocation.lat   # defaults
//!     lon: client.geographicalContext.geolocation.lon
//!   absence:                       # a candidate with no event of another rule around it
//!     followed_by: rule-id-or-name # or `preceded_by:`
//!     within: 12h
//!     by: [target[type=User].id]   # key on the candidate (empty: org-wide)
//!     other_by: [target[type=User].id]   # key on the other rule's events (default: `by`)
//!   lookback:                      # a candidate WITH an event of another rule before it
//!     rule: admin-console-access   # (the same keys as absence/preceded_by)
//!     within: 30d
//!     by: ['target[type=User].id']
//!     other_by: [actor.id]
//!   session:                       # a session seen again from somewhere new
//!     by: [authenticationContext.externalSessionId]
//!     new_all: [client.ipAddress, securityContext.asNumber]  # every one must be unseen
//!     new_any: [client.userAgent.os, client.userAgent.browser] # and (if given) one of these
//!     ttl: 12h                     # the session is forgotten this long after its last event
//!   signal: true                   # building block: never reported, only referenced
//! ```
//!
//! Every kind but `signal` also takes `max_keys` (default 100,000): the most keys (terms,
//! sessions, users) kept; beyond it the least recently seen tenth is dropped, counted in
//! [`ExtStats::evicted_keys`].
//!
//! A field is a dotted path as Sigma rules write them; `name[key=value]` picks the elements of
//! an array whose `key` equals `value` (`target[type=User].id`); a field with several values
//! gives its first. Events lacking a key field are not candidates.
//!
//! Time, order and state work as in the correlator (see [`crate::correlate`]): candidates are
//! decided in event-time order once the watermark passes them, so a stream shuffled within
//! the allowed lateness gives the hunt's matches; state is plain serde ([`ExtState`], part of
//! [`crate::CorrelatorState`]) and bounded.

mod engine;
mod field;
#[cfg(test)]
mod tests;

pub use engine::{ExtEngine, ExtState, ExtStats};

use crate::matches::MatchKind;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The custom attribute that holds an extension block.
pub const ATTRIBUTE: &str = "x-idwatch";

/// Default cap on keys per extension rule.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// A parsed `x-idwatch` block (before rule references are resolved).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExtSpec {
    NewTerm(NewTerm),
    GeoVelocity(GeoVelocity),
    Absence(Absence),
    Session(Session),
    Signal,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewTerm {
    pub fields: Vec<String>,
    pub history_ms: i64,
    pub learning_ms: i64,
    pub entity: Vec<String>,
    pub only: Vec<(String, Vec<String>)>,
    pub after: Option<After>,
    pub max_keys: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct After {
    pub rule: String,
    pub within_ms: i64,
    pub by: Vec<String>,
    pub other_by: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GeoVelocity {
    pub by: Vec<String>,
    pub lat: String,
    pub lon: String,
    pub max_kmh: f64,
    pub min_km: f64,
    pub forget_ms: i64,
    pub max_keys: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    FollowedBy,
    PrecededBy,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Absence {
    pub direction: Direction,
    /// `lookback`: fire when the other rule's event is there (only with `PrecededBy`).
    pub present: bool,
    pub other: String,
    pub within_ms: i64,
    pub by: Vec<String>,
    pub other_by: Vec<String>,
    pub max_keys: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Session {
    pub by: Vec<String>,
    pub new_all: Vec<String>,
    pub new_any: Vec<String>,
    pub ttl_ms: i64,
    pub max_values: usize,
    pub max_keys: usize,
}

impl ExtSpec {
    /// The kind its matches report.
    pub(crate) fn kind(&self) -> MatchKind {
        match self {
            ExtSpec::NewTerm(_) => MatchKind::NewTerm,
            ExtSpec::GeoVelocity(_) => MatchKind::GeoVelocity,
            ExtSpec::Absence(a) if a.present => MatchKind::Lookback,
            ExtSpec::Absence(_) => MatchKind::Absence,
            ExtSpec::Session(_) => MatchKind::Session,
            ExtSpec::Signal => MatchKind::Detection,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlock {
    new_term: Option<RawNewTerm>,
    geo_velocity: Option<RawGeo>,
    absence: Option<RawAbsence>,
    lookback: Option<RawLookback>,
    session: Option<RawSession>,
    #[serde(default)]
    signal: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNewTerm {
    fields: Vec<String>,
    history: String,
    learning: Option<String>,
    #[serde(default)]
    entity: Vec<String>,
    #[serde(default)]
    only: BTreeMap<String, OneOrMany>,
    after: Option<RawLookback>,
    max_keys: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLookback {
    rule: String,
    within: String,
    #[serde(default)]
    by: Vec<String>,
    other_by: Option<Vec<String>>,
    max_keys: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGeo {
    by: Vec<String>,
    max_kmh: f64,
    #[serde(default)]
    min_km: f64,
    forget_after: String,
    lat: Option<String>,
    lon: Option<String>,
    max_keys: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAbsence {
    followed_by: Option<String>,
    preceded_by: Option<String>,
    within: String,
    #[serde(default)]
    by: Vec<String>,
    other_by: Option<Vec<String>>,
    max_keys: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSession {
    by: Vec<String>,
    new_all: Vec<String>,
    #[serde(default)]
    new_any: Vec<String>,
    ttl: String,
    max_values: Option<usize>,
    max_keys: Option<usize>,
}

/// Parses a duration as correlation timespans are written: `90s`, `10m`, `12h`, `30d`, `2w`.
pub(crate) fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("duration `{t}` has no unit (s, m, h, d, w)"))?;
    let (n, unit) = t.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("duration `{t}` must start with a whole number"))?;
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(format!("duration `{t}`: unit must be s, m, h, d or w")),
    };
    Ok(n.saturating_mul(unit_ms))
}

fn check_fields(what: &str, fields: &[String]) -> Result<(), String> {
    for f in fields {
        field::FieldPath::parse(f).map_err(|e| format!("{what}: {e}"))?;
    }
    Ok(())
}

/// Parses an `x-idwatch` block. Errors say which key is wrong.
pub(crate) fn parse_block(value: &yaml_serde::Value) -> Result<ExtSpec, String> {
    let raw: RawBlock =
        yaml_serde::from_value(value.clone()).map_err(|e| format!("{ATTRIBUTE}: {e}"))?;
    let given = usize::from(raw.new_term.is_some())
        + usize::from(raw.geo_velocity.is_some())
        + usize::from(raw.absence.is_some())
        + usize::from(raw.lookback.is_some())
        + usize::from(raw.session.is_some())
        + usize::from(raw.signal);
    if given != 1 {
        return Err(format!(
            "{ATTRIBUTE}: give exactly one of new_term, geo_velocity, absence, lookback, session, signal (found {given})"
        ));
    }
    let positive = |what: &str, ms: i64| {
        if ms > 0 {
            Ok(ms)
        } else {
            Err(format!("{ATTRIBUTE}: {what} must be longer than zero"))
        }
    };
    if let Some(n) = raw.new_term {
        if n.fields.is_empty() {
            return Err(format!(
                "{ATTRIBUTE}.new_term.fields: list at least one field"
            ));
        }
        check_fields("new_term.fields", &n.fields)?;
        check_fields("new_term.entity", &n.entity)?;
        let history_ms = positive("new_term.history", parse_duration_ms(&n.history)?)?;
        let learning_ms = match &n.learning {
            Some(l) => parse_duration_ms(l)?,
            None => history_ms,
        };
        let only = n
            .only
            .into_iter()
            .map(|(k, v)| {
                let values = match v {
                    OneOrMany::One(s) => vec![s],
                    OneOrMany::Many(v) => v,
                };
                (k, values.into_iter().map(|s| s.to_lowercase()).collect())
            })
            .collect::<Vec<(String, Vec<String>)>>();
        check_fields(
            "new_term.only",
            &only.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        )?;
        let after = match n.after {
            None => None,
            Some(a) => {
                if a.max_keys.is_some() {
                    return Err(format!("{ATTRIBUTE}: new_term.after takes no max_keys"));
                }
                let other_by = a.other_by.unwrap_or_else(|| a.by.clone());
                check_fields("new_term.after.by", &a.by)?;
                check_fields("new_term.after.other_by", &other_by)?;
                if other_by.len() != a.by.len() {
                    return Err(format!(
                        "{ATTRIBUTE}: new_term.after.other_by must list as many fields as new_term.after.by"
                    ));
                }
                Some(After {
                    rule: a.rule,
                    within_ms: positive("new_term.after.within", parse_duration_ms(&a.within)?)?,
                    by: a.by,
                    other_by,
                })
            }
        };
        return Ok(ExtSpec::NewTerm(NewTerm {
            fields: n.fields,
            history_ms,
            learning_ms,
            entity: n.entity,
            only,
            after,
            max_keys: n.max_keys.unwrap_or(DEFAULT_MAX_KEYS).max(1),
        }));
    }
    if let Some(g) = raw.geo_velocity {
        check_fields("geo_velocity.by", &g.by)?;
        if g.max_kmh.is_nan() || g.max_kmh <= 0.0 {
            return Err(format!(
                "{ATTRIBUTE}: geo_velocity.max_kmh must be above zero"
            ));
        }
        let spec = GeoVelocity {
            by: g.by,
            lat: g
                .lat
                .unwrap_or_else(|| "client.geographicalContext.geolocation.lat".into()),
            lon: g
                .lon
                .unwrap_or_else(|| "client.geographicalContext.geolocation.lon".into()),
            max_kmh: g.max_kmh,
            min_km: g.min_km.max(0.0),
            forget_ms: positive(
                "geo_velocity.forget_after",
                parse_duration_ms(&g.forget_after)?,
            )?,
            max_keys: g.max_keys.unwrap_or(DEFAULT_MAX_KEYS).max(1),
        };
        check_fields(
            "geo_velocity.lat/lon",
            &[spec.lat.clone(), spec.lon.clone()],
        )?;
        return Ok(ExtSpec::GeoVelocity(spec));
    }
    if let Some(a) = raw.absence {
        let (direction, other) = match (a.followed_by, a.preceded_by) {
            (Some(o), None) => (Direction::FollowedBy, o),
            (None, Some(o)) => (Direction::PrecededBy, o),
            _ => {
                return Err(format!(
                    "{ATTRIBUTE}: absence needs exactly one of followed_by, preceded_by"
                ))
            }
        };
        check_fields("absence.by", &a.by)?;
        let other_by = a.other_by.unwrap_or_else(|| a.by.clone());
        check_fields("absence.other_by", &other_by)?;
        if other_by.len() != a.by.len() {
            return Err(format!(
                "{ATTRIBUTE}: absence.other_by must list as many fields as absence.by"
            ));
        }
        return Ok(ExtSpec::Absence(Absence {
            direction,
            present: false,
            other,
            within_ms: positive("absence.within", parse_duration_ms(&a.within)?)?,
            by: a.by,
            other_by,
            max_keys: a.max_keys.unwrap_or(DEFAULT_MAX_KEYS).max(1),
        }));
    }
    if let Some(l) = raw.lookback {
        check_fields("lookback.by", &l.by)?;
        let other_by = l.other_by.unwrap_or_else(|| l.by.clone());
        check_fields("lookback.other_by", &other_by)?;
        if other_by.len() != l.by.len() {
            return Err(format!(
                "{ATTRIBUTE}: lookback.other_by must list as many fields as lookback.by"
            ));
        }
        return Ok(ExtSpec::Absence(Absence {
            direction: Direction::PrecededBy,
            present: true,
            other: l.rule,
            within_ms: positive("lookback.within", parse_duration_ms(&l.within)?)?,
            by: l.by,
            other_by,
            max_keys: l.max_keys.unwrap_or(DEFAULT_MAX_KEYS).max(1),
        }));
    }
    if let Some(s) = raw.session {
        if s.by.is_empty() || s.new_all.is_empty() {
            return Err(format!(
                "{ATTRIBUTE}: session needs `by` and `new_all` fields"
            ));
        }
        check_fields("session.by", &s.by)?;
        check_fields("session.new_all", &s.new_all)?;
        check_fields("session.new_any", &s.new_any)?;
        return Ok(ExtSpec::Session(Session {
            by: s.by,
            new_all: s.new_all,
            new_any: s.new_any,
            ttl_ms: positive("session.ttl", parse_duration_ms(&s.ttl)?)?,
            max_values: s.max_values.unwrap_or(8).max(1),
            max_keys: s.max_keys.unwrap_or(DEFAULT_MAX_KEYS).max(1),
        }));
    }
    Ok(ExtSpec::Signal)
}

/// An extension compiled for a rule set: the spec with its fields parsed and its references
/// resolved to rule indices.
#[derive(Debug, Clone)]
pub(crate) struct ExtDef {
    /// The rule (detection index) that carries the block.
    pub rule: usize,
    pub spec: ExtSpec,
    /// Fields read from a candidate, in the order the engine expects (see `engine`).
    pub candidate_fields: Vec<field::FieldPath>,
    /// For `absence`: the other rule and the fields read from its events.
    pub other: Option<(usize, Vec<field::FieldPath>)>,
    /// Stable hash of the definition: saved state of another definition is not reused.
    pub fingerprint: u64,
}

impl ExtDef {
    /// Compiles a spec for rule `rule`; `find` resolves a rule reference to a detection index.
    pub(crate) fn new(
        rule: usize,
        spec: ExtSpec,
        rule_key: &str,
        find: impl Fn(&str) -> Option<usize>,
    ) -> Result<ExtDef, String> {
        let parse = |fields: &[String]| -> Result<Vec<field::FieldPath>, String> {
            fields.iter().map(|f| field::FieldPath::parse(f)).collect()
        };
        let (candidate, other) = match &spec {
            ExtSpec::NewTerm(n) => {
                let mut all = n.fields.clone();
                all.extend(n.entity.iter().cloned());
                all.extend(n.only.iter().map(|(k, _)| k.clone()));
                let other = match &n.after {
                    None => None,
                    Some(a) => {
                        all.extend(a.by.iter().cloned());
                        let other = find(&a.rule).ok_or_else(|| {
                            format!(
                                "{ATTRIBUTE}: new_term.after references rule `{}`, which no loaded detection rule has as its id, name or title",
                                a.rule
                            )
                        })?;
                        Some((other, parse(&a.other_by)?))
                    }
                };
                (parse(&all)?, other)
            }
            ExtSpec::GeoVelocity(g) => {
                let mut all = g.by.clone();
                all.push(g.lat.clone());
                all.push(g.lon.clone());
                (parse(&all)?, None)
            }
            ExtSpec::Absence(a) => {
                let other = find(&a.other).ok_or_else(|| {
                    format!(
                        "{ATTRIBUTE}: absence/lookback references rule `{}`, which no loaded detection rule has as its id, name or title",
                        a.other
                    )
                })?;
                if other == rule {
                    return Err(format!("{ATTRIBUTE}: absence references its own rule"));
                }
                (parse(&a.by)?, Some((other, parse(&a.other_by)?)))
            }
            ExtSpec::Session(s) => {
                let mut all = s.by.clone();
                all.extend(s.new_all.iter().cloned());
                all.extend(s.new_any.iter().cloned());
                (parse(&all)?, None)
            }
            ExtSpec::Signal => (Vec::new(), None),
        };
        let fingerprint = crate::correlate::def::fnv(&format!("{spec:?}|{other:?}|{rule_key}"));
        Ok(ExtDef {
            rule,
            spec,
            candidate_fields: candidate,
            other,
            fingerprint,
        })
    }

    /// The group-by fields of the spec (named in matches' `group_key`).
    pub(crate) fn group_fields(&self) -> &[String] {
        match &self.spec {
            ExtSpec::NewTerm(n) => &n.fields,
            ExtSpec::GeoVelocity(g) => &g.by,
            ExtSpec::Absence(a) => &a.by,
            ExtSpec::Session(s) => &s.by,
            ExtSpec::Signal => &[],
        }
    }
}

#[cfg(test)]
mod spec_tests {
    use super::*;

    fn block(yaml: &str) -> Result<ExtSpec, String> {
        let v: yaml_serde::Value = yaml_serde::from_str(yaml).expect("yaml");
        parse_block(&v)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("90s"), Ok(90_000));
        assert_eq!(parse_duration_ms("12h"), Ok(12 * 3_600_000));
        assert_eq!(parse_duration_ms("30d"), Ok(30 * 86_400_000));
        assert!(parse_duration_ms("12").is_err());
        assert!(parse_duration_ms("h").is_err());
        assert!(parse_duration_ms("3y").is_err());
    }

    #[test]
    fn blocks_parse_and_bad_ones_say_why() {
        let s = block("new_term: {fields: [actor.id], history: 30d}").expect("ok");
        match s {
            ExtSpec::NewTerm(n) => assert_eq!(n.learning_ms, n.history_ms),
            other => panic!("{other:?}"),
        }
        assert!(block("signal: true").is_ok());
        let e = block("new_term: {fields: [actor.id], history: 30d}\nsignal: true").unwrap_err();
        assert!(e.contains("exactly one"), "{e}");
        let e = block("new_term: {fields: [actor.id], history: 30d, histroy: 1d}").unwrap_err();
        assert!(e.contains("histroy"), "{e}");
        let e = block("geo_velocity: {by: [actor.id], max_kmh: 0, forget_after: 1d}").unwrap_err();
        assert!(e.contains("max_kmh"), "{e}");
        let e = block("absence: {within: 1h}").unwrap_err();
        assert!(e.contains("followed_by"), "{e}");
        let e =
            block("absence: {followed_by: x, within: 1h, by: [a], other_by: [a, b]}").unwrap_err();
        assert!(e.contains("as many"), "{e}");
        let e = block("session: {by: [x], new_all: [y], ttl: 0s}").unwrap_err();
        assert!(e.contains("longer than zero"), "{e}");
        let e = block("session: {by: ['target[type=User'], new_all: [y], ttl: 1h}").unwrap_err();
        assert!(e.contains("target[type=User"), "{e}");
    }
}
