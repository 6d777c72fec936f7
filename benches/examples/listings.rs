//! Times the registry's listings, `to_config` and serialising the registry
//! at 100,000 services and webhooks, for comparing commits: the same
//! source builds against 7001ace and today, and reads its seed services
//! from a directory given as the first argument (the same files for both).
//!
//! `cargo run --release -p callhook-benches --example listings -- DIR [N] [RUNS] [ONLY]`

use std::time::{Duration, Instant};

use callhook::{Catalog, Config, Registry, ServiceConfig};

fn id(kind: u16, i: usize) -> String {
    format!("00000000-0000-4000-{:04x}-{i:012x}", 0x8000 | kind)
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let out = f();
            let took = start.elapsed();
            drop(out);
            took
        })
        .collect();
    times.sort();
    (times[0], times[runs / 2])
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("a directory of seed configurations");
    let n: usize = args.next().map_or(100_000, |n| n.parse().expect("a count"));
    let runs: usize = args.next().map_or(5, |n| n.parse().expect("a count"));
    // Only the cases whose names hold this text (for a profiler).
    let only = args.next().unwrap_or_default();
    let seeds: Vec<ServiceConfig> = ["ringcx", "pbx", "avanser"]
        .iter()
        .flat_map(|name| {
            let text = std::fs::read_to_string(format!("{dir}/{name}.json")).expect("seed");
            Config::from_json(&text).expect("seed parses").services
        })
        .collect();
    // Built as JSON text, so no constructor differs between the versions.
    let mut services = Vec::with_capacity(n);
    let mut webhooks = Vec::with_capacity(n);
    for i in 0..n {
        let mut service = seeds[i % seeds.len()].clone();
        service.id = id(1, i);
        webhooks.push(serde_json::json!({
            "id": id(2, i),
            "event": "Call:Hangup",
            "service": service.id,
            "created_at": "2025-01-10T09:00:00Z",
            "scopes": [format!("tenant-{i}")],
        }));
        services.push(serde_json::to_value(&service).expect("json"));
    }
    let text = serde_json::json!({"services": services, "webhooks": webhooks}).to_string();
    drop((services, webhooks));
    let config = Config::from_json(&text).expect("config");
    let registry = Registry::from_config(&config, Catalog::standard().clone()).expect("loads");
    let wanted = |name: &str| name.contains(only.as_str());
    let show = |name: &str, (min, median): (Duration, Duration)| {
        println!(
            "{name:>12}: min {:7.1} ms, median {:7.1} ms",
            min.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3
        );
    };
    println!("{n} services and webhooks, {runs} runs");
    if wanted("to_config") {
        show("to_config", time(runs, || registry.to_config()));
    }
    if wanted("serialise") {
        show(
            "serialise",
            time(runs, || serde_json::to_vec(&registry).expect("json")),
        );
    }
    if wanted("webhooks()") {
        show("webhooks()", time(runs, || registry.webhooks()));
    }
    if wanted("services()") {
        show("services()", time(runs, || registry.services()));
    }
}
