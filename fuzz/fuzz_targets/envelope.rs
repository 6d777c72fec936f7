//! A stored envelope, as a worker reads it back from a queue or an outbox
//! that may be corrupted or edited by hand: `serde_json::from_slice`, then
//! `to_outgoing` and `record` (a transport error, then a fuzzed status).
//!
//! Input: two bytes of status code (big-endian), eight bytes of `now` in Unix
//! seconds (little-endian, clamped to the range chrono accepts), then the envelope's
//! JSON. Errors are expected; a panic, a hang or a huge allocation is a bug.
#![no_main]

use callhook::{Decision, Envelope, Outcome, RetryPolicy};
use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use libfuzzer_sys::fuzz_target;

fn time(secs: i64) -> DateTime<Utc> {
    let min = DateTime::<Utc>::MIN_UTC.timestamp();
    let max = DateTime::<Utc>::MAX_UTC.timestamp();
    // Clamped, so the extremes (where overflows hide) are easy to reach.
    let secs = secs.clamp(min, max);
    DateTime::from_timestamp(secs, 0).expect("in range")
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 10 {
        return;
    }
    let status = u16::from_be_bytes([data[0], data[1]]);
    let now = time(i64::from_le_bytes(data[2..10].try_into().unwrap()));
    let Ok(mut envelope) = serde_json::from_slice::<Envelope>(&data[10..]) else {
        return;
    };
    // What is stored reads back as it was written.
    let json = serde_json::to_vec(&envelope).expect("serialises");
    assert_eq!(serde_json::from_slice::<Envelope>(&json).unwrap(), envelope);

    if let Ok(outgoing) = envelope.to_outgoing() {
        // A valid stored request round-trips through a new envelope.
        let again = Envelope::new(&outgoing, envelope.first_attempt_at);
        assert_eq!(again.request.body, envelope.request.body);
        assert_eq!(again.delivery, envelope.delivery);
    }
    let policy = RetryPolicy::default();
    let attempt = envelope.attempt;
    let decision = envelope.record(&policy, Outcome::transport_error(), now);
    assert_eq!(envelope.attempt, attempt.saturating_add(1));
    if let Decision::Retry { at } = decision {
        assert!(at >= now, "retry at {at}, before {now}");
        assert_eq!(envelope.next_attempt_at, at);
    }
    if let Ok(status) = StatusCode::from_u16(status) {
        let headers = HeaderMap::new();
        let decision = envelope.record(
            &policy,
            Outcome::response(status, &headers),
            now,
        );
        if status.is_success() {
            assert_eq!(decision, Decision::Delivered);
        }
    }
});
