//! A disabled webhook explained as disabled.

use callhook::{Call, Catalog, Config, Event, Registry, Verdict};
use serde_json::json;

const S1: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b";
const W1: &str = "6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b01";

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
