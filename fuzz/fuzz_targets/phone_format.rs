//! Arbitrary text through every phone placeholder option, in every region
//! of the phone table and none, at sizes up to and past the render limit.
//!
//! Input:
//!
//! | bytes | what |
//! |---|---|
//! | 0 | the service's `phone_region`: modulo 9, `AU`, `US`, `GB`, `IL`, `DE`, `IN`, `BR`, `JP` or none |
//! | 1..3 | how many times the text is repeated, little-endian (modulo 65,536; 0 and 1 alike) |
//! | 3.. | the text (lossy UTF-8), the value of `ani` |
//!
//! One JSON body holds every phone option (`e164`, `national`,
//! `international`, `digits`, `last:N` for N of 1 to 15, `mask:N`, `npa`,
//! `nxx`, each also `:strict`) once, and a `Header` and a URL query render
//! some too, so a value is parsed by each.
//!
//! A bug: a panic (the `phonenumber` crate has had fuzz-found ones), a hang
//! or a huge allocation; a body that is not JSON or loses a key; a value
//! that is neither the text unchanged (not a phone number: it passes
//! through), nor empty under `:strict`, nor of its form (`+` and digits for
//! `e164`, digits for `digits`, `last:N`, `npa` and `nxx`, `*` then digits
//! for `mask:N`).
#![no_main]

use std::sync::OnceLock;

use callhook::{BodyConfig, CallData, Catalog, Method, Service, ServiceConfig};
use libfuzzer_sys::fuzz_target;

const REGIONS: [Option<&str>; 9] = [
    Some("AU"),
    Some("US"),
    Some("GB"),
    Some("IL"),
    Some("DE"),
    Some("IN"),
    Some("BR"),
    Some("JP"),
    None,
];

/// Every phone option, as written after `phone:`.
fn options() -> Vec<String> {
    let mut all: Vec<String> = ["e164", "national", "international", "digits", "npa", "nxx"]
        .map(str::to_owned)
        .to_vec();
    for n in 1..=15 {
        all.push(format!("last:{n}"));
        all.push(format!("mask:{n}"));
    }
    let strict: Vec<String> = all.iter().map(|o| format!("{o}:strict")).collect();
    all.extend(strict);
    all
}

fn services() -> &'static Vec<Service> {
    static SERVICES: OnceLock<Vec<Service>> = OnceLock::new();
    SERVICES.get_or_init(|| {
        let options = options();
        let template = format!(
            "{{{}}}",
            options
                .iter()
                .enumerate()
                .map(|(i, o)| format!("\"{i}\": \"#ani|phone:{o}#\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        REGIONS
            .iter()
            .enumerate()
            .map(|(i, region)| {
                let mut config = ServiceConfig::new(
                    format!("5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a{i:02x}"),
                    "https://crm.example.com/calls?n=#ani|phone:e164#&m=#ani|phone:mask:4:strict#",
                )
                .with_method(Method::Post)
                .with_body(BodyConfig::Json {
                    template: Some(template.clone()),
                    pairs: Vec::new(),
                })
                .with_header("x-caller", "#ani|phone:international#");
                config.phone_region = region.map(str::to_owned);
                config
                    .compile(Catalog::standard())
                    .unwrap_or_else(|e| panic!("the phone services compile: {e}"))
            })
            .collect()
    })
}

/// Whether `got` is what option `option` may print for `text`.
fn fits(option: &str, text: &str, got: &str) -> bool {
    let strict = option.ends_with(":strict");
    if got == text || (strict && got.is_empty()) {
        return true;
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let form = option.trim_end_matches(":strict");
    match form.split(':').next().unwrap_or_default() {
        "e164" => got.strip_prefix('+').is_some_and(digits),
        "digits" => digits(got),
        "npa" | "nxx" => got.len() == 3 && digits(got),
        "last" => digits(got) && got.len() <= 15,
        "mask" => {
            let shown = got.trim_start_matches('*');
            digits(shown) && got.len() <= 17
        }
        // National and international forms are the library's own layout.
        _ => !got.is_empty(),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let region = usize::from(data[0]) % REGIONS.len();
    let repeat = usize::from(u16::from_le_bytes([data[1], data[2]])).max(1);
    let piece = String::from_utf8_lossy(&data[3..]);
    // Past the render limit at the largest, never past 8 MiB of input.
    let repeat = repeat.min((8 << 20) / piece.len().max(1)).max(1);
    let text = piece.repeat(repeat);
    let call = CallData::new().with("ani", text.as_str());
    let service = &services()[region];
    let Ok(request) = service.request(&call) else {
        // A value that cannot stand in a header (CR, LF, NUL) or a render
        // past the limit is refused, never sent.
        return;
    };
    let body: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(request.body()).expect("the body is a JSON object");
    let options = options();
    assert_eq!(body.len(), options.len(), "every key is there");
    for (i, option) in options.iter().enumerate() {
        let got = body[&i.to_string()].as_str().expect("every value is a string");
        assert!(fits(option, &text, got), "{option}: {got:?} for {text:?}");
    }
});
