//! Collecting an Okta org's System Log: the HTTP client for Okta's APIs (SSWS tokens and OAuth
//! 2.0 service apps with `private_key_jwt`, Okta error bodies, `Link` pagination), our
//! share of the rate-limit bucket, the durable cursor, and the poller that drives Okta's
//! polling algorithm and hands each page to a sink that commits it together with the cursor. Kept apart from `okta` so the simulator (which depends on `okta`) never
//! shares the client's code: a bug in the client cannot hide behind the same bug in the peer.
