//! Limits, not panics: every count and size input can carry is bounded at load or at the call, with an error naming the limit; numbers are carried exactly.
//!
//! Part of `tests/hardening.rs` (issue 19, second hardening round); the
//! helpers `service`, `config`, `load` and `call` come from there.

#[allow(unused_imports)]
use super::*;

use callhook::limits;

/// Every problem of a load that failed, flattened.
fn problems(err: &callhook::Error) -> Vec<callhook::Error> {
    if err.related().is_empty() {
        vec![err.clone()]
    } else {
        err.related().to_vec()
    }
}

/// Asserts that loading `fields` fails with a problem at `field` naming
/// `limit` (as `limits::NAME`).
fn refused(fields: serde_json::Value, field: &str, limit: &str) {
    let err = load(fields).unwrap_err();
    let found = problems(&err);
    assert!(
        found
            .iter()
            .any(|e| e.field() == Some(field)
                && e.message().contains(&format!("(`limits::{limit}`)"))),
        "no problem at `{field}` naming `limits::{limit}` in {err}"
    );
}

fn headers(n: usize, value: impl Fn(usize) -> String) -> serde_json::Value {
    (0..n)
        .map(|i| json!({"key": format!("X-H{i}"), "value": value(i)}))
        .collect()
}

fn pairs(n: usize) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| json!({"key": format!("k{i}"), "value": "#ani#"}))
        .collect()
}

/// Guards the `http::HeaderMap` panics: 24,574 or more distinct static
/// headers panicked at load ("size overflows MAX_SIZE"), and as many
/// templated ones loaded and then panicked in every request. A service now
/// holds at most `limits::HEADERS`, static or templated, and one at the
/// limit loads and renders.
#[test]
fn header_counts_are_limited_static_and_templated() {
    let over = limits::HEADERS + 1;
    refused(
        json!({"headers": headers(over, |_| "1".into())}),
        "headers",
        "HEADERS",
    );
    refused(
        json!({"headers": headers(over, |_| "#ani#".into())}),
        "headers",
        "HEADERS",
    );
    // What once panicked is an error.
    for value in ["1", "#ani#"] {
        let err = load(json!({"headers": headers(30_000, |_| value.into())})).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    }
    for value in ["1", "#ani#"] {
        let registry =
            load(json!({"headers": headers(limits::HEADERS, |_| value.into())})).unwrap();
        let outgoing = registry
            .dispatch(Event::CallHangup, &call(), t("2024-12-02T21:00:00Z"))
            .requests
            .remove(0);
        assert!(outgoing.request.headers().len() > limits::HEADERS);
    }
}

/// Pairs are bounded in every body that has them (form, JSON, XML, SOAP)
/// and in a `GET`'s query, and `secret_parameters` by the same limit; one
/// at the limit loads.
#[test]
fn pair_counts_are_limited_in_every_body_and_query() {
    let over = pairs(limits::PAIRS + 1);
    let at = pairs(limits::PAIRS);
    let bodies = |p: &Vec<serde_json::Value>| {
        vec![
            (json!({"body": {"kind": "form", "pairs": p}}), "body.pairs"),
            (json!({"body": {"kind": "json", "pairs": p}}), "body.pairs"),
            (json!({"body": {"kind": "xml", "pairs": p}}), "body.pairs"),
            (
                json!({"body": {"kind": "soap", "namespace": "urn:x", "operation": "Op",
                    "action": "urn:x/Op", "parameters": p}}),
                "body.parameters",
            ),
            (
                json!({"method": "GET", "body": {"kind": "form", "pairs": p}}),
                "body.pairs",
            ),
        ]
    };
    for (fields, field) in bodies(&over) {
        refused(fields, field, "PAIRS");
    }
    for (fields, _) in bodies(&at) {
        match fields["method"] == "GET" {
            false => drop(load(fields).unwrap()),
            // As many pairs in a query make a URL longer than servers take.
            true => refused(fields, "url", "URL_BYTES"),
        }
    }
    let names: Vec<String> = (0..=limits::PAIRS).map(|i| format!("p{i}")).collect();
    refused(
        json!({"secret_parameters": names}),
        "secret_parameters",
        "PAIRS",
    );
}

/// A value map is bounded, in a body pair and in a header alike.
#[test]
fn map_entries_are_limited_in_pairs_and_headers() {
    let map = |n: usize| -> serde_json::Map<String, serde_json::Value> {
        (0..n).map(|i| (format!("v{i}"), json!("w"))).collect()
    };
    let over = map(limits::MAP_ENTRIES + 1);
    refused(
        json!({"body": {"kind": "form", "pairs": [
            {"key": "a", "value": "1"}, {"key": "d", "value": "#ani#", "map": over}
        ]}}),
        "body.pairs.1.map",
        "MAP_ENTRIES",
    );
    refused(
        json!({"headers": [{"key": "X-D", "value": "#ani#", "map": over}]}),
        "headers.0.map",
        "MAP_ENTRIES",
    );
    load(json!({"body": {"kind": "form", "pairs": [
        {"key": "d", "value": "#ani#", "map": map(limits::MAP_ENTRIES)}
    ]}}))
    .unwrap();
}

/// Template text is bounded where it is sent: the URL (with a `GET`'s
/// query pairs) as servers take a request line, a header value (with its
/// map) as servers take a header, and a body's templates.
#[test]
fn template_bytes_are_limited_in_urls_headers_and_bodies() {
    let long = |n: usize| "a".repeat(n);
    let url = |n: usize| format!("https://crm.example.com/{}", long(n - 24));
    assert_eq!(url(limits::URL_BYTES).len(), limits::URL_BYTES);
    load(json!({"url": url(limits::URL_BYTES)})).unwrap();
    refused(
        json!({"url": url(limits::URL_BYTES + 1)}),
        "url",
        "URL_BYTES",
    );
    // A `GET`'s pairs are part of its URL.
    refused(
        json!({"method": "GET", "url": url(limits::URL_BYTES - 100),
            "body": {"kind": "form", "pairs": [{"key": "k", "value": long(200)}]}}),
        "url",
        "URL_BYTES",
    );
    load(json!({"headers": [{"key": "X-A", "value": long(limits::HEADER_BYTES)}]})).unwrap();
    refused(
        json!({"headers": [{"key": "X-A", "value": long(limits::HEADER_BYTES + 1)}]}),
        "headers.0.value",
        "HEADER_BYTES",
    );
    let template = |n: usize| format!("{{\"a\": \"{}\"}}", long(n - 9));
    assert_eq!(
        template(limits::TEMPLATE_BYTES).len(),
        limits::TEMPLATE_BYTES
    );
    load(json!({"body": {"kind": "json", "template": template(limits::TEMPLATE_BYTES)}})).unwrap();
    refused(
        json!({"body": {"kind": "json", "template": template(limits::TEMPLATE_BYTES + 1)}}),
        "body",
        "TEMPLATE_BYTES",
    );
    // Pairs count together: many small values over the limit in all.
    let big: Vec<_> = (0..8)
        .map(|i| json!({"key": format!("k{i}"), "value": long(limits::TEMPLATE_BYTES / 8)}))
        .collect();
    refused(
        json!({"body": {"kind": "form", "pairs": big}}),
        "body",
        "TEMPLATE_BYTES",
    );
}

/// Every limit a service breaks is reported at once.
#[test]
fn every_limit_broken_is_reported_at_once() {
    let err = load(json!({
        "url": format!("https://crm.example.com/{}", "a".repeat(limits::URL_BYTES)),
        "headers": headers(limits::HEADERS + 1, |_| "1".into()),
        "body": {"kind": "form", "pairs": pairs(limits::PAIRS + 1)},
        "retry": {"schedule": ["0s"], "max_attempts": u32::MAX},
    }))
    .unwrap_err();
    let named: Vec<_> = problems(&err)
        .iter()
        .filter(|e| e.message().contains("`limits::"))
        .map(|e| e.field().unwrap_or_default().to_owned())
        .collect();
    for field in [
        "url",
        "headers",
        "body.pairs",
        "retry.schedule.0",
        "retry.max_attempts",
    ] {
        assert!(named.iter().any(|f| f == field), "{field} in {named:?}");
    }
}

/// A template holds at most `limits::PLACEHOLDERS` placeholders of any
/// kind, and the error says so once, naming the limit.
#[test]
fn placeholders_per_template_are_limited() {
    let at = "#ani#".repeat(limits::PLACEHOLDERS);
    Template::compile(&at, Context::Plain, &Options::default()).unwrap();
    let err = Template::compile(
        &format!("{at}#ani##ani#"),
        Context::Plain,
        &Options::default(),
    )
    .unwrap_err();
    assert!(err.message().contains("(`limits::PLACEHOLDERS`)"), "{err}");
    assert!(err.related().is_empty(), "{err}");
}

/// Guards the retry storm: a schedule of `["0s"]` with `u32::MAX`
/// attempts was accepted, so a failing receiver was sent requests as fast
/// as the host could send, for ever. Every delay (and the shortest
/// `Retry-After`) is now at least `limits::SHORTEST_RETRY_DELAY` and
/// attempts at most `limits::RETRY_ATTEMPTS`.
#[test]
fn retry_schedules_wait_and_end() {
    refused(
        json!({"retry": {"schedule": ["5s", "0s"]}}),
        "retry.schedule.1",
        "SHORTEST_RETRY_DELAY",
    );
    refused(
        json!({"retry": {"retry_after_min": "0s"}}),
        "retry.retry_after_min",
        "SHORTEST_RETRY_DELAY",
    );
    refused(
        json!({"retry": {"max_attempts": u32::MAX}}),
        "retry.max_attempts",
        "RETRY_ATTEMPTS",
    );
    refused(
        json!({"retry": {"max_attempts": limits::RETRY_ATTEMPTS + 1}}),
        "retry.max_attempts",
        "RETRY_ATTEMPTS",
    );
    load(
        json!({"retry": {"schedule": ["1s"], "max_attempts": limits::RETRY_ATTEMPTS,
        "retry_after_min": "1s"}}),
    )
    .unwrap();
}

/// A policy that was never checked (built in code, or stored before the
/// limits) still waits and still ends: `decide` holds every delay to the
/// shortest and stops at the most attempts.
#[test]
fn unchecked_retry_storms_are_held_by_decide() {
    let mut storm = RetryPolicy::default();
    storm.schedule = vec![std::time::Duration::ZERO];
    storm.max_attempts = u32::MAX;
    storm.jitter = 1.0;
    storm.retry_after_min = std::time::Duration::ZERO;
    storm.retry_after_max = std::time::Duration::ZERO;
    storm.expiry.clear();
    let now = t("2024-12-02T21:00:00Z");
    let shortest = chrono::TimeDelta::from_std(limits::SHORTEST_RETRY_DELAY).unwrap();
    let mut zero = HeaderMap::new();
    zero.insert(http::header::RETRY_AFTER, "0".parse().unwrap());
    for attempt in 1..limits::RETRY_ATTEMPTS {
        for outcome in [
            Outcome::transport_error(),
            Outcome::response(http::StatusCode::SERVICE_UNAVAILABLE, &zero),
        ] {
            match storm.decide(
                &Attempt::new(
                    &Event::CallHangup,
                    attempt,
                    now,
                    "crm",
                    "https://crm.example/hook",
                )
                .with_seed(u64::from(attempt)),
                outcome,
                now,
            ) {
                Decision::Retry { at } => assert!(at >= now + shortest, "{attempt}: {at}"),
                other => panic!("attempt {attempt}: {other:?}"),
            }
        }
    }
    for attempt in [limits::RETRY_ATTEMPTS, u32::MAX - 1] {
        assert_eq!(
            storm.decide(
                &Attempt::new(
                    &Event::CallHangup,
                    attempt,
                    now,
                    "crm",
                    "https://crm.example/hook"
                )
                .with_seed(0),
                Outcome::transport_error(),
                now
            ),
            Decision::GiveUp(GiveUp::AttemptsExhausted),
            "{attempt}"
        );
    }
}

/// A configuration declaring many fields (`fields`) and a service naming
/// many unknown ones made each unknown name search every declared one for
/// a "did you mean": 18,000 unknown names over 10,000 declared fields took
/// three minutes to load one service. A service's compile now suggests for
/// at most `limits::SUGGESTIONS` names (its other problems are all still
/// reported), and a configuration declares at most `limits::FIELDS` fields.
#[test]
fn did_you_mean_work_is_bounded_per_service() {
    let fields: Vec<_> = (0..2_000)
        .map(|i| json!({"name": format!("field_{i:04}"), "type": "text"}))
        .collect();
    let unknown: String = (0..200).map(|i| format!("#fiald_{i:04}# ")).collect();
    let mut with_fields = config(service(json!({
        "body": {"kind": "form", "pairs": [{"key": "a", "value": unknown}]},
        "headers": [{"key": "X-A", "value": "#fiald_0001#"}],
    })));
    with_fields.fields = serde_json::from_value(json!(fields)).unwrap();
    let err = Registry::from_config(&with_fields, Catalog::standard().clone()).unwrap_err();
    let found = problems(&err);
    assert_eq!(found.len(), 201, "every unknown name is still reported");
    let suggested = found.iter().filter(|e| e.suggestion().is_some()).count();
    assert!(suggested > 0, "{err}");
    assert!(suggested <= limits::SUGGESTIONS, "{suggested} suggestions");

    let many: Vec<_> = (0..=limits::FIELDS)
        .map(|i| json!({"name": format!("f{i}"), "type": "text"}))
        .collect();
    let mut declared = config(service(json!({})));
    declared.fields = serde_json::from_value(json!(many)).unwrap();
    let err = Registry::from_config(&declared, Catalog::standard().clone()).unwrap_err();
    assert_eq!(err.field(), Some("fields"), "{err}");
    assert!(err.message().contains("(`limits::FIELDS`)"), "{err}");
}

/// The same `http::HeaderMap` panic through a stored envelope: a stored
/// request of 24,576 or more headers panicked when turned back into a
/// request. A stored request carries what callhook built, so at most
/// `limits::STORED_HEADERS`; more is an error.
#[test]
fn stored_requests_with_too_many_headers_are_refused() {
    let registry = load(json!({})).unwrap();
    let at = t("2024-12-02T21:00:00Z");
    let outgoing = registry
        .dispatch(Event::CallHangup, &call(), at)
        .requests
        .remove(0);
    let mut stored = serde_json::to_value(Envelope::new(&outgoing, at)).unwrap();
    let header = stored["request"]["headers"][0].clone();
    for n in [limits::STORED_HEADERS + 1, 30_000] {
        stored["request"]["headers"] = json!(vec![header.clone(); n]);
        let envelope: Envelope = serde_json::from_value(stored.clone()).unwrap();
        let err = envelope.to_outgoing().unwrap_err();
        assert!(
            err.message().contains("(`limits::STORED_HEADERS`)"),
            "{err}"
        );
    }
    // As many headers as are allowed, each once: a header that is not a
    // list given twice is refused on its own.
    let headers: Vec<_> = (0..limits::STORED_HEADERS)
        .map(|i| json!({"name": format!("x-h{i}"), "value": "v"}))
        .collect();
    stored["request"]["headers"] = json!(headers);
    let envelope: Envelope = serde_json::from_value(stored).unwrap();
    envelope.to_outgoing().unwrap();
}

/// Declared events are bounded, and an unknown event's message names a
/// bounded number of them: each of 100,000 webhooks naming an unknown event
/// listed every known one.
#[test]
fn declared_events_and_their_listing_are_bounded() {
    let many: Vec<_> = (0..=limits::EVENTS)
        .map(|i| json!({"name": format!("Custom Event {i}")}))
        .collect();
    let mut declared = config(service(json!({})));
    declared.events = serde_json::from_value(json!(many)).unwrap();
    let err = Registry::from_config(&declared, Catalog::standard().clone()).unwrap_err();
    assert_eq!(err.field(), Some("events"), "{err}");
    assert!(err.message().contains("(`limits::EVENTS`)"), "{err}");

    let at_limit: Vec<_> = (0..limits::EVENTS)
        .map(|i| json!({"name": format!("Custom Event {i}")}))
        .collect();
    let mut text = serde_json::to_value(config(service(json!({})))).unwrap();
    text["events"] = json!(at_limit);
    text["webhooks"][0]["event"] = json!("Custom Evnt");
    let mut bad = serde_json::from_value::<Config>(text).unwrap();
    bad.events.truncate(limits::EVENTS);
    let err = Registry::from_config(&bad, Catalog::standard().clone()).unwrap_err();
    assert!(err.message().len() < 2_000, "{} bytes", err.message().len());
}

/// A service signing with many secrets signed every request once per
/// secret and sent a `webhook-signature` header of them all, which
/// receivers refuse past `limits::SIGNATURES`: a service holds at
/// most that many.
#[test]
fn signing_secrets_are_as_many_as_receivers_take() {
    let secrets =
        |n: usize| -> Vec<String> { (0..n).map(|i| format!("whsec_{}", base64_of(i))).collect() };
    refused(
        json!({"signing": {"kind": "standard_webhooks",
            "secrets": secrets(limits::SIGNATURES + 1)}}),
        "signing.secrets",
        "SIGNING_SECRETS",
    );
    load(json!({"signing": {"kind": "standard_webhooks",
        "secrets": secrets(limits::SIGNATURES)}}))
    .unwrap();
}

/// 32 bytes of key, different for each `i`, in base64.
fn base64_of(i: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([i as u8; 32])
}
