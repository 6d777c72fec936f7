//! callhook's tests that need heavy dev-dependencies live in `tests/` here;
//! this library holds their shared helpers: the library's own
//! `tests/common`, compiled once for all of them.

#[path = "../../tests/common/mod.rs"]
pub mod common;
