//! What one attempt came to, owned, for the host to record.

use std::fmt;
use std::time::Duration;

use callhook::Outcome;
use http::{HeaderMap, StatusCode};

use crate::limits::RESPONSE_START_LIMIT;

/// What one attempt came to: the receiver's answer, a transport error, or
/// a send the address policy refused. Owned, so it outlives the client's
/// response; [`Attempted::outcome`] lends it as the [`callhook::Outcome`]
/// that [`Envelope::record_in`](callhook::Envelope::record_in) reads.
///
/// Its `Debug` shows the status or the error, the latency and the length
/// of the response's start, never the response's bytes or header values
/// (a receiver may answer with anything, cookies too).
///
/// # Examples
///
/// ```
/// use callhook_send::Attempted;
///
/// let refused = Attempted::address_refused();
/// assert!(refused.is_address_refused());
/// assert!(refused.outcome().is_address_refused());
/// ```
#[derive(Clone)]
pub struct Attempted {
    ended: Ended,
    latency: Duration,
    response_start: Vec<u8>,
}

#[derive(Clone)]
enum Ended {
    Response {
        status: StatusCode,
        headers: Box<HeaderMap>,
    },
    TransportError(&'static str),
    AddressRefused,
}

impl Attempted {
    /// The receiver answered: `status`, `headers`, the first bytes of the
    /// body (cut to [`RESPONSE_START_LIMIT`]), after `latency`.
    #[must_use]
    pub fn response(
        status: StatusCode,
        headers: HeaderMap,
        response_start: &[u8],
        latency: Duration,
    ) -> Attempted {
        let kept = response_start.len().min(RESPONSE_START_LIMIT);
        Attempted {
            ended: Ended::Response {
                status,
                headers: Box::new(headers),
            },
            latency,
            response_start: response_start[..kept].to_vec(),
        }
    }

    /// No answer, described in fixed words (`"timed out"`, `"connection
    /// refused"`...), after `latency`.
    #[must_use]
    pub fn transport_error(words: &'static str, latency: Duration) -> Attempted {
        Attempted {
            ended: Ended::TransportError(words),
            latency,
            response_start: Vec::new(),
        }
    }

    /// Not sent: the address policy refused an address of the URL's host.
    #[must_use]
    pub fn address_refused() -> Attempted {
        Attempted {
            ended: Ended::AddressRefused,
            latency: Duration::ZERO,
            response_start: Vec::new(),
        }
    }

    /// The outcome to record, borrowing this value.
    #[must_use]
    pub fn outcome(&self) -> Outcome<'_> {
        let outcome = match &self.ended {
            Ended::Response { status, headers } => Outcome::response(*status, headers),
            Ended::TransportError(words) => Outcome::transport_error().with_error(words),
            Ended::AddressRefused => Outcome::address_refused(),
        };
        outcome
            .with_latency(self.latency)
            .with_response_start(&self.response_start)
    }

    /// The response's status, if the receiver answered.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        match &self.ended {
            Ended::Response { status, .. } => Some(*status),
            Ended::TransportError(_) | Ended::AddressRefused => None,
        }
    }

    /// The response's headers, if the receiver answered.
    #[must_use]
    pub fn headers(&self) -> Option<&HeaderMap> {
        match &self.ended {
            Ended::Response { headers, .. } => Some(headers),
            Ended::TransportError(_) | Ended::AddressRefused => None,
        }
    }

    /// The transport error in fixed words, if no answer came: `"timed
    /// out"`, `"connection refused"`, `"connection reset"`, `"connection
    /// closed"`, `"tls handshake failed"`, `"name not resolved"`,
    /// `"invalid response"`, `"connection failed"`, `"request failed"`.
    /// Never a URL or an address.
    #[must_use]
    pub fn error(&self) -> Option<&'static str> {
        match &self.ended {
            Ended::TransportError(words) => Some(words),
            Ended::Response { .. } | Ended::AddressRefused => None,
        }
    }

    /// Whether the address policy refused the send (nothing was sent).
    #[must_use]
    pub fn is_address_refused(&self) -> bool {
        matches!(self.ended, Ended::AddressRefused)
    }

    /// How long the attempt took: from sending to the end of the read
    /// response start, or to the failure.
    #[must_use]
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// The first bytes of the response's body, at most
    /// [`RESPONSE_START_LIMIT`].
    #[must_use]
    pub fn response_start(&self) -> &[u8] {
        &self.response_start
    }
}

impl fmt::Debug for Attempted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Attempted");
        match &self.ended {
            Ended::Response { status, .. } => d.field("status", status),
            Ended::TransportError(words) => d.field("error", words),
            Ended::AddressRefused => d.field("ended", &"address refused"),
        };
        d.field("latency", &self.latency)
            .field(
                "response_start",
                &format_args!("{} bytes", self.response_start.len()),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_keeps_at_most_the_limit() {
        let body = vec![b'x'; RESPONSE_START_LIMIT + 10];
        let attempted = Attempted::response(
            StatusCode::BAD_GATEWAY,
            HeaderMap::new(),
            &body,
            Duration::from_millis(5),
        );
        assert_eq!(attempted.response_start().len(), RESPONSE_START_LIMIT);
        let outcome = attempted.outcome();
        assert_eq!(outcome.status(), Some(StatusCode::BAD_GATEWAY));
        assert_eq!(outcome.response_start().len(), RESPONSE_START_LIMIT);
        assert_eq!(outcome.latency(), Some(Duration::from_millis(5)));
    }

    #[test]
    fn a_transport_error_keeps_its_words() {
        let attempted = Attempted::transport_error("timed out", Duration::from_secs(1));
        assert_eq!(attempted.error(), Some("timed out"));
        assert!(attempted.outcome().is_transport_error());
        assert_eq!(attempted.outcome().error(), Some("timed out"));
        assert_eq!(attempted.status(), None);
    }

    #[test]
    fn every_word_an_adapter_uses_reaches_the_outcome() {
        // The outcome keeps only fixed words (ASCII letters, digits, spaces,
        // `-`, `'`; bounded): each of the adapters' must pass.
        for words in crate::guard::WORDS {
            let attempted = Attempted::transport_error(words, Duration::ZERO);
            assert_eq!(attempted.outcome().error(), Some(*words));
        }
    }

    #[test]
    fn debug_shows_no_response_bytes_or_header_values() {
        let mut headers = HeaderMap::new();
        headers.insert("set-cookie", "session=hunter2".parse().unwrap());
        let attempted =
            Attempted::response(StatusCode::OK, headers, b"token=hunter2", Duration::ZERO);
        let shown = format!("{attempted:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("13 bytes"), "{shown}");
    }
}
