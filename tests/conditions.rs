//! Conditions on webhooks, through the public API: the seed
//! configurations `examples/configs/ringcx-conditions.json` (a Post
//! Disposition webhook for sales and callbacks) and
//! `examples/configs/avanser-conditions.json` (a realtime webhook for
//! answered and completed calls) fire and do not fire as their conditions
//! say, with the exact requests in `tests/fixtures/conditions/`; explain
//! says which comparison kept a webhook from firing; problems are reported
//! at load, each at its place; and the format version written is the
//! lowest that holds the document.

mod common;

use callhook::{
    Call, Catalog, Condition, Config, ErrorKind, Event, Registry, Verdict, WebhookConfig,
};
use chrono::{DateTime, Utc};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn seed(name: &str) -> (Config, Registry) {
    let config =
        Config::from_json(&common::read_text(&format!("examples/configs/{name}.json"))).unwrap();
    let registry = common::load(&config).unwrap();
    (config, registry)
}

fn call(name: &str) -> Call {
    common::call(&common::read_text(&format!("examples/calls/{name}.json")))
}

fn golden(path: &str, request: &callhook::Request) {
    common::assert_golden(
        path,
        &String::from_utf8(common::http_text(request)).unwrap(),
    );
}

#[test]
fn ringcx_post_disposition_fires_only_for_sales_and_callbacks() {
    let (_, registry) = seed("ringcx-conditions");
    let when = at("2020-04-22T00:02:00Z");
    let sale = call("ringcx-call");
    let fired = registry.dispatch(Event::PostDisposition, &sale, when);
    assert!(fired.errors.is_empty(), "{:?}", fired.errors);
    assert_eq!(fired.requests.len(), 1);
    golden(
        "tests/fixtures/conditions/ringcx-sale.http",
        &fired.requests[0].request,
    );
    let callback = call("ringcx-transfer");
    assert_eq!(
        registry
            .dispatch(Event::PostDisposition, &callback, when)
            .requests
            .len(),
        1
    );

    let mut no_answer = sale.clone();
    no_answer.data = no_answer.data.with("agent_disposition", "NO ANSWER");
    let fired = registry.dispatch(Event::PostDisposition, &no_answer, when);
    assert!(fired.requests.is_empty() && fired.errors.is_empty());
    assert!(registry
        .preview(Event::PostDisposition, &no_answer, when)
        .is_empty());
    let explained = registry.explain(Event::PostDisposition, &no_answer, when);
    let Verdict::ConditionNotMet(unmet) = &explained[0].verdict else {
        panic!("{explained:?}");
    };
    assert_eq!(unmet.len(), 1);
    assert_eq!(unmet[0].path, "condition.in");
    assert_eq!(unmet[0].field, "agent_disposition");
    assert_eq!(unmet[0].value.as_deref(), Some("NO ANSWER"));
    assert_eq!(unmet[0].expected, r#"in ["SALE","CALLBACK"]"#);
    assert_eq!(
        registry.explain(Event::PostDisposition, &sale, when)[0].verdict,
        Verdict::Fires
    );

    // No disposition at all: `in` does not hold on a missing field.
    let mut undisposed = sale.clone();
    undisposed.data = callhook::CallData::new().with("agent_id", "1001");
    let explained = registry.explain(Event::PostDisposition, &undisposed, when);
    let Verdict::ConditionNotMet(unmet) = &explained[0].verdict else {
        panic!("{explained:?}");
    };
    assert_eq!(unmet[0].value, None);
}

#[test]
fn avanser_realtime_webhook_fires_only_on_answered_and_completed() {
    let (_, registry) = seed("avanser-conditions");
    let call = call("avanser-call");
    let when = at("2024-11-28T09:00:05Z");
    let statuses = [
        ("ringing", 1),
        ("answered", 2),
        ("on-hold", 3),
        ("completed", 4),
    ];
    let mut fired = Vec::new();
    for (status, sequence) in statuses {
        let dispatch = registry.status_change(&call, status, sequence, when);
        assert!(dispatch.errors.is_empty(), "{:?}", dispatch.errors);
        let explained =
            registry.explain_status_update(Event::CallStatusChange, &call, status, sequence, when);
        assert_eq!(
            explained[0].verdict == Verdict::Fires,
            !dispatch.requests.is_empty(),
            "{status}"
        );
        if let Verdict::ConditionNotMet(unmet) = &explained[0].verdict {
            assert_eq!(unmet[0].path, "condition.in");
            assert_eq!(unmet[0].value.as_deref(), Some(status));
        }
        fired.extend(dispatch.requests.into_iter().map(|o| (status, o)));
    }
    let statuses: Vec<&str> = fired.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, ["answered", "completed"]);
    golden(
        "tests/fixtures/conditions/avanser-answered.http",
        &fired[0].1.request,
    );
    golden(
        "tests/fixtures/conditions/avanser-completed.http",
        &fired[1].1.request,
    );
}

#[test]
fn problems_are_reported_at_load_each_at_its_place() {
    let (mut config, _) = seed("ringcx-conditions");
    config.webhooks[0].condition = Some(
        Condition::from_json(
            r#"{"all": [{"field": "agent_dispositon", "in": ["SALE"]},
                        {"field": "duration", "greater_than": "soon"},
                        {"field": "agent_id", "less_than": "5"}]}"#,
        )
        .unwrap(),
    );
    let e = Registry::from_config(&config, Catalog::standard().clone()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    let problems: Vec<(String, Option<String>)> = e
        .related()
        .iter()
        .map(|p| {
            (
                p.field().unwrap_or("").to_owned(),
                p.suggestion().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        problems,
        [
            (
                "webhooks.0.condition.all.0.field".to_owned(),
                Some("agent_disposition".to_owned())
            ),
            ("webhooks.0.condition.all.1.greater_than".to_owned(), None),
            ("webhooks.0.condition.all.2.less_than".to_owned(), None),
        ]
    );
    // The same through `add_webhook`, with the registry unchanged.
    let (_, mut registry) = seed("ringcx-conditions");
    let mut webhook = config.webhooks[0].clone();
    webhook.id = "9a1b2c3d-0001-4e5f-8a9b-0c1d2e3f4a99".into();
    assert!(registry.add_webhook(webhook.clone()).is_err());
    assert!(registry.webhook(&webhook.id).is_none());
}

#[test]
fn updates_and_removals_keep_the_compiled_condition_in_step() {
    let (config, mut registry) = seed("ringcx-conditions");
    let sale = call("ringcx-call");
    let when = at("2020-04-22T00:02:00Z");
    let mut webhook = config.webhooks[0].clone();
    webhook.condition = Some(
        Condition::from_json(r#"{"field": "agent_disposition", "equals": "CALLBACK"}"#).unwrap(),
    );
    registry.update_webhook(webhook.clone()).unwrap();
    assert!(registry
        .dispatch(Event::PostDisposition, &sale, when)
        .requests
        .is_empty());
    webhook.condition = None;
    registry.update_webhook(webhook.clone()).unwrap();
    assert_eq!(
        registry
            .dispatch(Event::PostDisposition, &sale, when)
            .requests
            .len(),
        1
    );
}

#[test]
fn the_lowest_format_that_holds_the_document_is_written() {
    let (config, registry) = seed("ringcx-conditions");
    assert!(config.to_json().starts_with(r#"{"version":3,"#));
    assert!(registry.to_json().starts_with(r#"{"version":3,"#));
    assert_eq!(
        registry.to_json(),
        serde_json::to_string(&registry).unwrap()
    );
    let row = config.webhooks[0].to_json();
    assert!(row.starts_with(r#"{"version":3,"#), "{row}");
    assert_eq!(WebhookConfig::from_json(&row).unwrap(), config.webhooks[0]);

    let mut plain = config.clone();
    plain.webhooks[0].condition = None;
    assert!(plain.to_json().starts_with(r#"{"version":2,"#));
    assert!(plain.webhooks[0].to_json().starts_with(r#"{"version":2,"#));
    let registry = common::load(&plain).unwrap();
    assert!(registry.to_json().starts_with(r#"{"version":2,"#));
    // Read back alike, through TOML too.
    let toml_text = toml::to_string(&config).unwrap();
    assert!(toml_text.starts_with("version = 3"), "{toml_text}");
    let again: Config = toml::from_str(&toml_text).unwrap();
    assert_eq!(again, config);
}
