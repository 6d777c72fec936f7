//! A configuration file: the services and webhooks of one platform.

use serde::{Deserialize, Serialize};

use crate::address::AddressPolicy;
use crate::error::{json_error, Error, ErrorKind};
use crate::service::ServiceConfig;
use crate::webhook::WebhookConfig;

/// A configuration file: the services and webhooks of one platform, as JSON,
/// TOML or any serde format holds them. [`Registry::from_config`] compiles
/// it.
///
/// ```
/// use callhook::{Catalog, Config, Registry};
///
/// let config = Config::from_json(include_str!("../examples/configs/ringcx.json"))?;
/// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
/// assert_eq!(registry.services().len(), config.services.len());
/// # Ok::<(), callhook::Error>(())
/// ```
///
/// [`Registry::from_config`]: crate::Registry::from_config
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The services.
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
    /// The webhooks, binding events to services.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookConfig>,
    /// Internal addresses (`127.0.0.1`) or ranges (`10.1.0.0/16`) that
    /// service URLs may point to; every other internal address is refused
    /// (see [`AddressPolicy`](crate::AddressPolicy)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_addresses: Vec<String>,
}

impl Config {
    /// The address policy `allowed_addresses` makes.
    ///
    /// # Errors
    ///
    /// An entry that is not an address or a range is an error of kind
    /// [`ErrorKind::InvalidConfig`] naming it.
    pub fn address_policy(&self) -> Result<AddressPolicy, Error> {
        let mut policy = AddressPolicy::new();
        for (i, allowed) in self.allowed_addresses.iter().enumerate() {
            policy = policy
                .allow(allowed)
                .map_err(|e| e.in_field(&format!("allowed_addresses.{i}")))?;
        }
        Ok(policy)
    }
}

impl Config {
    /// Parses a configuration from JSON text. Nothing is compiled yet; see
    /// [`Registry::from_config`](crate::Registry::from_config).
    ///
    /// # Errors
    ///
    /// Text that is not JSON, or not of the configuration's shape (an
    /// unknown key, a missing `url`, an unknown event), is an error of kind
    /// [`ErrorKind::Serde`] with serde's message, the line and column, and
    /// serde_json's error as its source.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Config, ErrorKind};
    ///
    /// let err = Config::from_json("{\n  \"services\": [{\"id\": 1}]\n}").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Serde);
    /// assert_eq!(err.position().map(|p| p.line), Some(2));
    /// ```
    pub fn from_json(text: &str) -> Result<Config, Error> {
        serde_json::from_str(text).map_err(|e| json_error(ErrorKind::Serde, text, e))
    }
}
