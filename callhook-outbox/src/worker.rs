//! The worker: one claim-to-finish cycle over any [`Store`], sans-IO about
//! sending. [`Worker::claim`] claims a batch, reads the delivery state
//! once, admits each delivery and prepares the admitted ones (credentials
//! and signatures from the registry as it is at send time); the host sends
//! them however it likes; [`Worker::finish`] records every outcome and
//! writes the batch and the state in one [`Store::finish_all`].

use std::collections::HashSet;
use std::time::Duration;

use callhook::{
    Decision, DeliveryState, Envelope, Outcome, Outgoing, Prepared, Registry, TokenRequest,
};
use chrono::{DateTime, Utc};

use crate::error::{Error, ErrorKind};
use crate::outbox::{Claimed, Finished, RowState, Stats};
use crate::store::Store;

/// How long a delivery the host did not send (no result given, or its
/// OAuth2 token still missing) waits before it is claimed again: long
/// enough that a token endpoint that is down is not asked in a tight loop.
pub const RELEASE_DELAY: Duration = Duration::from_secs(1);

/// The words an attempt log keeps for a delivery whose request could not
/// be built or prepared (nothing was sent).
const NOT_PREPARED: &str = "request could not be prepared";

/// How a [`Worker`] claims.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// Rows per claim (64 by default, at most [`limits::CLAIM_BATCH`](crate::limits::CLAIM_BATCH)):
    /// one commit to claim them, one to finish them.
    pub batch: usize,
    /// How long a claim holds its rows (30 s by default, at most
    /// [`limits::LEASE_SECONDS`](crate::limits::LEASE_SECONDS)): longer than a batch takes to send, or
    /// another worker claims its rows again and they are sent twice.
    pub lease: Duration,
}

impl Default for WorkerOptions {
    fn default() -> WorkerOptions {
        WorkerOptions {
            batch: 64,
            lease: Duration::from_secs(30),
        }
    }
}

impl WorkerOptions {
    /// Sets [`WorkerOptions::batch`].
    #[must_use]
    pub fn with_batch(mut self, batch: usize) -> WorkerOptions {
        self.batch = batch;
        self
    }

    /// Sets [`WorkerOptions::lease`].
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> WorkerOptions {
        self.lease = lease;
        self
    }
}

/// What a worker did, per batch ([`Worker::finish`]) or since it started
/// ([`Worker::counters`]): the counts the crate's `tracing` events carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Counters {
    /// Rows claimed.
    pub claimed: u64,
    /// Deliveries the endpoint took.
    pub delivered: u64,
    /// Attempts that failed and were scheduled again.
    pub retried: u64,
    /// Deliveries given up (dead letters).
    pub given_up: u64,
    /// Deliveries given up with a URL or webhook to disable (dead letters).
    pub disabled: u64,
    /// Deliveries not sent as superseded by a newer update.
    pub skipped: u64,
    /// Deliveries not sent now, their endpoint paused or throttled
    /// ([`Decision::Wait`]): due again at its time, not an attempt.
    pub waited: u64,
    /// Deliveries the host did not send (no result given, or no OAuth2
    /// token), due again after [`RELEASE_DELAY`], not an attempt.
    pub released: u64,
    /// Rows whose lease was taken over before the batch was finished: the
    /// other claim's record stands (the request may have gone twice).
    pub lease_lost: u64,
    /// Rows that could not be handled: their service is gone from the
    /// registry (released to wait for it), or a row's own write failed.
    pub errors: u64,
}

impl Counters {
    fn add(&mut self, other: &Counters) {
        self.claimed += other.claimed;
        self.delivered += other.delivered;
        self.retried += other.retried;
        self.given_up += other.given_up;
        self.disabled += other.disabled;
        self.skipped += other.skipped;
        self.waited += other.waited;
        self.released += other.released;
        self.lease_lost += other.lease_lost;
        self.errors += other.errors;
    }
}

/// Where one claimed delivery stands in a [`Batch`].
#[derive(Debug)]
enum Step {
    /// Decided without sending: admit said skip or wait.
    Decided(Decision),
    /// Its service is gone from the registry: released, to wait for it.
    Gone,
    /// Prepared: the host sends it.
    Send(Box<Outgoing>),
    /// Its service authenticates by OAuth2 and no token is cached: the
    /// token request goes first ([`Batch::token_requests`]).
    Token(Box<Outgoing>, Box<TokenRequest>),
    /// The request could not be built or prepared: recorded as an attempt
    /// that sent nothing, so the retry policy ends it.
    Failed,
}

#[derive(Debug)]
struct Item {
    claimed: Claimed,
    envelope: Envelope,
    step: Step,
}

/// A claimed batch: each delivery admitted and, if admitted, prepared.
/// The host sends [`Batch::to_send`] and gives the outcomes to
/// [`Worker::finish`].
#[derive(Debug)]
pub struct Batch {
    items: Vec<Item>,
    state: DeliveryState,
}

impl Batch {
    /// Rows claimed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing was claimed (nothing was due).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The prepared deliveries to send, by their index in the batch: send
    /// each (in order, concurrently, as the host likes) and give
    /// [`Worker::finish`] its outcome under that index.
    pub fn to_send(&self) -> impl Iterator<Item = (usize, &Outgoing)> + '_ {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match &item.step {
                Step::Send(outgoing) => Some((i, &**outgoing)),
                _ => None,
            })
    }

    /// The OAuth2 token requests to send before the deliveries that need
    /// them, one per token (the first delivery needing it names it): send
    /// each, give its response to [`Batch::accept_token`] under the same
    /// index, then [`Batch::prepare_again`]. A delivery whose token is
    /// still missing at [`Worker::finish`] is released, not attempted.
    pub fn token_requests(&self) -> impl Iterator<Item = (usize, &TokenRequest)> + '_ {
        let mut seen = HashSet::new();
        self.items
            .iter()
            .enumerate()
            .filter_map(move |(i, item)| match &item.step {
                Step::Token(_, request) if seen.insert(request.key().to_owned()) => {
                    Some((i, &**request))
                }
                _ => None,
            })
    }

    /// Gives the response to the token request of delivery `index`
    /// ([`Batch::token_requests`]) to the batch's token cache, which is
    /// stored with the batch.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Envelope`] when delivery `index` waits for no token,
    /// with callhook's error (a refused or unreadable token response,
    /// [`callhook::TokenCache::accept`]) as `source()`, or alone for an
    /// index that needs no token.
    pub fn accept_token(
        &mut self,
        index: usize,
        status: http::StatusCode,
        body: &[u8],
        at: DateTime<Utc>,
    ) -> Result<(), Error> {
        let Some(Item {
            step: Step::Token(_, request),
            ..
        }) = self.items.get(index)
        else {
            return Err(Error::new(
                ErrorKind::Envelope,
                format!("delivery {index} of the batch waits for no token"),
            ));
        };
        self.state
            .tokens
            .accept(request, status, body, at)
            .map_err(|e| {
                Error::new(ErrorKind::Envelope, "the token response was refused").with_source(e)
            })
    }

    /// Prepares again every delivery that waited for a token, after
    /// [`Batch::accept_token`]: those whose token is now cached join
    /// [`Batch::to_send`].
    pub fn prepare_again(&mut self, registry: &Registry, now: DateTime<Utc>) {
        for item in &mut self.items {
            if let Step::Token(outgoing, _) = &item.step {
                let outgoing = outgoing.clone();
                item.step = prepare(registry, *outgoing, now, &self.state);
            }
        }
    }

    /// The delivery state the batch was admitted and prepared with (its
    /// tokens, endpoint health and sequences), stored with the batch.
    #[must_use]
    pub fn state(&self) -> &DeliveryState {
        &self.state
    }
}

/// Signs `outgoing` for this attempt with the registry's current
/// credentials.
fn prepare(
    registry: &Registry,
    mut outgoing: Outgoing,
    now: DateTime<Utc>,
    state: &DeliveryState,
) -> Step {
    // Prepare from an unsigned copy, so a delivery waiting for a token can
    // be prepared again once it has one.
    let unsigned = outgoing.clone();
    match registry.prepare(&mut outgoing, now, &state.tokens) {
        Ok(Prepared::TokenNeeded(request)) => Step::Token(Box::new(unsigned), request),
        Ok(_) => Step::Send(Box::new(outgoing)),
        Err(e) => {
            tracing::warn!(
                delivery = %outgoing.delivery,
                error = %e,
                "outbox delivery could not be prepared"
            );
            Step::Failed
        }
    }
}

/// The results of [`Worker::finish`]: this batch's counts, and each row
/// written with the state it moved to.
#[derive(Debug)]
#[non_exhaustive]
pub struct Finish {
    /// This batch's counts.
    pub counts: Counters,
    /// Each row of the batch, in claim order.
    pub rows: Vec<Written>,
}

/// One row of a finished batch ([`Finish::rows`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct Written {
    /// The delivery id.
    pub delivery: String,
    /// What was decided for it: a [`Decision::Disable`] names the URL or
    /// webhook for the host to disable in its registry.
    pub decision: Decision,
    /// The state the row moved to, or why nothing was written
    /// ([`ErrorKind::LeaseLost`]: another claim's record stands).
    pub result: Result<RowState, Error>,
}

/// A worker of an outbox: claims batches, admits and prepares them,
/// records their outcomes, and keeps [`Counters`] since it started. It
/// holds no connection: each call is given the [`Store`], so one worker
/// loop serves every backend.
///
/// # Examples
///
/// ```
/// use callhook::{Call, CallData, Catalog, Config, Envelope, Event, Outcome, Registry};
/// use callhook_outbox::{Options, Outbox, Worker, WorkerOptions};
///
/// let registry = Registry::from_config(&Config::from_json(r#"{
///     "services": [{"id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "name": "crm",
///         "method": "POST", "url": "https://crm.example.com/calls",
///         "body": {"kind": "json", "template": "{}"}}],
///     "webhooks": [{"id": "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6", "event": "Call:Hangup",
///         "service": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "scopes": ["*"]}]
/// }"#)?, Catalog::standard().clone())?;
/// let dir = tempfile::tempdir().unwrap();
/// let mut outbox = Outbox::open(dir.path().join("outbox.db"), Options::default())?;
/// let now = "2024-12-02T21:11:37Z".parse().unwrap();
/// let dispatch = registry.dispatch(Event::CallHangup, &Call::new("call-1", CallData::new()), now);
/// let envelopes: Vec<Envelope> = dispatch.requests.iter().map(|o| Envelope::new(o, now)).collect();
/// outbox.enqueue(&envelopes)?;
///
/// let mut worker = Worker::new("worker-1", WorkerOptions::default());
/// let batch = worker.claim(&mut outbox, &registry, now)?;
/// let headers = http::HeaderMap::new();
/// // The host sends each `(index, outgoing)` and keeps the outcomes.
/// let outcomes: Vec<_> = batch
///     .to_send()
///     .map(|(i, _outgoing)| (i, Outcome::response(http::StatusCode::NO_CONTENT, &headers)))
///     .collect();
/// let finish = worker.finish(&mut outbox, &registry, batch, &outcomes, now)?;
/// assert_eq!(finish.counts.delivered, 1);
/// assert_eq!(outbox.depth()?, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Worker {
    name: String,
    options: WorkerOptions,
    counters: Counters,
}

impl Worker {
    /// A worker named `name` (its leases carry the name; give each process
    /// its own).
    #[must_use]
    pub fn new(name: impl Into<String>, options: WorkerOptions) -> Worker {
        Worker {
            name: name.into(),
            options,
            counters: Counters::default(),
        }
    }

    /// The worker's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The worker's options.
    #[must_use]
    pub fn options(&self) -> &WorkerOptions {
        &self.options
    }

    /// What the worker did since it was made.
    #[must_use]
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Claims up to [`WorkerOptions::batch`] due rows, reads the delivery
    /// state once, admits each delivery ([`Envelope::admit`]: superseded
    /// ones are skipped, those of a paused endpoint wait) and prepares the
    /// admitted ones ([`Registry::prepare`]: credentials and signatures
    /// from `registry` as it is now). A delivery whose service is gone
    /// from `registry` is released (due again after [`RELEASE_DELAY`] per
    /// lease, until the registry has it again); one whose request cannot
    /// be built or prepared is recorded at [`Worker::finish`] as an
    /// attempt that sent nothing, so its retry policy ends it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Limit`] for a [`WorkerOptions::batch`] of 0; as
    /// [`Store::claim`] and [`Store::state`] otherwise: nothing is
    /// claimed, or the claimed rows come back when their lease expires.
    pub fn claim<S: Store + ?Sized>(
        &mut self,
        store: &mut S,
        registry: &Registry,
        now: DateTime<Utc>,
    ) -> Result<Batch, Error> {
        let span = tracing::debug_span!(
            "outbox.claim",
            worker = %self.name,
            claimed = tracing::field::Empty,
            to_send = tracing::field::Empty,
        );
        let _entered = span.enter();
        if self.options.batch == 0 {
            return Err(Error::new(
                ErrorKind::Limit,
                "the claim batch is 0: no delivery could ever be claimed",
            ));
        }
        let claimed = store.claim(&self.name, now, self.options.batch, self.options.lease)?;
        if claimed.is_empty() {
            span.record("claimed", 0);
            return Ok(Batch {
                items: Vec::new(),
                state: DeliveryState::default(),
            });
        }
        let mut state = store.state()?;
        let mut items = Vec::with_capacity(claimed.len());
        for claimed in claimed {
            let mut envelope = claimed.envelope.clone();
            let step = match envelope.admit(registry, &mut state, now) {
                Ok(Some(decision)) => Step::Decided(decision),
                Ok(None) => match envelope.to_outgoing() {
                    Ok(outgoing) => prepare(registry, outgoing, now, &state),
                    Err(e) => {
                        tracing::warn!(
                            delivery = %envelope.delivery,
                            error = %e,
                            "outbox delivery could not be built"
                        );
                        Step::Failed
                    }
                },
                Err(e) => {
                    tracing::warn!(
                        delivery = %envelope.delivery,
                        error = %e,
                        "outbox delivery's service is not in the registry"
                    );
                    Step::Gone
                }
            };
            items.push(Item {
                claimed,
                envelope,
                step,
            });
        }
        let batch = Batch { items, state };
        span.record("claimed", batch.len());
        span.record("to_send", batch.to_send().count());
        Ok(batch)
    }

    /// Records each outcome (`results`: the index [`Batch::to_send`] gave,
    /// and how the attempt ended) with [`Envelope::record_in`], then writes
    /// every row of the batch and the batch's delivery state in one
    /// [`Store::finish_all`]. A delivery given no result is released (due
    /// again after [`RELEASE_DELAY`], not an attempt), as is one still
    /// waiting for its token.
    ///
    /// A row whose lease was taken over is counted in
    /// [`Counters::lease_lost`] and written by the other claim only.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Envelope`] for a result whose index is not a delivery
    /// to send, or given twice (nothing is written then); as
    /// [`Store::finish_all`] otherwise.
    pub fn finish<S: Store + ?Sized>(
        &mut self,
        store: &mut S,
        registry: &Registry,
        batch: Batch,
        results: &[(usize, Outcome<'_>)],
        now: DateTime<Utc>,
    ) -> Result<Finish, Error> {
        let span = tracing::debug_span!("outbox.finish", worker = %self.name, rows = batch.len());
        let _entered = span.enter();
        let Batch {
            mut items,
            mut state,
        } = batch;
        let mut outcomes: Vec<Option<Outcome<'_>>> = vec![None; items.len()];
        for (index, outcome) in results {
            let slot = outcomes.get_mut(*index).filter(|slot| slot.is_none());
            match (slot, items.get(*index).map(|item| &item.step)) {
                (Some(slot), Some(Step::Send(_))) => *slot = Some(*outcome),
                _ => {
                    return Err(Error::new(
                        ErrorKind::Envelope,
                        format!(
                        "result {index} is not a delivery of the batch to send, or is given twice"
                    ),
                    ))
                }
            }
        }
        let mut counts = Counters {
            claimed: items.len() as u64,
            ..Counters::default()
        };
        let mut decisions = Vec::with_capacity(items.len());
        // Whether each row's decision came of an attempt: only those count
        // as retried when they come back due.
        let mut attempted = Vec::with_capacity(items.len());
        for (item, outcome) in items.iter_mut().zip(&outcomes) {
            attempted.push(matches!(
                (&item.step, outcome),
                (Step::Send(_), Some(_)) | (Step::Failed, _)
            ));
            let decision = match (&item.step, outcome) {
                (Step::Decided(decision), _) => Ok(decision.clone()),
                (Step::Gone, _) => {
                    counts.errors += 1;
                    Ok(release(now))
                }
                (Step::Send(_), Some(outcome)) => {
                    item.envelope.record_in(registry, *outcome, now, &mut state)
                }
                (Step::Failed, _) => item.envelope.record_in(
                    registry,
                    Outcome::transport_error().with_error(NOT_PREPARED),
                    now,
                    &mut state,
                ),
                // A token still missing: no result can be given for it.
                (Step::Send(_), None) | (Step::Token(..), _) => {
                    counts.released += 1;
                    Ok(release(now))
                }
            };
            decisions.push(decision.unwrap_or_else(|e| {
                // The service went between claim and finish: the row
                // waits for the registry to have it again.
                tracing::warn!(delivery = %item.envelope.delivery, error = %e, "outbox delivery not recorded");
                counts.errors += 1;
                release(now)
            }));
        }
        let finished: Vec<Finished<'_>> = items
            .iter()
            .zip(&decisions)
            .map(|(item, decision)| Finished {
                claimed: &item.claimed,
                envelope: &item.envelope,
                decision,
            })
            .collect();
        let written = store.finish_all(&finished, Some(state), now)?;
        let mut rows = Vec::with_capacity(written.len());
        for (((item, decision), attempted), result) in
            items.iter().zip(decisions).zip(&attempted).zip(written)
        {
            match &result {
                Ok(RowState::Delivered) => counts.delivered += 1,
                Ok(RowState::GivenUp) => counts.given_up += 1,
                Ok(RowState::Disabled) => counts.disabled += 1,
                Ok(RowState::Skipped) => counts.skipped += 1,
                Ok(_) => match decision {
                    Decision::Retry { .. } if *attempted => counts.retried += 1,
                    Decision::Wait { .. } => counts.waited += 1,
                    _ => {}
                },
                Err(e) if e.kind() == ErrorKind::LeaseLost => counts.lease_lost += 1,
                Err(_) => counts.errors += 1,
            }
            rows.push(Written {
                delivery: item.claimed.delivery().to_owned(),
                decision,
                result,
            });
        }
        self.counters.add(&counts);
        let total = &self.counters;
        tracing::debug!(
            worker = %self.name,
            claimed = counts.claimed,
            delivered = counts.delivered,
            retried = counts.retried,
            given_up = counts.given_up,
            disabled = counts.disabled,
            skipped = counts.skipped,
            waited = counts.waited,
            released = counts.released,
            lease_lost = counts.lease_lost,
            errors = counts.errors,
            total_delivered = total.delivered,
            total_retried = total.retried,
            total_given_up = total.given_up,
            total_disabled = total.disabled,
            total_skipped = total.skipped,
            total_lease_lost = total.lease_lost,
            "outbox batch finished"
        );
        Ok(Finish { counts, rows })
    }

    /// Reads the store's [`Stats`] at `now` and emits them
    /// as one `tracing` event (`outbox stats`: `depth`, `due`, `claimed`,
    /// `oldest_due_ms`), for a host's metrics; returns them.
    ///
    /// # Errors
    ///
    /// As [`Store::stats`].
    pub fn observe<S: Store + ?Sized>(
        &self,
        store: &mut S,
        now: DateTime<Utc>,
    ) -> Result<Stats, Error> {
        let stats = store.stats(now)?;
        tracing::debug!(
            worker = %self.name,
            depth = stats.due + stats.claimed,
            due = stats.due,
            claimed = stats.claimed,
            oldest_due_ms = stats
                .oldest_due_age
                .map_or(0, |age| u64::try_from(age.as_millis()).unwrap_or(u64::MAX)),
            "outbox stats"
        );
        Ok(stats)
    }
}

/// How long [`Worker::run_blocking`] sleeps when nothing is due.
#[cfg(feature = "send")]
pub const IDLE_POLL: Duration = Duration::from_millis(50);

#[cfg(feature = "send")]
impl Worker {
    /// A whole worker on the calling thread: claims, sends each prepared
    /// delivery with `sender` (one after the other), finishes, and again,
    /// until `keep_going` says to stop. `keep_going` is asked after every
    /// batch and whenever nothing is due, with the worker's counters and
    /// the store's [`Stats`] (read when nothing was due, and at most once a
    /// second otherwise, each read emitted as in [`Worker::observe`]);
    /// `|_, stats| stats.due + stats.claimed > 0` runs until the outbox is
    /// empty. Time is `clock`'s: nothing here reads a clock itself. When
    /// nothing is due it sleeps [`IDLE_POLL`].
    ///
    /// A delivery whose service authenticates by OAuth2 and has no cached
    /// token is released (callhook-send sends no token requests): a host
    /// with OAuth2 services writes its loop with [`Batch::token_requests`].
    /// A delivery the sender cannot start (its service gone) is released
    /// too. Returns the counters when `keep_going` stops it.
    ///
    /// # Errors
    ///
    /// As [`Worker::claim`], [`Worker::finish`] and [`Store::stats`]: the
    /// loop stops at the first, and the rows it held come back when their
    /// lease expires.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use callhook::{Catalog, Config, Registry};
    /// use callhook_outbox::{Options, Outbox, Worker, WorkerOptions};
    /// use callhook_send::{BlockingSender, Options as SendOptions};
    ///
    /// let registry = Registry::from_config(
    ///     &Config::from_json(r#"{"services": [], "webhooks": []}"#)?,
    ///     Catalog::standard().clone(),
    /// )?;
    /// let mut outbox = Outbox::open("outbox.db", Options::default())?;
    /// let sender = BlockingSender::new(SendOptions::new())?;
    /// let mut worker = Worker::new("worker-1", WorkerOptions::default());
    /// let done = worker.run_blocking(&mut outbox, &registry, &sender, chrono::Utc::now, |_, stats| {
    ///     stats.due + stats.claimed > 0
    /// })?;
    /// println!("{} delivered", done.delivered);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run_blocking<S: Store + ?Sized>(
        &mut self,
        store: &mut S,
        registry: &Registry,
        sender: &callhook_send::BlockingSender,
        mut clock: impl FnMut() -> DateTime<Utc>,
        mut keep_going: impl FnMut(&Counters, &Stats) -> bool,
    ) -> Result<Counters, Error> {
        let mut stats = self.observe(store, clock())?;
        let mut observed = clock();
        loop {
            let now = clock();
            let batch = self.claim(store, registry, now)?;
            if batch.is_empty() {
                stats = self.observe(store, now)?;
                observed = now;
                if !keep_going(&self.counters, &stats) {
                    return Ok(self.counters);
                }
                std::thread::sleep(IDLE_POLL);
                continue;
            }
            let mut attempted = Vec::with_capacity(batch.len());
            for (index, outgoing) in batch.to_send() {
                match sender.send(registry, outgoing) {
                    Ok(done) => attempted.push((index, done)),
                    // Not started (the service is gone): released.
                    Err(e) => tracing::warn!(
                        delivery = %outgoing.delivery,
                        error = %e,
                        "outbox delivery not sent"
                    ),
                }
            }
            let outcomes: Vec<(usize, Outcome<'_>)> = attempted
                .iter()
                .map(|(index, done)| (*index, done.outcome()))
                .collect();
            let now = clock();
            self.finish(store, registry, batch, &outcomes, now)?;
            if now - observed >= chrono::Duration::seconds(1) {
                stats = self.observe(store, now)?;
                observed = now;
            }
            if !keep_going(&self.counters, &stats) {
                return Ok(self.counters);
            }
        }
    }
}

/// A row put back without an attempt: due again after [`RELEASE_DELAY`].
fn release(now: DateTime<Utc>) -> Decision {
    let delay = chrono::Duration::from_std(RELEASE_DELAY).unwrap_or_default();
    Decision::Retry { at: now + delay }
}
