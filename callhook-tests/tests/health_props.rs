//! The delivery rules over arbitrary input (issue 22): status handling for
//! every status code, endpoint health against a model of its rules for
//! any run of outcomes and times, ordering against a model of the highest
//! sequence, and the host's stored states round-tripped and read from any
//! text without a panic.

use std::collections::HashMap;
use std::time::Duration;

use callhook::{
    Admission, Attempt, Breaker, BreakerState, Decision, DisableReason, DisableTarget, Endpoint,
    Endpoints, Event, FailureWindow, GiveUp, HealthPolicy, HealthVerdict, Outcome, RetryPolicy,
    Sequences,
};
use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderMap, StatusCode};
use proptest::prelude::*;

fn start() -> DateTime<Utc> {
    "2024-12-02T21:00:00Z".parse().unwrap()
}

fn endpoint() -> Endpoint {
    Endpoint::of(&"https://crm.example/hook".parse().unwrap()).unwrap()
}

/// An attempt's end, as the strategies make it.
#[derive(Debug, Clone, Copy)]
enum End {
    Status(u16),
    Transport,
    Refused,
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![
        4 => prop_oneof![Just(200u16), Just(204), Just(429), Just(500), Just(503), Just(404), Just(301)]
            .prop_map(End::Status),
        1 => (100u16..600).prop_map(End::Status),
        2 => Just(End::Transport),
        1 => Just(End::Refused),
    ]
}

fn outcome(end: End, headers: &HeaderMap) -> Outcome<'_> {
    match end {
        End::Status(code) => Outcome::response(StatusCode::from_u16(code).unwrap(), headers),
        End::Transport => Outcome::transport_error(),
        End::Refused => Outcome::address_refused(),
    }
}

/// Checked policies, each rule on or off.
fn policy() -> impl Strategy<Value = HealthPolicy> {
    (
        proptest::option::of((1u32..10, 1u64..300)),
        proptest::option::of(1u64..3_000),
        proptest::option::of((1u32..10, 1u64..300)),
    )
        .prop_map(|(window, failing_for, breaker)| {
            let mut policy = HealthPolicy::default();
            policy.disable_after =
                window.map(|(n, s)| FailureWindow::new(n, Duration::from_secs(s)));
            policy.disable_after_failing_for = failing_for.map(Duration::from_secs);
            policy.breaker = breaker.map(|(n, s)| Breaker::new(n, Duration::from_secs(s)));
            policy
        })
}

/// The rules that disable, computed from the failures since the last
/// success, the way the documentation states them.
#[derive(Default)]
struct Model {
    failures: Vec<DateTime<Utc>>,
}

impl Model {
    fn record(&mut self, end: End, policy: &HealthPolicy, now: DateTime<Utc>) -> Verdict {
        match end {
            End::Status(code) if (200..300).contains(&code) => {
                self.failures.clear();
                return Verdict::Healthy;
            }
            End::Status(429) | End::Refused => return self.verdict(),
            End::Status(_) | End::Transport => self.failures.push(now),
        }
        if let Some(window) = policy.disable_after {
            let within = TimeDelta::from_std(window.within).unwrap();
            let recent = self
                .failures
                .iter()
                .filter(|at| **at > now - within)
                .count();
            if recent >= window.failures as usize {
                return Verdict::Within(window.failures, window.within);
            }
        }
        if let Some(limit) = policy.disable_after_failing_for {
            let since = self.failures[0];
            if now - since >= TimeDelta::from_std(limit).unwrap() {
                return Verdict::For(since);
            }
        }
        self.verdict()
    }

    fn verdict(&self) -> Verdict {
        if self.failures.is_empty() {
            Verdict::Healthy
        } else {
            Verdict::Failing
        }
    }
}

/// The model's verdict, which the library's must match.
#[derive(Debug, PartialEq)]
enum Verdict {
    Healthy,
    Failing,
    Within(u32, Duration),
    For(DateTime<Utc>),
}

impl Verdict {
    fn of(verdict: HealthVerdict) -> Verdict {
        match verdict {
            HealthVerdict::Healthy => Verdict::Healthy,
            HealthVerdict::Failing => Verdict::Failing,
            HealthVerdict::Disable(DisableReason::FailuresWithin {
                failures, within, ..
            }) => Verdict::Within(failures, within),
            HealthVerdict::Disable(DisableReason::FailingFor { since, .. }) => Verdict::For(since),
            other => panic!("a verdict the model does not know: {other:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every status is read as the Standard Webhooks specification says,
    /// and every decision names what it concerns.
    #[test]
    fn every_status_has_its_rule(code in 100u16..1000, after in proptest::option::of(0u32..100_000), number in 1u32..12) {
        let policy = RetryPolicy::default();
        let mut headers = HeaderMap::new();
        if let Some(after) = after {
            headers.insert(http::header::RETRY_AFTER, after.to_string().parse().unwrap());
        }
        let now = start();
        let url = "https://crm.example/hook?token=s3cret";
        let attempt = Attempt::new(&Event::CallHangup, number, now, "svc", url);
        let status = StatusCode::from_u16(code).unwrap();
        let answered = Outcome::response(status, &headers);
        let decision = policy.decide(&attempt, answered, now);
        match code {
            200..=299 => prop_assert_eq!(decision, Decision::Delivered),
            410 => {
                let Decision::Disable { target: DisableTarget::Url { service, url: named, .. }, reason, .. } = decision else {
                    panic!("410: {decision:?}");
                };
                prop_assert_eq!(service, "svc");
                prop_assert_eq!(named, url);
                prop_assert_eq!(reason, GiveUp::Rejected(StatusCode::GONE));
            }
            401 => prop_assert_eq!(decision, Decision::GiveUp(GiveUp::Unauthorized)),
            _ => match decision {
                Decision::Retry { at } => {
                    prop_assert!(at > now);
                    let throttles = matches!(code, 429 | 502 | 503 | 504);
                    let waited = (at - now).num_seconds();
                    if throttles && after.is_some() {
                        let asked = i64::from(after.unwrap()).clamp(1, 86_400);
                        prop_assert_eq!(waited, asked);
                    } else {
                        // The schedule: 5 s after the first, ±20 %, up to 10 h.
                        prop_assert!((4..=43_200).contains(&waited), "{}", waited);
                    }
                }
                Decision::GiveUp(GiveUp::AttemptsExhausted) => prop_assert!(number >= policy.max_attempts),
                other => panic!("{code}: {other:?}"),
            },
        }
        let throttle = policy.throttled_until(answered, now);
        prop_assert_eq!(
            throttle.is_some(),
            matches!(code, 429 | 502 | 503 | 504) && after.is_some()
        );
    }

    /// Endpoint health follows its rules for any run of outcomes, times
    /// and policies, its state stays within its bounds, and it survives
    /// storing at every step.
    #[test]
    fn health_follows_its_rules(
        policy in policy(),
        run in proptest::collection::vec((end(), 0i64..120, proptest::option::of(0i64..600)), 1..60),
    ) {
        let mut endpoints = Endpoints::new();
        let mut model = Model::default();
        let e = endpoint();
        let headers = HeaderMap::new();
        let mut now = start();
        for (end, gap, throttle) in run {
            now += TimeDelta::seconds(gap);
            let admission = endpoints.admit(&e, &policy, now);
            if let Some(health) = endpoints.get(&e) {
                // Never sent while the breaker is open or the endpoint throttled.
                let waits = matches!(admission, Admission::Wait { .. });
                if let BreakerState::Open { until, .. } = health.breaker() {
                    if until > now {
                        prop_assert!(waits, "{:?}", admission);
                    }
                }
                if health.throttled_until().is_some_and(|until| until > now) {
                    prop_assert!(waits, "{:?}", admission);
                }
            }
            if let Admission::Wait { until, .. } = admission {
                prop_assert!(until > now);
                // Not sent: nothing to record. Later, it may be.
                continue;
            }
            let throttle_until = throttle.map(|s| now + TimeDelta::seconds(s));
            let verdict = endpoints.record(&e, &policy, outcome(end, &headers), throttle_until, now);
            prop_assert_eq!(Verdict::of(verdict), model.record(end, &policy, now), "{:?} at {}", end, now);
            if let Some(health) = endpoints.get(&e) {
                let counted = policy.disable_after.map_or(0, |w| w.failures as usize);
                prop_assert!(health.recent_failures().len() <= counted);
                prop_assert!(health.recent_failures().windows(2).all(|w| w[0] <= w[1]));
                prop_assert_eq!(health.consecutive_failures() as usize, model.failures.len());
                prop_assert_eq!(health.failing_since(), model.failures.first().copied());
                if let Some(breaker) = policy.breaker {
                    if health.consecutive_failures() >= breaker.failures
                        && !matches!(end, End::Status(200..=299) | End::Status(429) | End::Refused)
                    {
                        let open = matches!(health.breaker(), BreakerState::Open { .. });
                        prop_assert!(open, "{:?}", health);
                    }
                }
            }
            let stored = Endpoints::from_json(&endpoints.to_json()).unwrap();
            prop_assert_eq!(&stored, &endpoints);
        }
    }

    /// Ordering: superseded exactly when a higher sequence was delivered
    /// for the same call and webhook, and the state survives storing.
    #[test]
    fn ordering_matches_the_highest_sequence(
        ops in proptest::collection::vec((0u8..4, 0u8..3, any::<u64>(), any::<bool>()), 1..80),
    ) {
        let mut sequences = Sequences::new();
        let mut model: HashMap<(String, String), u64> = HashMap::new();
        for (i, (call, webhook, sequence, deliver)) in ops.into_iter().enumerate() {
            let (call, webhook) = (format!("call-{call}"), format!("webhook-{webhook}"));
            let sequence = sequence % 16;
            let highest = model.get(&(call.clone(), webhook.clone())).copied();
            prop_assert_eq!(
                sequences.superseded(&call, &webhook, sequence),
                highest.filter(|h| *h > sequence)
            );
            if deliver {
                sequences.delivered(&call, &webhook, sequence, start() + TimeDelta::seconds(i as i64));
                let entry = model.entry((call, webhook)).or_insert(sequence);
                *entry = (*entry).max(sequence);
            }
        }
        prop_assert_eq!(Sequences::from_json(&sequences.to_json()).unwrap(), sequences);
    }

    /// Any text, or any change to a stored state, reads as a state or an
    /// error: never a panic.
    #[test]
    fn any_text_reads_without_a_panic(text in ".{0,200}", cut in 0usize..400, byte in any::<u8>()) {
        let _ = Endpoints::from_json(&text);
        let _ = Sequences::from_json(&text);
        let _ = serde_json::from_str::<HealthPolicy>(&text);
        let mut endpoints = Endpoints::new();
        let policy = HealthPolicy::default();
        let now = start();
        for _ in 0..6 {
            endpoints.record(&endpoint(), &policy, Outcome::transport_error(), Some(now), now);
        }
        let mut sequences = Sequences::new();
        sequences.delivered("call", "webhook", 7, now);
        for stored in [endpoints.to_json(), sequences.to_json()] {
            let mut bytes = stored.into_bytes();
            let at = cut % bytes.len();
            bytes[at] = byte;
            if let Ok(text) = String::from_utf8(bytes.clone()) {
                let _ = Endpoints::from_json(&text);
                let _ = Sequences::from_json(&text);
            }
            bytes.truncate(at);
            let text = String::from_utf8_lossy(&bytes);
            let _ = Endpoints::from_json(&text);
            let _ = Sequences::from_json(&text);
        }
    }
}
