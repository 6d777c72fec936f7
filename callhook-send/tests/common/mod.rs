//! What the adapters' tests share: a registry with one service, local
//! servers (plain and TLS) that count what reaches them, and certificates
//! made at run time.

#![allow(dead_code)] // each test file uses its own part

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use callhook::{Call, Catalog, Config, Event, Outgoing, Registry};

/// How long a server thread waits for a request before it gives up, so no
/// test can hang on one.
const SERVER_WAIT: Duration = Duration::from_secs(10);

/// A registry with one service (POST, JSON body, URL `https://hooks.example.com/call`,
/// with `extra` service fields merged in), a `Call:Hangup` webhook for
/// scope `T1`, and `allowed` as its allowed addresses.
pub fn registry(allowed: &[&str], extra: serde_json::Value) -> Registry {
    let mut service = serde_json::json!({
        "id": "7f0c2b1e-3a4d-4e5f-8a9b-0c1d2e3f4a01",
        "name": "Test receiver",
        "method": "POST",
        "url": "https://hooks.example.com/call?token=secret",
        "body": {"kind": "json", "template": "{\"call\": \"#uuid#\"}"}
    });
    if let (Some(service), Some(extra)) = (service.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            service.insert(key.clone(), value.clone());
        }
    }
    let config = serde_json::json!({
        "allowed_addresses": allowed,
        "services": [service],
        "webhooks": [{
            "id": "7f0c2b1e-3a4d-4e5f-8a9b-0c1d2e3f4aa1",
            "enabled": true,
            "event": "Call:Hangup",
            "service": "7f0c2b1e-3a4d-4e5f-8a9b-0c1d2e3f4a01",
            "created_at": "2024-11-30T12:00:00Z",
            "scopes": ["T1"]
        }]
    });
    let config = Config::from_json(&config.to_string()).expect("the test configuration loads");
    Registry::from_config(&config, Catalog::standard().clone()).expect("the registry compiles")
}

/// The registry's one delivery, prepared, sent to `target` instead of its
/// configured URL (a test's servers are local; the configuration cannot
/// name them under the default policy).
pub fn outgoing(registry: &Registry, target: &str) -> Outgoing {
    let mut outgoing = dispatched(registry);
    *outgoing.request.uri_mut() = target.parse().expect("a valid target");
    outgoing
}

/// The registry's one delivery, prepared, to its configured URL.
pub fn dispatched(registry: &Registry) -> Outgoing {
    let call = Call::from_json(
        r#"{"id": "c1", "scopes": ["T1"], "data": {"uuid": "bfd7e62a-5a55-4286-9453-b4b4cfc5cca8"}}"#,
    )
    .expect("the call loads");
    let now = chrono::Utc::now();
    let dispatch = registry.dispatch(Event::CallHangup, &call, now);
    assert!(dispatch.errors.is_empty(), "{:?}", dispatch.errors);
    let mut outgoing = dispatch.requests.into_iter().next().expect("one delivery");
    registry
        .sign(&mut outgoing, now)
        .expect("the delivery is prepared");
    outgoing
}

/// A local server: its address, and how many requests reached it.
pub struct Server {
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    peer_certificates: Arc<AtomicUsize>,
}

impl Server {
    /// How many requests the server read to their end.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// How many TLS connections presented a client certificate.
    pub fn client_certificates(&self) -> usize {
        self.peer_certificates.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://localhost:PORT` + `path`: the same server by a name.
    pub fn localhost_url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.addr.port())
    }
}

/// Starts a plain HTTP/1.1 server on 127.0.0.1 that answers every request
/// with `response` (a whole HTTP response), after `delay`.
pub fn serve(response: String, delay: Duration) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("an address");
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let response = response.clone();
            let counted = Arc::clone(&counted);
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(SERVER_WAIT));
                if read_request(&mut stream).is_some() {
                    counted.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(delay);
                    let _ = stream.write_all(response.as_bytes());
                }
            });
        }
    });
    Server {
        addr,
        hits,
        peer_certificates: Arc::new(AtomicUsize::new(0)),
    }
}

/// A `200 OK` answer with a short body.
pub fn ok() -> String {
    "HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nthanks".to_owned()
}

/// A `302 Found` answer sending the client to `location`.
pub fn redirect(location: &str) -> String {
    format!(
        "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 5\r\nconnection: close\r\n\r\nmoved"
    )
}

/// Reads one request (head and a `content-length` body); `None` if the
/// connection ended or stalled first.
fn read_request(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = stream.read(&mut buffer).ok()?;
        if n == 0 {
            return None;
        }
        request.extend_from_slice(&buffer[..n]);
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while request.len() < end + 4 + length {
                let n = stream.read(&mut buffer).ok()?;
                if n == 0 {
                    return None;
                }
                request.extend_from_slice(&buffer[..n]);
            }
            return Some(request);
        }
    }
}

/// Certificates made for one test: a CA, a server certificate for
/// 127.0.0.1 it signed, and a client certificate it signed.
pub struct Pki {
    pub ca_pem: String,
    pub server_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    pub server_key: rustls::pki_types::PrivateKeyDer<'static>,
    pub ca_der: rustls::pki_types::CertificateDer<'static>,
    pub client_pem: String,
    pub client_key_pem: String,
}

/// Makes a CA and the server's and client's certificates.
pub fn pki() -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("the CA certificate");
    let issuer = Issuer::from_params(&ca_params, &ca_key);

    let server_key = KeyPair::generate().expect("a server key");
    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("server parameters");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = server_params
        .signed_by(&server_key, &issuer)
        .expect("the server certificate");

    let client_key = KeyPair::generate().expect("a client key");
    let mut client_params =
        CertificateParams::new(vec!["client.example".to_owned()]).expect("client parameters");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = client_params
        .signed_by(&client_key, &issuer)
        .expect("the client certificate");

    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        server_chain: vec![server.der().clone()],
        server_key: rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        client_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

/// Starts a TLS server on 127.0.0.1 that requires a client certificate
/// signed by the test CA, and answers `200 OK` to each request.
pub fn serve_tls_requiring_client_certificate(pki: &Pki) -> Server {
    // The process's provider, from rustls's one crypto feature (ring).
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone()).expect("the CA as a root");
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .expect("a client verifier");
    let config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())
        .expect("the server's certificate");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("an address");
    let hits = Arc::new(AtomicUsize::new(0));
    let peer_certificates = Arc::new(AtomicUsize::new(0));
    let (counted, presented) = (Arc::clone(&hits), Arc::clone(&peer_certificates));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let config = Arc::clone(&config);
            let (counted, presented) = (Arc::clone(&counted), Arc::clone(&presented));
            std::thread::spawn(move || serve_tls_connection(config, stream, &counted, &presented));
        }
    });
    Server {
        addr,
        hits,
        peer_certificates,
    }
}

fn serve_tls_connection(
    config: Arc<rustls::ServerConfig>,
    stream: TcpStream,
    counted: &AtomicUsize,
    presented: &AtomicUsize,
) {
    let _ = stream.set_read_timeout(Some(SERVER_WAIT));
    let Ok(connection) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(connection, stream);
    if read_request(&mut tls).is_none() {
        return;
    }
    if tls.conn.peer_certificates().is_some_and(|c| !c.is_empty()) {
        presented.fetch_add(1, Ordering::SeqCst);
    }
    counted.fetch_add(1, Ordering::SeqCst);
    let _ = tls.write_all(ok().as_bytes());
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

/// An address nothing listens on: a port bound and closed again.
pub fn dead_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("an address")
}
