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

// `::hmac` is the crate: `hmac` here is the module of HMAC schemes.
use ::hmac::{Hmac, Mac};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, TimeDelta, Utc};
use http::header::HeaderMap;
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind};

// The modules are private: every public item is re-exported below, so
// its path stays `callhook::signing::X`.
#[cfg(feature = "ed25519")]
mod ed25519;
mod hmac;
mod standard;
mod twilio;
mod vonage;

#[cfg(feature = "ed25519")]
pub(crate) use ed25519::Ed25519Key;
#[cfg(feature = "ed25519")]
pub use ed25519::{verify_standard_v1a, PublicKey};
pub(crate) use hmac::HmacLayout;
pub use hmac::HmacScheme;
pub use standard::{verify_standard, SigningKey};
pub(crate) use twilio::{check_token, check_twilio_limits};
pub use twilio::{twilio_signature, verify_twilio};
pub use vonage::verify_vonage;
pub(crate) use vonage::JwtKey;

/// How far a Standard Webhooks timestamp may be from the receiver's clock,
/// either way, in seconds: the recommended tolerance, the Standard Webhooks
/// libraries' own. Verifiers take the tolerance as a parameter; pass
/// `TimeDelta::seconds(TOLERANCE_SECONDS)` for this one.
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

/// The hex SHA-256 of a body, for Twilio's `bodySHA256` query parameter.
#[must_use]
pub fn body_sha256(body: &[u8]) -> String {
    let mut hex = String::with_capacity(64);
    push_hex(&mut hex, &Sha256::digest(body));
    hex
}

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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_timestamps_parse_strictly() {
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
}
