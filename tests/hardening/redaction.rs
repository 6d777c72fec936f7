//! One redaction rule behind every view: Debug, previews, debug records and the Display of every error never show a secret.
//!
//! Part of `tests/hardening.rs` (issue 19, second hardening round); the
//! helpers `service`, `config`, `load` and `call` come from there.

#[allow(unused_imports)]
use super::*;
