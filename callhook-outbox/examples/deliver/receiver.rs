//! The receivers the `deliver` example sends to, on 127.0.0.1: a stand-in
//! for customers' endpoints, so the example runs without a network. Not
//! part of a host.
//!
//! One listener answers `/crm/...` `204` and `/analytics/...` `500` one
//! time in four (a fixed pseudo-random sequence), `204` otherwise; the
//! other listener, another endpoint, answers every request `500`. Each
//! connection is served on its own thread and kept alive, as a real
//! server would.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the receivers answered, per first path segment: `(2xx, 5xx)`.
pub type Seen = Arc<Mutex<HashMap<String, (u64, u64)>>>;

/// Starts a receiver; `always_fail` makes it answer `500` to everything.
pub fn start(always_fail: bool, seen: Seen) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let counter = Arc::new(AtomicU64::new(0x2545_f491_4f6c_dd1d));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let seen = Arc::clone(&seen);
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || serve(stream, always_fail, &seen, &counter));
        }
    });
    Ok(address)
}

/// Serves one connection's requests until the client closes it.
fn serve(stream: TcpStream, always_fail: bool, seen: &Seen, counter: &AtomicU64) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("/").to_owned();
        let mut length = 0;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length.min(1 << 20)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let segment = path.split('/').nth(1).unwrap_or_default().to_owned();
        // xorshift: a fixed sequence (requests arrive in an order of
        // their own, so runs differ a little).
        let mut x = counter.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        counter.store(x, Ordering::Relaxed);
        let fail = always_fail || (segment == "analytics" && x.is_multiple_of(4));
        {
            let mut seen = seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let entry = seen.entry(segment).or_default();
            if fail {
                entry.1 += 1;
            } else {
                entry.0 += 1;
            }
        }
        let answer = if fail {
            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n"
        } else {
            "HTTP/1.1 204 No Content\r\n\r\n"
        };
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}
