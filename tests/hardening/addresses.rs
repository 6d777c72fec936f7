//! The address policy, complete: embedded IPv4 addresses decoded, every special-purpose block refused, localhost names refused.
//!
//! Part of `tests/hardening.rs` (issue 19, second hardening round); the
//! helpers `service`, `config`, `load` and `call` come from there.

#[allow(unused_imports)]
use super::*;
