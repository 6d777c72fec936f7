//! Webhooks: which service fires for which event, and for whom; and a helper
//! for receivers of realtime updates.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::Event;

fn enabled_by_default() -> bool {
    true
}

/// A webhook: binds one event to one service, for the scopes it is
/// subscribed to.
///
/// Scopes are the PBX's environments or RingCX's campaigns and queues; a
/// call names the scopes it belongs to, and a webhook fires only for calls
/// in one of its scopes. A webhook subscribed to nothing fires for nothing,
/// as on the PBX.
///
/// A webhook bound to [`Event::CallStatusChange`] is a *realtime* webhook
/// (AVANSER): it fires on every status change of a call, so its service may
/// only use fields known mid-call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// A UUID, for tracing.
    pub id: String,
    /// Whether the webhook fires.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// The one event that triggers it.
    pub event: Event,
    /// The id of the service it invokes.
    pub service: String,
    /// When the webhook was created.
    pub created_at: DateTime<Utc>,
    /// The scopes it is subscribed to.
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl WebhookConfig {
    /// Whether this is a realtime webhook (bound to `Call Status Change`).
    pub fn is_realtime(&self) -> bool {
        self.event == Event::CallStatusChange
    }
}

/// One row of the webhook listing (the PBX's main table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookRow {
    /// The webhook id.
    pub id: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Enabled or disabled.
    pub enabled: bool,
    /// The event it fires on.
    pub event: Event,
    /// The service it invokes.
    pub service: String,
    /// The service's URL template.
    pub url: String,
    /// The service's method.
    pub method: String,
}

/// What a receiver should do with a realtime update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Update {
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
/// use callhook::webhook::{RealtimeReceiver, Update};
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
    pub fn new() -> RealtimeReceiver {
        RealtimeReceiver::default()
    }

    /// Classifies an update and, if it is to be applied, records it.
    pub fn observe(&mut self, unique_id: &str, status: &str, sequence: u64) -> Update {
        match self.calls.get_mut(unique_id) {
            None => {
                self.calls
                    .insert(unique_id.to_owned(), (sequence, status.to_owned()));
                Update::NewCall
            }
            Some((last, _)) if sequence == *last => Update::Duplicate,
            Some((last, _)) if sequence < *last => Update::OutOfOrder,
            Some(state) => {
                *state = (sequence, status.to_owned());
                Update::Update
            }
        }
    }

    /// The last status applied for a call, and its sequence number.
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
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call is being tracked.
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
        assert_eq!(r.observe("a", "ringing", 1), Update::NewCall);
        assert_eq!(r.observe("b", "ringing", 1), Update::NewCall);
        assert_eq!(r.observe("a", "ringing", 1), Update::Duplicate);
        assert_eq!(r.observe("a", "hangup", 4), Update::Update);
        assert_eq!(r.observe("a", "answered", 2), Update::OutOfOrder);
        assert_eq!(r.status("a"), Some(("hangup", 4)));
        r.finish("a");
        assert_eq!(r.len(), 1);
        assert_eq!(r.status("a"), None);
    }

    #[test]
    fn webhook_config_serde() {
        let json = r#"{"id":"1b4e28ba-2fa1-11d2-883f-0016d3cca427","enabled":true,"event":"Call:Hangup","service":"s","created_at":"2024-12-02T21:04:40Z","scopes":["ITD2024"]}"#;
        let w: WebhookConfig = serde_json::from_str(json).unwrap();
        assert_eq!(w.event, Event::CallHangup);
        assert_eq!(serde_json::to_string(&w).unwrap(), json);
        assert!(!w.is_realtime());
    }
}
