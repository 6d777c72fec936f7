//! Adversarial review of the issue 19 fixes: each test states what should
//! hold and fails today; each is ignored with the finding so the suite
//! stays green. Part of `tests/hardening.rs`; the helpers `service`,
//! `config`, `load`, `call` and `t` come from there.

#[allow(unused_imports)]
use super::*;

const LEAK: &str = "Zq7LeakedSecret94xW";
const SIGNING_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn signing_registry() -> Registry {
    load(json!({
        "signing": {"kind": "standard_webhooks", "secrets": [SIGNING_SECRET]},
    }))
    .unwrap()
}

// ---------------------------------------------------------------------------
// Secrets

#[test]
fn stored_header_debug_ignores_a_stored_false() {
    let registry = load(json!({"auth": {"kind": "bearer", "token": LEAK}})).unwrap();
    let mut value = stored(&registry);
    for header in value["request"]["headers"].as_array_mut().unwrap() {
        header["sensitive"] = json!(false);
    }
    let envelope = envelope(value);
    for header in &envelope.request.headers {
        let shown = format!("{header:?}");
        assert!(!shown.contains(LEAK), "{shown}");
    }
}

#[test]
fn stored_false_does_not_show_an_api_key_header_before_signing() {
    let registry = load(json!({
        "auth": {"kind": "api_key", "header": "X-Tenant", "key": LEAK},
    }))
    .unwrap();
    let mut value = stored(&registry);
    for header in value["request"]["headers"].as_array_mut().unwrap() {
        header["sensitive"] = json!(false);
    }
    let outgoing = envelope(value).to_outgoing().unwrap();
    let shown = outgoing.preview(false).to_http();
    assert!(!shown.contains(LEAK), "{shown}");
}

#[test]
fn envelope_serde_errors_do_not_echo_a_stored_header_value() {
    let registry = load(json!({})).unwrap();
    let mut value = stored(&registry);
    value["request"]["headers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "x-pin", "value": 987654321987654321u64}));
    let err = Envelope::from_json(&value.to_string()).unwrap_err();
    let source = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    let shown = format!("{err} {err:?} {source}");
    assert!(!shown.contains("987654321987654321"), "{shown}");
}

#[test]
#[ignore = "finding: Debug of Outgoing/Envelope prints the unsalted SHA-256 of the body: a secret field of low entropy (a 4-digit PIN) is recovered with 10,000 hashes"]
fn the_body_hash_in_debug_does_not_give_away_a_short_secret() {
    use sha2::{Digest, Sha256};
    let cfg: Config = serde_json::from_value(json!({
        "fields": [{"name": "pin", "type": "text", "secret": true}],
        "services": [service(json!({
            "body": {"kind": "json", "template": "{\"pin\": \"#pin#\"}"},
        }))],
        "webhooks": [{
            "id": WEBHOOK, "event": "Call:Hangup", "service": SERVICE,
            "created_at": "2024-12-02T21:00:00Z", "scopes": ["S"],
        }],
    }))
    .unwrap();
    let catalog = cfg.catalog(Catalog::standard().clone()).unwrap();
    let registry = Registry::from_config(&cfg, catalog).unwrap();
    let mut c = call();
    c.data.insert("pin", "4711");
    let out = registry
        .dispatch(Event::CallHangup, &c, at())
        .requests
        .remove(0);
    let shown = format!("{out:?}");
    let found = (0..10_000).find(|guess| {
        let body = format!("{{\"pin\": \"{guess:04}\"}}");
        let hex: String = Sha256::digest(body.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        shown.contains(&hex)
    });
    assert_eq!(found, None, "the PIN is read back from {shown}");
}

#[test]
fn bare_query_values_are_redacted_in_debug() {
    let registry = load(json!({
        "url": format!("https://crm.example.com/calls?{LEAK}"),
    }))
    .unwrap();
    let out = dispatched(&registry);
    let envelope = Envelope::new(&out, at());
    for shown in [format!("{out:?}"), format!("{envelope:?}")] {
        assert!(!shown.contains(LEAK), "{shown}");
    }
}

#[test]
#[ignore = "finding: a token in a static URL path (Slack, Discord, Teams incoming webhooks) prints in Debug, previews, debug records, Registry::webhooks and Debug of Registry; nothing can mark a path secret"]
fn secrets_in_a_static_url_path_are_redacted() {
    // Slack, Discord and Teams incoming webhooks carry their token in the path.
    let registry = load(json!({
        "url": format!("https://hooks.example.com/services/T0/B0/{LEAK}"),
        "debug": true,
    }))
    .unwrap();
    let out = dispatched(&registry);
    let service = registry.service(SERVICE).unwrap();
    let views = [
        format!("{out:?}"),
        out.preview(false).to_http(),
        out.debug.clone().unwrap().to_http(),
        service.preview(&call().data, false).unwrap().to_http(),
        format!("{:?}", registry.webhooks()),
        format!("{registry:?}"),
    ];
    for shown in views {
        assert!(!shown.contains(LEAK), "{shown}");
    }
}

#[test]
fn headers_named_like_common_secrets_are_redacted() {
    let names = [
        "X-Passcode",
        "X-Passphrase",
        "X-Pincode",
        "X-Otp",
        "X-Jwt",
        "X-Bearer",
        "X-Hmac",
    ];
    let headers: Vec<_> = names
        .iter()
        .map(|n| json!({"key": n, "value": format!("{n}{LEAK}")}))
        .collect();
    let registry = load(json!({"headers": headers, "debug": true})).unwrap();
    let out = dispatched(&registry);
    let shown = out.preview(false).to_http();
    let leaked: Vec<_> = names
        .iter()
        .filter(|n| shown.contains(&format!("{n}{LEAK}")))
        .collect();
    assert!(leaked.is_empty(), "{leaked:?} in {shown}");
}

#[test]
#[ignore = "finding: a literal secret in a raw JSON template (\"api_key\": \"...\") prints in Service::preview, the debug record and Service::body_text; only pairs are redacted by name"]
fn secrets_written_in_a_json_template_are_redacted_in_previews() {
    let registry = load(json!({
        "body": {"kind": "json", "template": format!("{{\"ani\": \"#ani#\", \"api_key\": \"{LEAK}\"}}")},
        "debug": true,
    }))
    .unwrap();
    let service = registry.service(SERVICE).unwrap();
    let out = dispatched(&registry);
    for shown in [
        service.preview(&call().data, false).unwrap().to_http(),
        out.debug.clone().unwrap().to_http(),
        service.body_text(),
    ] {
        assert!(!shown.contains(LEAK), "{shown}");
    }
}

// ---------------------------------------------------------------------------
// Stored data

fn signs(
    registry: &Registry,
    edit: impl Fn(&mut serde_json::Value),
) -> Result<(), callhook::Error> {
    let mut value = stored(registry);
    edit(&mut value["request"]);
    let mut out = envelope(value).to_outgoing()?;
    registry.sign(&mut out, at())
}

#[test]
fn stored_requests_with_a_second_content_type_are_not_signed() {
    let registry = signing_registry();
    let result = signs(&registry, |r| {
        r["headers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "content-type", "value": "text/plain"}));
    });
    assert!(result.is_err(), "signed");
}

/// Credentials are added at send time, so a stored request carries none;
/// one written into the store (or stored before credentials moved to send
/// time) is dropped when the envelope loads, and the service's own is
/// sent, never beside it.
#[test]
fn a_stored_authorization_is_replaced_by_the_services_own() {
    let registry = load(json!({
        "auth": {"kind": "bearer", "token": "t0k3n-crm-S3CRET"},
        "signing": {"kind": "standard_webhooks", "secrets": [SIGNING_SECRET]},
    }))
    .unwrap();
    let mut value = stored(&registry);
    value["request"]["headers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "authorization", "value": "Bearer other"}));
    let mut out = envelope(value).to_outgoing().unwrap();
    registry.sign(&mut out, at()).unwrap();
    let sent: Vec<_> = out
        .request
        .headers()
        .get_all("authorization")
        .iter()
        .collect();
    assert_eq!(sent, ["Bearer t0k3n-crm-S3CRET"]);
    // Two stored copies are dropped alike.
    let mut value = stored(&registry);
    let headers = value["request"]["headers"].as_array_mut().unwrap();
    headers.push(json!({"name": "authorization", "value": "Bearer other"}));
    headers.push(json!({"name": "authorization", "value": "Bearer another"}));
    let mut out = envelope(value).to_outgoing().unwrap();
    registry.sign(&mut out, at()).unwrap();
    let sent: Vec<_> = out
        .request
        .headers()
        .get_all("authorization")
        .iter()
        .collect();
    assert_eq!(sent, ["Bearer t0k3n-crm-S3CRET"]);
}

#[test]
fn stored_urls_with_backslash_dot_segments_are_not_signed() {
    let registry = signing_registry();
    let result = signs(&registry, |r| {
        r["url"] = json!("https://crm.example.com/calls\\..\\admin");
    });
    // What a WHATWG client sends for that URL.
    let sent = url::Url::parse("https://crm.example.com/calls\\..\\admin").unwrap();
    assert_eq!(sent.path(), "/admin");
    assert!(result.is_err(), "signed, and sent to {sent}");
}

// ---------------------------------------------------------------------------
// Requests receivers read differently, headers

#[test]
fn proxy_headers_are_refused_as_a_class() {
    for name in ["Proxy-Foo", "Proxy-Status", "Proxy-Authorization-Info"] {
        let err = load(json!({"headers": [{"key": name, "value": "x"}]}));
        assert!(err.is_err(), "{name} loads");
    }
}

#[test]
fn rendered_header_values_are_bounded_like_their_templates() {
    let registry = load(json!({"headers": [{"key": "X-Caller", "value": "#ani#"}]})).unwrap();
    let service = registry.service(SERVICE).unwrap();
    let data = CallData::new().with("ani", "5".repeat(100_000));
    if let Ok(request) = service.request(&data) {
        let len = request.headers()["x-caller"].len();
        assert!(
            len <= callhook::limits::HEADER_BYTES,
            "{len}-byte header sent"
        );
    }
}

// ---------------------------------------------------------------------------
// Numbers

#[test]
fn serialized_floats_keep_their_value() {
    #[derive(serde::Serialize)]
    struct C {
        rate: f32,
        big: u128,
        small: i128,
    }
    let data = CallData::from_serialize(&C {
        rate: 0.1,
        big: u128::MAX,
        small: i128::MIN,
    });
    match data {
        Err(_) => {}
        Ok(data) => {
            let rate = format!("{:?}", data.get("rate"));
            assert!(!rate.contains("0.100000001"), "{rate}");
            let big = format!("{:?}", data.get("big"));
            assert!(
                big.contains("340282366920938463463374607431768211455"),
                "{big}"
            );
            let small = format!("{:?}", data.get("small"));
            assert!(
                small.contains("170141183460469231731687303715884105728"),
                "{small}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Limits and retry

// ---------------------------------------------------------------------------
// Addresses

#[test]
fn internal_urls_in_every_spelling_are_refused() {
    let mut loaded = Vec::new();
    for url in [
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://127.0.0.1./",
        "http://%31%32%37.0.0.1/",
        "http://\u{2460}\u{2461}\u{2466}.0.0.1/",
        "http://localhost\u{3002}/",
        "http://LOCALHOST/",
        "http://local%68ost/",
        "http://[::ffff:7f00:1]/",
        "http://[::127.0.0.1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::]/",
        "http://[2001:0:a9fe:a9fe::]/",
        "http://[fec0::1]/",
        "http://[fe80::1%25eth0]/",
        "http://[::ffff:0:a00:1]/",
        "http://[0:0:0:0:0:ffff:169.254.169.254]/",
        "http://169.254.169.254:80/",
        "http://0/",
        "http://[::]/",
        "http://a.localhost/",
        "http://localhost.localdomain/",
        "http://ip6-localhost/",
        "http://ip6-loopback/",
    ] {
        if load(json!({"url": url})).is_ok() {
            loaded.push(url);
        }
    }
    assert!(loaded.is_empty(), "{loaded:?}");
}

#[test]
fn stored_requests_to_a_path_the_service_never_builds_are_not_signed() {
    let registry = signing_registry();
    let result = signs(&registry, |r| {
        r["url"] = json!("https://crm.example.com/admin/delete?all=1");
    });
    assert!(result.is_err(), "signed");
}

#[test]
fn stored_get_requests_with_a_body_are_not_signed() {
    let registry = load(json!({
        "method": "GET",
        "body": {"kind": "form", "pairs": [{"key": "a", "value": "#ani#"}]},
        "signing": {"kind": "standard_webhooks", "secrets": [SIGNING_SECRET]},
    }))
    .unwrap();
    let result = signs(&registry, |r| {
        r["body"] = json!("aGVsbG8=");
        r["headers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "content-length", "value": "5"}));
    });
    assert!(result.is_err(), "signed");
}

#[test]
#[ignore = "finding: an empty call value in a URL path placeholder renders an empty segment (https://crm.example.com//admin); nginx (merge_slashes) and other normalisers read /admin, as a dot segment would move the path"]
fn empty_values_do_not_make_empty_path_segments() {
    let registry = load(json!({"url": "https://crm.example.com/#ani#/admin"})).unwrap();
    let service = registry.service(SERVICE).unwrap();
    let result = service.request(&CallData::new().with("ani", ""));
    if let Ok(request) = result {
        assert!(!request.uri().path().contains("//"), "{}", request.uri());
    }
}

/// The finding: loading was quadratic in the attributes of one element
/// (quick-xml's duplicate-attribute check compared each attribute with every
/// earlier one; 5,000 / 10,000 / 20,000 attributes took 0.8 / 3.1 / 14.2 s
/// in a debug build). callhook now finds duplicates itself, with a hash set;
/// what loading costs per attribute is counted, not timed, in
/// `tests/limit_costs.rs` (`xml_attributes_cost_linearly`). Here: an element
/// of 20,000 attributes loads, and a duplicate among them is still refused,
/// by callhook's check (quick-xml's would have answered first), at the
/// repeated name.
#[test]
fn xml_attributes_compile_in_linear_time() {
    let attrs: Vec<String> = (0..20_000).map(|i| format!("a{i}=\"1\"")).collect();
    let template = format!("<r {}>#ani#</r>", attrs.join(" "));
    assert!(template.len() < callhook::limits::TEMPLATE_BYTES);
    load(json!({"body": {"kind": "xml", "template": template}})).unwrap();
    let template = format!("<r {} a7=\"2\">#ani#</r>", attrs.join(" "));
    let err = load(json!({"body": {"kind": "xml", "template": template}})).unwrap_err();
    assert!(
        err.to_string().contains("duplicated attribute `a7`"),
        "{err}"
    );
    let at = template.rfind("a7=").unwrap();
    assert_eq!(err.position().map(|p| p.column), Some(at + 1), "{err}");
}

#[test]
fn scopes_and_segments_have_limits() {
    let scopes: Vec<String> = (0..200_000).map(|i| format!("s{i}")).collect();
    let cfg: Config = serde_json::from_value(json!({
        "services": [service(json!({}))],
        "webhooks": [{"id": WEBHOOK, "event": "Call:Hangup", "service": SERVICE,
                      "created_at": "2024-12-02T21:00:00Z", "scopes": scopes}],
    }))
    .unwrap();
    let registry = Registry::from_config(&cfg, Catalog::standard().clone());
    assert!(registry.is_err(), "a webhook with 200,000 scopes loads");
    let segments = vec!["{}"; 200_000].join(",");
    let text = format!(
        "{{\"id\": \"c\", \"data\": {{}}, \"scopes\": {}, \"segments\": [{segments}]}}",
        serde_json::to_string(&scopes).unwrap()
    );
    assert!(
        Call::from_json(&text).is_err(),
        "a call with 200,000 scopes and segments reads"
    );
}

#[test]
fn secrets_holding_delimiters_are_not_quoted_in_errors() {
    let fragment = "Zq7LeakedSecret94xW";
    let password = format!("Summer#{fragment}#Fall");
    let mut leaks = Vec::new();
    for fields in [
        json!({"headers": [{"key": "X-Api-Token", "value": password}]}),
        json!({"body": {"kind": "form", "pairs": [{"key": "password", "value": password}]}}),
        json!({"body": {"kind": "json", "pairs": [{"key": "ref", "secret": true, "value": password}]}}),
        json!({"url": format!("https://crm.example.com/calls?token={password}")}),
        json!({"syntax": "brackets", "body": {"kind": "none"},
               "headers": [{"key": "X-Api-Token", "value": format!("Summer[[{fragment}]]Fall")}]}),
    ] {
        let err = load(fields.clone()).unwrap_err();
        let shown = format!("{err} {err:?}");
        if shown.contains(fragment) {
            leaks.push(format!("{fields}: {err}"));
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
}

/// The finding: XML templates that namespace-aware parsers refuse were
/// accepted: an undeclared prefix (`<p:r>`), two attributes with one
/// expanded name (`p:a` and `q:a`, `p` and `q` bound to one URI), and
/// `xmlns:xml` bound to another URI; Python's expat with namespaces
/// (ElementTree) refuses each (unbound prefix, duplicate attribute,
/// reserved prefix).
#[test]
fn xml_templates_are_namespace_well_formed() {
    let mut loaded = Vec::new();
    for template in [
        r##"<p:r>#ani#</p:r>"##,
        r##"<r xmlns:p="urn:u" xmlns:q="urn:u" p:a="1" q:a="2">#ani#</r>"##,
        r##"<r xmlns:xml="urn:wrong">#ani#</r>"##,
    ] {
        if load(json!({"body": {"kind": "xml", "template": template}})).is_ok() {
            loaded.push(template);
        }
    }
    assert!(loaded.is_empty(), "{loaded:#?}");
}
