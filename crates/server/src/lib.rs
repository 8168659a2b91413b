//! idwatch's HTTP edge and its daemon: the Okta Event Hook receiver (verification handshake,
//! authenticated deliveries stored durably before answering), Prometheus metrics, the health
//! check, and the `Daemon` that runs collection, hooks, streaming detection and alert delivery
//! for every configured org. The router comes from one function so tests can drive it on a
//! loopback socket.
//!
//! - [`config`]: the `[server]` section of idwatch.toml.
//! - [`envelope`]: parsing a hook delivery body.
//! - [`hooks`]: the receiver.
//! - [`metrics`]: `/metrics` (Prometheus text), bearer-token guarded.
//! - [`app`]: the router (`/hooks/okta/{org}`, `/metrics`, `/healthz`) and `serve`.
//! - [`tasks`]: which daemon tasks run.
//! - [`daemon`]: the [`Daemon`] behind `idwatch serve`.

pub mod app;
pub mod config;
pub mod daemon;
pub mod envelope;
pub mod hooks;
pub mod metrics;
pub mod tasks;

pub use config::{ServerConfig, ServerConfigError};
pub use daemon::{ArchiveSchedule, Daemon, DaemonError, DaemonOrgs, DaemonReport, DaemonSettings};
pub use hooks::{HookOptions, HookReceiver};
pub use metrics::Metrics;
pub use tasks::TaskBoard;
