//! Configuration that people can write: TOML with native datetimes,
//! webhooks without a creation time, ids made from the host's bytes, and
//! services and webhooks built in code.

use callhook::{Call, Catalog, Config, Event, Registry, ServiceConfig, WebhookConfig};

const SERVICE: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b";

#[test]
fn toml_native_datetimes_and_optional_creation_times() {
    let text = format!(
        r##"
[[services]]
id = "{SERVICE}"
name = "CRM"
method = "POST"
url = "https://crm.example.com/calls"
body = {{ kind = "json", template = '{{"ani": "#ani#"}}' }}

[[webhooks]]
id = "6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b01"
event = "Call:Hangup"
service = "{SERVICE}"
created_at = 2025-01-10T09:00:00Z
scopes = ["*"]

[[webhooks]]
id = "6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b02"
event = "Call:Hangup"
service = "{SERVICE}"
scopes = ["*"]
"##
    );
    let config: Config = toml::from_str(&text).unwrap();
    assert_eq!(
        config.webhooks[0].created_at,
        Some("2025-01-10T09:00:00Z".parse().unwrap())
    );
    assert_eq!(config.webhooks[1].created_at, None);
    let registry = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
    // Without a creation time first, then by time.
    let rows = registry.webhooks();
    assert_eq!(rows[0].id, "6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b02");
    let call = Call::from_json(r#"{"data": {"ani": "555"}}"#).unwrap();
    let at = "2025-01-10T10:00:00Z".parse().unwrap();
    assert_eq!(
        registry
            .dispatch(Event::CallHangup, &call, at)
            .requests
            .len(),
        2
    );
    // A local datetime names no instant.
    let local = text.replace("2025-01-10T09:00:00Z", "2025-01-10T09:00:00");
    assert!(toml::from_str::<Config>(&local).is_err());
}

#[test]
fn services_and_webhooks_built_in_code() {
    let service = ServiceConfig::new(
        callhook::id_from_bytes([9; 16]),
        "https://crm.example.com/h",
    )
    .name("built")
    .header("X-Source", "pbx");
    let webhook = WebhookConfig::new(
        callhook::id_from_bytes([8; 16]),
        Event::PostCall,
        &service.id,
    )
    .scope("*");
    let config = Config::new(vec![service], vec![webhook]);
    let registry = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
    let call = Call::from_json(r#"{"data": {}}"#).unwrap();
    let at = "2025-01-10T10:00:00Z".parse().unwrap();
    let sent = registry.dispatch(Event::PostCall, &call, at).requests;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].request.headers()["x-source"], "pbx");
}
