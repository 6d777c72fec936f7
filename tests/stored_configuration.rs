//! A service keeps its configuration as JSON: what it gives back, how it
//! compares and what a reload reuses must still be exactly what it was
//! compiled from, where the JSON holds less (retry delays in whole
//! seconds, a custom event named like a seed's), and a registry's equality
//! must not depend on the edits that made it.

use std::time::Duration;

use callhook::{
    CallData, Catalog, Config, Event, Registry, RetryPolicy, ServiceConfig, WebhookConfig, REDACTED,
};

const S: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b";
const W1: &str = "f47ac10b-58cc-4372-a567-0e02b2c3d401";
const W2: &str = "f47ac10b-58cc-4372-a567-0e02b2c3d402";

fn service_with_delay(ms: u64) -> ServiceConfig {
    let mut retry = RetryPolicy::default();
    retry.schedule = vec![Duration::from_millis(ms)];
    ServiceConfig::new(S, "https://crm.example.com/calls")
        .with_name("crm")
        .with_retry(retry)
}

mod common;

fn load(config: &Config) -> Registry {
    common::load(config).unwrap()
}

#[test]
fn a_sub_second_retry_delay_comes_back_exactly() {
    let config = service_with_delay(1500);
    let service = config.compile(Catalog::standard()).unwrap();
    assert_eq!(
        service.retry_policy().schedule,
        [Duration::from_millis(1500)]
    );
    assert_eq!(service.config(), config);
    let other = service_with_delay(1900)
        .compile(Catalog::standard())
        .unwrap();
    assert_ne!(service, other);
}

#[test]
fn a_reload_compiles_a_service_whose_retry_policy_changed() {
    let mut config = Config::default();
    config.services.push(service_with_delay(1500));
    let registry = load(&config);
    config.services[0] = service_with_delay(1900);
    let next = registry
        .reload(&config, Catalog::standard().clone())
        .unwrap();
    assert_eq!(
        next.retry_policy(S).unwrap().schedule,
        [Duration::from_millis(1900)]
    );
    assert_eq!(next.to_config(), config);
}

#[test]
fn a_reload_tells_a_custom_event_from_the_seed_event_of_its_name() {
    let with = |event: Event| {
        let mut policy = RetryPolicy::default();
        policy.expiry.clear();
        policy.expiry.insert(event, Duration::from_secs(300));
        ServiceConfig::new(S, "https://crm.example.com/calls")
            .with_name("crm")
            .with_retry(policy)
    };
    let mut config = Config::default();
    config
        .services
        .push(with(Event::Custom("Call:Hangup".into())));
    let registry = load(&config);
    config.services[0] = with(Event::CallHangup);
    let next = registry
        .reload(&config, Catalog::standard().clone())
        .unwrap();
    assert_eq!(
        next.retry_policy(S).unwrap(),
        config.services[0].retry.clone().unwrap()
    );
}

fn webhook(id: &str) -> WebhookConfig {
    WebhookConfig::new(id, Event::CallHangup, S)
        .with_scope("tenant")
        .with_created_at("2025-01-10T09:00:00Z".parse().unwrap())
}

#[test]
fn registries_with_the_same_content_are_equal_whatever_made_them() {
    let service = ServiceConfig::new(S, "https://crm.example.com/calls").with_name("crm");
    let mut edited = Registry::new(Catalog::standard().clone());
    edited.add_service(service.clone()).unwrap();
    edited.add_webhook(webhook(W1)).unwrap();
    edited.add_webhook(webhook(W2)).unwrap();
    edited.remove_webhook(W2).unwrap();

    let mut fresh = Registry::new(Catalog::standard().clone());
    fresh.add_service(service.clone()).unwrap();
    fresh.add_webhook(webhook(W1)).unwrap();
    assert_eq!(edited.to_config(), fresh.to_config());
    assert!(edited == fresh);
    assert!(edited == load(&edited.to_config()));

    edited.remove_webhook(W1).unwrap();
    let mut bare = Registry::new(Catalog::standard().clone());
    bare.add_service(service).unwrap();
    assert!(edited == bare);
}

/// Query parameters listed in `secret_parameters` are redacted in any
/// case; a `GET` pair marked secret, under its key as written.
#[test]
fn secret_query_parameters_are_redacted_as_before() {
    let config: ServiceConfig = serde_json::from_value(serde_json::json!({
        "id": S, "name": "crm", "method": "GET",
        "url": "https://crm.example.com/calls?Pin=1&pin2=2",
        "secret_parameters": ["PIN"],
        "body": {"kind": "form", "pairs": [
            {"key": "code", "value": "c", "secret": true},
            {"key": "Code", "value": "C"}
        ]}
    }))
    .unwrap();
    let service = config.compile(Catalog::standard()).unwrap();
    let shown = service.preview(&CallData::new(), false).unwrap().to_http();
    assert!(shown.contains(&format!("Pin={REDACTED}")), "{shown}");
    assert!(shown.contains("pin2=2"), "{shown}");
    assert!(shown.contains(&format!("code={REDACTED}")), "{shown}");
    assert!(shown.contains("Code=C"), "{shown}");
}
