//! Credentials applied at send time (issue 21): named auth entries shared
//! by services and rotated in one edit, query keys secret in every view and
//! never stored, the nearest name for a misspelt entry, and the rule of a
//! refused OAuth2 token.

use callhook::{
    Call, Catalog, Config, Decision, Envelope, ErrorKind, Event, GiveUp, Outcome, Outgoing,
    Prepared, Registry, TokenCache, REDACTED,
};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

mod common;

const CRM: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a01";
const BILLING: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a02";
const KEY: &str = "k3y-0ld-S3CRET";
const ROTATED: &str = "k3y-n3w-S3CRET";

fn at() -> DateTime<Utc> {
    "2024-12-02T21:11:37Z".parse().unwrap()
}

fn webhook(i: u32, service: &str) -> Value {
    json!({
        "id": format!("7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5{i:02}"), "event": "Call:Hangup",
        "service": service, "scopes": ["*"], "created_at": format!("2024-12-01T00:00:{i:02}Z"),
    })
}

fn service(id: &str, url: &str, auth: Value) -> Value {
    json!({
        "id": id, "name": "s", "method": "POST", "url": url,
        "body": {"kind": "form", "pairs": [{"key": "uuid", "value": "#uuid#"}]},
        "auth": auth,
    })
}

/// Two services using the entry `crm`, a query key by default.
fn config(entry: Value) -> Config {
    serde_json::from_value(json!({
        "auth_configs": {"crm": entry},
        "services": [
            service(CRM, "https://crm.example.com/calls?src=pbx", json!({"kind": "named", "name": "crm"})),
            service(BILLING, "https://billing.example.com/calls", json!({"kind": "named", "name": "crm"})),
        ],
        "webhooks": [webhook(1, CRM), webhook(2, BILLING)],
    }))
    .unwrap()
}

fn query_key(key: &str) -> Value {
    json!({"kind": "query_key", "param": "api_key", "key": key})
}

fn call() -> Call {
    Call::from_json(include_str!("../examples/calls/pbx-call.json")).unwrap()
}

fn dispatched(registry: &Registry) -> Vec<Outgoing> {
    let dispatch = registry.dispatch(Event::CallHangup, &call(), at());
    assert!(dispatch.errors.is_empty(), "{:?}", dispatch.errors);
    dispatch.requests
}

/// The error and every problem it gathers.
fn problems(err: &callhook::Error) -> impl Iterator<Item = &callhook::Error> {
    std::iter::once(err).chain(err.related())
}

fn prepared(registry: &Registry, outgoing: &mut Outgoing) {
    match registry.prepare(outgoing, at(), &TokenCache::default()) {
        Ok(Prepared::Ready) => {}
        other => panic!("not ready: {other:?}"),
    }
}

#[test]
fn a_named_entry_is_shared_by_the_services_using_it() {
    let registry = common::load(&config(query_key(KEY))).unwrap();
    let mut sent = dispatched(&registry);
    assert_eq!(sent.len(), 2);
    for outgoing in &mut sent {
        // Dispatch adds no credential; preparing for the attempt does.
        assert!(!outgoing.request.uri().to_string().contains("api_key"));
        prepared(&registry, outgoing);
    }
    assert_eq!(
        sent[0].request.uri(),
        &format!("https://crm.example.com/calls?src=pbx&api_key={KEY}")[..]
    );
    assert_eq!(
        sent[1].request.uri(),
        &format!("https://billing.example.com/calls?api_key={KEY}")[..]
    );
    // Prepared again (a retry), the key is replaced, never added twice.
    prepared(&registry, &mut sent[0]);
    assert_eq!(
        sent[0].request.uri().query(),
        Some(&format!("src=pbx&api_key={KEY}")[..])
    );
}

#[test]
fn a_rotated_entry_reaches_a_queued_delivery() {
    let registry = common::load(&config(json!({"kind": "bearer", "token": KEY}))).unwrap();
    let queued: Vec<String> = dispatched(&registry)
        .iter()
        .map(|outgoing| Envelope::new(outgoing, at()).to_json())
        .collect();
    for stored in &queued {
        assert!(!stored.contains(KEY), "{stored}");
    }
    // The host rotates the token: one edit of one entry, reloaded.
    let rotated = registry
        .reload(
            &config(json!({"kind": "bearer", "token": ROTATED})),
            Catalog::standard().clone(),
        )
        .unwrap();
    assert_eq!(rotated.changed_auth_configs(&registry), ["crm"]);
    assert!(registry.changed_auth_configs(&registry).is_empty());
    for stored in &queued {
        let mut outgoing = Envelope::from_json(stored)
            .unwrap()
            .into_outgoing()
            .unwrap();
        rotated.sign(&mut outgoing, at()).unwrap();
        let header = &outgoing.request.headers()["authorization"];
        assert_eq!(header, &format!("Bearer {ROTATED}")[..]);
        assert!(header.is_sensitive());
    }
    // The edit API does the same without a reload.
    let mut edited = registry.clone();
    edited
        .set_auth_config(
            "crm",
            serde_json::from_value(json!({"kind": "bearer", "token": ROTATED})).unwrap(),
        )
        .unwrap();
    let mut outgoing = Envelope::from_json(&queued[0])
        .unwrap()
        .into_outgoing()
        .unwrap();
    edited.sign(&mut outgoing, at()).unwrap();
    assert_eq!(
        outgoing.request.headers()["authorization"],
        &format!("Bearer {ROTATED}")[..]
    );
    assert_eq!(edited.changed_auth_configs(&registry), ["crm"]);
}

#[test]
fn a_query_key_is_secret_in_every_view_and_never_stored() {
    let registry = common::load(&config(query_key(KEY))).unwrap();
    let mut outgoing = dispatched(&registry).remove(0);
    prepared(&registry, &mut outgoing);
    assert!(outgoing.request.uri().to_string().contains(KEY));
    let envelope = Envelope::new(&outgoing, at());
    for shown in [
        format!("{outgoing:?}"),
        outgoing.preview(false).to_http(),
        outgoing.preview(false).to_json_line(),
        format!("{envelope:?}"),
        envelope.to_json(),
        serde_json::to_string(&envelope).unwrap(),
    ] {
        assert!(!shown.contains(KEY), "{shown}");
    }
    // Stored without the key, the next attempt adds it again.
    assert_eq!(
        envelope.request.url,
        "https://crm.example.com/calls?src=pbx"
    );
    let mut retry = envelope.to_outgoing().unwrap();
    prepared(&registry, &mut retry);
    assert_eq!(retry.request.uri(), outgoing.request.uri());

    // A service's own query key shows in its preview, redacted, whatever
    // the parameter's name.
    let own: Config = serde_json::from_value(json!({
        "services": [service(CRM, "https://crm.example.com/calls",
            json!({"kind": "query_key", "param": "tenant", "key": KEY}))],
    }))
    .unwrap();
    let registry = common::load(&own).unwrap();
    let preview = registry
        .service(CRM)
        .unwrap()
        .preview(&call().data, false)
        .unwrap();
    assert_eq!(
        preview.url,
        format!("https://crm.example.com/calls?tenant={REDACTED}")
    );
}

#[test]
fn a_url_signature_covers_the_query_key() {
    const TOKEN: &str = "f3a9c1e07b5d48a2c6e19b0d7f4a8e25";
    let config: Config = serde_json::from_value(json!({
        "services": [{
            "id": CRM, "name": "twilio", "method": "POST",
            "url": "https://legacy.example.com/voice/status?tenant=itd",
            "body": {"kind": "form", "pairs": [{"key": "CallSid", "value": "#uuid#"}]},
            "auth": {"kind": "query_key", "param": "key", "key": KEY},
            "signing": {"kind": "twilio", "token": TOKEN},
        }],
        "webhooks": [webhook(1, CRM)],
    }))
    .unwrap();
    let registry = common::load(&config).unwrap();
    let mut outgoing = dispatched(&registry).remove(0);
    prepared(&registry, &mut outgoing);
    let request = &outgoing.request;
    let url = request.uri().to_string();
    assert!(url.ends_with(&format!("&key={KEY}")), "{url}");
    let params: Vec<(String, String)> = form_urlencoded::parse(request.body())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let signature = request.headers()["x-twilio-signature"].to_str().unwrap();
    callhook::signing::verify_twilio(TOKEN, &url, &params, request.body(), signature).unwrap();
    let without = url.replace(&format!("&key={KEY}"), "");
    assert!(
        callhook::signing::verify_twilio(TOKEN, &without, &params, request.body(), signature)
            .is_err()
    );
}

#[test]
fn a_misspelt_entry_is_refused_with_the_nearest_name() {
    let mut config = config(query_key(KEY));
    config.services[1].auth =
        serde_json::from_value(json!({"kind": "named", "name": "crmm"})).unwrap();
    let err = common::load(&config).unwrap_err();
    let problem = problems(&err)
        .find(|e| e.field() == Some("auth.name"))
        .unwrap_or_else(|| panic!("{err}"));
    assert_eq!(problem.suggestion(), Some("crm"), "{err}");
    assert_eq!(problem.service(), Some(BILLING), "{err}");
    assert!(err.to_string().contains("did you mean `crm`?"), "{err}");

    // A reload that removes an entry in use is refused; the old registry
    // stands.
    let registry = common::load(&config_with_entries(json!({"crm": query_key(KEY)}))).unwrap();
    let err = registry
        .reload(
            &config_with_entries(json!({"crm2": query_key(KEY)})),
            Catalog::standard().clone(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    assert!(err.to_string().contains("`crm`"), "{err}");
    let mut registry = registry;
    let err = registry.remove_auth_config("crm").unwrap_err();
    assert!(err.to_string().contains(CRM), "{err}");
    assert_eq!(
        registry.remove_auth_config("crn").unwrap_err().suggestion(),
        Some("crm")
    );
}

/// The configuration of [`config`]'s first service alone, with `entries`.
fn config_with_entries(entries: Value) -> Config {
    serde_json::from_value(json!({
        "auth_configs": entries,
        "services": [service(CRM, "https://crm.example.com/calls", json!({"kind": "named", "name": "crm"}))],
    }))
    .unwrap()
}

#[test]
fn every_problem_of_the_entries_is_reported_in_its_field() {
    let config: Config = serde_json::from_value(json!({
        "auth_configs": {
            "": {"kind": "bearer", "token": "t"},
            "loop": {"kind": "named", "name": "crm"},
            "ref": {"kind": "bearer", "token": {"secret_ref": "CRM_TOKEN"}},
            "header": {"kind": "api_key", "header": "content-type", "key": "k"},
            "query": {"kind": "query_key", "param": "src", "key": "k"},
        },
        "services": [service(CRM, "https://crm.example.com/calls?src=pbx",
            json!({"kind": "named", "name": "query"}))],
    }))
    .unwrap();
    let err = common::load(&config).unwrap_err();
    let fields: Vec<_> = problems(&err).filter_map(|e| e.field()).collect();
    for field in [
        "auth_configs.",
        "auth_configs.loop.kind",
        "auth_configs.ref.token",
        // The query key clashes with the service's own `src`.
        "auth",
    ] {
        assert!(fields.contains(&field), "{field} not in {fields:?}: {err}");
    }
    // A header no auth may carry is refused where the entry is used: here
    // by no service, so at the entry when a service uses it.
    let mut config = config;
    config.auth_configs.retain(|name, _| name == "header");
    config.services[0].auth =
        serde_json::from_value(json!({"kind": "named", "name": "header"})).unwrap();
    let err = common::load(&config).unwrap_err();
    assert!(
        problems(&err).any(|e| e.field() == Some("auth_configs.header.header")),
        "{err}"
    );

    // Secret references of entries resolve with the services'.
    let mut config = config_with_entries(
        json!({"crm": {"kind": "bearer", "token": {"secret_ref": "CRM_TOKEN"}}}),
    );
    let err = config.resolve_secrets(|_| None).unwrap_err();
    assert!(
        problems(&err).any(|e| e.field() == Some("auth_configs.crm.token")),
        "{err}"
    );
    config
        .resolve_secrets(|name| (name == "CRM_TOKEN").then(|| KEY.to_owned()))
        .unwrap();
    let registry = common::load(&config).unwrap();
    // Stored back, the reference stays one, and the entries round-trip.
    let stored = registry.to_config();
    assert_eq!(stored.auth_configs, config.auth_configs);
    let text = serde_json::to_string(&registry).unwrap();
    assert!(text.contains("CRM_TOKEN") && !text.contains(KEY), "{text}");
    assert_eq!(
        Config::from_json(&stored.to_json())
            .unwrap()
            .auth_configs
            .len(),
        1
    );
}

fn oauth2() -> Value {
    json!({
        "kind": "oauth2", "token_url": "https://auth.example.com/token",
        "grant": {"type": "client_credentials"}, "client_id": "callhook", "client_secret": "s3cr3t",
    })
}

#[test]
fn a_401_refreshes_an_oauth2_token_once() {
    let mut config = config_with_entries(json!({"crm": oauth2()}));
    config.webhooks = vec![serde_json::from_value(webhook(1, CRM)).unwrap()];
    let registry = common::load(&config).unwrap();
    let mut outgoing = dispatched(&registry).remove(0);
    // No token at hand: the token request comes first, and signing without
    // a cache is refused with a kind of its own.
    match registry
        .prepare(&mut outgoing, at(), &TokenCache::default())
        .unwrap()
    {
        Prepared::TokenNeeded(request) => assert_eq!(request.key(), "named:crm"),
        other => panic!("{other:?}"),
    }
    let err = registry.sign(&mut outgoing, at()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenNeeded, "{err}");
    assert_eq!(registry.token_key(CRM).as_deref(), Some("named:crm"));

    let mut envelope = Envelope::new(&outgoing, at());
    let mut state = callhook::DeliveryState::default();
    let headers = http::HeaderMap::new();
    let refused = || Outcome::response(http::StatusCode::UNAUTHORIZED, &headers);
    let decision = envelope
        .record_in(&registry, refused(), at(), &mut state)
        .unwrap();
    assert_eq!(decision, Decision::Retry { at: at() });
    assert!(envelope.token_refreshed);
    assert_eq!(envelope.attempt, 1);
    // Stored and read back, the refresh is remembered: the second 401
    // gives up.
    let mut envelope = Envelope::from_json(&envelope.to_json()).unwrap();
    let decision = envelope
        .record_in(&registry, refused(), at(), &mut state)
        .unwrap();
    assert_eq!(decision, Decision::GiveUp(GiveUp::Unauthorized));
}

#[test]
fn a_401_without_oauth2_gives_up() {
    let registry = common::load(&config(json!({"kind": "bearer", "token": KEY}))).unwrap();
    let outgoing = dispatched(&registry).remove(0);
    let mut envelope = Envelope::new(&outgoing, at());
    let headers = http::HeaderMap::new();
    let outcome = Outcome::response(http::StatusCode::UNAUTHORIZED, &headers);
    let decision = envelope
        .record_in(&registry, outcome, at(), &mut Default::default())
        .unwrap();
    assert_eq!(decision, Decision::GiveUp(GiveUp::Unauthorized));
    assert!(!envelope.token_refreshed);
    // An envelope with no refresh writes nothing new: stored envelopes of
    // earlier versions read as before.
    assert!(!envelope.to_json().contains("token_refreshed"));
}

#[test]
fn an_edit_of_an_entry_is_checked_against_the_services_using_it() {
    let mut registry = common::load(&config(query_key(KEY))).unwrap();
    let before = registry.clone();
    // The CRM service's URL has its own `src`: a key there would drop it.
    let clash = json!({"kind": "query_key", "param": "src", "key": KEY});
    let err = registry
        .set_auth_config("crm", serde_json::from_value(clash).unwrap())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    assert!(problems(&err).any(|e| e.service() == Some(CRM)), "{err}");
    assert!(!err.to_string().contains(KEY), "{err}");
    assert_eq!(registry, before, "nothing changed");
    // An entry no service uses can be removed; one named like nothing
    // but an entry is refused.
    registry
        .set_auth_config(
            "spare",
            serde_json::from_value(json!({"kind": "none"})).unwrap(),
        )
        .unwrap();
    assert_eq!(registry.changed_auth_configs(&before), ["spare"]);
    registry.remove_auth_config("spare").unwrap();
    assert!(registry
        .set_auth_config(
            "loop",
            serde_json::from_value(json!({"kind": "named", "name": "crm"})).unwrap()
        )
        .is_err());
}
