//! Sends RingCX's web services for a sample call with the blocking adapter
//! (`callhook_send::BlockingSender`, ureq), to a small receiver on
//! 127.0.0.1 that reports what it got.
//!
//! `cargo run -p callhook-benches --example send_blocking`
//!
//! callhook builds each request and sends nothing; the adapter sends it:
//! the registry's address policy after DNS and on IP literals, no proxy, no
//! redirect, the service's timeout, and the answer as an `Outcome` to
//! record.

mod local;

use callhook::{Call, Catalog, Config, Event, Registry};
use callhook_send::{BlockingSender, Options};
use chrono::Utc;
use local::{start_receiver, to_local, Result, TIMEOUT};

const CONFIG: &str = include_str!("../../examples/configs/ringcx.json");
const CALL: &str = include_str!("../../examples/calls/ringcx-call.json");

fn main() -> Result<()> {
    // Configured once, checked as a whole; the receiver is on loopback,
    // which this example allows (a real deployment does not).
    let mut config = Config::from_json(CONFIG)?;
    config.allowed_addresses = vec!["127.0.0.1".into()];
    let registry = Registry::from_config(&config, Catalog::standard().clone())?;

    // For every event of the call, a request per matching webhook.
    let call = Call::from_json(CALL)?;
    let now = Utc::now();
    let mut deliveries = Vec::new();
    for event in ["Agent Termination", "Post Call"] {
        let dispatch = registry.dispatch(event.parse::<Event>()?, &call, now);
        for (webhook, error) in &dispatch.errors {
            eprintln!("webhook {webhook} could not be rendered: {error}");
        }
        deliveries.extend(dispatch.requests);
    }

    let (addr, received, receiver) = start_receiver(deliveries.len())?;
    let sender = BlockingSender::new(Options::new())?;
    println!("receiver listening on http://{addr}\n");

    for mut outgoing in deliveries {
        registry.sign(&mut outgoing, Utc::now())?;
        let configured = outgoing.request.uri().clone();
        *outgoing.request.uri_mut() = to_local(&configured, addr)?;

        println!("== {} (webhook {})", outgoing.service, outgoing.webhook);
        println!("configured URL: {configured}");
        let attempted = sender.send(&registry, &outgoing)?;
        let status = attempted.status().ok_or("no answer")?;
        let answer = String::from_utf8_lossy(attempted.response_start());

        let got = received.recv_timeout(TIMEOUT)?;
        println!("receiver got:   {} {}", got.method, got.target);
        for (name, value) in &got.headers {
            println!("  {name}: {value}");
        }
        println!("  body ({} bytes):", got.body.len());
        println!("{}", String::from_utf8_lossy(&got.body));
        println!("response:       {status} {answer:?}\n");
    }

    receiver
        .join()
        .map_err(|_| "the receiver thread panicked")?;
    Ok(())
}
