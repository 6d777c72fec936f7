//! The tables, created or migrated when an outbox is opened; the schema's
//! version is SQLite's `user_version`.

use rusqlite::Connection;

use crate::error::{Error, ErrorKind};

/// The schema this version writes; a database with a higher one is
/// refused rather than written by code that does not know it.
pub const SCHEMA_VERSION: i64 = 2;

/// Each migration takes the schema from its index to the next version.
const MIGRATIONS: &[&str] = &[
    r"
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
",
    r"
-- Partial indexes: a row is in the one index of its state's queries, so
-- a claim and a finish each move it out of one index and into another
-- (two entries), where indexes over every row on (state, ...) moved it
-- within two (four), and the due and lease indexes hold only the rows
-- waiting or in flight, not every delivered one.
DROP INDEX deliveries_due;
DROP INDEX deliveries_lease;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'due';
CREATE INDEX deliveries_lease ON deliveries (lease_until) WHERE state = 'claimed';
-- The dead letters, listed and replayed, and the delivered rows that
-- retention deletes.
CREATE INDEX deliveries_dead ON deliveries (updated_at) WHERE state IN ('given_up', 'disabled');
CREATE INDEX deliveries_delivered ON deliveries (updated_at) WHERE state = 'delivered';
",
];

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
        connection
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let e = migrate(&mut connection).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NewerSchema);
        assert!(
            e.to_string()
                .contains(&format!("version {}", SCHEMA_VERSION + 1)),
            "{e}"
        );
    }

    /// A file of version 1 (its rows kept) is migrated to the partial
    /// indexes, and every query of the outbox and its operator reads
    /// through an index rather than the table.
    #[test]
    fn version_1_migrates_and_every_query_uses_an_index() {
        let mut connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(MIGRATIONS[0]).unwrap();
        connection.pragma_update(None, "user_version", 1).unwrap();
        connection
            .execute(
                "INSERT INTO deliveries (id, state, attempt, next_attempt_at, endpoint, webhook,
                     created_at, updated_at, envelope) VALUES ('a', 'due', 0, 5, 'e', 'w', 1, 1, '{}')",
                [],
            )
            .unwrap();
        migrate(&mut connection).unwrap();
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let due: i64 = connection
            .query_row(
                "SELECT COUNT(*) FROM deliveries WHERE state = 'due' AND next_attempt_at <= 5",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(due, 1);
        for (query, index) in [
            (
                "SELECT rowid FROM deliveries WHERE state = 'due' AND next_attempt_at <= 1",
                "deliveries_due",
            ),
            (
                "SELECT endpoint FROM deliveries WHERE state = 'claimed' AND lease_until > 1",
                "deliveries_lease",
            ),
            (
                "SELECT id FROM deliveries WHERE state IN ('given_up', 'disabled')
                 ORDER BY updated_at DESC, rowid DESC LIMIT 5",
                "deliveries_dead",
            ),
            (
                "DELETE FROM deliveries WHERE state = 'delivered' AND updated_at < 1",
                "deliveries_delivered",
            ),
            (
                "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'",
                "deliveries_delivered",
            ),
            (
                "SELECT (SELECT COUNT(*) FROM deliveries WHERE state = 'due')
                     + (SELECT COUNT(*) FROM deliveries WHERE state = 'claimed')",
                "deliveries_lease",
            ),
        ] {
            let plan: Vec<String> = connection
                .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
                .unwrap()
                .query_map([], |row| row.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "{query}: {plan:?}"
            );
        }
    }
}
