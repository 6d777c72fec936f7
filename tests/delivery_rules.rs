//! The delivery rules of issue 22 through the public API: a service's
//! `health` policy configured, checked where it is written and kept; the
//! status rules, endpoint health and ordering working together as a host
//! uses them.

use std::time::Duration;

use callhook::{
    Admission, Attempt, Catalog, Config, Decision, DisableTarget, Endpoint, Endpoints, ErrorKind,
    Event, GiveUp, HealthPolicy, HealthVerdict, Outcome, Registry, RetryPolicy, Sequences,
};
use http::{HeaderMap, StatusCode};
use serde_json::json;

const S1: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b";
const W1: &str = "6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b01";

fn config(health: serde_json::Value) -> Config {
    serde_json::from_value(json!({
        "services": [{
            "id": S1, "name": "crm", "method": "POST", "url": "https://crm.example.com/calls",
            "body": {"kind": "json", "template": "{}"},
            "health": health
        }],
        "webhooks": [{"id": W1, "event": "Call:Hangup", "service": S1, "scopes": ["*"]}]
    }))
    .unwrap()
}

fn load(config: &Config) -> Result<Registry, callhook::Error> {
    Registry::from_config(config, Catalog::standard().clone())
}

fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
    "2024-12-02T21:00:00Z"
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap()
        + chrono::TimeDelta::seconds(seconds)
}

#[test]
fn a_services_health_policy_is_configured_and_kept() {
    let config = config(json!({"disable_after": {"failures": 3, "within": "2m"}, "breaker": null}));
    let registry = load(&config).unwrap();
    let policy = registry.health_policy(S1).unwrap();
    assert_eq!(policy.disable_after.unwrap().failures, 3);
    assert_eq!(
        policy.disable_after.unwrap().within,
        Duration::from_secs(120)
    );
    assert_eq!(policy.breaker, None);
    assert_eq!(
        policy.disable_after_failing_for,
        HealthPolicy::default().disable_after_failing_for
    );
    // Written back as configured, and read back to the same registry.
    let written = registry.to_config();
    assert_eq!(written.services[0].health, Some(policy.clone()));
    let reloaded = load(&Config::from_json(&written.to_json()).unwrap()).unwrap();
    assert_eq!(reloaded.health_policy(S1).unwrap(), policy);
    // No `health`: the defaults; an unknown service: an error.
    let mut plain = config.clone();
    plain.services[0].health = None;
    assert_eq!(
        load(&plain).unwrap().health_policy(S1).unwrap(),
        HealthPolicy::default()
    );
    assert_eq!(
        registry.health_policy("deleted").unwrap_err().kind(),
        ErrorKind::Registry
    );
    // A reload sees a changed policy.
    let mut edited = config.clone();
    edited.services[0].health = Some(HealthPolicy::default());
    let edited = registry
        .reload(&edited, Catalog::standard().clone())
        .unwrap();
    assert_eq!(edited.health_policy(S1).unwrap(), HealthPolicy::default());
}

#[test]
fn an_unusable_health_policy_is_refused_where_it_is_written() {
    let config = config(json!({
        "disable_after": {"failures": 0, "within": "60s"},
        "breaker": {"failures": 5, "cool_down": "0s"}
    }));
    let err = load(&config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    let fields: Vec<_> = err.related().iter().filter_map(|e| e.field()).collect();
    assert_eq!(
        fields,
        ["health.disable_after.failures", "health.breaker.cool_down"]
    );
    for e in err.related() {
        assert_eq!(e.service(), Some(S1));
    }
    // A typo is refused when the configuration is read.
    let typo = serde_json::from_value::<Config>(json!({
        "services": [{"id": S1, "name": "crm", "method": "POST",
            "url": "https://crm.example.com/calls", "health": {"breakr": null}}]
    }));
    assert!(typo.is_err());
}

/// A host's loop over one endpoint: an outage opens the breaker (deliveries
/// wait, not counted), a probe closes it, and a 410 names the URL.
#[test]
fn a_host_loop_over_status_health_and_ordering() {
    let policy = RetryPolicy::default();
    let health = HealthPolicy::default();
    let url = "https://crm.example.com/calls?key=s3cret";
    let endpoint = Endpoint::of(&url.parse().unwrap()).unwrap();
    assert_eq!(endpoint.to_string(), "https://crm.example.com:443");
    let mut endpoints = Endpoints::new();
    let headers = HeaderMap::new();
    for i in 0..5 {
        assert_eq!(endpoints.admit(&endpoint, &health, at(i)), Admission::Send);
        let outcome = Outcome::transport_error().with_error("connection refused");
        let attempt = Attempt::new(&Event::CallHangup, 1, at(i), S1, url);
        assert!(matches!(
            policy.decide(&attempt, outcome, at(i)),
            Decision::Retry { .. }
        ));
        let throttle = policy.throttled_until(outcome, at(i));
        assert_eq!(
            endpoints.record(&endpoint, &health, outcome, throttle, at(i)),
            HealthVerdict::Failing
        );
    }
    let Admission::Wait { until, .. } = endpoints.admit(&endpoint, &health, at(5)) else {
        panic!("the breaker is open");
    };
    assert_eq!(until, at(64));
    assert_eq!(
        endpoints.admit(&endpoint, &health, at(64)),
        Admission::Probe
    );
    let gone = Outcome::response(StatusCode::GONE, &headers);
    let attempt = Attempt::new(&Event::CallHangup, 1, at(64), S1, url);
    let decision = policy.decide(&attempt, gone, at(64));
    let Decision::Disable {
        target: DisableTarget::Url { service, .. },
        reason,
        ..
    } = &decision
    else {
        panic!("{decision:?}");
    };
    assert_eq!(
        (service.as_str(), *reason),
        (S1, GiveUp::Rejected(StatusCode::GONE))
    );
    assert!(!format!("{decision:?}").contains("s3cret"));
    // A 410 is a failure of the probe: the breaker opens again.
    endpoints.record(&endpoint, &health, gone, None, at(64));
    assert!(matches!(
        endpoints.admit(&endpoint, &health, at(65)),
        Admission::Wait { .. }
    ));
    // Ordering: sequence 4 delivered, so 3 is skipped.
    let mut sequences = Sequences::new();
    sequences.delivered("call-1", W1, 4, at(70));
    assert_eq!(sequences.superseded("call-1", W1, 3), Some(4));
    assert_eq!(sequences.superseded("call-1", W1, 4), None);
}
