//! The email sink: SMTP with STARTTLS (or implicit TLS) through lettre on rustls/ring, with a
//! plain-text and an HTML body. `config.rs` is the settings, `sink.rs` the message and delivery,
//! `tests.rs` checks them.

mod config;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{EmailSinkConfig, EmailTls, EMAIL_EXAMPLE};
pub use sink::{email_html, email_subject, EmailSink};
