//! Limits, not panics: every count and size input can carry is bounded at load or at the call, with an error naming the limit; numbers are carried exactly.
//!
//! Part of `tests/hardening.rs` (issue 19, second hardening round); the
//! helpers `service`, `config`, `load` and `call` come from there.

#[allow(unused_imports)]
use super::*;
