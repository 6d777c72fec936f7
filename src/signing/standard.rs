//! Standard Webhooks v1: HMAC-SHA256 over `{id}.{timestamp}.{body}`.

use std::fmt;

use base64::engine::general_purpose;
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use http::header::HeaderMap;
use sha2::Sha256;

#[cfg(doc)]
use super::TOLERANCE_SECONDS;
use super::{
    check_fresh, constant_time_eq, header_text, hmac_sha256, signature_error, LENIENT_BASE64,
};
use crate::error::Error;
#[cfg(doc)]
use crate::error::ErrorKind;
use crate::limits::SIGNATURES;

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
/// body bytes, the timestamp within `tolerance` of `now` either way
/// (`TimeDelta::seconds(TOLERANCE_SECONDS)`, five minutes, is the
/// recommended value, the Standard Webhooks libraries' own; see
/// [`TOLERANCE_SECONDS`]). Any one `v1` signature matching any one key
/// passes (keys rotate; several are sent).
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
/// use callhook::signing::{verify_standard, SigningKey, TOLERANCE_SECONDS};
/// use chrono::{DateTime, TimeDelta};
/// use http::HeaderMap;
///
/// let key = SigningKey::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let body = br#"{"uuid": "bfd7e62a"}"#;
/// let mut headers = HeaderMap::new();
/// headers.insert("webhook-id", "msg_1".parse().unwrap());
/// headers.insert("webhook-timestamp", "1733173900".parse().unwrap());
/// headers.insert("webhook-signature", key.sign("msg_1", 1733173900, body).parse().unwrap());
/// let now = DateTime::from_timestamp(1733173960, 0).unwrap();
/// verify_standard(&[key], &headers, body, now, TimeDelta::seconds(TOLERANCE_SECONDS))?;
/// # Ok::<(), callhook::Error>(())
/// ```
pub fn verify_standard(
    keys: &[SigningKey],
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: TimeDelta,
) -> Result<(), Error> {
    let id = header_text(headers, "webhook-id")?;
    // Read as `i64` parses it, a sign allowed, as v1 always has: a
    // stricter reading (`v1a`'s digits only) would refuse requests that
    // passed before.
    let timestamp: i64 = header_text(headers, "webhook-timestamp")?
        .trim()
        .parse()
        .map_err(|_| signature_error("`webhook-timestamp` is not a number"))?;
    let signatures = header_text(headers, "webhook-signature")?;
    check_fresh(timestamp, now, tolerance, "`webhook-timestamp`")?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::TOLERANCE_SECONDS;

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

    /// The tolerance is the caller's: the edge passes, a second past it
    /// is refused either way, and a negative one counts as its size.
    #[test]
    fn the_tolerance_is_the_callers() {
        let body = b"{}";
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", "msg_1".parse().unwrap());
        headers.insert("webhook-timestamp", "1733173900".parse().unwrap());
        let signature = key().sign("msg_1", 1_733_173_900, body);
        headers.insert("webhook-signature", signature.parse().unwrap());
        let at = |seconds| DateTime::from_timestamp(seconds, 0).unwrap();
        let verify = |now, tolerance| verify_standard(&[key()], &headers, body, now, tolerance);
        let minute = TimeDelta::seconds(60);
        verify(at(1_733_173_960), minute).unwrap();
        verify(at(1_733_173_840), minute).unwrap();
        verify(at(1_733_173_960), -minute).unwrap();
        let old = verify(at(1_733_173_961), minute).unwrap_err();
        assert_eq!(old.to_string(), "`webhook-timestamp` is too old");
        let early = verify(at(1_733_173_839), minute).unwrap_err();
        assert_eq!(early.to_string(), "`webhook-timestamp` is in the future");
        verify(at(1_733_173_961), TimeDelta::seconds(TOLERANCE_SECONDS)).unwrap();
        verify(at(1_733_173_900), TimeDelta::zero()).unwrap();
        assert!(verify(at(1_733_173_901), TimeDelta::zero()).is_err());
    }
}
