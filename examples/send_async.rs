//! Sends AVANSER's Generic Webhooks for a sample call with an async HTTP
//! client (reqwest, on tokio), to a small receiver on 127.0.0.1 that
//! reports what it got.
//!
//! `cargo run --example send_async`
//!
//! callhook builds each request as an `http::Request<Vec<u8>>` and sends
//! nothing; the host hands the request to the client it already has.
//! `reqwest::Request` converts from an `http::Request` with `TryFrom`.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use callhook::service::Config;
use callhook::{Call, Catalog, Services};
use http::uri::{Scheme, Uri};

const CONFIG: &str = include_str!("configs/avanser.json");
const CALL: &str = include_str!("calls/avanser-call.json");

/// How long the client and the receiver wait for each other.
const TIMEOUT: Duration = Duration::from_secs(10);

type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

/// A request as the receiver got it.
struct Received {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Starts a receiver on 127.0.0.1 (a free port) in a thread of its own. It
/// answers `count` requests with `200 OK`, passing each on to `Receiver`,
/// and then stops by itself; it also stops if no request comes for
/// [`TIMEOUT`].
fn start_receiver(count: usize) -> Result<(SocketAddr, mpsc::Receiver<Received>, JoinHandle<()>)> {
    let server = tiny_http::Server::http("127.0.0.1:0")?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or("the receiver has no IP address")?;
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        for _ in 0..count {
            let Ok(Some(mut request)) = server.recv_timeout(TIMEOUT) else {
                return;
            };
            let mut body = Vec::new();
            if request.as_reader().read_to_end(&mut body).is_err() {
                return;
            }
            // Passed on before the response is written, so it is there by
            // the time the client has the response.
            let _ = tx.send(Received {
                method: request.method().to_string(),
                target: request.url().to_owned(),
                headers: request
                    .headers()
                    .iter()
                    .map(|h| (h.field.to_string(), h.value.to_string()))
                    .collect(),
                body,
            });
            let _ = request.respond(tiny_http::Response::from_string("received"));
        }
    });
    Ok((addr, rx, thread))
}

/// The configured URI with its scheme and authority swapped for the local
/// receiver's; the path and query are kept as rendered.
///
/// A real host sends each request to the URL the administrator configured,
/// as built: it does not rewrite anything. This example runs without a
/// network, so it points the requests at its own receiver instead. (The
/// `Host` header follows: the client sets it from the URI it connects to.)
fn to_local(uri: &Uri, receiver: SocketAddr) -> Result<Uri> {
    let mut parts = uri.clone().into_parts();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(receiver.to_string().parse()?);
    Ok(Uri::from_parts(parts)?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    // Configured once, checked as a whole...
    let config = Config::from_json(CONFIG)?;
    let services = Services::load(&config.services, Catalog::standard())?;
    // ...and, for every call, a request per enabled service.
    let call = Call::from_json(&serde_json::from_str(CALL)?)?;
    let enabled: Vec<_> = services.iter().filter(|s| s.is_enabled()).collect();

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
