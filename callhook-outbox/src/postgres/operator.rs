//! What an operator needs, in PostgreSQL: the same functions as the
//! SQLite outbox's (`crate::operator`), with the same meaning.

use ::postgres::types::ToSql;
use ::postgres::Transaction;
use callhook::Envelope;
use chrono::{DateTime, Utc};

use super::PgOutbox;
use crate::error::{Error, ErrorKind};
use crate::limits;
use crate::operator::DeadLetter;
use crate::outbox::{from_micros, micros, RowState};

impl PgOutbox {
    /// Lists up to `limit` dead letters (rows given up or disabled), the
    /// latest ended first, each with its envelope and attempt log, as
    /// [`Outbox::dead_letters`](crate::Outbox::dead_letters).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Limit`] for a `limit` over [`limits::LIST`], and
    /// [`ErrorKind::Database`] when the read fails.
    pub fn dead_letters(&mut self, limit: usize) -> Result<Vec<DeadLetter>, Error> {
        limits::check("the number of dead letters asked for", limit, limits::LIST)?;
        let rows = self.client.query(
            "SELECT id, state, COALESCE(outcome, ''), updated_at, envelope
             FROM callhook_outbox_deliveries
             WHERE state IN ('given_up', 'disabled')
             ORDER BY updated_at DESC, seq DESC LIMIT $1",
            &[&i64::try_from(limit).unwrap_or(0)],
        )?;
        let mut letters = Vec::with_capacity(rows.len());
        for row in rows {
            let json: &str = row.try_get(4)?;
            letters.push(DeadLetter {
                state: RowState::parse(row.try_get::<_, &str>(1)?).unwrap_or(RowState::GivenUp),
                outcome: row.try_get(2)?,
                ended_at: from_micros(row.try_get(3)?),
                envelope: Envelope::from_json(json).ok(),
                delivery: row.try_get(0)?,
            });
        }
        Ok(letters)
    }

    /// Makes a dead letter due again at `now` as a fresh delivery (its
    /// attempts, first attempt time, fallback move and token refresh start
    /// over; its attempt log is kept), as
    /// [`Outbox::replay`](crate::Outbox::replay). Returns whether a dead
    /// letter of that id was found.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Envelope`] when its stored envelope cannot be read
    /// (nothing changes), and [`ErrorKind::Database`] when the write fails.
    pub fn replay(&mut self, delivery: &str, now: DateTime<Utc>) -> Result<bool, Error> {
        let mut tx = self.client.transaction()?;
        let n = replay_where(&mut tx, "id = $1", &[&delivery], now)?;
        tx.commit()?;
        Ok(n > 0)
    }

    /// Replays every dead letter of `webhook` dispatched at or after
    /// `from` and before `to`, all or none; returns how many.
    ///
    /// # Errors
    ///
    /// As [`PgOutbox::replay`].
    pub fn replay_webhook(
        &mut self,
        webhook: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<usize, Error> {
        let mut tx = self.client.transaction()?;
        let n = replay_where(
            &mut tx,
            "webhook = $1 AND created_at >= $2 AND created_at < $3",
            &[&webhook, &micros(from), &micros(to)],
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
        let n = self.client.execute(
            "DELETE FROM callhook_outbox_deliveries WHERE state = 'delivered' AND updated_at < $1",
            &[&micros(cutoff)],
        )?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Deletes every row of `call_id`, whatever its state (a person's
    /// data erased); returns how many. A row claimed now is deleted too:
    /// its worker's finish then fails with [`ErrorKind::LeaseLost`].
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Database`] when the write fails.
    pub fn erase_call(&mut self, call_id: &str) -> Result<usize, Error> {
        let n = self.client.execute(
            "DELETE FROM callhook_outbox_deliveries WHERE call_id = $1",
            &[&call_id],
        )?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

fn replay_where(
    tx: &mut Transaction<'_>,
    condition: &str,
    params: &[&(dyn ToSql + Sync)],
    now: DateTime<Utc>,
) -> Result<usize, Error> {
    // Locked, so a concurrent replay of the same rows waits rather than
    // replaying them twice.
    let rows = tx.query(
        &format!(
            "SELECT id, envelope FROM callhook_outbox_deliveries
             WHERE state IN ('given_up', 'disabled') AND {condition} FOR UPDATE"
        ),
        params,
    )?;
    let update = tx.prepare(
        "UPDATE callhook_outbox_deliveries SET state = 'due', attempt = 0,
             next_attempt_at = $2, updated_at = $2, outcome = NULL, envelope = $3
         WHERE id = $1",
    )?;
    for row in &rows {
        let id: &str = row.try_get(0)?;
        let json: &str = row.try_get(1)?;
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
        tx.execute(&update, &[&id, &micros(now), &envelope.to_json()])?;
    }
    Ok(rows.len())
}
