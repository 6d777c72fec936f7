//! Sends AVANSER's Generic Webhooks for a sample call with an async HTTP
//! client (reqwest, on tokio), to a small receiver on 127.0.0.1 that
//! reports what it got.
//!
//! `cargo run -p callhook-benches --example send_async`
//!
//! callhook builds each request as an `http::Request<Vec<u8>>` and sends
//! nothing; the host hands the request to the client it already has.
//! `reqwest::Request` converts from an `http::Request` with `TryFrom`.
//!
//! It also shows the two guards against server-side request forgery that
//! are the host's to set, since they happen in the client:
//! - a DNS resolver that checks every address a host name resolves to with
//!   `callhook::AddressPolicy` (here allowing only loopback, where the
//!   receiver is), so a name cannot lead a webhook to an internal address;
//! - no redirects: a 3xx is an answer, never a new target.

mod local;

use std::net::SocketAddr;
use std::sync::Arc;

use callhook::{AddressPolicy, Call, Catalog, Config, Registry};
use local::{start_receiver, Result, TIMEOUT};

/// A resolver that refuses every address the policy refuses.
struct Guarded(Arc<AddressPolicy>);

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = Arc::clone(&self.0);
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let mut allowed = Vec::new();
            for address in resolved {
                // Checked after resolution, on what will be connected to.
                policy.check(address.ip())?;
                allowed.push(address);
            }
            let addresses: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addresses)
        })
    }
}

/// The request's URI pointed at the receiver by the name `localhost`, so
/// the resolver is asked.
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
    // The receiver is on loopback, so this host allows loopback and nothing
    // else internal; a real deployment uses `AddressPolicy::new()`.
    let policy = AddressPolicy::new().allow("127.0.0.1")?.allow("::1")?;
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        // The receiver is local: never go through a proxy from the
        // environment.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(Guarded(Arc::new(policy))))
        .build()?;
    println!("receiver listening on http://{addr}\n");

    // With the policy that refuses every internal address, the same name
    // is refused before anything is sent.
    let strict = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(Guarded(Arc::new(AddressPolicy::new()))))
        .build()?;
    let refused = strict
        .get(format!("http://localhost:{}/", addr.port()))
        .send()
        .await;
    match refused {
        Err(e) => println!("strict resolver refused localhost: {e:?}\n"),
        Ok(_) => return Err("the strict resolver let localhost through".into()),
    }

    for service in enabled {
        let mut request = service.request(&call.data)?;
        let configured = request.uri().clone();
        *request.uri_mut() = to_localhost(&configured, addr)?;

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
