//! What loading and rendering cost up to each limit of the `limits`
//! module, counted by a global allocator at a quarter, a half and the whole
//! of the limit: counts, not times, so they hold on any machine. Cost must
//! grow no faster than the input: the cost of each unit (a header, a pair,
//! a map entry, a placeholder, a byte) at the limit is at most
//! `TOLERANCE` times what it is at a quarter of it. Run with
//! `--nocapture` for the figures.

#[path = "common/counting.rs"]
mod counting;

use counting::{get, ALLOCATIONS, BYTES};

use callhook::template::{Context, Options, Template};
use callhook::{limits, CallData, Catalog, ServiceConfig};
use serde_json::json;

/// How far the cost of one unit at the limit may be from its cost at a
/// quarter of it. Growth by doubling keeps a linear cost within 2 of
/// itself; the map copied per placeholder was 4 (and 16 from a quarter).
const TOLERANCE: f64 = 1.5;

/// Allocations and bytes allocated (freed or not) by `f`.
fn cost<T>(f: impl FnOnce() -> T) -> [usize; 2] {
    let (a, b) = (get(&ALLOCATIONS), get(&BYTES));
    let out = f();
    let spent = [get(&ALLOCATIONS) - a, get(&BYTES) - b];
    drop(out);
    spent
}

/// Measures `run(n)` (which returns the cost of what it measures) at none,
/// a quarter, a half and all of `limit`, prints the figures, and asserts
/// that what each unit costs above `run(0)` does not grow with `n`.
fn linear(what: &str, limit: usize, run: impl Fn(usize) -> [usize; 2]) {
    let base = run(0);
    let points = [limit / 4, limit / 2, limit];
    let per_unit: Vec<[f64; 2]> = points
        .iter()
        .map(|&n| {
            let spent = run(n);
            println!(
                "{what}, n = {n}: {} allocations, {} bytes",
                spent[0], spent[1]
            );
            [0, 1].map(|i| spent[i].saturating_sub(base[i]) as f64 / n as f64)
        })
        .collect();
    // A constant is not growth: one allocation more once a request crosses
    // a size (the `Content-Length` value of a body of 10,000 bytes or more)
    // is not counted against a unit.
    let slack = [1.0, 0.0];
    for (i, unit) in ["allocations", "bytes"].iter().enumerate() {
        let quarter = per_unit[0][i].max(f64::MIN_POSITIVE);
        for (n, cost) in points.iter().zip(&per_unit).skip(1) {
            let ratio = (cost[i] - slack[i] / *n as f64).max(0.0) / quarter;
            println!(
                "{what}: {unit} per unit at n = {n} are {ratio:.2} times those at n = {}",
                points[0]
            );
            assert!(
                ratio <= TOLERANCE,
                "{what}: {unit} per unit grew {ratio:.2} times from n = {} to n = {n}",
                points[0]
            );
        }
    }
}

fn service(fields: serde_json::Value) -> ServiceConfig {
    let mut base = json!({
        "id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "name": "s", "method": "POST",
        "url": "https://crm.example.com/calls",
    });
    base.as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    serde_json::from_value(base).unwrap()
}

fn data() -> CallData {
    CallData::new().with("ani", "555").with("agent_id", "1001")
}

/// Loads `config` and renders one request, and returns the cost of
/// loading and the cost of rendering.
fn load_and_render(config: &ServiceConfig) -> ([usize; 2], [usize; 2]) {
    let mut compiled = None;
    let load = cost(|| compiled = Some(config.compile(Catalog::standard()).unwrap()));
    let compiled = compiled.unwrap();
    let data = data();
    let render = cost(|| compiled.request(&data).unwrap());
    (load, render)
}

fn warm_up() {
    drop(service(json!({})).compile(Catalog::standard()).unwrap());
}

/// Both measures of a service that `make(n)` configures: loading and
/// rendering.
fn service_costs(what: &str, limit: usize, make: impl Fn(usize) -> ServiceConfig) {
    warm_up();
    linear(&format!("{what}, loading"), limit, |n| {
        load_and_render(&make(n)).0
    });
    linear(&format!("{what}, rendering"), limit, |n| {
        load_and_render(&make(n)).1
    });
}

/// `limits::HEADERS` templated headers.
#[test]
fn headers_cost_linearly() {
    service_costs("templated headers", limits::HEADERS, |n| {
        let headers: Vec<_> = (0..n)
            .map(|i| json!({"key": format!("X-H{i}"), "value": "a #ani# b"}))
            .collect();
        service(json!({ "headers": headers }))
    });
}

/// `limits::PAIRS` form pairs.
#[test]
fn pairs_cost_linearly() {
    service_costs("form pairs", limits::PAIRS, |n| {
        let pairs: Vec<_> = (0..n)
            .map(|i| json!({"key": format!("k{i}"), "value": "#ani#"}))
            .collect();
        service(json!({"body": {"kind": "form", "pairs": pairs}}))
    });
}

/// The finding: one pair's value map was copied for each placeholder of
/// its value, so a pair with both many placeholders and a large map cost
/// their product (4,000 of each: 8-11 s and 2.4 GB). Here the map grows to
/// `limits::MAP_ENTRIES` entries and the value to four times as many
/// placeholders together: linear now, quadratic before.
#[test]
fn maps_cost_linearly_however_many_placeholders_share_them() {
    service_costs(
        "map entries with 4 placeholders each",
        limits::MAP_ENTRIES,
        |n| {
            let map: serde_json::Map<_, _> = (0..n)
                .map(|i| (format!("code-{i}"), json!(format!("Code {i}"))))
                .collect();
            let value = "#ani#,".repeat(4 * n);
            service(json!({"body": {"kind": "form", "pairs": [
                {"key": "codes", "value": value, "map": map}
            ]}}))
        },
    );
}

/// `limits::PLACEHOLDERS` placeholders in one template, compiled and
/// rendered by the engine itself.
#[test]
fn placeholders_cost_linearly() {
    warm_up();
    let compile = |n: usize| {
        Template::compile(&"#ani# ".repeat(n), Context::Plain, &Options::default()).unwrap()
    };
    linear("placeholders, compiling", limits::PLACEHOLDERS, |n| {
        let source = "#ani# ".repeat(n);
        cost(|| Template::compile(&source, Context::Plain, &Options::default()).unwrap())
    });
    linear("placeholders, rendering", limits::PLACEHOLDERS, |n| {
        let template = compile(n);
        let data = data();
        cost(|| template.render(&data).unwrap())
    });
}

/// A JSON body template of up to `limits::TEMPLATE_BYTES`, a placeholder
/// in every 64 bytes.
#[test]
fn body_template_bytes_cost_linearly() {
    service_costs("body template bytes", limits::TEMPLATE_BYTES, |n| {
        let chunk = format!("{}#ani#", "a".repeat(59));
        let text: String = chunk.repeat(n.saturating_sub(9) / 64);
        let pad = n.saturating_sub(9 + text.len());
        let template = format!("{{\"a\": \"{text}{}\"}}", "b".repeat(pad));
        service(json!({"body": {"kind": "json", "template": template}}))
    });
}

/// A URL of up to `limits::URL_BYTES`, a placeholder in every 64 bytes of
/// its path.
#[test]
fn url_bytes_cost_linearly() {
    service_costs("URL bytes", limits::URL_BYTES, |n| {
        let base = "https://crm.example.com/";
        let chunk = format!("{}#ani#/", "a".repeat(58));
        let path: String = chunk.repeat(n.saturating_sub(base.len()) / 64);
        let pad = n.saturating_sub(base.len() + path.len());
        service(json!({ "url": format!("{base}{path}{}", "b".repeat(pad)) }))
    });
}

/// One header value of up to `limits::HEADER_BYTES`, a placeholder in
/// every 64 bytes.
#[test]
fn header_bytes_cost_linearly() {
    service_costs("header value bytes", limits::HEADER_BYTES, |n| {
        let chunk = format!("{}#ani#", "a".repeat(59));
        let value: String = chunk.repeat(n / 64);
        let pad = n - value.len();
        service(
            json!({"headers": [{"key": "X-A", "value": format!("{value}{}", "b".repeat(pad))}]}),
        )
    });
}

/// One XML element with as many attributes as a body template of
/// `limits::TEMPLATE_BYTES` holds (`a12345="1"`, up to 11 bytes each).
/// Loading checks every attribute for duplicates, by name and by namespace:
/// quick-xml's own check compared each with every earlier one (20,000 took
/// 14 s in a debug build); callhook's keeps a hash set, whose allocations are
/// counted here.
#[test]
fn xml_attributes_cost_linearly() {
    service_costs(
        "XML attributes of one element",
        limits::TEMPLATE_BYTES / 12,
        |n| {
            let attributes: String = (0..n).map(|i| format!(" a{i}=\"1\"")).collect();
            let template = format!("<r xmlns:p=\"urn:p\"{attributes} p:b=\"#ani#\"/>");
            assert!(template.len() <= limits::TEMPLATE_BYTES);
            service(json!({"body": {"kind": "xml", "template": template}}))
        },
    );
}

/// A fallback URL of up to `limits::URL_BYTES`, a placeholder in every 64
/// bytes of its path, beside the URL: compiled by the URL's own code, so
/// as linear to load.
#[test]
fn fallback_url_bytes_cost_linearly() {
    warm_up();
    linear("fallback URL bytes, loading", limits::URL_BYTES, |n| {
        let base = "https://standby.example.com/";
        let chunk = format!("{}#ani#/", "a".repeat(58));
        let path: String = chunk.repeat(n.saturating_sub(base.len()) / 64);
        let pad = n.saturating_sub(base.len() + path.len());
        let config = service(json!({
            "fallback_urls": [format!("{base}{path}{}", "b".repeat(pad))],
        }));
        load_and_render(&config).0
    });
}
