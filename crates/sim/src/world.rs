//! The assembled history of one simulated org, as the API serves it: the background activity of
//! [`crate::generate`], the attack scenarios of [`crate::scenario`] injected into it, and the
//! directory state with each scenario change applied once its time has passed.
//!
//! [`history`] is the one definition of "the org's history" that `idwatch sim generate` writes
//! and `idwatch sim serve` serves, so both hold the same events with the same uuids.
//!
//! Okta commits each event some time after its `published` (its *persistence time*) and polling
//! requests follow that order, not `published`. [`World`] models it: every event gets a
//! deterministic persistence delay (up to [`PERSISTENCE_JITTER_MS`] ms, so persistence order
//! differs slightly from `published` order) and, when late events are configured, a few get a
//! long one ([`WorldConfig::late`]): they are invisible to every query until their persistence
//! time, and then show up to polling after events published later. Committed events get an
//! increasing persistence sequence number ([`StoredEvent::seq`]); the log is append-only, so a
//! cursor on the sequence never skips an event that is committed later.

use crate::directory::{Directory, Posture};
use crate::generate::{GeneratedEvent, Generator, Org, OrgConfig};
use crate::scenario::{self, GroundTruth, ScenarioError, TimedChange};
use chrono::{DateTime, Duration, Utc};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::iter::Peekable;
use std::sync::Arc;

/// The largest ordinary persistence delay, in milliseconds.
pub const PERSISTENCE_JITTER_MS: u64 = 1500;

/// What org and history to build.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldConfig {
    /// Seed of the org, its activity and the scenarios.
    pub seed: u64,
    /// Number of users.
    pub users: usize,
    /// Days of history before `now`.
    pub days: u32,
    /// Scenario names (see [`scenario::SCENARIOS`]).
    pub scenarios: Vec<String>,
    /// The end of the history: events are generated for `[now - days, now)`.
    pub now: DateTime<Utc>,
    /// Persistence delay of late events (zero: no late events).
    pub late: Duration,
    /// Fraction (0–1) of events that are late when `late` is non-zero.
    pub late_fraction: f64,
    /// Whether activity continues after `now` as the clock advances.
    pub live: bool,
    /// Directory posture (hardened or weak).
    pub posture: Posture,
    /// Events published longer ago than this are never returned.
    pub retention_days: u32,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            seed: 1,
            users: 100,
            days: 1,
            scenarios: Vec::new(),
            now: default_anchor(),
            late: Duration::zero(),
            late_fraction: 0.02,
            live: false,
            posture: Posture::Hardened,
            retention_days: 90,
        }
    }
}

/// The fixed anchor `idwatch sim generate` uses by default: 2024-04-01T00:00:00Z.
pub fn default_anchor() -> DateTime<Utc> {
    DateTime::from_timestamp(1_711_929_600, 0).unwrap_or_default()
}

/// Why a world cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorldError {
    /// A scenario is unknown or cannot be placed.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A parameter is out of range.
    #[error("{0}")]
    Invalid(String),
}

/// The org, its scenario plan and its activity, before any time passes.
pub struct History {
    /// The org.
    pub org: Org,
    /// Ground truth of each scenario.
    pub truth: Vec<GroundTruth>,
    /// Scenario directory changes, in time order.
    pub changes: Vec<TimedChange>,
    /// The activity from `now - days` on, scenario events merged in, in `published` order and
    /// unbounded: take events while `published < now` for the history.
    pub events: Generator,
    /// Start of the history (`now - days`).
    pub start: DateTime<Utc>,
}

/// The longest history [`history`] builds: ten years (Okta itself keeps 90 days).
pub const MAX_DAYS: u32 = 3650;

/// Builds the org's history as `config` describes it (the same config always gives the same
/// events, uuids and truth).
pub fn history(config: &WorldConfig) -> Result<History, WorldError> {
    if config.users == 0 {
        return Err(WorldError::Invalid("users must be at least 1".into()));
    }
    if config.days == 0 || config.days > MAX_DAYS {
        return Err(WorldError::Invalid(format!(
            "days must be between 1 and {MAX_DAYS} (got {})",
            config.days
        )));
    }
    let start = config.now - Duration::days(i64::from(config.days));
    let org_config = OrgConfig {
        seed: config.seed,
        users: config.users,
        start,
        ..OrgConfig::default()
    };
    let org = Org::build(&org_config);
    let plan = scenario::plan(&org, &config.scenarios, start, config.now, config.seed)?;
    let mut events = Generator::new(org.clone(), start);
    for event in plan.events {
        events.inject(event);
    }
    Ok(History {
        org,
        truth: plan.truth,
        changes: plan.changes,
        events,
        start,
    })
}

/// One committed event.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Persistence sequence: 0, 1, 2, ... in commit order.
    pub seq: u64,
    /// Generation order: the position in the history `generate` writes.
    pub order: u64,
    /// `published`.
    pub published: DateTime<Utc>,
    /// When it was committed (`published` + delay).
    pub persisted: DateTime<Utc>,
    /// `uuid`.
    pub uuid: Arc<str>,
    /// The event as compact JSON.
    pub json: Arc<str>,
}

/// An event generated but not yet committed, ordered by persistence time then generation order.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    persisted: DateTime<Utc>,
    order: u64,
    published: DateTime<Utc>,
    uuid: String,
    json: String,
}

/// The org as the API sees it at the current time.
pub struct World {
    org: Org,
    directory: Directory,
    truth: Vec<GroundTruth>,
    unapplied: VecDeque<TimedChange>,
    committed: Vec<StoredEvent>,
    /// `(published µs, generation order)` → `seq` of every committed event.
    by_published: BTreeMap<(i64, u64), u64>,
    pending: BinaryHeap<Reverse<Pending>>,
    generated: u64,
    /// Every uuid generated so far (committed or pending), in generation order.
    uuids: Vec<Arc<str>>,
    /// Live activity still to come (`None` without `--live`).
    live: Option<Peekable<Generator>>,
    seed: u64,
    late: Duration,
    late_fraction: f64,
    retention: Duration,
    now: DateTime<Utc>,
}

impl World {
    /// Builds the history and commits every event persisted by `config.now`.
    pub fn build(config: &WorldConfig) -> Result<World, WorldError> {
        if !(0.0..=1.0).contains(&config.late_fraction) {
            return Err(WorldError::Invalid(format!(
                "late fraction {} is not between 0 and 1",
                config.late_fraction
            )));
        }
        let history = history(config)?;
        let mut world = World {
            directory: Directory::new(&history.org, config.posture),
            org: history.org,
            truth: history.truth,
            unapplied: history.changes.into(),
            committed: Vec::new(),
            by_published: BTreeMap::new(),
            pending: BinaryHeap::new(),
            generated: 0,
            uuids: Vec::new(),
            live: None,
            seed: config.seed,
            late: config.late,
            late_fraction: config.late_fraction,
            retention: Duration::days(i64::from(config.retention_days)),
            now: config.now,
        };
        let mut events = history.events.peekable();
        while let Some(event) = events.next_if(|e| e.published < config.now) {
            world.add(event);
        }
        if config.live {
            world.live = Some(events);
        }
        world.commit_until(config.now);
        Ok(world)
    }

    /// Moves the clock to `now` (never backwards): live activity up to `now` is generated,
    /// events persisted by `now` are committed, directory changes due by `now` are applied.
    pub fn advance(&mut self, now: DateTime<Utc>) {
        if now <= self.now {
            return;
        }
        self.now = now;
        if let Some(live) = self.live.as_mut() {
            let mut fresh = Vec::new();
            while let Some(event) = live.next_if(|e| e.published <= now) {
                fresh.push(event);
            }
            for event in fresh {
                self.add(event);
            }
        }
        self.commit_until(now);
    }

    fn add(&mut self, event: GeneratedEvent) {
        let hash = mix(self.seed, event.uuid.as_bytes());
        let jitter = Duration::milliseconds((hash % (PERSISTENCE_JITTER_MS + 1)) as i64);
        let is_late = !self.late.is_zero()
            && ((hash >> 24) % 1_000_000) as f64 / 1_000_000.0 < self.late_fraction;
        let delay = if is_late { self.late + jitter } else { jitter };
        let uuid = event.uuid;
        self.uuids.push(Arc::from(uuid.as_str()));
        self.pending.push(Reverse(Pending {
            persisted: event.published + delay,
            order: self.generated,
            published: event.published,
            uuid,
            json: event.json,
        }));
        self.generated += 1;
    }

    fn commit_until(&mut self, now: DateTime<Utc>) {
        while self
            .pending
            .peek()
            .is_some_and(|Reverse(p)| p.persisted <= now)
        {
            let Some(Reverse(p)) = self.pending.pop() else {
                break;
            };
            let seq = self.committed.len() as u64;
            self.by_published
                .insert((p.published.timestamp_micros(), p.order), seq);
            self.committed.push(StoredEvent {
                seq,
                order: p.order,
                published: p.published,
                persisted: p.persisted,
                uuid: Arc::from(p.uuid),
                json: Arc::from(p.json),
            });
        }
        while self.unapplied.front().is_some_and(|c| c.at <= now) {
            if let Some(change) = self.unapplied.pop_front() {
                self.directory.apply_at(&change);
            }
        }
        self.directory.set_now(now);
    }

    /// The current time of the world.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Events published before this are past retention and never returned.
    pub fn retention_floor(&self) -> DateTime<Utc> {
        self.now - self.retention
    }

    /// Committed events in persistence order (index = `seq`).
    pub fn committed(&self) -> &[StoredEvent] {
        &self.committed
    }

    /// `(published µs, generation order)` → `seq` of committed events: `published` order, ties
    /// in the order `idwatch sim generate` writes them.
    pub fn by_published(&self) -> &BTreeMap<(i64, u64), u64> {
        &self.by_published
    }

    /// Uuids of every event the org holds now: published by now, committed or still waiting
    /// for its persistence time (late events), in generation order.
    pub fn uuids(&self) -> &[Arc<str>] {
        &self.uuids
    }

    /// How many events are generated but not yet committed.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// The org.
    pub fn org(&self) -> &Org {
        &self.org
    }

    /// The directory with every change due by now applied.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Ground truth of the scenarios.
    pub fn truth(&self) -> &[GroundTruth] {
        &self.truth
    }
}

/// FNV-1a of `bytes` seeded with `seed`, finished with a murmur-style mix.
fn mix(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A busy Tuesday afternoon, so the last hour has events.
    fn config() -> WorldConfig {
        WorldConfig {
            users: 50,
            days: 1,
            now: DateTime::parse_from_rfc3339("2024-03-05T14:00:00Z")
                .map(|t| t.with_timezone(&Utc))
                .expect("time"),
            ..WorldConfig::default()
        }
    }

    #[test]
    fn a_history_longer_than_ten_years_is_refused_not_overflowed() {
        for days in [0, MAX_DAYS + 1, u32::MAX] {
            let config = WorldConfig { days, ..config() };
            let err = history(&config).err().expect("refused");
            assert!(
                err.to_string().contains("days must be between 1 and 3650"),
                "{err}"
            );
        }
    }

    #[test]
    fn persistence_order_differs_from_published_but_commits_everything() {
        let world = World::build(&config()).expect("world");
        let events = world.committed();
        assert!(events.len() > 100, "{} events", events.len());
        assert!(events.windows(2).all(|w| w[0].persisted <= w[1].persisted));
        assert!(
            events.windows(2).any(|w| w[0].published > w[1].published),
            "jitter reorders some events"
        );
        assert_eq!(events.len() + world.pending_count(), world.uuids().len());
    }

    #[test]
    fn late_events_wait_for_their_persistence_time() {
        let mut cfg = config();
        cfg.late = Duration::seconds(3600);
        cfg.late_fraction = 0.5;
        let mut world = World::build(&cfg).expect("world");
        let before = world.committed().len();
        assert!(world.pending_count() > 0);
        world.advance(cfg.now + Duration::seconds(3602));
        assert_eq!(world.pending_count(), 0);
        let late = &world.committed()[before..];
        assert!(!late.is_empty());
        assert!(late.iter().all(|e| e.published < cfg.now));
    }

    #[test]
    fn same_config_same_history() {
        let a = World::build(&config()).expect("a");
        let b = World::build(&config()).expect("b");
        assert_eq!(a.uuids(), b.uuids());
    }
}
