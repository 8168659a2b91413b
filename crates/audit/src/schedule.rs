//! What the daemon calls: [`snapshot_if_due`] (default hourly) archives a roster snapshot when
//! the last one is older than the interval and returns an alert draft when the roster changed,
//! with every detail of each new admin; [`posture_if_due`] (default daily) re-runs the posture
//! checks, archives the results, and returns an alert draft when a check got worse. The caller
//! raises the draft with `Store::raise` and its own routing; nothing here sends anything.
//!
//! The same recording functions back the CLI: [`record_roster`] and [`record_posture`].

use crate::diff::{diff_rosters, ExplainWindow, RosterDiff, SnapshotRef};
use crate::posture::{
    evaluate, read_posture, regressions, PostureConfig, PostureReport, Regression,
};
use crate::roster::{take_roster, PrincipalKind, Roster};
use crate::source::DirectorySource;
use crate::AuditError;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;
use store::alerts::{AlertContext, AlertLevel, NewAlert};
use store::{OrgId, SnapshotKind, SnapshotMeta, Store};

/// How often the daemon audits, and with what settings (`[audit]` in idwatch.toml).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSchedule {
    /// Minutes between roster snapshots (default 60).
    pub roster_every_minutes: i64,
    /// Hours between posture checks (default 24).
    pub posture_every_hours: i64,
    /// Hours before the older snapshot to look for explaining events (default 24).
    pub explain_before_hours: i64,
    /// The posture checks' limits and allowlists (`[audit.posture]`).
    pub posture: PostureConfig,
}

impl Default for AuditSchedule {
    fn default() -> Self {
        AuditSchedule {
            roster_every_minutes: 60,
            posture_every_hours: 24,
            explain_before_hours: 24,
            posture: PostureConfig::default(),
        }
    }
}

impl AuditSchedule {
    /// The explanation window these settings give.
    pub fn window(&self) -> ExplainWindow {
        ExplainWindow {
            before: Duration::hours(self.explain_before_hours),
            ..ExplainWindow::default()
        }
    }
}

/// A roster snapshot as archived, with its diff against the previous one.
#[derive(Debug, Clone)]
pub struct RecordedRoster {
    /// The archived snapshot.
    pub snapshot: SnapshotMeta,
    /// The roster.
    pub roster: Roster,
    /// Changes since the previous snapshot (`None` for the first).
    pub diff: Option<RosterDiff>,
}

/// A roster snapshot read back from the archive.
pub fn load_roster(
    store: &Store,
    id: store::SnapshotId,
) -> Result<(SnapshotMeta, Roster), AuditError> {
    let snapshot = store
        .find_snapshot(id)?
        .ok_or(AuditError::NoSnapshot(id.0))?;
    if snapshot.meta.kind != SnapshotKind::AdminRoster {
        return Err(AuditError::WrongKind {
            id: id.0,
            kind: snapshot.meta.kind.to_string(),
        });
    }
    let roster = serde_json::from_str(&snapshot.content).map_err(|e| AuditError::Corrupt {
        id: id.0,
        reason: e.to_string(),
    })?;
    Ok((snapshot.meta, roster))
}

fn reference(meta: &SnapshotMeta) -> SnapshotRef {
    SnapshotRef {
        id: meta.id.0,
        taken_at: meta.taken_at,
    }
}

/// Archives `roster` as `org`'s newest snapshot and diffs it against the previous one.
pub fn record_roster(
    store: &mut Store,
    org: OrgId,
    roster: Roster,
    source_url: &str,
    now: DateTime<Utc>,
    window: ExplainWindow,
) -> Result<RecordedRoster, AuditError> {
    let previous = match store.latest_snapshot(org, SnapshotKind::AdminRoster)? {
        Some(s) => Some(load_roster(store, s.meta.id)?),
        None => None,
    };
    let snapshot = store.archive_snapshot(
        org,
        SnapshotKind::AdminRoster,
        now,
        source_url,
        &roster.to_json(),
    )?;
    let diff = match &previous {
        Some((meta, old)) => Some(diff_rosters(
            store,
            org,
            Some((reference(meta), old)),
            (reference(&snapshot), &roster),
            window,
        )?),
        None => None,
    };
    Ok(RecordedRoster {
        snapshot,
        roster,
        diff,
    })
}

/// Whether the newest snapshot of `kind` is older than `every` (or absent).
fn due(
    store: &Store,
    org: OrgId,
    kind: SnapshotKind,
    every: Duration,
    now: DateTime<Utc>,
) -> Result<bool, AuditError> {
    let list = store.list_snapshots(org, kind)?;
    Ok(list.last().is_none_or(|last| now - last.taken_at >= every))
}

/// The alert draft for a roster change: one alert per snapshot, listing every change with
/// its role, how it is held, and the events that explain it.
pub fn roster_alert(org: OrgId, org_name: &str, diff: &RosterDiff) -> Option<NewAlert> {
    if diff.changes.is_empty() {
        return None;
    }
    let added: Vec<_> = diff
        .changes
        .iter()
        .filter(|c| !matches!(c.kind, crate::diff::ChangeKind::Removed))
        .collect();
    let unexplained = diff.changes.iter().any(|c| c.explained_by.is_empty());
    let super_added = added.iter().any(|c| c.grant.role_type == "SUPER_ADMIN");
    let level = match (added.is_empty(), super_added || unexplained) {
        (true, _) => AlertLevel::Medium,
        (false, true) => AlertLevel::Critical,
        (false, false) => AlertLevel::High,
    };
    let mut lines = Vec::new();
    for change in &diff.changes {
        let verb = match &change.kind {
            crate::diff::ChangeKind::Added => "became".to_string(),
            crate::diff::ChangeKind::Removed => "is no longer".to_string(),
            crate::diff::ChangeKind::StatusChanged { from, to } => {
                format!("changed status {from} -> {to} of")
            }
        };
        let p = &change.grant.principal;
        let mut line = format!(
            "{} {} ({}, {}) {verb} {} [{}] via {}",
            p.kind,
            p.name,
            p.id,
            p.status.as_deref().unwrap_or("status unknown"),
            change.grant.role_text(),
            change.grant.role_label,
            change.grant.via
        );
        if change.explained_by.is_empty() {
            line.push_str("; no explaining event");
        }
        for e in &change.explained_by {
            line.push_str(&format!(
                "; {} by {} at {}{}",
                e.event_type,
                e.actor,
                e.published.format("%Y-%m-%dT%H:%M:%SZ"),
                e.client_ip
                    .as_deref()
                    .map(|ip| format!(" from {ip}"))
                    .unwrap_or_default()
            ));
        }
        for w in &change.warnings {
            line.push_str(&format!("; WARNING: {w}"));
        }
        lines.push(line);
    }
    let removed = diff.changes.len() - added.len();
    let title = format!(
        "Admin roster changed in {org_name}: {} added, {removed} removed",
        added.len()
    );
    let mut group_key = BTreeMap::new();
    group_key.insert("snapshot".to_string(), serde_json::json!(diff.to.id));
    let users: Vec<&str> = added
        .iter()
        .filter(|c| c.grant.principal.kind == PrincipalKind::User)
        .map(|c| c.grant.principal.name.as_str())
        .collect();
    Some(NewAlert {
        org,
        rule_id: "idwatch.audit.admin_roster_changed".into(),
        title,
        level,
        group_key,
        first_seen: diff.from.map(|f| f.taken_at).unwrap_or(diff.to.taken_at),
        last_seen: diff.to.taken_at,
        event_uuids: diff
            .changes
            .iter()
            .flat_map(|c| c.explained_by.iter().map(|e| e.uuid.clone()))
            .collect(),
        context: AlertContext {
            summary: if users.is_empty() {
                lines.join("\n")
            } else {
                format!("new admin: {}\n{}", users.join(", "), lines.join("\n"))
            },
            description: "The admin roster snapshot differs from the previous one. Group-derived admins have no privilege-grant event in the System Log; only the roster shows them.".into(),
            actor: None,
            client: None,
            references: vec!["idwatch admins diff".into()],
        },
    })
}

/// What [`snapshot_if_due`] did.
#[derive(Debug, Clone)]
pub enum SnapshotOutcome {
    /// The last snapshot is recent enough.
    NotDue,
    /// A snapshot was taken.
    Taken {
        /// It, and its diff.
        recorded: Box<RecordedRoster>,
        /// The alert to raise, when the roster changed.
        alert: Option<Box<NewAlert>>,
    },
}

/// Takes and archives a roster snapshot of `org_name` when the last one is older than the
/// schedule's interval; returns the alert draft when the roster changed.
pub async fn snapshot_if_due<S: DirectorySource>(
    store: &mut Store,
    org_name: &str,
    source: &S,
    schedule: &AuditSchedule,
    now: DateTime<Utc>,
) -> Result<SnapshotOutcome, AuditError> {
    let org = store.ensure_org(org_name)?;
    if !due(
        store,
        org,
        SnapshotKind::AdminRoster,
        Duration::minutes(schedule.roster_every_minutes.max(1)),
        now,
    )? {
        return Ok(SnapshotOutcome::NotDue);
    }
    let roster = take_roster(source).await?;
    let recorded = record_roster(
        store,
        org,
        roster,
        &source.base_url(),
        now,
        schedule.window(),
    )?;
    let alert = recorded
        .diff
        .as_ref()
        .and_then(|d| roster_alert(org, org_name, d))
        .map(Box::new);
    Ok(SnapshotOutcome::Taken {
        recorded: Box::new(recorded),
        alert,
    })
}

/// A posture report as archived, with what got worse since the previous one.
#[derive(Debug, Clone)]
pub struct RecordedPosture {
    /// The archived snapshot.
    pub snapshot: SnapshotMeta,
    /// The report.
    pub report: PostureReport,
    /// Checks that got worse since the previous report.
    pub regressions: Vec<Regression>,
}

/// Archives a posture report and compares it with the previous one.
pub fn record_posture(
    store: &mut Store,
    org: OrgId,
    report: PostureReport,
    source_url: &str,
) -> Result<RecordedPosture, AuditError> {
    let previous: Option<PostureReport> = match store.latest_snapshot(org, SnapshotKind::Posture)? {
        Some(s) => Some(
            serde_json::from_str(&s.content).map_err(|e| AuditError::Corrupt {
                id: s.meta.id.0,
                reason: e.to_string(),
            })?,
        ),
        None => None,
    };
    let content = serde_json::to_string_pretty(&report).unwrap_or_default();
    let snapshot = store.archive_snapshot(
        org,
        SnapshotKind::Posture,
        report.checked_at,
        source_url,
        &content,
    )?;
    let regressions = previous
        .as_ref()
        .map(|old| regressions(old, &report))
        .unwrap_or_default();
    Ok(RecordedPosture {
        snapshot,
        report,
        regressions,
    })
}

/// The alert draft for posture regressions.
pub fn posture_alert(org: OrgId, org_name: &str, recorded: &RecordedPosture) -> Option<NewAlert> {
    if recorded.regressions.is_empty() {
        return None;
    }
    let level = if recorded
        .regressions
        .iter()
        .any(|r| r.to == crate::posture::Status::Fail)
    {
        AlertLevel::High
    } else {
        AlertLevel::Medium
    };
    let lines: Vec<String> = recorded
        .regressions
        .iter()
        .map(|r| {
            format!(
                "{} ({}): {} -> {}; {}; fix: {}",
                r.title,
                r.id,
                r.from,
                r.to,
                r.evidence.join("; "),
                r.remediation
            )
        })
        .collect();
    let mut group_key = BTreeMap::new();
    group_key.insert(
        "snapshot".to_string(),
        serde_json::json!(recorded.snapshot.id.0),
    );
    let at = recorded.report.checked_at;
    Some(NewAlert {
        org,
        rule_id: "idwatch.audit.posture_regression".into(),
        title: format!(
            "Posture regressed in {org_name}: {}",
            recorded
                .regressions
                .iter()
                .map(|r| format!("{} {}->{}", r.id, r.from, r.to))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        level,
        group_key,
        first_seen: at,
        last_seen: at,
        event_uuids: Vec::new(),
        context: AlertContext {
            summary: lines.join("\n"),
            description: "A tenant posture check got worse since the previous daily check.".into(),
            actor: None,
            client: None,
            references: vec!["idwatch posture".into()],
        },
    })
}

/// What [`posture_if_due`] did.
#[derive(Debug, Clone)]
pub enum PostureOutcome {
    /// The last check is recent enough.
    NotDue,
    /// The checks ran.
    Checked {
        /// The archived report and its regressions.
        recorded: Box<RecordedPosture>,
        /// The alert to raise, when a check got worse.
        alert: Option<Box<NewAlert>>,
    },
}

/// Runs the posture checks of `org_name` when the last run is older than the schedule's
/// interval, archives the report, and returns the alert draft when a check regressed. The
/// roster the super-admin check needs is the newest archived one (taken live when none is).
pub async fn posture_if_due<S: DirectorySource>(
    store: &mut Store,
    org_name: &str,
    source: &S,
    schedule: &AuditSchedule,
    now: DateTime<Utc>,
) -> Result<PostureOutcome, AuditError> {
    let org = store.ensure_org(org_name)?;
    if !due(
        store,
        org,
        SnapshotKind::Posture,
        Duration::hours(schedule.posture_every_hours.max(1)),
        now,
    )? {
        return Ok(PostureOutcome::NotDue);
    }
    let roster = match store.latest_snapshot(org, SnapshotKind::AdminRoster)? {
        Some(s) => load_roster(store, s.meta.id)?.1,
        None => take_roster(source).await?,
    };
    let input = read_posture(source, roster).await;
    let report = evaluate(&input, &schedule.posture, now);
    let recorded = record_posture(store, org, report, &source.base_url())?;
    let alert = posture_alert(org, org_name, &recorded).map(Box::new);
    Ok(PostureOutcome::Checked {
        recorded: Box::new(recorded),
        alert,
    })
}
