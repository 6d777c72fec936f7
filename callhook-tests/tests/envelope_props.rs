//! Envelopes: a dispatched request stored for a queue and sent again later.
//!
//! Properties (proptest) over arbitrary call values and delivery ids:
//! - an [`Envelope`] round-trips through JSON unchanged;
//! - [`Envelope::to_outgoing`] gives back the dispatched, unsigned request
//!   exactly (method, URI, headers with their order and `is_sensitive`
//!   flags, body);
//! - [`Registry::sign`] signs it with the time of each attempt, the same
//!   call as for the first.
//!
//! - envelopes of every format round-trip: what this version writes
//!   (format 2) with any call id, segment, sequence, fallback URLs, current
//!   URL and attempt log, and what format 1 wrote, read to the same
//!   envelope less what format 1 did not hold.
//!
//! And unit tests of the retry decisions [`Envelope::record`] makes.

use callhook::signing::{
    body_sha256, verify_standard, verify_twilio, SigningKey, TOLERANCE_SECONDS,
};
use callhook::{
    Call, CallData, Catalog, Config, Decision, Envelope, Event, Outcome, Outgoing, Registry,
    RetryPolicy,
};
use callhook::{DisableTarget, GiveUp, StoredHeader};
use callhook_tests::common;
use chrono::{DateTime, Duration, Utc};
use http::{HeaderMap, StatusCode};
use proptest::prelude::*;
use serde_json::json;

/// Standard Webhooks' recommended tolerance, the one receivers use.
const TOLERANCE: Duration = Duration::seconds(TOLERANCE_SECONDS);

const SECRET_NEW: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SECRET_OLD: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const STANDARD: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b";
const TWILIO: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6c";
const SIGNATURE_HEADERS: [&str; 4] = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-twilio-signature",
];

/// Two services using every kind of header (static, secret, repeated (a list, the one kind that may be),
/// templated, auth) and placeholders in the query and the body: one signed
/// with Standard Webhooks (two secrets), one with Twilio (JSON body, so
/// `bodySHA256` in the URL). Each has a `Call:Hangup` webhook for `S`.
fn registry() -> Registry {
    let service = |id: &str, signing: serde_json::Value| {
        json!({
            "id": id,
            "name": "props",
            "method": "POST",
            "url": "https://crm.example.com/hooks/calls?src=pbx&dest=#destination#",
            "headers": [
                {"key": "X-Static", "value": "1"},
                {"key": "X-Api-Key", "value": "k-123"},
                {"key": "Accept", "value": "application/json"},
                {"key": "X-Agent", "value": "#user_name#"},
                {"key": "Accept", "value": "text/plain"},
            ],
            "auth": {"kind": "bearer", "token": "tok-456"},
            "body": {"kind": "json", "template": r##"{"event": "#event#", "at": "#event_time#", "delivery": "#delivery_id#", "uuid": "#uuid#", "name": "#user_fullname#", "cause": "#cause#", "dest": "#destination#"}"##},
            "signing": signing,
        })
    };
    let webhook = |id: &str, service: &str, minute: u32| {
        json!({
            "id": id, "enabled": true, "event": "Call:Hangup", "service": service,
            "created_at": format!("2024-12-02T21:{minute:02}:00Z"), "scopes": ["S"],
        })
    };
    let config: Config = serde_json::from_value(json!({
        "services": [
            service(STANDARD, json!({"kind": "standard_webhooks", "secrets": [SECRET_NEW, SECRET_OLD]})),
            service(TWILIO, json!({"kind": "twilio", "token": "f3a9c1e07b5d48a2c6e19b0d7f4a8e25"})),
        ],
        "webhooks": [
            webhook("6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b01", STANDARD, 0),
            webhook("6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b02", TWILIO, 1),
        ],
    }))
    .unwrap();
    common::load(&config).unwrap()
}

fn keys() -> [SigningKey; 2] {
    [
        SigningKey::new(SECRET_NEW).unwrap(),
        SigningKey::new(SECRET_OLD).unwrap(),
    ]
}

/// A header as (name, value bytes, sensitive).
type Header = (String, Vec<u8>, bool);

/// Every header, in iteration order.
fn header_list(headers: &HeaderMap) -> Vec<Header> {
    headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec(), v.is_sensitive()))
        .collect()
}

/// The dispatched request less what signing added: the signature headers,
/// and Twilio's `bodySHA256` query parameter.
fn unsigned(request: &http::Request<Vec<u8>>) -> (String, String, Vec<Header>) {
    let mut headers = request.headers().clone();
    for name in SIGNATURE_HEADERS {
        headers.remove(name);
    }
    // The credential is added with the signature, at send time.
    headers.remove("authorization");
    let uri = request.uri().to_string();
    let uri = match uri.split_once("&bodySHA256=") {
        Some((before, _)) => before.to_owned(),
        None => uri,
    };
    (request.method().to_string(), uri, header_list(&headers))
}

fn time(seconds: i64, nanos: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, nanos).unwrap()
}

/// Any text: every Unicode scalar value, control characters included.
fn any_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter)
}

/// Text a header can carry: anything but CR, LF and NUL, which callhook
/// refuses in headers (other controls become spaces).
fn header_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        any::<char>().prop_filter("CR, LF and NUL are refused in headers", |c| {
            !matches!(c, '\r' | '\n' | '\0')
        }),
        0..24,
    )
    .prop_map(String::from_iter)
}

/// Arbitrary call values in the body and the query; header-safe ones in the
/// templated header.
fn any_call() -> impl Strategy<Value = Call> {
    (
        any_text(),
        any_text(),
        any_text(),
        any_text(),
        header_text(),
        any_text(),
    )
        .prop_map(|(id, uuid, fullname, cause, user_name, destination)| {
            let data = CallData::new()
                .with("uuid", uuid)
                .with("user_fullname", fullname)
                .with("cause", cause)
                .with("user_name", user_name)
                .with("destination", destination);
            let mut call = Call::new(id, data);
            call.scopes.push("S".into());
            call
        })
}

/// Times from 1970 to 2100, with nanoseconds.
fn any_time() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_102_444_800, 0u32..1_000_000_000).prop_map(|(s, n)| time(s, n))
}

/// The stored delivery's request, signed for an attempt at `at`: what a
/// worker sends.
fn signed(
    registry: &Registry,
    envelope: &Envelope,
    at: DateTime<Utc>,
) -> Result<http::Request<Vec<u8>>, callhook::Error> {
    let mut outgoing = envelope.to_outgoing()?;
    registry.sign(&mut outgoing, at)?;
    Ok(outgoing.request)
}

fn dispatch(registry: &Registry, call: &Call, at: DateTime<Utc>) -> Vec<Outgoing> {
    let dispatch = registry.dispatch(Event::CallHangup, call, at);
    assert!(dispatch.errors.is_empty(), "{:?}", dispatch.errors);
    assert_eq!(dispatch.requests.len(), 2);
    dispatch.requests
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn envelopes_round_trip_and_rebuild_the_dispatched_request(
        call in any_call(),
        at in any_time(),
        later in 0i64..100_000_000,
        delivery in any_text(),
        attempt in any::<u32>(),
    ) {
        let registry = registry();
        for outgoing in dispatch(&registry, &call, at) {
            // Dispatch leaves it unsigned; the first attempt signs it.
            prop_assert!(outgoing
                .request
                .headers()
                .keys()
                .all(|name| !SIGNATURE_HEADERS.contains(&name.as_str())));
            let mut first = outgoing.clone();
            registry.sign(&mut first, at).unwrap();
            let sent = &first.request;
            let mut envelope = Envelope::new(&outgoing, at);
            prop_assert_eq!(envelope.attempt, 0);
            prop_assert_eq!(envelope.first_attempt_at, at);
            prop_assert_eq!(envelope.next_attempt_at, at);
            prop_assert_eq!(&envelope.delivery, &outgoing.delivery);
            prop_assert_eq!(&envelope.event, &Event::CallHangup);
            // Stored unsigned.
            prop_assert!(envelope
                .request
                .headers
                .iter()
                .all(|h| !SIGNATURE_HEADERS.contains(&h.name.as_str())));
            prop_assert!(!envelope.request.url.contains("bodySHA256"));

            // The stored request is the dispatched one.
            let rebuilt = envelope.to_outgoing().unwrap().request;
            prop_assert_eq!(rebuilt.uri(), outgoing.request.uri());
            prop_assert_eq!(header_list(rebuilt.headers()), header_list(outgoing.request.headers()));
            prop_assert_eq!(unsigned(&rebuilt), unsigned(sent));
            prop_assert_eq!(rebuilt.body(), sent.body());
            // Stored without the credential, which signing adds, marked
            // sensitive; an envelope of the signed request drops it too.
            prop_assert!(!rebuilt.headers().contains_key("authorization"));
            prop_assert!(sent.headers()["authorization"].is_sensitive());
            prop_assert!(rebuilt.headers()["x-api-key"].is_sensitive());
            let of_signed = Envelope::new(&first, at);
            prop_assert!(of_signed.request.headers.iter().all(|h| h.name != "authorization"));

            // Signed at the dispatch time, it is the dispatched request.
            let again = signed(&registry, &envelope, at).unwrap();
            prop_assert_eq!(again.uri(), sent.uri());
            prop_assert_eq!(header_list(again.headers()), header_list(sent.headers()));
            prop_assert_eq!(again.body(), sent.body());

            // JSON and back, unchanged, whatever was recorded.
            let json = serde_json::to_string(&envelope).unwrap();
            prop_assert_eq!(&serde_json::from_str::<Envelope>(&json).unwrap(), &envelope);
            envelope.attempt = attempt;
            envelope.next_attempt_at = at + Duration::seconds(later);
            let json = serde_json::to_string(&envelope).unwrap();
            let back: Envelope = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&back, &envelope);
            prop_assert_eq!(
                unsigned(&back.to_outgoing().unwrap().request),
                unsigned(sent)
            );

            // A later attempt is signed with its own time.
            let at2 = at + Duration::seconds(later);
            let retry = signed(&registry, &back, at2).unwrap();
            prop_assert_eq!(unsigned(&retry), unsigned(sent));
            prop_assert_eq!(retry.body(), sent.body());
            if &*outgoing.service == STANDARD {
                let timestamp = at2.timestamp().to_string();
                prop_assert_eq!(retry.headers()["webhook-timestamp"].to_str().unwrap(), timestamp);
                prop_assert_eq!(&retry.headers()["webhook-id"], outgoing.delivery.as_str());
                prop_assert!(!retry.headers()["webhook-signature"].is_sensitive());
                for key in keys() {
                    prop_assert!(verify_standard(&[key], retry.headers(), retry.body(), at2, TOLERANCE).is_ok());
                }
                if later > 300 {
                    // The old signature is stale by then.
                    prop_assert!(verify_standard(&keys(), sent.headers(), sent.body(), at2, TOLERANCE).is_err());
                }
            } else {
                // Twilio signatures do not depend on time.
                prop_assert_eq!(retry.uri(), sent.uri());
                prop_assert_eq!(
                    &retry.headers()["x-twilio-signature"],
                    &sent.headers()["x-twilio-signature"]
                );
                let url = retry.uri().to_string();
                let hash = format!("&bodySHA256={}", body_sha256(retry.body()));
                prop_assert!(url.ends_with(&hash), "{} lacks {}", url, hash);
                let signature = retry.headers()["x-twilio-signature"].to_str().unwrap();
                prop_assert!(verify_twilio("f3a9c1e07b5d48a2c6e19b0d7f4a8e25", &url, &[], retry.body(), signature).is_ok());
            }

            // Any delivery id survives JSON; one receivers can read back (non-empty
            // printable ASCII) is signed as the `webhook-id`, any other refused.
            envelope.delivery = delivery.clone();
            let json = serde_json::to_string(&envelope).unwrap();
            let back: Envelope = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&back, &envelope);
            if &*outgoing.service == STANDARD {
                let signed = signed(&registry, &back, at2);
                let header_safe =
                    !delivery.is_empty() && delivery.bytes().all(|b| b.is_ascii_graphic());
                prop_assert_eq!(signed.is_ok(), header_safe, "{:?}", signed);
                if let Ok(signed) = signed {
                    prop_assert_eq!(signed.headers()["webhook-id"].as_bytes(), delivery.as_bytes());
                    if delivery.is_ascii() {
                        prop_assert!(verify_standard(&keys(), signed.headers(), signed.body(), at2, TOLERANCE).is_ok());
                    }
                }
            }
        }
    }

    /// Any body bytes and header values survive the JSON form.
    #[test]
    fn stored_requests_keep_any_bytes(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        values in proptest::collection::vec((header_text(), any::<bool>()), 0..6),
    ) {
        let registry = registry();
        let mut call = Call::default();
        call.scopes.push("S".into());
        let outgoing = dispatch(&registry, &call, time(1_733_173_897, 0)).remove(0);
        let mut envelope = Envelope::new(&outgoing, time(1_733_173_897, 0));
        envelope.request.body = body.clone();
        // With the length that body has: a stored length that is not the
        // body's is refused (see tests/hardening/stored.rs).
        for header in &mut envelope.request.headers {
            if header.name == "content-length" {
                header.value = body.len().to_string();
            }
        }
        // Two names, each possibly repeated: lists, the headers that may
        // be given more than once.
        for (i, (value, sensitive)) in values.iter().enumerate() {
            envelope.request.headers.push(StoredHeader::new(
                ["accept-language", "prefer"][i % 2],
                value.replace(|c: char| c.is_ascii_control() && c != '\t', " "),
                *sensitive,
            ));
        }
        let json = serde_json::to_string(&envelope).unwrap();
        let back: Envelope = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &envelope);
        let request = back.to_outgoing().unwrap().request;
        prop_assert_eq!(request.body(), &body);
        let listed: Vec<Header> = back
            .request
            .headers
            .iter()
            .map(|h| (h.name.clone(), h.value.as_bytes().to_vec(), h.sensitive))
            .collect();
        // Grouped by name as `HeaderMap` iterates; in order within a name.
        let mut expected: Vec<Header> = Vec::new();
        for (name, _, _) in &listed {
            if expected.iter().any(|(n, _, _)| n == name) {
                continue;
            }
            expected.extend(listed.iter().filter(|(n, _, _)| n == name).cloned());
        }
        prop_assert_eq!(header_list(request.headers()), expected);
    }
}

/// A body: UTF-8 text (stored as text) or any bytes (base64).
fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any_text().prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

/// An entry of an attempt log, as JSON (an `Attempt` is made by
/// `Envelope::record` or read): within the limits on what one holds.
fn any_attempt() -> impl Strategy<Value = serde_json::Value> {
    (
        any_time(),
        0usize..4,
        proptest::option::of(100u16..1000),
        proptest::option::of("[a-z ]{1,64}"),
        proptest::option::of(any::<u64>()),
        proptest::collection::vec(any::<char>(), 0..64).prop_map(String::from_iter),
    )
        .prop_map(|(at, url_index, status, error, latency_ms, response)| {
            let mut entry = json!({"at": at, "url_index": url_index, "response": response});
            if let Some(status) = status {
                entry["status"] = json!(status);
            }
            if let Some(error) = error {
                entry["error"] = json!(error);
            }
            if let Some(latency_ms) = latency_ms {
                entry["latency_ms"] = json!(latency_ms);
            }
            entry
        })
}

/// `value` (an envelope as this version writes it) as format 1 wrote it:
/// no `version`, the body in base64 under `body`, and none of the fields
/// format 2 added.
fn as_format_1(mut value: serde_json::Value) -> serde_json::Value {
    use base64::Engine as _;
    let envelope = value.as_object_mut().unwrap();
    for added in [
        "version",
        "call_id",
        "segment",
        "sequence",
        "fallbacks",
        "current_url",
        "url_failures",
        "attempts",
    ] {
        envelope.remove(added);
    }
    let request = envelope["request"].as_object_mut().unwrap();
    let body = match request.remove("body_base64") {
        Some(base64) => base64,
        None => {
            let text = request.remove("body").unwrap();
            base64::engine::general_purpose::STANDARD
                .encode(text.as_str().unwrap())
                .into()
        }
    };
    request.insert("body".into(), body);
    value
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn envelopes_of_every_format_round_trip(
        body in any_body(),
        call_id in proptest::option::of(any_text()),
        segment in proptest::option::of(any::<usize>()),
        sequence in proptest::option::of(any::<u64>()),
        fallbacks in proptest::collection::vec("https://[a-z]{1,12}\\.example\\.com/[a-z0-9/]{0,12}(\\?k=[a-z0-9]{1,8})?", 0..4),
        current in any::<proptest::sample::Index>(),
        url_failures in any::<u32>(),
        token_refreshed in any::<bool>(),
        attempts in proptest::collection::vec(any_attempt(), 0..=callhook::limits::ENVELOPE_ATTEMPTS),
        attempt in any::<u32>(),
        at in any_time(),
    ) {
        let mut envelope = envelope(Event::CallHangup, at);
        envelope.request.body = body;
        envelope.call_id = call_id;
        envelope.segment = segment;
        envelope.sequence = sequence;
        envelope.current_url = current.index(fallbacks.len() + 1);
        envelope.fallbacks = fallbacks;
        envelope.url_failures = url_failures;
        envelope.token_refreshed = token_refreshed;
        envelope.attempt = attempt;
        envelope.attempts = serde_json::from_value(attempts.into()).unwrap();

        // Format 2, as written today: back to the same envelope, and the
        // same text again.
        let json = envelope.to_json();
        let starts_with_version = json.starts_with(r#"{"version":2,"#);
        prop_assert!(starts_with_version, "{}", json);
        let back = Envelope::from_json(&json).unwrap();
        prop_assert_eq!(&back, &envelope);
        prop_assert_eq!(back.to_json(), json.clone());
        prop_assert_eq!(&serde_json::from_str::<Envelope>(&json).unwrap(), &envelope);
        // Text bodies are stored as text.
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let text = std::str::from_utf8(&envelope.request.body).is_ok();
        prop_assert_eq!(value["request"].get("body").is_some(), text);

        // Format 1: the same envelope, less what format 1 did not hold.
        let format_1 = as_format_1(value).to_string();
        let old = Envelope::from_json(&format_1).unwrap();
        let mut expected = envelope.clone();
        expected.call_id = None;
        expected.segment = None;
        expected.sequence = None;
        expected.fallbacks.clear();
        expected.current_url = 0;
        expected.url_failures = 0;
        expected.attempts.clear();
        prop_assert_eq!(&old, &expected);
        // Written again, it is format 2.
        prop_assert_eq!(Envelope::from_json(&old.to_json()).unwrap(), expected);
    }
}

// ---------------------------------------------------------------------------
// Retry decisions through `Envelope::record`.

fn envelope(event: Event, at: DateTime<Utc>) -> Envelope {
    let registry = registry();
    let mut call = Call::new("c-1", CallData::new());
    call.scopes.push("S".into());
    let mut envelope = Envelope::new(&dispatch(&registry, &call, at).remove(0), at);
    envelope.event = event;
    envelope
}

fn status(code: u16, headers: &HeaderMap) -> Outcome<'_> {
    Outcome::response(StatusCode::from_u16(code).unwrap(), headers)
}

fn no_jitter() -> RetryPolicy {
    let mut policy = RetryPolicy::default();
    policy.jitter = 0.0;
    policy
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn record_counts_attempts_and_schedules_retries() {
    let policy = no_jitter();
    let start = t("2024-12-02T21:11:37Z");
    let mut e = envelope(Event::CallHangup, start);
    let none = HeaderMap::new();
    assert_eq!(e.attempt, 0);

    // 503: retried after the first delay (5 s).
    let now = start + Duration::milliseconds(250);
    let d = e.record(&policy, status(503, &none), now);
    assert_eq!(
        d,
        Decision::Retry {
            at: now + Duration::seconds(5)
        }
    );
    assert_eq!(e.attempt, 1);
    assert_eq!(e.next_attempt_at, now + Duration::seconds(5));
    assert_eq!(e.first_attempt_at, start);

    // 429 with Retry-After: that wait, not the schedule.
    let mut retry_after = HeaderMap::new();
    retry_after.insert(http::header::RETRY_AFTER, "120".parse().unwrap());
    let now = e.next_attempt_at;
    let d = e.record(&policy, status(429, &retry_after), now);
    assert_eq!(
        d,
        Decision::Retry {
            at: now + Duration::seconds(120)
        }
    );
    assert_eq!(e.attempt, 2);
    assert_eq!(e.next_attempt_at, now + Duration::seconds(120));

    // A transport error after the third attempt: the third delay (30 min;
    // the schedule follows the attempt number, Retry-After or not).
    let now = e.next_attempt_at;
    let d = e.record(&policy, Outcome::transport_error(), now);
    assert_eq!(
        d,
        Decision::Retry {
            at: now + Duration::minutes(30)
        }
    );
    assert_eq!(e.attempt, 3);

    // 200: delivered; the due time is left as it was.
    let due = e.next_attempt_at;
    assert_eq!(
        e.record(&policy, status(200, &none), due),
        Decision::Delivered
    );
    assert_eq!(e.attempt, 4);
    assert_eq!(e.next_attempt_at, due);

    // The record survives a queue.
    let back: Envelope = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
    assert_eq!(back, e);
}

#[test]
fn record_retries_rejections_and_disables_on_gone() {
    let policy = no_jitter();
    let start = t("2024-12-02T21:11:37Z");
    let none = HeaderMap::new();
    let mut e = envelope(Event::CallHangup, start);
    assert_eq!(
        e.record(&policy, status(401, &none), start),
        Decision::GiveUp(GiveUp::Unauthorized)
    );
    assert_eq!(e.next_attempt_at, start, "no retry scheduled for 401");
    // Standard Webhooks: 3xx and 4xx other than 401 and 410 are retried on
    // the schedule.
    for code in [301, 302, 400, 403, 404, 422] {
        let mut e = envelope(Event::CallHangup, start);
        let d = e.record(&policy, status(code, &none), start);
        let due = start + chrono::TimeDelta::seconds(5);
        assert_eq!(d, Decision::Retry { at: due }, "{code}");
        assert_eq!(e.attempt, 1);
        assert_eq!(e.next_attempt_at, due, "a retry scheduled for {code}");
    }
    let mut e = envelope(Event::CallHangup, start);
    let Decision::Disable {
        target: DisableTarget::Url { service, url, .. },
        reason,
        ..
    } = e.record(&policy, status(410, &none), start)
    else {
        panic!("410 disables the URL");
    };
    assert_eq!(service, e.service);
    assert_eq!(url, e.request.url);
    assert_eq!(reason, GiveUp::Rejected(StatusCode::GONE));
    assert_eq!(e.attempt, 1);
    assert_eq!(e.next_attempt_at, start);
}

#[test]
fn record_stops_after_the_last_attempt() {
    let mut policy = no_jitter();
    policy.schedule = vec![std::time::Duration::from_secs(1)];
    policy.max_attempts = 3;
    let start = t("2024-12-02T21:11:37Z");
    let mut e = envelope(Event::CallHangup, start);
    let none = HeaderMap::new();
    let mut now = start;
    for attempt in 1..=2 {
        let d = e.record(&policy, status(500, &none), now);
        assert_eq!(
            d,
            Decision::Retry {
                at: now + Duration::seconds(1)
            }
        );
        assert_eq!(e.attempt, attempt);
        now = e.next_attempt_at;
    }
    let before = e.next_attempt_at;
    assert_eq!(
        e.record(&policy, status(500, &none), now),
        Decision::GiveUp(GiveUp::AttemptsExhausted)
    );
    assert_eq!(e.attempt, 3);
    assert_eq!(e.next_attempt_at, before);
}

#[test]
fn record_expires_stale_updates_but_not_final_reports() {
    let policy = no_jitter();
    let start = t("2024-12-02T21:00:00Z");
    let none = HeaderMap::new();
    // A ringing update: two failures, then the 30-minute delay would end
    // past its hour.
    let mut ringing = envelope(Event::CallRinging, start);
    let mut hangup = envelope(Event::CallHangup, start);
    for e in [&mut ringing, &mut hangup] {
        e.attempt = 2;
    }
    let now = t("2024-12-02T21:40:00Z");
    assert_eq!(
        ringing.record(&policy, Outcome::transport_error(), now),
        Decision::GiveUp(GiveUp::Expired)
    );
    assert_eq!(ringing.attempt, 3);
    assert_eq!(ringing.next_attempt_at, start);
    assert_eq!(
        hangup.record(&policy, status(502, &none), now),
        Decision::Retry {
            at: t("2024-12-02T22:10:00Z")
        }
    );
    assert_eq!(hangup.next_attempt_at, t("2024-12-02T22:10:00Z"));
}

#[test]
fn record_jitter_is_bounded_and_follows_the_delivery_id() {
    let policy = RetryPolicy::default();
    let start = t("2024-12-02T21:11:37Z");
    let mut a = envelope(Event::CallHangup, start);
    let mut b = a.clone();
    let Decision::Retry { at } = a.record(&policy, Outcome::transport_error(), start) else {
        panic!("a transport error is retried");
    };
    let delay = (at - start).num_milliseconds();
    assert!((4_000..=6_000).contains(&delay), "{delay} ms");
    // The same delivery gets the same delay wherever it is recorded.
    assert_eq!(
        b.record(&policy, Outcome::transport_error(), start),
        Decision::Retry { at }
    );
}

/// A service that does not sign may still send headers named like a
/// signature's id (a hand-made `webhook-id`, say) or a `bodySHA256` query
/// parameter of its own: those are its request, not a signature, and the
/// envelope keeps them, in order. A header named like a signature
/// (`X-Twilio-Signature`) is not kept: an envelope holds no signature
/// (issue 22), whichever wrote it; a static one of the service's own is
/// added back when the request is signed.
#[test]
fn unsigned_services_keep_headers_named_like_signatures() {
    let config: Config = serde_json::from_value(json!({
        "services": [{
            "id": STANDARD, "name": "unsigned", "method": "POST",
            "url": "https://crm.example.com/h?bodySHA256=abc&x=1",
            "headers": [
                {"key": "X-Twilio-Signature", "value": "static"},
                {"key": "webhook-id", "value": "#delivery_id#"},
            ],
            "body": {"kind": "json", "template": "{}"},
        }],
        "webhooks": [{
            "id": "6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b01", "event": "Call:Hangup",
            "service": STANDARD, "created_at": "2024-12-02T21:00:00Z", "scopes": ["S"],
        }],
    }))
    .unwrap();
    let registry = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
    let at = t("2024-12-02T21:11:37Z");
    let mut call = Call::new("c", CallData::new());
    call.scopes.push("S".into());
    let outgoing = dispatch_one_unsigned(&registry, &call, at);
    let envelope = Envelope::new(&outgoing, at);
    let rebuilt = envelope.to_outgoing().unwrap().request;
    assert_eq!(rebuilt.uri(), outgoing.request.uri());
    assert!(outgoing
        .request
        .headers()
        .contains_key("x-twilio-signature"));
    let kept: Vec<Header> = header_list(outgoing.request.headers())
        .into_iter()
        .filter(|(name, _, _)| name != "x-twilio-signature")
        .collect();
    assert!(kept.iter().any(|(name, _, _)| name == "webhook-id"));
    assert_eq!(header_list(rebuilt.headers()), kept);
    // Signing adds the service's own static header back, from the
    // registry, after the others.
    let again = signed(&registry, &envelope, at).unwrap();
    assert_eq!(again.uri(), outgoing.request.uri());
    let mut sent = kept.clone();
    sent.extend(
        header_list(outgoing.request.headers())
            .into_iter()
            .filter(|(name, _, _)| name == "x-twilio-signature"),
    );
    assert_eq!(header_list(again.headers()), sent);
    // Stored and read back, the same.
    let back = Envelope::from_json(&envelope.to_json()).unwrap();
    assert_eq!(back, envelope);
}

fn dispatch_one_unsigned(registry: &Registry, call: &Call, at: DateTime<Utc>) -> Outgoing {
    let mut dispatch = registry.dispatch(Event::CallHangup, call, at);
    assert!(dispatch.errors.is_empty(), "{:?}", dispatch.errors);
    assert_eq!(dispatch.requests.len(), 1);
    dispatch.requests.remove(0)
}
