//! Stored data keeps working: configurations, serialised registries and
//! envelopes written by callhook 0.1.0 before the redesign (commit
//! `7001ace`) still load and give the same requests, byte for byte.
//!
//! The fixtures in `tests/fixtures/stored/` were made by that version:
//! `registry-*.json` are serialised registries, `envelopes-*.json` the
//! envelopes of every dispatch of the sample calls, and `requests-*.txt`
//! what each envelope gave, unsigned and signed for an attempt at
//! `2024-12-02T21:12:00Z` (see `tests/fixtures/stored/README.md`).
//!
//! Those files are format 1 (they carry no `version`); written again today
//! they are the same but for `"version": 2` at the top. The tests at the
//! end hold the format version's rules: a newer format is refused with an
//! error that says so, unknown fields of a known one as typos.
//!
//! Envelopes have a format of their own (`Envelope::FORMAT_VERSION`, issue
//! 22): the `envelopes-*.json` files are its format 1 and still load, less
//! the `Authorization` header they stored; `envelope-format-2/` holds what
//! this version writes, and `envelope-format-3.json` a newer major format,
//! refused. Unlike a configuration's, an envelope's unknown fields are
//! ignored within its major format, for rolling deploys.

use base64::Engine as _;
use callhook::{
    Call, Catalog, Config, Envelope, ErrorKind, Event, Registry, ServiceConfig, WebhookConfig,
    FORMAT_VERSION,
};
use chrono::{DateTime, Utc};

/// Dispatch time of the stored envelopes, and the time of the attempt the
/// stored requests were signed for.
const AT: &str = "2024-12-02T21:11:37Z";
const NOW: &str = "2024-12-02T21:12:00Z";

/// Each set: its name, the registry file it uses, the calls dispatched (in
/// order), the scopes that replace the calls' own (if any), and whether a
/// realtime update `ANSWERED` #2 was dispatched after the events.
type Set = (
    &'static str,
    &'static str,
    &'static [&'static str],
    Option<&'static str>,
    bool,
);

const SETS: [Set; 6] = [
    (
        "ringcx",
        "ringcx",
        &["ringcx-call", "ringcx-transfer"],
        None,
        false,
    ),
    ("pbx", "pbx", &["pbx-call"], None, false),
    ("avanser", "avanser", &["avanser-call"], None, true),
    ("signed", "signed", &["pbx-call"], None, false),
    (
        "ringcx-outbound",
        "ringcx",
        &["ringcx-call", "ringcx-transfer"],
        Some("campaign:Outbound Sales"),
        false,
    ),
    (
        "avanser-bobs-garage",
        "avanser",
        &["avanser-call"],
        Some("account:Bob's Garage"),
        true,
    ),
];

mod common;
use common::http_text;

fn read(path: &str) -> Vec<u8> {
    common::read(&format!("tests/fixtures/stored/{path}"))
}

fn text(path: &str) -> String {
    String::from_utf8(read(path)).unwrap()
}

fn time(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// The records of a `requests-*.txt` file: (index, delivery id,
/// conversion, HTTP bytes).
fn records(bytes: &[u8]) -> Vec<(usize, String, String, Vec<u8>)> {
    let mut records = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let head = std::str::from_utf8(&rest[..end]).unwrap();
        let words: Vec<&str> = head.split(' ').collect();
        assert_eq!(words[0], "###", "{head}");
        let length: usize = words[4].parse().unwrap();
        let start = end + 2;
        records.push((
            words[1].parse().unwrap(),
            words[2].to_owned(),
            words[3].to_owned(),
            rest[start..start + length].to_vec(),
        ));
        assert_eq!(&rest[start + length..start + length + 2], b"\r\n");
        rest = &rest[start + length + 2..];
    }
    records
}

/// The one upgrade stored data of 0.1.0 needs (see the CHANGELOG): the
/// Twilio service of `signed` holds the token `12345`, refused since
/// issue 19 as too short to be a secret (Twilio's are 32 characters), so
/// its operator rotates it. `stored_short_twilio_tokens_are_refused_with_the_reason`
/// holds the refusal.
const OLD_TOKEN: &str = "\"token\": \"12345\"";
const ROTATED_TOKEN: &str = "\"token\": \"f3a9c1e07b5d48a2c6e19b0d7f4a8e25\"";

/// A stored file's text, with the rotation above applied.
fn upgraded(path: &str) -> String {
    text(path).replace(OLD_TOKEN, ROTATED_TOKEN)
}

/// The format a document that uses nothing of format 3 is written in.
const PLAIN_FORMAT: u32 = 2;

/// A pretty-printed document of format 1 as today's writers write it:
/// with the lowest format that holds it at its top (2: it has no
/// condition), and nothing else changed.
fn in_current_format(format_1: &str) -> String {
    let fields = format_1.strip_prefix("{\n").expect("an object");
    assert!(!fields.contains("\"version\": 1"), "not format 1");
    format!("{{\n  \"version\": {PLAIN_FORMAT},\n{fields}")
}

fn registry(name: &str) -> Registry {
    serde_json::from_str(&upgraded(&format!("registry-{name}.json")))
        .unwrap_or_else(|e| panic!("registry-{name}.json: {e}"))
}

fn envelopes(set: &str) -> Vec<Envelope> {
    serde_json::from_slice(&read(&format!("envelopes-{set}.json")))
        .unwrap_or_else(|e| panic!("envelopes-{set}.json: {e}"))
}

#[test]
fn stored_configurations_load_into_the_stored_registries() {
    for name in ["ringcx", "pbx", "avanser", "signed"] {
        let config = Config::from_json(&upgraded(&format!("configs/{name}.json"))).unwrap();
        let loaded = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
        assert_eq!(loaded, registry(name), "{name}");
        // Serialised again, it is what was stored, in today's format: the
        // one change is `"version": 2` at the top, which format 1 did not
        // write. Its services and webhooks follow it and write none.
        let again = serde_json::to_string_pretty(&loaded).unwrap();
        let stored = upgraded(&format!("registry-{name}.json"));
        assert_eq!(again, in_current_format(&stored), "{name}");
    }
}

/// The stored `signed` configuration and registry, as 0.1.0 wrote them, are
/// refused with an error that says why and where, not loaded with a token
/// anyone could guess; with the token rotated they load (above).
#[test]
fn stored_short_twilio_tokens_are_refused_with_the_reason() {
    let config_text = text("configs/signed.json");
    assert!(config_text.contains(OLD_TOKEN));
    let config = Config::from_json(&config_text).unwrap();
    let err = Registry::from_config(&config, Catalog::standard().clone()).unwrap_err();
    let shown = format!("{err}");
    let problems: Vec<_> = std::iter::once(&err).chain(err.related()).collect();
    assert!(
        problems
            .iter()
            .any(|e| e.field() == Some("signing") && e.message().contains("16")),
        "{shown}"
    );
    assert!(!shown.contains("12345"), "{shown}");
    let err = serde_json::from_str::<Registry>(&text("registry-signed.json")).unwrap_err();
    assert!(err.to_string().contains("16"), "{err}");
    assert!(!err.to_string().contains("12345"), "{err}");
}

#[test]
fn stored_envelopes_give_the_stored_requests() {
    for (set, registry_name, ..) in SETS {
        let registry = registry(registry_name);
        let envelopes = envelopes(set);
        let records = records(&read(&format!("requests-{set}.txt")));
        assert_eq!(records.len(), 2 * envelopes.len(), "{set}");
        for (index, delivery, conversion, expected) in records {
            let envelope = &envelopes[index];
            assert_eq!(envelope.delivery, delivery, "{set} #{index}");
            let mut outgoing = envelope.to_outgoing().unwrap();
            if conversion == "request_for" {
                registry.sign(&mut outgoing, time(NOW)).unwrap();
            } else {
                assert_eq!(conversion, "to_request");
            }
            let expected = as_sent_today(&expected, &conversion);
            assert_eq!(
                String::from_utf8_lossy(&http_text(&outgoing.request)),
                String::from_utf8_lossy(&expected),
                "{set} #{index} {conversion}"
            );
        }
    }
}

/// A stored request record as today's version sends it: format 1 stored
/// the credential (AVANSER's Basic and Bearer auth; the stored sets have
/// no other), which envelopes drop on load since issue 22. Unsigned, the
/// request has none; signed, the service's own is added after the stored
/// headers, where signing puts it: the same header, moved.
fn as_sent_today(record: &[u8], conversion: &str) -> Vec<u8> {
    let end = record.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let (head, body) = record.split_at(end);
    let mut lines: Vec<&[u8]> = head.split(|&b| b == b'\n').collect();
    let credential = lines
        .iter()
        .position(|line| line.starts_with(b"authorization: "));
    let Some(credential) = credential else {
        return record.to_vec();
    };
    // Each line but the last ends in `\r` (the split was at `\n`).
    let line = lines.remove(credential);
    if conversion == "request_for" {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let last = lines.len() - 1;
        let mut out = lines[..last].join(&b'\n');
        out.extend_from_slice(b"\n");
        out.extend_from_slice(lines[last]);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(line);
        out.extend_from_slice(body);
        return out;
    }
    let mut out = lines.join(&b'\n');
    out.extend_from_slice(body);
    out
}

/// Dispatching the same calls today makes the same envelopes, to the byte:
/// delivery ids, unsigned requests and all, but for the credential, which
/// earlier versions stored and today's add at send time (dropped when a
/// stored envelope loads), and what format 1 did not hold: the call id,
/// the segment and the status sequence.
#[test]
fn todays_dispatch_makes_the_stored_envelopes() {
    for (set, registry_name, calls, scopes, realtime) in SETS {
        let registry = registry(registry_name);
        let mut made = Vec::new();
        for name in calls {
            let mut call = Call::from_json(&text(&format!("calls/{name}.json"))).unwrap();
            if let Some(scope) = scopes {
                call.scopes = vec![scope.to_owned()];
            }
            let mut dispatches: Vec<_> = Event::ALL
                .iter()
                .map(|event| registry.dispatch(event.clone(), &call, time(AT)))
                .collect();
            if realtime {
                dispatches.push(registry.status_change(&call, "ANSWERED", 2, time(AT)));
            }
            for dispatch in dispatches {
                assert!(dispatch.errors.is_empty(), "{set}: {:?}", dispatch.errors);
                made.extend(
                    dispatch
                        .requests
                        .iter()
                        .map(|outgoing| Envelope::new(outgoing, time(AT))),
                );
            }
        }
        let stored = envelopes(set);
        assert_eq!(made.len(), stored.len(), "{set}");
        for (i, (made, stored)) in made.iter().zip(&stored).enumerate() {
            assert!(made.call_id.is_some(), "{set} #{i}");
            assert_eq!(stored.call_id, None, "{set} #{i}");
            let mut made = made.clone();
            made.call_id = None;
            made.segment = None;
            made.sequence = None;
            assert_eq!(
                serde_json::to_value(&made).unwrap(),
                with_todays_user_agent(serde_json::to_value(stored).unwrap()),
                "{set} #{i}"
            );
        }
    }
}

/// A stored envelope's JSON with its `user-agent` header naming this
/// version: the header says which callhook built the request (0.1.0 for
/// the stored files), so it is the one byte range a version bump changes.
fn with_todays_user_agent(mut envelope: serde_json::Value) -> serde_json::Value {
    let headers = envelope["request"]["headers"].as_array_mut().unwrap();
    for header in headers {
        if header["name"] == "user-agent" {
            assert!(header["value"].as_str().unwrap().starts_with("callhook/"));
            header["value"] = callhook::USER_AGENT.into();
        }
    }
    envelope
}

/// A configuration of one service and one webhook, in format `version`
/// (none written for `None`), with `extra` fields at its top.
fn versioned(version: Option<u32>, extra: &str) -> String {
    let version = version.map_or(String::new(), |v| format!("\"version\": {v}, "));
    format!(
        r#"{{{version}{extra}"services": [{{"id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b",
            "name": "crm", "method": "POST", "url": "https://crm.example.com/calls"}}],
          "webhooks": [{{"id": "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6", "event": "Call:Hangup",
            "service": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "scopes": ["*"]}}]}}"#
    )
}

/// During a rolling deploy an older reader meets a newer writer's
/// documents: it says they are newer and to upgrade, whether the newer
/// format also has fields it does not know (before or after `version`) or
/// not, and wherever the document is read.
#[test]
fn newer_formats_are_refused_with_a_message_that_says_so() {
    let says_newer = |shown: &str| {
        assert!(shown.contains("written in format 4"), "{shown}");
        assert!(shown.contains("reads formats up to 3"), "{shown}");
        assert!(shown.contains("upgrade callhook"), "{shown}");
        assert!(!shown.contains("unknown field"), "{shown}");
    };
    for text in [
        versioned(Some(4), ""),
        versioned(Some(4), r#""retention": "30d", "#),
        format!(r#"{{"retention": "30d", {}"#, &versioned(Some(4), "")[1..]),
    ] {
        let err = Config::from_json(&text).unwrap_err();
        says_newer(&err.to_string());
        assert_eq!(err.kind(), ErrorKind::NewerFormat);
        assert_eq!(err.field(), Some("version"));
    }
    // Other serde formats too, though the toml crate checks every key
    // before reading a value, so a newer TOML document with a field this
    // version does not know is refused for the field.
    let err = toml::from_str::<Config>("version = 4\n").unwrap_err();
    says_newer(&err.to_string());
    // A stored registry, which writers begin with its version.
    let err = serde_json::from_str::<Registry>(&versioned(Some(4), r#""retention": "30d", "#))
        .unwrap_err();
    says_newer(&err.to_string());
    // A service's row and a webhook's, with a field format 3 does not know.
    let row = r#"{"version": 4, "id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "name": "crm",
        "method": "POST", "url": "https://crm.example.com/calls", "timeout": 5}"#;
    let err = ServiceConfig::from_json(row).unwrap_err();
    says_newer(&err.to_string());
    assert_eq!(err.kind(), ErrorKind::NewerFormat);
    says_newer(
        &serde_json::from_str::<ServiceConfig>(row)
            .unwrap_err()
            .to_string(),
    );
    let row = r#"{"paused_until": null, "version": 4, "id": "w", "event": "Call:Hangup",
        "service": "s"}"#;
    let err = WebhookConfig::from_json(row).unwrap_err();
    says_newer(&err.to_string());
    assert_eq!(err.kind(), ErrorKind::NewerFormat);
    // A configuration a host put together from rows, one of them newer.
    let text = versioned(None, "").replace(
        r#""event": "Call:Hangup","#,
        r#""event": "Call:Hangup", "paused_until": null, "version": 4,"#,
    );
    let err = Config::from_json(&text).unwrap_err();
    says_newer(&err.to_string());
    assert_eq!(err.field(), Some("webhooks.0.version"));
}

/// Within a format it reads, callhook still refuses a field it does not
/// know, as a typo, with the nearest name; and it refuses format 0, which
/// does not exist.
#[test]
fn unknown_fields_within_a_format_are_refused_as_typos() {
    let text = versioned(Some(2), "").replace("\"name\"", "\"nmae\"");
    let err = Config::from_json(&text).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Serde);
    assert_eq!(err.suggestion(), Some("name"), "{err}");
    assert_eq!(err.position().map(|p| p.line), Some(2), "{err}");
    let err = Config::from_json(&versioned(Some(2), r#""versoin": 2, "#)).unwrap_err();
    assert_eq!(err.suggestion(), Some("version"), "{err}");
    let err = WebhookConfig::from_json(
        r#"{"id": "w", "event": "Call:Hangup", "service": "s", "scope": []}"#,
    )
    .unwrap_err();
    assert_eq!(err.suggestion(), Some("scopes"), "{err}");
    let err = Config::from_json(&versioned(Some(0), "")).unwrap_err();
    assert!(err.to_string().contains("formats start at 1"), "{err}");
    // Not a number: serde's error, not a guess at the format.
    let err = Config::from_json(&versioned(None, r#""version": "2", "#)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Serde);
}

/// A document without `version` is format 1, everything written before
/// format versions (the stored files above); `"version": 1` and 2 read
/// alike.
#[test]
fn documents_without_a_version_are_format_1() {
    let parsed = |version| Config::from_json(&versioned(version, "")).unwrap();
    assert_eq!(parsed(None), parsed(Some(1)));
    assert_eq!(parsed(None), parsed(Some(2)));
    assert_eq!(parsed(None), parsed(Some(FORMAT_VERSION)));
    assert_eq!(FORMAT_VERSION, 3);
}

/// Writers write the lowest format that holds a document (2 for one with
/// no condition) at the top of each document a host stores on its own,
/// and only there: not again for each service and webhook of a
/// configuration or a registry.
#[test]
fn writers_write_the_version_once_at_the_top() {
    let config = Config::from_json(&versioned(None, "")).unwrap();
    let top = format!("{{\"version\":{PLAIN_FORMAT},");
    let written = serde_json::to_string(&config).unwrap();
    assert!(written.starts_with(&top), "{written}");
    assert_eq!(written.matches("\"version\"").count(), 1, "{written}");
    let mut registry = common::load(&config).unwrap();
    let stored = serde_json::to_string(&registry).unwrap();
    assert_eq!(stored, written);
    assert_eq!(registry.to_json(), written);
    // Rows stored one by one: a service's, enabled or not, and a webhook's.
    let service = registry.services()[0].to_json();
    assert!(service.starts_with(&top), "{service}");
    assert_eq!(service, serde_json::to_string(&config.services[0]).unwrap());
    registry
        .set_service_enabled(&config.services[0].id, false)
        .unwrap();
    let disabled = registry.services()[0].to_json();
    assert!(disabled.starts_with(&top), "{disabled}");
    // A disabled service's kept row is copied with `enabled` as it is.
    assert_eq!(
        registry.to_json(),
        serde_json::to_string(&registry).unwrap()
    );
    assert!(registry.to_json().contains("\"enabled\":false"));
    let webhook = serde_json::to_string(&config.webhooks[0]).unwrap();
    assert!(webhook.starts_with(&top), "{webhook}");
    // Each reads back as written.
    assert_eq!(
        ServiceConfig::from_json(&service).unwrap(),
        config.services[0]
    );
    assert_eq!(
        WebhookConfig::from_json(&webhook).unwrap(),
        config.webhooks[0]
    );
    assert_eq!(Config::from_json(&written).unwrap(), config);
}

/// What this version writes (format 2, `tests/fixtures/stored/format-2/`)
/// loads and is written again to the byte: a registry, and the rows a host
/// stores one by one, services as `Service::to_json` writes them and
/// webhooks as serde does. Later versions keep this test to prove they
/// still read format 2.
#[test]
fn stored_format_2_documents_load_and_give_the_same_bytes() {
    let stored = text("format-2/registry-pbx.json");
    let loaded: Registry = serde_json::from_str(&stored).unwrap();
    assert_eq!(serde_json::to_string_pretty(&loaded).unwrap(), stored);
    assert_eq!(loaded, registry("pbx"));
    for row in text("format-2/services-pbx.jsonl").lines() {
        let config = ServiceConfig::from_json(row).unwrap();
        let service = config.compile(Catalog::standard()).unwrap();
        assert_eq!(service.to_json(), row);
        assert_eq!(loaded.service(&config.id).unwrap().to_json(), row);
    }
    for row in text("format-2/webhooks-pbx.jsonl").lines() {
        let webhook = WebhookConfig::from_json(row).unwrap();
        assert_eq!(serde_json::to_string(&webhook).unwrap(), row);
    }
}

/// A newer writer's configuration (`format-4/config.json`: format 4, with
/// fields format 3 does not have) is refused as newer, as a configuration
/// and as a registry. `format-3/config.json` was the same stand-in written
/// before format 3 existed; format 3 as it came (conditions, placeholder
/// options) has no such fields, so a reader of format 3 refuses it for its
/// unknown field, with the name of the field, as any typo.
#[test]
fn a_stored_newer_format_is_refused_as_newer() {
    let stored = text("format-4/config.json");
    let err = Config::from_json(&stored).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NewerFormat);
    assert!(err.to_string().contains("written in format 4"), "{err}");
    let err = serde_json::from_str::<Registry>(&stored).unwrap_err();
    assert!(err.to_string().contains("written in format 4"), "{err}");
    let err = Config::from_json(&text("format-3/config.json")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Serde);
    assert!(
        err.to_string().contains("unknown field `retention`"),
        "{err}"
    );
}

/// What this version writes with conditions (format 3,
/// `tests/fixtures/stored/format-3-conditions/`, from the seeds
/// `ringcx-conditions` and `avanser-conditions`) loads and is written again
/// to the byte, version 3 at the top: a registry of each, and the webhook
/// rows a host stores one by one. The same documents with their conditions
/// taken out are written as format 2, which older readers load. Later
/// versions keep this test to prove they still read format 3.
#[test]
fn stored_format_3_documents_load_and_give_the_same_bytes() {
    for name in ["ringcx-conditions", "avanser-conditions"] {
        let stored = text(&format!("format-3-conditions/registry-{name}.json"));
        assert!(stored.starts_with("{\n  \"version\": 3,"), "{name}");
        let loaded: Registry = serde_json::from_str(&stored).unwrap();
        assert_eq!(
            serde_json::to_string_pretty(&loaded).unwrap(),
            stored,
            "{name}"
        );
        let seed = Config::from_json(&common::read_text(&format!("examples/configs/{name}.json")))
            .unwrap();
        assert_eq!(loaded, common::load(&seed).unwrap(), "{name}");
        let mut plain = loaded.to_config();
        for webhook in &mut plain.webhooks {
            webhook.condition = None;
        }
        let plain = common::load(&plain).unwrap();
        assert!(plain.to_json().starts_with(r#"{"version":2,"#), "{name}");
        assert!(serde_json::to_string_pretty(&plain)
            .unwrap()
            .starts_with("{\n  \"version\": 2,"));
    }
    for row in text("format-3-conditions/webhooks.jsonl").lines() {
        let webhook = WebhookConfig::from_json(row).unwrap();
        assert!(webhook.condition.is_some());
        assert!(row.starts_with(r#"{"version":3,"#), "{row}");
        assert_eq!(serde_json::to_string(&webhook).unwrap(), row);
        let mut plain = webhook.clone();
        plain.condition = None;
        assert!(plain.to_json().starts_with(r#"{"version":2,"#));
    }
}

/// The envelopes this version writes (envelope format 2,
/// `envelope-format-2/envelopes.jsonl`: a JSON body, two agent segments,
/// a realtime update with its sequence, and a binary body moved to its
/// first fallback URL with two attempts logged) load, are written again to
/// the byte, and give the stored requests exactly
/// (`envelope-format-2/requests.txt`, records as in `requests-*.txt`).
/// Later versions keep this test to prove they still read format 2.
#[test]
fn stored_envelope_format_2_gives_the_stored_requests() {
    let lines = text("envelope-format-2/envelopes.jsonl");
    let envelopes: Vec<(&str, Envelope)> = lines
        .lines()
        .map(|line| (line, Envelope::from_json(line).unwrap()))
        .collect();
    let records = records(&read("envelope-format-2/requests.txt"));
    assert_eq!(records.len(), envelopes.len());
    for ((index, delivery, conversion, expected), (line, envelope)) in
        records.into_iter().zip(&envelopes)
    {
        assert_eq!(&envelope.to_json(), line, "#{index}");
        assert_eq!(&envelope.delivery, &delivery, "#{index}");
        assert_eq!(conversion, "to_outgoing");
        let outgoing = envelope.to_outgoing().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&http_text(&outgoing.request)),
            String::from_utf8_lossy(&expected),
            "#{index}"
        );
        assert_eq!(outgoing.call_id.as_deref(), envelope.call_id.as_deref());
        assert_eq!(outgoing.segment, envelope.segment);
        assert_eq!(outgoing.sequence, envelope.sequence);
    }
    let envelopes: Vec<Envelope> = envelopes.into_iter().map(|(_, e)| e).collect();
    assert!(envelopes.iter().all(|e| e.call_id.is_some()));
    assert_eq!(envelopes[1].segment, Some(0));
    assert_eq!(envelopes[2].segment, Some(1));
    assert_eq!(envelopes[3].sequence, Some(2));
    // Text bodies are stored as text, others as base64.
    assert!(lines.lines().next().unwrap().contains(r#""body":"{"#));
    let moved = &envelopes[4];
    assert!(lines.lines().nth(4).unwrap().contains("\"body_base64\":"));
    assert_eq!(moved.request.body, [0xff, 0x00, 0x80, b'{', b'}']);
    // Sent to its first fallback URL, with the second still to try.
    assert_eq!(moved.current_url, 1);
    assert_eq!(moved.url(), Some(moved.fallbacks[0].as_str()));
    let outgoing = moved.to_outgoing().unwrap();
    assert_eq!(
        outgoing.request.uri(),
        "https://backup.example.com/pbx/hangup?src=pbx"
    );
    assert_eq!(outgoing.fallbacks, [moved.fallbacks[1].as_str()]);
    let log: Vec<_> = moved
        .attempts
        .iter()
        .map(|a| (a.url_index, a.status, a.error.is_some(), a.latency_ms))
        .collect();
    assert_eq!(
        log,
        [
            (0, Some(503), false, Some(412)),
            (0, None, true, Some(30_000))
        ]
    );
    assert_eq!(moved.attempts[0].response, "<html>busy</html>");
}

/// An envelope a newer writer of the same major format wrote, with fields
/// this version does not know at every level (`envelope-format-2/unknown-fields.json`),
/// loads as if they were not there: during a rolling deploy an older
/// worker sends what a newer one stored.
#[test]
fn envelopes_with_unknown_fields_of_a_known_format_load() {
    let stored = text("envelope-format-2/unknown-fields.json");
    let envelope = Envelope::from_json(&stored).unwrap();
    let first = text("envelope-format-2/envelopes.jsonl");
    let mut expected = Envelope::from_json(first.lines().next().unwrap()).unwrap();
    assert_ne!(envelope.attempts, expected.attempts);
    assert_eq!(envelope.attempts[0].status, Some(500));
    expected.attempts.clone_from(&envelope.attempts);
    assert_eq!(envelope, expected);
    assert_eq!(serde_json::from_str::<Envelope>(&stored).unwrap(), envelope);
}

/// An envelope of a newer major format (`envelope-format-3.json`, written
/// by hand as a newer writer might, in a shape format 2 readers would
/// misread) is refused with an error that says so, not misread.
#[test]
fn envelopes_of_a_newer_major_format_are_refused_as_newer() {
    let stored = text("envelope-format-3.json");
    let err = Envelope::from_json(&stored).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NewerFormat);
    assert_eq!(err.field(), Some("version"));
    let shown = err.to_string();
    assert!(shown.contains("written in format 3"), "{shown}");
    assert!(shown.contains("reads envelope formats up to 2"), "{shown}");
    assert!(shown.contains("upgrade callhook"), "{shown}");
    assert_eq!(Envelope::FORMAT_VERSION, 2);
}

/// Stored credentials and signatures (`Authorization`, as format 1 stored
/// it, `Proxy-Authorization`, and the signature headers of the signing
/// schemes) are dropped when an envelope loads, in every format: a request
/// never carries a stale one beside the one signing adds. A service's own
/// header named like a signature's id (`webhook-id`) is kept.
#[test]
fn stored_credentials_and_signatures_are_dropped_on_load() {
    let first = text("envelope-format-2/envelopes.jsonl");
    let first = first.lines().next().unwrap();
    let expected = Envelope::from_json(first).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(first).unwrap();
    let headers = value["request"]["headers"].as_array_mut().unwrap();
    for (name, stored) in [
        ("authorization", "Bearer st4le-t0ken"),
        ("Proxy-Authorization", "Basic eDp5"),
        ("webhook-signature", "v1,st4le"),
        ("x-twilio-signature", "st4le"),
        ("x-hub-signature-256", "sha256=st4le"),
        ("webhook-id", "msg_1"),
    ] {
        headers.insert(0, serde_json::json!({"name": name, "value": stored}));
    }
    let format_2 = value.to_string();
    // Format 1: no version, the body in base64.
    value.as_object_mut().unwrap().remove("version");
    let body = value["request"]["body"].as_str().unwrap().to_owned();
    value["request"]["body"] = base64::engine::general_purpose::STANDARD
        .encode(body.as_bytes())
        .into();
    let format_1 = value.to_string();
    for stored in [format_2, format_1] {
        let envelope = Envelope::from_json(&stored).unwrap();
        let names: Vec<&str> = envelope
            .request
            .headers
            .iter()
            .map(|h| h.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["webhook-id", "user-agent", "content-type", "content-length"]
        );
        let outgoing = envelope.to_outgoing().unwrap();
        assert!(!http_text(&outgoing.request)
            .windows(5)
            .any(|w| w == b"st4le"));
        let mut without_id = envelope.clone();
        without_id.request.headers.remove(0);
        without_id.call_id.clone_from(&expected.call_id);
        assert_eq!(without_id, expected);
    }
}

/// A service whose template uses a placeholder option of format 3 (`upper`
/// needs no feature) is written as format 3, alone and inside a
/// configuration or registry; the same service without it stays format 2.
#[test]
fn a_service_using_a_format_3_option_is_written_as_format_3() {
    let service = |template: &str| {
        format!(
            r#"{{"services": [{{"id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "name": "crm",
                "method": "POST", "url": "https://crm.example.com/calls",
                "body": {{"kind": "json", "template": "{{\"ani\": \"{template}\"}}"}}}}]}}"#
        )
    };
    for (template, version) in [("#ani#", 2), ("#ani|upper#", 3)] {
        let config = callhook::Config::from_json(&service(template)).unwrap();
        let written: serde_json::Value = serde_json::from_str(&config.to_json()).unwrap();
        assert_eq!(written["version"], version, "{template}: configuration");
        let registry =
            callhook::Registry::from_config(&config, callhook::Catalog::standard().clone())
                .unwrap();
        let row: serde_json::Value =
            serde_json::from_str(&registry.services()[0].to_json()).unwrap();
        assert_eq!(row["version"], version, "{template}: service row");
        let stored: serde_json::Value = serde_json::from_str(&registry.to_json()).unwrap();
        assert_eq!(stored["version"], version, "{template}: registry");
    }
}
