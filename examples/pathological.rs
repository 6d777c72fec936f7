//! Times the inputs that once made callhook slow or hungry, and prints how
//! long each took and the most memory its process ever held. It asserts
//! nothing: the machines it runs on are shared and noisy, so the figures are
//! for reading, not for failing a build.
//!
//! ```text
//! cargo run --release --example pathological              # every case
//! cargo run --release --example pathological -- CASE [N]  # one case
//! ```
//!
//! The cases, each with its default `N`:
//!
//! - `placeholders`: a JSON template of `N` placeholders (10,000, 20,000
//!   and 40,000 when every case runs; 10,000 alone).
//! - `unclosed`: `[[a|` `N` times and no `]]` (80,000).
//! - `registry`: a configuration of `N` webhooks, on one service, event and
//!   scope (40,000).
//! - `suggest`: a template naming an unknown field `N` bytes long
//!   (4,000,000).
//! - `event`: an event name `N` bytes long (4,000,000).
//! - `calldata`: call data of one 100 KB key over `N` leaves (20,000).
//! - `verify`: a 1 MB body against `N` signatures, none of which matches
//!   (1,000).
//! - `headers`: a service of `N` static headers (30,000; from 24,574 they
//!   panicked inside `http::HeaderMap`, and are now refused past
//!   `limits::HEADERS`).
//! - `map`: one form pair of `N` placeholders with a value map of
//!   `limits::MAP_ENTRIES` entries (4,000; the map was copied for each
//!   placeholder, 2.4 GB for 4,000 of each).
//! - `unknown`: a service naming `N` unknown fields over a catalog of
//!   `limits::FIELDS` declared ones (18,000; each searched every field for
//!   a "did you mean", three minutes in all).
//!
//! Each case prints one line: the case, the time of the operation alone
//! (building the input is not counted), what it returned, and the peak
//! resident memory of the process (`VmHWM` in `/proc/self/status`; Linux
//! only, `n/a` elsewhere). Peak memory is per process, so with no arguments
//! every case runs in a child process of its own, under `timeout 120` and
//! `ulimit -v 8000000` (about 8 GB of address space) where `bash` is found,
//! and a case that runs away prints "did not finish in 120 s" or "out of
//! memory" instead of holding the machine.

use std::fmt::Write as _;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use callhook::signing::{verify_standard, SigningKey, TOLERANCE_SECONDS};
use callhook::template::{Context, Options, Template};
use callhook::Syntax;
use callhook::{
    BodyConfig, CallData, Catalog, Config, Event, FieldSpec, FieldType, Pair, Registry,
    ServiceConfig,
};

/// Each case and its default `N`.
const CASES: [(&str, usize); 10] = [
    ("placeholders", 10_000),
    ("unclosed", 80_000),
    ("registry", 40_000),
    ("suggest", 4_000_000),
    ("event", 4_000_000),
    ("calldata", 20_000),
    ("verify", 1_000),
    ("headers", 30_000),
    ("map", 4_000),
    ("unknown", 18_000),
];

/// The sizes the run of every case compiles placeholders at.
const PLACEHOLDER_SIZES: [usize; 3] = [10_000, 20_000, 40_000];

const TIMEOUT_SECONDS: u32 = 120;
const MEMORY_LIMIT_KB: u64 = 8_000_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (case, n) = match args.as_slice() {
        [] => return run_all(),
        [case] => (case.as_str(), None),
        [case, n] => match n.replace('_', "").parse() {
            Ok(n) => (case.as_str(), Some(n)),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    let Some(&(case, default)) = CASES.iter().find(|(name, _)| *name == case) else {
        return usage();
    };
    let n = n.unwrap_or(default);
    let (elapsed, outcome) = match case {
        "placeholders" => placeholders(n),
        "unclosed" => unclosed(n),
        "registry" => registry(n),
        "suggest" => suggest(n),
        "event" => event(n),
        "calldata" => calldata(n),
        "headers" => headers(n),
        "map" => map(n),
        "unknown" => unknown(n),
        _ => verify(n),
    };
    println!(
        "{case} {n}: {}, peak RSS {} ({outcome})",
        seconds(elapsed),
        peak_rss()
    );
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    let names: Vec<&str> = CASES.iter().map(|(name, _)| *name).collect();
    eprintln!(
        "usage: pathological [CASE [N]]\n  CASE is one of: {}",
        names.join(", ")
    );
    ExitCode::from(2)
}

/// A JSON template of `n` placeholders, each a string value of its own key.
fn placeholders(n: usize) -> (Duration, String) {
    let mut source = String::from("{");
    for i in 0..n {
        let comma = if i == 0 { "" } else { ", " };
        write!(source, "{comma}\"a{i}\": \"#agent_id#\"").unwrap();
    }
    source.push('}');
    timed(|| Template::compile(&source, Context::Json, &Options::default()))
}

/// `[[a|` `n` times: every placeholder opens, none closes.
fn unclosed(n: usize) -> (Duration, String) {
    let source = "[[a|".repeat(n);
    let options = Options::default().with_syntax(Syntax::Brackets);
    timed(|| Template::compile(&source, Context::Plain, &options))
}

/// A configuration of one service and `n` webhooks on it, all for the same
/// event and scope, loaded from its JSON text.
fn registry(n: usize) -> (Duration, String) {
    let service = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    let mut text = format!(
        r##"{{"services": [{{"id": "{service}", "name": "Calls to the CRM", "method": "POST", "url": "https://crm.example.com/pbx/calls", "body": {{"kind": "json", "template": "{{\"uuid\": \"#uuid#\"}}"}}}}], "webhooks": ["##
    );
    for i in 0..n {
        let comma = if i == 0 { "" } else { ", " };
        write!(
            text,
            r#"{comma}{{"id": "00000000-0000-4000-8000-{i:012x}", "enabled": true, "event": "Call:Hangup", "service": "{service}", "created_at": "2024-11-30T10:00:00Z", "scopes": ["ITD2024"]}}"#
        )
        .unwrap();
    }
    text.push_str("]}");
    timed(|| {
        let config = Config::from_json(&text)?;
        Registry::from_config(&config, Catalog::standard().clone())
    })
}

/// A placeholder naming an unknown field `n` bytes long, which the error
/// answers with the nearest known name.
fn suggest(n: usize) -> (Duration, String) {
    let source = format!("#{}#", "a".repeat(n));
    timed(|| Template::compile(&source, Context::Plain, &Options::default()))
}

/// An unknown event name `n` bytes long.
fn event(n: usize) -> (Duration, String) {
    let name = "x".repeat(n);
    timed(|| name.parse::<Event>())
}

/// `{"<100 KB key>": {"0": 0, "1": 0, ...}}`: flattened with dots, every one
/// of the `n` leaves would be named by the whole key.
fn calldata(n: usize) -> (Duration, String) {
    let mut text = format!("{{\"{}\":{{", "k".repeat(100_000));
    for i in 0..n {
        let comma = if i == 0 { "" } else { "," };
        write!(text, "{comma}\"{i}\":0").unwrap();
    }
    text.push_str("}}");
    timed(|| CallData::from_json(&text))
}

/// A 1 MB body against a `webhook-signature` header of `n` `v1`
/// signatures, none of which matches.
fn verify(n: usize) -> (Duration, String) {
    let key = SigningKey::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let body = vec![b'x'; 1_000_000];
    let mut headers = http::HeaderMap::new();
    headers.insert("webhook-id", "msg_1".parse().unwrap());
    headers.insert("webhook-timestamp", "1733173900".parse().unwrap());
    let signatures = vec!["v1,AA=="; n].join(" ");
    headers.insert("webhook-signature", signatures.parse().unwrap());
    let now = chrono::DateTime::from_timestamp(1_733_173_960, 0).unwrap();
    let tolerance = chrono::TimeDelta::seconds(TOLERANCE_SECONDS);
    timed(|| verify_standard(&[key], &headers, &body, now, tolerance))
}

const SERVICE: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

/// A service of `n` distinct static headers.
fn headers(n: usize) -> (Duration, String) {
    let mut service = ServiceConfig::new(SERVICE, "https://crm.example.com/calls");
    for i in 0..n {
        service = service.with_header(format!("X-H{i}"), "1");
    }
    timed(|| service.compile(Catalog::standard()))
}

/// One form pair whose value is `n` placeholders, with a value map as
/// large as allowed.
fn map(n: usize) -> (Duration, String) {
    let mut pair = Pair::new("codes", "#agent_disposition#,".repeat(n));
    pair.map = (0..callhook::limits::MAP_ENTRIES)
        .map(|i| (format!("CODE{i}"), format!("Code {i}")))
        .collect();
    let service = ServiceConfig::new(SERVICE, "https://crm.example.com/calls")
        .with_body(BodyConfig::Form { pairs: vec![pair] });
    timed(|| service.compile(Catalog::standard()))
}

/// A service naming `n` unknown fields, each near one of as many declared
/// fields as a configuration may hold.
fn unknown(n: usize) -> (Duration, String) {
    let mut catalog = Catalog::standard().clone();
    for i in 0..callhook::limits::FIELDS {
        catalog = catalog.with(FieldSpec::new(format!("field_{i:06}"), FieldType::Text));
    }
    let value: String = (0..n).map(|i| format!("#fiald_{i:06}#")).collect();
    let service =
        ServiceConfig::new(SERVICE, "https://crm.example.com/calls").with_body(BodyConfig::Form {
            pairs: vec![Pair::new("k", value)],
        });
    timed(|| service.compile(&catalog))
}

/// How long `f` took, and whether it succeeded (the error's kind only: a
/// message can quote the whole input).
fn timed<T>(f: impl FnOnce() -> Result<T, callhook::Error>) -> (Duration, String) {
    let start = Instant::now();
    let result = f();
    let elapsed = start.elapsed();
    let outcome = match &result {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("error: {:?}", e.kind()),
    };
    (elapsed, outcome)
}

fn seconds(elapsed: Duration) -> String {
    let s = elapsed.as_secs_f64();
    if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// The process's peak resident memory so far, from Linux's `VmHWM`.
fn peak_rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().strip_suffix("kB")?.trim().parse::<u64>().ok());
    match kb {
        Some(kb) => megabytes(kb * 1024),
        None => "n/a".to_owned(),
    }
}

fn megabytes(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // a figure to read, not to compute with
    let mb = bytes as f64 / 1e6;
    if mb < 1000.0 {
        format!("{mb:.1} MB")
    } else {
        format!("{:.2} GB", mb / 1e3)
    }
}

/// Runs every case in a process of its own, so each peak is its own.
fn run_all() -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("cannot find this program to run its cases: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut runs: Vec<(&str, usize)> = PLACEHOLDER_SIZES
        .iter()
        .map(|&n| ("placeholders", n))
        .collect();
    runs.extend(CASES.iter().skip(1).copied());
    let mut failed = false;
    for (case, n) in runs {
        // `bash -c` sets the memory cap for the case alone, then `timeout`
        // runs it; without bash, the case runs unguarded.
        let guard = format!("ulimit -v {MEMORY_LIMIT_KB} && exec timeout {TIMEOUT_SECONDS} \"$@\"");
        let guarded = Command::new("bash")
            .args(["-c", &guard, "bash"])
            .arg(&exe)
            .args([case, &n.to_string()])
            .output();
        let output = match guarded {
            Ok(output) => output,
            Err(_) => match Command::new(&exe).args([case, &n.to_string()]).output() {
                Ok(output) => output,
                Err(e) => {
                    println!("{case} {n}: could not run: {e}");
                    failed = true;
                    continue;
                }
            },
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() {
            print!("{stdout}");
        } else if output.status.code() == Some(124) {
            println!("{case} {n}: did not finish in {TIMEOUT_SECONDS} s");
        } else if stderr.contains("memory allocation of") || stderr.contains("capacity overflow") {
            println!(
                "{case} {n}: out of memory (over {} of address space)",
                megabytes(MEMORY_LIMIT_KB * 1024)
            );
        } else {
            let last = stderr.lines().last().unwrap_or("");
            println!("{case} {n}: failed ({}): {last}", output.status);
            failed = true;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
