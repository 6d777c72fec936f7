//! Configuration text, as a host loads it: `Config::from_json`, then
//! `Registry::from_config`. Errors are expected; a panic, a hang or a huge
//! allocation is a bug. A configuration that loads is also dispatched for
//! every event with the sample calls of `examples/calls/` (in every scope
//! its webhooks subscribe to), and signed, so the compiled templates run;
//! what dispatch builds must always pass the check before signing.
#![no_main]

use std::sync::OnceLock;

use callhook::{Call, Catalog, Config, Event, Registry};
use libfuzzer_sys::fuzz_target;

/// The sample calls: a PBX call, a RingCX call transferred between two
/// agents (segments), and an AVANSER call (realtime updates).
fn calls() -> &'static [Call] {
    static CALLS: OnceLock<Vec<Call>> = OnceLock::new();
    CALLS.get_or_init(|| {
        [
            include_str!("../../examples/calls/pbx-call.json"),
            include_str!("../../examples/calls/ringcx-transfer.json"),
            include_str!("../../examples/calls/avanser-call.json"),
        ]
        .iter()
        .map(|text| Call::from_json(text).expect("sample call"))
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // With CALLHOOK_FUZZ_DEBUG set, says why an input stops where it does.
    let debug = std::env::var_os("CALLHOOK_FUZZ_DEBUG").is_some();
    let config = match Config::from_json(text) {
        Ok(config) => config,
        Err(e) => {
            if debug {
                eprintln!("not a configuration: {e}");
            }
            return;
        }
    };
    let registry = match Registry::from_config(&config, Catalog::standard().clone()) {
        Ok(registry) => registry,
        Err(e) => {
            if debug {
                eprintln!("does not compile: {e}");
            }
            return;
        }
    };
    // A finding, fixed: a strftime pattern with the parse-only item `%#z`
    // loaded and panicked in every render; it is now refused at load.
    let at = chrono::DateTime::from_timestamp(1_733_173_897, 0).unwrap();
    // Each sample call, in every scope the configuration subscribes to, so
    // that its webhooks fire.
    let scopes: Vec<String> = config
        .webhooks
        .iter()
        .flat_map(|w| w.scopes.iter().cloned())
        .take(16)
        .collect();
    for sample in calls() {
        let mut call = sample.clone();
        call.scopes.extend(scopes.iter().cloned());
        for event in Event::ALL {
            let requests = registry.dispatch(event.clone(), &call, at).requests;
            if debug {
                eprintln!("{event}: {} requests", requests.len());
            }
            for mut outgoing in requests {
                // What callhook builds, it signs: a dispatched request
                // passes the check every stored one must pass.
                if let Err(e) = registry.sign(&mut outgoing, at) {
                    panic!("a dispatched request was refused: {e}");
                }
            }
        }
        let _ = registry.status_change(&call, "answered", 1, at);
    }
    let _ = serde_json::to_string(&registry.to_config());
});
