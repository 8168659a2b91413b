//! The server crate's integration tests, one binary: real SQLite files in temp dirs, real HTTP
//! on loopback, events from the real simulator.

mod daemon;
mod emitter;
mod harness;
mod hooks;
mod metrics;
