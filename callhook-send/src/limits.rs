//! The sizes a receiver's answer can carry into a sender.

/// The first bytes of a response kept in an [`Attempted`](crate::Attempted)
/// (for the delivery log): enough for an error message, and bounded so a
/// receiver's body costs no more than this per stored attempt.
pub const RESPONSE_START_LIMIT: usize = 1024;

/// The most of a response's body read at all. The rest past the kept
/// start is read and dropped so the connection can be used again; past
/// this many bytes the connection is closed instead, so a receiver that
/// streams without end costs neither memory nor the whole timeout.
pub const RESPONSE_READ_LIMIT: usize = 64 * 1024;
