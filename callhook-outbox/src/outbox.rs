//! The outbox: opening it, enqueueing, claiming under a lease and
//! finishing an attempt.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use callhook::{Decision, DeliveryState, Endpoint, Envelope};
use chrono::{DateTime, Utc};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::error::{Error, ErrorKind};
use crate::limits;
use crate::schema;

/// How hard a commit is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// `synchronous=NORMAL` in WAL mode: a commit survives the process
    /// being killed (even with `SIGKILL`), but the last commits may be
    /// lost if the machine loses power or the operating system crashes.
    /// The database itself is never corrupted.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is synced to disk before it
    /// returns, so it survives a power loss too, at a cost per commit.
    Full,
}

/// How an outbox is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// How hard a commit is kept ([`Durability::Normal`] by default).
    pub durability: Durability,
    /// At most this many deliveries to one endpoint (a URL's origin) are
    /// claimed and not finished at a time, across workers; 16 by default,
    /// at most [`limits::IN_FLIGHT`].
    pub max_in_flight: usize,
    /// How long a connection waits for another's write lock before
    /// failing (5 s by default).
    pub busy_timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            durability: Durability::Normal,
            max_in_flight: 16,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl Options {
    /// Sets [`Options::durability`].
    #[must_use]
    pub fn with_durability(mut self, durability: Durability) -> Options {
        self.durability = durability;
        self
    }

    /// Sets [`Options::max_in_flight`].
    #[must_use]
    pub fn with_max_in_flight(mut self, max_in_flight: usize) -> Options {
        self.max_in_flight = max_in_flight;
        self
    }
}

/// Where a delivery's row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RowState {
    /// Waiting for its `next_attempt_at`.
    Due,
    /// Claimed by a worker, under a lease.
    Claimed,
    /// The endpoint took it.
    Delivered,
    /// Given up ([`Decision::GiveUp`]): a dead letter.
    GivenUp,
    /// Given up with a URL or webhook to disable ([`Decision::Disable`]):
    /// a dead letter.
    Disabled,
    /// Not sent and not to be ([`Decision::Skip`]).
    Skipped,
}

impl RowState {
    /// The state as the `state` column holds it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Due => "due",
            RowState::Claimed => "claimed",
            RowState::Delivered => "delivered",
            RowState::GivenUp => "given_up",
            RowState::Disabled => "disabled",
            RowState::Skipped => "skipped",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<RowState> {
        [
            RowState::Due,
            RowState::Claimed,
            RowState::Delivered,
            RowState::GivenUp,
            RowState::Disabled,
            RowState::Skipped,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }
}

/// One finished attempt for [`Outbox::finish_all`] (and
/// [`Store::finish_all`](crate::Store::finish_all)): the claim, its
/// envelope after [`Envelope::admit`] or [`Envelope::record_in`], and the
/// decision that returned.
#[derive(Debug, Clone, Copy)]
pub struct Finished<'a> {
    /// The claim being finished.
    pub claimed: &'a Claimed,
    /// The claim's envelope after the attempt was recorded in it.
    pub envelope: &'a Envelope,
    /// What recording (or admitting) it decided.
    pub decision: &'a Decision,
    /// Why, in words, when the decision alone does not say (a delivery
    /// given up because its request could not be prepared): kept as the
    /// row's outcome, which [`Outbox::dead_letters`] shows.
    pub reason: Option<&'a str>,
}

impl<'a> Finished<'a> {
    /// A finished attempt with no reason beyond its decision.
    #[must_use]
    pub fn new(claimed: &'a Claimed, envelope: &'a Envelope, decision: &'a Decision) -> Self {
        Finished {
            claimed,
            envelope,
            decision,
            reason: None,
        }
    }

    /// Sets [`Finished::reason`].
    #[must_use]
    pub fn with_reason(mut self, reason: &'a str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// [`settle`]d, the reason (when given) standing as the outcome.
    pub(crate) fn settle(&self) -> (RowState, DateTime<Utc>, Option<String>) {
        let (row, next, outcome) = settle(self.envelope, self.decision);
        let outcome = match self.reason {
            Some(reason) => Some(crate::limits::trimmed(reason)),
            None => outcome,
        };
        (row, next, outcome)
    }
}

/// A delivery claimed by a worker: its envelope, and the lease that lets
/// only this claim finish it ([`Outbox::finish`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Claimed {
    /// The delivery, as stored: admit it, prepare it, send it, record it.
    pub envelope: Envelope,
    /// The worker that claimed it.
    pub worker: String,
    /// Until when the lease holds; after it another worker may claim the
    /// row.
    pub lease_until: DateTime<Utc>,
    pub(crate) claim: i64,
}

impl Claimed {
    /// The delivery id.
    #[must_use]
    pub fn delivery(&self) -> &str {
        &self.envelope.delivery
    }
}

/// The outbox at a moment ([`Outbox::stats`]): rows per state, and the
/// age of the oldest due row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Rows waiting for their time (due now or later).
    pub due: u64,
    /// Rows claimed, their leases live or expired.
    pub claimed: u64,
    /// Rows delivered (until [`Outbox::delete_delivered`]).
    pub delivered: u64,
    /// Rows given up (dead letters).
    pub given_up: u64,
    /// Rows given up with a URL or webhook to disable (dead letters).
    pub disabled: u64,
    /// Rows skipped as superseded.
    pub skipped: u64,
    /// How long the oldest row due now has waited past its time; `None`
    /// when no row is due.
    pub oldest_due_age: Option<Duration>,
}

/// A durable outbox in one SQLite file: see the crate's documentation.
#[derive(Debug)]
pub struct Outbox {
    connection: Connection,
    options: Options,
}

pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub(crate) fn from_micros(value: i64) -> DateTime<Utc> {
    // A stored time out of chrono's range is hostile or corrupt: the
    // earliest time makes the row due rather than stuck.
    DateTime::from_timestamp_micros(value).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The endpoint of the envelope's current URL, as the in-flight cap
/// counts it; a URL that does not parse is its own text (sending it fails
/// with the reason).
pub(crate) fn endpoint_of(envelope: &Envelope) -> String {
    let url = envelope.url().unwrap_or(&envelope.request.url);
    url.parse::<http::Uri>()
        .ok()
        .and_then(|uri| Endpoint::of(&uri))
        .map_or_else(|| url.to_owned(), |e| e.as_str().to_owned())
}

/// The row state, next time and kept outcome a decision moves a row to:
/// one table for every backend.
pub(crate) fn settle(
    envelope: &Envelope,
    decision: &Decision,
) -> (RowState, DateTime<Utc>, Option<String>) {
    match decision {
        Decision::Retry { at } => (RowState::Due, *at, None),
        Decision::Wait { until, .. } => (RowState::Due, *until, None),
        Decision::Delivered => (RowState::Delivered, envelope.next_attempt_at, None),
        Decision::GiveUp(_) => (
            RowState::GivenUp,
            envelope.next_attempt_at,
            Some(format!("{decision:?}")),
        ),
        Decision::Disable { .. } => (
            RowState::Disabled,
            envelope.next_attempt_at,
            Some(format!("{decision:?}")),
        ),
        Decision::Skip(_) => (
            RowState::Skipped,
            envelope.next_attempt_at,
            Some(format!("{decision:?}")),
        ),
        // A decision this version does not know: a dead letter, not lost.
        _ => (
            RowState::GivenUp,
            envelope.next_attempt_at,
            Some(format!("{decision:?}")),
        ),
    }
}

/// The error of a finish whose lease was taken over.
pub(crate) fn lease_lost(claimed: &Claimed) -> Error {
    Error::new(
        ErrorKind::LeaseLost,
        format!(
            "delivery `{}` is no longer claimed by `{}`: its lease was taken over or it was \
             finished",
            claimed.envelope.delivery, claimed.worker
        ),
    )
}

/// The envelope given to finish a claim must be the claim's delivery.
pub(crate) fn check_claim(claimed: &Claimed, envelope: &Envelope) -> Result<(), Error> {
    if envelope.delivery == claimed.envelope.delivery {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Envelope,
        format!(
            "the envelope is delivery `{}`, not the claimed `{}`",
            envelope.delivery, claimed.envelope.delivery
        ),
    ))
}

/// The endpoint to store after an attempt: `None` (the stored one kept)
/// unless the delivery moved to another URL (a fallback), so a finish
/// parses no URL in the common case.
fn moved_endpoint(claimed: &Claimed, envelope: &Envelope) -> Option<String> {
    let before = claimed
        .envelope
        .url()
        .unwrap_or(&claimed.envelope.request.url);
    (envelope.url().unwrap_or(&envelope.request.url) != before).then(|| endpoint_of(envelope))
}

/// Writes a finished attempt if the row is still this claim's; `false`
/// when it is not (nothing written).
fn finish_row(
    connection: &Connection,
    claimed: &Claimed,
    envelope: &Envelope,
    state: RowState,
    next: DateTime<Utc>,
    outcome: Option<String>,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let mut update = connection.prepare_cached(
        "UPDATE deliveries SET state = ?1, attempt = ?2, next_attempt_at = ?3,
             lease_owner = NULL, lease_until = NULL, endpoint = COALESCE(?4, endpoint),
             updated_at = ?5,
             outcome = ?6, envelope = ?7
         WHERE id = ?8 AND state = 'claimed' AND lease_owner = ?9 AND claims = ?10",
    )?;
    let changed = update.execute(params![
        state.as_str(),
        envelope.attempt,
        micros(next),
        moved_endpoint(claimed, envelope),
        micros(now),
        outcome,
        envelope.to_json(),
        envelope.delivery,
        claimed.worker,
        claimed.claim,
    ])?;
    if changed > 0 {
        // One event per finished attempt, its state named, so a
        // subscriber counts delivered, retried and given-up rows.
        tracing::debug!(
            delivery = %envelope.delivery,
            attempt = envelope.attempt,
            state = state.as_str(),
            "outbox finish"
        );
    }
    Ok(changed > 0)
}

/// Reads the stored delivery state (empty when none was stored).
pub(crate) fn read_state(connection: &Connection) -> Result<DeliveryState, Error> {
    let json: Option<String> = connection
        .query_row("SELECT json FROM delivery_state WHERE id = 1", [], |row| {
            row.get(0)
        })
        .optional()?;
    match json {
        None => Ok(DeliveryState::default()),
        Some(json) => DeliveryState::from_json(&json).map_err(|e| {
            Error::new(
                ErrorKind::Envelope,
                "the stored delivery state could not be read",
            )
            .with_source(e)
        }),
    }
}

/// Folds `newer` into the stored delivery state, on a connection inside
/// the caller's transaction.
fn merge_state_in(connection: &Connection, newer: DeliveryState) -> Result<DeliveryState, Error> {
    let mut state = read_state(connection)?;
    state.merge(newer);
    connection.execute(
        "INSERT INTO delivery_state (id, json) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET json = excluded.json",
        params![state.to_json()],
    )?;
    Ok(state)
}

/// A text column's bytes; a value of another type (hostile: the column
/// is `NOT NULL` text) counts as the empty endpoint.
fn text_bytes(value: ValueRef<'_>) -> &[u8] {
    match value {
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes,
        _ => b"",
    }
}

/// The rows a claim takes: due rows and rows whose lease expired,
/// earliest first, skipping an endpoint once its live leases and the rows
/// taken for it reach `cap`, until `batch` are taken.
///
/// The candidates are read in order from the indexes and the reading
/// stops at the batch, so a claim costs its batch and not the queue's
/// depth, as a window over every due row did. An endpoint at its cap is
/// stepped over row by row.
/// A claim's candidates in the order they are taken: due rows straight
/// from `deliveries_due`, merged with the expired leases (sorted apart).
const CANDIDATES: &str = "SELECT rowid AS r, endpoint, next_attempt_at AS due FROM deliveries
         WHERE state = 'due' AND next_attempt_at <= ?1
     UNION ALL
     SELECT rowid AS r, endpoint, next_attempt_at AS due FROM deliveries
         WHERE state = 'claimed' AND lease_until <= ?1
     ORDER BY due, r";

fn choose(
    tx: &Transaction<'_>,
    now: DateTime<Utc>,
    cap: usize,
    batch: usize,
) -> Result<Vec<i64>, Error> {
    // Keyed by the stored bytes: an endpoint is compared, never read.
    let mut in_flight: HashMap<Vec<u8>, usize> = HashMap::new();
    {
        let mut live = tx.prepare_cached(
            "SELECT endpoint, COUNT(*) FROM deliveries
             WHERE state = 'claimed' AND lease_until > ?1 GROUP BY endpoint",
        )?;
        let mut rows = live.query(params![micros(now)])?;
        while let Some(row) = rows.next()? {
            let n = usize::try_from(row.get::<_, i64>(1)?).unwrap_or(usize::MAX);
            in_flight.insert(text_bytes(row.get_ref(0)?).to_vec(), n);
        }
    }
    let mut candidates = tx.prepare_cached(CANDIDATES)?;
    let mut rows = candidates.query(params![micros(now)])?;
    let mut chosen = Vec::with_capacity(batch.min(limits::CLAIM_BATCH));
    while chosen.len() < batch {
        let Some(row) = rows.next()? else { break };
        let endpoint = text_bytes(row.get_ref(1)?);
        match in_flight.get_mut(endpoint) {
            Some(taken) if *taken >= cap => continue,
            Some(taken) => *taken += 1,
            // `cap` is at least 1 (checked at open).
            None => {
                in_flight.insert(endpoint.to_vec(), 1);
            }
        }
        chosen.push(row.get(0)?);
    }
    Ok(chosen)
}

impl Outbox {
    /// Opens (or creates) the outbox at `path`: WAL mode, the durability
    /// asked for, and the schema created or migrated.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Database`] when the file cannot be opened or written,
    /// [`ErrorKind::NewerSchema`] when a newer version wrote it, and
    /// [`ErrorKind::Limit`] for an `options.max_in_flight` of 0 or over
    /// [`limits::IN_FLIGHT`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook_outbox::{Options, Outbox};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let outbox = Outbox::open(dir.path().join("outbox.db"), Options::default())?;
    /// assert_eq!(outbox.depth()?, 0);
    /// # Ok::<(), callhook_outbox::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Outbox, Error> {
        if options.max_in_flight == 0 {
            return Err(Error::new(
                ErrorKind::Limit,
                "`max_in_flight` is 0: no delivery could ever be claimed",
            ));
        }
        limits::check("`max_in_flight`", options.max_in_flight, limits::IN_FLIGHT)?;
        let mut connection = Connection::open(path)?;
        connection.busy_timeout(options.busy_timeout)?;
        let mode: String =
            connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::new(
                ErrorKind::Database,
                format!("the outbox database would not use WAL (journal mode `{mode}`)"),
            ));
        }
        let synchronous = match options.durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        connection.pragma_update(None, "synchronous", synchronous)?;
        schema::migrate(&mut connection)?;
        Ok(Outbox {
            connection,
            options,
        })
    }

    /// The connection, for a host that keeps its own tables in the same
    /// file and commits them with its webhooks ([`Outbox::enqueue_in`]).
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.connection
    }

    /// Writes a dispatch's envelopes, all or none, each due at its
    /// `next_attempt_at`. A delivery id already in the outbox is left as
    /// it is (its row, whatever its state), so enqueueing a dispatch again
    /// (a retried request, a replayed event) adds nothing. Returns how
    /// many rows were added.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Limit`] for more than [`limits::ENQUEUE_BATCH`]
    /// envelopes, and [`ErrorKind::Database`] when the write fails
    /// (nothing is written then).
    ///
    /// # Examples
    ///
    /// See the crate's documentation.
    pub fn enqueue(&mut self, envelopes: &[Envelope]) -> Result<usize, Error> {
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let added = Outbox::enqueue_in(&tx, envelopes)?;
        tx.commit()?;
        Ok(added)
    }

    /// [`Outbox::enqueue`] in the host's own transaction, so the call's
    /// data and its webhooks commit together (or neither does). The
    /// transaction must be on a connection to an outbox's database (one
    /// [`Outbox::open`] has migrated, such as [`Outbox::connection_mut`]).
    ///
    /// # Errors
    ///
    /// As [`Outbox::enqueue`]; the transaction is the host's to roll back.
    pub fn enqueue_in(tx: &Transaction<'_>, envelopes: &[Envelope]) -> Result<usize, Error> {
        limits::check(
            "the number of envelopes",
            envelopes.len(),
            limits::ENQUEUE_BATCH,
        )?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO deliveries (id, state, attempt, next_attempt_at, endpoint, webhook, \
             call_id, created_at, updated_at, envelope) \
             VALUES (?1, 'due', ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8) ON CONFLICT (id) DO NOTHING",
        )?;
        let mut added = 0;
        // A dispatch's envelopes mostly share their URLs: each URL is
        // parsed for its endpoint once, not per envelope.
        let mut last: Option<(&str, String)> = None;
        for envelope in envelopes {
            let url = envelope.url().unwrap_or(&envelope.request.url);
            let endpoint = match &last {
                Some((same, endpoint)) if *same == url => endpoint.clone(),
                _ => {
                    let endpoint = endpoint_of(envelope);
                    last = Some((url, endpoint.clone()));
                    endpoint
                }
            };
            added += insert.execute(params![
                envelope.delivery,
                envelope.attempt,
                micros(envelope.next_attempt_at),
                endpoint,
                envelope.webhook,
                envelope.call_id,
                micros(envelope.first_attempt_at),
                envelope.to_json(),
            ])?;
        }
        Ok(added)
    }

    /// Claims up to `batch` rows due at `now` for `worker`, each under a
    /// lease until `now + lease`: rows due, and rows whose lease expired
    /// (their worker died or stalled), earliest first, with at most
    /// [`Options::max_in_flight`] rows per endpoint claimed and unexpired
    /// at once. Only one writer claims at a time, so no row is claimed by
    /// two live leases.
    ///
    /// A row whose stored envelope cannot be read is not returned: it is
    /// given up at once, with the reason as its outcome, so it cannot
    /// block the queue (see [`Outbox::dead_letters`]).
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
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows: Vec<(i64, String, i64)> = {
            let chosen = choose(&tx, now, self.options.max_in_flight, batch)?;
            let mut update = tx.prepare_cached(
                "UPDATE deliveries SET state = 'claimed', lease_owner = ?2, lease_until = ?3,
                     claims = claims + 1, updated_at = ?4
                 WHERE rowid = ?1 RETURNING rowid, envelope, claims",
            )?;
            let mut rows = Vec::with_capacity(chosen.len());
            for rowid in chosen {
                rows.push(update.query_row(
                    params![rowid, worker, micros(lease_until), micros(now)],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )?);
            }
            rows
        };
        let mut claimed = Vec::with_capacity(rows.len());
        for (rowid, json, claim) in rows {
            match Envelope::from_json(&json) {
                Ok(envelope) => claimed.push(Claimed {
                    envelope,
                    worker: worker.to_owned(),
                    lease_until,
                    claim,
                }),
                Err(e) => {
                    tx.execute(
                        "UPDATE deliveries SET state = 'given_up', lease_owner = NULL,
                             lease_until = NULL, outcome = ?2 WHERE rowid = ?1",
                        params![rowid, format!("the stored envelope could not be read: {e}")],
                    )?;
                }
            }
        }
        tx.commit()?;
        tracing::debug!(worker, claimed = claimed.len(), "outbox claim");
        Ok(claimed)
    }

    /// Records the attempt (or the decision not to send) of a claimed
    /// delivery: `envelope` is the claim's envelope after
    /// [`Envelope::admit`] or [`Envelope::record_in`], and `decision` what
    /// that returned. The row moves to its next state:
    /// [`Decision::Retry`] and [`Decision::Wait`] make it due again at
    /// their time; [`Decision::Delivered`], [`Decision::GiveUp`],
    /// [`Decision::Disable`] and [`Decision::Skip`] end it (delivered,
    /// given up, disabled, skipped), with the decision kept as its outcome.
    /// A decision this version does not know ends it as given up, so it is
    /// listed among the dead letters rather than lost.
    ///
    /// Disabling the URL or the webhook a [`Decision::Disable`] names is
    /// the host's (in its registry); the outbox records it.
    ///
    /// Prefer [`Worker`](crate::Worker) (or [`Outbox::finish_all`]): this
    /// commits one row alone, and a delivery state merged after it with
    /// [`Outbox::merge_state`] commits apart from it, so a worker killed
    /// between the two loses the endpoint health and sequences it changed.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::LeaseLost`] when the row is no longer this claim's
    /// (its lease expired and another worker claimed it, or it was
    /// finished): nothing is written, and the other claim's record
    /// stands. [`ErrorKind::Envelope`] when `envelope` is not the claimed
    /// delivery's; [`ErrorKind::Database`] when the write fails.
    pub fn finish(
        &mut self,
        claimed: &Claimed,
        envelope: &Envelope,
        decision: &Decision,
        now: DateTime<Utc>,
    ) -> Result<RowState, Error> {
        check_claim(claimed, envelope)?;
        let (state, next, outcome) = settle(envelope, decision);
        if !finish_row(
            &self.connection,
            claimed,
            envelope,
            state,
            next,
            outcome,
            now,
        )? {
            return Err(lease_lost(claimed));
        }
        Ok(state)
    }

    /// The host's [`DeliveryState`] (tokens, endpoint health, delivered
    /// sequences) as stored, or an empty one.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Envelope`] when the stored state cannot be read (with
    /// callhook's error as `source()`), [`ErrorKind::Database`] when the
    /// read fails.
    pub fn state(&self) -> Result<DeliveryState, Error> {
        read_state(&self.connection)
    }

    /// Folds `newer` into the stored [`DeliveryState`]
    /// ([`DeliveryState::merge`]) in one transaction, and returns the
    /// result: what a worker does after [`Envelope::record_in`] changed
    /// its copy. [`Outbox::finish_all`] (what [`Worker`](crate::Worker)
    /// uses) does this in the batch's own transaction instead, which is
    /// what to use: a merge apart from the rows it belongs to is lost if
    /// the worker dies between the two commits.
    ///
    /// # Errors
    ///
    /// As [`Outbox::state`], and [`ErrorKind::Database`] when the write
    /// fails.
    pub fn merge_state(&mut self, newer: DeliveryState) -> Result<DeliveryState, Error> {
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let state = merge_state_in(&tx, newer)?;
        tx.commit()?;
        Ok(state)
    }

    /// Records a batch of finished attempts and folds `state` (the
    /// worker's copy after [`Envelope::record_in`]) into the stored one,
    /// all in one transaction: one commit for the batch, and the endpoint
    /// health and sequences a batch changed are never lost apart from its
    /// rows. Each row's result is its own: a row whose lease was taken
    /// over is [`ErrorKind::LeaseLost`] and the others are still written.
    /// When no row is written (every lease was lost), `state` is not
    /// merged: what it recorded of the batch is the other claims' to say.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Database`] or a stored state that cannot be read fail
    /// the whole batch (nothing is written then); per row, as
    /// [`Outbox::finish`].
    pub fn finish_all(
        &mut self,
        finished: &[Finished<'_>],
        state: Option<DeliveryState>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<RowState, Error>>, Error> {
        limits::check("the finished batch", finished.len(), limits::CLAIM_BATCH)?;
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(finished.len());
        let mut written = false;
        for one in finished {
            if let Err(e) = check_claim(one.claimed, one.envelope) {
                results.push(Err(e));
                continue;
            }
            let (row, next, outcome) = one.settle();
            if finish_row(&tx, one.claimed, one.envelope, row, next, outcome, now)? {
                results.push(Ok(row));
                written = true;
            } else {
                results.push(Err(lease_lost(one.claimed)));
            }
        }
        // No row written (every lease lost): the state recorded what the
        // other claims' records stand for, and is not merged.
        if let Some(state) = state.filter(|_| written || finished.is_empty()) {
            merge_state_in(&tx, state)?;
        }
        tx.commit()?;
        Ok(results)
    }

    /// How many rows are waiting or in flight: due (whenever they are
    /// due) and claimed.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Database`] when the read fails.
    pub fn depth(&self) -> Result<u64, Error> {
        // Two counts, each through its state's partial index.
        let n: i64 = self.connection.query_row(
            "SELECT (SELECT COUNT(*) FROM deliveries WHERE state = 'due')
                 + (SELECT COUNT(*) FROM deliveries WHERE state = 'claimed')",
            [],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The row state of a delivery, or `None` if there is no such row.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Database`] when the read fails.
    pub fn row_state(&self, delivery: &str) -> Result<Option<RowState>, Error> {
        let state: Option<String> = self
            .connection
            .query_row(
                "SELECT state FROM deliveries WHERE id = ?1",
                params![delivery],
                |row| row.get(0),
            )
            .optional()?;
        Ok(state.as_deref().and_then(RowState::parse))
    }

    /// How many rows are in each state, and how long the oldest row due
    /// at `now` has waited past its time: a queue's health at a glance,
    /// for the host's metrics.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Database`] when the read fails.
    pub fn stats(&self, now: DateTime<Utc>) -> Result<Stats, Error> {
        // Each state counted through its own partial index (skipped rows,
        // which nothing else reads, are the rest of the table's count),
        // so no count reads the rows themselves.
        let count = |sql: &str| -> Result<u64, Error> {
            let n: i64 = self
                .connection
                .prepare_cached(sql)?
                .query_row([], |row| row.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let mut stats = Stats {
            due: count("SELECT COUNT(*) FROM deliveries WHERE state = 'due'")?,
            claimed: count("SELECT COUNT(*) FROM deliveries WHERE state = 'claimed'")?,
            delivered: count("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'")?,
            ..Stats::default()
        };
        {
            let mut select = self.connection.prepare_cached(
                "SELECT state, COUNT(*) FROM deliveries
                 WHERE state IN ('given_up', 'disabled') GROUP BY state",
            )?;
            let rows = select.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (state, n) = row?;
                let n = u64::try_from(n).unwrap_or(0);
                match RowState::parse(&state) {
                    Some(RowState::GivenUp) => stats.given_up = n,
                    Some(RowState::Disabled) => stats.disabled = n,
                    _ => {}
                }
            }
        }
        let all = count("SELECT COUNT(*) FROM deliveries")?;
        stats.skipped = all.saturating_sub(
            stats.due + stats.claimed + stats.delivered + stats.given_up + stats.disabled,
        );
        let oldest: Option<i64> = self.connection.query_row(
            "SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'due' AND next_attempt_at <= ?1",
            params![micros(now)],
            |row| row.get(0),
        )?;
        stats.oldest_due_age =
            oldest.map(|at| (now - from_micros(at)).to_std().unwrap_or_default());
        Ok(stats)
    }

    /// A delivery's stored envelope (with its attempt log), or `None` if
    /// there is no such row.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Envelope`] when the stored envelope cannot be read
    /// (callhook's error as `source()`), [`ErrorKind::Database`] when the
    /// read fails.
    pub fn envelope(&self, delivery: &str) -> Result<Option<Envelope>, Error> {
        let json: Option<String> = self
            .connection
            .query_row(
                "SELECT envelope FROM deliveries WHERE id = ?1",
                params![delivery],
                |row| row.get(0),
            )
            .optional()?;
        json.map(|json| {
            Envelope::from_json(&json).map_err(|e| {
                Error::new(ErrorKind::Envelope, "the stored envelope could not be read")
                    .with_source(e)
            })
        })
        .transpose()
    }

    /// Up to `limit` rows' delivery ids with their states, ordered by id
    /// and after `after` (a page's last id, for the next page): an
    /// operator's overview, and how a test checks every row.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Limit`] for a `limit` over [`limits::LIST`] and
    /// [`ErrorKind::Database`] when the read fails.
    pub fn rows(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, RowState)>, Error> {
        limits::check("the number of rows asked for", limit, limits::LIST)?;
        let mut select = self.connection.prepare_cached(
            "SELECT id, state FROM deliveries WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = select
            .query_map(
                params![after.unwrap_or(""), i64::try_from(limit).unwrap_or(0)],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .into_iter()
            .map(|(id, state)| {
                let state = RowState::parse(&state).unwrap_or(RowState::GivenUp);
                (id, state)
            })
            .collect())
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The claim's plan streams due rows from `deliveries_due` in order
    /// (no sort of the queue); only the expired leases, few, are sorted.
    #[test]
    fn the_claim_reads_due_rows_from_the_index_in_order() {
        let connection = Connection::open_in_memory().unwrap();
        let mut connection = connection;
        schema::migrate(&mut connection).unwrap();
        let mut plan = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {CANDIDATES}"))
            .unwrap();
        let steps = plan
            .query_map([0], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(3)?,
                ))
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let parent_of = |needle: &str| {
            steps
                .iter()
                .find(|(_, _, detail)| detail.contains(needle))
                .map(|(_, parent, _)| *parent)
        };
        let due = parent_of("USING INDEX deliveries_due").expect("the due index is used");
        assert!(parent_of("MERGE (UNION ALL)").is_some(), "{steps:#?}");
        for (_, parent, detail) in &steps {
            if detail.contains("TEMP B-TREE") {
                assert!(*parent != due && *parent != 0, "{steps:#?}");
            }
        }
    }
}
