//! The schema, as a numbered, append-only list of migrations tracked by `PRAGMA user_version`.
//! Never edit or remove an entry: add a new one (cargo's `util/sqlite.rs` discipline).
//!
//! Tables:
//! - `orgs`: the orgs this store holds.
//! - `terms`: interned strings for low- and medium-cardinality pivots (eventType, outcome, actor
//!   ids, client IP, target ids), so event rows and their indexes hold small integers.
//! - `events`: one row per event: `seq` (global insertion order), org, block, `published`
//!   (µs), pivot term ids, and 32-bit hashes of the high-cardinality ids (sessions, transaction),
//!   which are verified against the raw JSON after the index lookup.
//! - `targets`: (org, term, seq) for every `target[].id` and `target[].alternateId`.
//! - `uuids`: (org, 16-byte uuid key) → seq and an 8-byte content hash: the dedupe index.
//! - `blocks`: zstd-compressed raw JSON of consecutive events.
//! - `batches`: one row per committed batch: the hash chain and its manifest.

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: the hot tier and the chain.
    r#"
    CREATE TABLE orgs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE terms (
        id INTEGER PRIMARY KEY,
        kind INTEGER NOT NULL,
        value TEXT NOT NULL,
        UNIQUE (kind, value)
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        org INTEGER NOT NULL,
        block INTEGER NOT NULL,
        published INTEGER NOT NULL,
        event_type INTEGER NOT NULL,
        outcome INTEGER,
        actor_id INTEGER,
        actor_alt INTEGER,
        client_ip INTEGER,
        session_h INTEGER,
        root_session_h INTEGER,
        transaction_h INTEGER
    );
    CREATE INDEX events_published ON events (org, published);
    CREATE INDEX events_event_type ON events (org, event_type, published);
    CREATE INDEX events_outcome ON events (org, outcome, published);
    CREATE INDEX events_actor_id ON events (org, actor_id, published);
    CREATE INDEX events_actor_alt ON events (org, actor_alt, published);
    CREATE INDEX events_client_ip ON events (org, client_ip, published);
    CREATE INDEX events_session ON events (org, session_h) WHERE session_h IS NOT NULL;
    CREATE INDEX events_root_session ON events (org, root_session_h) WHERE root_session_h IS NOT NULL;
    CREATE INDEX events_transaction ON events (org, transaction_h) WHERE transaction_h IS NOT NULL;
    CREATE TABLE targets (
        org INTEGER NOT NULL,
        term INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (org, term, seq)
    ) WITHOUT ROWID;
    CREATE TABLE uuids (
        org INTEGER NOT NULL,
        key BLOB NOT NULL,
        seq INTEGER NOT NULL,
        hash INTEGER NOT NULL,
        PRIMARY KEY (org, key)
    ) WITHOUT ROWID;
    CREATE TABLE blocks (
        id INTEGER PRIMARY KEY,
        org INTEGER NOT NULL,
        first_seq INTEGER NOT NULL,
        count INTEGER NOT NULL,
        min_published INTEGER NOT NULL,
        max_published INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    CREATE INDEX blocks_org ON blocks (org, min_published);
    CREATE INDEX blocks_seq ON blocks (first_seq);
    CREATE TABLE batches (
        id INTEGER PRIMARY KEY,
        org INTEGER NOT NULL,
        first_seq INTEGER NOT NULL,
        count INTEGER NOT NULL,
        ingested_at INTEGER NOT NULL,
        source TEXT NOT NULL,
        prev BLOB NOT NULL,
        link BLOB NOT NULL,
        manifest BLOB NOT NULL
    );
    CREATE INDEX batches_org ON batches (org, id);
    "#,
    // 2: one (eventType, outcome) index instead of two: "failed sign-ins" is the common
    // two-pivot question, and outcome alone is never selective enough to be worth 22 B/event.
    r#"
    DROP INDEX events_outcome;
    DROP INDEX events_event_type;
    CREATE INDEX events_event_type ON events (org, event_type, outcome, published);
    "#,
];
