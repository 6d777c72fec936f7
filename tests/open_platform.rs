//! A platform that is none of the seeds: `examples/configs/voicehub.json`
//! declares its own fields and events on top of the PBX preset, subscribes a
//! webhook to every scope, and takes its CRM token by reference. Its sample
//! call is `examples/calls/voicehub-call.json`; the expected requests are in
//! `tests/fixtures/voicehub/`, byte for byte.

use callhook::{Call, Catalog, Config, ErrorKind, Event, Preview, Registry, Request, REDACTED};
use chrono::{DateTime, Utc};

const CONFIG: &str = include_str!("../examples/configs/voicehub.json");
const CALL: &str = include_str!("../examples/calls/voicehub-call.json");
const TOKEN: &str = "demo-token";

fn config() -> Config {
    let mut config = Config::from_json(CONFIG).unwrap();
    config
        .resolve_secrets(|name| (name == "VOICEHUB_CRM_TOKEN").then(|| TOKEN.to_owned()))
        .unwrap();
    config
}

mod common;

fn registry() -> Registry {
    common::load(&config()).unwrap()
}

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_600_000, 0).unwrap()
}

/// The request in the golden files' one HTTP format, the seed services'
/// too: `Preview::to_http` with secrets shown.
fn http_text(request: &Request) -> String {
    Preview::of("voicehub", request, true).to_http()
}

#[test]
fn a_declared_final_event_fires_every_scope_webhook() {
    let registry = registry();
    let call = Call::from_json_in(CALL, registry.catalog()).unwrap();
    let mut sent = registry.dispatch(Event::named("Voicemail Left"), &call, at());
    assert!(sent.errors.is_empty(), "{:?}", sent.errors);
    assert_eq!(sent.requests.len(), 1);
    let mut outgoing = sent.requests.remove(0);
    // The golden file is the request sent: its credential is added then.
    registry.sign(&mut outgoing, at()).unwrap();
    common::assert_golden(
        "tests/fixtures/voicehub/voicemail-left.http",
        &http_text(&outgoing.request),
    );

    // The voicemail link is a secret field, the token a secret: neither is
    // in the debug record.
    let record = outgoing.debug.unwrap().to_http();
    assert!(!record.contains("Zm9vYmFy"), "{record}");
    assert!(!record.contains(TOKEN), "{record}");
    assert!(
        record.contains(&format!("\"audio\":\"{REDACTED}\"")),
        "{record}"
    );
}

#[test]
fn a_declared_realtime_event_sends_status_updates() {
    let registry = registry();
    let call = Call::from_json_in(CALL, registry.catalog()).unwrap();
    let queued = Event::named("Call Queued");
    let sent = registry.status_update(queued.clone(), &call, "waiting", 1, at());
    assert!(sent.errors.is_empty(), "{:?}", sent.errors);
    common::assert_golden(
        "tests/fixtures/voicehub/call-queued.http",
        &http_text(&sent.requests[0].request),
    );
    // A call in another tenant is not subscribed.
    let mut other = call.clone();
    other.scopes = vec!["tenant:globex".into()];
    assert!(registry
        .status_update(queued, &other, "waiting", 1, at())
        .requests
        .is_empty());
}

#[test]
fn the_configuration_alone_round_trips_with_its_catalog() {
    let registry = registry();
    let stored = serde_json::to_string(&registry).unwrap();
    assert!(
        stored.contains("\"secret_ref\":\"VOICEHUB_CRM_TOKEN\""),
        "{stored}"
    );
    assert!(!stored.contains(TOKEN));
    let mut back: Config = serde_json::from_str(&stored).unwrap();
    back.resolve_secrets(|_| Some(TOKEN.to_owned())).unwrap();
    let again = Registry::from_config(&back, Catalog::standard().clone()).unwrap();
    assert_eq!(again, registry);
    assert!(again.catalog().get("billsec").is_some());
    // The PBX preset: its fields, and none of RingCX's.
    assert!(again.catalog().get("uuid").is_some());
    assert!(again.catalog().get("agent_id").is_none());
}

#[test]
fn unknown_events_and_unresolved_secrets_are_named() {
    let typo = CONFIG.replacen(
        "\"event\": \"Voicemail Left\"",
        "\"event\": \"Voicemail Lft\"",
        1,
    );
    let mut config = Config::from_json(&typo).unwrap();
    config.resolve_secrets(|_| Some(TOKEN.to_owned())).unwrap();
    let err = Registry::from_config(&config, Catalog::standard().clone()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownEvent, "{err}");
    assert_eq!(err.suggestion(), Some("Voicemail Left"));
    assert_eq!(err.field(), Some("webhooks.0.event"));

    let mut unresolved = Config::from_json(CONFIG).unwrap();
    let err = unresolved.resolve_secrets(|_| None).unwrap_err();
    assert!(err.message().contains("VOICEHUB_CRM_TOKEN"), "{err}");
    let err = Registry::from_config(&unresolved, Catalog::standard().clone()).unwrap_err();
    assert!(err.to_string().contains("not resolved"), "{err}");
}

#[test]
fn realtime_webhooks_may_use_fields_known_mid_call_only() {
    let mut config = config();
    // The queue board, bound to the realtime event, may send the PBX's
    // `uuid`, known from the first ring...
    Registry::from_config(&config, Catalog::standard().clone()).unwrap();
    // ...but not the billed seconds, known when the call ends.
    config.services[1].url = "https://board.example.com/queues/#queue#/#billsec#".into();
    let err = Registry::from_config(&config, Catalog::standard().clone()).unwrap_err();
    assert!(
        err.to_string()
            .contains("uses field `billsec`, which is not known mid-call"),
        "{err}"
    );
}

#[test]
fn presets_narrow_and_are_checked() {
    let mut config = config();
    config.preset = vec!["ringcx".into()];
    let err = Registry::from_config(&config, Catalog::standard().clone()).unwrap_err();
    // The PBX's `uuid` is not a RingCX field.
    assert!(err.to_string().contains("unknown field `uuid`"), "{err}");
    config.preset = vec!["pdx".into()];
    let err = Registry::from_config(&config, Catalog::standard().clone()).unwrap_err();
    assert_eq!(err.suggestion(), Some("pbx"));
    assert_eq!(err.field(), Some("preset"));
}
