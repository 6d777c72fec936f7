//! Request signatures, Standard Webhooks v1 and Twilio-style: what a
//! receiver uses to verify, and the primitives the sender shares with it.
//!
//! The sender's setting, [`SigningConfig`](crate::SigningConfig), lives
//! with the sender: a service signs its requests when the host asks, with
//! the time of that attempt ([`Registry::sign`](crate::Registry::sign) or
//! [`Service::sign`](crate::Service::sign)). Time is always passed in: the
//! library never reads a clock.

use std::borrow::Cow;
use std::fmt;

use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::header::HeaderMap;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind};
use crate::limits::{
    FORM_PARAMETERS, SHORTEST_TWILIO_TOKEN, SIGNATURES, TWILIO_BODY_BYTES, TWILIO_URL_BYTES,
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
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
