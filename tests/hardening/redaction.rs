//! One redaction rule behind every view: Debug, previews, debug records and the Display of every error never show a secret.
//!
//! Part of `tests/hardening.rs` (issue 19, second hardening round); the
//! helpers `service`, `config`, `load` and `call` come from there.

#[allow(unused_imports)]
use super::*;

use callhook::{Pair, Preview};

/// A secret as the tests write it: long, random-looking, and found in any
/// output only if it leaked.
const LEAK: &str = "Zq7LeakedSecret94xW";

/// Every view of a dispatched request that carries no call data: `Debug`
/// of the `Outgoing`, of its `Envelope` and of the stored request, and the
/// outgoing request's own preview, both as HTTP and as a JSON line.
fn outgoing_views(outgoing: &callhook::Outgoing) -> Vec<String> {
    let envelope = Envelope::new(outgoing, t("2024-12-02T21:11:37Z"));
    let preview = outgoing.preview(false);
    vec![
        format!("{outgoing:?}"),
        format!("{outgoing:#?}"),
        format!("{envelope:?}"),
        format!("{:?}", envelope.request),
        preview.to_http(),
        preview.to_json_line(),
        format!("{preview:?}"),
    ]
}

fn assert_hidden(views: &[String], secret: &str) {
    for view in views {
        assert!(!view.contains(secret), "`{secret}` shows in:\n{view}");
    }
}

/// Guards the voicehub finding: a field declared `"secret": true` (a signed
/// voicemail link) rendered into a body never shows in `Debug` of the
/// `Outgoing` or `Envelope`, nor in `Outgoing::preview`, which have no
/// call data to redact it with and so show no body bytes at all.
#[test]
fn secret_fields_stay_out_of_outgoing_and_envelope_views() {
    let mut config =
        Config::from_json(include_str!("../../examples/configs/voicehub.json")).unwrap();
    config
        .resolve_secrets(|_| Some("t0k3n-for-the-crm".into()))
        .unwrap();
    let catalog = config.catalog(Catalog::standard().clone()).unwrap();
    let registry = Registry::from_config(&config, catalog.clone()).unwrap();
    let mut call = Call::from_json_in(
        include_str!("../../examples/calls/voicehub-call.json"),
        &catalog,
    )
    .unwrap();
    let link = format!("https://vm.example.com/v/1.mp3?sig={LEAK}");
    call.data.insert("voicemail_link", link.as_str());
    let dispatched = registry.dispatch(
        Event::named("Voicemail Left"),
        &call,
        t("2024-12-02T21:11:37Z"),
    );
    assert!(dispatched.errors.is_empty(), "{:?}", dispatched.errors);
    assert_eq!(dispatched.requests.len(), 1);
    let outgoing = &dispatched.requests[0];
    assert!(String::from_utf8_lossy(outgoing.request.body()).contains(LEAK));
    assert_hidden(&outgoing_views(outgoing), LEAK);
    // What the views show instead: the body's length and hash.
    let shown = format!("{outgoing:?}");
    assert!(
        shown.contains(&outgoing.request.body().len().to_string()),
        "{shown}"
    );
}

/// Guards the secret query parameters: those `secret_parameters` names and
/// a `GET`'s pairs marked secret are service knowledge that views without
/// the service cannot apply, so they show no query value at all.
#[test]
fn secret_query_parameters_stay_out_of_outgoing_and_envelope_views() {
    let registry = load(json!({
        "url": format!("https://crm.example.com/calls?code={LEAK}&src=pbx"),
        "secret_parameters": ["code"],
    }))
    .unwrap();
    let dispatched = registry.dispatch(Event::CallHangup, &call(), t("2024-12-02T21:11:37Z"));
    assert_hidden(&outgoing_views(&dispatched.requests[0]), LEAK);

    let registry = load(json!({
        "method": "GET",
        "body": {"kind": "form", "pairs": [
            {"key": "ani", "value": "#ani#"},
            {"key": "crm_ref", "value": LEAK, "secret": true},
        ]},
    }))
    .unwrap();
    let dispatched = registry.dispatch(Event::CallHangup, &call(), t("2024-12-02T21:11:37Z"));
    assert!(dispatched.requests[0]
        .request
        .uri()
        .to_string()
        .contains(LEAK));
    assert_hidden(&outgoing_views(&dispatched.requests[0]), LEAK);
}

/// Guards secret pairs in bodies: a pair marked `"secret": true` and one
/// the rule names (`password`) print as `[redacted]` in `Service::preview`,
/// in the debug record and in the record dispatch attaches, in every body
/// kind made of pairs.
#[test]
fn secret_body_pairs_stay_out_of_previews_and_debug_records() {
    let pairs = json!([
        {"key": "ani", "value": "#ani#"},
        {"key": "crm_ref", "value": format!("{LEAK}1"), "secret": true},
        {"key": "password", "value": format!("{LEAK}2")},
        {"key": "mapped", "value": "#ani#", "map": {"555": format!("{LEAK}3")}, "secret": true},
    ]);
    for body in [
        json!({"kind": "form", "pairs": pairs}),
        json!({"kind": "json", "pairs": pairs}),
        json!({"kind": "xml", "pairs": pairs}),
        json!({"kind": "soap", "namespace": "urn:x", "operation": "Op", "action": "urn:x/Op",
               "parameters": pairs}),
    ] {
        let registry = load(json!({"body": body, "debug": true})).unwrap();
        let service = registry.service(SERVICE).unwrap();
        let data = call().data;
        let sent = service.request(&data).unwrap();
        assert!(String::from_utf8_lossy(sent.body()).contains(LEAK));
        let preview = service.preview(&data, false).unwrap();
        let record = service.debug_record(&data).unwrap();
        let dispatched = registry.dispatch(Event::CallHangup, &call(), t("2024-12-02T21:11:37Z"));
        let attached = dispatched.requests[0].debug.clone().unwrap();
        let mut views = Vec::new();
        for p in [&preview, &record, &attached] {
            views.extend([p.to_http(), p.to_json_line(), format!("{p:?}")]);
        }
        assert_hidden(&views, LEAK);
        // `[redacted]` in the body's own encoding (`%5Bredacted%5D` in a
        // form).
        assert!(preview.body.contains("redacted"), "{}", preview.body);
        assert!(preview.body.contains("555"), "{}", preview.body);
        // Asked for, the secrets show.
        assert!(service.preview(&data, true).unwrap().body.contains(LEAK));
    }
}

/// Guards `Debug` of `Pair`: a secret pair's `map` holds what is sent in
/// place of a value, so it is redacted with the value.
#[test]
fn a_secret_pairs_map_stays_out_of_debug() {
    let mut pair = Pair::new("password", "#agent_disposition#");
    pair.map.insert("SALE".into(), LEAK.into());
    assert_hidden(&[format!("{pair:?}"), format!("{pair:#?}")], LEAK);
    let mut flagged = Pair::new("crm_ref", "#ani#");
    flagged.secret = Some(true);
    flagged.map.insert("555".into(), LEAK.into());
    assert_hidden(&[format!("{flagged:?}")], LEAK);
    // Not a secret: the map is shown, as it helps.
    let mut open = Pair::new("disposition", "#agent_disposition#");
    open.map.insert("SALE".into(), "Won".into());
    assert!(format!("{open:?}").contains("Won"));
}

/// Guards serde errors of configurations: a value standing where a secret
/// should (a header or pair the rule names, a pair marked secret, a map of
/// one), whatever its JSON type, is never echoed by the error.
#[test]
fn configuration_errors_never_echo_a_secret_whatever_its_type() {
    let number = "987654321987654321";
    let values = [
        number.to_owned(),
        format!("[\"{LEAK}\"]"),
        format!("{{\"{LEAK}\": 1}}"),
        format!("{number}.5"),
    ];
    for value in &values {
        for pair in [
            format!(r#"{{"key": "X-Api-Token", "value": {value}}}"#),
            format!(r#"{{"key": "X-Pass", "value": {value}}}"#),
            format!(r#"{{"key": "ref", "value": {value}, "secret": true}}"#),
            format!(r#"{{"key": "ref", "secret": true, "value": "x", "map": {{"a": {value}}}}}"#),
        ] {
            let text = format!(
                r#"{{"services": [{{"id": "{SERVICE}", "name": "s", "method": "POST",
                    "url": "https://crm.example.com/calls", "headers": [{pair}]}}]}}"#
            );
            let err = Config::from_json(&text).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(number), "{pair}: {shown}");
            assert!(!shown.contains(LEAK), "{pair}: {shown}");
        }
    }
    // A pair's string value that is refused for another reason is not
    // echoed either: `true` as a secret pair's value.
    let text = format!(
        r#"{{"services": [{{"id": "{SERVICE}", "name": "s", "method": "POST",
            "url": "https://crm.example.com/calls",
            "body": {{"kind": "form", "pairs": [{{"key": "password", "value": true}}]}}}}]}}"#
    );
    let err = Config::from_json(&text).unwrap_err();
    assert!(!err.to_string().contains("true"), "{err}");
}

/// Guards call-data errors: a value of a field declared secret that fails
/// its declared type is not echoed, read from JSON or from a `Serialize`
/// value, in the call or in a segment.
#[test]
fn call_data_errors_never_echo_a_secret_fields_value() {
    let config: Config = serde_json::from_value(json!({
        "fields": [
            {"name": "pin", "type": "integer", "secret": true},
            {"name": "pin_at", "type": "timestamp", "secret": true},
            {"name": "pin_for", "type": "duration", "secret": true},
            {"name": "pin_rate", "type": "decimal", "secret": true},
        ],
    }))
    .unwrap();
    let catalog = config.catalog(Catalog::standard().clone()).unwrap();
    for field in ["pin", "pin_at", "pin_for", "pin_rate"] {
        let data = json!({ field: LEAK }).to_string();
        let err = CallData::from_json_in(&data, &catalog).unwrap_err();
        assert_hidden(&[err.to_string(), format!("{err:?}")], LEAK);
        assert!(err.to_string().contains(field), "{err}");
        let err = CallData::from_serialize_in(&json!({ field: LEAK }), &catalog).unwrap_err();
        assert_hidden(&[err.to_string(), format!("{err:?}")], LEAK);
        let call = json!({"id": "c1", "data": {}, "segments": [{ field: LEAK }]}).to_string();
        let err = Call::from_json_in(&call, &catalog).unwrap_err();
        assert_hidden(&[err.to_string(), format!("{err:?}")], LEAK);
    }
    // A field that is not secret still shows what was wrong with it.
    let err = CallData::from_json(r#"{"duration": "soon"}"#).unwrap_err();
    assert!(err.to_string().contains("soon"), "{err}");
}

/// Guards the name rule: a header, pair or query parameter is secret when
/// a word of its name (split at `-`, `_`, `.` and lower-to-upper case) is
/// `pass`, `pwd`, `pin` or `sig`, not only when the whole name is: `X-Pass`,
/// `Pass-Code`, `X-Pin`, `user_pwd`, `X-Sig`, `userPass`.
#[test]
fn names_with_a_secret_word_are_secret_by_rule() {
    for name in [
        "X-Pass",
        "Pass-Code",
        "X-Pin",
        "user_pwd",
        "X-Sig",
        "userPass",
    ] {
        let registry = load(json!({
            "url": format!("https://crm.example.com/calls?{name}={LEAK}1"),
            "headers": [{"key": name, "value": format!("{LEAK}2")}],
            "body": {"kind": "form", "pairs": [{"key": name, "value": format!("{LEAK}3")}]},
            "debug": true,
        }))
        .unwrap();
        let service = registry.service(SERVICE).unwrap();
        let data = call().data;
        let preview = service.preview(&data, false).unwrap();
        let record = service.debug_record(&data).unwrap();
        assert_hidden(
            &[
                preview.to_http(),
                record.to_json_line(),
                format!("{service:?}"),
                format!("{registry:?}"),
            ],
            LEAK,
        );
    }
    // Words that merely contain one are not: `X-Passage`, `Spinner`,
    // `signal`, `position`.
    for name in ["X-Passage", "Spinner", "signal", "position"] {
        let registry = load(json!({"headers": [{"key": name, "value": "shown"}]})).unwrap();
        let preview = registry
            .service(SERVICE)
            .unwrap()
            .preview(&call().data, false)
            .unwrap();
        assert!(preview.to_http().contains("shown"), "{name}");
    }
}

/// Guards the preview's `content-length`: it is the length of the body
/// that is sent, not of the redacted body shown.
#[test]
fn previews_show_the_length_that_is_sent() {
    let registry = load(json!({
        "body": {"kind": "json", "pairs": [
            {"key": "ani", "value": "#ani#"},
            {"key": "rec", "value": "#recording_url#"},
            {"key": "password", "value": format!("{LEAK}{LEAK}")},
        ]},
        "debug": true,
    }))
    .unwrap();
    let service = registry.service(SERVICE).unwrap();
    let data = call().data.with(
        "recording_url",
        format!("https://r.example.com/{LEAK}{LEAK}{LEAK}"),
    );
    let sent = service.request(&data).unwrap();
    let length = sent.body().len().to_string();
    let length_of = |p: &Preview| {
        p.headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .map(|(_, value)| value.clone())
    };
    assert_eq!(
        length_of(&service.preview(&data, false).unwrap()).unwrap(),
        length
    );
    assert_eq!(
        length_of(&service.preview(&data, true).unwrap()).unwrap(),
        length
    );
    assert_eq!(
        length_of(&service.debug_record(&data).unwrap()).unwrap(),
        length
    );
}

/// Guards the body shown for a dispatch (`preview --event`): the registry
/// renders each request again from the call through the redacting lookup,
/// so the secret field, a value mapped from it, a secret pair and a secret
/// header read `[redacted]`, other values show, and the length is the one
/// sent; a webhook that cannot render is listed with its error.
#[test]
fn registry_previews_render_bodies_redacted_with_the_length_sent() {
    let mut mapped = json!({"key": "rec_kind", "value": "#recording_url#",
                            "map": {format!("https://r.example.com/{LEAK}"): "stored"}});
    mapped["secret"] = json!(false);
    let registry = load(json!({
        "body": {"kind": "json", "pairs": [
            {"key": "ani", "value": "#ani#"},
            {"key": "rec", "value": "#recording_url#"},
            mapped,
            {"key": "ref", "value": format!("{LEAK}2"), "secret": true},
        ]},
        "headers": [{"key": "X-Rec", "value": "#recording_url#"}],
    }))
    .unwrap();
    let mut call = call();
    call.data
        .insert("recording_url", format!("https://r.example.com/{LEAK}"));
    let at = t("2024-12-02T21:11:37Z");
    let sent = registry.dispatch(Event::CallHangup, &call, at).requests;
    let shown = registry.preview(Event::CallHangup, &call, at);
    assert_eq!(shown.len(), 1);
    let (webhook, preview) = &shown[0];
    assert_eq!(webhook, WEBHOOK);
    let preview = preview.as_ref().unwrap();
    assert_eq!(preview.delivery.as_deref(), Some(sent[0].delivery.as_str()));
    assert_hidden(
        &[
            preview.to_http(),
            preview.to_json_line(),
            format!("{preview:?}"),
        ],
        LEAK,
    );
    assert!(preview.body.contains("\"ani\":\"555\""), "{}", preview.body);
    let length = sent[0].request.body().len().to_string();
    assert!(
        preview
            .headers
            .contains(&("content-length".to_owned(), length)),
        "{:?}",
        preview.headers
    );
    // The header made from a secret field is sensitive where the call data
    // is gone, too.
    assert!(sent[0].request.headers()["x-rec"].is_sensitive());
    assert_hidden(&outgoing_views(&sent[0]), LEAK);

    // A realtime update is previewed as `status_update` makes it.
    let registry = load(json!({
        "body": {"kind": "form", "pairs": [{"key": "status", "value": "#status#"}]},
    }))
    .unwrap();
    let mut config = registry.to_config();
    config.webhooks[0].event = Event::CallStatusChange;
    let registry = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
    let shown = registry.preview_status_update(Event::CallStatusChange, &call, "ringing", 2, at);
    assert_eq!(shown[0].1.as_ref().unwrap().body, "status=ringing");
}

/// Guards the admin views of a configuration: the webhook rows' URL
/// (`Registry::webhooks`) and the body as configured (`Service::body_text`,
/// `Registry::webhook_body`) show secret query parameters and secret pairs
/// as `[redacted]`, as `Debug` of the configuration does.
#[test]
fn admin_views_of_a_configuration_redact_secrets() {
    for method in ["POST", "GET"] {
        let registry = load(json!({
            "method": method,
            "url": format!("https://crm.example.com/calls?code={LEAK}1&token={LEAK}2&src=pbx"),
            "secret_parameters": ["code"],
            "body": {"kind": "form", "pairs": [
                {"key": "ani", "value": "#ani#"},
                {"key": "crm_ref", "value": format!("{LEAK}3"), "secret": true},
                {"key": "password", "value": format!("{LEAK}4")},
            ]},
        }))
        .unwrap();
        let rows = registry.webhooks();
        let body = registry.webhook_body(WEBHOOK).unwrap();
        let text = registry.service(SERVICE).unwrap().body_text();
        assert_hidden(
            &[format!("{rows:?}"), rows[0].url.clone(), body, text.clone()],
            LEAK,
        );
        assert!(rows[0].url.contains("src=pbx"), "{}", rows[0].url);
        assert!(text.contains("ani=#ani#"), "{text}");
    }
}

/// Guards the one place views without call data cannot redact: a URL's
/// path, which they show whole (as logs and proxies do). A field declared
/// secret may stand in the query (its value is redacted there) or the
/// body, never in the path: refused at load, by any route into the path,
/// with the field named.
#[test]
fn secret_fields_cannot_stand_in_a_url_path() {
    let with_url = |url: &str| {
        let mut config =
            Config::from_json(include_str!("../../examples/configs/voicehub.json")).unwrap();
        config
            .resolve_secrets(|_| Some("t0k3n-for-the-crm".into()))
            .unwrap();
        config.services[0].url = url.into();
        let catalog = config.catalog(Catalog::standard().clone()).unwrap();
        Registry::from_config(&config, catalog)
    };
    for url in [
        "https://crm.example.com/v/#voicemail_link#",
        "https://crm.example.com/v/x#voicemail_link#y/z",
        "https://crm.example.com/#voicemail_link|default:none#/x?a=1",
    ] {
        let err = with_url(url).unwrap_err();
        let err = std::iter::once(&err)
            .chain(err.related())
            .find(|e| e.field() == Some("url"))
            .unwrap_or_else(|| panic!("{url}: {err}"))
            .clone();
        assert_eq!(err.kind(), ErrorKind::InvalidUrl, "{url}: {err}");
        assert!(err.message().contains("voicemail_link"), "{url}: {err}");
        assert!(err.message().contains("path"), "{url}: {err}");
        assert!(err.position().is_some(), "{url}: {err}");
    }
    // In the query, where views redact every value, it still loads.
    with_url("https://crm.example.com/v?link=#voicemail_link#").unwrap();
}
