//! What the outbox's tests share: a registry with two services on two
//! endpoints, and envelopes dispatched from it.

#![allow(dead_code)]

use callhook::{Call, CallData, Catalog, Config, Envelope, Event, Registry};
use chrono::{DateTime, Utc};

pub const CRM_WEBHOOK: &str = "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6";
pub const BACKUP_WEBHOOK: &str = "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d7";

/// Two services: `crm` on `http://{crm}` and `backup` on `http://{backup}`,
/// each with one webhook on `Call:Hangup`, retried `max_attempts` times
/// one second apart.
pub fn registry(crm: &str, backup: &str, max_attempts: u32) -> Registry {
    let config = serde_json::json!({
        "allowed_addresses": ["127.0.0.1"],
        "services": [
            {"id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "name": "crm", "method": "POST",
             "url": format!("http://{crm}/calls"),
             "body": {"kind": "json", "template": "{\"call\": \"#uuid#\"}"},
             "retry": {"schedule": ["1s"], "max_attempts": max_attempts}},
            {"id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6c", "name": "backup", "method": "POST",
             "url": format!("http://{backup}/calls"),
             "body": {"kind": "json", "template": "{\"call\": \"#uuid#\"}"},
             "retry": {"schedule": ["1s"], "max_attempts": max_attempts}}
        ],
        "webhooks": [
            {"id": CRM_WEBHOOK, "event": "Call:Hangup",
             "service": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "scopes": ["*"]},
            {"id": BACKUP_WEBHOOK, "event": "Call:Hangup",
             "service": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6c", "scopes": ["*"]}
        ]
    });
    Registry::from_config(
        &Config::from_json(&config.to_string()).unwrap(),
        Catalog::standard().clone(),
    )
    .unwrap()
}

/// The envelopes of `Call:Hangup` for call `call_id`, at `at`.
pub fn envelopes(registry: &Registry, call_id: &str, at: DateTime<Utc>) -> Vec<Envelope> {
    let call = Call::new(
        call_id,
        CallData::new().with("uuid", "bfd7e62a-5a55-4286-9453-b4b4cfc5cca8"),
    );
    let dispatch = registry.dispatch(Event::CallHangup, &call, at);
    assert!(dispatch.errors.is_empty(), "{:?}", dispatch.errors);
    dispatch
        .requests
        .iter()
        .map(|o| Envelope::new(o, at))
        .collect()
}

pub fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}
