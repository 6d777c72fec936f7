//! Tests of the compiled service as a whole, and the helpers the tests of
//! every part of `service` share.

use super::*;
use crate::call::CallData;
use crate::catalog::Catalog;
use crate::error::ErrorKind;

pub(super) const ID: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b";

pub(super) fn config(json: serde_json::Value) -> ServiceConfig {
    let mut base = serde_json::json!({
        "id": ID, "name": "t", "method": "POST", "url": "https://crm.example.com/calls"
    });
    base.as_object_mut()
        .unwrap()
        .extend(json.as_object().unwrap().clone());
    serde_json::from_value(base).unwrap()
}

/// Templates keep no source: a render error is located in the
/// configuration, in the fragment its placeholder came from.
/// A service keeps its configuration as JSON and gives it back whole:
/// resolved secret references keep their values (and compile again),
/// `enabled` follows the service, and the row is serde's own text.
#[test]
fn the_stored_configuration_comes_back_whole() {
    let mut with_ref = config(serde_json::json!({
        "auth": {"kind": "bearer", "token": {"secret_ref": "CRM_TOKEN"}},
        "signing": {"kind": "standard_webhooks", "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", {"secret_ref": "SIGNING"}]},
        "secret_parameters": ["code"],
        "retry": {"max_attempts": 3},
    }));
    for (_, secret) in with_ref.secrets_mut() {
        match secret.reference() {
            Some("CRM_TOKEN") => secret.resolve("t0k3n-crm"),
            Some(_) => secret.resolve("whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"),
            None => {}
        }
    }
    let mut configs: Vec<ServiceConfig> = [
        include_str!("../../examples/configs/ringcx.json"),
        include_str!("../../examples/configs/pbx.json"),
        include_str!("../../examples/configs/avanser.json"),
        include_str!("../../examples/configs/signed.json"),
    ]
    .iter()
    .flat_map(|text| crate::Config::from_json(text).unwrap().services)
    .collect();
    configs.push(with_ref.clone());
    for config in configs {
        let mut service = config.compile(Catalog::standard()).unwrap();
        assert_eq!(service.config(), config);
        assert_eq!(service.id(), config.id);
        assert_eq!(service.to_json(), serde_json::to_string(&config).unwrap());
        assert_eq!(
            service.retry_policy(),
            config.retry.clone().unwrap_or_default()
        );
        assert_eq!(
            service.config().compile(Catalog::standard()).unwrap(),
            service
        );
        service.set_enabled(false);
        assert!(!service.config().enabled);
        // References stay references in the row, as serde writes them.
        let disabled = ServiceConfig {
            enabled: false,
            ..config.clone()
        };
        assert_eq!(service.to_json(), serde_json::to_string(&disabled).unwrap());
    }
    // Debug shows the configuration with every secret redacted, inline
    // or resolved.
    let shown = format!("{:?}", with_ref.compile(Catalog::standard()).unwrap());
    assert!(shown.contains(REDACTED), "{shown}");
    for secret in ["t0k3n-crm", "QUJD", "MfKQ9r8"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    // The row keeps references, not what they resolved to.
    let row = with_ref.compile(Catalog::standard()).unwrap().to_json();
    assert!(row.contains(r#"{"secret_ref":"CRM_TOKEN"}"#), "{row}");
    assert!(!row.contains("t0k3n-crm") && !row.contains("QUJD"), "{row}");
}

#[test]
fn render_errors_are_located_in_the_configuration() {
    let none = CallData::new();
    let located = |json: serde_json::Value| {
        let mut json = json;
        json["missing"] = "error".into();
        let err = config(json)
            .compile(Catalog::standard())
            .unwrap()
            .request(&none)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MissingValue, "{err}");
        assert_eq!(err.service(), Some(ID));
        let at = err.position().unwrap();
        (err.field().unwrap().to_owned(), at.line, at.column)
    };
    let pairs = serde_json::json!([{"key": "a", "value": "x"}, {"key": "b", "value": "n: #ani#"}]);
    assert_eq!(
        located(serde_json::json!({
            "body": {"kind": "json", "template": "{\"a\": 1,\n  \"ani\": \"#ani#\"}"}
        })),
        ("body.template".into(), 2, 11)
    );
    assert_eq!(
        located(serde_json::json!({"body": {"kind": "form", "pairs": pairs}})),
        ("body.pairs.1.value".into(), 1, 4)
    );
    assert_eq!(
        located(serde_json::json!({"method": "GET", "body": {"kind": "form", "pairs": pairs}})),
        ("body.pairs.1.value".into(), 1, 4)
    );
    assert_eq!(
        located(serde_json::json!({"url": "https://crm.example.com/a/#agent_id#"})),
        ("url".into(), 1, 27)
    );
    assert_eq!(
        located(serde_json::json!({"headers": [
            {"key": "X-A", "value": "1"}, {"key": "X-B", "value": "b #agent_id#"}
        ]})),
        ("headers.1.value".into(), 1, 3)
    );
    let err =
        config(serde_json::json!({"missing": "error", "body": {"kind": "form", "pairs": pairs}}))
            .compile(Catalog::standard())
            .unwrap()
            .render_body_into(&none, &mut Vec::new())
            .unwrap_err();
    assert_eq!(err.field(), Some("body.pairs.1.value"));
    assert_eq!(err.position().map(|p| p.offset), Some(3));
}

/// The id is held, not read from the kept JSON: a service whose JSON is
/// another's still names itself.
#[test]
fn the_id_does_not_depend_on_the_json_layout() {
    let mut service = config(serde_json::json!({}))
        .compile(Catalog::standard())
        .unwrap();
    let mut other = config(serde_json::json!({"name": "other"}));
    other.id = "00000000-0000-4000-8000-000000000009".into();
    Arc::get_mut(&mut service.compiled).unwrap().json = Stored::of(&other).unwrap();
    assert_eq!(service.id(), ID);
    assert!(service.to_json().contains("000000000009"));
}

/// A service's timeout: 30 s unless set, written as durations are, and
/// refused outside 1 s to 5 min or with a fraction of a second.
#[test]
fn the_timeout_is_the_services_or_thirty_seconds() {
    let plain = config(serde_json::json!({}))
        .compile(Catalog::standard())
        .unwrap();
    assert_eq!(plain.timeout(), std::time::Duration::from_secs(30));
    assert!(!plain.to_json().contains("timeout"));
    let set = config(serde_json::json!({"timeout": "20s"}));
    assert_eq!(set.timeout, Some(std::time::Duration::from_secs(20)));
    let service = set.compile(Catalog::standard()).unwrap();
    assert_eq!(service.timeout(), std::time::Duration::from_secs(20));
    assert!(service.to_json().contains(r#""timeout":"20s""#));
    assert_eq!(service.config(), set);
    for (timeout, message) in [
        (
            "0s",
            "timeout of 0s is shorter than 1s (`limits::SHORTEST_TIMEOUT`)",
        ),
        (
            "6m",
            "timeout of 360s is longer than 300s (`limits::LONGEST_TIMEOUT`)",
        ),
    ] {
        let err = config(serde_json::json!({"timeout": timeout}))
            .compile(Catalog::standard())
            .unwrap_err();
        // One problem is the error itself.
        assert!(err.related().is_empty(), "{err}");
        assert_eq!(err.field(), Some("timeout"));
        assert_eq!(err.service(), Some(ID));
        assert!(err.to_string().contains(message), "{err}");
    }
    let fraction = ServiceConfig {
        timeout: Some(std::time::Duration::from_millis(1500)),
        ..config(serde_json::json!({}))
    };
    let err = fraction.compile(Catalog::standard()).unwrap_err();
    assert!(
        err.to_string().contains("not a whole number of seconds"),
        "{err}"
    );
    // Written so, it is no duration at all.
    assert!(serde_json::from_value::<ServiceConfig>(serde_json::json!({
        "id": ID, "name": "t", "method": "POST", "url": "https://crm.example.com/calls",
        "timeout": "20 seconds",
    }))
    .is_err());
}
