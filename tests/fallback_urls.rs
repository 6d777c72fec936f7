//! Fallback URLs, timeouts and personal data in debug records, through the
//! public API, on `examples/configs/fallbacks.json`: what dispatch renders
//! into `Outgoing::fallbacks`, what previews show (goldens in
//! `tests/fixtures/previews/<service-id>.http`, `BLESS=1 cargo test`
//! writes them), and that a request sent to a fallback URL is signed as
//! one the service builds.

mod common;

use std::time::Duration;

use callhook::{Call, Config, ErrorKind, Event, Registry};

/// The dispatch time of every request: fixed, so the goldens are.
const AT: &str = "2024-12-02T21:11:40Z";

const REPORT: &str = "9a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c01";
const BILLING: &str = "9a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c02";

fn config() -> Config {
    Config::from_json(&common::read_text("examples/configs/fallbacks.json")).unwrap()
}

fn registry() -> Registry {
    common::registry(&common::read_text("examples/configs/fallbacks.json"))
}

fn call() -> Call {
    common::call(&common::read_text("examples/calls/pbx-call.json"))
}

#[test]
fn previews_show_fallback_urls_redacted_as_the_url_is() {
    let shown = registry().preview(Event::CallHangup, &call(), AT.parse().unwrap());
    assert_eq!(shown.len(), 2);
    for (webhook, preview) in shown {
        let preview = preview.unwrap_or_else(|e| panic!("webhook {webhook}: {e}"));
        let text = preview.to_http();
        common::assert_golden(
            &format!("tests/fixtures/previews/{}.http", preview.service),
            &text,
        );
        assert!(!text.contains("st4ndby-t0k3n"), "{text}");
        let json = preview.to_json_line();
        assert!(!json.contains("st4ndby-t0k3n"), "{json}");
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            json["fallbacks"].as_array().unwrap().len(),
            preview.fallbacks.len()
        );
    }
}

#[test]
fn dispatch_renders_every_fallback_url_under_the_urls_rules() {
    let dispatched = registry().dispatch(Event::CallHangup, &call(), AT.parse().unwrap());
    assert!(dispatched.errors.is_empty(), "{:?}", dispatched.errors);
    let fallbacks: Vec<Vec<String>> = dispatched
        .requests
        .iter()
        .map(|o| o.fallbacks.iter().map(ToString::to_string).collect())
        .collect();
    let uuid = "bfd7e62a-5a55-4286-9453-b4b4cfc5cca8";
    assert_eq!(
        fallbacks,
        [
            vec![
                format!(
                    "https://standby.crm.example.com/pbx/calls/{uuid}?tenant=itd&token=st4ndby-t0k3n"
                ),
                format!("https://dr.example.net/pbx/calls?call={uuid}"),
            ],
            // A `GET`'s pairs go in each URL's query as in the URL's.
            vec![format!(
                "https://billing-failover.example.com/pbx/calls?source=failover&uuid={uuid}\
                 &destination=039000000&billsec=1733173541"
            )],
        ]
    );
    // Views without the service redact every query value of them.
    let outgoing = &dispatched.requests[0];
    let preview = outgoing.preview(false);
    assert_eq!(
        preview.fallbacks[0],
        format!(
            "https://standby.crm.example.com/pbx/calls/{uuid}?tenant=[redacted]&token=[redacted]"
        )
    );
    let debug = format!("{outgoing:?}");
    assert!(
        !debug.contains("st4ndby-t0k3n") && debug.contains("fallbacks"),
        "{debug}"
    );
}

/// The debug record of a service with the `debug` flag shows no personal
/// field (`destination` is the number called), in the URL, the fallback
/// URLs or the body; the preview for a person does.
#[test]
fn debug_records_redact_personal_fields() {
    let dispatched = registry().dispatch(Event::CallHangup, &call(), AT.parse().unwrap());
    let record = dispatched.requests[0]
        .debug
        .as_ref()
        .expect("debug flag set");
    let text = record.to_http();
    assert!(!text.contains("039000000"), "{text}");
    assert!(text.contains("\"destination\": \"[redacted]\""), "{text}");
    assert!(text.contains("\"did_number\": \"972722791142\""), "{text}");
    assert!(!text.contains("st4ndby-t0k3n"), "{text}");
    assert_eq!(record.fallbacks.len(), 2);
    let shown = registry().preview(Event::CallHangup, &call(), AT.parse().unwrap());
    let preview = shown[0].1.as_ref().unwrap();
    assert!(preview.to_http().contains("039000000"));
}

/// A delivery moved to a fallback URL is signed as one the service
/// builds; a URL of no fallback's origin or path is not.
#[test]
fn a_request_to_a_fallback_url_is_one_the_service_builds() {
    let registry = registry();
    let at = AT.parse().unwrap();
    let dispatched = registry.dispatch(Event::CallHangup, &call(), at);
    for outgoing in &dispatched.requests {
        for fallback in &outgoing.fallbacks {
            let mut moved = outgoing.clone();
            *moved.request.uri_mut() = fallback.clone();
            registry.sign(&mut moved, at).unwrap();
            assert_eq!(moved.request.uri(), fallback);
        }
    }
    let mut elsewhere = dispatched.requests[0].clone();
    *elsewhere.request.uri_mut() = "https://other.example.com/pbx/calls/x".parse().unwrap();
    let err = registry.sign(&mut elsewhere, at).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServiceChanged);
    assert!(
        err.to_string().contains("or its fallback URLs' origins"),
        "{err}"
    );
    let mut other_path = dispatched.requests[0].clone();
    *other_path.request.uri_mut() = "https://dr.example.net/admin?call=x".parse().unwrap();
    let err = registry.sign(&mut other_path, at).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServiceChanged);
    assert!(!err.to_string().contains("admin"), "{err}");
}

#[test]
fn senders_read_the_timeout_and_fallback_after() {
    let registry = registry();
    assert_eq!(
        registry.request_timeout(REPORT).unwrap(),
        Duration::from_secs(20)
    );
    assert_eq!(
        registry.request_timeout(BILLING).unwrap(),
        Duration::from_secs(30)
    );
    assert_eq!(registry.fallback_after(REPORT).unwrap(), 3);
    assert_eq!(registry.fallback_after(BILLING).unwrap(), 2);
    for gone in [
        registry.request_timeout("deleted").map(|_| ()),
        registry.fallback_after("deleted").map(|_| ()),
    ] {
        assert_eq!(gone.unwrap_err().kind(), ErrorKind::Registry);
    }
    // The configuration reads back as written.
    let config = config();
    assert_eq!(registry.to_config().services, config.services);
}
