//! Rendering webhook bodies: callhook against serde_json (its floor: a derived
//! `Serialize` struct of already formatted strings written into a reused
//! buffer) and against minijinja (a general template engine), for two bodies:
//!
//! - RingCX's 7-field JSON body (`#field#` tags, all inside strings);
//! - the PBX's 28-field body (the 27 seed fields plus `event`), with numbers
//!   and nulls in typed positions.
//!
//! Everything is in one criterion group so the times are comparable. Each
//! output buffer is reused (`clear()` and then write), so no benchmark pays
//! for growing its buffer after the first iteration.
//!
//! Run with `cargo bench -p callhook-benches --bench render`.

use std::time::Duration;

use callhook::template::{Context, Options, Template};
use callhook::CallData;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde::Serialize;

// ---------------------------------------------------------------- RingCX --

const RINGCX_TEMPLATE: &str = r##"{
  "agentId": "#agent_id#",
  "agentUsername": "#agent_username#",
  "ani": "#ani#",
  "dnis": "#dnis#",
  "callStart": "#call_start#",
  "duration": "#duration#",
  "recordingUrl": "#recording_url#"
}"##;

/// The same body for minijinja. Auto-escape is off (the default for a
/// template name without an extension), so values are written as they are.
const RINGCX_JINJA: &str = r#"{
  "agentId": "{{ agent_id }}",
  "agentUsername": "{{ agent_username }}",
  "ani": "{{ ani }}",
  "dnis": "{{ dnis }}",
  "callStart": "{{ call_start }}",
  "duration": "{{ duration }}",
  "recordingUrl": "{{ recording_url }}"
}"#;

fn ringcx_call() -> serde_json::Value {
    serde_json::json!({
        "agent_id": "1001",
        "agent_username": "jane.doe@example.com",
        "ani": "15551234567",
        "dnis": "18005550100",
        "call_start": "2020-04-22 00:00:00.0000",
        "duration": 95,
        "recording_url": "https://recordings.example.com/r/bfd7e62a-5a55-4286-9453-b4b4cfc5cca8.wav",
    })
}

/// serde_json's cheapest fair work: the keys are fixed at compile time and
/// every value is already a formatted string.
#[derive(Serialize)]
struct RingCx {
    #[serde(rename = "agentId")]
    agent_id: String,
    #[serde(rename = "agentUsername")]
    agent_username: String,
    ani: String,
    dnis: String,
    #[serde(rename = "callStart")]
    call_start: String,
    duration: String,
    #[serde(rename = "recordingUrl")]
    recording_url: String,
}

fn ringcx_struct() -> RingCx {
    RingCx {
        agent_id: "1001".into(),
        agent_username: "jane.doe@example.com".into(),
        ani: "15551234567".into(),
        dnis: "18005550100".into(),
        call_start: "2020-04-22 00:00:00.0000".into(),
        duration: "95".into(),
        recording_url: "https://recordings.example.com/r/bfd7e62a-5a55-4286-9453-b4b4cfc5cca8.wav"
            .into(),
    }
}

/// minijinja's context: the template variable names, with the values
/// callhook prints (the ANSI timestamp, the duration in seconds).
#[derive(Serialize)]
struct RingCxVars<'a> {
    agent_id: &'a str,
    agent_username: &'a str,
    ani: &'a str,
    dnis: &'a str,
    call_start: &'a str,
    duration: u64,
    recording_url: &'a str,
}

fn ringcx_vars(s: &RingCx) -> RingCxVars<'_> {
    RingCxVars {
        agent_id: &s.agent_id,
        agent_username: &s.agent_username,
        ani: &s.ani,
        dnis: &s.dnis,
        call_start: &s.call_start,
        duration: 95,
        recording_url: &s.recording_url,
    }
}

// ------------------------------------------------------------------- PBX --

/// The 27 fields of the PBX seed, in its order, plus `event`. Where the seed
/// has a number or `null` the placeholder stands as a whole JSON value.
const PBX_TEMPLATE: &str = r##"{
  "event": "#event#",
  "direction": "#direction#",
  "uuid": "#uuid#",
  "type": "#type#",
  "created_at": "#created_at#",
  "contact_number": #contact_number#,
  "caller_id_number": #caller_id_number#,
  "duration": #duration#,
  "ring_duration": #ring_duration#,
  "destination": "#destination#",
  "start_at": "#start_at#",
  "answer_at": "#answer_at#",
  "environment_name": "#environment_name#",
  "user_fullname": #user_fullname#,
  "user_name": "#user_name#",
  "extension_username": #extension_username#,
  "cause": "#cause#",
  "sip_status": "#sip_status#",
  "recording_url": "#recording_url#",
  "duration_time": "#duration_time#",
  "billing_duration": #billing_duration#,
  "billing_duration_time": "#billing_duration_time#",
  "did_number": "#did_number#",
  "did_name": "#did_name#",
  "queue_disposition": "#queue_disposition#",
  "ivr_name": #ivr_name#,
  "call_state": #call_state#,
  "queue_name": "#queue_name#"
}"##;

/// The same body for minijinja, auto-escape off. The nullable text fields
/// stand as whole JSON values, so (like callhook) the template prints `null`
/// or a quoted string; minijinja's `tojson` would need its `json` feature.
const PBX_JINJA: &str = r#"{
  "event": "{{ event }}",
  "direction": "{{ direction }}",
  "uuid": "{{ uuid }}",
  "type": "{{ type }}",
  "created_at": "{{ created_at }}",
  "contact_number": {% if contact_number is none %}null{% else %}"{{ contact_number }}"{% endif %},
  "caller_id_number": {% if caller_id_number is none %}null{% else %}"{{ caller_id_number }}"{% endif %},
  "duration": {{ duration }},
  "ring_duration": {{ ring_duration }},
  "destination": "{{ destination }}",
  "start_at": "{{ start_at }}",
  "answer_at": "{{ answer_at }}",
  "environment_name": "{{ environment_name }}",
  "user_fullname": {% if user_fullname is none %}null{% else %}"{{ user_fullname }}"{% endif %},
  "user_name": "{{ user_name }}",
  "extension_username": {% if extension_username is none %}null{% else %}"{{ extension_username }}"{% endif %},
  "cause": "{{ cause }}",
  "sip_status": "{{ sip_status }}",
  "recording_url": "{{ recording_url }}",
  "duration_time": "{{ duration_time }}",
  "billing_duration": {{ billing_duration }},
  "billing_duration_time": "{{ billing_duration_time }}",
  "did_number": "{{ did_number }}",
  "did_name": "{{ did_name }}",
  "queue_disposition": "{{ queue_disposition }}",
  "ivr_name": {% if ivr_name is none %}null{% else %}"{{ ivr_name }}"{% endif %},
  "call_state": {% if call_state is none %}null{% else %}"{{ call_state }}"{% endif %},
  "queue_name": "{{ queue_name }}"
}"#;

/// The seed's values, as the PBX would send them to the host.
fn pbx_call() -> serde_json::Value {
    serde_json::json!({
        "event": "Call:Hangup",
        "direction": "outgoing",
        "uuid": "bfd7e62a-5a55-4286-9453-b4b4cfc5cca8",
        "type": "did_to_que",
        "created_at": "2024-12-02T21:04:40.701+00:00",
        "contact_number": null,
        "caller_id_number": null,
        "duration": 60,
        "ring_duration": 30,
        "destination": "039000000",
        "start_at": "23:04:40",
        "answer_at": "23:34:00",
        "environment_name": "ITD2024",
        "user_fullname": null,
        "user_name": "",
        "extension_username": null,
        "cause": "answer",
        "sip_status": "200",
        "recording_url": "https://cloud.voipappz.io/recordings/bfd7e62a-5a55-4286-9453-b4b4cfc5cca8",
        "duration_time": "00:06:57",
        "billing_duration": 1733173541,
        "billing_duration_time": "00:05:41",
        "did_number": "972722791142",
        "did_name": "972722791142",
        "queue_disposition": "timeout",
        "ivr_name": null,
        "call_state": null,
        "queue_name": "Que1",
    })
}

/// serde_json's baseline for the PBX body: field names are the keys, nulls
/// are `Option<String>`, numbers `u64`, everything else formatted strings.
/// It is also minijinja's context.
#[derive(Serialize)]
struct Pbx {
    event: String,
    direction: String,
    uuid: String,
    #[serde(rename = "type")]
    call_type: String,
    created_at: String,
    contact_number: Option<String>,
    caller_id_number: Option<String>,
    duration: u64,
    ring_duration: u64,
    destination: String,
    start_at: String,
    answer_at: String,
    environment_name: String,
    user_fullname: Option<String>,
    user_name: String,
    extension_username: Option<String>,
    cause: String,
    sip_status: String,
    recording_url: String,
    duration_time: String,
    billing_duration: u64,
    billing_duration_time: String,
    did_number: String,
    did_name: String,
    queue_disposition: String,
    ivr_name: Option<String>,
    call_state: Option<String>,
    queue_name: String,
}

fn pbx_struct() -> Pbx {
    Pbx {
        event: "Call:Hangup".into(),
        direction: "outgoing".into(),
        uuid: "bfd7e62a-5a55-4286-9453-b4b4cfc5cca8".into(),
        call_type: "did_to_que".into(),
        created_at: "2024-12-02T21:04:40.701+00:00".into(),
        contact_number: None,
        caller_id_number: None,
        duration: 60,
        ring_duration: 30,
        destination: "039000000".into(),
        start_at: "23:04:40".into(),
        answer_at: "23:34:00".into(),
        environment_name: "ITD2024".into(),
        user_fullname: None,
        user_name: String::new(),
        extension_username: None,
        cause: "answer".into(),
        sip_status: "200".into(),
        recording_url: "https://cloud.voipappz.io/recordings/bfd7e62a-5a55-4286-9453-b4b4cfc5cca8"
            .into(),
        duration_time: "00:06:57".into(),
        billing_duration: 1_733_173_541,
        billing_duration_time: "00:05:41".into(),
        did_number: "972722791142".into(),
        did_name: "972722791142".into(),
        queue_disposition: "timeout".into(),
        ivr_name: None,
        call_state: None,
        queue_name: "Que1".into(),
    }
}

// ------------------------------------------------------------- the bench --

fn parse(bytes: &[u8], what: &str) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "{what} is not JSON ({e}):\n{}",
            String::from_utf8_lossy(bytes)
        )
    })
}

/// One body, rendered three ways, checked to agree before any timing.
struct Body {
    name: &'static str,
    template: Template,
    call: CallData,
    jinja: minijinja::Environment<'static>,
    jinja_ctx: minijinja::Value,
}

impl Body {
    fn new<S: Serialize>(
        name: &'static str,
        source: &str,
        call: &serde_json::Value,
        jinja_source: &'static str,
        jinja_vars: &S,
    ) -> Body {
        let template = Template::compile(source, Context::Json, &Options::default())
            .unwrap_or_else(|e| panic!("{name}: template does not compile: {e}"));
        let call = CallData::from_serialize(call)
            .unwrap_or_else(|e| panic!("{name}: call data does not convert: {e}"));
        let mut jinja = minijinja::Environment::new();
        // No extension, so no auto-escape.
        jinja.add_template(name, jinja_source).unwrap();
        // Converted once into minijinja's own value tree, so rendering only
        // looks values up.
        let jinja_ctx = minijinja::Value::from_serialize(jinja_vars);
        Body {
            name,
            template,
            call,
            jinja,
            jinja_ctx,
        }
    }

    fn callhook(&self, out: &mut Vec<u8>) {
        out.clear();
        self.template.render_into(&self.call, out).unwrap();
    }

    fn minijinja(&self, out: &mut Vec<u8>) {
        out.clear();
        let template = self.jinja.get_template(self.name).unwrap();
        // `render_to_write` into the reused buffer: deprecated since 2.18 in
        // favour of `render_captured_to`, which also boxes the final state,
        // so the old call is minijinja's cheapest streaming render.
        #[allow(deprecated)]
        template
            .render_to_write(&self.jinja_ctx, &mut *out)
            .unwrap();
    }

    /// callhook, serde_json and minijinja must produce the same JSON value.
    fn check<S: Serialize>(&self, baseline: &S) {
        let mut out = Vec::new();
        self.callhook(&mut out);
        let callhook = parse(&out, "callhook's output");
        let serde = parse(
            &serde_json::to_vec(baseline).unwrap(),
            "serde_json's output",
        );
        assert_eq!(
            callhook, serde,
            "{}: callhook and serde_json differ",
            self.name
        );
        self.minijinja(&mut out);
        let jinja = parse(&out, "minijinja's output");
        assert_eq!(
            callhook, jinja,
            "{}: callhook and minijinja differ",
            self.name
        );
    }
}

fn render(c: &mut Criterion) {
    let ringcx_baseline = ringcx_struct();
    let ringcx = Body::new(
        "ringcx",
        RINGCX_TEMPLATE,
        &ringcx_call(),
        RINGCX_JINJA,
        &ringcx_vars(&ringcx_baseline),
    );
    ringcx.check(&ringcx_baseline);

    let pbx_baseline = pbx_struct();
    let pbx = Body::new("pbx", PBX_TEMPLATE, &pbx_call(), PBX_JINJA, &pbx_baseline);
    pbx.check(&pbx_baseline);

    let mut group = c.benchmark_group("render");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    let mut out = Vec::with_capacity(4096);

    // (a), (b), (c): RingCX, 7 fields.
    group.bench_function("ringcx/callhook", |b| {
        b.iter(|| {
            black_box(&ringcx).callhook(&mut out);
            black_box(&out);
        })
    });
    group.bench_function("ringcx/serde_json", |b| {
        b.iter(|| {
            out.clear();
            serde_json::to_writer(&mut out, black_box(&ringcx_baseline)).unwrap();
            black_box(&out);
        })
    });
    // minijinja: `render_to_write` into the reused buffer.
    group.bench_function("ringcx/minijinja", |b| {
        b.iter(|| {
            black_box(&ringcx).minijinja(&mut out);
            black_box(&out);
        })
    });

    // (d): PBX, 28 fields, the same three ways.
    group.bench_function("pbx/callhook", |b| {
        b.iter(|| {
            black_box(&pbx).callhook(&mut out);
            black_box(&out);
        })
    });
    group.bench_function("pbx/serde_json", |b| {
        b.iter(|| {
            out.clear();
            serde_json::to_writer(&mut out, black_box(&pbx_baseline)).unwrap();
            black_box(&out);
        })
    });
    group.bench_function("pbx/minijinja", |b| {
        b.iter(|| {
            black_box(&pbx).minijinja(&mut out);
            black_box(&out);
        })
    });

    group.finish();
}

/// Converting a host's call struct into call data, against serialising the
/// same struct to JSON: `CallData::from_serialize` types every field (a
/// timestamp parsed, a duration read) and owns every value, and the issue
/// asks it to cost at most 1.5 times `serde_json::to_vec`.
fn convert(c: &mut Criterion) {
    let pbx_baseline = pbx_struct();
    let mut group = c.benchmark_group("convert");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("pbx/CallData::from_serialize", |b| {
        b.iter(|| black_box(CallData::from_serialize(black_box(&pbx_baseline)).unwrap()))
    });
    group.bench_function("pbx/serde_json::to_vec", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&pbx_baseline)).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, render, convert);
criterion_main!(benches);
