//! callhook's tests that need heavy dev-dependencies live in `tests/` here;
//! this library holds their shared helpers: the library's own
//! `tests/common`, compiled once for all of them.

#[path = "../../tests/common/mod.rs"]
pub mod common;

/// Reads and parses a file of `callhook-tests/tests/fixtures/conformance/`,
/// the signing vectors published by others (each file names its source).
pub fn conformance<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/conformance")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not the expected JSON: {e}", path.display()))
}
