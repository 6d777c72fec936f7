//! Platform scale: each row of the scale issue measured side by side in one
//! run, and its ratio printed at the end.
//!
//! `cargo bench -p callhook-benches --bench scale` (a few minutes). The
//! services are the seeds' eleven (form, JSON, XML, SOAP, GET; 5 to 30
//! fields) copied under new ids, one webhook each, as a multi-tenant host
//! has them. Counts that do not depend on time (allocations per dispatched
//! request, bytes per compiled service) are asserted by the root crate's
//! `tests/allocations.rs`; this run prints the registry's heap at 100,000
//! services beside its JSON.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use callhook::template::{Context, Options, Template};
use callhook::{
    Call, CallData, Catalog, Config, Envelope, Event, Registry, ServiceConfig, WebhookConfig,
};
use criterion::{BenchmarkId, Criterion};

/// Counts the bytes held, to report the registry's size. Per thread and
/// without atomics, so the count costs the timed benchmarks next to
/// nothing (an atomic add per allocation slowed the allocation-heavy ones
/// by a few percent).
struct Counting;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
}

fn add(n: isize) {
    // Unavailable while the thread is torn down: not counted then.
    let _ = HELD.try_with(|held| held.set(held.get() + n));
}

fn held() -> isize {
    HELD.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        // SAFETY: allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        // SAFETY: as for `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SEEDS: [&str; 3] = [
    include_str!("../../examples/configs/ringcx.json"),
    include_str!("../../examples/configs/pbx.json"),
    include_str!("../../examples/configs/avanser.json"),
];

fn seed_services() -> Vec<ServiceConfig> {
    SEEDS
        .iter()
        .flat_map(|text| Config::from_json(text).expect("seed").services)
        .collect()
}

fn id(kind: u16, i: usize) -> String {
    format!("00000000-0000-4000-{:04x}-{i:012x}", 0x8000 | kind)
}

/// `n` tenants: the seeds' services in turn, each with one Call:Hangup
/// webhook subscribed to its tenant's scope.
fn tenants(n: usize) -> Config {
    let seeds = seed_services();
    let mut config = Config::default();
    let created_at = Some("2025-01-10T09:00:00Z".parse().expect("time"));
    for i in 0..n {
        let mut service = seeds[i % seeds.len()].clone();
        service.id = id(1, i);
        let mut webhook = WebhookConfig::new(id(2, i), Event::CallHangup, service.id.clone())
            .with_scope(format!("tenant-{i}"));
        webhook.created_at = created_at;
        config.webhooks.push(webhook);
        config.services.push(service);
    }
    config
}

fn registry(config: &Config) -> Registry {
    Registry::from_config(config, Catalog::standard().clone()).expect("loads")
}

fn quick<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    group
}

fn memory() {
    let config = tenants(100_000);
    let json = serde_json::to_vec(&config).expect("json").len();
    let before = held();
    let registry = registry(&config);
    let total = (held() - before) as usize;
    // The part of that the registry keeps as given: each service's
    // configuration as compact JSON, which `Service::to_json()` gives back.
    let kept: usize = registry
        .services()
        .iter()
        .map(|service| service.to_json().len())
        .sum();
    println!(
        "memory: 100,000 services + 100,000 webhooks: registry {} MB, JSON {} MB: {:.2}x (target <= 3x); {} bytes per tenant",
        total >> 20,
        json >> 20,
        total as f64 / json as f64,
        total / 100_000
    );
    println!(
        "  of which the configurations' JSON kept for `Service::config()`: {} MB ({:.2}x); the rest, everything compiled and indexed: {} MB ({:.2}x)",
        kept >> 20,
        kept as f64 / json as f64,
        (total - kept) >> 20,
        (total - kept) as f64 / json as f64
    );
    drop(registry);
}

fn compile(c: &mut Criterion) {
    let services = seed_services();
    let texts: Vec<String> = services
        .iter()
        .map(|s| serde_json::to_string(s).expect("json"))
        .collect();
    let mut group = quick(c, "scale_compile");
    group.bench_function("parse", |b| {
        b.iter(|| {
            for text in &texts {
                black_box(serde_json::from_str::<ServiceConfig>(black_box(text)).expect("parses"));
            }
        })
    });
    group.bench_function("compile", |b| {
        b.iter(|| {
            for service in &services {
                black_box(service.compile(Catalog::standard()).expect("compiles"));
            }
        })
    });
    group.finish();
}

fn edits(c: &mut Criterion) {
    let mut group = quick(c, "scale_edit");
    for n in [1_000usize, 100_000] {
        let config = tenants(n);
        let mut registry = registry(&config);
        let target = config.services[n / 2].clone();
        let spare = {
            let mut spare = target.clone();
            spare.id = id(3, 0);
            spare
        };
        group.bench_function(BenchmarkId::new("update_service", n), |b| {
            b.iter(|| {
                registry
                    .update_service(black_box(target.clone()))
                    .expect("updates")
            })
        });
        let mut enabled = true;
        group.bench_function(BenchmarkId::new("set_service_enabled", n), |b| {
            b.iter(|| {
                enabled = !enabled;
                registry
                    .set_service_enabled(black_box(&target.id), enabled)
                    .expect("toggles")
            })
        });
        registry
            .set_service_enabled(&target.id, true)
            .expect("enables");
        group.bench_function(BenchmarkId::new("add_remove_service", n), |b| {
            b.iter(|| {
                registry
                    .add_service(black_box(spare.clone()))
                    .expect("adds");
                registry
                    .remove_service(black_box(&spare.id))
                    .expect("removes")
            })
        });
        group.bench_function(BenchmarkId::new("clone", n), |b| {
            b.iter(|| black_box(registry.clone()))
        });
        // Per-row persistence: what a host stores for one service, and the
        // row read back into the registry.
        let row = serde_json::to_string(&target).expect("json");
        group.bench_function(BenchmarkId::new("save_row", n), |b| {
            b.iter(|| black_box(registry.service(&target.id).expect("there").to_json()))
        });
        group.bench_function(BenchmarkId::new("load_row", n), |b| {
            b.iter(|| {
                let service: ServiceConfig = serde_json::from_str(black_box(&row)).expect("parses");
                registry.update_service(service).expect("updates")
            })
        });
    }
    group.finish();
}

fn buckets(c: &mut Criterion) {
    let mut group = quick(c, "scale_bucket");
    for k in [1_000usize, 64_000] {
        let mut config = tenants(1);
        let template = config.webhooks[0].clone();
        config.webhooks = (0..k)
            .map(|i| {
                let mut webhook = template.clone();
                webhook.id = id(2, i);
                webhook.scopes = vec!["everyone".into()];
                webhook
            })
            .collect();
        let mut registry = registry(&config);
        let mut extra = template.clone();
        extra.id = id(4, 0);
        extra.scopes = vec!["everyone".into()];
        group.bench_function(BenchmarkId::new("add_remove_webhook", k), |b| {
            b.iter(|| {
                registry
                    .add_webhook(black_box(extra.clone()))
                    .expect("adds");
                registry
                    .remove_webhook(black_box(&extra.id))
                    .expect("removes")
            })
        });
    }
    group.finish();
}

fn dispatch(c: &mut Criterion) {
    let config = tenants(11);
    let registry = registry(&config);
    let call_text = include_str!("../../examples/calls/pbx-call.json");
    let mut call = Call::from_json(call_text).expect("call");
    // The PBX's CRM service, as tenant 3.
    call.scopes = vec!["tenant-3".into()];
    let service = registry.service(&id(1, 3)).expect("service");
    let at = "2024-12-02T21:11:37Z".parse().expect("time");
    assert_eq!(
        registry
            .dispatch(Event::CallHangup, &call, at)
            .requests
            .len(),
        1
    );
    let mut group = quick(c, "scale_dispatch");
    group.bench_function("service_request", |b| {
        b.iter(|| black_box(service.request(black_box(&call.data)).expect("renders")))
    });
    group.bench_function("dispatch", |b| {
        b.iter(|| black_box(registry.dispatch(Event::CallHangup, black_box(&call), at)))
    });
    group.finish();
}

fn xml(c: &mut Criterion) {
    let template = Template::compile("#agent_username#", Context::XmlText, &Options::default())
        .expect("compiles");
    let texts = [
        (
            "clean",
            "Agent Smith, inbound queue 7, wrap-up code SALE".repeat(4),
        ),
        (
            "dirty",
            "<b>Smith & Sons</b> \"quoted\" 'single' a<b&c>d".repeat(4),
        ),
        (
            "non_ascii",
            "Zoë Łukasiewicz, 東京オフィス, Müller-Straße".repeat(4),
        ),
    ];
    let mut group = quick(c, "scale_xml_escape");
    for (name, text) in &texts {
        let data = CallData::new().with("agent_username", text.as_str());
        let mut out = Vec::with_capacity(1024);
        group.bench_function(BenchmarkId::new("callhook", name), |b| {
            b.iter(|| {
                out.clear();
                template
                    .render_into(black_box(&data), &mut out)
                    .expect("renders");
                black_box(&out);
            })
        });
        group.bench_function(BenchmarkId::new("quick_xml", name), |b| {
            b.iter(|| {
                out.clear();
                let escaped = quick_xml::escape::escape(black_box(text.as_str()));
                out.extend_from_slice(escaped.as_bytes());
                black_box(&out);
            })
        });
    }
    group.finish();
}

fn envelope(c: &mut Criterion) {
    let config = tenants(11);
    let registry = registry(&config);
    let mut call =
        Call::from_json(include_str!("../../examples/calls/pbx-call.json")).expect("call");
    call.scopes = vec!["tenant-3".into()];
    let at = "2024-12-02T21:11:37Z".parse().expect("time");
    let outgoing = registry
        .dispatch(Event::CallHangup, &call, at)
        .requests
        .remove(0);
    let envelope = Envelope::new(&outgoing, at);
    let mut group = quick(c, "scale_envelope");
    group.bench_function("round_trip", |b| {
        b.iter(|| {
            let stored = envelope.to_json();
            let back = Envelope::from_json(&stored).expect("reads");
            black_box(back.into_outgoing().expect("request"))
        })
    });
    group.bench_function("round_trip_by_reference", |b| {
        b.iter(|| {
            let stored = serde_json::to_string(&envelope).expect("json");
            let back: Envelope = serde_json::from_str(&stored).expect("reads");
            black_box(back.to_outgoing().expect("request"))
        })
    });
    group.finish();
}

/// The median of one benchmark from criterion's own record of this run.
fn median(dir: &Path, group: &str, id: &str) -> Option<f64> {
    let path = dir.join(group).join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let estimates: serde_json::Value = serde_json::from_str(&text).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

fn ratios(dir: &Path) {
    let rows: [(&str, &str, &str, &str, &str); 13] = [
        (
            "compile / parse of the same services",
            "scale_compile",
            "compile",
            "parse",
            "<= 2",
        ),
        (
            "update_service, 100k / 1k",
            "scale_edit",
            "update_service/100000",
            "update_service/1000",
            "<= 1.5",
        ),
        (
            "set_service_enabled, 100k / 1k",
            "scale_edit",
            "set_service_enabled/100000",
            "set_service_enabled/1000",
            "<= 1.5",
        ),
        (
            "add + remove_service, 100k / 1k",
            "scale_edit",
            "add_remove_service/100000",
            "add_remove_service/1000",
            "<= 1.5",
        ),
        (
            "add + remove webhook, 64k / 1k in the bucket",
            "scale_bucket",
            "add_remove_webhook/64000",
            "add_remove_webhook/1000",
            "<= 1.5",
        ),
        (
            "save one service row, 100k / 1k",
            "scale_edit",
            "save_row/100000",
            "save_row/1000",
            "<= 1.5",
        ),
        (
            "load one service row, 100k / 1k",
            "scale_edit",
            "load_row/100000",
            "load_row/1000",
            "<= 1.5",
        ),
        (
            "Registry::clone, 100k / 1k",
            "scale_edit",
            "clone/100000",
            "clone/1000",
            "(<= 50 ms at 100k)",
        ),
        (
            "dispatch / Service::request",
            "scale_dispatch",
            "dispatch",
            "service_request",
            "<= 2",
        ),
        (
            "XML escape, clean: callhook / quick-xml",
            "scale_xml_escape",
            "callhook/clean",
            "quick_xml/clean",
            "<= 1",
        ),
        (
            "XML escape, dirty: callhook / quick-xml",
            "scale_xml_escape",
            "callhook/dirty",
            "quick_xml/dirty",
            "<= 1",
        ),
        (
            "XML escape, non-ASCII: callhook / quick-xml",
            "scale_xml_escape",
            "callhook/non_ascii",
            "quick_xml/non_ascii",
            "<= 1",
        ),
        (
            "envelope round trip: by value / by reference",
            "scale_envelope",
            "round_trip",
            "round_trip_by_reference",
            "",
        ),
    ];
    println!("\nratios (medians of this run):");
    for (what, group, a, b, target) in rows {
        match (median(dir, group, a), median(dir, group, b)) {
            (Some(x), Some(y)) => println!(
                "  {what}: {:.2}x ({} / {}) target {target}",
                x / y,
                show(x),
                show(y)
            ),
            _ => println!("  {what}: not run"),
        }
    }
    if let Some(clone) = median(dir, "scale_edit", "clone/100000") {
        println!("  Registry::clone at 100k: {}", show(clone));
    }
}

fn show(ns: f64) -> String {
    match ns {
        ns if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.2} µs", ns / 1e3),
        ns => format!("{ns:.1} ns"),
    }
}

fn main() {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "target", "criterion"]
        .iter()
        .collect();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .configure_from_args();
    // Setting a group up can take seconds (100,000 services): only the
    // groups a filter names are set up.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |group: &str| {
        filter
            .as_deref()
            .is_none_or(|f| group.contains(f) || f.contains(group))
    };
    if wanted("scale_memory") {
        memory();
    }
    type Group = (&'static str, fn(&mut Criterion));
    let groups: [Group; 6] = [
        ("scale_compile", compile),
        ("scale_edit", edits),
        ("scale_bucket", buckets),
        ("scale_dispatch", dispatch),
        ("scale_xml_escape", xml),
        ("scale_envelope", envelope),
    ];
    for (group, run) in groups {
        if wanted(group) {
            run(&mut c);
        }
    }
    c.final_summary();
    ratios(&dir);
}
