//! Call data, stored numbers and received values carried exactly, and bounded:
//! integers never change, values and bodies have size limits.
//!
//! Part of `tests/hardening.rs` (issue 19, second hardening round); the
//! helpers `service`, `config`, `load` and `call` come from there.

#[allow(unused_imports)]
use super::*;

/// A `Retry-After` too large to represent (delta-seconds past `u64`) was
/// ignored, so the schedule's short delay applied to a receiver asking for
/// the longest wait. Guards that every form of a too-long wait (seconds
/// past `u64`, past the policy's maximum, a date far in the future) is
/// clamped to `retry_after_max`.
#[test]
fn retry_after_too_large_is_clamped_to_the_longest_wait() {
    let policy = RetryPolicy {
        jitter: 0.0,
        ..RetryPolicy::default()
    };
    let now = t("2024-12-02T21:00:00Z");
    let longest = now + chrono::TimeDelta::from_std(policy.retry_after_max).unwrap();
    for value in [
        "99999999999999999999999999999999",
        "18446744073709551616",
        "18446744073709551615",
        "31536000",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Friday, 31-Dec-49 23:59:59 GMT",
        "Fri Dec 31 23:59:59 9999",
    ] {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, value.parse().unwrap());
        for status in [
            http::StatusCode::TOO_MANY_REQUESTS,
            http::StatusCode::SERVICE_UNAVAILABLE,
        ] {
            let answered = Outcome::Response {
                status,
                headers: &headers,
            };
            assert_eq!(
                policy.decide(Event::CallHangup, 1, answered, now, now, 0),
                Decision::Retry { at: longest },
                "{value}"
            );
        }
    }
}
