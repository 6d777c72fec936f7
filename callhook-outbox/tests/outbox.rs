//! The outbox through its public API: enqueue, claim, leases, the
//! per-endpoint cap, finish, and the operator's functions.

mod common;

use std::time::Duration;

use callhook::{Decision, DeliveryState, Envelope, Outcome, Registry};
use callhook_outbox::{Durability, ErrorKind, Options, Outbox, RowState};
use chrono::{DateTime, Utc};
use common::{at, envelopes, registry, BACKUP_WEBHOOK, CRM_WEBHOOK};

const LEASE: Duration = Duration::from_secs(30);

fn open(dir: &tempfile::TempDir) -> Outbox {
    Outbox::open(dir.path().join("outbox.db"), Options::default()).unwrap()
}

fn setup() -> (tempfile::TempDir, Outbox, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let outbox = open(&dir);
    (dir, outbox, registry("127.0.0.1:9", "127.0.0.1:10", 2))
}

/// Records `outcome` for every claimed row and finishes it.
fn answer(
    outbox: &mut Outbox,
    registry: &Registry,
    claimed: &[callhook_outbox::Claimed],
    status: u16,
    now: DateTime<Utc>,
) -> Vec<RowState> {
    let mut state = DeliveryState::default();
    let headers = http::HeaderMap::new();
    let outcome = Outcome::response(http::StatusCode::from_u16(status).unwrap(), &headers);
    claimed
        .iter()
        .map(|c| {
            let mut envelope = c.envelope.clone();
            let decision = envelope
                .record_in(registry, outcome, now, &mut state)
                .unwrap();
            outbox.finish(c, &envelope, &decision, now).unwrap()
        })
        .collect()
}

#[test]
fn one_dispatch_is_one_transaction_and_a_delivery_id_is_one_row() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    let sent = envelopes(&registry, "call-1", now);
    assert_eq!(sent.len(), 2);
    assert_eq!(outbox.enqueue(&sent).unwrap(), 2);
    // The same dispatch again (same delivery ids): nothing added.
    assert_eq!(
        outbox
            .enqueue(&envelopes(&registry, "call-1", now))
            .unwrap(),
        0
    );
    assert_eq!(outbox.depth().unwrap(), 2);
    assert_eq!(
        outbox.row_state(&sent[0].delivery).unwrap(),
        Some(RowState::Due)
    );
}

#[test]
fn enqueue_in_commits_with_the_hosts_data_or_not_at_all() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    let connection = outbox.connection_mut();
    connection
        .execute_batch("CREATE TABLE calls (id TEXT PRIMARY KEY)")
        .unwrap();
    {
        let tx = connection.transaction().unwrap();
        tx.execute("INSERT INTO calls VALUES ('call-1')", [])
            .unwrap();
        Outbox::enqueue_in(&tx, &envelopes(&registry, "call-1", now)).unwrap();
        // Dropped: rolled back, the call and its webhooks alike.
    }
    assert_eq!(outbox.depth().unwrap(), 0);
    let connection = outbox.connection_mut();
    let tx = connection.transaction().unwrap();
    tx.execute("INSERT INTO calls VALUES ('call-1')", [])
        .unwrap();
    assert_eq!(
        Outbox::enqueue_in(&tx, &envelopes(&registry, "call-1", now)).unwrap(),
        2
    );
    tx.commit().unwrap();
    assert_eq!(outbox.depth().unwrap(), 2);
}

#[test]
fn a_row_is_claimed_when_due_and_again_only_once_its_lease_expired() {
    let (_dir, mut outbox, registry) = setup();
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
    // Leased: no one else gets them, until the lease ends.
    assert!(outbox
        .claim("w2", due + chrono::Duration::seconds(29), 10, LEASE)
        .unwrap()
        .is_empty());
    let expired = due + chrono::Duration::seconds(30);
    let second = outbox.claim("w2", expired, 10, LEASE).unwrap();
    assert_eq!(second.len(), 2);
    // w1's lease was taken over: it cannot finish; w2 can.
    let mut envelope = first[0].envelope.clone();
    let decision = Decision::Delivered;
    envelope.attempt += 1;
    let e = outbox
        .finish(&first[0], &envelope, &decision, expired)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LeaseLost);
    assert_eq!(
        answer(&mut outbox, &registry, &second, 204, expired),
        [RowState::Delivered; 2]
    );
    // Finishing twice is refused too.
    let e = outbox
        .finish(&second[0], &second[0].envelope, &decision, expired)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LeaseLost);
    assert_eq!(outbox.depth().unwrap(), 0);
}

#[test]
fn a_worker_of_the_same_name_cannot_finish_a_claim_taken_over() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    outbox
        .enqueue(&envelopes(&registry, "call-1", now))
        .unwrap();
    let first = outbox.claim("w1", now, 1, LEASE).unwrap();
    let again = outbox
        .claim("w1", now + chrono::Duration::seconds(31), 1, LEASE)
        .unwrap();
    assert_eq!(first[0].delivery(), again[0].delivery());
    let e = outbox
        .finish(&first[0], &first[0].envelope, &Decision::Delivered, now)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LeaseLost);
}

#[test]
fn finish_refuses_another_deliverys_envelope() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    outbox
        .enqueue(&envelopes(&registry, "call-1", now))
        .unwrap();
    let claimed = outbox.claim("w1", now, 2, LEASE).unwrap();
    let e = outbox
        .finish(&claimed[0], &claimed[1].envelope, &Decision::Delivered, now)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Envelope);
    assert!(
        e.to_string().starts_with("the envelope is delivery `"),
        "{e}"
    );
}

#[test]
fn at_most_the_configured_number_per_endpoint_are_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(
        dir.path().join("outbox.db"),
        Options::default().with_max_in_flight(2),
    )
    .unwrap();
    let registry = registry("127.0.0.1:9", "127.0.0.1:10", 2);
    let now = at("2024-12-02T21:00:00Z");
    for i in 0..5 {
        outbox
            .enqueue(&envelopes(&registry, &format!("call-{i}"), now))
            .unwrap();
    }
    // 10 due, 5 per endpoint: 2 of each.
    let first = outbox.claim("w1", now, 100, LEASE).unwrap();
    assert_eq!(first.len(), 4);
    let webhooks = |c: &[callhook_outbox::Claimed], w: &str| {
        c.iter().filter(|c| c.envelope.webhook == w).count()
    };
    assert_eq!(webhooks(&first, CRM_WEBHOOK), 2);
    assert_eq!(webhooks(&first, BACKUP_WEBHOOK), 2);
    // Another worker finds none until one finishes.
    assert!(outbox.claim("w2", now, 100, LEASE).unwrap().is_empty());
    answer(&mut outbox, &registry, &first[..1], 204, now);
    let next = outbox.claim("w2", now, 100, LEASE).unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].envelope.webhook, first[0].envelope.webhook);
    // An expired lease no longer counts as in flight.
    let expired = now + chrono::Duration::seconds(30);
    assert_eq!(outbox.claim("w3", expired, 100, LEASE).unwrap().len(), 4);
}

#[test]
fn a_retry_is_due_at_its_time_and_the_last_attempt_gives_up() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    outbox
        .enqueue(&envelopes(&registry, "call-1", now))
        .unwrap();
    let claimed = outbox.claim("w1", now, 10, LEASE).unwrap();
    assert_eq!(
        answer(&mut outbox, &registry, &claimed, 500, now),
        [RowState::Due; 2]
    );
    assert!(outbox.claim("w1", now, 10, LEASE).unwrap().is_empty());
    let retry = now + chrono::Duration::seconds(2);
    let claimed = outbox.claim("w1", retry, 10, LEASE).unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|c| c.envelope.attempt == 1));
    let stats = outbox.stats(retry).unwrap();
    assert_eq!((stats.due, stats.claimed), (0, 2));
    assert_eq!(stats.oldest_due_age, None);
    // max_attempts 2: the second failure gives up.
    assert_eq!(
        answer(&mut outbox, &registry, &claimed, 500, retry),
        [RowState::GivenUp; 2]
    );
    assert_eq!(outbox.depth().unwrap(), 0);
}

#[test]
fn dead_letters_are_listed_with_their_attempt_logs_and_replayed() {
    let (_dir, mut outbox, _) = setup();
    // One attempt each: a 400 (retried otherwise) gives up at once.
    let registry = registry("127.0.0.1:9", "127.0.0.1:10", 1);
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
    // 410 disables the URL; a 400 on the last attempt gives up.
    let (gone, rejected): (Vec<_>, Vec<_>) = claimed
        .into_iter()
        .partition(|c| c.envelope.webhook == CRM_WEBHOOK);
    assert_eq!(
        answer(&mut outbox, &registry, &gone, 410, later),
        [RowState::Disabled; 2]
    );
    assert_eq!(
        answer(&mut outbox, &registry, &rejected, 400, later),
        [RowState::GivenUp; 2]
    );
    let letters = outbox.dead_letters(10).unwrap();
    assert_eq!(letters.len(), 4);
    for letter in &letters {
        let envelope = letter.envelope.as_ref().unwrap();
        assert_eq!(envelope.attempts.len(), 1);
        let status = envelope.attempts[0].status;
        assert!(status == Some(410) || status == Some(400));
        assert!(letter.outcome.contains("Disable") || letter.outcome.contains("GiveUp"));
    }
    assert_eq!(outbox.dead_letters(1).unwrap().len(), 1);
    assert_eq!(
        outbox.dead_letters(1_001).unwrap_err().kind(),
        ErrorKind::Limit
    );

    // One replayed: due now, its attempts start over, its log kept.
    let replay_at = later + chrono::Duration::minutes(1);
    let one = letters
        .iter()
        .find(|l| l.state == RowState::GivenUp)
        .unwrap();
    assert!(outbox.replay(&one.delivery, replay_at).unwrap());
    assert!(
        !outbox.replay(&one.delivery, replay_at).unwrap(),
        "no longer a dead letter"
    );
    let claimed = outbox.claim("w1", replay_at, 10, LEASE).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].envelope.attempt, 0);
    assert_eq!(claimed[0].envelope.attempts.len(), 1);
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
fn delivered_rows_older_than_the_age_are_deleted() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    outbox
        .enqueue(&envelopes(&registry, "call-1", now))
        .unwrap();
    outbox
        .enqueue(&envelopes(&registry, "call-2", now))
        .unwrap();
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
    // The due ones stay.
    assert_eq!(outbox.depth().unwrap(), 2);
}

#[test]
fn erasing_a_call_deletes_every_row_of_it() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    outbox
        .enqueue(&envelopes(&registry, "call-1", now))
        .unwrap();
    outbox
        .enqueue(&envelopes(&registry, "call-2", now))
        .unwrap();
    let claimed = outbox.claim("w1", now, 1, LEASE).unwrap();
    let erased = claimed[0].envelope.call_id.clone().unwrap();
    assert_eq!(outbox.erase_call(&erased).unwrap(), 2);
    assert_eq!(outbox.depth().unwrap(), 2);
    // Its worker's claim is gone with it.
    let e = outbox
        .finish(&claimed[0], &claimed[0].envelope, &Decision::Delivered, now)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LeaseLost);
}

#[test]
fn an_unreadable_stored_envelope_is_given_up_not_claimed() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    let sent = envelopes(&registry, "call-1", now);
    outbox.enqueue(&sent).unwrap();
    outbox
        .connection_mut()
        .execute(
            "UPDATE deliveries SET envelope = '{\"version\": 99}' WHERE id = ?1",
            [&sent[0].delivery],
        )
        .unwrap();
    let claimed = outbox.claim("w1", now, 10, LEASE).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        outbox.row_state(&sent[0].delivery).unwrap(),
        Some(RowState::GivenUp)
    );
    let letters = outbox.dead_letters(10).unwrap();
    assert!(letters[0].envelope.is_none());
    assert!(letters[0]
        .outcome
        .starts_with("the stored envelope could not be read"));
    // And cannot be replayed, with the reason.
    let e = outbox.replay(&sent[0].delivery, now).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Envelope);
}

#[test]
fn the_delivery_state_is_stored_and_merged() {
    let (dir, mut outbox, _registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    assert_eq!(outbox.state().unwrap(), DeliveryState::default());
    let mut state = DeliveryState::default();
    state.sequences.delivered("call-1", CRM_WEBHOOK, 3, now);
    outbox.merge_state(state).unwrap();
    let mut older = DeliveryState::default();
    older.sequences.delivered("call-1", CRM_WEBHOOK, 2, now);
    let merged = outbox.merge_state(older).unwrap();
    assert_eq!(
        merged.sequences.superseded("call-1", CRM_WEBHOOK, 2),
        Some(3)
    );
    drop(outbox);
    assert_eq!(open(&dir).state().unwrap(), merged);
}

#[test]
fn options_and_inputs_over_their_limits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let e = Outbox::open(&path, Options::default().with_max_in_flight(0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit);
    let mut outbox =
        Outbox::open(&path, Options::default().with_durability(Durability::Full)).unwrap();
    let now = at("2024-12-02T21:00:00Z");
    let synchronous: i64 = outbox
        .connection_mut()
        .query_row("PRAGMA synchronous", [], |row| row.get(0))
        .unwrap();
    assert_eq!(synchronous, 2, "FULL");
    assert_eq!(
        outbox.claim("w", now, 1_001, LEASE).unwrap_err().kind(),
        ErrorKind::Limit
    );
    let long = "w".repeat(129);
    assert_eq!(
        outbox.claim(&long, now, 1, LEASE).unwrap_err().kind(),
        ErrorKind::Limit
    );
    let e = outbox
        .claim("w", now, 1, Duration::from_secs(86_401))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the lease is 86401 s, over the limit of 86400 s"
    );
    assert!(outbox
        .claim("w", now, 1, Duration::from_secs(86_400))
        .is_ok());
    let many: Vec<Envelope> = Vec::new();
    assert_eq!(outbox.enqueue(&many).unwrap(), 0);
}

#[test]
fn the_default_is_wal_and_normal() {
    let (_dir, mut outbox, _registry) = setup();
    let connection = outbox.connection_mut();
    let mode: String = connection
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let synchronous: i64 = connection
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!((mode.as_str(), synchronous), ("wal", 1));
}

#[test]
fn finish_all_writes_a_batch_and_its_state_in_one_commit_and_refuses_only_lost_leases() {
    let (_dir, mut outbox, registry) = setup();
    let now = at("2024-12-02T21:00:00Z");
    outbox
        .enqueue(&envelopes(&registry, "call-1", now))
        .unwrap();
    outbox
        .enqueue(&envelopes(&registry, "call-2", now))
        .unwrap();
    let first = outbox.claim("w1", now, 10, LEASE).unwrap();
    assert_eq!(first.len(), 4);
    // One row's lease is taken over before w1 finishes.
    let expired = now + chrono::Duration::seconds(30);
    outbox
        .connection_mut()
        .execute(
            "UPDATE deliveries SET lease_until = 0 WHERE id = ?1",
            [first[0].delivery()],
        )
        .unwrap();
    let taken = outbox.claim("w2", expired, 1, LEASE).unwrap();
    assert_eq!(taken[0].delivery(), first[0].delivery());

    let mut state = DeliveryState::default();
    let headers = http::HeaderMap::new();
    let outcome = Outcome::response(http::StatusCode::NO_CONTENT, &headers);
    let recorded: Vec<(Envelope, Decision)> = first
        .iter()
        .map(|c| {
            let mut envelope = c.envelope.clone();
            let decision = envelope
                .record_in(&registry, outcome, expired, &mut state)
                .unwrap();
            (envelope, decision)
        })
        .collect();
    let finished: Vec<callhook_outbox::Finished<'_>> = first
        .iter()
        .zip(&recorded)
        .map(|(claimed, (envelope, decision))| {
            callhook_outbox::Finished::new(claimed, envelope, decision)
        })
        .collect();
    let results = outbox.finish_all(&finished, Some(state), expired).unwrap();
    assert_eq!(
        results[0].as_ref().unwrap_err().kind(),
        ErrorKind::LeaseLost
    );
    for result in &results[1..] {
        assert_eq!(*result.as_ref().unwrap(), RowState::Delivered);
    }
    // The state went in with the rows: the endpoints' successes are kept.
    assert_ne!(outbox.state().unwrap(), DeliveryState::default());
    assert_eq!(outbox.depth().unwrap(), 1);
}

#[test]
fn erasing_a_call_is_not_blocked_by_an_unreadable_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let mut outbox = Outbox::open(&path, Options::default()).unwrap();
    let registry = common::registry("127.0.0.1:9", "127.0.0.1:10", 2);
    let now = common::at("2024-12-02T21:00:00Z");
    outbox
        .enqueue(&common::envelopes(&registry, "call-1", now))
        .unwrap();
    outbox
        .merge_state(callhook::DeliveryState::default())
        .unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE delivery_state SET json = 'not json' WHERE id = 1",
            [],
        )
        .unwrap();
    assert!(outbox.state().is_err());
    // The rows go all the same, and the unreadable state is reset.
    assert_eq!(outbox.erase_call("call-1").unwrap(), 2);
    assert_eq!(outbox.depth().unwrap(), 0);
    assert_eq!(outbox.state().unwrap(), callhook::DeliveryState::default());
}
