//! The syslog sink: RFC 5424 messages over UDP (one datagram each) or TCP (RFC 6587 octet
//! counting), with the message either plain text or a CEF event. `config.rs` is the settings,
//! `encode.rs` the RFC 5424 and CEF encodings (escaping included), `sink.rs` the delivery,
//! `tests.rs` checks them.

mod config;
mod encode;
mod sink;
#[cfg(test)]
mod tests;

pub use config::{Facility, SyslogFormat, SyslogProtocol, SyslogSinkConfig, SYSLOG_EXAMPLE};
pub use encode::{cef_escape_extension, cef_escape_header, cef_line, rfc5424_line, HeaderFields};
pub use sink::SyslogSink;
