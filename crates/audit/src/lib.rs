//! Auditing an Okta tenant beyond its log: admin roster snapshots (direct, group-derived,
//! groups, custom roles, service apps) archived and chained, their diffs explained by log
//! events, the credential-change audit, and posture checks against Okta's hardening guidance.
