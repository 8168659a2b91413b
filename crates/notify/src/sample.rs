//! A synthetic alert with every field a responder reads filled in: what `idwatch alerts
//! test-sink` sends to check a sink's setup, and what the tests and golden files render.

use chrono::{TimeZone, Utc};
use serde_json::json;
use std::collections::BTreeMap;
use store::alerts::{
    Alert, AlertActor, AlertClient, AlertContext, AlertId, AlertLevel, AlertStatus,
};
use store::OrgId;

/// The synthetic alert (id 0 never names a stored alert).
pub fn sample_alert() -> Alert {
    let at = Utc
        .with_ymd_and_hms(2024, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let last = Utc
        .with_ymd_and_hms(2024, 3, 1, 12, 4, 30)
        .single()
        .unwrap_or_default();
    let mut group_key = BTreeMap::new();
    group_key.insert("actor.id".to_string(), json!("00u1a2b3c4d5e6f7g8h9"));
    Alert {
        id: AlertId(0),
        org: OrgId(0),
        org_name: "acme".into(),
        rule_id: "okta-mfa-reset-then-admin-access".into(),
        title: "MFA factors reset, then admin console access".into(),
        level: AlertLevel::High,
        group_key,
        first_seen: at,
        last_seen: last,
        count: 2,
        status: AlertStatus::Open,
        context: AlertContext {
            summary: "jane.doe@example.com had every MFA factor reset and opened the Okta Admin Console 4 minutes later".into(),
            description: "Help-desk social engineering resets a victim's MFA, then uses the account's admin rights (the 2023 cross-tenant impersonation pattern).".into(),
            actor: Some(AlertActor {
                id: Some("00u1a2b3c4d5e6f7g8h9".into()),
                alternate_id: Some("jane.doe@example.com".into()),
                display_name: Some("Jane Doe".into()),
                kind: Some("User".into()),
            }),
            client: Some(AlertClient {
                ip: Some("203.0.113.7".into()),
                country: Some("Germany".into()),
                city: Some("Berlin".into()),
                asn: Some(3320),
                as_org: Some("Deutsche Telekom AG".into()),
                user_agent: None,
            }),
            references: vec!["https://sec.okta.com/articles/2023/08/cross-tenant-impersonation-prevention-and-detection".into()],
        },
        event_uuids: vec![
            "2a9e0e41-d7a2-11ee-99c9-fe965c640149".into(),
            "8c1f6b2e-d7a3-11ee-99c9-fe965c640149".into(),
        ],
        notes: Vec::new(),
        created_at: last,
        updated_at: last,
    }
}
