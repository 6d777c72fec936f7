//! Standard Webhooks `v1a`: Ed25519 over `{id}.{timestamp}.{body}`
//! (feature `ed25519`).

use std::fmt;

use base64::engine::general_purpose;
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use http::header::HeaderMap;

use super::{check_fresh, header_text, parse_timestamp, signature_error, LENIENT_BASE64};
use crate::error::Error;
#[cfg(doc)]
use crate::error::ErrorKind;
use crate::limits::SIGNATURES;

/// A Standard Webhooks `v1a` signing key, `whsk_` and base64 (the prefix
/// is optional). The specification does not say which bytes the key
/// holds, and implementations differ: both the 32-byte seed and the
/// 64-byte seed followed by its public key are accepted (the public half
/// must be the seed's).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Ed25519Key(ed25519_dalek::SigningKey);

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

impl fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519Key([redacted])")
    }
}

impl Ed25519Key {
    pub(crate) fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }
}

/// `{id}.{timestamp}.{body}`, the bytes Standard Webhooks signs.
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
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

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

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "whpk_{}",
            general_purpose::STANDARD.encode(self.0.as_bytes())
        )
    }
}

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
