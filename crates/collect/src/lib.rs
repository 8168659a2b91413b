//! Collecting an Okta org's System Log: the HTTP client for Okta's APIs ([`OktaClient`]: SSWS
//! tokens and OAuth 2.0 service apps with `private_key_jwt` and DPoP, Okta error bodies, `Link`
//! pagination), our share of the rate-limit bucket ([`RateBudget`]), and the poller that drives
//! Okta's polling algorithm and commits each page together with its cursor. Kept apart from
//! `okta` so the simulator (which depends on `okta`) never shares the client's code: a bug in
//! the client cannot hide behind the same bug in the peer.

pub mod client;
pub mod credentials;
pub mod error;
pub mod link;
pub mod oauth;
pub mod poller;
pub mod rate;
pub mod secret;

pub use client::{ClientConfig, CounterSnapshot, LogPage, OktaClient};
pub use credentials::{CredentialSpec, Credentials, OAuthCredentials, LOGS_READ_SCOPE};
pub use error::{ClientError, OktaError};
pub use poller::{client_from_store, run_all, PollError, Poller, PollerConfig, PollerStats};
pub use rate::{RateBudget, RateConfig};
pub use secret::{Secret, SecretError, SecretRef};
