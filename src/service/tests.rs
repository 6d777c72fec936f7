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

/// Fallback URLs compile under the URL's rules, each problem located at
/// `fallback_urls.N` with its line and column, all reported at once.
#[test]
fn fallback_url_problems_are_located_and_reported_together() {
    let bad = config(serde_json::json!({
        "fallback_urls": [
            "https://#agent_id#.example.com/calls",
            "ftp://files.example.com/calls",
            "http://127.0.0.1/calls",
            "https://ok.example.com/calls?a=#agnet_id#",
        ],
    }));
    let err = bad.compile(Catalog::standard()).unwrap_err();
    let fields: Vec<_> = err.related().iter().map(|e| e.field().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "fallback_urls.0",
            "fallback_urls.1",
            "fallback_urls.2",
            "fallback_urls.3"
        ],
        "{err}"
    );
    assert!(err.related().iter().all(|e| e.service() == Some(ID)));
    let placeholder = &err.related()[0];
    assert_eq!(placeholder.kind(), ErrorKind::InvalidUrl);
    assert_eq!(placeholder.position().unwrap().column, 9, "{placeholder}");
    let typo = &err.related()[3];
    assert_eq!(typo.suggestion(), Some("agent_id"));
    assert_eq!(typo.position().unwrap().column, 32, "{typo}");
    // The URL's own address rules: a policy that allows the address
    // allows it in a fallback URL too.
    let local = crate::AddressPolicy::new().allow("127.0.0.1").unwrap();
    let ok = config(serde_json::json!({"fallback_urls": ["http://127.0.0.1/calls"]}));
    assert!(ok.compile(Catalog::standard()).is_err());
    assert!(ok.compile_under(Catalog::standard(), &local).is_ok());
}

/// A `GET`'s pairs go in every fallback URL's query as in the URL's, and
/// a problem of a pair is reported once, at the pair.
#[test]
fn a_gets_pairs_go_to_every_fallback_url() {
    let service = config(serde_json::json!({
        "method": "GET",
        "url": "https://crm.example.com/hook?src=pbx",
        "fallback_urls": [
            "https://standby.example.com/hook",
            "https://dr.example.com/hook/#agent_id#?",
        ],
        "body": {"kind": "form", "pairs": [{"key": "ani", "value": "#ani#"}]},
    }))
    .compile(Catalog::standard())
    .unwrap();
    let data = CallData::new().with("ani", "+1 5").with("agent_id", "a/b");
    let fallbacks = service.fallbacks_with(&data).unwrap();
    let shown: Vec<String> = fallbacks.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "https://standby.example.com/hook?ani=%2B1+5",
            "https://dr.example.com/hook/a%2Fb?ani=%2B1+5",
        ]
    );
    assert_eq!(service.fields(), ["ani", "agent_id"]);
    let bad = config(serde_json::json!({
        "method": "GET",
        "fallback_urls": ["https://standby.example.com/hook"],
        "body": {"kind": "form", "pairs": [{"key": "ani", "value": "#anni#"}]},
    }));
    let err = bad.compile(Catalog::standard()).unwrap_err();
    assert!(err.related().is_empty(), "reported once: {err}");
    assert_eq!(err.field(), Some("body.pairs.0.value"));
}

/// A render error in a fallback URL is located there; a service with
/// none renders none and allocates nothing for them.
#[test]
fn fallback_render_errors_are_located() {
    let service = config(serde_json::json!({
        "missing": "error",
        "fallback_urls": ["https://standby.example.com/calls/#agent_id#"],
    }))
    .compile(Catalog::standard())
    .unwrap();
    let err = service.fallbacks_with(&CallData::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MissingValue);
    assert_eq!(err.field(), Some("fallback_urls.0"));
    assert_eq!(err.position().unwrap().column, 35, "{err}");
    let plain = config(serde_json::json!({}))
        .compile(Catalog::standard())
        .unwrap();
    assert_eq!(
        plain.fallbacks_with(&CallData::new()).unwrap().capacity(),
        0
    );
}

/// `fallback_after`: 2 unless set, at least 1 and at most the attempts of
/// a delivery; and the count of fallback URLs and each one's bytes have
/// their limits.
#[test]
fn fallback_after_and_the_limits_of_fallback_urls() {
    let service = config(serde_json::json!({"fallback_after": 5}))
        .compile(Catalog::standard())
        .unwrap();
    assert_eq!(service.fallback_after(), 5);
    assert!(service.to_json().contains(r#""fallback_after":5"#));
    let plain = config(serde_json::json!({}))
        .compile(Catalog::standard())
        .unwrap();
    assert_eq!(plain.fallback_after(), 2);
    assert!(!plain.to_json().contains("fallback"));
    for (n, message) in [
        (0, "`fallback_after` is 0"),
        (101, "at most 100 are allowed (`limits::RETRY_ATTEMPTS`)"),
    ] {
        let err = config(serde_json::json!({"fallback_after": n}))
            .compile(Catalog::standard())
            .unwrap_err();
        assert_eq!(err.field(), Some("fallback_after"));
        assert!(err.to_string().contains(message), "{err}");
    }
    let many: Vec<String> = (0..=crate::limits::FALLBACK_URLS)
        .map(|i| format!("https://s{i}.example.com/"))
        .collect();
    let err = config(serde_json::json!({"fallback_urls": many}))
        .compile(Catalog::standard())
        .unwrap_err();
    assert_eq!(err.field(), Some("fallback_urls"));
    assert!(
        err.to_string().contains(
            "service has 5 fallback URLs; at most 4 are allowed (`limits::FALLBACK_URLS`)"
        ),
        "{err}"
    );
    let long = format!(
        "https://s.example.com/{}",
        "a".repeat(crate::limits::URL_BYTES)
    );
    let err = config(serde_json::json!({"fallback_urls": [long]}))
        .compile(Catalog::standard())
        .unwrap_err();
    assert_eq!(err.field(), Some("fallback_urls.0"));
    assert!(err.to_string().contains("`limits::URL_BYTES`"), "{err}");
}

/// A secret query value of a fallback URL that does not compile is not
/// quoted, as for the URL.
#[test]
fn a_fallback_urls_secret_is_never_quoted() {
    let err = config(serde_json::json!({
        "fallback_urls": ["https://s.example.com/?token=Summer#agnet_id#Fall"],
    }))
    .compile(Catalog::standard())
    .unwrap_err();
    assert_eq!(err.field(), Some("fallback_urls.0"));
    assert!(!err.to_string().contains("agnet"), "{err}");
    assert!(!format!("{err:?}").contains("Summer"), "{err:?}");
}

/// An auth that adds a query parameter may not find it in a fallback URL
/// either: the credential goes to whichever URL is sent to.
#[test]
fn an_auth_parameter_may_not_be_in_a_fallback_url() {
    let err = config(serde_json::json!({
        "fallback_urls": ["https://s.example.com/?key=1"],
        "auth": {"kind": "query_key", "param": "key", "key": "k3y-v4lue"},
    }))
    .compile(Catalog::standard())
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("query parameter `key` is set both by `auth`"),
        "{err}"
    );
}

/// A service row written on its own carries the lowest format that holds
/// it: 3 with a `phone_region` or an option of format 3, 2 without, through
/// `to_json` and serde alike; nested (in a configuration) it writes none.
#[test]
fn a_service_row_written_alone_says_format_3_when_it_needs_it() {
    let version = |service: &ServiceConfig| {
        let via_serde: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(service).unwrap()).unwrap();
        let via_to_json: serde_json::Value = serde_json::from_str(&service.to_json()).unwrap();
        assert_eq!(via_serde, via_to_json);
        assert!(serde_json::to_value(crate::version::Nested(service))
            .unwrap()
            .get("version")
            .is_none());
        via_serde["version"].as_u64().unwrap()
    };
    assert_eq!(version(&config(serde_json::json!({}))), 2);
    assert_eq!(
        version(&config(serde_json::json!({"phone_region": "AU"}))),
        3
    );
    let upper = config(serde_json::json!({
        "body": {"kind": "form", "pairs": [{"key": "agent", "value": "#agent_id|upper#"}]}
    }));
    assert_eq!(version(&upper), 3);
    assert_eq!(
        version(&config(
            serde_json::json!({"headers": [{"key": "X-A", "value": "#agent_id|upper#"}]})
        )),
        3
    );
    // What is written reads back as it was.
    assert_eq!(ServiceConfig::from_json(&upper.to_json()).unwrap(), upper);
}
