//! Every count and size a caller or a stored row can give the outbox,
//! each with the error that says so.

use crate::error::{Error, ErrorKind};

/// The most rows one [`Outbox::claim`](crate::Outbox::claim) takes.
pub const CLAIM_BATCH: usize = 1_000;

/// The most envelopes one [`Outbox::enqueue`](crate::Outbox::enqueue)
/// writes (a dispatch makes one per matching webhook).
pub const ENQUEUE_BATCH: usize = 10_000;

/// The most dead letters one
/// [`Outbox::dead_letters`](crate::Outbox::dead_letters) lists.
pub const LIST: usize = 1_000;

/// The longest worker name, in bytes.
pub const WORKER_NAME: usize = 128;

/// The longest lease: a worker that dies holds its rows this long at most.
pub const LEASE_SECONDS: i64 = 24 * 60 * 60;

/// The most deliveries in flight per endpoint
/// ([`Options::max_in_flight`](crate::Options::max_in_flight)).
pub const IN_FLIGHT: usize = 10_000;

/// The longest reason kept as a row's outcome
/// ([`Finished::reason`](crate::Finished::reason)), in bytes: a longer one
/// is cut at a character boundary.
pub const OUTCOME_BYTES: usize = 1_024;

/// `text` cut to [`OUTCOME_BYTES`] at a character boundary.
pub(crate) fn trimmed(text: &str) -> String {
    let mut end = text.len().min(OUTCOME_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

pub(crate) fn check(what: &str, value: usize, limit: usize) -> Result<(), Error> {
    if value > limit {
        return Err(Error::new(
            ErrorKind::Limit,
            format!("{what} is {value}, over the limit of {limit}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn over_a_limit_is_an_error_naming_it() {
        let e = super::check("the claim batch", 1_001, super::CLAIM_BATCH).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the claim batch is 1001, over the limit of 1000"
        );
        assert!(super::check("the claim batch", 1_000, super::CLAIM_BATCH).is_ok());
    }

    #[test]
    fn a_long_reason_is_cut_at_a_character_boundary() {
        let long = "é".repeat(super::OUTCOME_BYTES);
        let cut = super::trimmed(&long);
        assert_eq!(cut.len(), super::OUTCOME_BYTES);
        assert_eq!(super::trimmed("short"), "short");
    }
}
