//! Delivering reliably through the envelope: the one call before an
//! attempt (`Envelope::admit`) and the one after (`Envelope::record_in`),
//! with the host's `DeliveryState`: fallback URLs, ordering of realtime
//! updates, paused endpoints, health that disables a webhook, and the
//! bounded attempt log.

use callhook::{
    Call, CallData, Config, Decision, DeliveryState, DisableTarget, Endpoint, Envelope, Event,
    GiveUp, Outcome, Registry, Skip,
};
use chrono::{DateTime, Duration, Utc};
use http::{HeaderMap, StatusCode};
use serde_json::json;

mod common;

const SERVICE: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b";
const HANGUP: &str = "6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b01";
const LIVE: &str = "6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b02";

/// One service (`health` as given, none for the default), a webhook of
/// `Call:Hangup` and a realtime one of `Call Status Change`.
fn registry(health: Option<serde_json::Value>) -> Registry {
    let mut service = json!({
        "id": SERVICE, "name": "crm", "method": "POST",
        "url": "https://crm.example.com/calls?src=pbx",
        "body": {"kind": "json", "template": r##"{"event": "#event#", "status": "#status#"}"##},
    });
    if let Some(health) = health {
        service["health"] = health;
    }
    let webhook = |id: &str, event: &str| {
        json!({"id": id, "event": event, "service": SERVICE, "scopes": ["S"],
               "created_at": "2024-12-02T21:00:00Z"})
    };
    let config: Config = serde_json::from_value(json!({
        "services": [service],
        "webhooks": [webhook(HANGUP, "Call:Hangup"), webhook(LIVE, "Call Status Change")],
    }))
    .unwrap();
    common::load(&config).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    "2024-12-02T21:11:37Z".parse::<DateTime<Utc>>().unwrap() + Duration::seconds(seconds)
}

fn call() -> Call {
    let mut call = Call::new("call-1", CallData::new());
    call.scopes.push("S".into());
    call
}

fn hangup(registry: &Registry) -> Envelope {
    let dispatch = registry.dispatch(Event::CallHangup, &call(), at(0));
    assert!(dispatch.errors.is_empty(), "{:?}", dispatch.errors);
    Envelope::new(&dispatch.requests[0], at(0))
}

fn update(registry: &Registry, sequence: u64) -> Envelope {
    let dispatch = registry.status_change(&call(), "ANSWERED", sequence, at(0));
    assert!(dispatch.errors.is_empty(), "{:?}", dispatch.errors);
    assert_eq!(dispatch.requests.len(), 1);
    Envelope::new(&dispatch.requests[0], at(0))
}

fn status(code: u16, headers: &HeaderMap) -> Outcome<'_> {
    Outcome::response(StatusCode::from_u16(code).unwrap(), headers)
}

/// After the service's `fallback_after` failures (2 by default) on one
/// URL, the delivery moves to the next fallback URL, and the request goes
/// there; it stays on the last.
#[test]
fn failures_move_a_delivery_to_its_fallback_urls() {
    let registry = registry(Some(json!({"disable_after": null, "breaker": null})));
    let mut envelope = hangup(&registry);
    envelope.fallbacks = vec![
        "https://backup.example.com/calls?src=pbx".into(),
        "https://dr.example.net:8443/calls".into(),
    ];
    let mut state = DeliveryState::default();
    let none = HeaderMap::new();
    let mut urls = Vec::new();
    for i in 0..7 {
        assert_eq!(envelope.admit(&registry, &mut state, at(i)).unwrap(), None);
        urls.push(envelope.to_outgoing().unwrap().request.uri().to_string());
        let decision = envelope
            .record_in(&registry, status(500, &none), at(i), &mut state)
            .unwrap();
        assert!(matches!(decision, Decision::Retry { .. }), "{decision:?}");
    }
    assert_eq!(
        urls,
        [
            "https://crm.example.com/calls?src=pbx",
            "https://crm.example.com/calls?src=pbx",
            "https://backup.example.com/calls?src=pbx",
            "https://backup.example.com/calls?src=pbx",
            "https://dr.example.net:8443/calls",
            "https://dr.example.net:8443/calls",
            "https://dr.example.net:8443/calls",
        ]
    );
    assert_eq!(envelope.current_url, 2);
    // The log names each attempt's URL by index, never by text.
    let logged: Vec<usize> = envelope.attempts.iter().map(|a| a.url_index).collect();
    assert_eq!(logged, [0, 0, 1, 1, 2, 2, 2]);
    assert!(!envelope.to_json().contains("\"url\":\"https://dr."));
    // The current URL survives the store; its outgoing has no fallback
    // left to try.
    let back = Envelope::from_json(&envelope.to_json()).unwrap();
    assert_eq!(back, envelope);
    assert!(back.to_outgoing().unwrap().fallbacks.is_empty());
    // A success keeps the delivery where it is and clears the count.
    let decision = envelope
        .record_in(&registry, status(204, &none), at(8), &mut state)
        .unwrap();
    assert_eq!(decision, Decision::Delivered);
    assert_eq!(envelope.url_failures, 0);
}

/// A `429` (the endpoint is up and asks for fewer requests) and an
/// address the policy refused (nothing was sent) do not move a delivery.
#[test]
fn throttling_does_not_move_a_delivery() {
    let registry = registry(None);
    let mut envelope = hangup(&registry);
    envelope.fallbacks = vec!["https://backup.example.com/calls".into()];
    let mut state = DeliveryState::default();
    let none = HeaderMap::new();
    for i in 0..3 {
        envelope
            .record_in(&registry, status(429, &none), at(i * 100), &mut state)
            .unwrap();
    }
    assert_eq!((envelope.current_url, envelope.url_failures), (0, 0));
}

/// A realtime update older than one delivered for the same call and
/// webhook is skipped with its own decision, before it is sent and
/// without counting an attempt.
#[test]
fn a_superseded_update_is_skipped() {
    let registry = registry(None);
    let mut state = DeliveryState::default();
    let none = HeaderMap::new();
    let mut newer = update(&registry, 5);
    let mut older = update(&registry, 3);
    assert_eq!(newer.sequence, Some(5));
    assert_eq!(newer.call_id.as_deref(), Some("call-1"));
    assert_eq!(newer.admit(&registry, &mut state, at(1)).unwrap(), None);
    let decision = newer
        .record_in(&registry, status(200, &none), at(1), &mut state)
        .unwrap();
    assert_eq!(decision, Decision::Delivered);
    assert_eq!(state.sequences.superseded("call-1", LIVE, 3), Some(5));

    let decision = older.admit(&registry, &mut state, at(2)).unwrap();
    let Some(Decision::Skip(Skip::Superseded {
        sequence,
        delivered,
        ..
    })) = decision
    else {
        panic!("{decision:?}");
    };
    assert_eq!((sequence, delivered), (3, 5));
    assert_eq!(older.attempt, 0);
    assert!(older.attempts.is_empty());
    // A newer one still goes; another call's is its own.
    assert_eq!(
        update(&registry, 6)
            .admit(&registry, &mut state, at(2))
            .unwrap(),
        None
    );
    // The state survives its store.
    let state = DeliveryState::from_json(&state.to_json()).unwrap();
    assert!(matches!(
        update(&registry, 4).admit(&registry, &mut state.clone(), at(3)),
        Ok(Some(Decision::Skip(_)))
    ));
}

/// Once the breaker opens (5 consecutive failures by default), a delivery
/// to the endpoint waits: not sent, not counted, due again when the
/// breaker cools down; the first to ask after that is the probe. A
/// `Retry-After` throttles the endpoint likewise.
#[test]
fn a_paused_endpoint_gives_wait_without_counting_an_attempt() {
    let registry = registry(Some(json!({"disable_after": null})));
    let mut state = DeliveryState::default();
    let mut failing = hangup(&registry);
    for i in 0..5 {
        failing
            .record_in(&registry, Outcome::transport_error(), at(i), &mut state)
            .unwrap();
    }
    let mut other = update(&registry, 1);
    let decision = other.admit(&registry, &mut state, at(5)).unwrap();
    let Some(Decision::Wait {
        until, endpoint, ..
    }) = decision
    else {
        panic!("{decision:?}");
    };
    assert_eq!(endpoint.to_string(), "https://crm.example.com:443");
    assert!(until > at(5));
    assert_eq!(other.next_attempt_at, until);
    assert_eq!(other.attempt, 0);
    assert!(other.attempts.is_empty());
    // Cooled down: one probe goes, the others wait for it.
    assert_eq!(other.admit(&registry, &mut state, until).unwrap(), None);
    assert!(matches!(
        failing.admit(&registry, &mut state, until),
        Ok(Some(Decision::Wait { .. }))
    ));

    // A 503 asking for two minutes throttles the endpoint.
    let mut state = DeliveryState::default();
    let mut headers = HeaderMap::new();
    headers.insert(http::header::RETRY_AFTER, "120".parse().unwrap());
    let mut envelope = hangup(&registry);
    envelope
        .record_in(&registry, status(503, &headers), at(0), &mut state)
        .unwrap();
    let decision = update(&registry, 1)
        .admit(&registry, &mut state, at(1))
        .unwrap();
    let Some(Decision::Wait {
        until, endpoint, ..
    }) = decision
    else {
        panic!("{decision:?}");
    };
    assert_eq!(until, at(120));
    assert_eq!(
        endpoint,
        Endpoint::of(&"https://crm.example.com/".parse().unwrap()).unwrap()
    );
}

/// Six failures within a minute (Kazoo's rule, the default) disable the
/// webhook whose delivery it was, by name; a `410` names the URL instead.
#[test]
fn health_disables_the_webhook_by_name() {
    let registry = registry(Some(json!({"breaker": null})));
    let mut state = DeliveryState::default();
    let mut envelope = hangup(&registry);
    let mut decisions = Vec::new();
    for i in 0..6 {
        decisions.push(
            envelope
                .record_in(&registry, Outcome::transport_error(), at(i * 5), &mut state)
                .unwrap(),
        );
    }
    assert!(decisions[..5]
        .iter()
        .all(|d| matches!(d, Decision::Retry { .. })));
    let Decision::Disable { target, reason, .. } = &decisions[5] else {
        panic!("{:?}", decisions[5]);
    };
    let DisableTarget::Webhook { webhook, .. } = target else {
        panic!("{target:?}");
    };
    assert_eq!(webhook, HANGUP);
    assert!(matches!(reason, GiveUp::Unhealthy(_)), "{reason:?}");
    assert!(target.to_string().contains(HANGUP));

    // A 410 from a fallback URL names that URL (its query redacted when
    // shown).
    let mut state = DeliveryState::default();
    let mut envelope = hangup(&registry);
    envelope.fallbacks = vec!["https://backup.example.com/calls?key=s3cr3t".into()];
    envelope.current_url = 1;
    let none = HeaderMap::new();
    let decision = envelope
        .record_in(&registry, status(410, &none), at(0), &mut state)
        .unwrap();
    let Decision::Disable {
        target: DisableTarget::Url { service, url, .. },
        ..
    } = &decision
    else {
        panic!("{decision:?}");
    };
    assert_eq!(service, SERVICE);
    assert_eq!(url, "https://backup.example.com/calls?key=s3cr3t");
    assert!(!format!("{decision:?}").contains("s3cr3t"));
}

/// The attempt log keeps the latest `limits::ENVELOPE_ATTEMPTS`, each with
/// its status or error, latency and the first bytes of the response.
#[test]
fn the_attempt_log_is_bounded() {
    let registry = registry(Some(json!({"disable_after": null, "breaker": null})));
    let mut state = DeliveryState::default();
    let mut envelope = hangup(&registry);
    let none = HeaderMap::new();
    let response = vec![b'x'; 10_000];
    let total = callhook::limits::ENVELOPE_ATTEMPTS + 7;
    for i in 0..total {
        let outcome = if i % 2 == 0 {
            status(500, &none)
                .with_response_start(&response)
                .with_latency(std::time::Duration::from_millis(250))
        } else {
            Outcome::transport_error().with_error("timed out")
        };
        envelope
            .record_in(&registry, outcome, at(i as i64), &mut state)
            .unwrap();
    }
    assert_eq!(envelope.attempt as usize, total);
    assert_eq!(envelope.attempts.len(), callhook::limits::ENVELOPE_ATTEMPTS);
    assert_eq!(envelope.attempts[0].at, at(7));
    let last = envelope.attempts.last().unwrap();
    assert_eq!(last.at, at(total as i64 - 1));
    let answered = envelope
        .attempts
        .iter()
        .find(|a| a.status.is_some())
        .unwrap();
    assert_eq!(answered.status, Some(500));
    assert_eq!(answered.latency_ms, Some(250));
    assert_eq!(
        answered.response.len(),
        callhook::limits::ATTEMPT_RESPONSE_BYTES
    );
    let failed = envelope
        .attempts
        .iter()
        .find(|a| a.error.is_some())
        .unwrap();
    assert_eq!(failed.error.as_deref(), Some("timed out"));
    // Stored and read back whole; shown without the response's bytes.
    assert_eq!(Envelope::from_json(&envelope.to_json()).unwrap(), envelope);
    assert!(!format!("{envelope:?}").contains("xxxx"));
}

/// A service's own fallback URLs, rendered at dispatch, are carried in the
/// envelope; once the delivery moves, the request to the fallback URL is
/// signed as the service's, and carries the same body.
#[test]
fn dispatched_fallback_urls_are_carried_and_signed() {
    let config: Config = serde_json::from_value(json!({
        "services": [{
            "id": SERVICE, "name": "crm", "method": "POST",
            "url": "https://crm.example.com/calls/#uuid#",
            "fallback_urls": ["https://backup.example.com/calls/#uuid#"],
            "fallback_after": 1,
            "body": {"kind": "json", "template": r##"{"uuid": "#uuid#"}"##},
            "signing": {"kind": "standard_webhooks",
                        "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]},
        }],
        "webhooks": [{"id": HANGUP, "event": "Call:Hangup", "service": SERVICE,
                      "scopes": ["S"], "created_at": "2024-12-02T21:00:00Z"}],
    }))
    .unwrap();
    let registry = common::load(&config).unwrap();
    let mut call = Call::new("call-1", CallData::new().with("uuid", "u-7"));
    call.scopes.push("S".into());
    let dispatch = registry.dispatch(Event::CallHangup, &call, at(0));
    assert!(dispatch.errors.is_empty(), "{:?}", dispatch.errors);
    let mut envelope = Envelope::new(&dispatch.requests[0], at(0));
    assert_eq!(envelope.fallbacks, ["https://backup.example.com/calls/u-7"]);
    let mut state = DeliveryState::default();
    let decision = envelope
        .record_in(&registry, Outcome::transport_error(), at(0), &mut state)
        .unwrap();
    assert!(matches!(decision, Decision::Retry { .. }), "{decision:?}");
    assert_eq!(envelope.current_url, 1);
    let stored = Envelope::from_json(&envelope.to_json()).unwrap();
    let mut outgoing = stored.to_outgoing().unwrap();
    assert_eq!(
        outgoing.request.uri(),
        "https://backup.example.com/calls/u-7"
    );
    assert_eq!(outgoing.request.body(), br#"{"uuid": "u-7"}"#);
    registry.sign(&mut outgoing, at(10)).unwrap();
    assert!(outgoing.request.headers().contains_key("webhook-signature"));
}

/// A service's own static `Authorization` header (written in `headers`,
/// not `auth`) is not stored in the envelope, and every attempt made from
/// the envelope carries it again, from the registry. Before the fix the
/// envelope dropped it and no attempt sent it.
#[test]
fn a_static_authorization_header_is_not_stored_and_is_sent_on_every_attempt() {
    let config: Config = serde_json::from_value(json!({
        "services": [{
            "id": SERVICE, "name": "crm", "method": "POST",
            "url": "https://crm.example.com/calls",
            "headers": [{"key": "Authorization", "value": "Basic c3RhdGljOnMzY3JldA=="}],
            "body": {"kind": "json", "template": r##"{"event": "#event#"}"##},
        }],
        "webhooks": [{"id": HANGUP, "event": "Call:Hangup", "service": SERVICE, "scopes": ["S"]}],
    }))
    .unwrap();
    let registry = common::load(&config).unwrap();
    let stored = hangup(&registry).to_json();
    assert!(!stored.contains("c3RhdGljOnMzY3JldA=="), "{stored}");
    let mut outgoing = Envelope::from_json(&stored).unwrap().to_outgoing().unwrap();
    registry.sign(&mut outgoing, at(60)).unwrap();
    let sent = outgoing.request.headers().get("authorization").unwrap();
    assert_eq!(sent, "Basic c3RhdGljOnMzY3JldA==");
    assert!(sent.is_sensitive());
}

/// A templated header of a name envelopes never store could not be sent
/// again from an envelope: refused when the service compiles, at the field.
#[test]
fn a_templated_authorization_header_is_refused_at_load() {
    let config: Config = serde_json::from_value(json!({
        "services": [{
            "id": SERVICE, "name": "crm", "method": "POST",
            "url": "https://crm.example.com/calls",
            "headers": [{"key": "Authorization", "value": "Bearer #uuid#"}],
            "body": {"kind": "json", "template": r##"{"event": "#event#"}"##},
        }],
    }))
    .unwrap();
    let err = common::load(&config).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("cannot be templated"), "{text}");
    assert!(text.contains("headers.0.key"), "{text}");
}

/// Every request of one dispatch carries the call's id, one copy shared.
#[test]
fn the_requests_of_one_dispatch_share_the_call_id() {
    let webhook =
        |id: &str| json!({"id": id, "event": "Call:Hangup", "service": SERVICE, "scopes": ["S"]});
    let config: Config = serde_json::from_value(json!({
        "services": [{
            "id": SERVICE, "name": "crm", "method": "POST",
            "url": "https://crm.example.com/calls",
            "body": {"kind": "json", "template": r##"{"event": "#event#"}"##},
        }],
        "webhooks": [webhook(HANGUP), webhook(LIVE)],
    }))
    .unwrap();
    let registry = common::load(&config).unwrap();
    let dispatch = registry.dispatch(Event::CallHangup, &call(), at(0));
    let [first, second] = &dispatch.requests[..] else {
        panic!("two requests: {dispatch:?}");
    };
    let (first, second) = (
        first.call_id.as_ref().unwrap(),
        second.call_id.as_ref().unwrap(),
    );
    assert_eq!(&**first, "call-1");
    assert!(std::sync::Arc::ptr_eq(first, second));
}

/// Found in review: with the default health policy, deliveries that
/// failed together opened the primary's breaker and broke its "6 failures
/// within 60 s" rule before any reached `fallback_after`, so the webhook
/// was disabled with its fallback URLs untried, and new deliveries waited
/// on the primary. Now a rule broken on a URL with a fallback left moves
/// the delivery on, and a paused endpoint moves an admitted one on.
#[test]
fn health_moves_deliveries_to_fallback_urls_before_disabling_the_webhook() {
    let config: Config = serde_json::from_value(json!({
        "services": [{
            "id": SERVICE, "name": "crm", "method": "POST",
            "url": "https://crm.example.com/calls",
            "fallback_urls": ["https://standby.example.com/calls"],
            "fallback_after": 3,
            "body": {"kind": "json", "template": r##"{"event": "#event#"}"##},
        }],
        "webhooks": [{"id": HANGUP, "event": "Call:Hangup", "service": SERVICE, "scopes": ["S"]}],
    }))
    .unwrap();
    let registry = common::load(&config).unwrap();
    let mut state = DeliveryState::default();
    let failed = HeaderMap::new();
    let mut decisions = Vec::new();
    for _ in 0..6 {
        let mut envelope = hangup(&registry);
        assert_eq!(envelope.admit(&registry, &mut state, at(1)).unwrap(), None);
        let outcome = Outcome::response(StatusCode::INTERNAL_SERVER_ERROR, &failed);
        let decision = envelope
            .record_in(&registry, outcome, at(1), &mut state)
            .unwrap();
        decisions.push((decision, envelope.current_url));
    }
    // The sixth failure within 60 s broke the rule on the primary, which
    // has a fallback: that delivery moved on, and nothing was disabled.
    assert!(
        decisions
            .iter()
            .all(|(d, _)| matches!(d, Decision::Retry { .. })),
        "{decisions:?}"
    );
    assert_eq!(decisions[5].1, 1);
    // A new delivery finds the primary's breaker open and is admitted at
    // the fallback URL.
    let mut fresh = hangup(&registry);
    assert_eq!(fresh.admit(&registry, &mut state, at(2)).unwrap(), None);
    assert_eq!(fresh.current_url, 1);
    assert_eq!(fresh.url(), Some("https://standby.example.com/calls"));
    // On its last URL, the rule disables the webhook, by name.
    let mut last = None;
    for _ in 0..6 {
        let outcome = Outcome::response(StatusCode::INTERNAL_SERVER_ERROR, &failed);
        last = Some(
            fresh
                .record_in(&registry, outcome, at(3), &mut state)
                .unwrap(),
        );
    }
    assert!(
        matches!(
            &last,
            Some(Decision::Disable { target: DisableTarget::Webhook { webhook, .. }, .. }) if webhook == HANGUP
        ),
        "{last:?}"
    );
}
