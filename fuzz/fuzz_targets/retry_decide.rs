//! `RetryPolicy::decide`, pure, on a fuzzed policy (JSON through serde) and
//! fuzzed attempt, outcome, `Retry-After` text, times and seed.
//!
//! Input: a 32-byte header, then the policy's JSON, then a NUL byte and the
//! `Retry-After` value (absent without the NUL). The header, little-endian:
//!
//! | bytes | what |
//! |---|---|
//! | 0..8 | `first_attempt_at`, Unix seconds (clamped to the range chrono accepts) |
//! | 8..16 | `now`, Unix seconds (likewise) |
//! | 16..24 | jitter seed |
//! | 24..28 | attempt |
//! | 28..30 | status code (0 or invalid: a transport error) |
//! | 30 | event (index into the thirteen events) |
//! | 31 | flags: bit 0 adds 0.5 s to `now` |
//!
//! Every policy that deserialises is decided on, whether or not it passes
//! `RetryPolicy::check` (the fields are public, so a host can build one that
//! does not). A panic, a hang or a huge allocation is a bug.
#![no_main]

use callhook::{limits, Attempt, Decision, Event, GiveUp, Outcome, RetryPolicy};
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;

fn time(secs: i64, nanos: u32) -> DateTime<Utc> {
    let min = DateTime::<Utc>::MIN_UTC.timestamp();
    let max = DateTime::<Utc>::MAX_UTC.timestamp();
    // Clamped, so the extremes (where overflows hide) are easy to reach.
    let secs = secs.clamp(min, max);
    DateTime::from_timestamp(secs, nanos).expect("in range")
}

fn le<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().unwrap()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 {
        return;
    }
    let (header, rest) = data.split_at(32);
    let first = time(i64::from_le_bytes(le(&header[0..8])), 0);
    let nanos = if header[31] & 1 != 0 { 500_000_000 } else { 0 };
    let now = time(i64::from_le_bytes(le(&header[8..16])), nanos);
    let seed = u64::from_le_bytes(le(&header[16..24]));
    let attempt = u32::from_le_bytes(le(&header[24..28]));
    let status = u16::from_le_bytes(le(&header[28..30]));
    let event = &Event::ALL[usize::from(header[30]) % Event::ALL.len()];
    let (json, retry_after) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let Ok(policy) = serde_json::from_slice::<RetryPolicy>(json) else {
        return;
    };
    let mut headers = HeaderMap::new();
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_bytes(v).ok()) {
        headers.insert(http::header::RETRY_AFTER, value);
    }
    let outcome = match StatusCode::from_u16(status) {
        Ok(status) => Outcome::response(status, &headers),
        Err(_) => Outcome::transport_error(),
    };
    let asked = Attempt::new(event, attempt, first, "service", "https://crm.example/hook")
        .with_seed(seed);
    let decision = policy.decide(&asked, outcome, now);
    // Pure: the same question gets the same answer.
    assert_eq!(decision, policy.decide(&asked, outcome, now));
    match decision {
        Decision::Retry { at } => {
            // Held to the shortest delay, checked policy or not.
            let shortest = chrono::TimeDelta::from_std(limits::SHORTEST_RETRY_DELAY).unwrap();
            assert!(at >= now + shortest, "retry at {at}, too soon after {now}");
            assert!(
                attempt < policy.max_attempts,
                "retry after attempt {attempt}"
            );
        }
        Decision::Delivered => {
            assert!(outcome.status().is_some_and(|status| status.is_success()))
        }
        Decision::Disable { .. } => assert_eq!(outcome.status(), Some(StatusCode::GONE)),
        Decision::GiveUp(GiveUp::Unauthorized) => {
            assert_eq!(outcome.status(), Some(StatusCode::UNAUTHORIZED))
        }
        Decision::GiveUp(GiveUp::AttemptsExhausted) => {
            assert!(attempt >= policy.max_attempts.min(limits::RETRY_ATTEMPTS))
        }
        _ => {}
    }
});
