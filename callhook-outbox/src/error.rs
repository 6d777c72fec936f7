//! The outbox's error: what went wrong, in lowercase words, with the
//! database's own error as its `source()`.

use std::fmt;

/// What kind of problem an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The database refused or failed (SQLite: the file, a lock, a
    /// constraint; PostgreSQL: the connection, a statement); the driver's
    /// error (rusqlite's or postgres's) is the `source()`.
    Database,
    /// The database was written by a newer `callhook-outbox` (its schema
    /// version is higher than this one knows).
    NewerSchema,
    /// An input is over one of the limits of [`limits`](crate::limits).
    Limit,
    /// The row is no longer this claim's: its lease expired and another
    /// worker claimed it, or it was finished already.
    LeaseLost,
    /// The envelope given does not belong to the claim, or a stored
    /// envelope or state could not be read; callhook's error is the
    /// `source()` where there is one.
    Envelope,
}

/// An error of the outbox: a lowercase message, a kind, and the error
/// underneath (rusqlite's, postgres's or callhook's) as its `source()`.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        self.source = Some(Box::new(source));
        self
    }

    /// What kind of problem this is.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::new(ErrorKind::Database, "the outbox database failed").with_source(e)
    }
}

#[cfg(feature = "postgres")]
impl From<::postgres::Error> for Error {
    fn from(e: ::postgres::Error) -> Error {
        Error::new(ErrorKind::Database, "the outbox database failed").with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn database_errors_keep_rusqlite_as_their_source() {
        let e = Error::from(rusqlite::Error::QueryReturnedNoRows);
        assert_eq!(e.kind(), ErrorKind::Database);
        assert_eq!(e.to_string(), "the outbox database failed");
        assert!(e.source().unwrap().is::<rusqlite::Error>());
    }
}
