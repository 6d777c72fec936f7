//! A helper for receivers of realtime updates: new call, update, duplicate
//! or out of order.

use std::collections::HashMap;

/// What a receiver should do with a realtime update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RealtimeUpdate {
    /// The first update seen for this call: create it.
    NewCall,
    /// A newer update for a known call: apply it.
    Update,
    /// The same update again (a retry): ignore it.
    Duplicate,
    /// An update older than one already applied: ignore it.
    OutOfOrder,
}

/// Sorts incoming realtime updates for a receiver (AVANSER's advice: keep
/// the unique id, and check each request against it).
///
/// It remembers, per unique id, the highest sequence number applied.
/// Call [`RealtimeReceiver::finish`] when the final webhook for a call
/// arrives, so memory does not grow with every call ever seen.
///
/// ```
/// use callhook::{RealtimeReceiver, RealtimeUpdate as Update};
///
/// let mut receiver = RealtimeReceiver::new();
/// assert_eq!(receiver.observe("c1", "ringing", 1), Update::NewCall);
/// assert_eq!(receiver.observe("c1", "hangup", 3), Update::Update);
/// assert_eq!(receiver.observe("c1", "answered", 2), Update::OutOfOrder);
/// assert_eq!(receiver.observe("c1", "hangup", 3), Update::Duplicate);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RealtimeReceiver {
    calls: HashMap<String, (u64, String)>,
}

impl RealtimeReceiver {
    /// A receiver that has seen nothing.
    #[must_use]
    pub fn new() -> RealtimeReceiver {
        RealtimeReceiver::default()
    }

    /// Classifies an update and, if it is to be applied, records it.
    pub fn observe(&mut self, unique_id: &str, status: &str, sequence: u64) -> RealtimeUpdate {
        match self.calls.get_mut(unique_id) {
            None => {
                self.calls
                    .insert(unique_id.to_owned(), (sequence, status.to_owned()));
                RealtimeUpdate::NewCall
            }
            Some((last, _)) if sequence == *last => RealtimeUpdate::Duplicate,
            Some((last, _)) if sequence < *last => RealtimeUpdate::OutOfOrder,
            Some(state) => {
                *state = (sequence, status.to_owned());
                RealtimeUpdate::Update
            }
        }
    }

    /// The last status applied for a call, and its sequence number.
    #[must_use]
    pub fn status(&self, unique_id: &str) -> Option<(&str, u64)> {
        self.calls
            .get(unique_id)
            .map(|(sequence, status)| (status.as_str(), *sequence))
    }

    /// Forgets a call, once its final webhook has arrived.
    pub fn finish(&mut self, unique_id: &str) {
        self.calls.remove(unique_id);
    }

    /// How many calls are being tracked.
    #[must_use]
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call is being tracked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_sorts_updates() {
        let mut r = RealtimeReceiver::new();
        assert_eq!(r.observe("a", "ringing", 1), RealtimeUpdate::NewCall);
        assert_eq!(r.observe("b", "ringing", 1), RealtimeUpdate::NewCall);
        assert_eq!(r.observe("a", "ringing", 1), RealtimeUpdate::Duplicate);
        assert_eq!(r.observe("a", "hangup", 4), RealtimeUpdate::Update);
        assert_eq!(r.observe("a", "answered", 2), RealtimeUpdate::OutOfOrder);
        assert_eq!(r.status("a"), Some(("hangup", 4)));
        r.finish("a");
        assert_eq!(r.len(), 1);
        assert_eq!(r.status("a"), None);
    }
}
