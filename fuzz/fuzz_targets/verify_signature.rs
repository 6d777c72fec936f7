//! Receiver-side verification on hostile requests: `signing::verify_standard`
//! with a fixed key and a fixed `now`, and `signing::verify_twilio`, on
//! fuzzed headers, body, URL, form parameters and signature. Rejections are
//! expected; a panic, a hang or a huge allocation is a bug. An accepted
//! request must really carry a signature the key makes, and a request
//! signed by `twilio_signature` must verify.
//!
//! Input: sections separated by 0xFF (a byte UTF-8 never holds), so seeds
//! stay readable: the body; the `webhook-id`, `webhook-timestamp` and
//! `webhook-signature` header values (a header is absent when its section
//! is); the Twilio URL, token and signature; then any number of sections
//! that are either `@name:value` (another header) or `key=value` (a Twilio
//! form parameter).
#![no_main]

use callhook::limits::{SHORTEST_TWILIO_TOKEN, TWILIO_BODY_BYTES, TWILIO_URL_BYTES};
use callhook::signing::{
    twilio_signature, verify_standard, verify_twilio, SigningKey, TOLERANCE_SECONDS,
};
use chrono::{DateTime, TimeDelta};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

/// The Standard Webhooks reference secret, and the time of its test vector.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW: i64 = 1_614_265_330;

const SIGNED: [&str; 3] = ["webhook-id", "webhook-timestamp", "webhook-signature"];

fuzz_target!(|data: &[u8]| {
    let mut sections = data.split(|&b| b == 0xFF);
    let body = sections.next().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for name in SIGNED {
        if let Some(value) = sections.next() {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                headers.append(name, value);
            }
        }
    }
    let mut text = || String::from_utf8_lossy(sections.next().unwrap_or_default()).into_owned();
    let (url, token, signature) = (text(), text(), text());
    let mut params = Vec::new();
    for section in sections.take(64) {
        let section = String::from_utf8_lossy(section);
        if let Some(header) = section.strip_prefix('@') {
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.trim()),
                HeaderValue::try_from(value.trim()),
            ) {
                headers.append(name, value);
            }
        } else {
            let (k, v) = section.split_once('=').unwrap_or((&section, ""));
            params.push((k.to_owned(), v.to_owned()));
        }
    }

    let key = SigningKey::new(SECRET).unwrap();
    let now = DateTime::from_timestamp(NOW, 0).unwrap();
    if verify_standard(
        std::slice::from_ref(&key),
        &headers,
        body,
        now,
        TimeDelta::seconds(TOLERANCE_SECONDS),
    )
    .is_ok()
    {
        // Accepted: the headers hold a fresh timestamp and a signature the
        // key makes for exactly this id, timestamp and body.
        let text = |name: &str| headers.get(name).unwrap().to_str().unwrap();
        let id = text("webhook-id");
        let timestamp: i64 = text("webhook-timestamp").trim().parse().unwrap();
        assert!((timestamp - NOW).abs() <= 300, "timestamp {timestamp}");
        let expected = key.sign(id, timestamp, body);
        assert!(
            text("webhook-signature").split(' ').any(|s| s == expected),
            "accepted without {expected}: {headers:?}"
        );
    }

    if verify_twilio(&token, &url, &params, body, &signature).is_ok() {
        // Accepted: the signature is base64 of an HMAC-SHA1.
        assert_eq!(signature.len(), 28, "{signature:?}");
    }
    // A signature made for the request verifies (unless the URL carries a
    // `bodySHA256`, which then signs the URL alone, or the token is too
    // short or the request too large to be taken at all).
    let hashed =
        url::Url::parse(&url).is_ok_and(|u| u.query_pairs().any(|(k, _)| k == "bodySHA256"));
    let takes = token.len() >= SHORTEST_TWILIO_TOKEN
        && url.len() <= TWILIO_URL_BYTES
        && body.len() <= TWILIO_BODY_BYTES;
    if !hashed && takes {
        let own = twilio_signature(&token, &url, &params);
        verify_twilio(&token, &url, &params, body, &own)
            .unwrap_or_else(|e| panic!("its own signature refused: {e}"));
    }
});
