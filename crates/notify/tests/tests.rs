//! Integration tests of the notifier, one binary: every sink against a real peer on loopback
//! (axum capture server, aiosmtpd with STARTTLS, UDP/TCP syslog listeners), golden files for
//! the wire formats, and durability (outages, retries) over a real store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod durability;
mod email;
mod golden;
mod slack;
mod syslog;
mod webhook;
