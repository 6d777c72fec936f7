//! Signing and verifying: Twilio conformance (ports, empty query), bounded verification, weak keys refused.
//!
//! Part of `tests/hardening.rs` (issue 19, second hardening round); the
//! helpers `service`, `config`, `load` and `call` come from there.

#[allow(unused_imports)]
use super::*;
