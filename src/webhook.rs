//! Webhooks: which service fires for which event, and for whom.

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
/// in one of its scopes; a webhook subscribed to `"*"` fires for every call.
/// A webhook subscribed to nothing fires for nothing,
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
    /// The scopes it is subscribed to; `"*"` is every scope.
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl WebhookConfig {
    /// Whether this is a realtime webhook (bound to `Call Status Change`).
    #[must_use]
    pub fn is_realtime(&self) -> bool {
        self.event == Event::CallStatusChange
    }
}

/// One row of the webhook listing (the PBX's main table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_config_serde() {
        let json = r#"{"id":"1b4e28ba-2fa1-11d2-883f-0016d3cca427","enabled":true,"event":"Call:Hangup","service":"s","created_at":"2024-12-02T21:04:40Z","scopes":["ITD2024"]}"#;
        let w: WebhookConfig = serde_json::from_str(json).unwrap();
        assert_eq!(w.event, Event::CallHangup);
        assert_eq!(serde_json::to_string(&w).unwrap(), json);
        assert!(!w.is_realtime());
    }
}
