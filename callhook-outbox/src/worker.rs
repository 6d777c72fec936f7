//! The worker: one claim-to-finish cycle over any [`Store`], sans-IO about
//! sending. [`Worker::claim`] claims a batch, reads the delivery state
//! once, admits each delivery and prepares the admitted ones (credentials
//! and signatures from the registry as it is at send time); the host sends
//! them however it likes; [`Worker::finish`] records every outcome and
//! writes the batch and the state in one [`Store::finish_all`].

use std::collections::HashSet;
use std::time::Duration;

use callhook::{
    Decision, DeliveryState, Envelope, GiveUp, Outcome, Outgoing, Prepared, Registry, TokenRequest,
};
use chrono::{DateTime, Utc};

use crate::error::{Error, ErrorKind};
use crate::outbox::{Claimed, Finished, RowState, Stats};
use crate::store::Store;

/// How long a delivery the host did not send (no result given, or its
/// OAuth2 token still missing) waits before it is claimed again: long
/// enough that a token endpoint that is down is not asked in a tight loop.
pub const RELEASE_DELAY: Duration = Duration::from_secs(1);

/// How long a delivery of a disabled service waits before it is claimed
/// again (not an attempt): it is held until the service is enabled again,
/// asked about at this pace.
pub const DISABLED_DELAY: Duration = Duration::from_secs(30);

/// How a [`Worker`] claims.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerOptions {
    /// Rows per claim (64 by default, at most [`limits::CLAIM_BATCH`](crate::limits::CLAIM_BATCH)):
    /// one commit to claim them, one to finish them.
    pub batch: usize,
    /// How long a claim holds its rows (2 minutes by default, at most
    /// [`limits::LEASE_SECONDS`](crate::limits::LEASE_SECONDS)): longer
    /// than a batch takes to send, or another worker claims its rows again
    /// and they are sent twice.
    ///
    /// Pick it from the worst case: a batch sent one after the other
    /// ([`Worker::run_blocking`]) takes up to
    /// [`batch`](WorkerOptions::batch) × the services' request timeout
    /// ([`Registry::request_timeout`], 30 s by default) when every
    /// endpoint hangs. `run_blocking` sends a delivery only while its
    /// lease outlasts the request's timeout and releases the others
    /// ([`RELEASE_DELAY`]), so a shorter lease is safe but slow when
    /// endpoints hang; a lease no longer than one timeout sends nothing.
    /// Give a longer lease or smaller batches rather.
    pub lease: Duration,
}

impl Default for WorkerOptions {
    fn default() -> WorkerOptions {
        WorkerOptions {
            batch: 64,
            lease: Duration::from_secs(120),
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
    /// Rows claimed. Each is counted once more, in one of the counters
    /// below, when its write is known. A row whose stored envelope cannot
    /// be read is given up by [`Store::claim`] itself and is not claimed:
    /// no counter here has it; [`Stats::given_up`] does.
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
    /// ([`Decision::Wait`]) or their service disabled (due again after
    /// [`DISABLED_DELAY`]): not an attempt.
    pub waited: u64,
    /// Deliveries the host did not send (no result given, or no OAuth2
    /// token), due again after [`RELEASE_DELAY`], not an attempt.
    pub released: u64,
    /// Rows whose lease was taken over before the batch was finished: the
    /// other claim's record stands (the request may have gone twice).
    pub lease_lost: u64,
    /// Rows whose request could not be prepared and that are due again
    /// (the retry policy counted an attempt that sent nothing), or whose
    /// own write failed. Those given up for it are in
    /// [`Counters::given_up`]. Each row claimed is counted once, in one of
    /// the counters after [`Counters::claimed`], when its write is known.
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
    /// Its service is disabled: held (due again after [`DISABLED_DELAY`]),
    /// not an attempt.
    Held,
    /// Its request cannot be sent as the registry is now (the service
    /// changed its origin, path or method, or is gone): given up
    /// ([`GiveUp::NotPrepared`]) with this reason, nothing sent.
    Ended(String),
    /// The registry's address policy refuses the request's host: given up
    /// as [`Outcome::address_refused`], which leaves endpoint health alone.
    Refused,
    /// Prepared: the host sends it.
    Send(Box<Outgoing>),
    /// Its service authenticates by OAuth2 and no token is cached: the
    /// token request goes first ([`Batch::token_requests`]).
    Token(Box<Outgoing>, Box<TokenRequest>),
    /// The request could not be built or prepared for another reason:
    /// recorded by the retry policy alone as an attempt that sent nothing
    /// (endpoint health untouched: the endpoint was not asked), the error
    /// kept in the attempt log and as the row's outcome.
    Failed(String),
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
    /// [`ErrorKind::Envelope`] in both cases: when delivery `index` waits
    /// for no token (no `source()`), and when the token response is
    /// refused or cannot be read, with callhook's error
    /// ([`callhook::TokenCache::accept`]) as `source()`.
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

    /// Until when delivery `index`'s claim holds its row: a request sent
    /// after it may go twice, as another worker may have claimed it.
    #[must_use]
    pub fn lease_until(&self, index: usize) -> Option<DateTime<Utc>> {
        self.items.get(index).map(|item| item.claimed.lease_until)
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
            not_prepared(&e, &outgoing.service)
        }
    }
}

/// What becomes of a delivery [`Registry::prepare`] refused, by the kind of
/// the refusal: none of them says anything of the endpoint's health.
fn not_prepared(e: &callhook::Error, service: &str) -> Step {
    match e.kind() {
        callhook::ErrorKind::ServiceDisabled => Step::Held,
        callhook::ErrorKind::ServiceChanged => Step::Ended(e.to_string()),
        callhook::ErrorKind::Registry => Step::Ended(gone(service)),
        // The one `InvalidUrl` prepare gives for a request of the
        // service's form: its host is an address the registry refuses.
        callhook::ErrorKind::InvalidUrl => Step::Refused,
        _ => Step::Failed(e.to_string()),
    }
}

/// The reason a delivery of a service gone from the registry is given up.
fn gone(service: &str) -> String {
    format!("service `{service}` is not in the registry")
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
    /// from `registry` as it is now). What becomes at [`Worker::finish`] of
    /// a delivery that cannot be prepared depends on why, and none of it
    /// touches endpoint health (the endpoint was not asked):
    ///
    /// - its service is disabled: held, due again after [`DISABLED_DELAY`]
    ///   (not an attempt) until the service is enabled again;
    /// - its service now sends to another origin, path or method
    ///   ([`callhook::ErrorKind::ServiceChanged`]), or is gone from the
    ///   registry: given up at once ([`GiveUp::NotPrepared`]) with the
    ///   reason as the row's outcome (for example "service `ID` is not in
    ///   the registry"), a dead letter; the host dispatches the call's
    ///   event again to build the request as the service is now;
    /// - its host is an address the registry refuses: given up as
    ///   [`Outcome::address_refused`];
    /// - anything else: recorded by the retry policy alone as an attempt
    ///   that sent nothing, the error kept in the attempt log and as the
    ///   row's outcome.
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
                        not_prepared(&e, &envelope.service)
                    }
                },
                Err(e) => {
                    tracing::warn!(
                        delivery = %envelope.delivery,
                        error = %e,
                        "outbox delivery's service is not in the registry"
                    );
                    Step::Ended(gone(&envelope.service))
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
        self.finish_with(store, registry, batch, results, now, false)
    }

    /// [`Worker::finish`], the batch's write tried again while the database
    /// is busy when `retry_busy` (one transaction, nothing written when it
    /// fails, so trying again records nothing twice).
    fn finish_with<S: Store + ?Sized>(
        &mut self,
        store: &mut S,
        registry: &Registry,
        batch: Batch,
        results: &[(usize, Outcome<'_>)],
        now: DateTime<Utc>,
        retry_busy: bool,
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
        // Each row's decision, the reason kept as its outcome, and what it
        // counts as if it is written due again: every row lands in one
        // counter, once its write is known.
        let mut decided: Vec<(Decision, Option<String>, Due)> = Vec::with_capacity(items.len());
        for (item, outcome) in items.iter_mut().zip(&outcomes) {
            let recorded = match (&item.step, outcome) {
                (Step::Decided(decision), _) => Ok((decision.clone(), None, Due::Waited)),
                (Step::Held, _) => Ok((later(now, DISABLED_DELAY), None, Due::Waited)),
                (Step::Ended(reason), _) => Ok((
                    Decision::GiveUp(GiveUp::NotPrepared),
                    Some(reason.clone()),
                    Due::Errors,
                )),
                (Step::Send(_), Some(outcome)) => item
                    .envelope
                    .record_in(registry, *outcome, now, &mut state)
                    .map(|decision| (decision, None, Due::Retried)),
                (Step::Refused, _) => item
                    .envelope
                    .record_in(registry, Outcome::address_refused(), now, &mut state)
                    .map(|decision| (decision, None, Due::Errors)),
                (Step::Failed(error), _) => {
                    registry.retry_policy(&item.envelope.service).map(|policy| {
                        // The policy alone: nothing reached the endpoint,
                        // so its health is not touched.
                        let outcome = Outcome::transport_error().with_error(error);
                        let decision = item.envelope.record(&policy, outcome, now);
                        (decision, Some(error.clone()), Due::Errors)
                    })
                }
                // A token still missing: no result can be given for it.
                (Step::Send(_), None) | (Step::Token(..), _) => {
                    Ok((later(now, RELEASE_DELAY), None, Due::Released))
                }
            };
            decided.push(recorded.unwrap_or_else(|e| {
                // The service went between claim and finish.
                tracing::warn!(delivery = %item.envelope.delivery, error = %e, "outbox delivery not recorded");
                (
                    Decision::GiveUp(GiveUp::NotPrepared),
                    Some(gone(&item.envelope.service)),
                    Due::Errors,
                )
            }));
        }
        let finished: Vec<Finished<'_>> = items
            .iter()
            .zip(&decided)
            .map(|(item, (decision, reason, _))| {
                let one = Finished::new(&item.claimed, &item.envelope, decision);
                match reason {
                    Some(reason) => one.with_reason(reason),
                    None => one,
                }
            })
            .collect();
        let written = if retry_busy {
            busy_retried(|| store.finish_all(&finished, Some(state.clone()), now))?
        } else {
            store.finish_all(&finished, Some(state), now)?
        };
        let mut rows = Vec::with_capacity(written.len());
        for ((item, (decision, _, due)), result) in items.iter().zip(decided).zip(written) {
            match &result {
                Ok(RowState::Delivered) => counts.delivered += 1,
                Ok(RowState::GivenUp) => counts.given_up += 1,
                Ok(RowState::Disabled) => counts.disabled += 1,
                Ok(RowState::Skipped) => counts.skipped += 1,
                Ok(_) => match due {
                    Due::Retried => counts.retried += 1,
                    Due::Waited => counts.waited += 1,
                    Due::Released => counts.released += 1,
                    Due::Errors => counts.errors += 1,
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
    /// too, and so is one whose lease would end before its request's
    /// timeout ([`Registry::request_timeout`]) if it were sent now: it
    /// could still be in flight when another worker claims it (see
    /// [`WorkerOptions::lease`]). Returns the counters when `keep_going`
    /// stops it.
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
        clock: impl FnMut() -> DateTime<Utc>,
        keep_going: impl FnMut(&Counters, &Stats) -> bool,
    ) -> Result<Counters, Error> {
        let mut registry = registry.clone();
        self.run_blocking_with(store, &mut registry, sender, clock, |_, _| {}, keep_going)
    }

    /// [`Worker::run_blocking`], giving each finished batch to
    /// `on_batch` with the registry to change: [`Finish::rows`] name the
    /// URLs and webhooks a [`Decision::Disable`] asks the host to disable
    /// (for example with [`Registry::set_webhook_enabled`]), which the
    /// next batch is prepared with. [`Worker::run_blocking`] gives the rows
    /// to no one: a host that acts on `Disable` uses this.
    ///
    /// # Errors
    ///
    /// As [`Worker::run_blocking`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use callhook::{Catalog, Config, Decision, DisableTarget, Registry};
    /// use callhook_outbox::{Options, Outbox, Worker, WorkerOptions};
    /// use callhook_send::{BlockingSender, Options as SendOptions};
    ///
    /// let mut registry = Registry::from_config(
    ///     &Config::from_json(r#"{"services": [], "webhooks": []}"#)?,
    ///     Catalog::standard().clone(),
    /// )?;
    /// let mut outbox = Outbox::open("outbox.db", Options::default())?;
    /// let sender = BlockingSender::new(SendOptions::new())?;
    /// let mut worker = Worker::new("worker-1", WorkerOptions::default());
    /// worker.run_blocking_with(
    ///     &mut outbox,
    ///     &mut registry,
    ///     &sender,
    ///     chrono::Utc::now,
    ///     |registry, finish| {
    ///         for row in &finish.rows {
    ///             if let Decision::Disable { target: DisableTarget::Webhook { webhook, .. }, .. } = &row.decision {
    ///                 let _ = registry.set_webhook_enabled(webhook, false);
    ///             }
    ///         }
    ///     },
    ///     |_, stats| stats.due + stats.claimed > 0,
    /// )?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run_blocking_with<S: Store + ?Sized>(
        &mut self,
        store: &mut S,
        registry: &mut Registry,
        sender: &callhook_send::BlockingSender,
        mut clock: impl FnMut() -> DateTime<Utc>,
        mut on_batch: impl FnMut(&mut Registry, &Finish),
        mut keep_going: impl FnMut(&Counters, &Stats) -> bool,
    ) -> Result<Counters, Error> {
        let mut stats = busy_retried(|| self.observe(store, clock()))?;
        let mut observed = clock();
        loop {
            let now = clock();
            let batch = busy_retried(|| self.claim(store, registry, now))?;
            if batch.is_empty() {
                stats = busy_retried(|| self.observe(store, now))?;
                observed = now;
                if !keep_going(&self.counters, &stats) {
                    return Ok(self.counters);
                }
                std::thread::sleep(IDLE_POLL);
                continue;
            }
            let mut attempted = Vec::with_capacity(batch.len());
            for (index, outgoing) in batch.to_send() {
                // A request still in flight when its lease ends may be
                // sent again by the next claim: one whose lease will not
                // outlast its timeout is released instead.
                let timeout = registry
                    .request_timeout(&outgoing.service)
                    .ok()
                    .and_then(|t| chrono::Duration::from_std(t).ok())
                    .unwrap_or(chrono::Duration::MAX);
                let lease_until = batch.lease_until(index).unwrap_or(DateTime::<Utc>::MIN_UTC);
                if clock()
                    .checked_add_signed(timeout)
                    .is_none_or(|end| end > lease_until)
                {
                    tracing::debug!(
                        delivery = %outgoing.delivery,
                        "outbox delivery released: its lease would end before its timeout"
                    );
                    continue;
                }
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
            let finish = self.finish_with(store, registry, batch, &outcomes, now, true)?;
            on_batch(registry, &finish);
            if now - observed >= chrono::Duration::seconds(1) {
                stats = busy_retried(|| self.observe(store, now))?;
                observed = now;
            }
            if !keep_going(&self.counters, &stats) {
                return Ok(self.counters);
            }
        }
    }
}

/// How often [`Worker::run_blocking`] tries again a claim, a read or a
/// batch's write the database refused as busy (another writer held it past
/// [`Options::busy_timeout`](crate::Options::busy_timeout)) before it stops
/// with the error.
pub const BUSY_RETRIES: u32 = 5;

/// `f`, tried again after a short sleep while it fails with the database
/// busy, at most [`BUSY_RETRIES`] times.
fn busy_retried<T>(mut f: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    let mut tries = 0;
    loop {
        match f() {
            Err(e) if tries < BUSY_RETRIES && is_busy(&e) => {
                tries += 1;
                tracing::warn!(error = %e, tries, "outbox database busy: trying again");
                std::thread::sleep(Duration::from_millis(100) * tries);
            }
            other => return other,
        }
    }
}

/// Whether `e` is SQLite's "database is busy" or "locked": transient.
fn is_busy(e: &Error) -> bool {
    use std::error::Error as _;
    let mut source = e.source();
    while let Some(inner) = source {
        if let Some(rusqlite::Error::SqliteFailure(failure, _)) = inner.downcast_ref() {
            return matches!(
                failure.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            );
        }
        source = inner.source();
    }
    false
}

/// A row put back without an attempt: due again after `delay`.
fn later(now: DateTime<Utc>, delay: Duration) -> Decision {
    let delay = chrono::Duration::from_std(delay).unwrap_or_default();
    Decision::Retry { at: now + delay }
}

/// What a row written due again counts as.
#[derive(Debug, Clone, Copy)]
enum Due {
    /// An attempt failed and is scheduled again.
    Retried,
    /// Not sent now ([`Decision::Wait`], a disabled service).
    Waited,
    /// The host gave no result (or no token).
    Released,
    /// The request could not be prepared.
    Errors,
}
