//! An envelope a queue can carry: everything needed to send or re-send one
//! request, round-tripping through JSON to the identical request.
//!
//! `mod.rs` holds the types, making an envelope and turning it back into
//! a request; `wire` its stored format (versions, and reading every
//! earlier one); `log` the attempt log; `state` the host's delivery state;
//! `record` the calls before and after an attempt.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dispatch::Outgoing;
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::id::DeliveryId;
use crate::limits::{self, STORED_HEADERS};
use crate::preview::Summary;
pub(crate) use crate::request::is_dropped;
use crate::secret::{names_secret, redact_query, REDACTED};
use crate::service::check_request_form;

mod log;
mod record;
mod state;
mod wire;

pub use log::LoggedAttempt;
pub use state::DeliveryState;

/// One header of a stored request.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StoredHeader {
    /// The name, lowercase.
    pub name: String,
    /// The value.
    pub value: String,
    /// Whether the value is a secret. A stored `false` is not trusted:
    /// [`Envelope::to_outgoing`] marks headers secret by their names, and
    /// signing by the service.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
}

impl StoredHeader {
    /// A header to store: `name` lowercase, as `http` gives names.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::StoredHeader;
    ///
    /// let header = StoredHeader::new("prefer", "respond-async", false);
    /// assert_eq!(header.value, "respond-async");
    /// ```
    #[must_use]
    pub fn new(name: impl Into<String>, value: impl Into<String>, sensitive: bool) -> StoredHeader {
        StoredHeader {
            name: name.into(),
            value: value.into(),
            sensitive,
        }
    }
}

/// Shows the name and `[redacted]`, whatever the stored `sensitive` flag
/// says: a stored header alone cannot tell which values are secrets, as
/// `Debug` of [`StoredRequest`] shows header names only.
impl fmt::Debug for StoredHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {REDACTED}", self.name)
    }
}

/// A request as stored in an envelope: everything `http::Request` holds
/// that a webhook uses. In JSON the body is text (`body`) when it is
/// UTF-8, as a JSON, XML or form body is, and base64 (`body_base64`)
/// otherwise, so any bytes survive. Its `Debug` shows the method, the URL with every query value redacted,
/// the header names and the body's length and SHA-256: never a header
/// value or a body byte, which may hold secrets a stored request cannot
/// tell apart.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredRequest {
    /// The method.
    pub method: String,
    /// The full URL.
    pub url: String,
    /// The headers, in order.
    pub headers: Vec<StoredHeader>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl fmt::Debug for StoredRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Summary {
            method: &self.method,
            url: &self.url,
            headers: self.headers.iter().map(|h| h.name.as_str()).collect(),
            body: &self.body,
        }
        .fmt(f)
    }
}

/// Everything needed to send or re-send one request, for an outbox table or
/// a queue (Kafka, SQS, a database): a host stores it, and any worker sends
/// it.
///
/// The request is stored unsigned and without credential, as dispatch made
/// it: each attempt turns the envelope back into an [`Outgoing`]
/// ([`Envelope::to_outgoing`]) and prepares it with the time of that
/// attempt ([`Registry::prepare`], or [`Registry::sign`]), the same call as
/// for the first, which adds the credential current then. An envelope made
/// from a request already signed drops the credential signing added
/// (header or query parameter). It still holds what the request does
/// (secret fields of the call, a service's secret `headers`); keep the
/// store private.
/// `Debug` shows the request's method, URL with every query value
/// redacted, header names and body length and hash only.
///
/// ```
/// use callhook::{Call, Catalog, Config, Envelope, Event, Registry};
///
/// let registry = Registry::from_config(
///     &Config::from_json(include_str!("../../examples/configs/signed.json"))?,
///     Catalog::standard().clone(),
/// )?;
/// let call = Call::from_json(include_str!("../../examples/calls/pbx-call.json"))?;
/// let at = "2024-12-02T21:11:37Z".parse().unwrap();
/// let outgoing = &registry.dispatch(Event::CallHangup, &call, at).requests[0];
///
/// // Stored as JSON in the host's outbox...
/// let stored = serde_json::to_string(&Envelope::new(outgoing, at)).unwrap();
/// // ...and sent by any worker, signed for that attempt.
/// let envelope: Envelope = serde_json::from_str(&stored).unwrap();
/// let mut retry = envelope.to_outgoing()?;
/// registry.sign(&mut retry, "2024-12-02T21:12:00Z".parse().unwrap())?;
/// assert!(retry.request.headers().contains_key("webhook-signature"));
/// # Ok::<(), callhook::Error>(())
/// ```
///
/// [`Registry::sign`]: crate::Registry::sign
/// [`Registry::prepare`]: crate::Registry::prepare
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Envelope {
    /// The delivery id (the same on every attempt).
    pub delivery: String,
    /// The webhook that fired.
    pub webhook: String,
    /// The service to send through.
    pub service: String,
    /// The event.
    pub event: Event,
    /// The call's id. `None` only in an envelope stored before envelopes
    /// held it (format 1).
    pub call_id: Option<String>,
    /// The agent segment, for per-segment events of calls with segments.
    pub segment: Option<usize>,
    /// The status sequence number of a realtime update: what tells an
    /// update older than one already delivered.
    pub sequence: Option<u64>,
    /// Attempts made so far.
    pub attempt: u32,
    /// When the first attempt was (or is to be) made.
    pub first_attempt_at: DateTime<Utc>,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// The unsigned request, to the service's own URL.
    pub request: StoredRequest,
    /// The service's fallback URLs, rendered at dispatch, in the order
    /// they are tried (at most [`limits::FALLBACK_URLS`]).
    pub fallbacks: Vec<String>,
    /// Which URL the next attempt goes to: 0 for the request's own URL,
    /// `n` for `fallbacks[n - 1]`.
    pub current_url: usize,
    /// Attempts that failed on the current URL since the delivery moved
    /// to it.
    pub url_failures: u32,
    /// Whether a `401` already had the delivery's OAuth2 token refreshed
    /// and the delivery sent again ([`Envelope::record_in`]): a second
    /// `401` gives up.
    pub token_refreshed: bool,
    /// The last attempts, oldest first (at most
    /// [`limits::ENVELOPE_ATTEMPTS`]; older ones are dropped).
    pub attempts: Vec<LoggedAttempt>,
}

/// Shows the request as [`StoredRequest`] does, the fallback URLs with
/// every query value redacted, and the attempt log as [`LoggedAttempt`] does.
impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fallbacks: Vec<String> = self
            .fallbacks
            .iter()
            .map(|url| redact_query(url, &|_| true))
            .collect();
        f.debug_struct("Envelope")
            .field("delivery", &self.delivery)
            .field("webhook", &self.webhook)
            .field("service", &self.service)
            .field("event", &self.event)
            .field("call_id", &self.call_id)
            .field("segment", &self.segment)
            .field("sequence", &self.sequence)
            .field("attempt", &self.attempt)
            .field("first_attempt_at", &self.first_attempt_at)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("request", &self.request)
            .field("fallbacks", &fallbacks)
            .field("current_url", &self.current_url)
            .field("url_failures", &self.url_failures)
            .field("token_refreshed", &self.token_refreshed)
            .field("attempts", &self.attempts)
            .finish()
    }
}

impl Envelope {
    /// The envelope format this version writes, and the newest major
    /// format it reads: 2.
    ///
    /// Format 1 is every envelope written before envelopes had a version
    /// (no `version` field, the body always base64); it still loads. A
    /// writer adds optional fields within a major format, and readers of
    /// that format ignore fields they do not know, so during a rolling
    /// deploy an older worker reads a newer one's envelopes; a change
    /// older readers would misread takes a new major format, which they
    /// refuse with an error of kind [`ErrorKind::NewerFormat`].
    pub const FORMAT_VERSION: u32 = 2;

    /// An envelope for a dispatched request, due at `at`, with no attempt
    /// made yet, its request to the service's own URL and the fallback URLs
    /// after it.
    ///
    /// Neither a credential nor a signature is stored: a request signed
    /// already is stored without the credential signing gave it, and
    /// without the headers every envelope drops (`Authorization`,
    /// `Proxy-Authorization` and the signature headers of the signing
    /// schemes: `webhook-signature`, `x-twilio-signature`,
    /// `x-convoy-signature`, `x-zm-signature`, `x-hub-signature-256`).
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, Envelope, Event, Registry};
    ///
    /// let registry = Registry::from_config(
    ///     &Config::from_json(include_str!("../../examples/configs/pbx.json"))?,
    ///     Catalog::standard().clone(),
    /// )?;
    /// let call = Call::from_json(include_str!("../../examples/calls/pbx-call.json"))?;
    /// let at = "2024-12-02T21:11:37Z".parse().unwrap();
    /// let outgoing = &registry.dispatch(Event::CallHangup, &call, at).requests[0];
    /// let envelope = Envelope::new(outgoing, at);
    /// assert_eq!(envelope.call_id.as_deref(), outgoing.call_id.as_deref());
    /// assert_eq!(envelope.current_url, 0);
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn new(outgoing: &Outgoing, at: DateTime<Utc>) -> Envelope {
        // A request signed already is stored without the credential it
        // was given: the next attempt gets the one current then.
        let stripped = outgoing.without_credentials();
        let request = stripped.as_ref().unwrap_or(&outgoing.request);
        Envelope {
            delivery: outgoing.delivery.to_string(),
            webhook: outgoing.webhook.to_string(),
            service: outgoing.service.to_string(),
            event: outgoing.event.clone(),
            call_id: outgoing.call_id.as_deref().map(str::to_owned),
            segment: outgoing.segment,
            sequence: outgoing.sequence,
            attempt: 0,
            first_attempt_at: at,
            next_attempt_at: at,
            token_refreshed: false,
            request: StoredRequest {
                method: request.method().to_string(),
                url: request.uri().to_string(),
                headers: request
                    .headers()
                    .iter()
                    .filter(|(name, _)| !is_dropped(name.as_str()))
                    .map(|(name, value)| StoredHeader {
                        name: name.to_string(),
                        value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
                        sensitive: value.is_sensitive(),
                    })
                    .collect(),
                body: request.body().clone(),
            },
            fallbacks: outgoing.fallbacks.iter().map(ToString::to_string).collect(),
            current_url: 0,
            url_failures: 0,
            attempts: Vec::new(),
        }
    }

    /// The URL the next attempt goes to: the request's own, or the
    /// fallback URL the delivery has moved to ([`Envelope::current_url`]).
    /// `None` when the stored index is past the fallback URLs (a store
    /// edited by hand, or corrupted), which [`Envelope::to_outgoing`]
    /// refuses.
    #[must_use]
    pub fn url(&self) -> Option<&str> {
        match self.current_url {
            0 => Some(&self.request.url),
            n => self.fallbacks.get(n - 1).map(String::as_str),
        }
    }

    /// The stored delivery as an [`Outgoing`], unsigned, to be signed for
    /// this attempt with [`Registry::sign`](crate::Registry::sign).
    ///
    /// The request goes to the current URL ([`Envelope::url`]): the
    /// service's own, or the fallback URL the delivery has moved to, whose
    /// [`Outgoing::fallbacks`] are those still to try after it. The call
    /// id, segment and status sequence are the stored ones.
    ///
    /// The store is not trusted: the request must be one callhook builds,
    /// as far as can be told with no registry (the signing checks the
    /// rest against the service as it is now), and which headers are
    /// secrets follows from their names, not from the stored `sensitive`
    /// flags, which can only mark more.
    ///
    /// # Errors
    ///
    /// A stored method, URL or header that is not valid (a store edited by
    /// hand, or corrupted) is an error of kind [`ErrorKind::Serde`] naming
    /// the part, with the `http` crate's error as its source. A URL that is
    /// not an absolute `http` or `https` URL, or carries a username or
    /// password, is an error of kind [`ErrorKind::InvalidUrl`], and one
    /// with a `.` or `..` path segment (between `/` or `\`, which WHATWG
    /// parsers read as `/`) of kind [`ErrorKind::UnsafeValue`]. A header
    /// that frames or routes the message
    /// (`Transfer-Encoding`, `Host`, the hop-by-hop headers, a
    /// `Content-Length` other than the body's length), or one that is not
    /// a list given twice, is an error of kind [`ErrorKind::InvalidHeader`].
    /// A request of more than [`limits::STORED_HEADERS`] headers, a current
    /// URL past the fallback URLs, and a fallback URL that is not a URL are
    /// errors of kind [`ErrorKind::Serde`] too.
    pub fn to_outgoing(&self) -> Result<Outgoing, Error> {
        self.outgoing_holding(self.request.body.clone())
    }

    /// The stored delivery as an [`Outgoing`], as [`Envelope::to_outgoing`]
    /// makes it, but moving the body rather than copying it: for a worker
    /// that has just read the envelope from its store.
    ///
    /// # Errors
    ///
    /// As [`Envelope::to_outgoing`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, Envelope, Event, Registry};
    ///
    /// let registry = Registry::from_config(
    ///     &Config::from_json(include_str!("../../examples/configs/pbx.json"))?,
    ///     Catalog::standard().clone(),
    /// )?;
    /// let call = Call::from_json(include_str!("../../examples/calls/pbx-call.json"))?;
    /// let at = "2024-12-02T21:11:37Z".parse().unwrap();
    /// let outgoing = &registry.dispatch(Event::CallHangup, &call, at).requests[0];
    /// let stored = Envelope::new(outgoing, at).to_json();
    ///
    /// let retry = Envelope::from_json(&stored)?.into_outgoing()?;
    /// assert_eq!(retry.request.body(), outgoing.request.body());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn into_outgoing(mut self) -> Result<Outgoing, Error> {
        let body = std::mem::take(&mut self.request.body);
        self.outgoing_holding(body)
    }

    /// The envelope as JSON, in the current format
    /// ([`Envelope::FORMAT_VERSION`], written first), into a buffer sized
    /// for it up front; [`Envelope::from_json`] reads it back.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, Envelope, Event, Registry};
    ///
    /// let registry = Registry::from_config(
    ///     &Config::from_json(include_str!("../../examples/configs/pbx.json"))?,
    ///     Catalog::standard().clone(),
    /// )?;
    /// let call = Call::from_json(include_str!("../../examples/calls/pbx-call.json"))?;
    /// let at = "2024-12-02T21:11:37Z".parse().unwrap();
    /// let outgoing = &registry.dispatch(Event::CallHangup, &call, at).requests[0];
    /// let stored = Envelope::new(outgoing, at).to_json();
    /// assert!(stored.starts_with("{\"version\":2,\"delivery\":"));
    /// assert_eq!(Envelope::from_json(&stored)?.to_json(), stored);
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(wire::size(self));
        // Every part is text, a number or bytes written as base64: serde_json
        // cannot fail on an envelope, and writes UTF-8.
        serde_json::to_writer(&mut out, self).expect("an envelope is always JSON");
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }

    /// Reads an envelope of any format up to [`Envelope::FORMAT_VERSION`]:
    /// one written by [`Envelope::to_json`] (or by serde in any other way),
    /// by a newer writer of the same major format (whose fields this
    /// version does not know are ignored), or before envelopes had a
    /// version (format 1). Stored `Authorization`, `Proxy-Authorization`
    /// and signature headers are dropped, as [`Envelope::new`] drops them,
    /// so a request never carries a stale credential beside the one
    /// signing adds.
    ///
    /// # Errors
    ///
    /// An envelope of a newer major format is an error of kind
    /// [`ErrorKind::NewerFormat`] naming its format and saying to upgrade,
    /// whatever else its text holds. Other text that is not an envelope is
    /// an error of kind [`ErrorKind::Serde`] saying what kind of problem it
    /// is (not JSON, cut short, or not the shape of an envelope, or over a
    /// limit) and where ([`Error::position`]). serde_json's message is not
    /// kept, nor given as the source: it quotes the values it refuses, and
    /// a stored value may be a secret.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Envelope, ErrorKind};
    ///
    /// let err = Envelope::from_json(r#"{"delivery": "d"}"#).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Serde);
    /// let err = Envelope::from_json(r#"{"version": 3, "delivery": "d"}"#).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::NewerFormat);
    /// ```
    pub fn from_json(text: &str) -> Result<Envelope, Error> {
        wire::from_json(text)
    }

    fn outgoing_holding(&self, body: Vec<u8>) -> Result<Outgoing, Error> {
        let invalid =
            |what: &str| Error::new(ErrorKind::Serde, format!("stored {what} is invalid"));
        let mut request = http::Request::new(body);
        *request.method_mut() = self
            .request
            .method
            .parse()
            .map_err(|e| invalid("method").with_source(e))?;
        let url = self.url().ok_or_else(|| {
            Error::new(
                ErrorKind::Serde,
                format!(
                    "stored current URL is {}, but the envelope has {} fallback URLs",
                    self.current_url,
                    limits::count(self.fallbacks.len())
                ),
            )
        })?;
        *request.uri_mut() = url.parse().map_err(|e| invalid("URL").with_source(e))?;
        // The URLs still to try after the current one, as dispatch gives
        // them: an envelope made of this request again goes on from here.
        let fallbacks = self
            .fallbacks
            .iter()
            .skip(self.current_url)
            .map(|url| {
                url.parse()
                    .map_err(|e| invalid("fallback URL").with_source(e))
            })
            .collect::<Result<Vec<http::Uri>, Error>>()?;
        // `http::HeaderMap` panics past 24,576 headers; callhook never
        // builds a request of more than these.
        if self.request.headers.len() > STORED_HEADERS {
            return Err(Error::new(
                ErrorKind::Serde,
                format!(
                    "stored request has {} headers; at most {} are allowed \
                     (`limits::STORED_HEADERS`)",
                    limits::count(self.request.headers.len()),
                    limits::count(STORED_HEADERS)
                ),
            ));
        }
        let headers = request.headers_mut();
        headers.reserve(self.request.headers.len());
        for header in self.request.headers.iter().filter(|h| !is_dropped(&h.name)) {
            let name: http::HeaderName = header
                .name
                .parse()
                .map_err(|e| invalid("header name").with_source(e))?;
            let mut value = http::HeaderValue::try_from(header.value.as_str())
                .map_err(|e| invalid("header value").with_source(e))?;
            // Which headers are secrets is decided as when building, by
            // name (and by the service, when it signs): a store edited to
            // say `false` shows nothing. A stored `true` can only hide more.
            value.set_sensitive(names_secret(name.as_str()) || header.sensitive);
            headers.append(name, value);
        }
        check_request_form(&request)?;
        Ok(Outgoing {
            webhook: self.webhook.as_str().into(),
            service: self.service.as_str().into(),
            delivery: DeliveryId::from(self.delivery.as_str()),
            event: self.event.clone(),
            segment: self.segment,
            call_id: self.call_id.as_deref().map(Arc::from),
            sequence: self.sequence,
            fallbacks,
            request,
            debug: None,
            credentials: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::{Signer, SigningConfig};

    /// Every header a signing scheme writes but its id and timestamp is
    /// one envelopes drop: a scheme added to `src/signer.rs` fails here
    /// until its signature header is listed.
    #[test]
    fn every_signature_header_is_dropped() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let mut configs = vec![
            serde_json::json!({"kind": "standard_webhooks", "secrets": [secret]}),
            serde_json::json!({"kind": "twilio", "token": "f3a9c1e07b5d48a2c6e19b0d7f4a8e25"}),
            serde_json::json!({"kind": "vonage", "secret": "s3cr3t-vonage-signature-0123456789"}),
        ];
        for preset in ["convoy", "convoy_advanced", "zoom", "github"] {
            configs.push(serde_json::json!({
                "kind": "hmac", "preset": preset, "secrets": ["s3cr3t-hmac-0123456789abcdef"],
            }));
        }
        for config in configs {
            let config: SigningConfig =
                serde_json::from_value(config.clone()).unwrap_or_else(|e| panic!("{config}: {e}"));
            let signer = Signer::new(&config).unwrap_or_else(|e| panic!("{config:?}: {e}"));
            let signatures: Vec<String> = signer
                .headers()
                .iter()
                .map(|name| name.to_ascii_lowercase())
                .filter(|name| !name.ends_with("-id") && !name.ends_with("timestamp"))
                .collect();
            assert!(!signatures.is_empty(), "{config:?}");
            for name in signatures {
                assert!(is_dropped(&name), "{name}");
            }
        }
        for name in ["authorization", "Proxy-Authorization", "x-twilio-signature"] {
            assert!(is_dropped(name), "{name}");
        }
        // Ids and timestamps are kept: a service that does not sign may
        // send its own.
        for name in ["webhook-id", "webhook-timestamp", "x-api-key"] {
            assert!(!is_dropped(name), "{name}");
        }
    }

    #[test]
    fn debug_redacts_fallback_query_values() {
        let mut envelope = Envelope::from_json(
            r#"{"delivery": "d", "webhook": "w", "service": "s", "event": "Call:Hangup",
                "attempt": 0, "first_attempt_at": "2024-12-02T21:11:37Z",
                "next_attempt_at": "2024-12-02T21:11:37Z",
                "request": {"method": "POST", "url": "https://a.example.com/?k=s3cr3t",
                            "headers": [], "body": ""}}"#,
        )
        .unwrap();
        envelope.fallbacks = vec!["https://b.example.com/?token=s3cr3t&n=1".into()];
        let shown = format!("{envelope:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("b.example.com"), "{shown}");
    }
}
