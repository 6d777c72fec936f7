//! The receiver the host example sends to: on 127.0.0.1, it answers the
//! first request `503 Service Unavailable` with `Retry-After: 1` and every
//! later one `200 OK`. Not part of the host: a stand-in for a customer's
//! endpoint, so the example runs without a network.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

/// Starts the receiver in a thread; its address.
pub fn start() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            // The whole request is small: one read of the head and body is
            // enough for this stand-in.
            let mut request = [0u8; 8192];
            let _ = stream.read(&mut request);
            let answer = if n == 0 {
                "HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbusy"
            } else {
                "HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nthanks"
            };
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    Ok(addr)
}
