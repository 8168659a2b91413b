//! The Slack sink: an incoming webhook receiving a Block Kit message (what, who, where, why,
//! evidence), coloured by level. `config.rs` is the user-facing settings, `sink.rs` builds the
//! message and delivers it, `tests.rs` checks both.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{SlackSinkConfig, SLACK_EXAMPLE};
pub use sink::{slack_payload, SlackSink};
