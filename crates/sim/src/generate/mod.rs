//! A deterministic generator of realistic Okta System Log activity.
//!
//! [`Org::build`] makes the directory from a seed; [`Generator`] walks the calendar from a start
//! time and yields [`GeneratedEvent`]s in `published` order: people signing in during their
//! local working hours (fewer at weekends), MFA pushes, SSO into apps, sessions ending, the odd
//! wrong password, denied push, lockout and password change, admins at work, and Okta's own
//! `system@okta.com` jobs. Every event is written with the real samples' field set, key order
//! and quirks (`"zone":"null"`, `{level=LOW}` strings, `target: null`, `request.ipChain`).
//!
//! Each day is generated from its own RNG, seeded from (seed, day), so the same config always
//! gives byte-identical output. JSON is written directly into a `String` (no `Value` trees):
//! this is what makes `idwatch sim generate` fast enough for benchmarks.

mod activity;
pub mod ids;
mod json;
mod org;
#[cfg(test)]
mod tests;

pub use org::{AdminRole, Agent, App, Group, Network, Org, OrgConfig, Place, User};
pub use org::{AGENTS, NETWORKS, PLACES};

use chrono::{DateTime, Duration, Utc};
use std::collections::VecDeque;

/// One generated event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedEvent {
    /// `published`.
    pub published: DateTime<Utc>,
    /// `uuid`.
    pub uuid: String,
    /// The event's JSON text (one line).
    pub json: String,
}

/// Yields the org's activity in `published` order, day after day, for ever.
pub struct Generator {
    org: Org,
    start: DateTime<Utc>,
    day: i64,
    ready: VecDeque<GeneratedEvent>,
    spill: Vec<GeneratedEvent>,
}

impl Generator {
    /// Activity of `org` from `start` on.
    pub fn new(org: Org, start: DateTime<Utc>) -> Generator {
        Generator {
            org,
            start,
            day: 0,
            ready: VecDeque::new(),
            spill: Vec::new(),
        }
    }

    /// The org behind the activity.
    pub fn org(&self) -> &Org {
        &self.org
    }

    /// Every event of the first `days` days.
    pub fn days(org: Org, start: DateTime<Utc>, days: i64) -> impl Iterator<Item = GeneratedEvent> {
        let end = start + Duration::days(days);
        Generator::new(org, start).take_while(move |e| e.published < end)
    }

    fn fill(&mut self) {
        let day_start = self.start + Duration::days(self.day);
        let day_end = day_start + Duration::days(1);
        let mut events = std::mem::take(&mut self.spill);
        activity::generate_day(&self.org, self.day, day_start, &mut events);
        events.sort_by(|a, b| {
            a.published
                .cmp(&b.published)
                .then_with(|| a.uuid.cmp(&b.uuid))
        });
        for event in events {
            if event.published < day_end {
                self.ready.push_back(event);
            } else {
                self.spill.push(event);
            }
        }
        self.day += 1;
    }
}

impl Iterator for Generator {
    type Item = GeneratedEvent;

    fn next(&mut self) -> Option<GeneratedEvent> {
        // A day always holds activity (system jobs run daily), so this loop ends.
        while self.ready.is_empty() {
            self.fill();
        }
        self.ready.pop_front()
    }
}
