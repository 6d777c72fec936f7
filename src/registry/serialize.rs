//! Writing a registry as its configuration: `Registry::to_json` from the
//! kept rows as they are, and `Serialize` / `Deserialize` through the
//! configuration's shape.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Entry, Registry};
use crate::auth::Auth;
use crate::catalog::{Catalog, FieldSpec};
use crate::config::Config;
use crate::event::EventSpec;
use crate::service::service_row_needs_format_3;
use crate::service::ServiceConfig;
use crate::version::{self, Nested};
use crate::webhook::WebhookConfig;

impl Registry {
    /// The configuration as compact JSON, what `serde_json::to_string`
    /// writes for the registry or for [`Registry::to_config`], byte for
    /// byte: each service's kept row is copied as it is, with no parse, so
    /// this is the way to store a registry. It loads back through
    /// [`Config::from_json`] and [`Registry::from_config`] (a registry
    /// needs its catalog).
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config, Registry};
    ///
    /// let config = Config::from_json(include_str!("../../examples/configs/pbx.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// let json = registry.to_json();
    /// assert_eq!(json, serde_json::to_string(&registry).unwrap());
    /// let again = Registry::from_config(&Config::from_json(&json)?, Catalog::standard().clone())?;
    /// assert_eq!(again.to_config(), registry.to_config());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn to_json(&self) -> String {
        let (services, webhooks) = self.sorted();
        // Everything but the services, through the same view as
        // `Serialize`, so the two cannot drift apart; the rows go in
        // between `"services":[` and `]`. Writing text and maps keyed by
        // text cannot fail.
        let version = self.written_version(&services, &webhooks);
        let rest = serde_json::to_string(&self.view(&[], &webhooks, version)).unwrap_or_default();
        let head = format!("{{\"version\":{version},\"services\":[");
        let Some(tail) = rest.strip_prefix(head.as_str()) else {
            // The view writes its version and then its services, which
            // `registry_serialises_as_its_configuration` checks; were it
            // not to, its rows parsed write the same bytes.
            debug_assert!(false, "the view begins `{rest:.40}`");
            return serde_json::to_string(self).unwrap_or_default();
        };
        let rows: usize = services.iter().map(|(_, e)| e.service.row_len()).sum();
        let mut out = String::with_capacity(rest.len() + rows + services.len());
        out.push_str(head.as_str());
        for (i, (_, entry)) in services.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            entry.service.write_row(&mut out);
        }
        out.push_str(tail);
        out
    }

    /// Services and webhooks sorted by id, as a configuration lists them.
    pub(super) fn sorted(&self) -> (Vec<ServiceItem<'_>>, Vec<WebhookItem<'_>>) {
        (by_id(&self.services), by_id(&self.webhooks))
    }

    /// The lowest format that holds the configuration (see
    /// [`Config`]'s `version`): 3 when a webhook has a condition or a
    /// service's template a placeholder option of format 3.
    fn written_version(&self, services: &[ServiceItem<'_>], webhooks: &[WebhookItem<'_>]) -> u32 {
        let mut row = String::new();
        version::written(
            webhooks.iter().any(|(_, w)| w.needs_format_3())
                || services.iter().any(|(_, e)| {
                    row.clear();
                    e.service.write_row(&mut row);
                    service_row_needs_format_3(&row)
                }),
        )
    }

    fn view<'a>(
        &'a self,
        services: &'a [ServiceItem<'a>],
        webhooks: &'a [WebhookItem<'a>],
        version: u32,
    ) -> ConfigView<'a> {
        ConfigView {
            version,
            services: Rows(services, |(_, e)| e.service.config()),
            webhooks: Rows(webhooks, |(_, w)| w),
            allowed_addresses: &self.allowed_addresses,
            preset: &self.declared.preset,
            fields: &self.declared.fields,
            events: &self.declared.events,
            auth_configs: &self.auth_configs,
        }
    }
}

/// Writes what [`Registry::to_config`] gives, as it is made: each service's
/// configuration is parsed, written and dropped in turn, and webhooks are
/// written from the registry's own, so no copy of the whole is built.
///
/// Each service is parsed rather than its kept row written as it is: a
/// serialiser other than compact JSON (pretty JSON, TOML, a binary format)
/// needs the values, not JSON text, and a serialiser does not say what it
/// writes. [`Registry::to_json`] writes compact JSON from the kept rows.
impl Serialize for Registry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (services, webhooks) = self.sorted();
        let version = self.written_version(&services, &webhooks);
        self.view(&services, &webhooks, version)
            .serialize(serializer)
    }
}

/// The table's entries sorted by id, in place (ids are unique), not
/// through a tree of 100,000 nodes.
fn by_id<V>(table: &HashMap<Arc<str>, V>) -> Vec<(&Arc<str>, &V)> {
    let mut items: Vec<_> = table.iter().collect();
    items.sort_unstable_by(|a, b| a.0.cmp(b.0));
    items
}

/// A service of the registry's table, for listing in order.
type ServiceItem<'a> = (&'a Arc<str>, &'a Entry);
/// A webhook of the registry's table, for listing in order.
type WebhookItem<'a> = (&'a Arc<str>, &'a Arc<WebhookConfig>);

/// [`Config`]'s shape, borrowed: its fields in its order with its
/// attributes. `registry_serialises_as_its_configuration` checks the two
/// write the same.
#[derive(Serialize)]
struct ConfigView<'a> {
    version: u32,
    services: Rows<'a, ServiceItem<'a>, ServiceConfig>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    auth_configs: &'a BTreeMap<String, Auth>,
    #[serde(skip_serializing_if = "Rows::is_empty")]
    webhooks: Rows<'a, WebhookItem<'a>, &'a WebhookConfig>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    allowed_addresses: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    preset: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    fields: &'a [FieldSpec],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    events: &'a [EventSpec],
}

/// An item of a configuration's list, written without its `version`.
struct WithoutVersion<U>(U);

impl<U: Serialize> Serialize for WithoutVersion<U> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Nested(&self.0).serialize(serializer)
    }
}

/// A list written as each item turns into what is written.
struct Rows<'a, T, U>(&'a [T], fn(&'a T) -> U);

impl<T, U> Rows<'_, T, U> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T, U: Serialize> Serialize for Rows<'_, T, U> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A configuration's services and webhooks follow its version and
        // write none of their own.
        serializer.collect_seq(self.0.iter().map(|item| WithoutVersion((self.1)(item))))
    }
}

impl<'de> Deserialize<'de> for Registry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Registry, D::Error> {
        let config = Config::deserialize(deserializer)?;
        Registry::from_config(&config, Catalog::standard().clone())
            .map_err(serde::de::Error::custom)
    }
}
