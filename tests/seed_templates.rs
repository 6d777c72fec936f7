//! The seeds' bodies, compiled and rendered to exact bytes.

use callhook::template::{Context, Options, Template};
use callhook::Syntax;
use callhook::{CallData, ErrorKind};

mod common;
use common::call;

#[test]
fn ringcx_json_body_renders_exactly() {
    let body = Template::compile(
        include_str!("../examples/templates/ringcx-body.json"),
        Context::Json,
        &Options::default(),
    )
    .unwrap();
    assert_eq!(
        body.fields().collect::<Vec<_>>(),
        [
            "agent_id",
            "agent_username",
            "ani",
            "dnis",
            "call_start",
            "duration",
            "recording_url"
        ]
    );
    let call = call(include_str!("../examples/calls/ringcx-call.json"));
    let mut out = Vec::new();
    body.render_into(&call.data, &mut out).unwrap();
    common::assert_golden(
        "tests/fixtures/ringcx-body.expected.json",
        &String::from_utf8(out).unwrap(),
    );
}

#[test]
fn pbx_field_list_renders_exactly_as_a_typed_json_body() {
    let body = Template::compile(
        include_str!("../examples/templates/pbx-body.json"),
        Context::Json,
        &Options::default(),
    )
    .unwrap();
    assert_eq!(body.fields().count(), 27);
    let call = call(include_str!("../examples/calls/pbx-call.json"));
    common::assert_golden(
        "tests/fixtures/pbx-body.expected.json",
        &body.render_string(&call.data).unwrap(),
    );
}

#[test]
fn pbx_body_at_ringing_renders_null_for_what_is_not_known_yet() {
    let body = Template::compile(
        r##"{"uuid": "#uuid#", "duration": #duration#, "recording_url": #recording_url#}"##,
        Context::Json,
        &Options::default(),
    )
    .unwrap();
    let ringing = CallData::new().with("uuid", "u-1");
    assert_eq!(
        body.render_string(&ringing).unwrap(),
        r#"{"uuid": "u-1", "duration": null, "recording_url": null}"#
    );
}

#[test]
fn avanser_placeholders_in_brackets() {
    let body = Template::compile(
        "<call><id>[[uniqueid]]</id><status>[[status]]</status><len>[[duration|hms]]</len></call>",
        Context::Xml,
        &Options::default().with_syntax(Syntax::Brackets),
    )
    .unwrap();
    let data = CallData::from_serialize(&serde_json::json!({
        "uniqueid": "1700000000.42", "status": "answered & talking", "duration": 3725
    }))
    .unwrap();
    assert_eq!(
        body.render_string(&data).unwrap(),
        "<call><id>1700000000.42</id><status>answered &amp; talking</status><len>01:02:05</len></call>"
    );
}

#[test]
fn the_agent_recording_tag_is_accepted_though_not_listed() {
    let t = Template::compile(
        "#sess_agent_perspective_recording_url#",
        Context::Plain,
        &Options::default(),
    )
    .unwrap();
    let call = call(include_str!("../examples/calls/ringcx-call.json"));
    assert_eq!(
        t.render_string(&call.data).unwrap(),
        "https://recordings.example.com/r/20200422-0001-1001-agent.wav"
    );
}

#[test]
fn a_typo_in_the_seed_body_is_caught_at_compile_time() {
    let src = include_str!("../examples/templates/ringcx-body.json").replace("#dnis#", "#dins#");
    let err = Template::compile(&src, Context::Json, &Options::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownField);
    assert_eq!(err.suggestion(), Some("dnis"));
    let p = err.position().unwrap();
    assert_eq!((p.line, p.column), (5, 12));
}
