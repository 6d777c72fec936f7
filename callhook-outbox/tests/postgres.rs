//! The PostgreSQL outbox against a real server: the `Store` and the
//! operator's functions, the per-endpoint cap and the state merge across
//! concurrent connections, and the proof: 4 worker processes over 10,000
//! deliveries with a receiver failing 20% of attempts, one worker killed
//! with `SIGKILL` midway.
//!
//! The server is the one `CALLHOOK_OUTBOX_PG` names (a libpq-style
//! connection string); `bash .ci/postgres cargo test -p callhook-outbox
//! --features postgres --test postgres` starts a throwaway one. Without
//! the variable the tests are skipped with a message, except under
//! `CI=true`, where that is a failure. Each test works in a database of
//! its own, created afresh.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use callhook::{Decision, DeliveryState, Envelope, Outcome, Registry};
use callhook_outbox::postgres::driver::{Client, NoTls};
use callhook_outbox::postgres::PgOutbox;
use callhook_outbox::{
    Claimed, ErrorKind, Finished, Options, RowState, Store, Worker, WorkerOptions,
};
use callhook_send::{BlockingSender, Options as SendOptions};
use chrono::{DateTime, Utc};
use common::{at, envelopes, registry, BACKUP_WEBHOOK, CRM_WEBHOOK};

const LEASE: Duration = Duration::from_secs(30);
const SERVER: &str = "CALLHOOK_OUTBOX_PG";

/// The server's connection string, or `None` (a test then returns) when
/// none is configured outside CI.
fn server() -> Option<String> {
    match std::env::var(SERVER) {
        Ok(params) if !params.trim().is_empty() => Some(params),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "`{SERVER}` is not set under CI: run the tests under `bash .ci/postgres`"
            );
            eprintln!(
                "skipped: no PostgreSQL server (`{SERVER}` is not set; run `bash .ci/postgres \
                 cargo test -p callhook-outbox --features postgres --test postgres`)"
            );
            None
        }
    }
}

/// A fresh database named for the test, and its connection string.
fn database(name: &str) -> Option<String> {
    let base = server()?;
    let db = format!("callhook_{name}_{}", std::process::id());
    let mut client = Client::connect(&base, NoTls).unwrap();
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    client
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    Some(format!("{base} dbname={db}"))
}

fn connect(params: &str) -> PgOutbox {
    PgOutbox::connect(params, Options::default()).unwrap()
}

fn setup(name: &str) -> Option<(String, PgOutbox, Registry)> {
    let params = database(name)?;
    let outbox = connect(&params);
    Some((params, outbox, registry("127.0.0.1:9", "127.0.0.1:10", 2)))
}

/// Records `status` for every claimed row and finishes them in one
/// `finish_all`, with the state.
fn answer(
    outbox: &mut PgOutbox,
    registry: &Registry,
    claimed: &[Claimed],
    status: u16,
    now: DateTime<Utc>,
) -> Vec<RowState> {
    let mut state = DeliveryState::default();
    let headers = http::HeaderMap::new();
    let outcome = Outcome::response(http::StatusCode::from_u16(status).unwrap(), &headers);
    let recorded: Vec<(Envelope, Decision)> = claimed
        .iter()
        .map(|c| {
            let mut envelope = c.envelope.clone();
            let decision = envelope
                .record_in(registry, outcome, now, &mut state)
                .unwrap();
            (envelope, decision)
        })
        .collect();
    let finished: Vec<Finished<'_>> = claimed
        .iter()
        .zip(&recorded)
        .map(|(claimed, (envelope, decision))| Finished::new(claimed, envelope, decision))
        .collect();
    outbox
        .finish_all(&finished, Some(state), now)
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn connecting_migrates_once_and_a_newer_schema_is_refused() {
    let Some((params, mut outbox, _)) = setup("migrate") else {
        return;
    };
    // Connecting again (another worker) migrates nothing.
    drop(connect(&params));
    let version: i64 = outbox
        .client_mut()
        .query_one("SELECT version FROM callhook_outbox_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, callhook_outbox::postgres::SCHEMA_VERSION);
    // The promise is set on the connection, whatever the server's default.
    let setting: String = outbox
        .client_mut()
        .query_one("SHOW synchronous_commit", &[])
        .unwrap()
        .get(0);
    assert_eq!(setting, "on");
    outbox
        .client_mut()
        .execute("UPDATE callhook_outbox_schema SET version = 99", &[])
        .unwrap();
    let e = PgOutbox::connect(&params, Options::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NewerSchema);
    assert!(e.to_string().contains("version 99"), "{e}");
    // A server that cannot be reached: postgres's error as the source.
    let e = PgOutbox::connect("host=127.0.0.1 port=1 user=nobody", Options::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Database);
    assert!(std::error::Error::source(&e)
        .unwrap()
        .is::<callhook_outbox::postgres::driver::Error>());
    let e = PgOutbox::connect(&params, Options::default().with_max_in_flight(0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit);
}

#[test]
fn a_delivery_id_is_one_row_and_enqueue_in_commits_with_the_hosts_data() {
    let Some((_, mut outbox, registry)) = setup("enqueue") else {
        return;
    };
    let now = at("2024-12-02T21:00:00Z");
    let sent = envelopes(&registry, "call-1", now);
    assert_eq!(outbox.enqueue(&sent).unwrap(), 2);
    assert_eq!(outbox.enqueue(&sent).unwrap(), 0);
    assert_eq!(outbox.depth().unwrap(), 2);
    assert_eq!(
        outbox.row_state(&sent[0].delivery).unwrap(),
        Some(RowState::Due)
    );
    let client = outbox.client_mut();
    client
        .batch_execute("CREATE TABLE calls (id TEXT PRIMARY KEY)")
        .unwrap();
    {
        let mut tx = client.transaction().unwrap();
        tx.execute("INSERT INTO calls VALUES ('call-2')", &[])
            .unwrap();
        PgOutbox::enqueue_in(&mut tx, &envelopes(&registry, "call-2", now)).unwrap();
        // Dropped: rolled back, the call and its webhooks alike.
    }
    assert_eq!(outbox.depth().unwrap(), 2);
    let mut tx = outbox.client_mut().transaction().unwrap();
    tx.execute("INSERT INTO calls VALUES ('call-2')", &[])
        .unwrap();
    assert_eq!(
        PgOutbox::enqueue_in(&mut tx, &envelopes(&registry, "call-2", now)).unwrap(),
        2
    );
    tx.commit().unwrap();
    assert_eq!(outbox.depth().unwrap(), 4);
    let too_many = vec![sent[0].clone(); callhook_outbox::limits::ENQUEUE_BATCH + 1];
    assert_eq!(
        outbox.enqueue(&too_many).unwrap_err().kind(),
        ErrorKind::Limit
    );
}

#[test]
fn leases_expire_and_a_claim_taken_over_cannot_be_finished() {
    let Some((_, mut outbox, registry)) = setup("leases") else {
        return;
    };
    let now = at("2024-12-02T21:00:00Z");
    let mut later = envelopes(&registry, "call-1", now);
    for e in &mut later {
        e.next_attempt_at = now + chrono::Duration::seconds(10);
    }
    outbox.enqueue(&later).unwrap();
    assert!(outbox.claim("w1", now, 10, LEASE).unwrap().is_empty());
    let due = now + chrono::Duration::seconds(10);
    let first = outbox.claim("w1", due, 10, LEASE).unwrap();
    assert_eq!(first.len(), 2);
    assert!(outbox
        .claim("w2", due + chrono::Duration::seconds(29), 10, LEASE)
        .unwrap()
        .is_empty());
    // Taken over by a worker of the same name: the claim counter tells.
    let expired = due + chrono::Duration::seconds(30);
    let second = outbox.claim("w1", expired, 10, LEASE).unwrap();
    assert_eq!(second.len(), 2);
    let e = outbox
        .finish(&first[0], &first[0].envelope, &Decision::Delivered, expired)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LeaseLost);
    // Another delivery's envelope is refused.
    let e = outbox
        .finish(
            &second[0],
            &second[1].envelope,
            &Decision::Delivered,
            expired,
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Envelope);
    assert_eq!(
        answer(&mut outbox, &registry, &second, 204, expired),
        [RowState::Delivered; 2]
    );
    assert_eq!(outbox.depth().unwrap(), 0);
    let stats = outbox.stats(expired).unwrap();
    assert_eq!((stats.delivered, stats.due, stats.claimed), (2, 0, 0));
    assert!(outbox.state().unwrap() != DeliveryState::default());
    assert_eq!(
        outbox
            .claim("w1", now, callhook_outbox::limits::CLAIM_BATCH + 1, LEASE)
            .unwrap_err()
            .kind(),
        ErrorKind::Limit
    );
}

#[test]
fn retries_are_due_at_their_time_and_dead_letters_are_listed_and_replayed() {
    let Some((_, mut outbox, _)) = setup("dead_letters") else {
        return;
    };
    let registry = registry("127.0.0.1:9", "127.0.0.1:10", 2);
    let now = at("2024-12-02T21:00:00Z");
    outbox
        .enqueue(&envelopes(&registry, "call-1", now))
        .unwrap();
    outbox
        .enqueue(&envelopes(
            &registry,
            "call-2",
            now + chrono::Duration::hours(1),
        ))
        .unwrap();
    let later = now + chrono::Duration::hours(2);
    let claimed = outbox.claim("w1", later, 10, LEASE).unwrap();
    assert_eq!(claimed.len(), 4);
    // Earliest first.
    assert_eq!(claimed[0].envelope.call_id.as_deref(), Some("call-1"));
    let (gone, failing): (Vec<_>, Vec<_>) = claimed
        .into_iter()
        .partition(|c| c.envelope.webhook == CRM_WEBHOOK);
    assert_eq!(
        answer(&mut outbox, &registry, &gone, 410, later),
        [RowState::Disabled; 2]
    );
    assert_eq!(
        answer(&mut outbox, &registry, &failing, 500, later),
        [RowState::Due; 2]
    );
    assert!(outbox.claim("w1", later, 10, LEASE).unwrap().is_empty());
    let retry = later + chrono::Duration::seconds(2);
    let again = outbox.claim("w1", retry, 10, LEASE).unwrap();
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|c| c.envelope.webhook == BACKUP_WEBHOOK));
    // max_attempts 2: the second failure gives up.
    assert_eq!(
        answer(&mut outbox, &registry, &again, 500, retry),
        [RowState::GivenUp; 2]
    );
    let letters = outbox.dead_letters(10).unwrap();
    assert_eq!(letters.len(), 4);
    for letter in &letters {
        let envelope = letter.envelope.as_ref().unwrap();
        assert!(!envelope.attempts.is_empty());
        assert!(letter.outcome.contains("Disable") || letter.outcome.contains("GiveUp"));
    }
    // The latest ended first: the given-up ones.
    assert_eq!(letters[0].state, RowState::GivenUp);
    assert_eq!(outbox.dead_letters(1).unwrap().len(), 1);
    assert_eq!(
        outbox.dead_letters(1_001).unwrap_err().kind(),
        ErrorKind::Limit
    );

    let replay_at = retry + chrono::Duration::minutes(1);
    assert!(outbox.replay(&letters[0].delivery, replay_at).unwrap());
    assert!(!outbox.replay(&letters[0].delivery, replay_at).unwrap());
    let claimed = outbox.claim("w1", replay_at, 10, LEASE).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].envelope.attempt, 0);
    assert_eq!(claimed[0].envelope.attempts.len(), 2);
    assert_eq!(
        answer(&mut outbox, &registry, &claimed, 204, replay_at),
        [RowState::Delivered]
    );
    // A webhook's within a time range: only call-1's (dispatched at `now`).
    let n = outbox
        .replay_webhook(
            CRM_WEBHOOK,
            now,
            now + chrono::Duration::minutes(30),
            replay_at,
        )
        .unwrap();
    assert_eq!(n, 1);
    let claimed = outbox.claim("w1", replay_at, 10, LEASE).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].envelope.call_id.as_deref(), Some("call-1"));
    assert_eq!(outbox.dead_letters(10).unwrap().len(), 2);
}

#[test]
fn retention_deletes_old_delivered_rows_and_erasure_every_row_of_a_call() {
    let Some((_, mut outbox, registry)) = setup("retention") else {
        return;
    };
    let now = at("2024-12-02T21:00:00Z");
    for call in ["call-1", "call-2", "call-3"] {
        outbox.enqueue(&envelopes(&registry, call, now)).unwrap();
    }
    let claimed = outbox.claim("w1", now, 2, LEASE).unwrap();
    answer(&mut outbox, &registry, &claimed, 204, now);
    let day = chrono::Duration::days(1);
    assert_eq!(outbox.delete_delivered(now + day, day).unwrap(), 0);
    assert_eq!(
        outbox
            .delete_delivered(now + day + chrono::Duration::seconds(1), day)
            .unwrap(),
        2
    );
    assert_eq!(outbox.depth().unwrap(), 4);
    // Erasure takes claimed rows too, and the call's sequences; their
    // worker's finish is refused.
    let claimed = outbox.claim("w1", now, 1, LEASE).unwrap();
    let erased = claimed[0].envelope.call_id.clone().unwrap();
    let mut state = DeliveryState::default();
    state.sequences.delivered(&erased, CRM_WEBHOOK, 3, now);
    state.sequences.delivered("call-9", CRM_WEBHOOK, 3, now);
    outbox.merge_state(state).unwrap();
    assert_eq!(outbox.erase_call(&erased).unwrap(), 2);
    let state = outbox.state().unwrap();
    assert_eq!(state.sequences.superseded(&erased, CRM_WEBHOOK, 2), None);
    assert_eq!(
        state.sequences.superseded("call-9", CRM_WEBHOOK, 2),
        Some(3)
    );
    assert_eq!(outbox.depth().unwrap(), 2);
    assert_eq!(outbox.envelope(claimed[0].delivery()).unwrap(), None);
    let e = outbox
        .finish(&claimed[0], &claimed[0].envelope, &Decision::Delivered, now)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LeaseLost);
    let rows = outbox.rows(None, 10).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].0 < rows[1].0);
    assert_eq!(outbox.rows(Some(&rows[0].0), 10).unwrap(), rows[1..]);
}

#[test]
fn an_unreadable_stored_envelope_is_given_up_not_claimed() {
    let Some((_, mut outbox, registry)) = setup("unreadable") else {
        return;
    };
    let now = at("2024-12-02T21:00:00Z");
    let sent = envelopes(&registry, "call-1", now);
    outbox.enqueue(&sent).unwrap();
    outbox
        .client_mut()
        .execute(
            "UPDATE callhook_outbox_deliveries SET envelope = '{\"version\": 99}' WHERE id = $1",
            &[&sent[0].delivery],
        )
        .unwrap();
    assert_eq!(outbox.claim("w1", now, 10, LEASE).unwrap().len(), 1);
    assert_eq!(
        outbox.row_state(&sent[0].delivery).unwrap(),
        Some(RowState::GivenUp)
    );
    let letters = outbox.dead_letters(10).unwrap();
    assert!(letters[0].envelope.is_none());
    assert_eq!(
        outbox.replay(&sent[0].delivery, now).unwrap_err().kind(),
        ErrorKind::Envelope
    );
    assert_eq!(
        outbox.envelope(&sent[0].delivery).unwrap_err().kind(),
        ErrorKind::Envelope
    );
}

#[test]
fn two_connections_claiming_together_keep_the_per_endpoint_cap() {
    let Some(params) = database("cap") else {
        return;
    };
    const CAP: usize = 3;
    let options = Options::default().with_max_in_flight(CAP);
    let mut outbox = PgOutbox::connect(&params, options.clone()).unwrap();
    let registry = registry("127.0.0.1:9", "127.0.0.1:10", 2);
    let start = at("2024-12-02T21:00:00Z");
    for i in 0..20 {
        outbox
            .enqueue(&envelopes(&registry, &format!("call-{i}"), start))
            .unwrap();
    }
    // Each round both workers claim at once, at a time when every earlier
    // lease has expired: between them exactly the cap per endpoint.
    const ROUNDS: i64 = 25;
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = ["w1", "w2"]
        .into_iter()
        .map(|name| {
            let (params, options, barrier) = (params.clone(), options.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut outbox = PgOutbox::connect(&params, options).unwrap();
                (0..ROUNDS)
                    .map(|round| {
                        let now = start + chrono::Duration::minutes(round);
                        barrier.wait();
                        let claimed = outbox.claim(name, now, 100, LEASE).unwrap();
                        barrier.wait();
                        claimed
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let rounds: Vec<Vec<Vec<Claimed>>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    for (round, (first, second)) in rounds[0].iter().zip(&rounds[1]).enumerate() {
        let both: Vec<&Claimed> = first.iter().chain(second).collect();
        for webhook in [CRM_WEBHOOK, BACKUP_WEBHOOK] {
            let n = both
                .iter()
                .filter(|c| c.envelope.webhook == webhook)
                .count();
            assert_eq!(n, CAP, "round {round}: {n} of {webhook} in flight");
        }
    }
    // Another worker finds none until one finishes.
    let now = start + chrono::Duration::minutes(ROUNDS - 1);
    assert!(outbox.claim("w3", now, 100, LEASE).unwrap().is_empty());
    let last = &rounds[0][usize::try_from(ROUNDS - 1).unwrap()];
    if let Some(one) = last.first() {
        answer(&mut outbox, &registry, std::slice::from_ref(one), 204, now);
        assert_eq!(outbox.claim("w3", now, 100, LEASE).unwrap().len(), 1);
    }
}

#[test]
fn workers_merging_their_state_together_lose_none_of_it() {
    let Some(params) = database("merge") else {
        return;
    };
    let now = at("2024-12-02T21:00:00Z");
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let params = params.clone();
            std::thread::spawn(move || {
                let mut outbox = connect(&params);
                for i in 0..25 {
                    let mut state = DeliveryState::default();
                    state
                        .sequences
                        .delivered(&format!("call-{w}-{i}"), CRM_WEBHOOK, 1, now);
                    // Through `finish_all`, as a worker does: no rows, the state.
                    outbox.finish_all(&[], Some(state), now).unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let state = connect(&params).state().unwrap();
    for w in 0..4 {
        for i in 0..25 {
            assert_eq!(
                state
                    .sequences
                    .superseded(&format!("call-{w}-{i}"), CRM_WEBHOOK, 0),
                Some(1),
                "call-{w}-{i} lost"
            );
        }
    }
}

// The proof: 4 worker processes, one killed.

const CALLS: usize = 5_000; // two webhooks each: 10,000 deliveries
const WORKERS: usize = 4;
const BATCH: usize = 32;
const PROOF_LEASE: Duration = Duration::from_secs(5);
const MAX_ATTEMPTS: u32 = 10;
const WORKER: &str = "CALLHOOK_OUTBOX_PG_WORKER";

fn proof_registry(receiver: &str) -> Registry {
    // Both services on the one receiver (one endpoint); the delivery id
    // travels in the body.
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
            {"id": CRM_WEBHOOK, "event": "Call:Hangup",
             "service": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "scopes": ["*"]},
            {"id": BACKUP_WEBHOOK, "event": "Call:Hangup",
             "service": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6c", "scopes": ["*"]}
        ]
    });
    Registry::from_config(
        &callhook::Config::from_json(&config.to_string()).unwrap(),
        callhook::Catalog::standard().clone(),
    )
    .unwrap()
}

/// What the receiver saw: each delivery id it answered 204, how often,
/// and how many attempts it failed.
#[derive(Default)]
struct Received {
    delivered: HashMap<String, u32>,
    failed: u64,
}

/// A receiver on 127.0.0.1, a thread per connection and keep-alive, so 4
/// workers send at once: one attempt in five (by a shared counter) is
/// answered `500`, the others `204`, recording the delivery id.
fn receiver() -> (SocketAddr, Arc<Mutex<Received>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Received::default()));
    let seen = Arc::clone(&received);
    let count = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (seen, count) = (Arc::clone(&seen), Arc::clone(&count));
            std::thread::spawn(move || serve(stream, &seen, &count));
        }
    });
    (address, received)
}

fn serve(mut stream: std::net::TcpStream, seen: &Mutex<Received>, count: &AtomicU64) {
    let _ = stream.set_nodelay(true);
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    loop {
        let mut length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return; // the worker closed it (or was killed)
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body);
        let id = body
            .split("\"delivery\": \"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_owned();
        let fail = count.fetch_add(1, Ordering::Relaxed) % 5 == 4;
        {
            let mut seen = seen.lock().unwrap();
            if fail {
                seen.failed += 1;
            } else {
                *seen.delivered.entry(id).or_default() += 1;
            }
        }
        let status = if fail {
            "500 Internal Server Error"
        } else {
            "204 No Content"
        };
        if write!(stream, "HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").is_err() {
            return;
        }
    }
}

/// A worker process: `Worker` over the `PgOutbox`, claiming, sending
/// with the blocking adapter and finishing batches until the outbox is
/// empty; it writes a line after each send (where it is in its batch) and
/// its counters at the end.
#[test]
fn pg_worker() {
    let Ok(setting) = std::env::var(WORKER) else {
        return; // only as the proof's child
    };
    let mut parts = setting.splitn(3, '|');
    let (params, receiver, name) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let registry = proof_registry(receiver);
    let options = Options::default().with_max_in_flight(WORKERS * BATCH);
    let mut store = PgOutbox::connect(params, options).unwrap();
    let sender = BlockingSender::new(SendOptions::new()).unwrap();
    let mut worker = Worker::new(
        name,
        WorkerOptions::default()
            .with_batch(BATCH)
            .with_lease(PROOF_LEASE),
    );
    let mut stdout = std::io::stdout().lock();
    loop {
        let batch = worker.claim(&mut store, &registry, Utc::now()).unwrap();
        if batch.is_empty() {
            if Store::depth(&mut store).unwrap() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let mut attempted = Vec::with_capacity(batch.len());
        for (index, outgoing) in batch.to_send() {
            attempted.push((index, sender.send(&registry, outgoing).unwrap()));
            // Where in its batch the worker is, so the proof can kill it
            // with sends out and none of them recorded.
            writeln!(stdout, "sent {} of {}", attempted.len() - 1, batch.len()).unwrap();
            stdout.flush().unwrap();
        }
        let outcomes: Vec<_> = attempted
            .iter()
            .map(|(index, done)| (*index, done.outcome()))
            .collect();
        worker
            .finish(&mut store, &registry, batch, &outcomes, Utc::now())
            .unwrap();
    }
    let c = worker.counters();
    writeln!(
        stdout,
        "done {} {} {} {}",
        c.delivered, c.retried, c.lease_lost, c.given_up
    )
    .unwrap();
}

fn spawn_worker(params: &str, receiver: SocketAddr, name: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["pg_worker", "--exact", "--nocapture", "--test-threads=1"])
        .env(WORKER, format!("{params}|{receiver}|{name}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

#[test]
#[cfg(unix)]
fn four_workers_one_killed_deliver_ten_thousand_and_lose_nothing() {
    let Some(params) = database("proof") else {
        return;
    };
    let (address, received) = receiver();
    let registry = proof_registry(&address.to_string());
    let mut outbox = PgOutbox::connect(&params, Options::default()).unwrap();
    let now = Utc::now();
    let mut batch = Vec::new();
    for i in 0..CALLS {
        batch.extend(common::envelopes(&registry, &format!("call-{i}"), now));
        if batch.len() >= 2_000 || i + 1 == CALLS {
            outbox.enqueue(&batch).unwrap();
            batch.clear();
        }
    }
    let total = CALLS * 2;
    assert_eq!(outbox.depth().unwrap(), total as u64);

    let started = Instant::now();
    let mut workers: Vec<_> = (0..WORKERS)
        .map(|i| spawn_worker(&params, address, &format!("worker-{i}")))
        .collect();
    // Each worker's progress lines; the others' are read and dropped so
    // their pipes never fill.
    let (progress, lines) = std::sync::mpsc::channel::<(usize, String)>();
    for (n, worker) in workers.iter_mut().enumerate() {
        let out = BufReader::new(worker.stdout.take().unwrap());
        let progress = progress.clone();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let _ = progress.send((n, line));
            }
        });
    }
    drop(progress);
    // Midway (half the deliveries arrived), worker 1 is killed with
    // SIGKILL (`Child::kill` on Unix: no destructor, no rollback) right
    // after a send in the middle of its batch, so sends are out that it
    // never recorded. It is not restarted: the other three take its rows
    // over when their leases expire.
    let deadline = Instant::now() + Duration::from_secs(150);
    while received.lock().unwrap().delivered.len() < total / 2 {
        assert!(
            Instant::now() < deadline,
            "half the deliveries never arrived"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Lines written before now say nothing of where it is now.
    while lines.try_recv().is_ok() {}
    loop {
        let (n, line) = lines.recv_timeout(Duration::from_secs(30)).unwrap();
        let mid_batch = line
            .strip_prefix("sent ")
            .and_then(|rest| rest.split_once(" of "))
            .and_then(|(i, of)| Some((i.parse::<usize>().ok()?, of.parse::<usize>().ok()?)))
            .is_some_and(|(i, of)| i > 0 && i + 1 < of);
        if n == 1 && mid_batch {
            break;
        }
    }
    let half = started.elapsed().as_secs_f64();
    let mut killed = workers.remove(1);
    killed.kill().unwrap();
    killed.wait().unwrap();
    let kills = 1;
    let held: i64 = outbox
        .client_mut()
        .query_one(
            "SELECT COUNT(*) FROM callhook_outbox_deliveries
             WHERE state = 'claimed' AND lease_owner = 'worker-1'",
            &[],
        )
        .unwrap()
        .get(0);
    // The survivors' counters, from their last lines.
    let done = std::thread::spawn(move || {
        let mut sums = [0u64; 4];
        for (_, line) in lines {
            if let Some(rest) = line.strip_prefix("done ") {
                for (sum, n) in sums.iter_mut().zip(rest.split(' ')) {
                    *sum += n.parse::<u64>().unwrap_or(0);
                }
            }
        }
        sums
    });
    for mut worker in workers {
        loop {
            if let Some(status) = worker.try_wait().unwrap() {
                assert!(status.success(), "a worker failed: {status}");
                break;
            }
            assert!(Instant::now() < deadline, "the workers did not finish");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let [recorded, retried, lease_lost, given_up] = done.join().unwrap();
    assert_eq!(given_up, 0);

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
    let mut lost = 0;
    for (id, state) in &ids {
        // Every row terminal, and delivered.
        assert_eq!(*state, RowState::Delivered, "{id}");
        let arrived = received.delivered.get(id).copied().unwrap_or(0);
        if arrived == 0 {
            lost += 1;
        }
        duplicates += arrived.saturating_sub(1) as usize;
        let envelope = outbox.envelope(id).unwrap().unwrap();
        assert!(
            envelope.attempt <= MAX_ATTEMPTS,
            "{id}: {} attempts",
            envelope.attempt
        );
    }
    assert_eq!(lost, 0, "deliveries never arrived");
    assert!(
        duplicates <= kills * BATCH,
        "{duplicates} duplicates over {kills} kills"
    );
    let stats = outbox.stats(Utc::now()).unwrap();
    assert_eq!((stats.due, stats.claimed), (0, 0));
    println!(
        "postgres: {total} deliveries, {WORKERS} workers, {kills} killed holding {held} rows \
         (taken over after their lease), {duplicates} duplicates, {} failed attempts \
         ({retried} retries recorded by the survivors, who recorded {recorded} deliveries and \
         lost {lease_lost} leases), {lost} lost, {seconds:.1} s, {:.0} deliveries/s ({:.0}/s until the kill, \
         the first half)",
        received.failed,
        total as f64 / seconds,
        (total / 2) as f64 / half
    );
}
