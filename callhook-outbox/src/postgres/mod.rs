//! The outbox in PostgreSQL (feature `postgres`): the same rows, leases
//! and operator functions as the SQLite [`Outbox`](crate::Outbox), for
//! several worker processes on one or more machines.
//!
//! Connections are plain TCP or a Unix socket, without TLS (`NoTls`): a
//! host reaches its database over a private network or a local socket.
//! Every connection sets `synchronous_commit = on` itself, so whatever the
//! server's or the role's default, a commit has returned only once it is
//! flushed to the server's disk (it survives the server crashing or losing
//! power; a standby's copy is the server's replication settings').
//!
//! # Claims across workers
//!
//! A claim is one transaction: it takes the advisory lock
//! [`CLAIM_LOCK`] (held until its commit, a few milliseconds), counts each
//! endpoint's live leases, and leases the earliest due rows within
//! [`Options::max_in_flight`] per endpoint, locking them `FOR UPDATE SKIP
//! LOCKED`. Claims are serialised by the lock so two workers never both
//! see room under an endpoint's cap and fill it twice; `SKIP LOCKED` passes
//! over rows another transaction holds (a finish of an expired lease, an
//! operator's replay or erasure) rather than waiting for them. Sending and
//! finishing, where the time goes, run in parallel.
//!
//! A `PgOutbox` is one connection; once it fails (the server restarted,
//! the network dropped) every call fails with [`ErrorKind::Database`]:
//! connect again. The rows its worker held come back when their leases
//! expire.

mod operator;
mod schema;

use std::time::Duration;

use ::postgres::{Client, NoTls, Statement, Transaction};
use callhook::{Decision, DeliveryState, Envelope};
use chrono::{DateTime, Utc};

use crate::error::{Error, ErrorKind};
use crate::limits;
use crate::outbox::{
    check_claim, endpoint_of, from_micros, lease_lost, micros, settle, Claimed, Finished, Options,
    RowState, Stats,
};
use crate::store::Store;

/// The postgres crate this module is built on, for
/// [`PgOutbox::enqueue_in`]'s transaction and [`PgOutbox::client_mut`].
pub use ::postgres as driver;
pub use schema::SCHEMA_VERSION;

/// The key of the transaction-level advisory lock every claim holds
/// (`pg_advisory_xact_lock`), so claims across workers see each other's
/// leases and keep the per-endpoint cap. A host's own advisory locks
/// should avoid it.
pub const CLAIM_LOCK: i64 = 0x6361_6c6c_686f_6f6c;

/// The statements a worker runs over and over, prepared once per
/// connection.
struct Statements {
    claim: Statement,
    finish: Statement,
}

/// A durable outbox in a PostgreSQL database: see the [module](self).
pub struct PgOutbox {
    client: Client,
    options: Options,
    statements: Statements,
}

impl std::fmt::Debug for PgOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOutbox")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The claim: each endpoint with due rows is found by a skip scan of the
/// `(endpoint, next_attempt_at, seq)` index, and only its earliest rows
/// that fit under its cap are ranked, so a claim costs the endpoints and
/// the batch, not the queue's length, and an endpoint with a long backlog
/// at its cap does not hold the others back.
const CLAIM: &str = "
WITH RECURSIVE endpoints AS (
    (SELECT endpoint FROM callhook_outbox_deliveries
     WHERE state = 'due' ORDER BY endpoint LIMIT 1)
    UNION ALL
    SELECT (SELECT d.endpoint FROM callhook_outbox_deliveries d
            WHERE d.state = 'due' AND d.endpoint > e.endpoint
            ORDER BY d.endpoint LIMIT 1)
    FROM endpoints e WHERE e.endpoint IS NOT NULL),
inflight AS (
    SELECT endpoint, COUNT(*) AS n FROM callhook_outbox_deliveries
    WHERE state = 'claimed' AND lease_until > $1 GROUP BY endpoint),
candidates AS (
    SELECT c.id, c.endpoint, c.due, c.seq
    FROM endpoints e
    LEFT JOIN inflight i ON i.endpoint = e.endpoint
    CROSS JOIN LATERAL (
        SELECT d.id, d.endpoint, d.next_attempt_at AS due, d.seq
        FROM callhook_outbox_deliveries d
        WHERE d.state = 'due' AND d.endpoint = e.endpoint AND d.next_attempt_at <= $1
        ORDER BY d.next_attempt_at, d.seq
        LIMIT LEAST($5, GREATEST($4 - COALESCE(i.n, 0), 0))) c
    WHERE e.endpoint IS NOT NULL
    UNION ALL
    SELECT id, endpoint, next_attempt_at, seq FROM callhook_outbox_deliveries
    WHERE state = 'claimed' AND lease_until <= $1),
ranked AS (
    SELECT id, endpoint, due, seq,
        ROW_NUMBER() OVER (PARTITION BY endpoint ORDER BY due, seq) AS rank
    FROM candidates),
chosen AS (
    SELECT r.id FROM ranked r LEFT JOIN inflight i ON i.endpoint = r.endpoint
    WHERE r.rank + COALESCE(i.n, 0) <= $4
    ORDER BY r.due, r.seq LIMIT $5),
locked AS (
    SELECT d.id FROM callhook_outbox_deliveries d
    WHERE d.id IN (SELECT id FROM chosen)
      AND ((d.state = 'due' AND d.next_attempt_at <= $1)
        OR (d.state = 'claimed' AND d.lease_until <= $1))
    FOR UPDATE SKIP LOCKED)
UPDATE callhook_outbox_deliveries d
SET state = 'claimed', lease_owner = $2, lease_until = $3, claims = d.claims + 1, updated_at = $1
FROM locked WHERE d.id = locked.id
RETURNING d.id, d.envelope, d.claims, d.next_attempt_at, d.seq";

/// A batch's finished rows in one statement, each written only while it
/// is still its claim's (worker and claim counter); the ids returned are
/// the rows written.
const FINISH: &str = "
UPDATE callhook_outbox_deliveries d
SET state = u.state, attempt = u.attempt, next_attempt_at = u.next,
    lease_owner = NULL, lease_until = NULL, endpoint = u.endpoint, updated_at = $10,
    outcome = u.outcome, envelope = u.envelope
FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[],
    $7::text[], $8::text[], $9::bigint[])
    AS u(id, state, attempt, next, endpoint, outcome, envelope, owner, claims)
WHERE d.id = u.id AND d.state = 'claimed' AND d.lease_owner = u.owner AND d.claims = u.claims
RETURNING d.id";

/// A batch's finished rows as the columns of [`FINISH`].
#[derive(Default)]
struct FinishColumns {
    ids: Vec<String>,
    states: Vec<&'static str>,
    attempts: Vec<i64>,
    next: Vec<i64>,
    endpoints: Vec<String>,
    outcomes: Vec<Option<String>>,
    envelopes: Vec<String>,
    owners: Vec<String>,
    claims: Vec<i64>,
}

impl FinishColumns {
    fn push(
        &mut self,
        one: &Finished<'_>,
        row: RowState,
        next: DateTime<Utc>,
        outcome: Option<String>,
    ) {
        self.ids.push(one.envelope.delivery.clone());
        self.states.push(row.as_str());
        self.attempts.push(i64::from(one.envelope.attempt));
        self.next.push(micros(next));
        self.endpoints.push(endpoint_of(one.envelope));
        self.outcomes.push(outcome);
        self.envelopes.push(one.envelope.to_json());
        self.owners.push(one.claimed.worker.clone());
        self.claims.push(one.claimed.claim);
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn unreadable_state(e: callhook::Error) -> Error {
    Error::new(
        ErrorKind::Envelope,
        "the stored delivery state could not be read",
    )
    .with_source(e)
}

fn read_envelope(json: &str) -> Result<Envelope, Error> {
    Envelope::from_json(json).map_err(|e| {
        Error::new(ErrorKind::Envelope, "the stored envelope could not be read").with_source(e)
    })
}

/// Folds `newer` into the stored state inside the caller's transaction,
/// its row locked `FOR UPDATE` so concurrent workers' merges follow one
/// another rather than overwrite each other.
fn merge_state_in(tx: &mut Transaction<'_>, newer: DeliveryState) -> Result<DeliveryState, Error> {
    let row = tx.query_opt(
        "SELECT json FROM callhook_outbox_state WHERE id = 1 FOR UPDATE",
        &[],
    )?;
    let mut state = match row {
        Some(row) => {
            DeliveryState::from_json(row.try_get::<_, &str>(0)?).map_err(unreadable_state)?
        }
        None => DeliveryState::default(),
    };
    state.merge(newer);
    tx.execute(
        "INSERT INTO callhook_outbox_state (id, json) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET json = excluded.json",
        &[&state.to_json()],
    )?;
    Ok(state)
}

impl PgOutbox {
    /// Connects to the database `params` names (a libpq-style string,
    /// `host=… port=… user=… dbname=…`, or a `postgresql://` URL; no TLS),
    /// sets `synchronous_commit = on` for the connection, and creates or
    /// migrates the outbox's tables (one process at a time, under an
    /// advisory lock, so workers may start together).
    ///
    /// Of `options`, [`Options::max_in_flight`] applies;
    /// [`Options::durability`] and [`Options::busy_timeout`] are SQLite's
    /// (PostgreSQL's commits are always `synchronous_commit = on`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Database`] when the connection or a statement fails
    /// (postgres's error as `source()`), [`ErrorKind::NewerSchema`] when a
    /// newer version wrote the tables, and [`ErrorKind::Limit`] for an
    /// `options.max_in_flight` of 0 or over [`limits::IN_FLIGHT`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use callhook_outbox::postgres::PgOutbox;
    /// use callhook_outbox::Options;
    ///
    /// let mut outbox = PgOutbox::connect(
    ///     "host=10.0.0.5 user=callhook dbname=app",
    ///     Options::default().with_max_in_flight(8),
    /// )?;
    /// println!("{} rows waiting", outbox.depth()?);
    /// # Ok::<(), callhook_outbox::Error>(())
    /// ```
    pub fn connect(params: &str, options: Options) -> Result<PgOutbox, Error> {
        if options.max_in_flight == 0 {
            return Err(Error::new(
                ErrorKind::Limit,
                "`max_in_flight` is 0: no delivery could ever be claimed",
            ));
        }
        limits::check("`max_in_flight`", options.max_in_flight, limits::IN_FLIGHT)?;
        let mut client = Client::connect(params, NoTls)?;
        // Explicit, so a server, database or role default of `off` (or
        // `local` on a replicated server) cannot weaken the promise.
        client.batch_execute("SET synchronous_commit = on")?;
        // The claim's estimated cost (a limit per endpoint the planner
        // cannot see) passes the JIT threshold, and compiling it took
        // 100 ms for a statement that runs in 2: these are short
        // statements, never worth compiling.
        client.batch_execute("SET jit = off")?;
        schema::migrate(&mut client, &DeliveryState::default().to_json())?;
        let statements = Statements {
            claim: client.prepare(CLAIM)?,
            finish: client.prepare(FINISH)?,
        };
        Ok(PgOutbox {
            client,
            options,
            statements,
        })
    }

    /// The connection, for a host that keeps its own tables in the same
    /// database and commits them with its webhooks
    /// ([`PgOutbox::enqueue_in`]).
    pub fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Writes a dispatch's envelopes, all or none, each due at its
    /// `next_attempt_at`, in one statement. A delivery id already in the
    /// outbox is left as it is (`ON CONFLICT DO NOTHING`), so enqueueing a
    /// dispatch again adds nothing. Returns how many rows were added.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Limit`] for more than [`limits::ENQUEUE_BATCH`]
    /// envelopes, and [`ErrorKind::Database`] when the write fails
    /// (nothing is written then).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn envelopes() -> Vec<callhook::Envelope> { Vec::new() }
    /// use callhook_outbox::postgres::PgOutbox;
    ///
    /// let mut outbox = PgOutbox::connect("host=/run/postgresql dbname=app", Default::default())?;
    /// let added = outbox.enqueue(&envelopes())?;
    /// # let _ = added;
    /// # Ok::<(), callhook_outbox::Error>(())
    /// ```
    pub fn enqueue(&mut self, envelopes: &[Envelope]) -> Result<usize, Error> {
        let mut tx = self.client.transaction()?;
        let added = PgOutbox::enqueue_in(&mut tx, envelopes)?;
        tx.commit()?;
        Ok(added)
    }

    /// [`PgOutbox::enqueue`] in the host's own transaction, so the call's
    /// data and its webhooks commit together (or neither does). The
    /// transaction must be on a database [`PgOutbox::connect`] has
    /// migrated; its connection should have `synchronous_commit = on`.
    ///
    /// # Errors
    ///
    /// As [`PgOutbox::enqueue`]; the transaction is the host's to roll
    /// back.
    pub fn enqueue_in(tx: &mut Transaction<'_>, envelopes: &[Envelope]) -> Result<usize, Error> {
        limits::check(
            "the number of envelopes",
            envelopes.len(),
            limits::ENQUEUE_BATCH,
        )?;
        if envelopes.is_empty() {
            return Ok(0);
        }
        let mut ids = Vec::with_capacity(envelopes.len());
        let mut attempts = Vec::with_capacity(envelopes.len());
        let mut next = Vec::with_capacity(envelopes.len());
        let mut endpoints = Vec::with_capacity(envelopes.len());
        let mut webhooks = Vec::with_capacity(envelopes.len());
        let mut calls = Vec::with_capacity(envelopes.len());
        let mut created = Vec::with_capacity(envelopes.len());
        let mut jsons = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            ids.push(envelope.delivery.as_str());
            attempts.push(i64::from(envelope.attempt));
            next.push(micros(envelope.next_attempt_at));
            endpoints.push(endpoint_of(envelope));
            webhooks.push(envelope.webhook.as_str());
            calls.push(envelope.call_id.as_deref());
            created.push(micros(envelope.first_attempt_at));
            jsons.push(envelope.to_json());
        }
        // One statement for the batch; the order of `UNNEST` keeps the
        // dispatch's order for rows due at the same time.
        let added = tx.execute(
            "INSERT INTO callhook_outbox_deliveries (id, state, attempt, next_attempt_at,
                 endpoint, webhook, call_id, created_at, updated_at, envelope)
             SELECT id, 'due', attempt, next, endpoint, webhook, call_id, created, created, json
             FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[],
                 $6::text[], $7::bigint[], $8::text[]) WITH ORDINALITY
                 AS e(id, attempt, next, endpoint, webhook, call_id, created, json, n)
             ORDER BY n
             ON CONFLICT (id) DO NOTHING",
            &[
                &ids, &attempts, &next, &endpoints, &webhooks, &calls, &created, &jsons,
            ],
        )?;
        Ok(usize::try_from(added).unwrap_or(usize::MAX))
    }

    /// Claims up to `batch` rows due at `now` for `worker`, each under a
    /// lease until `now + lease`: rows due, and rows whose lease expired,
    /// earliest first, with at most [`Options::max_in_flight`] rows per
    /// endpoint claimed and unexpired at once across every worker (see the
    /// [module](self) for how).
    ///
    /// A row whose stored envelope cannot be read is not returned: it is
    /// given up at once, with the reason as its outcome.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Limit`] for a `batch` over [`limits::CLAIM_BATCH`], a
    /// worker name over [`limits::WORKER_NAME`] bytes or a lease over
    /// [`limits::LEASE_SECONDS`]; [`ErrorKind::Database`] when the write
    /// fails (nothing is claimed then).
    pub fn claim(
        &mut self,
        worker: &str,
        now: DateTime<Utc>,
        batch: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>, Error> {
        limits::check("the claim batch", batch, limits::CLAIM_BATCH)?;
        limits::check(
            "the worker name's length",
            worker.len(),
            limits::WORKER_NAME,
        )?;
        let lease_seconds = i64::try_from(lease.as_secs()).unwrap_or(i64::MAX);
        if lease_seconds > limits::LEASE_SECONDS {
            return Err(Error::new(
                ErrorKind::Limit,
                format!(
                    "the lease is {lease_seconds} s, over the limit of {} s",
                    limits::LEASE_SECONDS
                ),
            ));
        }
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::zero());
        let lease_until = now + lease;
        let cap = to_i64(self.options.max_in_flight);
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CLAIM_LOCK])?;
        let rows = tx.query(
            &self.statements.claim,
            &[
                &micros(now),
                &worker,
                &micros(lease_until),
                &cap,
                &to_i64(batch),
            ],
        )?;
        let mut taken = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get(0)?;
            let json: String = row.try_get(1)?;
            let claim: i64 = row.try_get(2)?;
            let due: i64 = row.try_get(3)?;
            let seq: i64 = row.try_get(4)?;
            taken.push((due, seq, id, json, claim));
        }
        // `RETURNING` keeps no order: earliest first, as claimed.
        taken.sort_unstable_by_key(|(due, seq, ..)| (*due, *seq));
        let mut claimed = Vec::with_capacity(taken.len());
        for (_, _, id, json, claim) in taken {
            match Envelope::from_json(&json) {
                Ok(envelope) => claimed.push(Claimed {
                    envelope,
                    worker: worker.to_owned(),
                    lease_until,
                    claim,
                }),
                Err(e) => {
                    tx.execute(
                        "UPDATE callhook_outbox_deliveries SET state = 'given_up',
                             lease_owner = NULL, lease_until = NULL, outcome = $2
                         WHERE id = $1",
                        &[&id, &format!("the stored envelope could not be read: {e}")],
                    )?;
                }
            }
        }
        tx.commit()?;
        tracing::debug!(worker, claimed = claimed.len(), "outbox claim");
        Ok(claimed)
    }

    /// Records one claimed delivery's attempt (or the decision not to
    /// send), as [`Outbox::finish`](crate::Outbox::finish) does, in a
    /// transaction of its own; a worker finishing a batch uses
    /// [`PgOutbox::finish_all`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::LeaseLost`] when the row is no longer this claim's
    /// (nothing is written), [`ErrorKind::Envelope`] when `envelope` is
    /// not the claimed delivery's, [`ErrorKind::Database`] when the write
    /// fails.
    pub fn finish(
        &mut self,
        claimed: &Claimed,
        envelope: &Envelope,
        decision: &Decision,
        now: DateTime<Utc>,
    ) -> Result<RowState, Error> {
        let finished = Finished {
            claimed,
            envelope,
            decision,
        };
        let mut results = self.finish_all(&[finished], None, now)?;
        results.pop().unwrap_or_else(|| Err(lease_lost(claimed)))
    }

    /// Records a batch of finished attempts and folds `state` into the
    /// stored [`DeliveryState`], all in one transaction (one commit for
    /// the batch). Each row is written only if it is still this claim's
    /// (its worker and claim counter); the state's row is locked
    /// `FOR UPDATE` for the merge, so workers finishing together merge one
    /// after another and none overwrites another's endpoint health or
    /// sequences. Each row's result is its own.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Limit`] for more than [`limits::CLAIM_BATCH`] rows;
    /// [`ErrorKind::Database`] or a stored state that cannot be read fail
    /// the whole batch (nothing is written then); per row, as
    /// [`PgOutbox::finish`].
    pub fn finish_all(
        &mut self,
        finished: &[Finished<'_>],
        state: Option<DeliveryState>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<RowState, Error>>, Error> {
        limits::check("the finished batch", finished.len(), limits::CLAIM_BATCH)?;
        let mut results: Vec<Option<Result<RowState, Error>>> = Vec::with_capacity(finished.len());
        let mut columns = FinishColumns::default();
        let mut seen = std::collections::HashSet::with_capacity(finished.len());
        for one in finished {
            if let Err(e) = check_claim(one.claimed, one.envelope) {
                results.push(Some(Err(e)));
                continue;
            }
            // The same row twice in a batch: the second finds it finished,
            // as two finishes one after the other would.
            if !seen.insert(one.envelope.delivery.as_str()) {
                results.push(Some(Err(lease_lost(one.claimed))));
                continue;
            }
            let (row, next, outcome) = settle(one.envelope, one.decision);
            columns.push(one, row, next, outcome);
            results.push(None);
        }
        let mut tx = self.client.transaction()?;
        let written: std::collections::HashSet<String> = if columns.ids.is_empty() {
            std::collections::HashSet::new()
        } else {
            tx.query(
                &self.statements.finish,
                &[
                    &columns.ids,
                    &columns.states,
                    &columns.attempts,
                    &columns.next,
                    &columns.endpoints,
                    &columns.outcomes,
                    &columns.envelopes,
                    &columns.owners,
                    &columns.claims,
                    &micros(now),
                ],
            )?
            .iter()
            .map(|row| row.try_get::<_, String>(0))
            .collect::<Result<_, _>>()?
        };
        if let Some(state) = state {
            merge_state_in(&mut tx, state)?;
        }
        tx.commit()?;
        Ok(finished
            .iter()
            .zip(results)
            .map(|(one, result)| match result {
                Some(result) => result,
                None if written.contains(&one.envelope.delivery) => {
                    let (row, ..) = settle(one.envelope, one.decision);
                    // One event per finished attempt, its state named, so
                    // a subscriber counts delivered, retried and given-up
                    // rows.
                    tracing::debug!(
                        delivery = %one.envelope.delivery,
                        attempt = one.envelope.attempt,
                        state = row.as_str(),
                        "outbox finish"
                    );
                    Ok(row)
                }
                None => Err(lease_lost(one.claimed)),
            })
            .collect())
    }

    /// The host's [`DeliveryState`] as stored, or an empty one.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Envelope`] when the stored state cannot be read,
    /// [`ErrorKind::Database`] when the read fails.
    pub fn state(&mut self) -> Result<DeliveryState, Error> {
        let row = self
            .client
            .query_opt("SELECT json FROM callhook_outbox_state WHERE id = 1", &[])?;
        match row {
            Some(row) => {
                DeliveryState::from_json(row.try_get::<_, &str>(0)?).map_err(unreadable_state)
            }
            None => Ok(DeliveryState::default()),
        }
    }

    /// Folds `newer` into the stored [`DeliveryState`] in one transaction
    /// (its row locked), and returns the result.
    ///
    /// # Errors
    ///
    /// As [`PgOutbox::state`], and [`ErrorKind::Database`] when the write
    /// fails.
    pub fn merge_state(&mut self, newer: DeliveryState) -> Result<DeliveryState, Error> {
        let mut tx = self.client.transaction()?;
        let state = merge_state_in(&mut tx, newer)?;
        tx.commit()?;
        Ok(state)
    }

    /// How many rows are waiting or in flight: due (whenever they are
    /// due) and claimed.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Database`] when the read fails.
    pub fn depth(&mut self) -> Result<u64, Error> {
        let row = self.client.query_one(
            "SELECT COUNT(*) FROM callhook_outbox_deliveries WHERE state IN ('due', 'claimed')",
            &[],
        )?;
        Ok(u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0))
    }

    /// The row state of a delivery, or `None` if there is no such row.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Database`] when the read fails.
    pub fn row_state(&mut self, delivery: &str) -> Result<Option<RowState>, Error> {
        let row = self.client.query_opt(
            "SELECT state FROM callhook_outbox_deliveries WHERE id = $1",
            &[&delivery],
        )?;
        Ok(match row {
            Some(row) => RowState::parse(row.try_get::<_, &str>(0)?),
            None => None,
        })
    }

    /// Rows per state and how long the oldest row due at `now` has waited
    /// past its time, as [`Outbox::stats`](crate::Outbox::stats).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Database`] when the read fails.
    pub fn stats(&mut self, now: DateTime<Utc>) -> Result<Stats, Error> {
        let mut stats = Stats::default();
        for row in self.client.query(
            "SELECT state, COUNT(*) FROM callhook_outbox_deliveries GROUP BY state",
            &[],
        )? {
            let n = u64::try_from(row.try_get::<_, i64>(1)?).unwrap_or(0);
            match RowState::parse(row.try_get::<_, &str>(0)?) {
                Some(RowState::Due) => stats.due = n,
                Some(RowState::Claimed) => stats.claimed = n,
                Some(RowState::Delivered) => stats.delivered = n,
                Some(RowState::GivenUp) => stats.given_up = n,
                Some(RowState::Disabled) => stats.disabled = n,
                Some(RowState::Skipped) => stats.skipped = n,
                None => {}
            }
        }
        let oldest: Option<i64> = self
            .client
            .query_one(
                "SELECT MIN(next_attempt_at) FROM callhook_outbox_deliveries
                 WHERE state = 'due' AND next_attempt_at <= $1",
                &[&micros(now)],
            )?
            .try_get(0)?;
        stats.oldest_due_age =
            oldest.map(|at| (now - from_micros(at)).to_std().unwrap_or_default());
        Ok(stats)
    }

    /// A delivery's stored envelope (with its attempt log), or `None` if
    /// there is no such row.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Envelope`] when the stored envelope cannot be read,
    /// [`ErrorKind::Database`] when the read fails.
    pub fn envelope(&mut self, delivery: &str) -> Result<Option<Envelope>, Error> {
        let row = self.client.query_opt(
            "SELECT envelope FROM callhook_outbox_deliveries WHERE id = $1",
            &[&delivery],
        )?;
        match row {
            Some(row) => read_envelope(row.try_get::<_, &str>(0)?).map(Some),
            None => Ok(None),
        }
    }

    /// Up to `limit` rows' delivery ids with their states, ordered by id
    /// and after `after` (a page's last id, for the next page).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Limit`] for a `limit` over [`limits::LIST`] and
    /// [`ErrorKind::Database`] when the read fails.
    pub fn rows(
        &mut self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, RowState)>, Error> {
        limits::check("the number of rows asked for", limit, limits::LIST)?;
        let rows = self.client.query(
            "SELECT id, state FROM callhook_outbox_deliveries 
             WHERE id COLLATE \"C\" > $1 ORDER BY id COLLATE \"C\" LIMIT $2",
            &[&after.unwrap_or(""), &to_i64(limit)],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get(0)?;
            let state = RowState::parse(row.try_get::<_, &str>(1)?).unwrap_or(RowState::GivenUp);
            out.push((id, state));
        }
        Ok(out)
    }
}

impl Store for PgOutbox {
    fn claim(
        &mut self,
        worker: &str,
        now: DateTime<Utc>,
        batch: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>, Error> {
        PgOutbox::claim(self, worker, now, batch, lease)
    }

    fn finish_all(
        &mut self,
        finished: &[Finished<'_>],
        state: Option<DeliveryState>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<RowState, Error>>, Error> {
        PgOutbox::finish_all(self, finished, state, now)
    }

    fn state(&mut self) -> Result<DeliveryState, Error> {
        PgOutbox::state(self)
    }

    fn depth(&mut self) -> Result<u64, Error> {
        PgOutbox::depth(self)
    }

    fn stats(&mut self, now: DateTime<Utc>) -> Result<Stats, Error> {
        PgOutbox::stats(self, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_over_their_limits_are_refused_before_connecting() {
        // Port 1: nothing listens, so reaching the network would fail
        // with `Database`, not `Limit`.
        for cap in [0, limits::IN_FLIGHT + 1] {
            let e = PgOutbox::connect(
                "host=127.0.0.1 port=1",
                Options::default().with_max_in_flight(cap),
            )
            .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Limit, "{cap}: {e}");
        }
        let e = PgOutbox::connect(
            "host=127.0.0.1 port=1 connect_timeout=1",
            Options::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Database);
        assert!(std::error::Error::source(&e)
            .unwrap()
            .is::<::postgres::Error>());
    }

    #[test]
    fn the_schema_version_counts_the_migrations() {
        assert_eq!(SCHEMA_VERSION, 1);
    }
}
