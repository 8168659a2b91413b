//! The Okta org simulator: a deterministic org (users, groups, apps, admins, networks) and its
//! System Log activity written in the shapes and quirks of real Okta events ([`generate`]), and
//! attack scenarios injected into it with their ground truth ([`scenario`]), and the directory
//! state its management APIs show ([`directory`]). [`world`] assembles them into the org's history
//! as served (persistence order, late events, directory changes as they come due), and [`api`]
//! serves it over HTTP with Okta's semantics, auth, rate limits and faults; [`hooks`] delivers it
//! to an event hook endpoint.

pub mod api;
pub mod directory;
pub mod generate;
pub mod hooks;
pub mod scenario;
pub mod world;

/// A fixed clock for tests and benchmarks: Tuesday 2024-03-05 14:00 UTC, a working afternoon
/// in the Americas and Europe. The history before it is weekday-busy and the same in every
/// run; a history anchored at the wall clock is thin on weekends (most users do not sign in)
/// and changes with the hour, so counts taken from it are not something a test can assert.
pub fn busy_tuesday() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_709_647_200, 0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn busy_tuesday_is_a_tuesday_afternoon() {
        use chrono::{Datelike, Timelike};
        let t = super::busy_tuesday();
        assert_eq!(t.to_rfc3339(), "2024-03-05T14:00:00+00:00");
        assert_eq!(t.weekday(), chrono::Weekday::Tue);
        assert_eq!(t.hour(), 14);
    }
}
