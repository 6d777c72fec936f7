//! What dispatching and compiling allocate, counted by a global allocator:
//! counts, not times, so they hold on any machine.

#[path = "common/counting.rs"]
mod counting;

use counting::{get, ALLOCATIONS, BYTES, FREED};

use callhook::{Call, Catalog, Config, Event, Registry};

/// What `f` allocated: how many times, and how many bytes it still holds
/// when it returns (allocated less freed).
fn counted<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let (a, b, c) = (get(&ALLOCATIONS), get(&BYTES), get(&FREED));
    let out = f();
    let held = (get(&BYTES) - b).saturating_sub(get(&FREED) - c);
    (out, get(&ALLOCATIONS) - a, held)
}

#[test]
fn allocations_per_dispatched_request() {
    let config = Config::from_json(include_str!("../examples/configs/pbx.json")).unwrap();
    let registry = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
    let call = Call::from_json(include_str!("../examples/calls/pbx-call.json")).unwrap();
    let at = "2024-12-02T21:11:37Z".parse().unwrap();
    let _ = registry.dispatch(Event::CallHangup, &call, at);
    let (sent, allocations, _) = counted(|| registry.dispatch(Event::CallHangup, &call, at));
    assert_eq!(sent.requests.len(), 1);
    println!("allocations per dispatched request (PBX, Call:Hangup): {allocations}");
    // 33 before the redesign, 13 after it; the scale issue asks for 8 at
    // most. Left: the match list, the body, the header map (two) and the
    // list of requests (7 before `Content-Length` below 10,000 bytes was
    // static text).
    assert!(allocations <= 8, "{allocations} allocations");
}

/// A condition is evaluated without allocating: a dispatch whose
/// webhook has one (three comparisons, all holding) allocates exactly as
/// the same dispatch without it, and one whose condition fails allocates
/// only the match list and the empty list of requests.
#[test]
fn conditions_allocate_nothing_at_dispatch() {
    let call = Call::from_json(include_str!("../examples/calls/ringcx-call.json")).unwrap();
    let at = "2020-04-22T00:02:00Z".parse().unwrap();
    let load = |condition: Option<&str>| {
        let mut config =
            Config::from_json(include_str!("../examples/configs/ringcx-conditions.json")).unwrap();
        config.webhooks[0].condition =
            condition.map(|c| callhook::Condition::from_json(c).unwrap());
        Registry::from_config(&config, Catalog::standard().clone()).unwrap()
    };
    let count = |registry: &Registry| {
        let _ = registry.dispatch(Event::PostDisposition, &call, at);
        let (sent, allocations, _) =
            counted(|| registry.dispatch(Event::PostDisposition, &call, at));
        (sent.requests.len(), allocations)
    };
    let three = r#"{"all": [{"field": "agent_disposition", "in": ["sale", "callback"], "ignore_case": true},
        {"field": "duration", "greater_than": "30s"}, {"field": "ani", "starts_with": "1555"}]}"#;
    let (sent, without) = count(&load(None));
    assert_eq!(sent, 1);
    assert_eq!(count(&load(Some(three))), (1, without));
    let failing = r#"{"not": {"field": "agent_disposition", "contains": "SAL"}}"#;
    let (sent, allocations) = count(&load(Some(failing)));
    assert_eq!(sent, 0);
    assert!(allocations <= 1, "{allocations} allocations");
}

/// A whole request takes 3 allocations (the body and the header map's
/// two), and 4 with a body of 10,000 bytes or more (its `Content-Length`
/// value): 5 before, two of them for the length. The long bodies come
/// from a template that long, so that its estimate covers them.
#[test]
fn allocations_per_request() {
    let seeds = [
        (
            include_str!("../examples/configs/ringcx.json"),
            include_str!("../examples/calls/ringcx-call.json"),
            "A test web service (JSON)",
        ),
        (
            include_str!("../examples/configs/pbx.json"),
            include_str!("../examples/calls/pbx-call.json"),
            "Call fields to the CRM (POST)",
        ),
    ];
    for (config, call, name) in seeds {
        let config: serde_json::Value = serde_json::from_str(config).unwrap();
        let data = Call::from_json(call).unwrap().data;
        for long in [false, true] {
            let mut config = config.clone();
            let service = config["services"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|s| s["name"] == name)
                .unwrap();
            if long {
                let template = service["body"]["template"].as_str().unwrap();
                let padded =
                    template.replacen('{', &format!("{{\"pad\": \"{}\",", "x".repeat(10_000)), 1);
                service["body"]["template"] = padded.into();
            }
            let service: callhook::ServiceConfig = serde_json::from_value(service.clone()).unwrap();
            let service = service.compile(Catalog::standard()).unwrap();
            drop(service.request(&data).unwrap());
            let (request, allocations, _) = counted(|| service.request(&data).unwrap());
            let length = request.body().len();
            assert_eq!(long, length >= 10_000, "{name}: {length} bytes");
            println!("allocations per request ({name}, {length}-byte body): {allocations}");
            let most = if long { 4 } else { 3 };
            assert!(allocations <= most, "{name}: {allocations} allocations");
        }
    }
}

/// `Request::new` allocates nothing, so the URI and header map it makes
/// can be forgotten when `Service::request` replaces them: a leak if an
/// upgrade of `http` changed that.
#[test]
fn a_new_request_allocates_nothing() {
    let (_, allocations, _) = counted(|| http::Request::new(Vec::<u8>::new()));
    assert_eq!(allocations, 0);
}

/// What a bytes-counting allocator sees of `f`: every byte allocated,
/// freed or not.
fn allocated<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = get(&BYTES);
    let out = f();
    (out, get(&BYTES) - before)
}

#[test]
fn envelope_round_trip_bytes_per_body_byte() {
    let config = Config::from_json(include_str!("../examples/configs/pbx.json")).unwrap();
    let registry = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
    let call = Call::from_json(include_str!("../examples/calls/pbx-call.json")).unwrap();
    let at = "2024-12-02T21:11:37Z".parse().unwrap();
    let outgoing = registry
        .dispatch(Event::CallHangup, &call, at)
        .requests
        .remove(0);
    let mut envelope = callhook::Envelope::new(&outgoing, at);
    for size in [4 << 10, 256 << 10] {
        // Bytes of every value, so the base64 text is as long as it gets.
        envelope.request.body = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        // The length a request with that body has: another is refused.
        for header in &mut envelope.request.headers {
            if header.name == "content-length" {
                header.value = size.to_string();
            }
        }
        let (sent, bytes) = allocated(|| {
            let stored = envelope.to_json();
            let back = callhook::Envelope::from_json(&stored).unwrap();
            back.into_outgoing().unwrap()
        });
        assert_eq!(sent.request.body(), &envelope.request.body);
        let per_byte = bytes as f64 / size as f64;
        println!(
            "envelope round trip, {size}-byte body: {per_byte:.2} bytes allocated per body byte"
        );
        // About 8 before the scale issue, which asks for 4 at most.
        assert!(per_byte <= 4.0, "{per_byte:.2} bytes per body byte");
    }
}

#[test]
fn bytes_per_compiled_service() {
    // The standard catalog and the shared header maps are built once, on
    // first use: not here.
    let warm_up = Config::from_json(include_str!("../examples/configs/ringcx.json")).unwrap();
    drop(warm_up.services[0].compile(Catalog::standard()).unwrap());
    let mut highest: f64 = 0.0;
    for name in ["ringcx", "pbx", "avanser"] {
        let text = match name {
            "ringcx" => include_str!("../examples/configs/ringcx.json"),
            "pbx" => include_str!("../examples/configs/pbx.json"),
            _ => include_str!("../examples/configs/avanser.json"),
        };
        let config = Config::from_json(text).unwrap();
        for service in &config.services {
            let json = serde_json::to_string(service).unwrap().len();
            let (compiled, _, bytes) = counted(|| service.compile(Catalog::standard()).unwrap());
            println!(
                "{name} {}: {bytes} bytes held compiled, {json} bytes of JSON",
                service.name
            );
            drop(compiled);
            // Everything a service holds: its compiled part, shared (so on
            // the heap), and its configuration kept as JSON. Up to 8.8 times
            // the JSON before the compact templates, 5.98 before the compact
            // slots, shared header maps and the configuration kept as JSON;
            // 3.67 times for RingCX's SOAP service, and now at most 3.99 for
            // AVANSER's JSON webhook, whose Basic auth is kept apart to be
            // applied at send time (with its header made once) rather than
            // compiled into its headers.
            let ratio = bytes as f64 / json as f64;
            highest = highest.max(ratio);
            assert!(ratio <= 4.25, "{}: {bytes} bytes for {json}", service.name);
        }
    }
    println!("at most {highest:.2} times the JSON");
}

/// The scale issue's memory target, counted: a registry of tenants each
/// with one of the seeds' services and one webhook holds at most three
/// times the JSON of its configuration. 3,500 tenants, where the scale
/// benchmark has 100,000 (2.70 times there): hash tables double as they
/// fill, and 3,500 fill 4,096 slots about as full as 100,000 fill theirs
/// (2,000 tenants, in tables half empty, measure 2.84 times).
#[test]
fn a_registry_holds_under_three_times_its_json() {
    let seeds: Vec<callhook::ServiceConfig> = [
        include_str!("../examples/configs/ringcx.json"),
        include_str!("../examples/configs/pbx.json"),
        include_str!("../examples/configs/avanser.json"),
    ]
    .iter()
    .flat_map(|text| Config::from_json(text).unwrap().services)
    .collect();
    let tenants = 3_500;
    let id = |kind: u16, i: usize| format!("00000000-0000-4000-{:04x}-{i:012x}", 0x8000 | kind);
    let mut config = Config::default();
    for i in 0..tenants {
        let mut service = seeds[i % seeds.len()].clone();
        service.id = id(1, i);
        config.webhooks.push(
            callhook::WebhookConfig::new(id(2, i), Event::CallHangup, &service.id)
                .with_scope(format!("tenant-{i}"))
                .with_created_at("2025-01-10T09:00:00Z".parse().unwrap()),
        );
        config.services.push(service);
    }
    let json = serde_json::to_string(&config).unwrap().len();
    let _ = Catalog::standard();
    let (registry, _, bytes) =
        counted(|| Registry::from_config(&config, Catalog::standard().clone()).unwrap());
    let ratio = bytes as f64 / json as f64;
    println!("registry of {tenants} tenants: {bytes} bytes, {ratio:.2} times its {json}-byte JSON");
    assert!(ratio <= 3.0, "{ratio:.2} times");
    drop(registry);
}
