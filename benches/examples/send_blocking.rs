//! Sends RingCX's web services for a sample call with a blocking HTTP
//! client (ureq), to a small receiver on 127.0.0.1 that reports what it
//! got.
//!
//! `cargo run -p callhook-benches --example send_blocking`
//!
//! callhook builds each request as an `http::Request<Vec<u8>>` and sends
//! nothing; the host hands the request to the client it already has. ureq
//! takes an `http::Request` as it is, with `Agent::run`.

mod local;

use callhook::Config;
use callhook::{Call, Catalog, Registry};
use local::{start_receiver, to_local, Result, TIMEOUT};

const CONFIG: &str = include_str!("../../examples/configs/ringcx.json");
const CALL: &str = include_str!("../../examples/calls/ringcx-call.json");

fn main() -> Result<()> {
    // Configured once, checked as a whole...
    let config = Config::from_json(CONFIG)?;
    let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    // ...and, for every call, a request per enabled service.
    let call = Call::from_json(CALL)?;
    let enabled: Vec<_> = registry
        .services()
        .into_iter()
        .filter(|s| s.is_enabled())
        .collect();

    let (addr, received, receiver) = start_receiver(enabled.len())?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        // A 3xx is an answer, never a new target (SSRF).
        .max_redirects(0)
        // Give the status back as a response, not as an error.
        .http_status_as_error(false)
        .build()
        .into();
    println!("receiver listening on http://{addr}\n");

    for service in enabled {
        let mut request = service.request(&call.data)?;
        let configured = request.uri().clone();
        *request.uri_mut() = to_local(&configured, addr)?;

        println!("== {} ({})", service.config().name, service.id());
        println!("configured URL: {configured}");
        let mut response = agent.run(request)?;
        let status = response.status();
        // Reading the response to its end lets the agent reuse the
        // connection.
        let answer = response.body_mut().read_to_string()?;

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
