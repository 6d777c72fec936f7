//! Every problem of a configuration in one report; no silent fallback to a
//! default policy; outcomes and decisions built through constructors; the
//! registry's address policy; a disabled webhook explained as disabled.

use std::time::Duration;

use callhook::{
    AddressPolicy, Attempt, Call, Catalog, Config, Decision, DisableTarget, ErrorKind, Event,
    GiveUp, Outcome, Registry, RetryPolicy, Verdict,
};
use http::{HeaderMap, StatusCode};
use serde_json::json;

const S1: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b";
const S2: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6c";
const W1: &str = "6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b01";
const W2: &str = "6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b02";
const W3: &str = "6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b03";

fn service(id: &str, body: &str) -> serde_json::Value {
    json!({
        "id": id, "name": "crm", "method": "POST", "url": "https://crm.example.com/calls",
        "body": {"kind": "json", "template": body}
    })
}

fn webhook(id: &str, event: &str, service: &str, scopes: &[&str]) -> serde_json::Value {
    json!({"id": id, "event": event, "service": service, "scopes": scopes})
}

fn config(value: serde_json::Value) -> Config {
    serde_json::from_value(value).unwrap()
}

fn at() -> chrono::DateTime<chrono::Utc> {
    "2024-12-02T21:00:00Z".parse().unwrap()
}

/// Each problem's message, with its field.
fn problems(err: &callhook::Error) -> Vec<String> {
    let all = if err.related().is_empty() {
        std::slice::from_ref(err)
    } else {
        err.related()
    };
    all.iter()
        .map(|e| format!("{}: {}", e.field().unwrap_or("-"), e.message()))
        .collect()
}

#[test]
fn a_template_typo_and_an_event_typo_in_one_service_are_reported_together() {
    let config = config(json!({
        "services": [service(S1, r##"{"ani": "#anii#"}"##)],
        "webhooks": [webhook(W1, "Call:Hangupp", S1, &["*"])]
    }));
    let err = Registry::from_config(&config, Catalog::standard().clone()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    let problems = problems(&err);
    assert!(
        problems.iter().any(|p| p.contains("anii")),
        "the template typo: {problems:#?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("webhooks.0.event") && p.contains("Call:Hangupp")),
        "the event typo: {problems:#?}"
    );
}

#[test]
fn every_problem_of_every_webhook_is_reported_whatever_its_service() {
    let config = config(json!({
        "services": [
            service(S1, r##"{"ani": "#anii#"}"##),
            service(S2, r##"{"ani": "#ani#"}"##),
        ],
        "webhooks": [
            // A broken service, and a webhook with two problems of its own.
            webhook("not-a-uuid", "Call:Hangupp", S1, &["*"]),
            // A duplicate id, also of the broken service.
            webhook(W1, "Call:Hangup", S1, &["*"]),
            webhook(W1, "Call:Hangup", S1, &["*"]),
            // A sound service, a webhook with two problems.
            webhook("also-not-a-uuid", "Call:Answerr", S2, &["*"]),
            // A service that does not exist.
            webhook(W2, "Call:Hangup", "5b0c7c1e-8a43-4d5e-9a0f-000000000000", &["*"]),
            // A sound webhook is not reported.
            webhook(W3, "Call:Hangup", S2, &["*"]),
        ],
        "allowed_addresses": ["10.0.0.0/33", "not an address"]
    }));
    let err = Registry::from_config(&config, Catalog::standard().clone()).unwrap_err();
    let problems = problems(&err);
    let has = |field: &str, text: &str| {
        problems
            .iter()
            .any(|p| p.starts_with(field) && p.contains(text))
    };
    assert!(has("-", "anii") || problems.iter().any(|p| p.contains("anii")));
    assert!(has("webhooks.0.id", "not-a-uuid"), "{problems:#?}");
    assert!(has("webhooks.0.event", "Call:Hangupp"), "{problems:#?}");
    assert!(has("webhooks.2", "already exists"), "{problems:#?}");
    assert!(has("webhooks.3.id", "also-not-a-uuid"), "{problems:#?}");
    assert!(has("webhooks.3.event", "Call:Answerr"), "{problems:#?}");
    assert!(has("webhooks.4.service", "does not exist"), "{problems:#?}");
    assert!(has("allowed_addresses.0", "10.0.0.0/33"), "{problems:#?}");
    assert!(
        has("allowed_addresses.1", "not an address"),
        "{problems:#?}"
    );
    assert!(!problems.iter().any(|p| p.starts_with("webhooks.1")));
    assert!(!problems.iter().any(|p| p.starts_with("webhooks.5")));
    assert_eq!(problems.len(), 9, "{problems:#?}");
}

#[test]
fn the_retry_policy_of_an_unknown_service_is_refused_not_the_default() {
    let config = config(json!({"services": [service(S1, "{}")]}));
    let registry = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
    assert_eq!(registry.retry_policy(S1).unwrap(), RetryPolicy::default());
    let err = registry.retry_policy("no-such-service").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Registry);
    assert_eq!(err.message(), "no service `no-such-service`");
}

#[test]
fn the_registry_shows_its_address_policy() {
    let registry = Registry::from_config(
        &config(json!({"allowed_addresses": ["10.1.0.0/16"]})),
        Catalog::standard().clone(),
    )
    .unwrap();
    let policy: &AddressPolicy = registry.address_policy();
    assert!(policy.check("10.1.2.3".parse().unwrap()).is_ok());
    assert!(policy.check("10.2.0.1".parse().unwrap()).is_err());
    let empty = Registry::new(Catalog::standard().clone());
    assert_eq!(empty.address_policy(), &AddressPolicy::new());
}

#[test]
fn a_send_the_address_policy_refused_gives_up_at_once() {
    let policy = RetryPolicy::default();
    let refused = Outcome::address_refused();
    assert!(refused.is_address_refused());
    assert_eq!(refused.status(), None);
    assert_eq!(
        policy.decide(
            &Attempt::new(
                &Event::CallHangup,
                1,
                at(),
                "crm",
                "https://crm.example/hook"
            )
            .with_seed(7),
            refused,
            at()
        ),
        Decision::GiveUp(GiveUp::AddressRefused)
    );
}

#[test]
fn outcomes_carry_latency_and_the_first_bytes_of_the_response() {
    let headers = HeaderMap::new();
    let outcome = Outcome::response(StatusCode::OK, &headers)
        .with_latency(Duration::from_millis(120))
        .with_response_start(b"{\"ok\":true}");
    assert_eq!(outcome.status(), Some(StatusCode::OK));
    assert!(outcome.headers().is_some());
    assert_eq!(outcome.latency(), Some(Duration::from_millis(120)));
    assert_eq!(outcome.response_start(), b"{\"ok\":true}");
    assert!(!outcome.is_transport_error());
    // Its `Debug` gives the response's length, not its bytes.
    let debug = format!("{outcome:?}");
    assert!(!debug.contains("true"), "{debug}");
    let failed = Outcome::transport_error().with_latency(Duration::from_secs(30));
    assert!(failed.is_transport_error());
    assert_eq!(failed.headers(), None);
    assert_eq!(failed.response_start(), b"");
    assert_eq!(
        RetryPolicy::default().decide(
            &Attempt::new(
                &Event::CallHangup,
                1,
                at(),
                "crm",
                "https://crm.example/hook"
            )
            .with_seed(7),
            outcome,
            at()
        ),
        Decision::Delivered
    );
}

#[test]
fn a_gone_url_is_named_for_disabling_a_401_is_told_apart_and_a_403_retried() {
    let policy = RetryPolicy::default();
    let headers = HeaderMap::new();
    let decide = |code: u16| {
        let status = StatusCode::from_u16(code).unwrap();
        policy.decide(
            &Attempt::new(
                &Event::CallHangup,
                1,
                at(),
                "crm",
                "https://crm.example/hook",
            )
            .with_seed(7),
            Outcome::response(status, &headers),
            at(),
        )
    };
    let Decision::Disable { target, reason, .. } = decide(410) else {
        panic!("410 disables");
    };
    let DisableTarget::Url { service, url, .. } = target else {
        panic!("410 disables the URL");
    };
    assert_eq!(
        (service.as_str(), url.as_str()),
        ("crm", "https://crm.example/hook")
    );
    assert_eq!(reason, GiveUp::Rejected(StatusCode::GONE));
    assert_eq!(decide(401), Decision::GiveUp(GiveUp::Unauthorized));
    // Standard Webhooks: a 403 may be fixed by the receiver, and is
    // retried on the schedule.
    assert!(matches!(decide(403), Decision::Retry { .. }));
}

#[test]
fn a_disabled_webhook_is_explained_as_disabled_whatever_its_scope() {
    let mut disabled = webhook(W1, "Call:Hangup", S1, &["queue:Sales"]);
    disabled["enabled"] = json!(false);
    let registry = Registry::from_config(
        &config(json!({"services": [service(S1, "{}")], "webhooks": [disabled]})),
        Catalog::standard().clone(),
    )
    .unwrap();
    for scopes in [
        vec!["queue:Support".to_owned()],
        vec!["queue:Sales".to_owned()],
    ] {
        let mut call = Call::from_json(r#"{"data": {}}"#).unwrap();
        call.scopes = scopes;
        let explained = registry.explain(
            Event::CallHangup,
            &call,
            "2025-01-10T09:00:00Z".parse().unwrap(),
        );
        assert_eq!(explained[0].verdict, Verdict::WebhookDisabled, "{call:?}");
    }
}
