//! Auditing an Okta tenant beyond its log: admin roster snapshots (direct, group-derived,
//! groups, custom roles, service apps) archived and chained, their diffs explained by log
//! events, the credential-change audit, and posture checks against Okta's hardening guidance.
//!
//! - [`roster`]: [`take_roster`] reads every admin role holder through a [`DirectorySource`].
//! - [`diff`]: [`diff_rosters`] compares two archived rosters and finds the explaining events.
//! - [`credentials`]: [`audit_credentials`] groups password and factor changes by user.
//! - [`posture`]: [`read_posture`] + [`evaluate`] run the hardening checks.
//! - [`schedule`]: the daemon's API.
//! - [`okta_source`]: [`DirectorySource`] over the collector's Okta client.
//!
//! # For the daemon
//! Per org, on a timer (say every minute), call
//! ```text
//! match audit::snapshot_if_due(&mut store, org_name, &source, &schedule, Utc::now()).await? {
//!     SnapshotOutcome::Taken { alert: Some(alert), .. } => { store.raise(&alert, &routing, now)?; }
//!     _ => {}
//! }
//! match audit::posture_if_due(&mut store, org_name, &source, &schedule, Utc::now()).await? {
//!     PostureOutcome::Checked { alert: Some(alert), .. } => { store.raise(&alert, &routing, now)?; }
//!     _ => {}
//! }
//! ```
//! `schedule` is [`AuditSchedule`] (the `[audit]` config section: roster every 60 minutes,
//! posture every 24 hours by default); `source` is any [`DirectorySource`], normally
//! [`okta_source::OktaDirectory`] over the collector's client for that org. Each call does
//! nothing until its interval has passed since the newest archived snapshot of its kind, so
//! calling often is cheap and restarts do not re-snapshot.

pub mod credentials;
pub mod diff;
pub mod okta_source;
pub mod posture;
pub mod roster;
pub mod schedule;
pub mod source;

pub use credentials::{
    audit_credentials, ActorClass, CredentialAudit, Recommendation, RoleHistory,
};
pub use diff::{diff_rosters, ExplainWindow, RosterDiff};
pub use posture::{evaluate, read_posture, PostureConfig, PostureReport, Status};
pub use roster::{take_roster, AdminGrant, Roster, Via};
pub use schedule::{
    posture_if_due, record_posture, record_roster, snapshot_if_due, AuditSchedule, PostureOutcome,
    SnapshotOutcome,
};
pub use source::{DirectorySource, SourceError};

/// An audit failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The roster could not be read.
    #[error(transparent)]
    Roster(#[from] roster::RosterError),
    /// A directory read failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// No snapshot with that id.
    #[error("no snapshot {0} in this store (`idwatch admins history` lists them)")]
    NoSnapshot(i64),
    /// The snapshot is not of the expected kind.
    #[error("snapshot {id} is a {kind} snapshot, not an admin roster")]
    WrongKind {
        /// Its id.
        id: i64,
        /// Its kind.
        kind: String,
    },
    /// An archived snapshot no longer parses (run `idwatch admins verify`).
    #[error("snapshot {id} does not parse ({reason}); run `idwatch admins verify`")]
    Corrupt {
        /// Its id.
        id: i64,
        /// Why.
        reason: String,
    },
}
