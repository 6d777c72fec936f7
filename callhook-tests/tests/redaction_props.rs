//! One redaction rule behind every view (issue 19), as a property: for
//! every example configuration (`examples/configs/*.json`), a random secret
//! of 24 to 40 letters and digits is put in every secret place (auth
//! credentials, a service's own or a named entry's, header or query key,
//! signing secrets, headers and pairs the rule names, pairs
//! marked `"secret": true` and their maps, secret query parameters, the
//! call's values of fields declared secret and headers and pairs made from
//! them), every request is rendered, dispatched, signed and stored, and
//! errors are made to happen where a secret stands (a value that fails its
//! type, a configuration with a secret in the wrong JSON type, a value that
//! cannot be placed). Every view (`Debug` of configurations, services, the
//! registry, pairs, outgoing requests, envelopes, stored requests and
//! errors, previews, debug records, webhook rows and bodies as configured,
//! error messages) is searched for the
//! secret as written and percent-, form-, JSON-, XML- and base64-encoded
//! (base64 at each of the three alignments): none may show.

use base64::Engine as _;
use callhook::{Call, CallData, Catalog, Config, Envelope, Event, Preview, Registry};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use serde_json::{json, Value as Json};

const CONFIGS: [(&str, &str, &str); 6] = [
    (
        "avanser",
        include_str!("../../examples/configs/avanser.json"),
        include_str!("../../examples/calls/avanser-call.json"),
    ),
    (
        "pbx",
        include_str!("../../examples/configs/pbx.json"),
        include_str!("../../examples/calls/pbx-call.json"),
    ),
    (
        "ringcx",
        include_str!("../../examples/configs/ringcx.json"),
        include_str!("../../examples/calls/ringcx-call.json"),
    ),
    (
        "schemes",
        include_str!("../../examples/configs/schemes.json"),
        include_str!("../../examples/calls/pbx-call.json"),
    ),
    (
        "signed",
        include_str!("../../examples/configs/signed.json"),
        include_str!("../../examples/calls/pbx-call.json"),
    ),
    (
        "voicehub",
        include_str!("../../examples/configs/voicehub.json"),
        include_str!("../../examples/calls/voicehub-call.json"),
    ),
];

/// A field declared secret and typed, so that a secret can fail its type.
const PIN: &str = "redaction_pin";

/// A field declared secret and known mid-call, so that realtime webhooks
/// may use it too: the one the added headers and pairs are made from.
const LINK: &str = "redaction_link";

fn at() -> DateTime<Utc> {
    "2024-12-02T21:11:37Z".parse().unwrap()
}

/// Every form the secret could take in a view: as written, percent- and
/// form-encoded, JSON- and XML-escaped, and the part of its base64 that
/// does not depend on the bytes around it, at each alignment.
fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![
        secret.to_owned(),
        percent_encode(secret),
        form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        serde_json::to_string(secret)
            .unwrap()
            .trim_matches('"')
            .to_owned(),
        secret
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;"),
    ];
    for offset in 0..3 {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(secret.as_bytes());
        let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
        // Whole groups of three bytes only, and none that holds a byte
        // before the secret.
        let end = bytes.len() / 3 * 4;
        let start = if offset == 0 { 0 } else { 4 };
        forms.push(encoded[start..end].to_owned());
        let url_safe = base64::engine::general_purpose::URL_SAFE.encode(&bytes);
        forms.push(url_safe[start..end].to_owned());
    }
    forms.sort();
    forms.dedup();
    forms
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A placeholder for `field` in the service's syntax.
fn placeholder(service: &Json, field: &str) -> String {
    if service["syntax"] == "brackets" {
        format!("[[{field}]]")
    } else {
        format!("#{field}#")
    }
}

/// The configuration with `secret` in every secret place, and the secret
/// fields its catalog has (declared and seed).
fn with_secrets(text: &str, secret: &str) -> (Config, Vec<String>) {
    let mut config: Json = serde_json::from_str(text).unwrap();
    config["fields"]
        .as_array_mut()
        .map(|fields| fields.len())
        .unwrap_or_else(|| {
            config["fields"] = json!([]);
            0
        });
    config["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": PIN, "type": "integer", "secret": true}));
    config["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": LINK, "type": "text", "secret": true, "mid_call": true}));
    let parsed: Config = serde_json::from_value(config.clone()).unwrap();
    let catalog = parsed.catalog(Catalog::standard().clone()).unwrap();
    let secret_fields: Vec<String> = catalog
        .iter()
        .filter(|f| f.is_secret() && f.name() != PIN)
        .map(|f| f.name().to_owned())
        .collect();
    let field = Some(LINK.to_owned());

    // A named entry holding the secret, for some services to use.
    config["auth_configs"] =
        json!({"shared": {"kind": "query_key", "param": "cred_q", "key": secret}});
    for (i, service) in config["services"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        let service_copy = service.clone();
        // Credentials: the service's own kind of auth, or Basic.
        let auth = &mut service["auth"];
        match auth["kind"].as_str() {
            Some("bearer") => auth["token"] = json!(secret),
            Some("api_key") => auth["key"] = json!(secret),
            Some("basic") => auth["password"] = json!(secret),
            // A Vonage-style signature is the `Authorization` header, so
            // the credentials go in another.
            _ if service_copy["signing"]["kind"] == "vonage" => {
                *auth = json!({"kind": "api_key", "header": "X-Api-Key", "key": secret});
            }
            // Else, in turn: Basic, a query key of the service's own, and
            // the named entry's query key.
            _ if i % 3 == 1 => {
                *auth = json!({"kind": "query_key", "param": "cred_p", "key": secret});
            }
            _ if i % 3 == 2 => *auth = json!({"kind": "named", "name": "shared"}),
            _ => *auth = json!({"kind": "basic", "username": "u", "password": secret}),
        }
        // Signing secrets.
        match service["signing"]["kind"].as_str() {
            Some("standard_webhooks") => {
                let key = base64::engine::general_purpose::STANDARD.encode(secret);
                service["signing"]["secrets"] = json!([format!("whsec_{key}")]);
            }
            Some("standard_webhooks_v1a") => {
                // The secret as written is the key's base64 text (letters
                // and digits are base64), filled to the 43 characters of
                // 32 bytes: a leaked key shows the secret itself.
                let fill = "A".repeat(43 - secret.len());
                service["signing"]["secrets"] = json!([format!("whsk_{secret}{fill}=")]);
            }
            Some("hmac") => service["signing"]["secrets"] = json!([secret]),
            Some("vonage") => service["signing"]["secret"] = json!(secret),
            Some("twilio") => service["signing"]["token"] = json!(secret),
            Some(other) => panic!("no secret place for signing kind `{other}`"),
            None => {}
        }
        // Headers the rule names, marked secret, and made from a secret
        // field.
        let headers = service
            .as_object_mut()
            .unwrap()
            .entry("headers")
            .or_insert(json!([]));
        let headers = headers.as_array_mut().unwrap();
        headers.push(json!({"key": "X-Api-Token", "value": secret}));
        headers.push(json!({"key": "X-Pass", "value": secret}));
        headers.push(json!({"key": "X-Crm-Ref", "value": secret, "secret": true}));
        if let Some(field) = &field {
            headers.push(json!({"key": "X-Rec", "value": placeholder(&service_copy, field)}));
        }
        // Secret query parameters: by the rule and by the service's choice.
        let url = service["url"].as_str().unwrap().to_owned();
        let joiner = if url.contains('?') { '&' } else { '?' };
        service["url"] = json!(format!("{url}{joiner}token={secret}&code={secret}"));
        service["secret_parameters"] = json!(["code"]);
        // Pairs, where the body has them (a `GET`'s go to the query).
        let body = &mut service["body"];
        let pairs = if body["kind"] == "soap" {
            body["parameters"].as_array_mut()
        } else if body.get("template").is_none() {
            body["pairs"].as_array_mut()
        } else {
            None
        };
        if let Some(pairs) = pairs {
            pairs.push(json!({"key": "password", "value": secret}));
            pairs.push(json!({"key": "crm_ref", "value": secret, "secret": true}));
            if let Some(field) = &field {
                let value = placeholder(&service_copy, field);
                pairs.push(json!({"key": "rec", "value": value}));
                pairs.push(json!({"key": "rec_kind", "value": value, "secret": true,
                                  "map": {secret: secret}}));
            }
        }
        service["debug"] = json!(true);
    }
    (serde_json::from_value(config).unwrap(), secret_fields)
}

/// The call, with `value` for every secret field, in the call and in each
/// segment, and every scope a webhook subscribes to.
fn call_with(text: &str, config: &Config, fields: &[String], value: &str) -> Call {
    let catalog = config.catalog(Catalog::standard().clone()).unwrap();
    let mut call = Call::from_json_in(text, &catalog).unwrap();
    for field in fields {
        call.data.insert(field.as_str(), value);
        for segment in &mut call.segments {
            segment.insert(field.as_str(), value);
        }
    }
    call.scopes = config
        .webhooks
        .iter()
        .flat_map(|w| w.scopes.iter().cloned())
        .collect();
    call
}

/// Every view of the configuration, its services and its dispatches.
fn views(name: &str, text: &str, call_text: &str, secret: &str, number: &str) -> Vec<String> {
    let mut shown = Vec::new();
    let (config, fields) = with_secrets(text, secret);
    shown.push(format!("{config:?}"));
    shown.push(format!("{config:#?}"));
    let registry = Registry::from_config(&config, Catalog::standard().clone())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    shown.push(format!("{registry:?}"));
    let rows = registry.webhooks();
    shown.push(format!("{rows:?}"));
    for row in &rows {
        shown.extend(registry.webhook_body(&row.id));
    }
    for service in &config.services {
        shown.push(format!("{service:?}"));
        for pair in service.headers.iter() {
            shown.push(format!("{pair:?}"));
        }
        shown.push(format!("{:?}", service.body));
    }

    let call = call_with(call_text, &config, &fields, secret);
    shown.push(format!("{call:?}"));
    for service in registry.services() {
        shown.push(format!("{service:?}"));
        shown.push(service.body_text());
        let request = service.request(&call.data).unwrap();
        shown.push(Preview::of(service.id(), &request, false).to_http());
        let preview = service.preview(&call.data, false).unwrap();
        shown.extend([
            preview.to_http(),
            preview.to_json_line(),
            format!("{preview:?}"),
        ]);
        if let Some(record) = service.debug_record(&call.data) {
            shown.extend([record.to_http(), record.to_json_line()]);
        }
    }

    for spec in registry.catalog().events() {
        let event = Event::named(&spec.name);
        let (dispatched, previews) = if spec.realtime {
            (
                registry.status_update(event.clone(), &call, "ringing", 1, at()),
                registry.preview_status_update(event.clone(), &call, "ringing", 1, at()),
            )
        } else {
            (
                registry.dispatch(event.clone(), &call, at()),
                registry.preview(event.clone(), &call, at()),
            )
        };
        assert!(
            dispatched.errors.is_empty(),
            "{name}: {:?}",
            dispatched.errors
        );
        shown.push(format!("{dispatched:?}"));
        for (_, preview) in previews {
            let preview = preview.unwrap();
            shown.extend([preview.to_http(), preview.to_json_line()]);
        }
        for mut outgoing in dispatched.requests {
            for _ in 0..2 {
                let envelope = Envelope::new(&outgoing, at());
                let preview = outgoing.preview(false);
                shown.extend([
                    format!("{outgoing:?}"),
                    format!("{outgoing:#?}"),
                    preview.to_http(),
                    preview.to_json_line(),
                    format!("{envelope:?}"),
                    format!("{:?}", envelope.request),
                    format!("{:?}", envelope.to_outgoing()),
                ]);
                if let Some(record) = &outgoing.debug {
                    shown.extend([record.to_http(), record.to_json_line()]);
                }
                // And once more, signed.
                registry.sign(&mut outgoing, at()).unwrap();
            }
        }
    }

    // Errors where a secret stands. A value of a secret field that fails
    // its type, in the call's data and in a segment's:
    let catalog = config.catalog(Catalog::standard().clone()).unwrap();
    for data in [json!({ PIN: secret }), json!({ PIN: format!("{number}x") })] {
        let err = CallData::from_json_in(&data.to_string(), &catalog).unwrap_err();
        shown.extend([err.to_string(), format!("{err:?}")]);
        let err = CallData::from_serialize_in(&data, &catalog).unwrap_err();
        shown.extend([err.to_string(), format!("{err:?}")]);
        let segments = json!({"id": "c", "data": {}, "segments": [data]}).to_string();
        let err = Call::from_json_in(&segments, &catalog).unwrap_err();
        shown.extend([err.to_string(), format!("{err:?}")]);
    }
    // A value of a secret field that cannot be placed (a line break in a
    // header made from it):
    if !fields.is_empty() {
        let broken = call_with(call_text, &config, &fields, &format!("{secret}\r\nX-Y: z"));
        for service in registry.services() {
            for result in [
                service.request(&broken.data).map(|_| ()),
                service.preview(&broken.data, false).map(|_| ()),
            ] {
                let err = result.unwrap_err();
                shown.extend([err.to_string(), format!("{err:?}")]);
            }
        }
        for spec in registry.catalog().events().filter(|s| !s.realtime) {
            let dispatched = registry.dispatch(Event::named(&spec.name), &broken, at());
            shown.push(format!("{:?}", dispatched.errors));
            for (_, err) in &dispatched.errors {
                shown.push(err.to_string());
            }
        }
    }
    // A configuration with a secret where it does not fit: a number, a
    // list, an object, under a header or pair the rule names or one marked
    // secret, and in a secret pair's map; and a secret pair that does not
    // compile.
    let mut bad: Json = serde_json::from_str(text).unwrap();
    for value in [
        json!(number.parse::<u64>().unwrap()),
        json!([secret]),
        json!({ secret: 1 }),
    ] {
        for pair in [
            json!({"key": "X-Api-Token", "value": value}),
            json!({"key": "X-Pass", "value": value}),
            json!({"key": "ref", "value": value, "secret": true}),
            json!({"key": "ref", "value": "x", "secret": true, "map": {"a": value}}),
        ] {
            bad["services"][0]["headers"] = json!([pair]);
            let err = Config::from_json(&bad.to_string()).unwrap_err();
            shown.extend([err.to_string(), format!("{err:?}")]);
        }
    }
    let unknown = placeholder(&bad["services"][0], "no_such_field_here");
    bad["services"][0]["lenient"] = json!(false);
    bad["services"][0]["headers"] =
        json!([{"key": "password", "value": format!("{secret}{unknown}")}]);
    let err = Registry::from_config(
        &serde_json::from_value(bad).unwrap(),
        Catalog::standard().clone(),
    )
    .unwrap_err();
    shown.extend([err.to_string(), format!("{err:?}")]);
    shown
}

fn check(secret: &str, number: &str) {
    let forms: Vec<String> = forms(secret).into_iter().chain(forms(number)).collect();
    for (name, text, call) in CONFIGS {
        for view in views(name, text, call, secret, number) {
            for form in &forms {
                assert!(
                    !view.contains(form.as_str()),
                    "{name}: `{form}` (of `{secret}` or `{number}`) shows in:\n{view}"
                );
            }
        }
    }
}

#[test]
fn the_forms_searched_are_the_ones_written() {
    let found = forms("ab<c&");
    for form in ["ab<c&", "ab%3Cc%26", "ab&lt;c&amp;", "YWI8"] {
        assert!(found.iter().any(|f| f == form), "{form}: {found:?}");
    }
    // Basic credentials hold the secret at an offset: `u:` is two bytes.
    let header = base64::engine::general_purpose::STANDARD.encode("u:S3cr3tS3cr3tS3cr3t");
    assert!(forms("S3cr3tS3cr3tS3cr3t")
        .iter()
        .any(|f| header.contains(f.as_str())));
}

/// One fixed secret, so that a failure here reads plainly.
#[test]
fn a_fixed_secret_shows_in_no_view() {
    check("Zq7LeakedSecret94xWvB3nT8k", "987654321987654321");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn random_secrets_show_in_no_view(
        secret in "[A-Za-z0-9]{24,40}",
        number in "[1-9][0-9]{17}",
    ) {
        check(&secret, &number);
    }
}

/// Every debug record of `name`'s configuration (as [`with_secrets`] makes
/// it), each service given the
/// `debug` flag and its own URL again as a fallback URL, for the call with
/// `value` in every field the catalog marks personal (issue 22): those a
/// service keeps for itself (`Service::debug_record`) and those dispatch
/// makes (`Outgoing::debug`), for every event; and the previews for a
/// person of the same dispatches, which keep personal fields.
fn debug_records(name: &str, text: &str, call_text: &str, value: &str) -> (Vec<String>, String) {
    // The configuration as the secrets' property makes it, its secret
    // references resolved.
    let (mut config, _) = with_secrets(text, "Zq7LeakedSecret94xWvB3nT8k");
    for service in &mut config.services {
        service.debug = true;
        service.fallback_urls = vec![service.url.clone()];
    }
    let registry = Registry::from_config(&config, Catalog::standard().clone())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let catalog = config.catalog(Catalog::standard().clone()).unwrap();
    let personal: Vec<String> = catalog
        .iter()
        .filter(|f| f.is_personal())
        .map(|f| f.name().to_owned())
        .collect();
    let call = call_with(call_text, &config, &personal, value);
    let mut records = Vec::new();
    let mut previews = String::new();
    for service in registry.services() {
        if let Some(record) = service.debug_record(&call.data) {
            records.extend([
                record.to_http(),
                record.to_json_line(),
                format!("{record:?}"),
            ]);
        }
    }
    for spec in registry.catalog().events() {
        let event = Event::named(&spec.name);
        let (dispatched, shown) = if spec.realtime {
            (
                registry.status_update(event.clone(), &call, "ringing", 1, at()),
                registry.preview_status_update(event, &call, "ringing", 1, at()),
            )
        } else {
            (
                registry.dispatch(event.clone(), &call, at()),
                registry.preview(event, &call, at()),
            )
        };
        assert!(
            dispatched.errors.is_empty(),
            "{name}: {:?}",
            dispatched.errors
        );
        for outgoing in &dispatched.requests {
            let record = outgoing
                .debug
                .as_ref()
                .expect("every service keeps records");
            assert_eq!(record.fallbacks.len(), 1, "{name}");
            records.extend([
                record.to_http(),
                record.to_json_line(),
                format!("{record:?}"),
            ]);
        }
        for (_, preview) in shown {
            previews.push_str(&preview.unwrap().to_http());
        }
    }
    (records, previews)
}

fn check_personal(value: &str) {
    let forms = forms(value);
    let mut previewed = 0;
    for (name, text, call) in CONFIGS {
        let (records, previews) = debug_records(name, text, call, value);
        assert!(!records.is_empty(), "{name}: no debug record made");
        for record in records {
            for form in &forms {
                assert!(
                    !record.contains(form.as_str()),
                    "{name}: `{form}` (of the personal `{value}`) shows in:\n{record}"
                );
            }
        }
        previewed += usize::from(previews.contains(value));
    }
    // The configurations do send personal fields: a preview for a person
    // shows them, so the records had them to redact.
    assert!(
        previewed >= 3,
        "personal fields previewed in {previewed} configurations"
    );
}

/// One fixed personal value, so that a failure here reads plainly.
#[test]
fn a_fixed_personal_value_shows_in_no_debug_record() {
    check_personal("Pers0nalCallerNumber5550100");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn random_personal_values_show_in_no_debug_record(value in "[A-Za-z0-9]{24,40}") {
        check_personal(&value);
    }
}
