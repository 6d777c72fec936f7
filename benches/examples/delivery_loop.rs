//! A delivery loop: dispatch, store in an envelope, send, retry as the policy
//! says, until delivered or given up; each attempt signed with its own time.
//!
//! `cargo run -p callhook-benches --example delivery_loop`
//!
//! The sender loads `configs/signed.json` (a Standard Webhooks signed
//! service with a `Call:Hangup` webhook for the `ITD2024` environment) and a
//! PBX call, and sends with the blocking adapter (`callhook_send`, on ureq):
//! no resolver, address check or outcome mapping here. The endpoint is a
//! small receiver on 127.0.0.1 that answers the first attempt of a delivery
//! `503`, the second `429` with `Retry-After: 1`, and the third `200`, and
//! that verifies the Standard Webhooks signature of every request it gets.
//!
//! So the example ends in a few seconds, it shortens every service's retry
//! schedule to 1 s, without jitter (the configured schedule starts at 5 s
//! and grows to hours); it says so when it starts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod local;

use callhook::signing::{verify_standard, SigningKey, TOLERANCE_SECONDS};
use callhook::GiveUp;
use callhook::SigningConfig;
use callhook::{Call, Catalog, Config, Decision, Envelope, Event, Registry};
use callhook_send::{BlockingSender, Options};
use chrono::{TimeDelta, Utc};
use local::{to_local, Result};

const CONFIG: &str = include_str!("../../examples/configs/signed.json");
const CALL: &str = include_str!("../../examples/calls/pbx-call.json");

/// How long the example waits for the receiver's report of one request.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How long the whole example may run before the receiver stops by itself.
const DEADLINE: Duration = Duration::from_secs(15);

/// What the receiver thought of one request.
struct Verdict {
    delivery: String,
    verified: bool,
}

/// Starts the receiver on 127.0.0.1 (a free port) in a thread. Per delivery
/// (by `webhook-id`) it answers `503`, then `429` with `Retry-After: 1`,
/// then `200`. It verifies each request's signature with `keys` at the time
/// it gets it, prints the result and passes it on. It runs until `stop` is
/// set or [`DEADLINE`] passes.
fn start_receiver(
    keys: Vec<SigningKey>,
    stop: Arc<AtomicBool>,
) -> Result<(SocketAddr, mpsc::Receiver<Verdict>, JoinHandle<()>)> {
    let server = tiny_http::Server::http("127.0.0.1:0")?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or("the receiver has no IP address")?;
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let end = Instant::now() + DEADLINE;
        let mut seen: HashMap<String, u32> = HashMap::new();
        while !stop.load(Ordering::Relaxed) && Instant::now() < end {
            let mut request = match server.recv_timeout(Duration::from_millis(100)) {
                Ok(Some(request)) => request,
                Ok(None) => continue,
                Err(e) => {
                    eprintln!("receiver: {e}");
                    return;
                }
            };
            let mut body = Vec::new();
            if let Err(e) = request.as_reader().read_to_end(&mut body) {
                eprintln!("receiver: cannot read the body: {e}");
                continue;
            }
            let mut headers = http::HeaderMap::new();
            for h in request.headers() {
                if let (Ok(name), Ok(value)) = (
                    http::HeaderName::try_from(h.field.to_string()),
                    http::HeaderValue::try_from(h.value.as_str()),
                ) {
                    headers.append(name, value);
                }
            }
            let delivery = headers
                .get("webhook-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            // Verified against the receiver's own clock, as a real receiver
            // does.
            let verified = match verify_standard(
                &keys,
                &headers,
                &body,
                Utc::now(),
                TimeDelta::seconds(TOLERANCE_SECONDS),
            ) {
                Ok(()) => {
                    println!("  receiver: signature ok ({} bytes)", body.len());
                    true
                }
                Err(e) => {
                    println!("  receiver: signature FAILED: {e}");
                    false
                }
            };
            let count = seen.entry(delivery.clone()).or_default();
            *count += 1;
            let response = match *count {
                1 => tiny_http::Response::from_string("busy, try later").with_status_code(503),
                2 => tiny_http::Response::from_string("slow down")
                    .with_status_code(429)
                    .with_header(
                        tiny_http::Header::from_bytes(&b"Retry-After"[..], &b"1"[..])
                            .expect("a valid header"),
                    ),
                _ => tiny_http::Response::from_string("thanks").with_status_code(200),
            };
            // Passed on before answering, so the sender has it by the time
            // it has the answer.
            let _ = tx.send(Verdict { delivery, verified });
            if let Err(e) = request.respond(response) {
                eprintln!("receiver: cannot answer: {e}");
            }
        }
    });
    Ok((addr, rx, thread))
}

fn main() -> Result<()> {
    let mut config = Config::from_json(CONFIG)?;
    // Short retries, so the example ends in seconds: 1 s between attempts,
    // no jitter. (A real host keeps the configured policy.)
    for service in &mut config.services {
        let mut policy = service.retry.clone().unwrap_or_default();
        policy.schedule = vec![Duration::from_secs(1)];
        policy.jitter = 0.0;
        policy.max_attempts = policy.max_attempts.min(5);
        service.retry = Some(policy);
    }
    // The receiver is on loopback, which this example allows (a real host
    // leaves `allowed_addresses` empty: every internal address refused).
    config.allowed_addresses = vec!["127.0.0.1".into()];
    let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    println!("retry schedule shortened for this example: 1 s between attempts, no jitter");

    // The receiver holds the Standard Webhooks secrets of the services.
    let keys: Vec<SigningKey> = config
        .services
        .iter()
        .filter_map(|s| match &s.signing {
            Some(SigningConfig::StandardWebhooks { secrets }) => Some(secrets),
            _ => None,
        })
        .flatten()
        .map(|secret| SigningKey::new(secret.expose()))
        .collect::<Result<_, _>>()?;
    let stop = Arc::new(AtomicBool::new(false));
    let (addr, verdicts, receiver) = start_receiver(keys, Arc::clone(&stop))?;
    println!("receiver listening on http://{addr}");

    // No proxy, no redirect, the service's timeout, the address policy
    // after DNS: the adapter's, not this example's.
    let sender = BlockingSender::new(Options::new())?;

    let call = Call::from_json(CALL)?;
    let dispatch = registry.dispatch(Event::CallHangup, &call, Utc::now());
    for (webhook, error) in &dispatch.errors {
        eprintln!("webhook {webhook} could not be rendered: {error}");
    }
    if dispatch.requests.is_empty() {
        return Err("the dispatch produced no request".into());
    }

    let mut failures = Vec::new();
    for outgoing in &dispatch.requests {
        // What a host would store in its outbox or queue.
        let mut envelope = Envelope::new(outgoing, Utc::now());
        let policy = registry.retry_policy(&envelope.service)?;
        println!(
            "\n== delivery {} (webhook {}, {})",
            envelope.delivery, envelope.webhook, envelope.event
        );
        println!("configured URL: {}", envelope.request.url);
        let decision = loop {
            let now = Utc::now();
            // The stored delivery, signed with the time of this attempt:
            // the same call the first attempt makes.
            let mut outgoing = envelope.to_outgoing()?;
            registry.sign(&mut outgoing, now)?;
            let configured = outgoing.request.uri().clone();
            *outgoing.request.uri_mut() = to_local(&configured, addr)?;
            let attempt = envelope.attempt + 1;
            let signed_at = outgoing
                .request
                .headers()
                .get("webhook-timestamp")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned();
            let attempted = sender.send(&registry, &outgoing)?;
            let outcome_text = match (attempted.status(), attempted.error()) {
                (Some(status), _) => status.to_string(),
                (None, Some(words)) => format!("transport error: {words}"),
                (None, None) => "refused by the address policy".to_owned(),
            };
            let decision = envelope.record(&policy, attempted.outcome(), Utc::now());
            match verdicts.recv_timeout(TIMEOUT) {
                Ok(v) if v.verified && v.delivery == envelope.delivery => {}
                Ok(_) => failures.push(format!("attempt {attempt}: signature not verified")),
                Err(_) => failures.push(format!("attempt {attempt}: the receiver saw nothing")),
            }
            match decision {
                Decision::Retry { at } => {
                    let wait = (at - Utc::now()).to_std().unwrap_or_default();
                    println!(
                        "attempt {attempt} (signed at {signed_at}): {outcome_text} -> retry at {} (in {:.1} s)",
                        at.format("%H:%M:%S%.3f"),
                        wait.as_secs_f64()
                    );
                    std::thread::sleep(wait);
                }
                other => {
                    println!(
                        "attempt {attempt} (signed at {signed_at}): {outcome_text} -> {other:?}"
                    );
                    break other;
                }
            }
        };
        match decision {
            Decision::Delivered => println!("delivered after {} attempts", envelope.attempt),
            Decision::GiveUp(GiveUp::AttemptsExhausted) => {
                failures.push(format!("gave up after {} attempts", envelope.attempt));
            }
            other => failures.push(format!("not delivered: {other:?}")),
        }
    }

    stop.store(true, Ordering::Relaxed);
    receiver
        .join()
        .map_err(|_| "the receiver thread panicked")?;
    if failures.is_empty() {
        println!("\nall deliveries made, every signature verified");
        Ok(())
    } else {
        Err(failures.join("; ").into())
    }
}
