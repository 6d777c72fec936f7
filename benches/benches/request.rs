//! Building whole requests for each seed service, beside serde_json alone
//! and serde_json plus `http::Request::builder()` on an equivalent struct.
//!
//! Target: the RingCX JSON service within 1.4x of serde_json alone. The
//! "floor" benchmark copies the finished RingCX JSON request: what building
//! any `http::Request<Vec<u8>>` costs before a byte is rendered.

use std::hint::black_box;
use std::time::Duration;

use callhook::{Call, Catalog, Config, Registry};
use criterion::{criterion_group, criterion_main, Criterion};
use serde::Serialize;

/// The RingCX JSON body's fields, already formatted, as a host would hold
/// them: serde_json's cheapest fair work.
#[derive(Serialize)]
struct RingcxBody<'a> {
    #[serde(rename = "agentId")]
    agent_id: &'a str,
    #[serde(rename = "agentUsername")]
    agent_username: &'a str,
    ani: &'a str,
    dnis: &'a str,
    #[serde(rename = "callStart")]
    call_start: &'a str,
    duration: &'a str,
    #[serde(rename = "recordingUrl")]
    recording_url: &'a str,
}

const RINGCX: RingcxBody<'static> = RingcxBody {
    agent_id: "1001",
    agent_username: "jane.doe@example.com",
    ani: "15551234567",
    dnis: "18005550100",
    call_start: "2020-04-22 00:00:00.0000",
    duration: "95",
    recording_url: "https://recordings.example.com/r/20200422-0001-1001.wav",
};

fn registry(config: &str) -> Registry {
    let config = Config::from_json(config).expect("seed config");
    Registry::from_config(&config, Catalog::standard().clone()).expect("seed config loads")
}

fn call(json: &str) -> Call {
    Call::from_json(json).expect("seed call")
}

fn requests(c: &mut Criterion) {
    let seeds = [
        (
            "ringcx",
            include_str!("../../examples/configs/ringcx.json"),
            include_str!("../../examples/calls/ringcx-call.json"),
        ),
        (
            "pbx",
            include_str!("../../examples/configs/pbx.json"),
            include_str!("../../examples/calls/pbx-call.json"),
        ),
        (
            "avanser",
            include_str!("../../examples/configs/avanser.json"),
            include_str!("../../examples/calls/avanser-call.json"),
        ),
    ];
    let mut group = c.benchmark_group("request");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    group.bench_function("serde_json alone: ringcx struct", |b| {
        let mut out = Vec::with_capacity(512);
        b.iter(|| {
            out.clear();
            serde_json::to_writer(&mut out, black_box(&RINGCX)).expect("serialises");
            black_box(&out);
        })
    });
    group.bench_function("serde_json + Request::builder: ringcx struct", |b| {
        b.iter(|| {
            let body = serde_json::to_vec(black_box(&RINGCX)).expect("serialises");
            let request = http::Request::builder()
                .method(http::Method::POST)
                .uri("https://hooks.example.com/ringcx/call-ended.json")
                .header(http::header::USER_AGENT, "callhook/0.2.0")
                .header(
                    http::header::CONTENT_TYPE,
                    "application/json; charset=utf-8",
                )
                .header(http::header::CONTENT_LENGTH, body.len())
                .body(body)
                .expect("valid request");
            black_box(request)
        })
    });

    for (seed, config, call_json) in seeds {
        let registry = registry(config);
        let call = call(call_json);
        if seed == "ringcx" {
            // The floor under any `http::Request<Vec<u8>>` builder: a copy of
            // the finished RingCX JSON request, so the body's allocation, the
            // header map's two, the URI's reference counts and the drops,
            // with no rendering at all.
            let service = registry
                .services()
                .into_iter()
                .find(|s| s.config().name == "A test web service (JSON)")
                .expect("the RingCX JSON service");
            let finished = service.request(&call.data).expect("renders");
            group.bench_function("floor: a copy of the ringcx JSON request", |b| {
                b.iter(|| {
                    let finished = black_box(&finished);
                    let mut copy = http::Request::new(finished.body().clone());
                    *copy.method_mut() = finished.method().clone();
                    *copy.uri_mut() = finished.uri().clone();
                    *copy.headers_mut() = finished.headers().clone();
                    black_box(copy)
                })
            });
        }
        for service in registry.services() {
            let name = format!("callhook: {seed} {}", service.config().name);
            group.bench_function(name, |b| {
                b.iter(|| black_box(service.request(black_box(&call.data)).expect("renders")))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, requests);
criterion_main!(benches);
