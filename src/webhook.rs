//! Webhooks: which service fires for which event, and for whom.

use chrono::{DateTime, Utc};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::condition::Condition;
use crate::error::Error;
use crate::event::Event;
use crate::version::{self, Version};

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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// The format version the webhook's row is written in: the lowest that
    /// holds it, 3 with a `condition` and 2 without (so that older readers
    /// load it), 1 if absent (written before format versions). Written first, so that a reader meets it
    /// before any field it may not know; a reader refuses a newer format
    /// than its own.
    /// A webhook inside a configuration writes none: it follows the
    /// configuration's.
    // Absent is format 1, though a value in memory is written as the
    // current one.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(extend("default" = 1)))]
    pub(crate) version: Version,
    /// A UUID, for tracing.
    pub id: String,
    /// Whether the webhook fires.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// The one event that triggers it.
    pub event: Event,
    /// The id of the service it invokes.
    pub service: String,
    /// When the webhook was created, if known: RFC 3339 text, or a TOML
    /// datetime. Listings and dispatch order webhooks by it (those without
    /// first), then by id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "created_at::deserialize"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<DateTimeText>"))]
    pub created_at: Option<DateTime<Utc>>,
    /// The scopes it is subscribed to; `"*"` is every scope.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// When it fires, beyond its event and scopes: a [`Condition`] over
    /// the values its request renders from. None: it fires for every
    /// call of its scopes. A webhook with one is written in format 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
}

/// Written as derived, with `version` the lowest format that holds the
/// webhook (`Version` alone cannot see the other fields).
impl Serialize for WebhookConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields =
            5 + usize::from(self.created_at.is_some()) + usize::from(self.condition.is_some()) + 1;
        let mut row = serializer.serialize_struct("WebhookConfig", fields)?;
        row.serialize_field("version", &version::written(self.needs_format_3()))?;
        row.serialize_field("id", &self.id)?;
        row.serialize_field("enabled", &self.enabled)?;
        row.serialize_field("event", &self.event)?;
        row.serialize_field("service", &self.service)?;
        match &self.created_at {
            Some(at) => row.serialize_field("created_at", at)?,
            None => row.skip_field("created_at")?,
        }
        row.serialize_field("scopes", &self.scopes)?;
        match &self.condition {
            Some(condition) => row.serialize_field("condition", condition)?,
            None => row.skip_field("condition")?,
        }
        row.end()
    }
}

impl WebhookConfig {
    /// A webhook binding `event` to `service`, enabled, subscribed to no
    /// scope yet, with no creation time.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Event, WebhookConfig};
    ///
    /// let hangups = WebhookConfig::new("6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b01", Event::CallHangup, "crm")
    ///     .with_scope("queue:Support")
    ///     .with_created_at("2025-01-10T09:00:00Z".parse().unwrap());
    /// assert_eq!(hangups.scopes, ["queue:Support"]);
    /// assert!(hangups.enabled);
    /// ```
    #[must_use]
    pub fn new(id: impl Into<String>, event: Event, service: impl Into<String>) -> WebhookConfig {
        WebhookConfig {
            version: Version,
            id: id.into(),
            enabled: true,
            event,
            service: service.into(),
            created_at: None,
            scopes: Vec::new(),
            condition: None,
        }
    }

    /// Subscribes the webhook to one more scope (`"*"` for every scope).
    #[must_use]
    pub fn with_scope(mut self, scope: impl Into<String>) -> WebhookConfig {
        self.scopes.push(scope.into());
        self
    }

    /// Sets when the webhook was created.
    #[must_use]
    pub fn with_created_at(mut self, at: DateTime<Utc>) -> WebhookConfig {
        self.created_at = Some(at);
        self
    }

    /// Sets the condition the webhook fires under.
    #[must_use]
    pub fn with_condition(mut self, condition: Condition) -> WebhookConfig {
        self.condition = Some(condition);
        self
    }

    /// Whether the webhook's row needs format 3: it has a condition.
    pub(crate) fn needs_format_3(&self) -> bool {
        self.condition.is_some()
    }

    /// Sets whether the webhook fires.
    #[must_use]
    pub fn with_enabled(mut self, enabled: bool) -> WebhookConfig {
        self.enabled = enabled;
        self
    }

    /// The webhook as compact JSON, which [`WebhookConfig::from_json`]
    /// reads back.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Text, a boolean and a date: serde_json cannot fail on them.
        serde_json::to_string(self).expect("a webhook is always JSON")
    }

    /// Whether this is a realtime webhook (bound to `Call Status Change`).
    #[must_use]
    pub fn is_realtime(&self) -> bool {
        self.event == Event::CallStatusChange
    }

    /// Reads a webhook's row, as serde writes it, from JSON text.
    ///
    /// # Errors
    ///
    /// A row written in a format newer than this version of callhook reads
    /// is an error of kind [`ErrorKind::NewerFormat`] that says so, whatever
    /// else it holds. Text that is not JSON, or not of a webhook's shape (an
    /// unknown key, an unknown event), is an error of kind
    /// [`ErrorKind::Serde`] with the line and column, and for an unknown
    /// key the nearest known one.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Event, WebhookConfig};
    ///
    /// let webhook = WebhookConfig::new("6c1d8d2f-9b54-4e6f-8b10-2d3e4f5a6b01", Event::CallHangup, "crm");
    /// let row = serde_json::to_string(&webhook).unwrap();
    /// assert!(row.starts_with(r#"{"version":2,"#));
    /// assert_eq!(WebhookConfig::from_json(&row)?, webhook);
    /// # Ok::<(), callhook::Error>(())
    /// ```
    ///
    /// [`ErrorKind::NewerFormat`]: crate::ErrorKind::NewerFormat
    /// [`ErrorKind::Serde`]: crate::ErrorKind::Serde
    pub fn from_json(text: &str) -> Result<WebhookConfig, Error> {
        version::from_json(text)
    }
}

/// A date and time with an offset (RFC 3339), for the schema of
/// `created_at`, which serde reads through [`created_at`].
#[cfg(feature = "schema")]
struct DateTimeText;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for DateTimeText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DateTime".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "format": "date-time"})
    }
}

/// Reads a creation time from RFC 3339 text or from a TOML datetime (which
/// reaches serde as a one-entry map), refusing a datetime without an
/// offset, which names no instant.
mod created_at {
    use std::fmt;

    use chrono::{DateTime, Utc};
    use serde::de::{Error, MapAccess, Visitor};
    use serde::Deserializer;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        d.deserialize_any(Instant).map(Some)
    }

    struct Instant;

    fn parse<E: Error>(text: &str) -> Result<DateTime<Utc>, E> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                E::custom(format!(
                    "`created_at` must be a date and time with an offset, such as \
                     `2025-01-10T09:00:00Z`, not `{}`",
                    crate::error::shown(text)
                ))
            })
    }

    impl<'de> Visitor<'de> for Instant {
        type Value = DateTime<Utc>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an RFC 3339 date and time")
        }

        fn visit_str<E: Error>(self, v: &str) -> Result<DateTime<Utc>, E> {
            parse(v)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DateTime<Utc>, A::Error> {
            // TOML's native datetime: `{"$__toml_private_datetime": "..."}`.
            match map.next_entry::<String, String>()? {
                Some((_, text)) => parse(&text),
                None => Err(A::Error::custom("`created_at` is empty")),
            }
        }
    }
}

/// One row of the webhook listing, as an admin screen's table shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WebhookRow {
    /// The webhook id.
    pub id: String,
    /// When it was created, if known.
    pub created_at: Option<DateTime<Utc>>,
    /// Enabled or disabled.
    pub enabled: bool,
    /// The event it fires on.
    pub event: Event,
    /// The service it invokes.
    pub service: String,
    /// The service's URL template, the values of its secret query
    /// parameters redacted.
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
        // Written again, in today's format: its version first.
        let written = serde_json::to_string(&w).unwrap();
        assert_eq!(written, format!(r#"{{"version":2,{}"#, &json[1..]));
        assert!(!w.is_realtime());
        let bare: WebhookConfig =
            serde_json::from_str(r#"{"id":"w","event":"Call:Hangup","service":"s"}"#).unwrap();
        assert_eq!(bare.created_at, None);
        assert!(!serde_json::to_string(&bare).unwrap().contains("created_at"));
        assert!(serde_json::from_str::<WebhookConfig>(
            r#"{"id":"w","event":"Call:Hangup","service":"s","created_at":"2024-12-02T21:04:40"}"#
        )
        .is_err());
    }
}
