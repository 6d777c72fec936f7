//! The configuration's JSON Schema, derived from its types with schemars
//! (the `schema` feature): `schema/config.schema.json` is what
//! [`config_schema`] gives.
//!
//! Each type's schema lives beside the type (a derive, or a `JsonSchema`
//! impl where serde writes it in its own way), so this module only reads
//! the configuration and nothing names it: it sits last.

use crate::config::Config;

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
