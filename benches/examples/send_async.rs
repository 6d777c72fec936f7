//! Sends AVANSER's Generic Webhooks for a sample call with the async
//! adapter (`callhook_send::AsyncSender`, reqwest on tokio), to a small
//! receiver on 127.0.0.1 that reports what it got.
//!
//! `cargo run -p callhook-benches --example send_async`
//!
//! callhook builds each request and sends nothing; the adapter sends it
//! with the guards against server-side request forgery a host would
//! otherwise write itself: the registry's address policy applied to every
//! address a name resolves to (here the configuration allows loopback,
//! where the receiver is), no proxy, no redirect, the service's timeout.

mod local;

use std::net::SocketAddr;

use callhook::{Call, Catalog, Config, Event, Registry};
use callhook_send::{AsyncSender, Options};
use chrono::Utc;
use local::{start_receiver, Result};

/// The request's URI pointed at the receiver by the name `localhost`, so
/// the adapter's resolver is asked.
fn to_localhost(uri: &http::Uri, receiver: SocketAddr) -> Result<http::Uri> {
    let mut parts = uri.clone().into_parts();
    parts.scheme = Some(http::uri::Scheme::HTTP);
    parts.authority = Some(format!("localhost:{}", receiver.port()).parse()?);
    Ok(http::Uri::from_parts(parts)?)
}

const CONFIG: &str = include_str!("../../examples/configs/avanser.json");
const CALL: &str = include_str!("../../examples/calls/avanser-call.json");

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    // Configured once, checked as a whole. The receiver is on loopback, so
    // this host allows loopback and nothing else internal; a real
    // deployment leaves `allowed_addresses` empty.
    let mut config = Config::from_json(CONFIG)?;
    config.allowed_addresses = vec!["127.0.0.1".into(), "::1".into()];
    let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    // The same services under the default policy, to show a refusal.
    config.allowed_addresses.clear();
    let strict = Registry::from_config(&config, Catalog::standard().clone())?;

    // For every event of the call, a request per matching webhook.
    let call = Call::from_json(CALL)?;
    let now = Utc::now();
    let mut deliveries = Vec::new();
    for event in ["Call:Reporting", "Call Status Change"] {
        let dispatch = registry.dispatch(event.parse::<Event>()?, &call, now);
        for (webhook, error) in &dispatch.errors {
            eprintln!("webhook {webhook} could not be rendered: {error}");
        }
        deliveries.extend(dispatch.requests);
    }

    let (addr, received, receiver) = start_receiver(deliveries.len())?;
    let sender = AsyncSender::new(Options::new())?;
    println!("receiver listening on http://{addr}\n");

    for mut outgoing in deliveries {
        registry.sign(&mut outgoing, Utc::now())?;
        let configured = outgoing.request.uri().clone();
        *outgoing.request.uri_mut() = to_localhost(&configured, addr)?;

        // Under the default policy `localhost` is refused after DNS, before
        // anything is sent.
        let refused = sender.send(&strict, &outgoing).await?;
        if !refused.is_address_refused() {
            return Err("the default policy let localhost through".into());
        }

        println!("== {} (webhook {})", outgoing.service, outgoing.webhook);
        println!("configured URL: {configured}");
        println!("default policy: refused");
        let attempted = sender.send(&registry, &outgoing).await?;
        let status = attempted.status().ok_or("no answer")?;
        let answer = String::from_utf8_lossy(attempted.response_start());

        // The receiver passed the request on before it answered.
        let got = received.try_recv()?;
        println!("receiver got:   {} {}", got.method, got.target);
        for (name, value) in &got.headers {
            println!("  {name}: {value}");
        }
        println!("  body ({} bytes):", got.body.len());
        println!("{}", String::from_utf8_lossy(&got.body));
        println!(
            "response:       {status} {answer:?} in {:.1} ms\n",
            attempted.latency().as_secs_f64() * 1000.0
        );
    }

    receiver
        .join()
        .map_err(|_| "the receiver thread panicked")?;
    Ok(())
}
