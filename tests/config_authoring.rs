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
        callhook::Id::from_bytes([9; 16]),
        "https://crm.example.com/h",
    )
    .with_name("built")
    .with_header("X-Source", "pbx");
    let webhook = WebhookConfig::new(
        callhook::Id::from_bytes([8; 16]),
        Event::PostCall,
        &service.id,
    )
    .with_scope("*");
    let config = Config::new(vec![service], vec![webhook]);
    let registry = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
    let call = Call::from_json(r#"{"data": {}}"#).unwrap();
    let at = "2025-01-10T10:00:00Z".parse().unwrap();
    let sent = registry.dispatch(Event::PostCall, &call, at).requests;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].request.headers()["x-source"], "pbx");
}

/// Every type a host stores reads and writes its JSON the same way:
/// `to_json() -> String`, `from_json(&str) -> Result<Self, Error>`, and the
/// text round-trips to the same bytes.
#[test]
fn stored_types_round_trip_through_one_json_shape() {
    let config = Config::from_json(include_str!("../examples/configs/pbx.json")).unwrap();
    let text = config.to_json();
    assert_eq!(Config::from_json(&text).unwrap(), config);
    assert_eq!(Config::from_json(&text).unwrap().to_json(), text);

    let service = &config.services[0];
    let row = service.to_json();
    assert_eq!(&ServiceConfig::from_json(&row).unwrap(), service);
    let compiled = service.compile(Catalog::standard()).unwrap();
    assert_eq!(
        compiled.to_json(),
        row,
        "a service's row is its configuration's"
    );

    let webhook = &config.webhooks[0];
    let row = webhook.to_json();
    assert_eq!(&WebhookConfig::from_json(&row).unwrap(), webhook);

    let registry = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
    let call = Call::from_json(include_str!("../examples/calls/pbx-call.json")).unwrap();
    let at = "2024-12-02T21:11:37Z".parse().unwrap();
    let outgoing = &registry.dispatch(Event::CallHangup, &call, at).requests[0];
    let envelope = callhook::Envelope::new(outgoing, at);
    let stored: String = envelope.to_json();
    assert_eq!(callhook::Envelope::from_json(&stored).unwrap(), envelope);

    // Each names the line and column of what it refuses.
    for err in [
        ServiceConfig::from_json("{\n \"id\": 1}").unwrap_err(),
        WebhookConfig::from_json("{\n \"id\": 1}").unwrap_err(),
    ] {
        assert_eq!(err.kind(), callhook::ErrorKind::Serde, "{err}");
        assert_eq!(err.position().map(|p| p.line), Some(2), "{err}");
    }
}

/// An id made from the host's bytes, or checked from text, goes wherever a
/// service's or webhook's id is taken.
#[test]
fn ids_are_made_and_checked_as_uuids() {
    let id = callhook::Id::from_bytes([3; 16]);
    let parsed: callhook::Id = id.as_str().parse().unwrap();
    assert_eq!(parsed, id);
    let service = ServiceConfig::new(id, "https://crm.example.com/h");
    let registry = Registry::from_config(
        &Config::new(vec![service], Vec::new()),
        Catalog::standard().clone(),
    )
    .unwrap();
    assert!(registry.service(&id).is_some());
    assert!("crm".parse::<callhook::Id>().is_err());
}
