//! The PostgreSQL tables, created or migrated on connect; the schema's
//! version is the one row of `callhook_outbox_schema`, meaning what
//! SQLite's `user_version` does (a newer one is refused), counted on its
//! own as the two backends' migrations need not move together.

use ::postgres::Client;

use crate::error::{Error, ErrorKind};

/// The PostgreSQL schema this version writes; a database with a higher
/// one is refused ([`ErrorKind::NewerSchema`]) rather than written by code
/// that does not know it.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The key of the advisory lock a migration holds, so worker processes
/// started together migrate one at a time ("callhook" in ASCII).
const MIGRATION_LOCK: i64 = 0x6361_6c6c_686f_6f6b;

/// Each migration takes the schema from its index to the next version;
/// version 1 holds what SQLite's does, times in microseconds since the
/// Unix epoch. The tables are prefixed, as they share the host's database.
const MIGRATIONS: &[&str] = &[r"
CREATE TABLE callhook_outbox_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    -- Insertion order, to break ties between rows due at the same time.
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    state TEXT NOT NULL CHECK (state IN
        ('due', 'claimed', 'delivered', 'given_up', 'disabled', 'skipped')),
    attempt BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    -- Counts claims, so a worker whose lease was taken over (even by a
    -- worker of the same name) cannot finish the row.
    claims BIGINT NOT NULL DEFAULT 0,
    endpoint TEXT NOT NULL,
    webhook TEXT NOT NULL,
    call_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    outcome TEXT,
    envelope TEXT NOT NULL
);
CREATE INDEX callhook_outbox_due ON callhook_outbox_deliveries (next_attempt_at, seq)
    WHERE state = 'due';
-- The claim's skip scan: each endpoint's earliest due rows.
CREATE INDEX callhook_outbox_endpoint_due
    ON callhook_outbox_deliveries (endpoint, next_attempt_at, seq) WHERE state = 'due';
CREATE INDEX callhook_outbox_lease ON callhook_outbox_deliveries (lease_until)
    WHERE state = 'claimed';
CREATE INDEX callhook_outbox_webhook ON callhook_outbox_deliveries (webhook, created_at);
CREATE INDEX callhook_outbox_call ON callhook_outbox_deliveries (call_id);
CREATE INDEX callhook_outbox_ended ON callhook_outbox_deliveries (state, updated_at)
    WHERE state IN ('delivered', 'given_up', 'disabled');
CREATE TABLE callhook_outbox_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    json TEXT NOT NULL
);
"];

pub(crate) fn migrate(client: &mut Client, empty_state: &str) -> Result<(), Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS callhook_outbox_schema (
             id INTEGER PRIMARY KEY CHECK (id = 1),
             version BIGINT NOT NULL)",
    )?;
    let version: i64 = match tx.query_opt("SELECT version FROM callhook_outbox_schema", &[])? {
        Some(row) => row.try_get(0)?,
        None => 0,
    };
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
        tx.batch_execute(sql)?;
    }
    tx.execute(
        "INSERT INTO callhook_outbox_schema (id, version) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version",
        &[&SCHEMA_VERSION],
    )?;
    // The state's one row always exists, so a finish can lock it.
    tx.execute(
        "INSERT INTO callhook_outbox_state (id, json) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
        &[&empty_state],
    )?;
    tx.commit()?;
    Ok(())
}
