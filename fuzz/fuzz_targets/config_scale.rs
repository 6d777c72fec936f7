//! Configurations at scale, built from a few bytes: thousands of headers,
//! pairs, map entries and placeholders, up to and past every limit of
//! `callhook::limits`, compiled with `ServiceConfig::compile`.
//!
//! Input: a 16-byte header, little-endian, then a seed for the text:
//!
//! | bytes | what |
//! |---|---|
//! | 0 | body: low 2 bits form, JSON pairs, XML pairs, SOAP; bit 2 `GET` (not with SOAP); bit 3 a JSON `template` instead of pairs; bit 4 huge counts (times 400) |
//! | 1..3 | headers (modulo twice `HEADERS` + 2) |
//! | 3..5 | pairs (modulo twice `PAIRS` + 2) |
//! | 5..7 | map entries, in one header and every pair (modulo twice `MAP_ENTRIES` + 2) |
//! | 7..9 | placeholders in each value (modulo 600) |
//! | 9..11 | literal bytes between placeholders (modulo 2,048), and the URL's path is 64 times as long |
//!
//! Values are cut down so that all the text built stays within a budget
//! (four times `TEMPLATE_BYTES`), still enough to pass every limit.
//! | 11 | the retry schedule's delay, in seconds (modulo 4) |
//! | 12..16 | `max_attempts` (at least 1) |
//!
//! The rest of the input seeds the literal text (letters and digits) and
//! which headers are templated.
//!
//! A bug: a panic, a hang or a huge allocation; a load that fails with a
//! problem that names no limit (everything built here is valid but for its
//! size); a service that loads but does not render.
#![no_main]

use std::collections::BTreeMap;
use std::time::Duration;

use callhook::{limits, BodyConfig, CallData, Catalog, Method, Pair, RetryPolicy, ServiceConfig};
use libfuzzer_sys::fuzz_target;

fn le16(data: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([data[at], data[at + 1]]))
}

/// Letters and digits from the seed, `n` of them.
fn text(seed: &[u8], salt: usize, n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let byte = |i: usize| match seed {
        [] => i as u8,
        _ => seed[(i + salt) % seed.len()].wrapping_add((i / seed.len().max(1)) as u8),
    };
    (0..n)
        .map(|i| char::from(ALPHABET[usize::from(byte(i)) % ALPHABET.len()]))
        .collect()
}

/// A value template: `placeholders` placeholders, `literal` bytes of text
/// before each and after the last.
fn value(seed: &[u8], salt: usize, placeholders: usize, literal: usize) -> String {
    let mut out = String::new();
    for i in 0..placeholders {
        out.push_str(&text(seed, salt + i, literal));
        out.push_str(if i % 2 == 0 { "#ani#" } else { "#agent_id#" });
    }
    out.push_str(&text(seed, salt, literal));
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let (header, seed) = data.split_at(16);
    let flags = header[0];
    let huge = if flags & 0x10 != 0 { 400 } else { 1 };
    let headers = le16(header, 1) % (2 * limits::HEADERS + 2) * huge;
    let pairs = le16(header, 3) % (2 * limits::PAIRS + 2) * huge;
    let entries = le16(header, 5) % (2 * limits::MAP_ENTRIES + 2);
    // The text built is held to a budget, four times the largest limit in
    // bytes, so that an input is a configuration past the limits and not
    // minutes of building one.
    let budget = 4 * limits::TEMPLATE_BYTES / headers.max(pairs).max(1);
    let literal = (le16(header, 9) % 2_048).min(budget);
    let placeholders = (le16(header, 7) % 600).min(budget / (literal + 10));
    let delay = u64::from(header[11] % 4);
    let max_attempts = u32::from_le_bytes(header[12..16].try_into().unwrap()).max(1);

    let map: BTreeMap<String, String> = (0..entries)
        .map(|i| (format!("{i}"), text(seed, i, 8)))
        .collect();
    let pair = |i: usize, templated: bool| {
        Pair::new(
            format!("k{i}"),
            if templated {
                value(seed, i, placeholders, literal)
            } else {
                text(seed, i, literal)
            },
        )
    };
    let mut body_pairs: Vec<Pair> = (0..pairs).map(|i| pair(i, true)).collect();
    if let Some(first) = body_pairs.first_mut() {
        first.map = map.clone();
    }
    let soap = flags & 0b11 == 3;
    let body = match flags & 0b11 {
        0 => BodyConfig::Form { pairs: body_pairs },
        1 if flags & 0x08 != 0 => BodyConfig::Json {
            template: Some(format!(
                "{{\"a\": \"{}\"}}",
                value(
                    seed,
                    0,
                    (placeholders * pairs.max(1)).min(budget / (literal + 10)),
                    literal
                )
            )),
            pairs: Vec::new(),
        },
        1 => BodyConfig::Json {
            template: None,
            pairs: body_pairs,
        },
        2 => BodyConfig::Xml {
            template: None,
            root: None,
            pairs: body_pairs,
        },
        _ => BodyConfig::Soap {
            version: Default::default(),
            namespace: "urn:crm".into(),
            operation: "CallEnded".into(),
            action: "urn:crm/CallEnded".into(),
            port: None,
            service: None,
            parameters: body_pairs,
        },
    };
    let mut headers: Vec<Pair> = (0..headers)
        .map(|i| {
            let templated = seed.get(i % seed.len().max(1)).is_some_and(|b| b & 1 == 1);
            let mut pair = pair(i, templated);
            pair.key = format!("X-H{i}");
            pair
        })
        .collect();
    if let Some(first) = headers.first_mut() {
        first.map = map;
    }
    let path = text(seed, 7, 64 * literal);
    let mut retry = RetryPolicy::default();
    retry.schedule = vec![Duration::from_secs(delay)];
    retry.max_attempts = max_attempts;
    let mut config = ServiceConfig::new(
        "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b",
        format!("https://crm.example.com/{path}/#ani#"),
    )
    .with_method(if flags & 0x04 != 0 && !soap {
        Method::Get
    } else {
        Method::Post
    })
    .with_body(body)
    .with_retry(retry);
    config.headers = headers;
    let service = match config.compile(Catalog::standard()) {
        Ok(service) => service,
        Err(e) => {
            let problems = match e.related() {
                [] => std::slice::from_ref(&e),
                many => many,
            };
            for problem in problems {
                assert!(
                    problem.message().contains("(`limits::"),
                    "a problem that names no limit: {problem}"
                );
            }
            return;
        }
    };
    let call = CallData::new().with("ani", "555").with("agent_id", "1001");
    if let Err(e) = service.request(&call) {
        panic!("a service that loads does not render: {e}");
    }
});
