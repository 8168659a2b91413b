//! The alert vocabulary: ids, levels, statuses, what a raised alert carries (`NewAlert`), what a
//! stored one looks like (`Alert`), and how alerts are routed to sinks (`AlertRouting`). Plain
//! values: detection builds them, the store persists them, notify renders them.

use chrono::{DateTime, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::open::OrgId;

/// The id of an alert in one store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AlertId(pub i64);

impl fmt::Display for AlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for AlertId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .trim_start_matches('#')
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(AlertId)
            .ok_or_else(|| format!("`{s}` is not an alert id (a positive number, e.g. 42)"))
    }
}

impl ToSql for AlertId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0))
    }
}

impl FromSql for AlertId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        i64::column_result(value).map(AlertId)
    }
}

/// How bad an alert is, Sigma's levels, ordered from `Informational` to `Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertLevel {
    /// Worth knowing; no action expected.
    Informational,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical: act now.
    Critical,
}

impl AlertLevel {
    /// Every level, lowest first.
    pub const ALL: [AlertLevel; 5] = [
        AlertLevel::Informational,
        AlertLevel::Low,
        AlertLevel::Medium,
        AlertLevel::High,
        AlertLevel::Critical,
    ];

    /// The lowercase name (`high`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertLevel::Informational => "informational",
            AlertLevel::Low => "low",
            AlertLevel::Medium => "medium",
            AlertLevel::High => "high",
            AlertLevel::Critical => "critical",
        }
    }

    fn code(self) -> i64 {
        self as i64
    }

    fn from_code(code: i64) -> Option<AlertLevel> {
        AlertLevel::ALL.get(usize::try_from(code).ok()?).copied()
    }
}

impl fmt::Display for AlertLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AlertLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        AlertLevel::ALL
            .into_iter()
            .find(|l| l.as_str() == lower || (lower == "info" && *l == AlertLevel::Informational))
            .ok_or_else(|| {
                format!(
                    "`{s}` is not an alert level: use informational, low, medium, high or critical"
                )
            })
    }
}

impl ToSql for AlertLevel {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.code()))
    }
}

impl FromSql for AlertLevel {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let code = i64::column_result(value)?;
        AlertLevel::from_code(code).ok_or(FromSqlError::OutOfRange(code))
    }
}

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// Raised, nobody has looked yet.
    Open,
    /// Somebody is on it. Repeats still fold into it.
    Acknowledged,
    /// Done. A repeat after closing raises a new alert.
    Closed,
}

impl AlertStatus {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
        }
    }

    fn code(self) -> i64 {
        match self {
            AlertStatus::Open => 0,
            AlertStatus::Acknowledged => 1,
            AlertStatus::Closed => 2,
        }
    }
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AlertStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(AlertStatus::Open),
            "acknowledged" | "ack" | "acked" => Ok(AlertStatus::Acknowledged),
            "closed" | "close" => Ok(AlertStatus::Closed),
            _ => Err(format!(
                "`{s}` is not an alert status: use open, acknowledged or closed"
            )),
        }
    }
}

impl ToSql for AlertStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.code()))
    }
}

impl FromSql for AlertStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match i64::column_result(value)? {
            0 => Ok(AlertStatus::Open),
            1 => Ok(AlertStatus::Acknowledged),
            2 => Ok(AlertStatus::Closed),
            other => Err(FromSqlError::OutOfRange(other)),
        }
    }
}

/// Who did it: the actor of the matching events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertActor {
    /// Okta id (`00u...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Login (`jane@example.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate_id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Okta actor type (`User`, `PublicClientApp`, `SystemPrincipal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// Where from: the client of the matching events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertClient {
    /// Client IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Country (Okta's geolocation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Autonomous system number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// Autonomous system organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_org: Option<String>,
    /// User agent, as Okta reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// What a responder needs in the message, beyond the rule and the counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertContext {
    /// What happened, in one sentence about these events
    /// ("jane@example.com reset every factor of 3 users in 4 minutes").
    pub summary: String,
    /// Why it matters: the rule's description.
    #[serde(default)]
    pub description: String,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<AlertActor>,
    /// Where from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<AlertClient>,
    /// Runbooks and references from the rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

/// An alert as detection raises it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// The org whose events matched.
    pub org: OrgId,
    /// The rule (Sigma id or name).
    pub rule_id: String,
    /// The rule's title.
    pub title: String,
    /// The rule's level.
    pub level: AlertLevel,
    /// What makes two matches the same alert (field → value), e.g. `{"actor.id": "00u1"}`.
    /// Empty: every match of the rule in the org is the same alert within the window.
    pub group_key: BTreeMap<String, Value>,
    /// Event time (`published`) of the earliest matching event.
    pub first_seen: DateTime<Utc>,
    /// Event time of the latest matching event.
    pub last_seen: DateTime<Utc>,
    /// The matching events.
    pub event_uuids: Vec<String>,
    /// What, who, where, why.
    pub context: AlertContext,
}

/// A responder's note, also recorded for every status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertNote {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub author: String,
    /// The status the alert had after this note.
    pub status: AlertStatus,
    /// What they wrote (may be empty for a bare ack).
    pub text: String,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Its id.
    pub id: AlertId,
    /// The org's id.
    #[serde(skip)]
    pub org: OrgId,
    /// The org's name.
    #[serde(rename = "org")]
    pub org_name: String,
    /// Rule id.
    pub rule_id: String,
    /// Rule title.
    pub title: String,
    /// Level.
    pub level: AlertLevel,
    /// Group key (field → value), keys sorted.
    pub group_key: BTreeMap<String, Value>,
    /// Earliest matching event time.
    pub first_seen: DateTime<Utc>,
    /// Latest matching event time.
    pub last_seen: DateTime<Utc>,
    /// How many times the rule matched for this alert (raises folded into it).
    pub count: u64,
    /// Lifecycle status.
    pub status: AlertStatus,
    /// What, who, where, why.
    pub context: AlertContext,
    /// Matching events, in the order they were first attached.
    pub event_uuids: Vec<String>,
    /// Notes, oldest first.
    pub notes: Vec<AlertNote>,
    /// When the store created it (wall clock).
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Alert {
    /// An Okta filter over the matching events, for `idwatch query` (at most `limit` uuids).
    pub fn evidence_filter(&self, limit: usize) -> String {
        self.event_uuids
            .iter()
            .take(limit.max(1))
            .map(|u| format!("uuid eq \"{}\"", u.replace(['"', '\\'], "")))
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

/// One sink an org's alerts go to, from the minimum level up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRoute {
    /// The sink's name (from the configuration).
    pub sink: String,
    /// Orgs whose alerts go there; empty means every org.
    pub orgs: Vec<String>,
    /// The lowest level delivered.
    pub min_level: AlertLevel,
}

impl AlertRoute {
    /// Whether an alert of `org` at `level` goes to this sink.
    pub fn accepts(&self, org: &str, level: AlertLevel) -> bool {
        level >= self.min_level && (self.orgs.is_empty() || self.orgs.iter().any(|o| o == org))
    }
}

/// How raised alerts are folded together and where they are delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRouting {
    /// Matches of one (org, rule, group key) within this long of the alert's first event are the
    /// same alert (Panther's deduplication period; 15 minutes by default).
    pub suppression: Duration,
    /// Whether a repeat folded into an existing alert is delivered again.
    pub renotify_on_update: bool,
    /// The sinks.
    pub routes: Vec<AlertRoute>,
}

impl Default for AlertRouting {
    fn default() -> Self {
        AlertRouting {
            suppression: Duration::from_secs(15 * 60),
            renotify_on_update: false,
            routes: Vec::new(),
        }
    }
}

/// What `raise` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaiseKind {
    /// A new alert.
    Created,
    /// Folded into an open or acknowledged alert within the suppression window.
    Updated,
    /// Every event was already on that alert: nothing changed (a replay).
    Unchanged,
}

/// The result of `raise`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    /// The alert created or updated.
    pub alert: AlertId,
    /// What happened.
    pub kind: RaiseKind,
    /// How many outbox rows (deliveries) were queued with it.
    pub queued: usize,
}

/// Which alerts `list_alerts` returns.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Only this org.
    pub org: Option<OrgId>,
    /// Only this status.
    pub status: Option<AlertStatus>,
    /// Only this level and above.
    pub min_level: Option<AlertLevel>,
    /// Only alerts whose latest event is at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}
