//! What an operator needs: dead letters with their attempt logs, replay,
//! retention and erasure.

use callhook::Envelope;
use chrono::{DateTime, Utc};
use rusqlite::{params, TransactionBehavior};

use crate::error::{Error, ErrorKind};
use crate::limits;
use crate::outbox::{from_micros, micros, read_state, Outbox, RowState};

/// A delivery that gave up or was disabled, as
/// [`Outbox::dead_letters`] lists it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeadLetter {
    /// [`RowState::GivenUp`] or [`RowState::Disabled`].
    pub state: RowState,
    /// The decision that ended it (or why its stored envelope could not be
    /// read), as text.
    pub outcome: String,
    /// When it ended.
    pub ended_at: DateTime<Utc>,
    /// The envelope, with its attempt log ([`Envelope::attempts`]);
    /// `None` when the stored envelope cannot be read (the outcome says
    /// why).
    pub envelope: Option<Envelope>,
    /// The delivery id.
    pub delivery: String,
}

impl Outbox {
    /// Lists up to `limit` dead letters (rows given up or disabled), the
    /// latest ended first, each with its envelope and attempt log.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Limit`] for a `limit` over [`limits::LIST`], and
    /// [`ErrorKind::Database`] when the read fails.
    pub fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, Error> {
        limits::check("the number of dead letters asked for", limit, limits::LIST)?;
        let mut select = self.connection().prepare_cached(
            "SELECT id, state, COALESCE(outcome, ''), updated_at, envelope FROM deliveries
             WHERE state IN ('given_up', 'disabled') ORDER BY updated_at DESC, rowid DESC LIMIT ?1",
        )?;
        let rows = select.query_map(params![i64::try_from(limit).unwrap_or(0)], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, String>(4)?,
            ))
        })?;
        let mut letters = Vec::new();
        for row in rows {
            let (delivery, state, outcome, ended, json) = row?;
            letters.push(DeadLetter {
                state: RowState::parse(&state).unwrap_or(RowState::GivenUp),
                outcome,
                ended_at: from_micros(ended),
                envelope: Envelope::from_json(&json).ok(),
                delivery,
            });
        }
        Ok(letters)
    }

    /// Makes a dead letter due again at `now` as a fresh delivery: its
    /// attempt count, first attempt time, fallback move and token refresh
    /// start over (so the retry policy gives it its whole schedule), and
    /// its attempt log is kept. Returns whether a dead letter of that id
    /// was found.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Envelope`] when its stored envelope cannot be read
    /// (nothing changes), and [`ErrorKind::Database`] when the write fails.
    pub fn replay(&mut self, delivery: &str, now: DateTime<Utc>) -> Result<bool, Error> {
        let tx = self
            .connection_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = replay_where(&tx, "id = ?1", params![delivery], now)?;
        tx.commit()?;
        Ok(n > 0)
    }

    /// Replays ([`Outbox::replay`]) every dead letter of `webhook` first
    /// attempted (dispatched) at or after `from` and before `to`, all or
    /// none; returns how many.
    ///
    /// # Errors
    ///
    /// As [`Outbox::replay`].
    pub fn replay_webhook(
        &mut self,
        webhook: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, Error> {
        let tx = self
            .connection_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = replay_where(
            &tx,
            "webhook = ?1 AND created_at >= ?2 AND created_at < ?3",
            params![webhook, micros(from), micros(to)],
            now,
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// Deletes delivered rows that ended more than `age` before `now`
    /// (retention); returns how many.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Database`] when the write fails.
    pub fn delete_delivered(
        &mut self,
        now: DateTime<Utc>,
        age: chrono::Duration,
    ) -> Result<usize, Error> {
        let cutoff = now
            .checked_sub_signed(age)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        Ok(self.connection_mut().execute(
            "DELETE FROM deliveries WHERE state = 'delivered' AND updated_at < ?1",
            params![micros(cutoff)],
        )?)
    }

    /// Deletes every row of `call_id`, whatever its state, and forgets the
    /// call's id in the stored delivery state's sequences
    /// ([`callhook::Sequences::forget_call`]), in one transaction (a
    /// person's data erased); returns how many rows. A row claimed now is
    /// deleted too: its worker's finish then fails with
    /// [`ErrorKind::LeaseLost`], though a request it already sent is out.
    /// A worker finishing a batch it claimed before the erase folds its
    /// copy of the state back, which may hold the call id again; erase
    /// once more after the leases of that time (at most
    /// [`limits::LEASE_SECONDS`]) have passed to be sure.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Envelope`] when the stored state cannot be read, and
    /// [`ErrorKind::Database`] when the write fails; nothing is erased
    /// then.
    pub fn erase_call(&mut self, call_id: &str) -> Result<usize, Error> {
        let tx = self
            .connection_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let erased = tx.execute(
            "DELETE FROM deliveries WHERE call_id = ?1",
            params![call_id],
        )?;
        let mut state = read_state(&tx)?;
        let before = state.sequences.len();
        state.sequences.forget_call(call_id);
        if state.sequences.len() != before {
            tx.execute(
                "UPDATE delivery_state SET json = ?1 WHERE id = 1",
                params![state.to_json()],
            )?;
        }
        tx.commit()?;
        Ok(erased)
    }
}

fn replay_where(
    tx: &rusqlite::Transaction<'_>,
    condition: &str,
    params: &[&dyn rusqlite::ToSql],
    now: DateTime<Utc>,
) -> Result<usize, Error> {
    let rows: Vec<(i64, String)> = {
        let mut select = tx.prepare(&format!(
            "SELECT rowid, envelope FROM deliveries
             WHERE state IN ('given_up', 'disabled') AND {condition}"
        ))?;
        let rows = select
            .query_map(params, |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        rows
    };
    let mut update = tx.prepare_cached(
        "UPDATE deliveries SET state = 'due', attempt = 0, next_attempt_at = ?2,
             updated_at = ?2, outcome = NULL, envelope = ?3 WHERE rowid = ?1",
    )?;
    for (rowid, json) in &rows {
        let mut envelope = Envelope::from_json(json).map_err(|e| {
            Error::new(
                ErrorKind::Envelope,
                "a dead letter's stored envelope could not be read, so it cannot be replayed",
            )
            .with_source(e)
        })?;
        envelope.attempt = 0;
        envelope.first_attempt_at = now;
        envelope.next_attempt_at = now;
        envelope.current_url = 0;
        envelope.url_failures = 0;
        envelope.token_refreshed = false;
        update.execute(params![rowid, micros(now), envelope.to_json()])?;
    }
    Ok(rows.len())
}
