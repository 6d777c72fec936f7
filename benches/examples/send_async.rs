//! Sends AVANSER's Generic Webhooks for a sample call with an async HTTP
//! client (reqwest, on tokio), to a small receiver on 127.0.0.1 that
//! reports what it got.
//!
//! `cargo run -p callhook-benches --example send_async`
//!
//! callhook builds each request as an `http::Request<Vec<u8>>` and sends
//! nothing; the host hands the request to the client it already has.
//! `reqwest::Request` converts from an `http::Request` with `TryFrom`.

mod local;

use callhook::Config;
use callhook::{Call, Catalog, Registry};
use local::{start_receiver, to_local, Result, TIMEOUT};

const CONFIG: &str = include_str!("../../examples/configs/avanser.json");
const CALL: &str = include_str!("../../examples/calls/avanser-call.json");

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
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
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        // The receiver is local: never go through a proxy from the
        // environment.
        .no_proxy()
        .build()?;
    println!("receiver listening on http://{addr}\n");

    for service in enabled {
        let mut request = service.request(&call.data)?;
        let configured = request.uri().clone();
        *request.uri_mut() = to_local(&configured, addr)?;

        println!("== {} ({})", service.config().name, service.id());
        println!("configured URL: {configured}");
        let response = client.execute(reqwest::Request::try_from(request)?).await?;
        let status = response.status();
        let answer = response.text().await?;

        // The receiver passed the request on before it answered.
        let got = received.try_recv()?;
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
