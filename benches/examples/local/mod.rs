//! What the sending examples share: a receiver on 127.0.0.1 standing in for
//! the configured endpoints, and pointing a request at it.
//!
//! Not an example of its own: each example includes it with `mod local;`.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use http::uri::{Scheme, Uri};

/// The examples' error type.
pub type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

/// How long the client and the receiver wait for each other.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A request as the receiver got it.
pub struct Received {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Starts a receiver on 127.0.0.1 (a free port) in a thread. It answers
/// `count` requests with `200 OK`, passing each on to `Receiver`, and then
/// stops by itself; it also stops if no request comes for [`TIMEOUT`].
pub fn start_receiver(
    count: usize,
) -> Result<(SocketAddr, mpsc::Receiver<Received>, JoinHandle<()>)> {
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
pub fn to_local(uri: &Uri, receiver: SocketAddr) -> Result<Uri> {
    let mut parts = uri.clone().into_parts();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(receiver.to_string().parse()?);
    Ok(Uri::from_parts(parts)?)
}
