//! Secrets: passwords, tokens and keys that never print.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What prints in place of a secret, in `Debug`, previews, debug records
/// and stored envelopes' `Debug`.
pub const REDACTED: &str = "[redacted]";

/// A password, token or key.
///
/// Its `Debug` prints `[redacted]`, and it has no `Display`, so it cannot
/// end up in a log line by accident. It serialises as its value, so a host
/// can store a configuration and load it back; keep such stores private.
///
/// ```
/// use callhook::Secret;
///
/// let token = Secret::new("s3cr3t");
/// assert_eq!(format!("{token:?}"), "[redacted]");
/// assert_eq!(token.expose(), "s3cr3t");
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret value itself, for the one place that must use it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}
