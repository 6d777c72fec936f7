//! Helpers shared by the integration tests (`mod common;` in each), and by
//! the test crate `callhook-tests`, whose library compiles this same file
//! (`callhook_tests::common`).

// Each test binary uses some of these, so the rest are dead code there.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use callhook::{Call, Catalog, Config, Registry, Request};

/// The root of the crate whose tests run: paths of fixtures are relative
/// to it, so a test and its fixtures move together.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `path` under [`root`].
pub fn path(path: &str) -> PathBuf {
    root().join(path)
}

/// The bytes of the file at `path` (relative to [`root`]).
pub fn read(path: &str) -> Vec<u8> {
    let path = self::path(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The text of the file at `path` (relative to [`root`]).
pub fn read_text(path: &str) -> String {
    String::from_utf8(read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A configuration compiled against the standard catalog.
pub fn load(config: &Config) -> Result<Registry, callhook::Error> {
    Registry::from_config(config, Catalog::standard().clone())
}

/// A registry from a configuration's JSON, which must load.
pub fn registry(json: &str) -> Registry {
    let config = Config::from_json(json).unwrap_or_else(|e| panic!("the configuration: {e}"));
    load(&config).unwrap_or_else(|e| panic!("the configuration does not load: {e}"))
}

/// A call from its JSON, which must read.
pub fn call(json: &str) -> Call {
    Call::from_json(json).unwrap_or_else(|e| panic!("the call: {e}"))
}

/// `fields` over `base`: each key of `fields` replaces or adds one of
/// `base`'s (both are JSON objects).
pub fn merged(mut base: serde_json::Value, fields: serde_json::Value) -> serde_json::Value {
    let fields = match fields {
        serde_json::Value::Object(fields) => fields,
        other => panic!("not an object: {other}"),
    };
    base.as_object_mut().expect("an object").extend(fields);
    base
}

/// The request as the fixtures hold it: request line with the full URI,
/// every header in order, a blank line, the body; CRLF as on the wire.
pub fn http_text(request: &Request) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.1\r\n", request.method(), request.uri()).into_bytes();
    for (name, value) in request.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(String::from_utf8_lossy(value.as_bytes()).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(request.body());
    out
}

/// Strict percent-decoding: `%` must start two hex digits; `+` stays `+`
/// (that rule is for forms). `None` for a malformed escape.
pub fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Whether this run regenerates the golden files: `BLESS=1 cargo test`.
pub fn blessing() -> bool {
    std::env::var_os("BLESS").is_some_and(|v| v == "1")
}

/// Under `BLESS=1`, writes `actual` to the golden file at `path` (relative
/// to [`root`]); otherwise does nothing. The stored data of earlier
/// versions (`tests/fixtures/stored/`) is history, not output of this
/// version, and is never written.
pub fn bless(path: &str, actual: &str) {
    assert!(
        !path.starts_with("tests/fixtures/stored/"),
        "{path}: stored data of earlier versions is not a golden file"
    );
    if blessing() {
        let file = self::path(path);
        std::fs::write(&file, actual)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
    }
}

/// Checks `actual` against the golden file at `path` (relative to
/// [`root`]), byte for byte; under `BLESS=1` writes it there first.
#[track_caller]
pub fn assert_golden(path: &str, actual: &str) {
    bless(path, actual);
    let expected = read_text(path);
    assert!(
        actual == expected,
        "{path}: the output differs from the golden file\n--- actual ---\n{actual}\n--- expected ---\n{expected}\n\
         (if the change is intended: BLESS=1 cargo test, then review `git diff`)"
    );
}
