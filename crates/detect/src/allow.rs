//! Allowlists: deconflicting known-authorized admin activity without editing rules. Two ways,
//! both counted:
//!
//! - **Sigma meta filters** in a user rule directory (`filter:` documents naming the rules they
//!   apply to) are applied by the engine to single events before anything is matched.
//! - **Config entries** (`[[detect.allow]]`, see [`crate::config::AllowEntry`]): an entry
//!   suppresses a match of one of its rules when every criterion it gives holds for the
//!   match's evidence: a client IP inside one of its CIDRs, an actor it names, an event time
//!   inside one of its change windows.
//!
//! Evidence is the event for a single-event match. A correlation match carries no single event,
//! so its evidence is its group key (an IP criterion applies to a correlation grouped by
//! `client.ipAddress`, an actor criterion to one grouped by `actor.*`) and its time; a
//! criterion with no evidence to test does not hold, so a correlation is never suppressed by
//! an entry it cannot be checked against. Every suppression is counted per entry and rule and
//! committed with the detector's position ([`store::detection`]).

use crate::config::AllowEntry;
use crate::error::DetectError;
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use sigma::{Match, MatchKind, RuleSet};
use std::collections::HashSet;
use std::net::IpAddr;

/// Compiled allowlist entries.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    name: String,
    /// Rule keys; `None` is every rule.
    rules: Option<HashSet<String>>,
    nets: Vec<IpNet>,
    actors: Vec<ActorPattern>,
    windows: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

#[derive(Debug, Clone)]
enum ActorPattern {
    Exact(String),
    Suffix(String),
}

impl ActorPattern {
    fn matches(&self, actor: &str) -> bool {
        let actor = actor.to_ascii_lowercase();
        match self {
            ActorPattern::Exact(a) => actor == *a,
            ActorPattern::Suffix(s) => actor.ends_with(s.as_str()),
        }
    }
}

/// What an allowlist entry is checked against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    /// Client IPs.
    pub ips: Vec<IpAddr>,
    /// Actor logins and ids.
    pub actors: Vec<String>,
    /// Event time.
    pub at: Option<DateTime<Utc>>,
}

impl Evidence {
    /// The evidence of `m`: `event` for a single-event match, else the group key.
    pub fn of(m: &Match, event: Option<&okta::LogEvent>) -> Evidence {
        let mut evidence = Evidence {
            at: Some(m.at),
            ..Evidence::default()
        };
        match (m.kind, event) {
            (MatchKind::Detection, Some(event)) => {
                if let Some(ip) = event.client_ip().and_then(|ip| ip.parse().ok()) {
                    evidence.ips.push(ip);
                }
                let actor = event.actor();
                evidence.actors.extend(
                    actor
                        .alternate_id
                        .into_iter()
                        .chain(actor.id)
                        .map(str::to_string),
                );
            }
            _ => {
                for (field, value) in m.group_key.iter().flatten() {
                    let Some(text) = value.as_str() else { continue };
                    let lower = field.to_ascii_lowercase();
                    if lower.starts_with("actor.") {
                        evidence.actors.push(text.to_string());
                    } else if lower.contains("ipaddress") || lower == "ip" || lower.ends_with(".ip")
                    {
                        if let Ok(ip) = text.parse() {
                            evidence.ips.push(ip);
                        }
                    }
                }
            }
        }
        evidence
    }
}

impl Allowlist {
    /// Compiles entries; `entries` pairs each with the config path it came from (for errors).
    /// Rule references are resolved against `rules`.
    pub fn compile(
        entries: &[(String, AllowEntry)],
        rules: &RuleSet,
    ) -> Result<Allowlist, DetectError> {
        let mut out = Vec::with_capacity(entries.len());
        let mut names = HashSet::new();
        for (path, entry) in entries {
            let err = |field: &str, reason: String| DetectError::Config {
                field: format!("{path}.{field}"),
                reason,
            };
            if entry.name.trim().is_empty() {
                return Err(err(
                    "name",
                    "every entry needs a name (name = \"it-vpn\")".into(),
                ));
            }
            if !names.insert(entry.name.clone()) {
                return Err(err(
                    "name",
                    format!("`{}` is used by two entries", entry.name),
                ));
            }
            if entry.ips.is_empty() && entry.actors.is_empty() && entry.windows.is_empty() {
                return Err(err(
                    "ips",
                    "give at least one of ips, actors or windows (to silence a rule entirely, \
                     add it to `disable`)"
                        .into(),
                ));
            }
            let rule_keys = if entry.rules.is_empty() {
                None
            } else {
                let mut keys = HashSet::new();
                for (i, reference) in entry.rules.iter().enumerate() {
                    let index = rules.find(reference).ok_or_else(|| {
                        err(
                            &format!("rules[{i}]"),
                            format!("no rule `{reference}` (`idwatch rules list` shows ids)"),
                        )
                    })?;
                    keys.insert(rules.rules()[index].key().to_string());
                }
                Some(keys)
            };
            let mut nets = Vec::new();
            for (i, text) in entry.ips.iter().enumerate() {
                let net = text
                    .parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        err(
                            &format!("ips[{i}]"),
                            format!("`{text}` is not an IP or CIDR (e.g. 203.0.113.0/24)"),
                        )
                    })?;
                nets.push(net);
            }
            let actors = entry
                .actors
                .iter()
                .map(|a| {
                    let a = a.trim().to_ascii_lowercase();
                    match a.strip_prefix('*') {
                        Some(suffix) => ActorPattern::Suffix(suffix.to_string()),
                        None => ActorPattern::Exact(a),
                    }
                })
                .collect();
            let mut windows = Vec::new();
            for (i, w) in entry.windows.iter().enumerate() {
                if w.start >= w.end {
                    return Err(err(
                        &format!("windows[{i}]"),
                        format!("start {} is not before end {}", w.start, w.end),
                    ));
                }
                windows.push((w.start, w.end));
            }
            out.push(Entry {
                name: entry.name.clone(),
                rules: rule_keys,
                nets,
                actors,
                windows,
            });
        }
        Ok(Allowlist { entries: out })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first entry that suppresses a match of `rule_key` with `evidence`, by name.
    pub fn suppressing(&self, rule_key: &str, evidence: &Evidence) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| {
                e.rules.as_ref().is_none_or(|r| r.contains(rule_key))
                    && (e.nets.is_empty()
                        || evidence
                            .ips
                            .iter()
                            .any(|ip| e.nets.iter().any(|n| n.contains(ip))))
                    && (e.actors.is_empty()
                        || evidence
                            .actors
                            .iter()
                            .any(|a| e.actors.iter().any(|p| p.matches(a))))
                    && (e.windows.is_empty()
                        || evidence
                            .at
                            .is_some_and(|t| e.windows.iter().any(|(s, end)| *s <= t && t < *end)))
            })
            .map(|e| e.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ChangeWindow;

    fn rules() -> RuleSet {
        RuleSet::from_yaml(
            "title: Grant\nid: grant\nlogsource: {product: okta}\ndetection:\n  s: {eventType: user.account.privilege.grant}\n  condition: s\n",
            &sigma::CompileOptions::default(),
        )
        .expect("rules")
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn every_given_criterion_must_hold() {
        let entry = AllowEntry {
            name: "change".into(),
            rules: vec!["grant".into()],
            ips: vec!["10.0.0.0/8".into(), "198.51.100.7".into()],
            actors: vec!["*@corp.example".into()],
            windows: vec![ChangeWindow {
                start: t("2024-05-01T00:00:00Z"),
                end: t("2024-05-02T00:00:00Z"),
            }],
            reason: None,
        };
        let list = Allowlist::compile(&[("detect.allow[0]".into(), entry)], &rules()).expect("ok");
        let evidence = |ip: &str, actor: &str, at: &str| Evidence {
            ips: vec![ip.parse().expect("ip")],
            actors: vec![actor.into()],
            at: Some(t(at)),
        };
        let inside = evidence("10.1.2.3", "Admin@CORP.example", "2024-05-01T10:00:00Z");
        assert_eq!(list.suppressing("grant", &inside), Some("change"));
        assert_eq!(list.suppressing("other", &inside), None);
        for miss in [
            evidence("192.0.2.1", "admin@corp.example", "2024-05-01T10:00:00Z"),
            evidence("198.51.100.7", "admin@evil.example", "2024-05-01T10:00:00Z"),
            evidence("198.51.100.7", "admin@corp.example", "2024-05-02T00:00:00Z"),
        ] {
            assert_eq!(list.suppressing("grant", &miss), None, "{miss:?}");
        }
        // No evidence for a criterion: not suppressed.
        let bare = Evidence {
            at: Some(t("2024-05-01T10:00:00Z")),
            ..Evidence::default()
        };
        assert_eq!(list.suppressing("grant", &bare), None);
    }

    #[test]
    fn bad_entries_name_their_field() {
        let cases = [
            (
                AllowEntry {
                    name: "x".into(),
                    ips: vec!["10.0.0.300/8".into()],
                    ..AllowEntry::default()
                },
                "detect.allow[0].ips[0]",
            ),
            (
                AllowEntry {
                    name: "x".into(),
                    rules: vec!["nope".into()],
                    actors: vec!["a".into()],
                    ..AllowEntry::default()
                },
                "detect.allow[0].rules[0]",
            ),
            (
                AllowEntry {
                    name: "x".into(),
                    ..AllowEntry::default()
                },
                "detect.allow[0].ips",
            ),
        ];
        for (entry, field) in cases {
            let err = Allowlist::compile(&[("detect.allow[0]".into(), entry)], &rules())
                .expect_err("bad");
            assert!(err.to_string().starts_with(field), "{err}");
        }
    }
}
