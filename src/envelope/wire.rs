//! An envelope's stored format: written in the current format
//! ([`Envelope::FORMAT_VERSION`], `version` first), read in every format up
//! to it.
//!
//! - Format 1 (no `version`): what callhook wrote before envelopes had a
//!   version. The body is base64 in `body`; no call id, segment, sequence,
//!   fallback URLs or attempt log.
//! - Format 2: `version` first; the body as text in `body` when it is
//!   UTF-8, else base64 in `body_base64`; the call id, segment, status
//!   sequence, fallback URLs with the current one and its failures, and
//!   the attempt log, each written only when it holds something.
//!
//! Readers of a major format ignore fields they do not know, so a newer
//! writer of the same major format may add optional ones; a newer major
//! format is refused with an error that says so.

use std::borrow::Cow;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::log::LoggedAttempt;
use super::{is_dropped, Envelope, StoredHeader, StoredRequest};
use crate::error::{json_position, Error, ErrorKind};
use crate::event::Event;
use crate::limits::{self, ENVELOPE_ATTEMPTS, ENVELOPE_FALLBACK_URLS};

/// The name of the field that holds the format.
const VERSION: &str = "version";

/// The message for an envelope of a newer major format.
fn newer(version: u64) -> String {
    format!(
        "the envelope is written in format {version}; callhook {} reads envelope formats up \
         to {}: upgrade callhook to read it",
        env!("CARGO_PKG_VERSION"),
        Envelope::FORMAT_VERSION
    )
}

/// Reads the `version` field: a format this version reads, or an error
/// that says why not (for serde formats other than JSON, which
/// [`from_json`] reads with its own error).
fn version<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let version = u64::deserialize(d)?;
    match version {
        0 => Err(serde::de::Error::custom(
            "envelope format `0` does not exist: formats start at 1",
        )),
        v if v > u64::from(Envelope::FORMAT_VERSION) => Err(serde::de::Error::custom(newer(v))),
        // Within 1..=FORMAT_VERSION, so it fits.
        v => Ok(u32::try_from(v).unwrap_or(Envelope::FORMAT_VERSION)),
    }
}

fn one() -> u32 {
    1
}

/// An envelope as stored, in any format this version reads.
#[derive(Deserialize)]
struct Stored<'a> {
    /// Absent in format 1.
    #[serde(default = "one", deserialize_with = "version")]
    version: u32,
    delivery: String,
    webhook: String,
    service: String,
    event: Event,
    #[serde(default)]
    call_id: Option<String>,
    #[serde(default)]
    segment: Option<usize>,
    #[serde(default)]
    sequence: Option<u64>,
    attempt: u32,
    first_attempt_at: DateTime<Utc>,
    next_attempt_at: DateTime<Utc>,
    #[serde(borrow)]
    request: Request<'a>,
    #[serde(default)]
    fallbacks: Vec<String>,
    #[serde(default)]
    current_url: usize,
    #[serde(default)]
    url_failures: u32,
    #[serde(default)]
    token_refreshed: bool,
    #[serde(default)]
    attempts: Vec<LoggedAttempt>,
}

/// A stored request, its body not yet read: how depends on the format.
#[derive(Deserialize)]
struct Request<'a> {
    method: String,
    url: String,
    headers: Vec<StoredHeader>,
    /// Base64 in format 1; text in later ones.
    #[serde(default, borrow)]
    body: Option<Text<'a>>,
    #[serde(default, borrow)]
    body_base64: Option<Text<'a>>,
}

/// Text borrowed from the input where it has no escapes (base64 has
/// none), so a body is not copied before it is decoded: serde's own
/// `Cow<str>` inside an `Option` is always copied.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text<'a>, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Text<'a>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("text")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E>(self, text: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E>(self, text: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        d.deserialize_str(Visitor(std::marker::PhantomData))
    }
}

impl Request<'_> {
    /// The request of an envelope in format `version`, less the headers
    /// every envelope drops.
    fn read(self, version: u32) -> Result<StoredRequest, Error> {
        let refused = |message: &str| Error::new(ErrorKind::Serde, message).in_field("request");
        let body = match (version, self.body, self.body_base64) {
            (1, Some(base64), None) => decode(&base64.0)?,
            (1, None, _) => return Err(refused("a format 1 envelope has its body in `body`")),
            (_, Some(_), Some(_)) => {
                return Err(refused(
                    "the stored request has both `body` and `body_base64`: give one",
                ))
            }
            (_, Some(text), None) => text.0.into_owned().into_bytes(),
            (_, None, Some(base64)) => decode(&base64.0)?,
            (_, None, None) => Vec::new(),
        };
        let mut headers = self.headers;
        headers.retain(|h| !is_dropped(&h.name));
        Ok(StoredRequest {
            method: self.method,
            url: self.url,
            headers,
            body,
        })
    }
}

fn decode(base64: &str) -> Result<Vec<u8>, Error> {
    base64::engine::general_purpose::STANDARD
        .decode(base64.as_bytes())
        .map_err(|_| {
            // The decoder's message quotes the byte it refused.
            Error::new(ErrorKind::Serde, "the stored body is not valid base64")
                .in_field("request.body")
        })
}

impl Stored<'_> {
    /// The envelope, within the limits, or the error saying which is
    /// passed.
    fn read(self) -> Result<Envelope, Error> {
        if self.fallbacks.len() > ENVELOPE_FALLBACK_URLS {
            return Err(Error::new(
                ErrorKind::Serde,
                format!(
                    "the envelope has {} fallback URLs; at most {} are allowed \
                     (`limits::ENVELOPE_FALLBACK_URLS`)",
                    limits::count(self.fallbacks.len()),
                    limits::count(ENVELOPE_FALLBACK_URLS)
                ),
            )
            .in_field("fallbacks"));
        }
        if self.current_url > self.fallbacks.len() {
            return Err(Error::new(
                ErrorKind::Serde,
                format!(
                    "the envelope's current URL is {}, but it has {} fallback URLs",
                    limits::count(self.current_url),
                    limits::count(self.fallbacks.len())
                ),
            )
            .in_field("current_url"));
        }
        if self.attempts.len() > ENVELOPE_ATTEMPTS {
            return Err(Error::new(
                ErrorKind::Serde,
                format!(
                    "the envelope's log has {} attempts; at most {} are kept \
                     (`limits::ENVELOPE_ATTEMPTS`)",
                    limits::count(self.attempts.len()),
                    limits::count(ENVELOPE_ATTEMPTS)
                ),
            )
            .in_field("attempts"));
        }
        for (i, attempt) in self.attempts.iter().enumerate() {
            attempt.check(i)?;
        }
        Ok(Envelope {
            request: self.request.read(self.version)?,
            delivery: self.delivery,
            webhook: self.webhook,
            service: self.service,
            event: self.event,
            call_id: self.call_id,
            segment: self.segment,
            sequence: self.sequence,
            attempt: self.attempt,
            first_attempt_at: self.first_attempt_at,
            next_attempt_at: self.next_attempt_at,
            fallbacks: self.fallbacks,
            current_url: self.current_url,
            url_failures: self.url_failures,
            token_refreshed: self.token_refreshed,
            attempts: self.attempts,
        })
    }
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Envelope, D::Error> {
        Stored::deserialize(d)?
            .read()
            .map_err(|e| serde::de::Error::custom(e.message()))
    }
}

/// A stored request read on its own is in the current format.
impl<'de> Deserialize<'de> for StoredRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StoredRequest, D::Error> {
        Request::deserialize(d)?
            .read(Envelope::FORMAT_VERSION)
            .map_err(|e| serde::de::Error::custom(e.message()))
    }
}

/// Reads an envelope's JSON (see [`Envelope::from_json`]). The text is
/// parsed once when it reads; only when it does not is the version looked
/// for, by a second parse that reads nothing else.
pub(super) fn from_json(text: &str) -> Result<Envelope, Error> {
    let stored: Stored<'_> = serde_json::from_str(text).map_err(|e| {
        newer_format(text).unwrap_or_else(|| {
            let what = match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                    "it is not valid JSON"
                }
                serde_json::error::Category::Eof => "it ends before the envelope does",
                serde_json::error::Category::Data => {
                    "a field is missing, or of the wrong type or value"
                }
            };
            Error::new(
                ErrorKind::Serde,
                format!("the text is not a stored envelope: {what}"),
            )
            .at(json_position(text, &e))
        })
    })?;
    stored.read()
}

/// The error for an envelope of a newer major format (or of format 0),
/// whatever else its text holds.
fn newer_format(text: &str) -> Option<Error> {
    #[derive(Deserialize)]
    struct Peek {
        #[serde(default)]
        version: Option<u64>,
    }
    // Not JSON, or a `version` that is not a number: the strict parse's
    // error says what is wrong.
    let version = serde_json::from_str::<Peek>(text).ok()?.version?;
    if version == 0 {
        return Some(
            Error::new(
                ErrorKind::Serde,
                "envelope format `0` does not exist: formats start at 1",
            )
            .in_field(VERSION),
        );
    }
    (version > u64::from(Envelope::FORMAT_VERSION))
        .then(|| Error::new(ErrorKind::NewerFormat, newer(version)).in_field(VERSION))
}

/// An envelope as written: the current format, `version` first.
#[derive(Serialize)]
struct Written<'a> {
    version: u32,
    delivery: &'a str,
    webhook: &'a str,
    service: &'a str,
    event: &'a Event,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    segment: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<u64>,
    attempt: u32,
    first_attempt_at: &'a DateTime<Utc>,
    next_attempt_at: &'a DateTime<Utc>,
    request: &'a StoredRequest,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    fallbacks: &'a [String],
    #[serde(skip_serializing_if = "is_zero")]
    current_url: usize,
    #[serde(skip_serializing_if = "is_zero")]
    url_failures: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    token_refreshed: bool,
    #[serde(skip_serializing_if = "<[LoggedAttempt]>::is_empty")]
    attempts: &'a [LoggedAttempt],
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

impl Serialize for Envelope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Written {
            version: Envelope::FORMAT_VERSION,
            delivery: &self.delivery,
            webhook: &self.webhook,
            service: &self.service,
            event: &self.event,
            call_id: self.call_id.as_deref(),
            segment: self.segment,
            sequence: self.sequence,
            attempt: self.attempt,
            first_attempt_at: &self.first_attempt_at,
            next_attempt_at: &self.next_attempt_at,
            request: &self.request,
            fallbacks: &self.fallbacks,
            current_url: self.current_url,
            url_failures: self.url_failures,
            token_refreshed: self.token_refreshed,
            attempts: &self.attempts,
        }
        .serialize(s)
    }
}

impl Serialize for StoredRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut request = s.serialize_struct("StoredRequest", 4)?;
        request.serialize_field("method", &self.method)?;
        request.serialize_field("url", &self.url)?;
        request.serialize_field("headers", &self.headers)?;
        match std::str::from_utf8(&self.body) {
            Ok(text) => request.serialize_field("body", text)?,
            Err(_) => request.serialize_field("body_base64", &Base64(&self.body))?,
        }
        request.end()
    }
}

/// Bytes written as base64 straight into the serializer's output:
/// serde_json writes a `Display` without making a `String` of it first.
struct Base64<'a>(&'a [u8]);

impl Serialize for Base64<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&base64::display::Base64Display::new(
            self.0,
            &base64::engine::general_purpose::STANDARD,
        ))
    }
}

/// Bytes of `text` as a JSON string, quotes included, as serde_json
/// escapes it: `"`, `\` and the short escapes take two bytes, other
/// control characters six (`\u001f`).
fn escaped(text: &str) -> usize {
    2 + text
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// An upper bound of the bytes of `envelope`'s JSON, close to it: the
/// buffer [`Envelope::to_json`] writes into, so it is never grown.
pub(super) fn size(envelope: &Envelope) -> usize {
    /// Keys, punctuation, numbers and times of the fixed fields: under
    /// 400 bytes (each time at most 35, each number at most 20 digits).
    const FIXED: usize = 400;
    /// An attempt's keys, punctuation, numbers and time.
    const ATTEMPT: usize = 130;
    /// A header's keys and punctuation, `"sensitive":true` included.
    const HEADER: usize = 48;
    let request = &envelope.request;
    let body = match std::str::from_utf8(&request.body) {
        Ok(text) => escaped(text),
        Err(_) => request.body.len().div_ceil(3) * 4 + 2,
    };
    let headers: usize = request
        .headers
        .iter()
        .map(|h| HEADER + escaped(&h.name) + escaped(&h.value))
        .sum();
    let fallbacks: usize = envelope.fallbacks.iter().map(|u| escaped(u) + 1).sum();
    let attempts: usize = envelope
        .attempts
        .iter()
        .map(|a| ATTEMPT + escaped(&a.response) + a.error.as_deref().map_or(0, escaped))
        .sum();
    FIXED
        + body
        + headers
        + fallbacks
        + attempts
        + escaped(&request.method)
        + escaped(&request.url)
        + escaped(&envelope.delivery)
        + escaped(&envelope.webhook)
        + escaped(&envelope.service)
        + escaped(envelope.event.name())
        + envelope.call_id.as_deref().map_or(0, escaped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::log;
    use crate::retry::Outcome;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    /// An envelope of every part, its body `body`.
    fn envelope(body: &[u8]) -> Envelope {
        let mut attempts = Vec::new();
        let headers = http::HeaderMap::new();
        let answered = Outcome::response(http::StatusCode::BAD_GATEWAY, &headers)
            .with_response_start(b"{\"error\": \"upstream \\\"down\\\"\"}\n\x01");
        log::push(&mut attempts, LoggedAttempt::of(&answered, 0, at(10)));
        log::push(
            &mut attempts,
            LoggedAttempt::of(&Outcome::transport_error(), 1, at(20)),
        );
        Envelope {
            delivery: "d-\"1\"".into(),
            webhook: "w\u{1}".into(),
            service: "s\\".into(),
            event: Event::named("Call:Hangup"),
            call_id: Some("c\t1".into()),
            segment: Some(usize::MAX),
            sequence: Some(u64::MAX),
            attempt: u32::MAX,
            first_attempt_at: at(0),
            next_attempt_at: DateTime::<Utc>::MAX_UTC,
            request: StoredRequest {
                method: "POST".into(),
                url: "https://crm.example.com/a?x=\"1\"".into(),
                headers: vec![StoredHeader::new("x-a", "\"v\"\t\\", true)],
                body: body.to_vec(),
            },
            fallbacks: vec![
                "https://b.example.com/a".into(),
                "https://c.example.com/a".into(),
            ],
            current_url: 2,
            url_failures: u32::MAX,
            token_refreshed: true,
            attempts,
        }
    }

    /// The size estimate is never short (the buffer is never grown) and
    /// not far over, for text bodies with many escapes, binary bodies and
    /// none.
    #[test]
    fn the_size_estimate_is_honest() {
        let text = "\u{e9}t\u{e9} \\ \n".repeat(500);
        let bodies: [&[u8]; 6] = [
            b"",
            br#"{"a": "b", "c": "\"quoted\""}"#,
            &[b'"'; 4096],
            &[0x01; 4096],
            &[0xff; 4096],
            text.as_bytes(),
        ];
        for body in bodies {
            let envelope = envelope(body);
            let json = serde_json::to_string(&envelope).unwrap();
            let estimate = size(&envelope);
            assert!(estimate >= json.len(), "{estimate} < {}", json.len());
            assert!(
                estimate <= json.len() + 700,
                "{estimate} is far over {}",
                json.len()
            );
            assert_eq!(envelope.to_json(), json);
        }
    }

    #[test]
    fn every_part_round_trips_and_text_bodies_stay_text() {
        for body in [&b"{\"a\": 1}"[..], &[0xff, 0x00, 0x80][..], &b""[..]] {
            let envelope = envelope(body);
            let json = envelope.to_json();
            assert!(json.starts_with("{\"version\":2,"), "{json}");
            let back = Envelope::from_json(&json).unwrap();
            assert_eq!(back, envelope);
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            let text = std::str::from_utf8(body).is_ok();
            assert_eq!(value["request"].get("body").is_some(), text, "{json}");
            assert_eq!(
                value["request"].get("body_base64").is_some(),
                !text,
                "{json}"
            );
        }
        let json = envelope(b"{\"a\": 1}").to_json();
        assert!(json.contains(r#""body":"{\"a\": 1}""#), "{json}");
    }

    #[test]
    fn versions_are_read_and_newer_majors_refused() {
        let json = envelope(b"x").to_json();
        let newer = json.replacen("\"version\":2", "\"version\":3", 1);
        let err = Envelope::from_json(&newer).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NewerFormat);
        assert_eq!(err.field(), Some("version"));
        assert!(err.to_string().contains("format 3"), "{err}");
        assert!(err.to_string().contains("upgrade callhook"), "{err}");
        // Whatever else it holds: a field of another type, unknown fields.
        let changed = newer.replacen("\"attempt\":4294967295", "\"attempt\":\"many\"", 1);
        assert_ne!(changed, newer);
        assert_eq!(
            Envelope::from_json(&changed).unwrap_err().kind(),
            ErrorKind::NewerFormat
        );
        // Serde's own error says so too.
        let err = serde_json::from_str::<Envelope>(&newer).unwrap_err();
        assert!(err.to_string().contains("format 3"), "{err}");
        let zero = json.replacen("\"version\":2", "\"version\":0", 1);
        let err = Envelope::from_json(&zero).unwrap_err();
        assert!(err.to_string().contains("formats start at 1"), "{err}");
        // An unknown field of the same major is ignored, wherever it is.
        let unknown = json
            .replacen(
                "{\"version\":2,",
                "{\"version\":2,\"priority\":{\"x\":[1]},",
                1,
            )
            .replacen("\"method\":", "\"http2\":true,\"method\":", 1);
        assert_eq!(Envelope::from_json(&unknown).unwrap(), envelope(b"x"));
    }

    #[test]
    fn stored_bodies_are_one_or_the_other() {
        let json = envelope(b"x").to_json();
        let both = json.replacen(
            "\"body\":\"x\"",
            "\"body\":\"x\",\"body_base64\":\"eA==\"",
            1,
        );
        let err = Envelope::from_json(&both).unwrap_err();
        assert!(err.to_string().contains("both"), "{err}");
        let base64 = json.replacen("\"body\":\"x\"", "\"body_base64\":\"eA==\"", 1);
        assert_eq!(Envelope::from_json(&base64).unwrap(), envelope(b"x"));
        let bad = json.replacen("\"body\":\"x\"", "\"body_base64\":\"e*A=\"", 1);
        let err = Envelope::from_json(&bad).unwrap_err();
        assert!(err.to_string().contains("base64"), "{err}");
        let none = json.replacen(",\"body\":\"x\"", "", 1);
        assert_eq!(Envelope::from_json(&none).unwrap().request.body, b"");
        // Format 1: base64 in `body`, which it must have.
        let format_1 = json.replacen("\"version\":2,", "", 1).replacen(
            "\"body\":\"x\"",
            "\"body\":\"eA==\"",
            1,
        );
        assert_eq!(Envelope::from_json(&format_1).unwrap(), envelope(b"x"));
        let err = Envelope::from_json(&none.replacen("\"version\":2,", "", 1)).unwrap_err();
        assert!(err.to_string().contains("format 1"), "{err}");
    }

    #[test]
    fn stored_envelopes_over_a_limit_are_refused_with_the_limit() {
        let mut over = envelope(b"x");
        over.fallbacks = vec!["https://b.example.com/".into(); ENVELOPE_FALLBACK_URLS + 1];
        let err = Envelope::from_json(&over.to_json()).unwrap_err();
        assert!(err.to_string().contains("ENVELOPE_FALLBACK_URLS"), "{err}");
        let mut over = envelope(b"x");
        over.current_url = 3;
        let err = Envelope::from_json(&over.to_json()).unwrap_err();
        assert_eq!(err.field(), Some("current_url"));
        let mut over = envelope(b"x");
        let entry = over.attempts[0].clone();
        over.attempts = vec![entry; ENVELOPE_ATTEMPTS + 1];
        let err = Envelope::from_json(&over.to_json()).unwrap_err();
        assert!(err.to_string().contains("ENVELOPE_ATTEMPTS"), "{err}");
        let mut over = envelope(b"x");
        over.attempts[1].response = "r".repeat(limits::ATTEMPT_RESPONSE_BYTES + 1);
        let err = Envelope::from_json(&over.to_json()).unwrap_err();
        assert_eq!(err.field(), Some("attempts.1"));
    }
}
