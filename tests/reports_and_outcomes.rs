//! Every problem of a configuration in one report; a disabled webhook
//! explained as disabled.

use callhook::{Call, Catalog, Config, ErrorKind, Event, Registry, Verdict};
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
        let explained = registry.explain(Event::CallHangup, &call);
        assert_eq!(explained[0].verdict, Verdict::WebhookDisabled, "{call:?}");
    }
}
