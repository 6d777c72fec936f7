//! The crash test: a worker process (`Worker::run_blocking`) claims rows
//! and sends them to a local receiver, and is killed with `SIGKILL` at
//! random points; after each kill its leases expire and the next worker
//! takes over. Nothing is lost, every row ends delivered, a success
//! recorded is never sent again, no delivery goes past its policy's
//! attempts, and duplicates at the receiver stay within kills × claim
//! batch.
//!
//! The worker is this test binary run again (`crash_worker`, with the
//! `CALLHOOK_OUTBOX_CRASH_WORKER` variable set): no other binary is needed.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callhook::Registry;
use callhook_outbox::{Options, Outbox, RowState, Worker, WorkerOptions};
use callhook_send::{BlockingSender, Options as SendOptions};
use chrono::Utc;

const CALLS: usize = 1_000; // two webhooks each: 2,000 deliveries
const KILLS: usize = 24;
const BATCH: usize = 8;
const LEASE: Duration = Duration::from_secs(1);
const MAX_ATTEMPTS: u32 = 10;
const WORKER: &str = "CALLHOOK_OUTBOX_CRASH_WORKER";

fn registry(receiver: &str) -> Registry {
    // Both services on the one receiver, as two endpoints would need two
    // ports; the delivery id travels in the body.
    let config = serde_json::json!({
        "allowed_addresses": ["127.0.0.1"],
        "services": [
            {"id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "name": "crm", "method": "POST",
             "url": format!("http://{receiver}/crm"),
             "body": {"kind": "json", "template": "{\"delivery\": \"#delivery_id#\"}"},
             "retry": {"schedule": ["1s"], "max_attempts": MAX_ATTEMPTS}},
            {"id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6c", "name": "backup", "method": "POST",
             "url": format!("http://{receiver}/backup"),
             "body": {"kind": "json", "template": "{\"delivery\": \"#delivery_id#\"}"},
             "retry": {"schedule": ["1s"], "max_attempts": MAX_ATTEMPTS}}
        ],
        "webhooks": [
            {"id": common::CRM_WEBHOOK, "event": "Call:Hangup",
             "service": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "scopes": ["*"]},
            {"id": common::BACKUP_WEBHOOK, "event": "Call:Hangup",
             "service": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6c", "scopes": ["*"]}
        ]
    });
    Registry::from_config(
        &callhook::Config::from_json(&config.to_string()).unwrap(),
        callhook::Catalog::standard().clone(),
    )
    .unwrap()
}

/// What the receiver saw: each delivery id it answered 204, how often.
#[derive(Default)]
struct Received {
    delivered: HashMap<String, u32>,
    failed: u32,
}

/// A receiver on 127.0.0.1 answering one request per connection: every
/// seventh request `500`, the others `204`, recording the delivery id.
fn receiver() -> (SocketAddr, Arc<Mutex<Received>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Received::default()));
    let seen = Arc::clone(&received);
    let count = AtomicU64::new(0);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(value) = lower.strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let body = String::from_utf8_lossy(&body);
            let id = body
                .split("\"delivery\": \"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default()
                .to_owned();
            let fail = count.fetch_add(1, Ordering::Relaxed) % 7 == 6;
            let status = if fail {
                "500 Internal Server Error"
            } else {
                "204 No Content"
            };
            {
                let mut seen = seen.lock().unwrap();
                if fail {
                    seen.failed += 1;
                } else {
                    *seen.delivered.entry(id).or_default() += 1;
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (address, received)
}

/// The worker: the crate's blocking loop, until the outbox is empty.
#[test]
fn crash_worker() {
    let Ok(setting) = std::env::var(WORKER) else {
        return; // only as the crash test's child
    };
    let (db, receiver) = setting.split_once('|').unwrap();
    let registry = registry(receiver);
    let mut outbox = Outbox::open(db, Options::default()).unwrap();
    let sender = BlockingSender::new(SendOptions::new()).unwrap();
    let mut worker = Worker::new(
        format!("worker-{}", std::process::id()),
        WorkerOptions::default().with_batch(BATCH).with_lease(LEASE),
    );
    worker
        .run_blocking(&mut outbox, &registry, &sender, Utc::now, |_, stats| {
            stats.due + stats.claimed > 0
        })
        .unwrap();
}

fn worker(db: &std::path::Path, receiver: SocketAddr) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["crash_worker", "--exact", "--nocapture", "--test-threads=1"])
        .env(WORKER, format!("{}|{receiver}", db.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
#[cfg(unix)]
fn a_worker_killed_mid_delivery_loses_nothing_and_repeats_no_recorded_success() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outbox.db");
    let (address, received) = receiver();
    let registry = registry(&address.to_string());
    let mut outbox = Outbox::open(&db, Options::default()).unwrap();
    let now = Utc::now();
    for i in 0..CALLS {
        outbox
            .enqueue(&common::envelopes(&registry, &format!("call-{i}"), now))
            .unwrap();
    }
    let total = CALLS * 2;
    assert_eq!(outbox.depth().unwrap(), total as u64);

    // A small generator seeded from the clock; the seed is printed so a
    // failure can be read against it.
    let mut seed = u64::from(now.timestamp_subsec_nanos()) | 1;
    println!("seed {seed}");
    let mut kills = 0;
    let started = Instant::now();
    while kills < KILLS && outbox.depth().unwrap() > 0 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = worker(&db, address);
        std::thread::sleep(Duration::from_millis(30 + seed % 250));
        // `Child::kill` is SIGKILL on Unix: no destructor, no rollback.
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
    }
    // The last worker runs to the end (rows of killed workers come back
    // as their leases expire).
    let mut child = worker(&db, address);
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the last worker did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }

    let received = received.lock().unwrap();
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = outbox.rows(after.as_deref(), 1_000).unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.0.clone());
        ids.extend(page);
    }
    assert_eq!(ids.len(), total);
    let mut duplicates = 0;
    for (id, state) in &ids {
        // Every row terminal, and delivered: nothing lost.
        assert_eq!(*state, RowState::Delivered, "{id}");
        let arrived = received.delivered.get(id).copied().unwrap_or(0);
        assert!(arrived >= 1, "{id} never arrived");
        duplicates += arrived - 1;
        let envelope = outbox.envelope(id).unwrap().unwrap();
        // A success is recorded once: a delivered row is never claimed
        // again (a duplicate at the receiver is one whose success a killed
        // worker never recorded).
        let successes = envelope
            .attempts
            .iter()
            .filter(|a| a.status.is_some_and(|s| (200..300).contains(&s)))
            .count();
        assert_eq!(successes, 1, "{id}: {successes} successes recorded");
        assert!(
            envelope.attempt <= MAX_ATTEMPTS,
            "{id}: {} attempts",
            envelope.attempt
        );
    }
    assert!(kills >= 20, "only {kills} kills before the outbox emptied");
    assert!(
        duplicates as usize <= kills * BATCH,
        "{duplicates} duplicates over {kills} kills"
    );
    println!(
        "crash test: {total} deliveries, {kills} kills (claim batch {BATCH}), {duplicates} \
         duplicates, {} failed attempts retried, 0 lost, {:.1} s",
        received.failed,
        started.elapsed().as_secs_f64()
    );
}
