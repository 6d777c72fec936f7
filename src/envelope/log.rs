//! An envelope's attempt log: what each of the last attempts gave, for a
//! person looking into a delivery, bounded so an envelope stays small.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::limits::{self, ATTEMPT_RESPONSE_BYTES, ENVELOPE_ATTEMPTS, TRANSPORT_ERROR_BYTES};
use crate::retry::Outcome;

/// One attempt of a delivery, as an [`Envelope`](crate::Envelope)'s log
/// keeps it: when, to which of its URLs, and what came back.
///
/// The URL is named by its index, never written out: a URL may hold
/// personal data or a secret query value, and the log is shown to people.
/// `Debug` shows the response's length only, as it may hold anything the
/// receiver wrote.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LoggedAttempt {
    /// When the attempt ended.
    pub at: DateTime<Utc>,
    /// Which URL it went to: 0 for the request's own, `n` for the
    /// envelope's `fallbacks[n - 1]`.
    pub url_index: usize,
    /// The response's status, if the endpoint answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong when no response came (a few fixed words chosen by
    /// the sender, such as `timed out`), or `address refused` when the
    /// address policy refused the address the host resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long the attempt took, in milliseconds, if the sender measured it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// The first bytes of the response body (at most
    /// [`limits::ATTEMPT_RESPONSE_BYTES`]), as text: bytes that are not
    /// UTF-8 become U+FFFD.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub response: String,
}

impl LoggedAttempt {
    /// The log entry of an attempt to URL `url_index` that ended with
    /// `outcome` at `at`.
    pub(crate) fn of(outcome: &Outcome<'_>, url_index: usize, at: DateTime<Utc>) -> LoggedAttempt {
        let error = if outcome.is_address_refused() {
            Some("address refused".to_owned())
        } else if outcome.is_transport_error() {
            // The sender's fixed words (`timed out`), bounded by the
            // outcome already, cut again in case that bound grows.
            Some(truncated(
                outcome.error().unwrap_or("transport error"),
                TRANSPORT_ERROR_BYTES,
            ))
        } else {
            None
        };
        let start = outcome.response_start();
        let start = &start[..start.len().min(ATTEMPT_RESPONSE_BYTES)];
        LoggedAttempt {
            at,
            url_index,
            status: outcome.status().map(|s| s.as_u16()),
            error,
            latency_ms: outcome
                .latency()
                .map(|l| u64::try_from(l.as_millis()).unwrap_or(u64::MAX)),
            // Cut at 256 bytes, a character may be split: it shows as
            // U+FFFD, and the text is cut again to stay within the limit.
            response: truncated(&String::from_utf8_lossy(start), ATTEMPT_RESPONSE_BYTES),
        }
    }

    /// Whether a stored entry is within the limits, an error naming the
    /// limit if not.
    pub(crate) fn check(&self, i: usize) -> Result<(), Error> {
        let over = |what: &str, bytes: usize, limit: usize, name: &str| {
            Err(Error::new(
                ErrorKind::Serde,
                format!(
                    "attempt {i} of the stored log has {what} of {} bytes; at most {} are \
                     allowed (`limits::{name}`)",
                    limits::count(bytes),
                    limits::count(limit)
                ),
            )
            .in_field(&format!("attempts.{i}")))
        };
        if self.response.len() > ATTEMPT_RESPONSE_BYTES {
            return over(
                "a response",
                self.response.len(),
                ATTEMPT_RESPONSE_BYTES,
                "ATTEMPT_RESPONSE_BYTES",
            );
        }
        if let Some(error) = &self.error {
            if error.len() > TRANSPORT_ERROR_BYTES {
                return over(
                    "an error",
                    error.len(),
                    TRANSPORT_ERROR_BYTES,
                    "TRANSPORT_ERROR_BYTES",
                );
            }
        }
        Ok(())
    }
}

/// Shows everything but the response, which shows as its length.
impl fmt::Debug for LoggedAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoggedAttempt")
            .field("at", &self.at)
            .field("url_index", &self.url_index)
            .field("status", &self.status)
            .field("error", &self.error)
            .field("latency_ms", &self.latency_ms)
            .field("response", &format_args!("{} bytes", self.response.len()))
            .finish()
    }
}

/// Adds `attempt` to `log`, dropping the oldest entries past
/// [`limits::ENVELOPE_ATTEMPTS`].
pub(crate) fn push(log: &mut Vec<LoggedAttempt>, attempt: LoggedAttempt) {
    if log.len() >= ENVELOPE_ATTEMPTS {
        let excess = log.len() + 1 - ENVELOPE_ATTEMPTS;
        log.drain(..excess);
    }
    log.push(attempt);
}

/// `text` cut to at most `limit` bytes, at a character boundary.
fn truncated(text: &str, limit: usize) -> String {
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    #[test]
    fn responses_are_cut_to_the_limit_as_text() {
        let headers = http::HeaderMap::new();
        // A 2-byte character straddling the limit: cut before it, never
        // past the limit.
        let mut body = vec![b'a'; ATTEMPT_RESPONSE_BYTES - 1];
        body.extend("é tail".as_bytes());
        let outcome = Outcome::response(http::StatusCode::BAD_GATEWAY, &headers)
            .with_response_start(&body)
            .with_latency(std::time::Duration::from_millis(1_250));
        let attempt = LoggedAttempt::of(&outcome, 1, at(0));
        assert!(attempt.response.len() <= ATTEMPT_RESPONSE_BYTES);
        assert!(attempt.response.starts_with("aaa"));
        assert_eq!(attempt.status, Some(502));
        assert_eq!(attempt.latency_ms, Some(1_250));
        assert_eq!(attempt.url_index, 1);
        assert_eq!(attempt.error, None);
        assert!(attempt.check(0).is_ok());
        // Bytes that are not UTF-8 are replaced.
        let outcome = Outcome::response(http::StatusCode::BAD_REQUEST, &headers)
            .with_response_start(b"no \xff way");
        assert_eq!(
            LoggedAttempt::of(&outcome, 0, at(0)).response,
            "no \u{fffd} way"
        );
    }

    #[test]
    fn refusals_and_transport_errors_are_named() {
        let refused = LoggedAttempt::of(&Outcome::address_refused(), 0, at(0));
        assert_eq!(refused.error.as_deref(), Some("address refused"));
        assert_eq!(refused.status, None);
        let failed = LoggedAttempt::of(&Outcome::transport_error(), 0, at(0));
        assert_eq!(failed.error.as_deref(), Some("transport error"));
        let timed_out = Outcome::transport_error().with_error("timed out");
        let failed = LoggedAttempt::of(&timed_out, 0, at(0));
        assert_eq!(failed.error.as_deref(), Some("timed out"));
    }

    #[test]
    fn debug_shows_the_response_by_length_only() {
        let headers = http::HeaderMap::new();
        let outcome = Outcome::response(http::StatusCode::BAD_REQUEST, &headers)
            .with_response_start(b"{\"error\": \"card 4111 declined\"}");
        let shown = format!("{:?}", LoggedAttempt::of(&outcome, 0, at(0)));
        assert!(!shown.contains("4111"), "{shown}");
        assert!(shown.contains("31 bytes"), "{shown}");
    }

    #[test]
    fn the_log_keeps_the_latest_attempts() {
        let mut log = Vec::new();
        for s in 0..50 {
            push(
                &mut log,
                LoggedAttempt::of(&Outcome::transport_error(), 0, at(s)),
            );
        }
        assert_eq!(log.len(), ENVELOPE_ATTEMPTS);
        assert_eq!(log[0].at, at(50 - ENVELOPE_ATTEMPTS as i64));
        assert_eq!(log.last().unwrap().at, at(49));
    }

    #[test]
    fn stored_entries_over_the_limits_are_refused() {
        let mut attempt = LoggedAttempt::of(&Outcome::transport_error(), 0, at(0));
        attempt.response = "x".repeat(ATTEMPT_RESPONSE_BYTES + 1);
        let err = attempt.check(3).unwrap_err();
        assert!(err.to_string().contains("ATTEMPT_RESPONSE_BYTES"), "{err}");
        assert_eq!(err.field(), Some("attempts.3"));
        attempt.response.clear();
        attempt.error = Some("e".repeat(TRANSPORT_ERROR_BYTES + 1));
        let err = attempt.check(0).unwrap_err();
        assert!(err.to_string().contains("TRANSPORT_ERROR_BYTES"), "{err}");
    }
}
