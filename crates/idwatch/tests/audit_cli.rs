//! End-to-end tests of `idwatch admins`, `idwatch audit credentials` and `idwatch posture`
//! against the simulator over loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]
