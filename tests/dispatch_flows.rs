//! Each seed's flow, end to end: configuration → registry → dispatch.

use callhook::{Catalog, Config, ErrorKind, Event, Registry, Verdict};
use callhook::{RealtimeReceiver, RealtimeUpdate as Update};
use chrono::{DateTime, Utc};

mod common;
use common::{call, registry};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn body(o: &callhook::Outgoing) -> serde_json::Value {
    serde_json::from_slice(o.request.body()).unwrap()
}

#[test]
fn pbx_call_fires_exactly_the_subscribed_webhooks_of_its_environment() {
    let pbx = registry(include_str!("../examples/configs/pbx.json"));
    let call = call(include_str!("../examples/calls/pbx-call.json"));
    assert_eq!(call.scopes, ["ITD2024"]);

    let ringing = pbx.dispatch(Event::CallRinging, &call, at("2024-12-02T21:04:40Z"));
    let answer = pbx.dispatch(Event::CallAnswer, &call, at("2024-12-02T21:05:10Z"));
    let hangup = pbx.dispatch(Event::CallHangup, &call, at("2024-12-02T21:11:37Z"));
    for d in [&ringing, &answer, &hangup] {
        assert!(d.errors.is_empty(), "{:?}", d.errors);
    }
    let fired = |d: &callhook::Dispatch| {
        d.requests
            .iter()
            .map(|o| o.webhook.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(fired(&ringing), ["f47ac10b-58cc-4372-a567-0e02b2c3d401"]);
    assert_eq!(fired(&answer), ["f47ac10b-58cc-4372-a567-0e02b2c3d402"]);
    // The disabled Call:Hangup webhook (…d406) does not fire.
    assert_eq!(fired(&hangup), ["f47ac10b-58cc-4372-a567-0e02b2c3d403"]);
    assert_eq!(body(&ringing.requests[0])["event"], "Call:Ringing");
    assert_eq!(body(&answer.requests[0])["event"], "Call:Answer");
    common::assert_golden(
        "tests/fixtures/pbx-body.expected.json",
        std::str::from_utf8(hangup.requests[0].request.body()).unwrap(),
    );
    // The Ivr:Start webhook is subscribed to nothing, so fires for nothing.
    assert!(pbx
        .dispatch(Event::IvrStart, &call, at("2024-12-02T21:04:41Z"))
        .requests
        .is_empty());

    let mut elsewhere = call.clone();
    elsewhere.scopes = vec!["PROD2025".into()];
    for event in [
        Event::CallRinging,
        Event::CallAnswer,
        Event::CallHangup,
        Event::CallReporting,
    ] {
        assert!(pbx
            .dispatch(event, &elsewhere, at("2024-12-02T21:04:40Z"))
            .requests
            .is_empty());
    }
}

#[test]
fn delivery_ids_repeat_for_the_same_delivery_only() {
    let pbx = registry(include_str!("../examples/configs/pbx.json"));
    let call = call(include_str!("../examples/calls/pbx-call.json"));
    let first = pbx.dispatch(Event::CallHangup, &call, at("2024-12-02T21:11:37Z"));
    let retry = pbx.dispatch(Event::CallHangup, &call, at("2024-12-02T21:20:00Z"));
    assert_eq!(first.requests[0].delivery, retry.requests[0].delivery);
    let reporting = pbx.dispatch(Event::CallReporting, &call, at("2024-12-02T21:11:40Z"));
    assert_ne!(first.requests[0].delivery, reporting.requests[0].delivery);
    let mut other = call.clone();
    other.id = "another-call".into();
    let other = pbx.dispatch(Event::CallHangup, &other, at("2024-12-02T21:11:37Z"));
    assert_ne!(first.requests[0].delivery, other.requests[0].delivery);
}

#[test]
fn ringcx_transfer_fires_agent_termination_once_per_segment() {
    let ringcx = registry(include_str!("../examples/configs/ringcx.json"));
    let call = call(include_str!("../examples/calls/ringcx-transfer.json"));
    let d = ringcx.dispatch(Event::AgentTermination, &call, at("2020-04-22T09:40:00Z"));
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(d.requests.len(), 2);
    let bodies: Vec<String> = d
        .requests
        .iter()
        .map(|o| String::from_utf8(o.request.body().clone()).unwrap())
        .collect();
    assert_eq!(
        bodies[0],
        "agent_id=1001&agent_username=jane.doe%40example.com&ani=15551234567&dnis=18005550100\
         &call_start=2020-04-22+09%3A30%3A00.0000\
         &recording_url=https%3A%2F%2Frecordings.example.com%2Fr%2F20200422-0002-1001.wav"
    );
    assert_eq!(
        bodies[1],
        "agent_id=1002&agent_username=sam.lee%40example.com&ani=15551234567&dnis=18005550100\
         &call_start=2020-04-22+09%3A30%3A00.0000\
         &recording_url=https%3A%2F%2Frecordings.example.com%2Fr%2F20200422-0002-1002.wav"
    );
    assert_eq!(
        (d.requests[0].segment, d.requests[1].segment),
        (Some(0), Some(1))
    );
    assert_ne!(d.requests[0].delivery, d.requests[1].delivery);

    // Fired as each segment ends, the deliveries are the same ones.
    let second = ringcx.dispatch_segment(
        Event::AgentTermination,
        &call,
        1,
        at("2020-04-22T09:40:00Z"),
    );
    assert_eq!(second.requests[0].delivery, d.requests[1].delivery);

    // Post Call fires once per call, with the call's data.
    let post = ringcx.dispatch(Event::PostCall, &call, at("2020-04-22T09:41:00Z"));
    assert_eq!(post.requests.len(), 1);
    assert!(std::str::from_utf8(post.requests[0].request.body())
        .unwrap()
        .contains("<outcome>Follow up</outcome>"));
}

#[test]
fn ringcx_debug_flag_yields_a_redacted_record() {
    let ringcx = registry(include_str!("../examples/configs/ringcx.json"));
    let mut call = call(include_str!("../examples/calls/ringcx-call.json"));
    call.scopes = vec!["campaign:Outbound Sales".into()];
    let d = ringcx.dispatch(Event::AgentTermination, &call, at("2020-04-22T00:02:00Z"));
    assert_eq!(d.requests.len(), 1);
    let record = d.requests[0]
        .debug
        .as_ref()
        .expect("the JSON service has Debug set");
    // The request as sent, but for the recording URL, a secret field, and
    // the agent's username and the numbers, personal fields.
    let sent = std::str::from_utf8(d.requests[0].request.body()).unwrap();
    let url = "https://recordings.example.com/r/20200422-0001-1001.wav";
    assert!(sent.contains(url));
    let mut expected = sent.to_owned();
    for value in [url, "jane.doe@example.com", "15551234567", "18005550100"] {
        assert!(sent.contains(value), "{sent}");
        expected = expected.replace(value, "[redacted]");
    }
    assert_eq!(record.body, expected);
    assert!(!format!("{:?}", call.data).contains(url));
}

#[test]
fn avanser_realtime_updates_then_one_final_request() {
    let avanser = registry(include_str!("../examples/configs/avanser.json"));
    let call = call(include_str!("../examples/calls/avanser-call.json"));
    let statuses = ["ringing", "answered", "on hold", "answered", "hangup"];
    let mut updates = Vec::new();
    for (i, status) in statuses.iter().enumerate() {
        let d = avanser.status_change(&call, status, i as u64 + 1, at("2024-11-28T09:00:00Z"));
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(d.requests.len(), 1, "one realtime webhook for Acme");
        updates.push(d.requests.into_iter().next().unwrap());
    }
    let final_call = avanser.dispatch(Event::CallReporting, &call, at("2024-11-28T09:04:00Z"));
    assert_eq!(final_call.requests.len(), 1);
    let final_body = std::str::from_utf8(final_call.requests[0].request.body()).unwrap();
    assert!(final_body.contains(
        "recording=https%3A%2F%2Frecordings.example.com%2Favanser%2F1732784400.12345.mp3"
    ));

    for (i, update) in updates.iter().enumerate() {
        let b = body(update);
        assert_eq!(b["uniqueid"], "1732784400.12345");
        assert_eq!(b["status"], statuses[i]);
        assert_eq!(b["sequence"], i as u64 + 1);
        assert!(b.get("recording").is_none());
    }
    let ids: std::collections::HashSet<_> = updates.iter().map(|u| u.delivery.clone()).collect();
    assert_eq!(ids.len(), statuses.len(), "each update is its own delivery");

    // The receiver, with a retry and a reordering on the way.
    let arrivals = [0, 1, 1, 3, 2, 4];
    let mut receiver = RealtimeReceiver::new();
    let verdicts: Vec<Update> = arrivals
        .iter()
        .map(|&i| {
            let b = body(&updates[i]);
            receiver.observe(
                b["uniqueid"].as_str().unwrap(),
                b["status"].as_str().unwrap(),
                b["sequence"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            Update::NewCall,
            Update::Update,
            Update::Duplicate,
            Update::Update,
            Update::OutOfOrder,
            Update::Update
        ]
    );
    assert_eq!(receiver.status("1732784400.12345"), Some(("hangup", 5)));
    receiver.finish("1732784400.12345");
    assert!(receiver.is_empty());
}

#[test]
fn a_realtime_webhook_on_a_service_with_the_recording_is_refused() {
    let mut config = Config::from_json(include_str!("../examples/configs/avanser.json")).unwrap();
    // Bind the realtime webhook to the form service, which sends the recording.
    config.webhooks[0].service = "3d2f1a9b-8c7e-4d6f-a5b4-c3d2e1f0a9b1".into();
    let err = Registry::from_config(&config, Catalog::standard().clone()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert!(
        err.to_string().contains("uses field `recording_url`"),
        "{err}"
    );
}

#[test]
fn registry_listing_body_and_round_trip() {
    for config in [
        include_str!("../examples/configs/pbx.json"),
        include_str!("../examples/configs/ringcx.json"),
        include_str!("../examples/configs/avanser.json"),
    ] {
        let r = registry(config);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(r.to_json(), json);
        let back: Registry = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }
    let pbx = registry(include_str!("../examples/configs/pbx.json"));
    let rows = pbx.webhooks();
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0].event, Event::CallRinging);
    assert_eq!(rows[0].url, "https://wallboard.example.com/pbx/progress");
    assert_eq!(rows[0].method, "POST");
    assert_eq!(rows[3].method, "GET");
    assert!(!rows[5].enabled);
    let eye = pbx.webhook_body(&rows[2].id).unwrap();
    assert_eq!(eye, include_str!("../examples/templates/pbx-body.json"));
}

/// A webhook on `"*"` fires for a call in any scope, or none; `explain`
/// says why each webhook does or does not fire.
#[test]
fn every_scope_webhooks_and_explanations() {
    let mut config = Config::from_json(include_str!("../examples/configs/pbx.json")).unwrap();
    let mut all = config.webhooks[2].clone();
    all.id = "f47ac10b-58cc-4372-a567-0e02b2c3d4ff".into();
    all.scopes = vec!["*".into()];
    config.webhooks.push(all);
    let pbx = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
    let mut nowhere = call(include_str!("../examples/calls/pbx-call.json"));
    nowhere.scopes = vec!["nobody".into()];
    let fired = pbx.dispatch(Event::CallHangup, &nowhere, at("2024-12-02T21:11:37Z"));
    assert_eq!(fired.requests.len(), 1);
    assert_eq!(
        &*fired.requests[0].webhook,
        "f47ac10b-58cc-4372-a567-0e02b2c3d4ff"
    );
    nowhere.scopes.clear();
    assert_eq!(
        pbx.dispatch(Event::CallHangup, &nowhere, at("2024-12-02T21:11:37Z"))
            .requests
            .len(),
        1
    );

    let explained = pbx.explain(Event::CallHangup, &nowhere, at("2024-12-02T21:11:37Z"));
    assert_eq!(explained.len(), config.webhooks.len());
    let verdict = |id: &str| {
        explained
            .iter()
            .find(|e| e.webhook == id)
            .map(|e| e.verdict.clone())
            .unwrap()
    };
    assert_eq!(
        verdict("f47ac10b-58cc-4372-a567-0e02b2c3d4ff"),
        Verdict::Fires
    );
    assert_eq!(
        verdict("f47ac10b-58cc-4372-a567-0e02b2c3d403"),
        Verdict::ScopeNotSubscribed(vec!["ITD2024".into()])
    );
    assert_eq!(
        verdict("f47ac10b-58cc-4372-a567-0e02b2c3d401"),
        Verdict::OtherEvent(Event::CallRinging)
    );
    let mut itd = nowhere.clone();
    itd.scopes = vec!["ITD2024".into()];
    let explained = pbx.explain(Event::CallHangup, &itd, at("2024-12-02T21:11:37Z"));
    assert!(explained
        .iter()
        .any(|e| e.verdict == Verdict::WebhookDisabled));
}
