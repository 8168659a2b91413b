//! Alert delivery: one module per sink (Slack incoming webhook, generic webhook with HMAC
//! signature, email over SMTP, syslog RFC 5424 with optional CEF), all reading the durable
//! alert outbox in the store, retrying with back-off and recording every attempt, so an alert
//! is delivered at least once across restarts and sink outages.
