//! The tables, created or migrated when an outbox is opened; the schema's
//! version is SQLite's `user_version`.

use rusqlite::Connection;

use crate::error::{Error, ErrorKind};

/// The schema this version writes; a database with a higher one is
/// refused rather than written by code that does not know it.
pub const SCHEMA_VERSION: i64 = 1;

/// Each migration takes the schema from its index to the next version.
const MIGRATIONS: &[&str] = &[r"
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    state TEXT NOT NULL CHECK (state IN
        ('due', 'claimed', 'delivered', 'given_up', 'disabled', 'skipped')),
    attempt INTEGER NOT NULL,
    -- Microseconds since the Unix epoch, as every time here.
    next_attempt_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    -- Counts claims, so a worker whose lease was taken over (even by a
    -- worker of the same name) cannot finish the row.
    claims INTEGER NOT NULL DEFAULT 0,
    endpoint TEXT NOT NULL,
    webhook TEXT NOT NULL,
    call_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- Why a row ended as it did (the decision), for the operator.
    outcome TEXT,
    envelope TEXT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_lease ON deliveries (state, lease_until);
CREATE INDEX deliveries_webhook ON deliveries (webhook, created_at);
CREATE INDEX deliveries_call ON deliveries (call_id);
CREATE TABLE delivery_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    json TEXT NOT NULL
);
"];

pub(crate) fn migrate(connection: &mut Connection) -> Result<(), Error> {
    let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Error::new(
            ErrorKind::NewerSchema,
            format!(
                "the outbox's schema is version {version}, newer than this callhook-outbox's \
                 {SCHEMA_VERSION}: upgrade it"
            ),
        ));
    }
    let from = usize::try_from(version.max(0)).unwrap_or(0);
    for sql in MIGRATIONS.iter().skip(from) {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_once_and_a_newer_schema_is_refused() {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate(&mut connection).unwrap();
        migrate(&mut connection).unwrap();
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        connection.pragma_update(None, "user_version", 2).unwrap();
        let e = migrate(&mut connection).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NewerSchema);
        assert!(e.to_string().contains("version 2"), "{e}");
    }
}
