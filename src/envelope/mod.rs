//! An envelope a queue can carry: everything needed to send or re-send one
//! request, round-tripping through JSON to the identical request.

use std::fmt;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::dispatch::Outgoing;
use crate::error::{json_position, Error, ErrorKind};
use crate::event::Event;
use crate::id::DeliveryId;
use crate::limits::{self, STORED_HEADERS};
use crate::preview::Summary;
use crate::secret::{names_secret, REDACTED};
use crate::service::check_request_form;

mod record;

/// One header of a stored request.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
/// that a webhook uses. The body is base64 in JSON, so any bytes survive.
/// Its `Debug` shows the method, the URL with every query value redacted,
/// the header names and the body's length and SHA-256: never a header
/// value or a body byte, which may hold secrets a stored request cannot
/// tell apart.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StoredRequest {
    /// The method.
    pub method: String,
    /// The full URL.
    pub url: String,
    /// The headers, in order.
    pub headers: Vec<StoredHeader>,
    /// The body bytes.
    #[serde(with = "base64_bytes")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Attempts made so far.
    pub attempt: u32,
    /// When the first attempt was (or is to be) made.
    pub first_attempt_at: DateTime<Utc>,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// The unsigned request.
    pub request: StoredRequest,
    /// Whether a `401` already had the delivery's OAuth2 token refreshed
    /// and the delivery sent again ([`Envelope::record_in`]): a second
    /// `401` gives up. Written only when set, so envelopes stored before
    /// it read as they were.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub token_refreshed: bool,
}

impl Envelope {
    /// An envelope for a dispatched request, due at `at`, with no attempt
    /// made yet.
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
                    .map(|(name, value)| StoredHeader {
                        name: name.to_string(),
                        value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
                        sensitive: value.is_sensitive(),
                    })
                    .collect(),
                body: request.body().clone(),
            },
        }
    }

    /// The stored delivery as an [`Outgoing`], unsigned, to be signed for
    /// this attempt with [`Registry::sign`](crate::Registry::sign).
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
    /// A request of more than [`limits::STORED_HEADERS`] headers is an
    /// error of kind [`ErrorKind::Serde`] too.
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

    /// The envelope as JSON, written into a buffer sized for it up front (the
    /// body, base64-encoded, is most of it); [`Envelope::from_json`] reads it
    /// back.
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
    /// assert!(stored.starts_with("{\"delivery\":"));
    /// assert_eq!(Envelope::from_json(&stored)?.to_json(), stored);
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn to_json(&self) -> String {
        let request = &self.request;
        let headers: usize = request
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len() * 2 + 48)
            .sum();
        // Base64 is 4 bytes per 3, and a URL or header value may escape
        // some characters; the fixed part is under 400 bytes.
        let size = request.body.len().div_ceil(3) * 4
            + request.url.len() * 2
            + headers
            + self.webhook.len()
            + self.service.len()
            + self.delivery.len()
            + self.event.name().len()
            + 400;
        let mut out = Vec::with_capacity(size);
        // Every part is text, a number or bytes written as base64: serde_json
        // cannot fail on an envelope, and writes UTF-8.
        serde_json::to_writer(&mut out, self).expect("an envelope is always JSON");
        String::from_utf8(out).expect("serde_json writes UTF-8")
    }

    /// Reads an envelope written by [`Envelope::to_json`] (or by serde in
    /// any other way). The base64 body is decoded straight from the text.
    ///
    /// # Errors
    ///
    /// Text that is not an envelope is an error of kind
    /// [`ErrorKind::Serde`] saying what kind of problem it is (not JSON,
    /// cut short, or not the shape of an envelope) and where
    /// ([`Error::position`]). serde_json's message is not kept, nor given
    /// as the source: it quotes the values it refuses, and a stored value
    /// may be a secret.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Envelope, ErrorKind};
    ///
    /// let err = Envelope::from_json(r#"{"delivery": "d"}"#).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Serde);
    /// ```
    pub fn from_json(text: &str) -> Result<Envelope, Error> {
        serde_json::from_str(text).map_err(|e| {
            let what = match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                    "it is not valid JSON"
                }
                serde_json::error::Category::Eof => "it ends before the envelope does",
                serde_json::error::Category::Data => {
                    "a field is missing, unknown, or of the wrong type or value"
                }
            };
            Error::new(
                ErrorKind::Serde,
                format!("the text is not a stored envelope: {what}"),
            )
            .at(json_position(text, &e))
        })
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
        *request.uri_mut() = self
            .request
            .url
            .parse()
            .map_err(|e| invalid("URL").with_source(e))?;
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
        for header in &self.request.headers {
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
            segment: None,
            call_id: None,
            sequence: None,
            fallbacks: Vec::new(),
            request,
            debug: None,
            credentials: Default::default(),
        })
    }
}

mod base64_bytes {
    use super::*;

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        // Straight into the serializer's output: serde_json writes a
        // `Display` without making a `String` of it first.
        s.collect_str(&base64::display::Base64Display::new(
            bytes,
            &base64::engine::general_purpose::STANDARD,
        ))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_str(Base64Visitor)
    }

    /// Decodes the text where the deserializer holds it: a `Cow<str>`
    /// would copy it first (serde makes an owned one by default).
    struct Base64Visitor;

    impl serde::de::Visitor<'_> for Base64Visitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("base64 text")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Vec<u8>, E> {
            base64::engine::general_purpose::STANDARD
                .decode(text.as_bytes())
                .map_err(E::custom)
        }
    }
}
