//! Dispatch cost with 10 and with 100,000 configured webhooks, one of which
//! matches: the index by event and scope keeps it flat.
//!
//! Target: within 1.2x of each other.

use std::hint::black_box;
use std::time::Duration;

use callhook::{Call, Event};
use callhook_benches::pbx_registry_with as registry;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn dispatch(c: &mut Criterion) {
    let call =
        Call::from_json(include_str!("../../examples/calls/pbx-call.json")).expect("seed call");
    let at = "2024-12-02T21:11:37Z".parse().expect("time");
    let mut group = c.benchmark_group("dispatch");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for webhooks in [10usize, 100_000] {
        // The seed has 6 webhooks; the rest fill up to the count.
        let registry = registry(webhooks - 6);
        let matched = registry.dispatch(Event::CallHangup, &call, at);
        assert_eq!(matched.requests.len(), 1, "exactly one webhook matches");
        group.bench_with_input(
            BenchmarkId::new("Call:Hangup, one match", webhooks),
            &registry,
            |b, r| b.iter(|| black_box(r.dispatch(Event::CallHangup, black_box(&call), at))),
        );
    }
    group.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
