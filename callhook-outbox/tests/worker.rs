//! The worker through its public API: claim (admit, prepare), the host's
//! sends, finish (record, one `finish_all`), and its counters.

mod common;

use std::time::Duration;

use callhook::{DeliveryState, Outcome, Registry};
use callhook_outbox::{ErrorKind, Options, Outbox, RowState, Worker, WorkerOptions};
use chrono::{DateTime, Utc};
use common::{at, envelopes, registry, CRM_WEBHOOK};

fn setup() -> (tempfile::TempDir, Outbox, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path().join("outbox.db"), Options::default()).unwrap();
    (dir, outbox, registry("127.0.0.1:9", "127.0.0.1:10", 2))
}

fn worker(name: &str) -> Worker {
    Worker::new(
        name,
        WorkerOptions::default()
            .with_batch(10)
            .with_lease(Duration::from_secs(30)),
    )
}

/// Answers every delivery of the batch with `status` and finishes it.
fn answer_all(
    worker: &mut Worker,
    outbox: &mut Outbox,
    registry: &Registry,
    now: DateTime<Utc>,
    status: u16,
) -> callhook_outbox::Finish {
    let batch = worker.claim(outbox, registry, now).unwrap();
    let headers = http::HeaderMap::new();
    let outcome = Outcome::response(http::StatusCode::from_u16(status).unwrap(), &headers);
    let results: Vec<_> = batch.to_send().map(|(i, _)| (i, outcome)).collect();
    worker
        .finish(outbox, registry, batch, &results, now)
        .unwrap()
}

#[test]
fn admitted_rows_are_prepared_sent_and_recorded_in_one_finish() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    outbox
        .enqueue(&envelopes(&registry, "call-1", now))
        .unwrap();
    outbox
        .enqueue(&envelopes(&registry, "call-2", now))
        .unwrap();
    let mut worker = worker("w1");
    let batch = worker.claim(&mut outbox, &registry, now).unwrap();
    assert_eq!(batch.len(), 4);
    // Prepared at send time: a complete request for each.
    let sent: Vec<_> = batch.to_send().collect();
    assert_eq!(sent.len(), 4);
    assert!(sent[0]
        .1
        .request
        .uri()
        .to_string()
        .starts_with("http://127.0.0.1:"));
    let headers = http::HeaderMap::new();
    let ok = Outcome::response(http::StatusCode::NO_CONTENT, &headers);
    let failed = Outcome::response(http::StatusCode::INTERNAL_SERVER_ERROR, &headers);
    let results = [(0, ok), (1, failed), (2, ok), (3, ok)];
    let finish = worker
        .finish(&mut outbox, &registry, batch, &results, now)
        .unwrap();
    assert_eq!(finish.counts.delivered, 3);
    assert_eq!(finish.counts.retried, 1);
    assert_eq!(finish.rows.len(), 4);
    assert!(matches!(finish.rows[1].result, Ok(RowState::Due)));
    assert!(matches!(
        finish.rows[1].decision,
        callhook::Decision::Retry { .. }
    ));
    assert_eq!(outbox.depth().unwrap(), 1);
    // The retry comes back at its time, and the policy's second and last
    // attempt gives it up.
    let later = now + chrono::Duration::seconds(5);
    let finish = answer_all(&mut worker, &mut outbox, &registry, later, 500);
    assert_eq!(finish.counts.given_up, 1);
    let counters = worker.counters();
    assert_eq!(
        (
            counters.claimed,
            counters.delivered,
            counters.retried,
            counters.given_up
        ),
        (5, 3, 1, 1)
    );
    assert_eq!(outbox.dead_letters(10).unwrap().len(), 1);
    // The batch's state was stored with it: the endpoint's failures.
    assert!(!outbox.state().unwrap().endpoints.is_empty());
}

#[test]
fn a_superseded_update_is_skipped_and_a_paused_endpoint_waits() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    // Sequence 5 of call-1 to the crm webhook was delivered already.
    let mut state = DeliveryState::default();
    state.sequences.delivered("call-1", CRM_WEBHOOK, 5, now);
    outbox.merge_state(state).unwrap();
    let mut old = envelopes(&registry, "call-1", now);
    for envelope in &mut old {
        envelope.sequence = Some(3);
    }
    outbox.enqueue(&old).unwrap();
    let mut worker = worker("w1");
    let finish = answer_all(&mut worker, &mut outbox, &registry, now, 503);
    // crm's is superseded; backup's is sent and asked to wait a minute.
    assert_eq!(finish.counts.skipped, 1);
    assert_eq!(finish.counts.retried, 1);

    // A `503` with `Retry-After` pauses backup's endpoint: the next
    // delivery to it waits without an attempt.
    let mut retry_after = http::HeaderMap::new();
    retry_after.insert(http::header::RETRY_AFTER, "60".parse().unwrap());
    let later = now + chrono::Duration::seconds(1);
    outbox
        .enqueue(&envelopes(&registry, "call-2", later))
        .unwrap();
    let batch = worker.claim(&mut outbox, &registry, later).unwrap();
    let busy = Outcome::response(http::StatusCode::SERVICE_UNAVAILABLE, &retry_after);
    let headers = http::HeaderMap::new();
    let ok = Outcome::response(http::StatusCode::NO_CONTENT, &headers);
    let results: Vec<_> = batch
        .to_send()
        .map(|(i, o)| (i, if &*o.webhook == CRM_WEBHOOK { ok } else { busy }))
        .collect();
    worker
        .finish(&mut outbox, &registry, batch, &results, later)
        .unwrap();
    let again = later + chrono::Duration::seconds(2);
    outbox
        .enqueue(&envelopes(&registry, "call-3", again))
        .unwrap();
    let batch = worker.claim(&mut outbox, &registry, again).unwrap();
    let to_send: Vec<String> = batch
        .to_send()
        .map(|(_, o)| o.webhook.to_string())
        .collect();
    assert_eq!(to_send, [CRM_WEBHOOK]);
    let results: Vec<_> = batch.to_send().map(|(i, _)| (i, ok)).collect();
    let finish = worker
        .finish(&mut outbox, &registry, batch, &results, again)
        .unwrap();
    // call-3's to backup waits (and call-1's retry there, if due).
    assert!(finish.counts.waited >= 1);
    assert_eq!(finish.counts.waited, finish.counts.claimed - 1);
    assert_eq!(finish.counts.delivered, 1);
    assert_eq!(worker.counters().skipped, 1);
}

#[test]
fn a_delivery_given_no_result_is_released_not_attempted() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    outbox
        .enqueue(&envelopes(&registry, "call-1", now))
        .unwrap();
    let mut worker = worker("w1");
    let batch = worker.claim(&mut outbox, &registry, now).unwrap();
    let finish = worker
        .finish(&mut outbox, &registry, batch, &[], now)
        .unwrap();
    assert_eq!(finish.counts.released, 2);
    assert_eq!(finish.counts.retried, 0);
    // Due again after the release delay, its attempt count unchanged.
    let batch = worker.claim(&mut outbox, &registry, now).unwrap();
    assert!(batch.is_empty());
    let later = now + chrono::Duration::from_std(callhook_outbox::RELEASE_DELAY).unwrap();
    let finish = answer_all(&mut worker, &mut outbox, &registry, later, 204);
    assert_eq!(finish.counts.delivered, 2);
    let id = &finish.rows[0].delivery;
    assert_eq!(outbox.envelope(id).unwrap().unwrap().attempt, 1);
}

#[test]
fn a_result_for_a_delivery_not_to_send_is_refused_and_nothing_written() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    outbox
        .enqueue(&envelopes(&registry, "call-1", now))
        .unwrap();
    let mut worker = worker("w1");
    let headers = http::HeaderMap::new();
    let ok = Outcome::response(http::StatusCode::NO_CONTENT, &headers);
    for results in [vec![(7, ok)], vec![(0, ok), (0, ok)]] {
        let batch = worker.claim(&mut outbox, &registry, now).unwrap();
        let e = worker
            .finish(&mut outbox, &registry, batch, &results, now)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Envelope);
        assert_eq!(
            e.to_string(),
            format!(
                "result {} is not a delivery of the batch to send, or is given twice",
                results.last().unwrap().0
            )
        );
    }
    // Still claimed by the first claim: nothing was written.
    assert_eq!(outbox.stats(now).unwrap().claimed, 2);
}

#[test]
fn a_lease_lost_mid_batch_is_counted_and_the_other_claim_stands() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    outbox
        .enqueue(&envelopes(&registry, "call-1", now))
        .unwrap();
    let mut slow = worker("slow");
    let mut fast = worker("fast");
    let batch = slow.claim(&mut outbox, &registry, now).unwrap();
    // The slow worker's sends outlast its lease: another takes the rows
    // and delivers them.
    let expired = now + chrono::Duration::seconds(31);
    let finish = answer_all(&mut fast, &mut outbox, &registry, expired, 204);
    assert_eq!(finish.counts.delivered, 2);
    let headers = http::HeaderMap::new();
    let failed = Outcome::response(http::StatusCode::INTERNAL_SERVER_ERROR, &headers);
    let results: Vec<_> = batch.to_send().map(|(i, _)| (i, failed)).collect();
    let finish = slow
        .finish(&mut outbox, &registry, batch, &results, expired)
        .unwrap();
    assert_eq!(finish.counts.lease_lost, 2);
    assert_eq!(finish.counts.retried, 0);
    assert!(finish
        .rows
        .iter()
        .all(|row| row.result.as_ref().unwrap_err().kind() == ErrorKind::LeaseLost));
    assert_eq!(slow.counters().lease_lost, 2);
    let stats = outbox.stats(expired).unwrap();
    assert_eq!((stats.delivered, stats.due, stats.claimed), (2, 0, 0));
}

#[test]
fn a_token_needed_is_asked_first_and_the_delivery_then_prepared() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(dir.path().join("outbox.db"), Options::default()).unwrap();
    let config = serde_json::json!({
        "allowed_addresses": ["127.0.0.1"],
        "services": [
            {"id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "name": "crm", "method": "POST",
             "url": "http://127.0.0.1:9/calls",
             "body": {"kind": "json", "template": "{}"},
             "auth": {"kind": "oauth2", "token_url": "https://server.example.com/token",
                      "grant": {"type": "client_credentials"},
                      "client_id": "s6BhdRkqt3", "client_secret": "gX1fBat3bV"}}
        ],
        "webhooks": [
            {"id": CRM_WEBHOOK, "event": "Call:Hangup",
             "service": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "scopes": ["*"]}
        ]
    });
    let registry = Registry::from_config(
        &callhook::Config::from_json(&config.to_string()).unwrap(),
        callhook::Catalog::standard().clone(),
    )
    .unwrap();
    let now = at("2024-12-02T21:00:00Z");
    outbox
        .enqueue(&envelopes(&registry, "call-1", now))
        .unwrap();
    outbox
        .enqueue(&envelopes(&registry, "call-2", now))
        .unwrap();
    let mut worker = worker("w1");
    let mut batch = worker.claim(&mut outbox, &registry, now).unwrap();
    assert_eq!(batch.to_send().count(), 0);
    // One token for both deliveries.
    let asked: Vec<_> = batch.token_requests().map(|(i, _)| i).collect();
    assert_eq!(asked, [0]);
    let e = batch
        .accept_token(1, http::StatusCode::OK, b"{}", now)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Envelope);
    batch
        .accept_token(
            0,
            http::StatusCode::OK,
            br#"{"access_token":"a1","expires_in":3600}"#,
            now,
        )
        .unwrap();
    batch.prepare_again(&registry, now);
    let sent: Vec<_> = batch.to_send().collect();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].1.request.headers()["authorization"], "Bearer a1");
    let headers = http::HeaderMap::new();
    let ok = Outcome::response(http::StatusCode::NO_CONTENT, &headers);
    let results: Vec<_> = batch.to_send().map(|(i, _)| (i, ok)).collect();
    let finish = worker
        .finish(&mut outbox, &registry, batch, &results, now)
        .unwrap();
    assert_eq!(finish.counts.delivered, 2);
    // The token was stored with the batch: the next claim needs none.
    assert_eq!(outbox.state().unwrap().tokens.len(), 1);
}

#[test]
fn a_token_still_missing_at_finish_releases_the_delivery() {
    let (_dir, mut outbox, _) = setup();
    let config = serde_json::json!({
        "allowed_addresses": ["127.0.0.1"],
        "services": [
            {"id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "name": "crm", "method": "POST",
             "url": "http://127.0.0.1:9/calls",
             "body": {"kind": "json", "template": "{}"},
             "auth": {"kind": "oauth2", "token_url": "https://server.example.com/token",
                      "grant": {"type": "client_credentials"},
                      "client_id": "s6BhdRkqt3", "client_secret": "gX1fBat3bV"}}
        ],
        "webhooks": [
            {"id": CRM_WEBHOOK, "event": "Call:Hangup",
             "service": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "scopes": ["*"]}
        ]
    });
    let registry = Registry::from_config(
        &callhook::Config::from_json(&config.to_string()).unwrap(),
        callhook::Catalog::standard().clone(),
    )
    .unwrap();
    let now = at("2024-12-02T21:00:00Z");
    outbox
        .enqueue(&envelopes(&registry, "call-1", now))
        .unwrap();
    let mut worker = worker("w1");
    let batch = worker.claim(&mut outbox, &registry, now).unwrap();
    let finish = worker
        .finish(&mut outbox, &registry, batch, &[], now)
        .unwrap();
    assert_eq!(finish.counts.released, 1);
    assert_eq!(outbox.stats(now).unwrap().due, 1);
}

#[test]
fn a_service_removed_from_the_registry_is_released_and_counted_as_an_error() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    outbox
        .enqueue(&envelopes(&registry, "call-1", now))
        .unwrap();
    let empty = Registry::new(callhook::Catalog::standard().clone());
    let mut worker = worker("w1");
    let batch = worker.claim(&mut outbox, &empty, now).unwrap();
    assert_eq!(batch.to_send().count(), 0);
    let finish = worker.finish(&mut outbox, &empty, batch, &[], now).unwrap();
    assert_eq!(finish.counts.errors, 2);
    assert_eq!(outbox.stats(now).unwrap().due, 2);
}

#[test]
fn erasing_a_call_forgets_its_delivered_sequences_with_its_rows() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    for call in ["call-1", "call-2"] {
        let mut sent = envelopes(&registry, call, now);
        for envelope in &mut sent {
            envelope.sequence = Some(4);
        }
        outbox.enqueue(&sent).unwrap();
    }
    let mut worker = worker("w1");
    let finish = answer_all(&mut worker, &mut outbox, &registry, now, 204);
    assert_eq!(finish.counts.delivered, 4);
    let state = outbox.state().unwrap();
    assert_eq!(state.sequences.len(), 4);
    assert_eq!(outbox.erase_call("call-1").unwrap(), 2);
    let state = outbox.state().unwrap();
    assert_eq!(state.sequences.len(), 2);
    assert_eq!(state.sequences.superseded("call-1", CRM_WEBHOOK, 1), None);
    assert_eq!(
        state.sequences.superseded("call-2", CRM_WEBHOOK, 1),
        Some(4)
    );
    assert!(!state.to_json().contains("\"call-1\""));
    // A call with nothing stored: nothing erased, the state unchanged.
    assert_eq!(outbox.erase_call("call-9").unwrap(), 0);
    assert_eq!(outbox.state().unwrap(), state);
}

/// A receiver on 127.0.0.1 answering every request `204`, one per
/// connection.
#[cfg(feature = "send")]
fn receiver() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // The requests are small: one read holds head and body.
            let mut request = [0u8; 8192];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        }
    });
    address
}

#[test]
#[cfg(feature = "send")]
fn run_blocking_drains_the_outbox_and_stops_when_told() {
    use callhook_send::{BlockingSender, Options as SendOptions};
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(dir.path().join("outbox.db"), Options::default()).unwrap();
    let address = receiver().to_string();
    let registry = registry(&address, &address, 2);
    let now = Utc::now();
    for i in 0..10 {
        outbox
            .enqueue(&envelopes(&registry, &format!("call-{i}"), now))
            .unwrap();
    }
    let sender = BlockingSender::new(SendOptions::new()).unwrap();
    let mut worker = Worker::new("w1", WorkerOptions::default().with_batch(4));
    // Stopped after the first batch.
    let mut asked = 0;
    let counters = worker
        .run_blocking(&mut outbox, &registry, &sender, Utc::now, |_, _| {
            asked += 1;
            false
        })
        .unwrap();
    assert_eq!((asked, counters.claimed, counters.delivered), (1, 4, 4));
    // Then to the end.
    let counters = worker
        .run_blocking(&mut outbox, &registry, &sender, Utc::now, |_, stats| {
            stats.due + stats.claimed > 0
        })
        .unwrap();
    assert_eq!(counters.delivered, 20);
    assert_eq!(counters, *worker.counters());
    let stats = outbox.stats(Utc::now()).unwrap();
    assert_eq!((stats.delivered, stats.due, stats.claimed), (20, 0, 0));
}

#[test]
fn a_worker_that_could_claim_nothing_is_refused() {
    let (_dir, mut outbox, registry) = setup();
    let mut worker = Worker::new("w1", WorkerOptions::default().with_batch(0));
    let e = worker
        .claim(&mut outbox, &registry, at("2024-12-02T21:00:00Z"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit);
    assert_eq!(
        e.to_string(),
        "the claim batch is 0: no delivery could ever be claimed"
    );
    let mut worker = Worker::new("w1", WorkerOptions::default().with_batch(1_001));
    let e = worker
        .claim(&mut outbox, &registry, at("2024-12-02T21:00:00Z"))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the claim batch is 1001, over the limit of 1000"
    );
}
