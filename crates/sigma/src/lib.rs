//! idwatch's detection language: Sigma v2.1 rules (detection rules, correlation rules, meta
//! filters) compiled once into an immutable engine and evaluated against
//! `okta::LogEvent`s, plus the stateful correlation engine that keeps keyed sliding windows.
//! The rest of idwatch sees only this crate's types, never the engine underneath, so the
//! engine can change without touching `detect` or the CLI.
