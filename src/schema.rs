//! The configuration's JSON Schema, derived from its types with schemars
//! (the `schema` feature): `schema/config.schema.json` is what
//! [`config_schema`] gives.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

use crate::config::Config;
use crate::event::Event;
use crate::secret::Secret;

/// The JSON Schema of a configuration file ([`Config`]).
///
/// # Examples
///
/// ```
/// let schema = callhook::config_schema();
/// assert_eq!(schema["title"], "Config");
/// ```
#[must_use]
pub fn config_schema() -> serde_json::Value {
    schemars::schema_for!(Config).to_value()
}

/// A duration as configurations write it: `90s`, `5m`, `2h`, `1d`.
pub(crate) struct DurationText;

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "pattern": "^[0-9]+[smhd]?$"})
    }
}

/// A date and time with an offset (RFC 3339).
pub(crate) struct DateTimeText;

impl JsonSchema for DateTimeText {
    fn schema_name() -> Cow<'static, str> {
        "DateTime".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "date-time"})
    }
}

/// One name, or a list of them.
pub(crate) struct OneOrMany;

impl JsonSchema for OneOrMany {
    fn schema_name() -> Cow<'static, str> {
        "OneOrMany".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {"secret_ref": {"type": "string"}},
                    "required": ["secret_ref"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl JsonSchema for Event {
    fn schema_name() -> Cow<'static, str> {
        "Event".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "a seed event (`Call:Hangup`, `Agent Termination`...) or one the configuration declares in `events`"
        })
    }
}
