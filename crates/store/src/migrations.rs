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
//! - `alerts`, `alert_events`, `alert_notes`, `alert_outbox`, `alert_attempts`: raised alerts,
//!   the events behind them, responders' notes, and the durable delivery queue with every
//!   attempt (see `alerts`).
//! - `snapshots`: archived admin rosters and posture results, hashed and chained per org.
//! - `org_sources`, `collector_state`: where each org is collected from (credential references
//!   only) and the poller's cursor and counters (see `sources`).

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
    // 3: alerts, their notes and matching events, the delivery outbox and every attempt.
    // Alerts deduplicate on (org, rule_id, group_key) within a suppression window, so that
    // lookup is indexed; the outbox is read by "what is due" (state, next_attempt_at).
    r#"
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        org INTEGER NOT NULL REFERENCES orgs (id),
        rule_id TEXT NOT NULL,
        title TEXT NOT NULL,
        level INTEGER NOT NULL,
        group_key TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        count INTEGER NOT NULL,
        status INTEGER NOT NULL,
        context TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX alerts_dedupe ON alerts (org, rule_id, group_key, first_seen);
    CREATE INDEX alerts_last_seen ON alerts (last_seen);
    CREATE TABLE alert_events (
        alert INTEGER NOT NULL REFERENCES alerts (id),
        uuid TEXT NOT NULL,
        PRIMARY KEY (alert, uuid)
    ) WITHOUT ROWID;
    CREATE TABLE alert_notes (
        id INTEGER PRIMARY KEY,
        alert INTEGER NOT NULL REFERENCES alerts (id),
        at INTEGER NOT NULL,
        author TEXT NOT NULL,
        status INTEGER NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX alert_notes_alert ON alert_notes (alert, id);
    CREATE TABLE alert_outbox (
        id INTEGER PRIMARY KEY,
        alert INTEGER NOT NULL REFERENCES alerts (id),
        sink TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        state INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        lease_until INTEGER,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        delivered_at INTEGER
    );
    CREATE INDEX alert_outbox_due ON alert_outbox (state, next_attempt_at);
    CREATE INDEX alert_outbox_alert ON alert_outbox (alert);
    CREATE TABLE alert_attempts (
        id INTEGER PRIMARY KEY,
        outbox INTEGER NOT NULL REFERENCES alert_outbox (id),
        at INTEGER NOT NULL,
        outcome INTEGER NOT NULL,
        http_status INTEGER,
        error TEXT,
        next_attempt_at INTEGER,
        duration_us INTEGER NOT NULL
    );
    CREATE INDEX alert_attempts_outbox ON alert_attempts (outbox, id);
    "#,
    // 4: archived directory snapshots (admin roster, posture results), content-hashed and
    // chained per org; never updated or deleted (see `snapshots`).
    r#"
    CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY,
        org INTEGER NOT NULL REFERENCES orgs (id),
        kind TEXT NOT NULL,
        taken_at INTEGER NOT NULL,
        source TEXT NOT NULL,
        content TEXT NOT NULL,
        content_hash BLOB NOT NULL,
        prev BLOB NOT NULL,
        link BLOB NOT NULL
    );
    CREATE INDEX snapshots_org ON snapshots (org, kind, id);
    CREATE TRIGGER snapshots_never_updated BEFORE UPDATE ON snapshots
    BEGIN SELECT RAISE(ABORT, 'snapshots are archived: never updated'); END;
    CREATE TRIGGER snapshots_never_deleted BEFORE DELETE ON snapshots
    BEGIN SELECT RAISE(ABORT, 'snapshots are archived: never deleted'); END;
    "#,
    // 5: streaming detection: per org, the read position with the engine state it belongs to
    // (committed in the same transaction as the alerts it raised), and how many matches each
    // allowlist entry suppressed, per rule (see `detection`).
    r#"
    CREATE TABLE detect_positions (
        org INTEGER PRIMARY KEY REFERENCES orgs (id),
        position INTEGER NOT NULL,
        state BLOB NOT NULL,
        state_format INTEGER NOT NULL,
        events INTEGER NOT NULL,
        alerts INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE detect_suppressions (
        org INTEGER NOT NULL REFERENCES orgs (id),
        entry TEXT NOT NULL,
        rule_id TEXT NOT NULL,
        count INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        PRIMARY KEY (org, entry, rule_id)
    ) WITHOUT ROWID;
    "#,
    // 6: the archive catalog: sealed Parquet segments and the archive's own hash chain of
    // seal / compact / retain operations (see `segments`).
    r#"
    CREATE TABLE segments (
        id INTEGER PRIMARY KEY,
        org INTEGER NOT NULL REFERENCES orgs (id),
        path TEXT NOT NULL UNIQUE,
        state INTEGER NOT NULL,
        level INTEGER NOT NULL,
        date TEXT NOT NULL,
        min_published INTEGER NOT NULL,
        max_published INTEGER NOT NULL,
        rows INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        entries_hash TEXT NOT NULL,
        seqs BLOB NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX segments_org ON segments (org, state, min_published);
    CREATE TABLE archive_log (
        id INTEGER PRIMARY KEY,
        org INTEGER NOT NULL REFERENCES orgs (id),
        kind TEXT NOT NULL,
        at INTEGER NOT NULL,
        body TEXT NOT NULL,
        prev BLOB NOT NULL,
        link BLOB NOT NULL
    );
    CREATE INDEX archive_log_org ON archive_log (org, id);
    "#,
    // 7: the collector: each org's source (URL and credential references, never a secret) and
    // the poller's state: the opaque `next` cursor, committed with each page's events, and
    // cumulative counters for `idwatch status` (see `sources`).
    r#"
    CREATE TABLE org_sources (
        org INTEGER PRIMARY KEY REFERENCES orgs (id),
        url TEXT NOT NULL,
        auth_kind TEXT NOT NULL,
        auth TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE collector_state (
        org INTEGER PRIMARY KEY REFERENCES orgs (id),
        next_url TEXT,
        cursor_at INTEGER,
        newest_published INTEGER,
        pages INTEGER NOT NULL DEFAULT 0,
        events INTEGER NOT NULL DEFAULT 0,
        duplicates INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        rate_limited INTEGER NOT NULL DEFAULT 0,
        retries INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        cursor_resets INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        last_error_at INTEGER,
        last_success_at INTEGER,
        caught_up_at INTEGER,
        updated_at INTEGER NOT NULL
    );
    "#,
    // 8: term filters of sealed segments (Bloom filters over session, transaction, actor and
    // IP values, written by the archive), so lookups skip segments without opening them.
    r#"
    CREATE TABLE segment_terms (
        segment_id INTEGER PRIMARY KEY,
        filters BLOB NOT NULL
    );
    "#,
];
