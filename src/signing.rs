//! Request signatures: what a receiver uses to verify, and the primitives
//! the sender shares with it. Standard Webhooks v1 ([`verify_standard`])
//! and `v1a` (Ed25519, feature `ed25519`: `verify_standard_v1a`),
//! configurable HMAC schemes such as Convoy's, Zoom's and GitHub's
//! ([`HmacScheme`]), Vonage-style JWTs carrying the body's hash
//! ([`verify_vonage`]), and Twilio-style ([`verify_twilio`]). Every
//! verifier that reads a timestamp takes the time and the tolerance;
//! signatures and hashes are compared in constant time.
//!
//! The sender's setting, [`SigningConfig`](crate::SigningConfig), lives
//! with the sender: a service signs its requests when the host asks, with
//! the time of that attempt ([`Registry::sign`](crate::Registry::sign) or
//! [`Service::sign`](crate::Service::sign)). Time is always passed in: the
//! library never reads a clock.

use std::borrow::Cow;
use std::fmt;

use base64::engine::general_purpose::{self, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use http::header::{HeaderMap, HeaderName};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::error::{Error, ErrorKind};
use crate::limits::{
    FORM_PARAMETERS, JWT_BYTES, SHORTEST_TWILIO_TOKEN, SIGNATURES, TWILIO_BODY_BYTES,
    TWILIO_URL_BYTES,
};

/// How far a Standard Webhooks timestamp may be from the receiver's clock,
/// either way.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Secrets are accepted padded or not, as the reference libraries do.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

pub(crate) fn signature_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Signature, message)
}

/// A Standard Webhooks signing secret: `whsec_` and the base64 key (the
/// prefix is optional).
#[derive(Clone)]
pub struct SigningKey {
    /// The HMAC keyed once, cloned for each message.
    keyed: Hmac<Sha256>,
    /// The key's length, which signing services must hold to a minimum.
    pub(crate) length: usize,
}

impl PartialEq for SigningKey {
    /// Keys are equal when they sign alike.
    fn eq(&self, other: &SigningKey) -> bool {
        self.sign("", 0, b"") == other.sign("", 0, b"")
    }
}

impl Eq for SigningKey {}

impl SigningKey {
    /// Parses a secret such as `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`.
    ///
    /// # Errors
    ///
    /// A secret that is not base64 after its `whsec_` prefix, or is empty,
    /// is an error of kind [`ErrorKind::Signature`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::signing::SigningKey;
    ///
    /// let key = SigningKey::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
    /// assert_eq!(
    ///     key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#),
    ///     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    /// );
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn new(secret: &str) -> Result<SigningKey, Error> {
        // The prefix is optional, as the Standard Webhooks libraries read it.
        let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
        let key = LENIENT_BASE64.decode(encoded).map_err(|e| {
            signature_error("a signing secret must be `whsec_` and base64").with_source(e)
        })?;
        if key.is_empty() {
            return Err(signature_error("a signing secret cannot be empty"));
        }
        Ok(SigningKey {
            keyed: hmac_sha256(&key),
            length: key.len(),
        })
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(itoa::Buffer::new().format(timestamp).as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `v1,<base64>` signature of a message.
    #[must_use]
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", general_purpose::STANDARD.encode(tag))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

/// Verifies a Standard Webhooks request: the `webhook-id`,
/// `webhook-timestamp` and `webhook-signature` headers against the exact
/// body bytes, with [`TOLERANCE_SECONDS`] either way of `now`. Any one `v1`
/// signature matching any one key passes (keys rotate; several are sent).
///
/// # Errors
///
/// A missing or malformed header, a timestamp outside the tolerance, more
/// than [`SIGNATURES`] signatures, or no matching signature is an error
/// of kind [`ErrorKind::Signature`].
///
/// # Examples
///
/// ```
/// use callhook::signing::{verify_standard, SigningKey};
/// use http::HeaderMap;
///
/// let key = SigningKey::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let body = br#"{"uuid": "bfd7e62a"}"#;
/// let mut headers = HeaderMap::new();
/// headers.insert("webhook-id", "msg_1".parse().unwrap());
/// headers.insert("webhook-timestamp", "1733173900".parse().unwrap());
/// headers.insert("webhook-signature", key.sign("msg_1", 1733173900, body).parse().unwrap());
/// let now = chrono::DateTime::from_timestamp(1733173960, 0).unwrap();
/// verify_standard(&[key], &headers, body, now)?;
/// # Ok::<(), callhook::Error>(())
/// ```
pub fn verify_standard(
    keys: &[SigningKey],
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), Error> {
    // A value that is not visible ASCII is none a sender wrote: refused
    // as missing, never read in part.
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| signature_error(format!("missing `{name}` header")))
    };
    let id = header("webhook-id")?;
    let timestamp: i64 = header("webhook-timestamp")?
        .trim()
        .parse()
        .map_err(|_| signature_error("`webhook-timestamp` is not a number"))?;
    let signatures = header("webhook-signature")?;
    let skew = now.timestamp().saturating_sub(timestamp);
    if skew > TOLERANCE_SECONDS {
        return Err(signature_error("`webhook-timestamp` is too old"));
    }
    if skew < -TOLERANCE_SECONDS {
        return Err(signature_error("`webhook-timestamp` is in the future"));
    }
    let candidates: Vec<&str> = signatures.split(' ').collect();
    if candidates.len() > SIGNATURES {
        return Err(signature_error(format!(
            "`webhook-signature` holds more than {SIGNATURES} signatures (`limits::SIGNATURES`)"
        )));
    }
    // The body is hashed once per key, however many signatures are sent.
    let expected: Vec<_> = keys
        .iter()
        .map(|key| key.mac(id, timestamp, body).finalize().into_bytes())
        .collect();
    for candidate in candidates {
        let Some(("v1", encoded)) = candidate.split_once(',') else {
            continue;
        };
        let Ok(tag) = general_purpose::STANDARD.decode(encoded) else {
            continue;
        };
        if expected
            .iter()
            .any(|mac| constant_time_eq(mac.as_slice(), &tag))
        {
            return Ok(());
        }
    }
    Err(signature_error("no `v1` signature matches"))
}

/// The Twilio-style signature of a request: base64 of HMAC-SHA1, keyed by
/// the auth token, over the URL followed by every form parameter in
/// code-point order of name, each distinct value in sorted order, as
/// `name` + `value`.
///
/// The parameters are sorted once, so the work is `n log n` in their
/// number. This computes any token's signature, however short: only
/// [`verify_twilio`] and services refuse tokens under [`SHORTEST_TWILIO_TOKEN`].
///
/// # Examples
///
/// ```
/// use callhook::signing::twilio_signature;
///
/// let params = [("CallSid".to_owned(), "CA123".to_owned())];
/// let signature = twilio_signature("12345", "https://example.com/voice", &params);
/// assert_eq!(signature.len(), 28);
/// ```
#[must_use]
pub fn twilio_signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    twilio_tag(&twilio_key(token), url, &sorted_params(params))
}

/// The HMAC-SHA1 keyed once by the auth token, cloned for each URL.
fn twilio_key(token: &str) -> Hmac<Sha1> {
    <Hmac<Sha1> as Mac>::new_from_slice(token.as_bytes()).expect("HMAC accepts keys of any length")
}

/// The parameters in the order Twilio signs them: by name, then by value,
/// each pair once. Sorting the pairs whole gives each name's distinct
/// values in order without looking for them, which made verifying
/// quadratic in the number of parameters.
fn sorted_params(params: &[(String, String)]) -> Vec<(&str, &str)> {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

/// The base64 signature of `url` and parameters already sorted.
fn twilio_tag(key: &Hmac<Sha1>, url: &str, sorted: &[(&str, &str)]) -> String {
    let mut mac = key.clone();
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Refuses a Twilio auth token under [`SHORTEST_TWILIO_TOKEN`] bytes.
pub(crate) fn check_token(token: &str) -> Result<(), Error> {
    if token.len() < SHORTEST_TWILIO_TOKEN {
        return Err(signature_error(format!(
            "the Twilio auth token is {} bytes; Twilio auth tokens are at least {SHORTEST_TWILIO_TOKEN} (`limits::SHORTEST_TWILIO_TOKEN`)",
            token.len()
        )));
    }
    Ok(())
}

/// Refuses a Twilio-signed request past [`FORM_PARAMETERS`],
/// [`TWILIO_URL_BYTES`] or [`TWILIO_BODY_BYTES`], before any hashing: the same
/// bounds for what a service signs and what [`verify_twilio`] takes.
pub(crate) fn check_twilio_limits(
    url: &str,
    params: &[(String, String)],
    body: usize,
) -> Result<(), Error> {
    if params.len() > FORM_PARAMETERS {
        return Err(signature_error(format!(
            "the request has {} form parameters; a Twilio-signed request has at most \
             {FORM_PARAMETERS} (`limits::FORM_PARAMETERS`)",
            params.len()
        )));
    }
    if url.len() > TWILIO_URL_BYTES {
        return Err(signature_error(format!(
            "the URL is {} bytes; a Twilio-signed request's is at most {TWILIO_URL_BYTES} (`limits::TWILIO_URL_BYTES`)",
            url.len()
        )));
    }
    if body > TWILIO_BODY_BYTES {
        return Err(signature_error(format!(
            "the body is {body} bytes; a Twilio-signed request's is at most {TWILIO_BODY_BYTES} (`limits::TWILIO_BODY_BYTES`)"
        )));
    }
    let mut bytes = 0usize;
    for (name, value) in params {
        bytes = bytes.saturating_add(name.len()).saturating_add(value.len());
        if bytes > TWILIO_BODY_BYTES {
            return Err(signature_error(format!(
                "the form parameters hold more than {TWILIO_BODY_BYTES} bytes, the most a \
                 Twilio-signed request's body may (`limits::TWILIO_BODY_BYTES`)"
            )));
        }
    }
    Ok(())
}

/// The hex SHA-256 of a body, for Twilio's `bodySHA256` query parameter.
#[must_use]
pub fn body_sha256(body: &[u8]) -> String {
    let mut hex = String::with_capacity(64);
    push_hex(&mut hex, &Sha256::digest(body));
    hex
}

/// The URL without its port, and with its port (its own, or the default
/// one added: `:443` for https, `:80` otherwise), as Twilio's Python and
/// Node validators try it: Twilio's back ends sign one or the other. Like
/// theirs, this works on the text (no other normalisation), so one of the
/// two is always the URL as given.
fn port_forms(url: &str) -> [Cow<'_, str>; 2] {
    // `scheme://authority`, as Node's validator splits it.
    let scheme_end = url
        .find("://")
        .filter(|&i| {
            let scheme = &url.as_bytes()[..i];
            scheme.first().is_some_and(u8::is_ascii_alphabetic)
                && scheme
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
        })
        .map(|i| i + 3);
    let Some(scheme_end) = scheme_end else {
        return [Cow::Borrowed(url), Cow::Borrowed(url)];
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let authority = &url[scheme_end..authority_end];
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    // A colon starts the port only after an IPv6 literal's closing bracket.
    let after_bracket = authority[host_start..].rfind(']').map_or(0, |i| i + 1);
    let port_start = authority[host_start + after_bracket..]
        .find(':')
        .map(|i| scheme_end + host_start + after_bracket + i);
    match port_start {
        Some(port) => [
            Cow::Owned(format!("{}{}", &url[..port], &url[authority_end..])),
            Cow::Borrowed(url),
        ],
        None => {
            let https = url[..scheme_end].eq_ignore_ascii_case("https://");
            let default = if https { ":443" } else { ":80" };
            [
                Cow::Borrowed(url),
                Cow::Owned(format!(
                    "{}{default}{}",
                    &url[..authority_end],
                    &url[authority_end..]
                )),
            ]
        }
    }
}

/// Every URL form Twilio's validators try for `url`: [`port_forms`], and
/// when the URL ends in an empty `?`, the same without it (Python's
/// validator drops it, as `urlparse` does; Node's keeps it).
fn twilio_urls(url: &str) -> Vec<Cow<'_, str>> {
    let mut urls = Vec::with_capacity(4);
    urls.extend(port_forms(url));
    if let Some(bare) = url.strip_suffix('?').filter(|bare| !bare.contains('?')) {
        urls.extend(port_forms(bare).map(|form| Cow::Owned(form.into_owned())));
    }
    urls.dedup();
    urls
}

/// Verifies a Twilio-style signature, as Twilio's own Python and Node
/// validators do: the URL is tried without its port and with it (the
/// default port added when it has none), and when it ends in an empty `?`,
/// without that too; for a URL carrying `bodySHA256`, that must be the
/// SHA-256 of `body` and only the URL is signed.
///
/// The work is linear in the size of the request (the parameters are sorted
/// once, the URL forms are at most four), and bounded: a token under
/// [`SHORTEST_TWILIO_TOKEN`] bytes, more than [`FORM_PARAMETERS`] parameters, a URL
/// over [`TWILIO_URL_BYTES`] bytes, or a body or parameters over
/// [`TWILIO_BODY_BYTES`] bytes are refused before anything is hashed.
///
/// Node's validator also tries the URL as `new URL()` re-encodes it (for
/// back ends that signed an escaped form); this does not, as a URL callhook
/// sends is already in that form.
///
/// # Errors
///
/// A short token, a request past a limit, a `bodySHA256` that does not match
/// the body, or a signature that matches no form of the URL, is an error of
/// kind [`ErrorKind::Signature`].
///
/// # Examples
///
/// ```
/// use callhook::signing::{twilio_signature, verify_twilio};
///
/// let token = "0123456789abcdef0123456789abcdef";
/// let params = [("CallSid".to_owned(), "CA123".to_owned())];
/// let signature = twilio_signature(token, "https://example.com/voice", &params);
/// // Received behind a port Twilio did not sign.
/// let url = "https://example.com:8443/voice";
/// verify_twilio(token, url, &params, b"CallSid=CA123", &signature)?;
/// # Ok::<(), callhook::Error>(())
/// ```
pub fn verify_twilio(
    token: &str,
    url: &str,
    params: &[(String, String)],
    body: &[u8],
    signature: &str,
) -> Result<(), Error> {
    check_token(token)?;
    check_twilio_limits(url, params, body.len())?;
    // A URL that does not parse carries no `bodySHA256`: the signature
    // over the URL and the parameters alone decides.
    let body_hash = url::Url::parse(url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "bodySHA256")
            .map(|(_, v)| v.into_owned())
    });
    let params: &[(String, String)] = match &body_hash {
        Some(expected) => {
            if !constant_time_eq(expected.as_bytes(), body_sha256(body).as_bytes()) {
                return Err(signature_error("`bodySHA256` does not match the body"));
            }
            &[]
        }
        None => params,
    };
    // Sorted and keyed once; each URL form then hashes the request once.
    let sorted = sorted_params(params);
    let key = twilio_key(token);
    let mut matched = false;
    for candidate in twilio_urls(url) {
        let expected = twilio_tag(&key, &candidate, &sorted);
        matched |= constant_time_eq(expected.as_bytes(), signature.as_bytes());
    }
    if matched {
        Ok(())
    } else {
        Err(signature_error("the `X-Twilio-Signature` does not match"))
    }
}

// ---------------------------------------------------------------------------
// Shared encodings.

/// Lowercase hex of `bytes`, appended to `out`.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
}

/// Hex in either case, or `None`.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    fn digit(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// A header's value as visible ASCII, or an error naming it as missing: a
/// value that is not is none a sender wrote, so it is never read in part.
fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, Error> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| signature_error(format!("missing `{name}` header")))
}

/// Refuses a timestamp more than `tolerance` either way of `now`; `what`
/// names where it was read.
fn check_fresh(
    timestamp: i64,
    now: DateTime<Utc>,
    tolerance: TimeDelta,
    what: &str,
) -> Result<(), Error> {
    let skew = now.timestamp().saturating_sub(timestamp);
    let tolerance = tolerance.num_seconds().saturating_abs();
    if skew > tolerance {
        return Err(signature_error(format!("{what} is too old")));
    }
    if skew < -tolerance {
        return Err(signature_error(format!("{what} is in the future")));
    }
    Ok(())
}

/// A Unix timestamp in seconds, written in decimal digits only (no sign,
/// no spaces, not `Infinity`).
fn parse_timestamp(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

// ---------------------------------------------------------------------------
// Configurable HMAC schemes.

/// The hash of an HMAC scheme, keyed once and cloned for each message.
#[derive(Clone)]
enum HmacKey {
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

/// One piece of a signed message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Id,
    Timestamp,
    Body,
}

/// A tag of either hash, held inline.
struct Tag {
    bytes: [u8; 64],
    len: usize,
}

impl Tag {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl HmacKey {
    fn new(secret: &[u8], sha512: bool) -> HmacKey {
        if sha512 {
            HmacKey::Sha512(
                <Hmac<Sha512> as Mac>::new_from_slice(secret)
                    .expect("HMAC accepts keys of any length"),
            )
        } else {
            HmacKey::Sha256(hmac_sha256(secret))
        }
    }

    fn tag(&self, message: &[Piece], id: &str, timestamp: i64, body: &[u8]) -> Tag {
        fn feed<M: Mac>(mac: &mut M, message: &[Piece], id: &str, timestamp: i64, body: &[u8]) {
            for piece in message {
                match piece {
                    Piece::Text(text) => mac.update(text.as_bytes()),
                    Piece::Id => mac.update(id.as_bytes()),
                    Piece::Timestamp => {
                        mac.update(itoa::Buffer::new().format(timestamp).as_bytes())
                    }
                    Piece::Body => mac.update(body),
                }
            }
        }
        let mut tag = Tag {
            bytes: [0; 64],
            len: 0,
        };
        match self {
            HmacKey::Sha256(keyed) => {
                let mut mac = keyed.clone();
                feed(&mut mac, message, id, timestamp, body);
                tag.bytes[..32].copy_from_slice(&mac.finalize().into_bytes());
                tag.len = 32;
            }
            HmacKey::Sha512(keyed) => {
                let mut mac = keyed.clone();
                feed(&mut mac, message, id, timestamp, body);
                tag.bytes.copy_from_slice(&mac.finalize().into_bytes());
                tag.len = 64;
            }
        }
        tag
    }
}

/// How an HMAC scheme is laid out, as its configuration
/// ([`HmacSigning`](crate::HmacSigning)) says once presets are applied.
pub(crate) struct HmacLayout<'a> {
    pub(crate) header: &'a str,
    pub(crate) message: &'a str,
    pub(crate) pairs: bool,
    pub(crate) prefix: &'a str,
    pub(crate) timestamp_header: Option<&'a str>,
    pub(crate) id_header: Option<&'a str>,
    pub(crate) sha512: bool,
    pub(crate) base64: bool,
}

/// A configurable HMAC signature scheme with its secrets, ready to sign and
/// verify: Convoy's simple and advanced forms, Zoom's, GitHub's, and any
/// other of their shapes. Made from its configuration by
/// [`HmacSigning::scheme`](crate::HmacSigning::scheme), so a receiver
/// verifies with the very setting a sender signs with.
///
/// The signed message is the configuration's `message` with `{id}`,
/// `{timestamp}` (Unix seconds) and `{body}` (the exact body bytes) put in.
/// The signature header holds either the signature alone, after a prefix
/// (`sha256=…`, `v0=…`), or (`"layout": "pairs"`) comma-separated pairs,
/// `t=<timestamp>` and one `<prefix><signature>` per secret
/// (`t=1700000000,v1=…,v1=…`), read in any order.
#[derive(Clone)]
pub struct HmacScheme {
    header: HeaderName,
    message: Vec<Piece>,
    pairs: bool,
    prefix: String,
    timestamp_header: Option<HeaderName>,
    id_header: Option<HeaderName>,
    base64: bool,
    keys: Vec<HmacKey>,
}

impl fmt::Debug for HmacScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacScheme")
            .field("header", &self.header)
            .field("message", &self.message)
            .field("pairs", &self.pairs)
            .field("prefix", &self.prefix)
            .field("timestamp_header", &self.timestamp_header)
            .field("id_header", &self.id_header)
            .field("base64", &self.base64)
            .field("keys", &format_args!("[{} redacted]", self.keys.len()))
            .finish()
    }
}

impl PartialEq for HmacScheme {
    /// Schemes are equal when they are laid out alike and their keys sign
    /// alike.
    fn eq(&self, other: &HmacScheme) -> bool {
        let tags = |scheme: &HmacScheme| -> Vec<Vec<u8>> {
            let empty = [Piece::Body];
            scheme
                .keys
                .iter()
                .map(|key| key.tag(&empty, "", 0, b"").as_slice().to_vec())
                .collect()
        };
        self.header == other.header
            && self.message == other.message
            && self.pairs == other.pairs
            && self.prefix == other.prefix
            && self.timestamp_header == other.timestamp_header
            && self.id_header == other.id_header
            && self.base64 == other.base64
            && tags(self) == tags(other)
    }
}

fn header_name(name: &str, field: &str) -> Result<HeaderName, Error> {
    HeaderName::try_from(name)
        .map_err(|_| signature_error(format!("`{field}` is not a header name: `{name}`")))
}

impl HmacScheme {
    /// Compiles a layout and its secrets, refusing any that could not be
    /// signed or verified.
    pub(crate) fn new<'s>(
        layout: &HmacLayout<'_>,
        secrets: impl IntoIterator<Item = &'s str>,
    ) -> Result<HmacScheme, Error> {
        let message = parse_message(layout.message)?;
        let signs = |piece: Piece| message.contains(&piece);
        if !signs(Piece::Body) {
            return Err(signature_error("`message` must sign the `{body}`"));
        }
        if layout.pairs && layout.timestamp_header.is_some() {
            return Err(signature_error(
                "`timestamp_header` is for the `plain` layout: the `pairs` layout carries \
                 the timestamp as `t=`",
            ));
        }
        if signs(Piece::Timestamp) != (layout.pairs || layout.timestamp_header.is_some()) {
            return Err(signature_error(if signs(Piece::Timestamp) {
                "`message` signs the `{timestamp}`: set `timestamp_header`, or use the \
                 `pairs` layout, so the receiver has it"
            } else {
                "the timestamp sent is not signed: put `{timestamp}` in `message`"
            }));
        }
        if signs(Piece::Id) != layout.id_header.is_some() {
            return Err(signature_error(if signs(Piece::Id) {
                "`message` signs the `{id}`: set `id_header`, so the receiver has it"
            } else {
                "the id sent is not signed: put `{id}` in `message`, or drop `id_header`"
            }));
        }
        if layout.pairs && (layout.prefix.contains(',') || !layout.prefix.ends_with('=')) {
            return Err(signature_error(
                "in the `pairs` layout, `prefix` is a signature's key and `=` (`v1=`), \
                 without a comma",
            ));
        }
        if layout.pairs && layout.prefix == "t=" {
            return Err(signature_error(
                "`t=` is the timestamp's key, not a signature's",
            ));
        }
        let keys = secrets
            .into_iter()
            .enumerate()
            .map(|(i, secret)| {
                if secret.is_empty() {
                    return Err(signature_error(format!("secret {i} is empty")));
                }
                Ok(HmacKey::new(secret.as_bytes(), layout.sha512))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(signature_error("give at least one secret"));
        }
        if keys.len() > SIGNATURES {
            return Err(signature_error(format!(
                "{} secrets; a scheme has at most {SIGNATURES} (`limits::SIGNATURES`)",
                keys.len()
            )));
        }
        Ok(HmacScheme {
            header: header_name(layout.header, "header")?,
            message,
            pairs: layout.pairs,
            prefix: layout.prefix.to_owned(),
            timestamp_header: layout
                .timestamp_header
                .map(|name| header_name(name, "timestamp_header"))
                .transpose()?,
            id_header: layout
                .id_header
                .map(|name| header_name(name, "id_header"))
                .transpose()?,
            base64: layout.base64,
            keys,
        })
    }

    /// Whether the message signs a timestamp: verify such a scheme with
    /// [`HmacScheme::verify_at`], any other with [`HmacScheme::verify`].
    #[must_use]
    pub fn is_timed(&self) -> bool {
        self.message.contains(&Piece::Timestamp)
    }

    /// How many signatures a request carries: one per secret in the
    /// `pairs` layout, the first secret's alone in the `plain` one.
    pub(crate) fn plain_with_several(&self) -> bool {
        !self.pairs && self.keys.len() > 1
    }

    /// The headers signing writes: the signature's, and the timestamp's and
    /// id's when they have their own.
    pub(crate) fn headers(&self) -> Vec<&str> {
        let mut names = vec![self.header.as_str()];
        names.extend(self.timestamp_header.as_ref().map(HeaderName::as_str));
        names.extend(self.id_header.as_ref().map(HeaderName::as_str));
        names
    }

    /// The headers of delivery `id` at `timestamp`: name and value each.
    pub(crate) fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<(HeaderName, String)> {
        let mut value = String::with_capacity(16 + self.keys.len() * (self.prefix.len() + 129));
        if self.pairs {
            value.push_str("t=");
            value.push_str(itoa::Buffer::new().format(timestamp));
        }
        // The `plain` layout has room for one signature: the first
        // secret's (a sender compiles only one).
        let keys = if self.pairs {
            &self.keys[..]
        } else {
            &self.keys[..1]
        };
        for key in keys {
            if self.pairs {
                value.push(',');
            }
            value.push_str(&self.prefix);
            let tag = key.tag(&self.message, id, timestamp, body);
            if self.base64 {
                general_purpose::STANDARD.encode_string(tag.as_slice(), &mut value);
            } else {
                push_hex(&mut value, tag.as_slice());
            }
        }
        let mut headers = vec![(self.header.clone(), value)];
        if let Some(name) = &self.timestamp_header {
            headers.push((name.clone(), timestamp.to_string()));
        }
        if let Some(name) = &self.id_header {
            headers.push((name.clone(), id.to_owned()));
        }
        headers
    }

    /// Verifies a request of a scheme that signs no timestamp (Convoy's
    /// simple form, GitHub's): any signature matching any secret passes.
    ///
    /// # Errors
    ///
    /// A scheme that signs a timestamp (use [`HmacScheme::verify_at`]), a
    /// missing or malformed header, or no matching signature is an error
    /// of kind [`ErrorKind::Signature`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{HmacPreset, HmacSigning, Secret};
    /// use http::HeaderMap;
    ///
    /// let scheme = HmacSigning::from_preset(HmacPreset::Github, vec![Secret::new("It's a Secret to Everybody")])
    ///     .scheme()?;
    /// let mut headers = HeaderMap::new();
    /// headers.insert(
    ///     "x-hub-signature-256",
    ///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".parse().unwrap(),
    /// );
    /// scheme.verify(&headers, b"Hello, World!")?;
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Error> {
        if self.is_timed() {
            return Err(signature_error(
                "the scheme signs a timestamp: verify with `HmacScheme::verify_at`",
            ));
        }
        self.check(headers, body, None)
    }

    /// Verifies a request of a scheme that signs a timestamp (Convoy's
    /// advanced form, Zoom's), which must be within `tolerance` of `now`
    /// either way: any signature matching any secret passes.
    ///
    /// # Errors
    ///
    /// A scheme that signs no timestamp (use [`HmacScheme::verify`]), a
    /// missing or malformed header, a timestamp outside the tolerance,
    /// more than [`SIGNATURES`] signatures, or no matching signature is an
    /// error of kind [`ErrorKind::Signature`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{HmacPreset, HmacSigning, Secret};
    /// use chrono::{DateTime, TimeDelta};
    /// use http::HeaderMap;
    ///
    /// let scheme = HmacSigning::from_preset(HmacPreset::ConvoyAdvanced, vec![Secret::new("convoy-webhook-secret")])
    ///     .scheme()?;
    /// let mut headers = HeaderMap::new();
    /// headers.insert(
    ///     "x-convoy-signature",
    ///     "t=1700000000,v1=77b8b9269f25a199846a55a2bd25b3fba151c70fdae60bb1dcd87fbbc943c55c"
    ///         .parse()
    ///         .unwrap(),
    /// );
    /// let body = br#"{"event":"charge.success","amount":1000,"currency":"NGN"}"#;
    /// let now = DateTime::from_timestamp(1700000060, 0).unwrap();
    /// scheme.verify_at(&headers, body, now, TimeDelta::minutes(5))?;
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
        tolerance: TimeDelta,
    ) -> Result<(), Error> {
        if !self.is_timed() {
            return Err(signature_error(
                "the scheme signs no timestamp: verify with `HmacScheme::verify`",
            ));
        }
        self.check(headers, body, Some((now, tolerance)))
    }

    fn check(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        fresh: Option<(DateTime<Utc>, TimeDelta)>,
    ) -> Result<(), Error> {
        let value = header_text(headers, self.header.as_str())?;
        let id = match &self.id_header {
            Some(name) => header_text(headers, name.as_str())?,
            None => "",
        };
        let mut timestamp = None;
        let mut candidates = Vec::new();
        if self.pairs {
            for item in value.split(',').map(str::trim) {
                if let Some(t) = item.strip_prefix("t=") {
                    if timestamp.is_some() {
                        return Err(signature_error(format!(
                            "`{}` holds two timestamps",
                            self.header
                        )));
                    }
                    timestamp = Some(parse_timestamp(t).ok_or_else(|| {
                        signature_error(format!("`{}`'s `t=` is not a timestamp", self.header))
                    })?);
                } else if let Some(signature) = item.strip_prefix(self.prefix.as_str()) {
                    // Stopped at the limit, not after reading a hostile
                    // header whole.
                    if candidates.len() == SIGNATURES {
                        return Err(signature_error(format!(
                            "`{}` holds more than {SIGNATURES} signatures (`limits::SIGNATURES`)",
                            self.header
                        )));
                    }
                    candidates.push(signature);
                }
            }
            if timestamp.is_none() {
                return Err(signature_error(format!(
                    "`{}` holds no `t=` timestamp",
                    self.header
                )));
            }
        } else {
            candidates.extend(value.trim().strip_prefix(self.prefix.as_str()));
            if let Some(name) = &self.timestamp_header {
                let text = header_text(headers, name.as_str())?;
                timestamp = Some(
                    parse_timestamp(text.trim())
                        .ok_or_else(|| signature_error(format!("`{name}` is not a timestamp")))?,
                );
            }
        }
        if candidates.len() > SIGNATURES {
            return Err(signature_error(format!(
                "`{}` holds more than {SIGNATURES} signatures (`limits::SIGNATURES`)",
                self.header
            )));
        }
        let timestamp = timestamp.unwrap_or(0);
        if let Some((now, tolerance)) = fresh {
            let what = match &self.timestamp_header {
                Some(name) => format!("`{name}`"),
                None => format!("`{}`'s timestamp", self.header),
            };
            check_fresh(timestamp, now, tolerance, &what)?;
        }
        // The body is hashed once per secret, however many signatures are
        // sent.
        let expected: Vec<Tag> = self
            .keys
            .iter()
            .map(|key| key.tag(&self.message, id, timestamp, body))
            .collect();
        let mut matched = false;
        for candidate in candidates {
            let decoded = if self.base64 {
                LENIENT_BASE64.decode(candidate).ok()
            } else {
                decode_hex(candidate)
            };
            let Some(decoded) = decoded else { continue };
            for tag in &expected {
                matched |= constant_time_eq(tag.as_slice(), &decoded);
            }
        }
        if matched {
            Ok(())
        } else {
            Err(signature_error(format!(
                "no signature in `{}` matches",
                self.header
            )))
        }
    }
}

/// Splits a message pattern into its pieces: `{id}`, `{timestamp}` and
/// `{body}` placeholders, and text between them.
fn parse_message(pattern: &str) -> Result<Vec<Piece>, Error> {
    let mut pieces = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_owned()));
        }
        let after = &rest[open..];
        let (piece, len) = if after.starts_with("{id}") {
            (Piece::Id, 4)
        } else if after.starts_with("{timestamp}") {
            (Piece::Timestamp, 11)
        } else if after.starts_with("{body}") {
            (Piece::Body, 6)
        } else {
            let shown: String = after.chars().take(24).collect();
            return Err(signature_error(format!(
                "`message` has `{shown}`; its placeholders are `{{id}}`, `{{timestamp}}` and \
                 `{{body}}`"
            )));
        };
        if piece == Piece::Body && pieces.contains(&Piece::Body) {
            return Err(signature_error("`message` signs the `{body}` twice"));
        }
        pieces.push(piece);
        rest = &after[len..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    Ok(pieces)
}

// ---------------------------------------------------------------------------
// Standard Webhooks `v1a` (Ed25519).

/// A Standard Webhooks `v1a` signing key, `whsk_` and base64 (the prefix
/// is optional). The specification does not say which bytes the key
/// holds, and implementations differ: both the 32-byte seed and the
/// 64-byte seed followed by its public key are accepted (the public half
/// must be the seed's).
#[cfg(feature = "ed25519")]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Ed25519Key(ed25519_dalek::SigningKey);

#[cfg(feature = "ed25519")]
impl Ed25519Key {
    pub(crate) fn new(secret: &str) -> Result<Ed25519Key, Error> {
        let encoded = secret.strip_prefix("whsk_").unwrap_or(secret);
        let bytes = LENIENT_BASE64.decode(encoded).map_err(|e| {
            signature_error("a `v1a` signing key must be `whsk_` and base64").with_source(e)
        })?;
        let seed: [u8; 32] = match bytes.len() {
            32 | 64 => bytes[..32].try_into().expect("32 bytes"),
            n => {
                return Err(signature_error(format!(
                    "a `v1a` signing key is 32 bytes (the seed) or 64 (the seed and its \
                     public key), not {n}"
                )))
            }
        };
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        if bytes.len() == 64 && key.verifying_key().as_bytes()[..] != bytes[32..] {
            return Err(signature_error(
                "the 64-byte `v1a` signing key's public half is not its seed's",
            ));
        }
        Ok(Ed25519Key(key))
    }

    /// The `v1a,<base64>` signature of a message.
    pub(crate) fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        use ed25519_dalek::Signer as _;
        let message = standard_message(id, timestamp, body);
        let signature = self.0.sign(&message);
        format!(
            "v1a,{}",
            general_purpose::STANDARD.encode(signature.to_bytes())
        )
    }
}

#[cfg(feature = "ed25519")]
impl fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519Key([redacted])")
    }
}

#[cfg(feature = "ed25519")]
impl Ed25519Key {
    pub(crate) fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }
}

/// `{id}.{timestamp}.{body}`, the bytes Standard Webhooks signs.
#[cfg(feature = "ed25519")]
fn standard_message(id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let timestamp = itoa::Buffer::new().format(timestamp).to_owned();
    let mut message = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    message.extend_from_slice(id.as_bytes());
    message.push(b'.');
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    message
}

/// A Standard Webhooks `v1a` public key, `whpk_` and the base64 of its 32
/// bytes (the prefix is optional), for verifying; it prints in that form.
/// (Feature `ed25519`.)
#[cfg(feature = "ed25519")]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

#[cfg(feature = "ed25519")]
impl PublicKey {
    /// Parses a public key such as
    /// `whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=`.
    ///
    /// # Errors
    ///
    /// A key that is not base64 after its `whpk_` prefix, not 32 bytes, or
    /// not a point of the curve is an error of kind
    /// [`ErrorKind::Signature`].
    pub fn new(key: &str) -> Result<PublicKey, Error> {
        let encoded = key.strip_prefix("whpk_").unwrap_or(key);
        let bytes: [u8; 32] = LENIENT_BASE64
            .decode(encoded)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| {
                signature_error("a `v1a` public key must be `whpk_` and the base64 of 32 bytes")
            })?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| signature_error("the `v1a` public key is not a valid Ed25519 key"))
    }

    /// The public key of a `whsk_` signing key (32 or 64 bytes, see
    /// [`SigningConfig::StandardWebhooksV1a`](crate::SigningConfig::StandardWebhooksV1a)),
    /// to hand to receivers.
    ///
    /// # Errors
    ///
    /// A signing key that is not `whsk_` and the base64 of 32 or 64 bytes,
    /// or whose 64 bytes' public half is not its seed's, is an error of
    /// kind [`ErrorKind::Signature`].
    pub fn of_secret(secret: &str) -> Result<PublicKey, Error> {
        Ed25519Key::new(secret).map(|key| key.public_key())
    }
}

#[cfg(feature = "ed25519")]
impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "whpk_{}",
            general_purpose::STANDARD.encode(self.0.as_bytes())
        )
    }
}

#[cfg(feature = "ed25519")]
impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// Verifies a Standard Webhooks `v1a` (Ed25519) request: the
/// `webhook-id`, `webhook-timestamp` and `webhook-signature` headers
/// against the exact body bytes, the timestamp within `tolerance` of `now`
/// either way. Any one `v1a` signature matching any one key passes (keys
/// rotate; several are sent); `v1` signatures beside them are skipped.
/// (Feature `ed25519`.)
///
/// # Errors
///
/// A missing or malformed header, a timestamp outside the tolerance, more
/// than [`SIGNATURES`] signatures, or no matching signature is an error
/// of kind [`ErrorKind::Signature`].
///
/// # Examples
///
/// ```
/// use callhook::signing::{verify_standard_v1a, PublicKey};
/// use chrono::{DateTime, TimeDelta};
/// use http::HeaderMap;
///
/// let key = PublicKey::new("whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")?;
/// let mut headers = HeaderMap::new();
/// headers.insert("webhook-id", "msg_1".parse().unwrap());
/// headers.insert("webhook-timestamp", "1733173900".parse().unwrap());
/// headers.insert("webhook-signature", "v1a,AAAA".parse().unwrap());
/// let now = DateTime::from_timestamp(1733173960, 0).unwrap();
/// let refused = verify_standard_v1a(&[key], &headers, b"{}", now, TimeDelta::minutes(5));
/// assert!(refused.is_err());
/// # Ok::<(), callhook::Error>(())
/// ```
#[cfg(feature = "ed25519")]
pub fn verify_standard_v1a(
    keys: &[PublicKey],
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: TimeDelta,
) -> Result<(), Error> {
    let id = header_text(headers, "webhook-id")?;
    let timestamp = parse_timestamp(header_text(headers, "webhook-timestamp")?.trim())
        .ok_or_else(|| signature_error("`webhook-timestamp` is not a number"))?;
    let signatures = header_text(headers, "webhook-signature")?;
    check_fresh(timestamp, now, tolerance, "`webhook-timestamp`")?;
    let candidates: Vec<&str> = signatures.split(' ').collect();
    if candidates.len() > SIGNATURES {
        return Err(signature_error(format!(
            "`webhook-signature` holds more than {SIGNATURES} signatures (`limits::SIGNATURES`)"
        )));
    }
    let message = standard_message(id, timestamp, body);
    for candidate in candidates {
        let Some(("v1a", encoded)) = candidate.split_once(',') else {
            continue;
        };
        let Some(signature) = general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| ed25519_dalek::Signature::from_slice(&bytes).ok())
        else {
            continue;
        };
        // Strict: no malleable or small-order forms, as RFC 8032 asks.
        if keys
            .iter()
            .any(|key| key.0.verify_strict(&message, &signature).is_ok())
        {
            return Ok(());
        }
    }
    Err(signature_error("no `v1a` signature matches"))
}

// ---------------------------------------------------------------------------
// Vonage-style signed requests: an HS256 JWT carrying the body's hash.

/// `{"alg":"HS256","typ":"JWT"}`, base64url: the only header written or
/// read.
const HS256_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// A Vonage-style signing secret, keyed once for HMAC-SHA256.
#[derive(Clone)]
pub(crate) struct JwtKey(Hmac<Sha256>);

impl PartialEq for JwtKey {
    /// Keys are equal when they sign alike.
    fn eq(&self, other: &JwtKey) -> bool {
        self.token("{}") == other.token("{}")
    }
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtKey([redacted])")
    }
}

/// The claims callhook writes and reads: `iat` (Unix seconds),
/// `payload_hash` (lowercase hex SHA-256 of the body), and a `jti` and
/// `iss` when there are.
#[derive(Serialize, Deserialize)]
struct Claims<'a> {
    iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    jti: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    iss: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payload_hash: Cow<'a, str>,
    #[serde(default, skip_serializing)]
    exp: Option<i64>,
}

impl JwtKey {
    pub(crate) fn new(secret: &str) -> JwtKey {
        JwtKey(hmac_sha256(secret.as_bytes()))
    }

    /// The HS256 token of a claims JSON.
    fn token(&self, claims: &str) -> String {
        let mut token = String::with_capacity(HS256_HEADER.len() + claims.len() * 4 / 3 + 48);
        token.push_str(HS256_HEADER);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let mut mac = self.0.clone();
        mac.update(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), &mut token);
        token
    }

    /// The `Bearer` token of delivery `id` at `timestamp`: `iat`, a `jti`
    /// of the delivery and the attempt's time (a retry is a new token),
    /// `iss` if given, and the body's `payload_hash`.
    pub(crate) fn sign(
        &self,
        id: &str,
        timestamp: i64,
        issuer: Option<&str>,
        body: &[u8],
    ) -> String {
        let jti = format!("{id}.{timestamp}");
        let claims = Claims {
            iat: timestamp,
            jti: Some(Cow::Borrowed(&jti)),
            iss: issuer.map(Cow::Borrowed),
            payload_hash: Cow::Owned(body_sha256(body)),
            exp: None,
        };
        let claims = serde_json::to_string(&claims).expect("claims are text and numbers");
        self.token(&claims)
    }
}

/// Verifies a Vonage-style signed request: the `Authorization: Bearer`
/// JWT is HS256 (no other algorithm is read) and signed with `secret`,
/// its `iat` is within `tolerance` of `now` either way (an `exp`, if any,
/// not passed), and its `payload_hash` is the lowercase hex SHA-256 of
/// the exact body bytes. Comparisons are constant-time.
///
/// # Errors
///
/// A missing or malformed header or token, a token over [`JWT_BYTES`]
/// bytes, another algorithm, a bad signature, a time outside the
/// tolerance, or a `payload_hash` that is not the body's is an error of
/// kind [`ErrorKind::Signature`].
///
/// # Examples
///
/// ```
/// use callhook::signing::verify_vonage;
/// use chrono::{DateTime, TimeDelta};
/// use http::HeaderMap;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("authorization", "Bearer not.a.token".parse().unwrap());
/// let now = DateTime::from_timestamp(1733173960, 0).unwrap();
/// assert!(verify_vonage("secret", &headers, b"{}", now, TimeDelta::minutes(5)).is_err());
/// ```
pub fn verify_vonage(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: TimeDelta,
) -> Result<(), Error> {
    let authorization = header_text(headers, "authorization")?;
    let token = authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("bearer "))
        .ok_or_else(|| signature_error("`authorization` is not a `Bearer` token"))?
        .trim();
    if token.len() > JWT_BYTES {
        return Err(signature_error(format!(
            "the token is {} bytes; at most {JWT_BYTES} are read (`limits::JWT_BYTES`)",
            token.len()
        )));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(signature_error("the token is not a JWT's three parts"));
    };
    #[derive(Deserialize)]
    struct Header<'a> {
        #[serde(borrow)]
        alg: Cow<'a, str>,
    }
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| signature_error("the token's header is not base64url"))?;
    let header: Header<'_> = serde_json::from_slice(&header)
        .map_err(|_| signature_error("the token's header is not a JWT header"))?;
    if header.alg != "HS256" {
        return Err(signature_error("the token is not signed with `HS256`"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| signature_error("the token's signature is not base64url"))?;
    let mut mac = hmac_sha256(secret.as_bytes());
    mac.update(&token.as_bytes()[..token.len() - signature_len(token)]);
    if !constant_time_eq(&mac.finalize().into_bytes(), &signature) {
        return Err(signature_error("the token's signature does not match"));
    }
    let claims = URL_SAFE_NO_PAD
        .decode(claims)
        .map_err(|_| signature_error("the token's claims are not base64url"))?;
    let claims: Claims<'_> = serde_json::from_slice(&claims).map_err(|_| {
        signature_error("the token's claims lack a numeric `iat` or a `payload_hash`")
    })?;
    check_fresh(claims.iat, now, tolerance, "the token's `iat`")?;
    if claims.exp.is_some_and(|exp| now.timestamp() >= exp) {
        return Err(signature_error("the token has expired (`exp`)"));
    }
    if !constant_time_eq(claims.payload_hash.as_bytes(), body_sha256(body).as_bytes()) {
        return Err(signature_error(
            "the token's `payload_hash` is not the body's",
        ));
    }
    Ok(())
}

/// The length of a token's signature part with its dot.
fn signature_len(token: &str) -> usize {
    token.rfind('.').map_or(0, |dot| token.len() - dot)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
    }

    #[test]
    fn signs_the_reference_vector() {
        assert_eq!(
            key().sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(SigningKey::new("whsec_").is_err());
        assert!(SigningKey::new("not base64 !").is_err());
        assert_eq!(format!("{:?}", key()), "SigningKey([redacted])");
    }

    #[test]
    fn pairs_past_the_signature_limit_are_refused_unread() {
        let layout = HmacLayout {
            header: "x-sig",
            message: "{timestamp},{body}",
            pairs: true,
            prefix: "v1=",
            timestamp_header: None,
            id_header: None,
            sha512: false,
            base64: false,
        };
        let scheme = HmacScheme::new(&layout, ["0123456789abcdef"]).unwrap();
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let signed = scheme.sign("d", 1_700_000_000, b"{}");
        let mut headers = HeaderMap::new();
        let value = format!("{}{}", ",v1=00".repeat(SIGNATURES), &signed[0].1);
        headers.insert("x-sig", value.parse().unwrap());
        let e = scheme
            .verify_at(&headers, b"{}", now, TimeDelta::seconds(300))
            .unwrap_err();
        assert!(e.to_string().contains("limits::SIGNATURES"), "{e}");
        headers.insert("x-sig", signed[0].1.parse().unwrap());
        scheme
            .verify_at(&headers, b"{}", now, TimeDelta::seconds(300))
            .unwrap();
    }

    #[test]
    fn messages_and_hex_parse_strictly() {
        assert_eq!(
            parse_message("v0:{timestamp}:{body}").unwrap(),
            [
                Piece::Text("v0:".into()),
                Piece::Timestamp,
                Piece::Text(":".into()),
                Piece::Body
            ]
        );
        assert!(parse_message("{body}{body}").is_err());
        assert!(parse_message("{Body}").is_err());
        assert_eq!(decode_hex("0aFf"), Some(vec![10, 255]));
        for bad in ["0", "0g", "+1", " 1"] {
            assert_eq!(decode_hex(bad), None, "{bad}");
        }
        for bad in [
            "",
            "-1",
            "+1",
            "1e9",
            "Infinity",
            " 1",
            "1234567890123456789",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        let mut hex = String::new();
        push_hex(&mut hex, &[0, 0xab, 0xff]);
        assert_eq!(hex, "00abff");
    }

    #[test]
    fn url_forms_are_those_twilio_validators_try() {
        let forms = |url| {
            twilio_urls(url)
                .into_iter()
                .map(Cow::into_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            forms("https://a.com/x?y"),
            ["https://a.com/x?y", "https://a.com:443/x?y"]
        );
        assert_eq!(
            forms("http://a.com:80/x"),
            ["http://a.com/x", "http://a.com:80/x"]
        );
        assert_eq!(
            forms("http://a.com:8080/x"),
            ["http://a.com/x", "http://a.com:8080/x"]
        );
        // No path, user information, an IPv6 literal, an upper-case scheme.
        assert_eq!(
            forms("HTTPS://a.com"),
            ["HTTPS://a.com", "HTTPS://a.com:443"]
        );
        assert_eq!(
            forms("https://u:p@a.com:8443?q"),
            ["https://u:p@a.com?q", "https://u:p@a.com:8443?q"]
        );
        assert_eq!(
            forms("https://[::1]:8443/x"),
            ["https://[::1]/x", "https://[::1]:8443/x"]
        );
        assert_eq!(forms("https://[::1]/x")[1], "https://[::1]:443/x");
        // An empty query is tried without its `?` too; a non-empty one
        // ending in `?`, or a trailing `&`, are kept as they are.
        assert_eq!(
            forms("https://a.com:8443/x?"),
            [
                "https://a.com/x?",
                "https://a.com:8443/x?",
                "https://a.com/x",
                "https://a.com:8443/x"
            ]
        );
        assert_eq!(forms("https://a.com/x?a=?").len(), 2);
        assert_eq!(forms("https://a.com/x?a=1&").len(), 2);
        // Not a URL, or hardly one: tried as it is too, and never panics.
        for text in [
            "",
            "://",
            "a",
            "1a://b",
            "https://",
            "https://:",
            "https://@:",
            "é://:",
        ] {
            assert!(forms(text).iter().any(|form| form == text), "{text}");
        }
    }

    #[test]
    fn sorting_once_signs_as_looking_up_each_name_did() {
        // The order Twilio's libraries sign in: names by code point, each
        // name's distinct values sorted.
        let params: Vec<(String, String)> =
            [("b", "2"), ("a", "z"), ("b", "1"), ("a", "z"), ("é", "")]
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
        let mut mac = twilio_key("k");
        mac.update("https://a.com/".as_bytes());
        mac.update("azb1b2é".as_bytes());
        assert_eq!(
            twilio_signature("k", "https://a.com/", &params),
            general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        );
    }
}
