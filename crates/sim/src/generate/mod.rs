//! A deterministic generator of realistic Okta System Log activity.
//!
//! [`Org::build`] makes the directory from an [`OrgConfig`]; [`Generator`] walks the calendar
//! from a start time and yields [`GeneratedEvent`]s in `published` order: people signing in
//! during their local working hours (few at weekends) with Okta Verify pushes, FastPass or
//! security keys, single sign-on into their apps, OAuth grants, sign-outs; the odd wrong password,
//! denied push and lockout; password changes; admins managing groups, apps, joiners and leavers;
//! and Okta's own `system@okta.com` jobs and API integrations. Events are written in the field
//! set, key order and quirks of real Okta events (see [`event`]).
//!
//! Each calendar date is generated from its own RNG stream of the seed, so the same config always
//! gives byte-identical output. Extra events (attack scenarios) are merged in with
//! [`Generator::inject`]; build them with [`event::EventSpec`] and [`event::EventWriter`] so they
//! look like the rest.

mod activity;
#[rustfmt::skip]
pub(crate) mod catalog;
pub mod event;
pub mod ids;
mod json;
pub(crate) mod org;
mod session;
#[cfg(test)]
mod tests;

pub use event::{Client, EventSpec, EventWriter};
pub use org::{
    trip_day, Admin, AdminRole, Agent, App, AuthorizationServer, Device, Factor, Group, GroupKind,
    Isp, NetworkZone, Office, Org, OrgConfig, Place, Policy, PolicyRule, ServiceClient, SignOnMode,
    TripDay, User,
};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

/// One generated event: its JSON text (one line) and the two fields callers sort and dedupe by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedEvent {
    /// `published`.
    pub published: DateTime<Utc>,
    /// `uuid`.
    pub uuid: String,
    /// The event as compact JSON.
    pub json: String,
}

/// An injected event waiting for its turn: ordered by time, then by injection order.
#[derive(Debug)]
struct Injected {
    seq: u64,
    event: GeneratedEvent,
}

impl PartialEq for Injected {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Injected {}
impl PartialOrd for Injected {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Injected {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.event.published, self.seq).cmp(&(other.event.published, other.seq))
    }
}

/// The org's activity from a start time on, in non-decreasing `published` order, for ever.
///
/// ```
/// use sim::generate::{Generator, OrgConfig};
/// let config = OrgConfig { users: 50, ..OrgConfig::default() };
/// let events: Vec<_> = Generator::from_config(&config).take(100).collect();
/// assert_eq!(events.len(), 100);
/// assert!(events.windows(2).all(|w| w[0].published <= w[1].published));
/// ```
pub struct Generator {
    org: Org,
    start: DateTime<Utc>,
    /// The next calendar date to generate.
    next_date: NaiveDate,
    /// Events final in order (nothing generated later can precede them).
    ready: VecDeque<GeneratedEvent>,
    /// Generated events that later dates might still precede, sorted by `published`.
    pending: Vec<GeneratedEvent>,
    injected: BinaryHeap<Reverse<Injected>>,
    injected_count: u64,
    writer: EventWriter,
}

impl Generator {
    /// The activity of `org` from `start` on (events before `start` are not produced).
    pub fn new(org: Org, start: DateTime<Utc>) -> Generator {
        Generator {
            org,
            start,
            next_date: start.date_naive(),
            ready: VecDeque::new(),
            pending: Vec::new(),
            injected: BinaryHeap::new(),
            injected_count: 0,
            writer: EventWriter::new(),
        }
    }

    /// The activity of the org `config` describes, from `config.start` on.
    pub fn from_config(config: &OrgConfig) -> Generator {
        Generator::new(Org::build(config), config.start)
    }

    /// Every event of the `days` days from `start` (`[start, start + days)`).
    pub fn days(org: Org, start: DateTime<Utc>, days: u32) -> impl Iterator<Item = GeneratedEvent> {
        let end = start + Duration::days(i64::from(days));
        Generator::new(org, start).take_while(move |e| e.published < end)
    }

    /// The org behind the activity.
    pub fn org(&self) -> &Org {
        &self.org
    }

    /// Merges `event` into the stream at its `published` time (after generated events of the same
    /// millisecond). An event older than what was already yielded comes out next, out of order,
    /// like a late-arriving event in Okta.
    pub fn inject(&mut self, event: GeneratedEvent) {
        self.injected.push(Reverse(Injected {
            seq: self.injected_count,
            event,
        }));
        self.injected_count += 1;
    }

    /// Generates the next calendar date and releases the events no later date can precede.
    fn generate_next_date(&mut self) {
        let date = self.next_date;
        self.next_date = date.succ_opt().unwrap_or(date);
        let mut events = Vec::new();
        activity::generate_day(&self.org, date, &mut self.writer, &mut events);
        events.retain(|e| e.published >= self.start);
        self.pending.append(&mut events);
        // Stable: events of one millisecond keep the order they were generated in.
        self.pending.sort_by_key(|e| e.published);
        let next_midnight = self
            .next_date
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc();
        let horizon = next_midnight - activity::LOOKBEHIND;
        let releasable = self.pending.partition_point(|e| e.published < horizon);
        self.ready.extend(self.pending.drain(..releasable));
    }
}

impl Iterator for Generator {
    type Item = GeneratedEvent;

    fn next(&mut self) -> Option<GeneratedEvent> {
        // Every date has events (API integrations fetch tokens around the clock), so this ends.
        while self.ready.is_empty() {
            self.generate_next_date();
        }
        let injected_first = match (self.ready.front(), self.injected.peek()) {
            (Some(generated), Some(Reverse(injected))) => {
                injected.event.published < generated.published
            }
            _ => false,
        };
        if injected_first {
            self.injected.pop().map(|Reverse(i)| i.event)
        } else {
            self.ready.pop_front()
        }
    }
}
