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
}
