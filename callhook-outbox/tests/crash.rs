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
// Longer than the services' 1 s timeout: a worker sends a delivery only
// while its lease outlasts the request's timeout.
const LEASE: Duration = Duration::from_secs(3);
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
             "timeout": "1s",
             "retry": {"schedule": ["1s"], "max_attempts": MAX_ATTEMPTS},
             // Crash recovery is under test, not endpoint health: a loaded
             // machine's timeouts must not disable the receiver.
             "health": {"disable_after": null, "breaker": null}},
            {"id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6c", "name": "backup", "method": "POST",
             "url": format!("http://{receiver}/backup"),
             "body": {"kind": "json", "template": "{\"delivery\": \"#delivery_id#\"}"},
             "timeout": "1s",
             "retry": {"schedule": ["1s"], "max_attempts": MAX_ATTEMPTS},
             // Crash recovery is under test, not endpoint health: a loaded
             // machine's timeouts must not disable the receiver.
             "health": {"disable_after": null, "breaker": null}}
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

/// What the receiver saw: every request's delivery id, how often, and
/// how often it was answered 204.
#[derive(Default)]
struct Received {
    requests: HashMap<String, u32>,
    delivered: HashMap<String, u32>,
    failed: u32,
}

/// A receiver on 127.0.0.1 answering one request per connection: every
/// seventh request `500`, the others `204`, recording the delivery id.
fn receiver() -> (SocketAddr, Arc<Mutex<Received>>, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Received::default()));
    let seen = Arc::clone(&received);
    let requests = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&requests);
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
            if id.is_empty() {
                // Not a whole request (its worker was killed writing it):
                // nothing was delivered, and no answer is read.
                continue;
            }
            let fail = count.fetch_add(1, Ordering::Relaxed) % 7 == 6;
            let status = if fail {
                "500 Internal Server Error"
            } else {
                "204 No Content"
            };
            {
                let mut seen = seen.lock().unwrap();
                *seen.requests.entry(id.clone()).or_default() += 1;
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
    (address, received, requests)
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
    let (address, received, requests) = receiver();
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
    // The kills are spread over the run: each after a random number of
    // requests the killed worker itself made (so every worker made
    // progress), on average somewhat less than a share of the requests
    // the run is expected to make (every seventh fails and is retried),
    // so the last worker has some left.
    let expected = (total * 7 / 6) as u64;
    let share = expected / (KILLS as u64 + 1);
    while kills < KILLS && outbox.depth().unwrap() > 0 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let spawned_at = requests.load(Ordering::Relaxed);
        let target = spawned_at + 1 + seed % (share * 3 / 2);
        let mut child = worker(&db, address);
        let deadline = Instant::now() + Duration::from_secs(20);
        while requests.load(Ordering::Relaxed) < target && Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            requests.load(Ordering::Relaxed) > spawned_at,
            "worker {kills} made no request in 20 s"
        );
        // `Child::kill` is SIGKILL on Unix: no destructor, no rollback.
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
    }
    // The last worker runs to the end (rows of killed workers come back
    // as their leases expire).
    let mut child = worker(&db, address);
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the last worker did not finish");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "the last worker failed: {status}");

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
    let mut attempts_recorded = 0;
    let mut most_requests = 0;
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
        // Every request the receiver saw of it is a recorded attempt, or
        // one a killed worker sent and never recorded: at most one per
        // kill.
        let sent = received.requests.get(id).copied().unwrap_or(0);
        assert!(
            sent <= envelope.attempt + kills as u32,
            "{id}: {sent} requests, {} attempts recorded",
            envelope.attempt
        );
        attempts_recorded += u64::from(envelope.attempt);
        most_requests = most_requests.max(sent);
    }
    // Nothing arrived that is not a row.
    assert_eq!(received.requests.len(), total);
    let all_requests: u64 = received.requests.values().map(|n| u64::from(*n)).sum();
    assert_eq!(all_requests, requests.load(Ordering::Relaxed));
    // The requests no attempt record accounts for: those of killed
    // workers' batches, at most kills × batch.
    let unrecorded = all_requests.saturating_sub(attempts_recorded);
    assert!(
        unrecorded <= (kills * BATCH) as u64,
        "{all_requests} requests, {attempts_recorded} attempts recorded, {kills} kills"
    );
    assert!(kills >= 20, "only {kills} kills before the outbox emptied");
    assert!(
        duplicates as usize <= kills * BATCH,
        "{duplicates} duplicates over {kills} kills"
    );
    println!(
        "crash test: {total} deliveries, {kills} kills (claim batch {BATCH}), {all_requests} \
         requests for {attempts_recorded} recorded attempts ({unrecorded} unrecorded), \
         {duplicates} duplicate successes, {} failed attempts retried, at most {most_requests} \
         requests for one delivery, 0 lost, {:.1} s",
        received.failed,
        started.elapsed().as_secs_f64()
    );
}
