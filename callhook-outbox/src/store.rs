//! What a worker needs of an outbox, whichever database holds it: the
//! SQLite [`Outbox`] implements it, and so does every other backend, so
//! one worker loop serves them all.

use std::time::Duration;

use callhook::DeliveryState;
use chrono::{DateTime, Utc};

use crate::error::Error;
use crate::outbox::{Claimed, Finished, Outbox, RowState, Stats};

/// An outbox's storage as a worker uses it: claim due rows under a lease,
/// then record the batch's attempts and the worker's delivery state in
/// one commit.
///
/// Every method takes `&mut self`: a database client's calls need it.
pub trait Store {
    /// Claims up to `batch` due rows (or rows whose lease expired) for
    /// `worker` until `now + lease`, at most the configured number per
    /// endpoint in flight.
    ///
    /// # Errors
    ///
    /// As [`Outbox::claim`].
    fn claim(
        &mut self,
        worker: &str,
        now: DateTime<Utc>,
        batch: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>, Error>;

    /// Records finished attempts and folds `state` into the stored
    /// delivery state, in one transaction; each row's result on its own.
    ///
    /// # Errors
    ///
    /// As [`Outbox::finish_all`].
    fn finish_all(
        &mut self,
        finished: &[Finished<'_>],
        state: Option<DeliveryState>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<RowState, Error>>, Error>;

    /// The stored delivery state (tokens, endpoint health, sequences).
    ///
    /// # Errors
    ///
    /// As [`Outbox::state`].
    fn state(&mut self) -> Result<DeliveryState, Error>;

    /// Rows due or claimed.
    ///
    /// # Errors
    ///
    /// As [`Outbox::depth`].
    fn depth(&mut self) -> Result<u64, Error>;

    /// Rows per state and the age of the oldest due row at `now`.
    ///
    /// # Errors
    ///
    /// As [`Outbox::stats`].
    fn stats(&mut self, now: DateTime<Utc>) -> Result<Stats, Error>;
}

impl Store for Outbox {
    fn claim(
        &mut self,
        worker: &str,
        now: DateTime<Utc>,
        batch: usize,
        lease: Duration,
    ) -> Result<Vec<Claimed>, Error> {
        Outbox::claim(self, worker, now, batch, lease)
    }

    fn finish_all(
        &mut self,
        finished: &[Finished<'_>],
        state: Option<DeliveryState>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<RowState, Error>>, Error> {
        Outbox::finish_all(self, finished, state, now)
    }

    fn state(&mut self) -> Result<DeliveryState, Error> {
        Outbox::state(self)
    }

    fn depth(&mut self) -> Result<u64, Error> {
        Outbox::depth(self)
    }

    fn stats(&mut self, now: DateTime<Utc>) -> Result<Stats, Error> {
        Outbox::stats(self, now)
    }
}
