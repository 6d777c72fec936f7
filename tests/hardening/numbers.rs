//! Call data, stored numbers and received values carried exactly, and bounded:
//! integers never change, values and bodies have size limits.
//!
//! Part of `tests/hardening.rs` (issue 19, second hardening round); the
//! helpers `service`, `config`, `load` and `call` come from there.

#[allow(unused_imports)]
use super::*;
