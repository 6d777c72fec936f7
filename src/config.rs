//! A configuration file: the services and webhooks of one platform.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use crate::address::AddressPolicy;
use crate::auth::Auth;
use crate::catalog::{Catalog, FieldSpec};
use crate::error::{shown, Error, ErrorKind};
use crate::event::EventSpec;
use crate::limits;
use crate::service::{service_needs_format_3, ServiceConfig};
use crate::version::{self, Version};
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The format version the configuration is written in: the lowest that
    /// holds it (`callhook::FORMAT_VERSION`, 3, when a webhook has a
    /// condition or a template a placeholder option of format 3; 2
    /// otherwise, so older readers load it), 1 if absent (written before
    /// format versions). Written first, so that a reader meets it
    /// before any field it may not know; a reader refuses a newer format
    /// than its own.
    /// Its services and webhooks follow it and write none of their own.
    // Absent is format 1, though a value in memory is written as the
    // current one.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(extend("default" = 1)))]
    pub(crate) version: Version,
    /// The services.
    #[serde(default, serialize_with = "version::nested")]
    pub services: Vec<ServiceConfig>,
    /// Named auth entries, defined once, that services refer to with
    /// `{"kind": "named", "name": "crm"}` (RingCX's auth configurations,
    /// `authConfigId`): each an [`Auth`](crate::Auth) of any kind but
    /// `named`. They are resolved when a delivery is signed for sending,
    /// so rotating one is one edit that reaches every service using it and
    /// every queued delivery.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub auth_configs: BTreeMap<String, Auth>,
    /// The webhooks, binding events to services.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "version::nested"
    )]
    pub webhooks: Vec<WebhookConfig>,
    /// Internal addresses (`127.0.0.1`) or ranges (`10.1.0.0/16`) that
    /// service URLs may point to; every other internal address is refused
    /// (see [`AddressPolicy`](crate::AddressPolicy)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_addresses: Vec<String>,
    /// The seed platforms whose fields and events the configuration uses:
    /// `"ringcx"`, `"pbx"`, `"avanser"`, one or a list. None named is all
    /// three.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "OneOrManyText"))]
    pub preset: Vec<String>,
    /// The platform's own fields (or a seed field redeclared).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldSpec>,
    /// The platform's own events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventSpec>,
}

/// Written as derived, with `version` the lowest format that holds the
/// configuration: `Written` is its shape, borrowed.
impl Serialize for Config {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Every field named, none left to `..`: a field added to `Config`
        // does not compile until it is written here too.
        let Config {
            version: _,
            services,
            auth_configs,
            webhooks,
            allowed_addresses,
            preset,
            fields,
            events,
        } = self;
        Written {
            version: version::written(self.needs_format_3()),
            services,
            auth_configs,
            webhooks,
            allowed_addresses,
            preset,
            fields,
            events,
        }
        .serialize(serializer)
    }
}

/// [`Config`]'s fields in its order with its attributes, borrowed, and its
/// version as worked out (a field added to `Config` is added here too:
/// `Config`'s `Serialize` names every field).
#[derive(Serialize)]
struct Written<'a> {
    version: u32,
    #[serde(serialize_with = "nested")]
    services: &'a [ServiceConfig],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    auth_configs: &'a BTreeMap<String, Auth>,
    #[serde(skip_serializing_if = "<[_]>::is_empty", serialize_with = "nested")]
    webhooks: &'a [WebhookConfig],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    allowed_addresses: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    preset: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    fields: &'a [FieldSpec],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    events: &'a [EventSpec],
}

#[allow(clippy::ref_option_ref, clippy::trivially_copy_pass_by_ref)]
fn nested<T: Serialize, S: Serializer>(items: &&[T], s: S) -> Result<S::Ok, S::Error> {
    version::nested(items, s)
}

/// Every problem of the named auth entry `name`, each in its field
/// (`auth_configs.crm.key`).
pub(crate) fn auth_entry_problems(
    name: &str,
    auth: &Auth,
    addresses: &AddressPolicy,
) -> Vec<Error> {
    let field = format!("auth_configs.{}", shown(name));
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(Error::new(
            ErrorKind::InvalidConfig,
            "an auth entry's name is empty",
        ));
    } else if name.len() > limits::AUTH_NAME_BYTES {
        errors.push(Error::new(
            ErrorKind::InvalidConfig,
            format!(
                "the auth entry's name has {} bytes; at most {} are allowed \
                 (`limits::AUTH_NAME_BYTES`)",
                limits::count(name.len()),
                limits::count(limits::AUTH_NAME_BYTES)
            ),
        ));
    }
    if let Auth::Named { .. } = auth {
        errors.push(
            Error::new(
                ErrorKind::InvalidConfig,
                "an auth entry cannot be `named`: entries name no other entry",
            )
            .in_field("kind"),
        );
    }
    for (secret_field, secret) in auth.clone().secrets_mut() {
        if let Some(reference) = secret.reference().filter(|_| !secret.is_resolved()) {
            errors.push(
                Error::new(
                    ErrorKind::InvalidConfig,
                    format!(
                        "secret reference `{}` is not resolved; resolve it with \
                         `Config::resolve_secrets` before loading",
                        shown(reference)
                    ),
                )
                .in_field(&secret_field),
            );
        }
    }
    errors.extend(auth.problems(addresses));
    errors.into_iter().map(|e| e.in_field(&field)).collect()
}

/// One name, or a list of them.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(name) => vec![name],
        OneOrMany::Many(names) => names,
    })
}

/// One name, or a list of them, for the schema of `preset`, which serde
/// reads through [`one_or_many`].
#[cfg(feature = "schema")]
struct OneOrManyText;

#[cfg(feature = "schema")]
impl schemars::JsonSchema for OneOrManyText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OneOrMany".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})
    }
}

impl Config {
    /// A configuration of these services and webhooks, with nothing else
    /// declared; set [`fields`](Config::fields), [`events`](Config::events),
    /// [`preset`](Config::preset) or
    /// [`allowed_addresses`](Config::allowed_addresses) on it as needed.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config, Event, Registry, ServiceConfig, WebhookConfig};
    ///
    /// let service = ServiceConfig::new(
    ///     "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b",
    ///     "https://crm.example.com/calls",
    /// );
    /// let webhook = WebhookConfig::new(
    ///     "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6",
    ///     Event::CallHangup,
    ///     &service.id,
    /// )
    /// .with_scope("*");
    /// let config = Config::new(vec![service], vec![webhook]);
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// assert_eq!(registry.webhooks().len(), 1);
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn new(services: Vec<ServiceConfig>, webhooks: Vec<WebhookConfig>) -> Config {
        Config {
            services,
            webhooks,
            ..Config::default()
        }
    }

    /// Whether the configuration needs format 3: a webhook has a condition,
    /// or a service's template a placeholder option of format 3.
    pub(crate) fn needs_format_3(&self) -> bool {
        self.webhooks.iter().any(WebhookConfig::needs_format_3)
            || self.services.iter().any(service_needs_format_3)
    }

    /// Resolves every secret reference (`{"secret_ref": "CRM_TOKEN"}`) of
    /// every named auth entry and every service through `resolve`, which looks the name up wherever the
    /// host keeps secrets (environment, vault, database) and returns `None`
    /// when it has none by that name. Secrets written inline are left alone.
    ///
    /// # Errors
    ///
    /// Every reference `resolve` does not know is reported, as one error of
    /// kind [`ErrorKind::InvalidConfig`], each naming the service (or the
    /// entry: `auth_configs.crm.key`), the field and the reference.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config, Registry};
    ///
    /// let mut config = Config::from_json(r#"{"services": [{
    ///     "id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "name": "crm", "method": "POST",
    ///     "url": "https://crm.example.com/calls",
    ///     "auth": {"kind": "bearer", "token": {"secret_ref": "CRM_TOKEN"}}
    /// }]}"#)?;
    /// // A host would read its vault or environment here.
    /// config.resolve_secrets(|name| (name == "CRM_TOKEN").then(|| "t0k3n".to_owned()))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// // Stored back, the reference stays a reference.
    /// assert!(serde_json::to_string(&registry).unwrap().contains("CRM_TOKEN"));
    /// assert!(!serde_json::to_string(&registry).unwrap().contains("t0k3n"));
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn resolve_secrets(
        &mut self,
        mut resolve: impl FnMut(&str) -> Option<String>,
    ) -> Result<(), Error> {
        let mut errors = Vec::new();
        for (name, auth) in &mut self.auth_configs {
            for (field, secret) in auth.secrets_mut() {
                let Some(reference) = secret.reference().map(str::to_owned) else {
                    continue;
                };
                match resolve(&reference) {
                    Some(value) => secret.resolve(value),
                    None => errors.push(
                        Error::new(
                            ErrorKind::InvalidConfig,
                            format!("secret reference `{}` did not resolve", shown(&reference)),
                        )
                        .in_field(&format!("auth_configs.{}.{field}", shown(name))),
                    ),
                }
            }
        }
        for (i, service) in self.services.iter_mut().enumerate() {
            let id = service.id.clone();
            for (field, secret) in service.secrets_mut() {
                let Some(name) = secret.reference().map(str::to_owned) else {
                    continue;
                };
                match resolve(&name) {
                    Some(value) => secret.resolve(value),
                    None => errors.push(
                        Error::new(
                            ErrorKind::InvalidConfig,
                            format!("secret reference `{}` did not resolve", shown(&name)),
                        )
                        .in_field(&format!("services.{i}.{field}"))
                        .in_service(&id),
                    ),
                }
            }
        }
        match errors.len() {
            0 => Ok(()),
            _ => Err(Error::many(ErrorKind::InvalidConfig, errors)),
        }
    }

    /// The catalog this configuration's templates are checked against:
    /// `base` (usually [`Catalog::standard`]) narrowed to the presets named,
    /// if any, with the configuration's own fields and events added.
    ///
    /// # Errors
    ///
    /// An unknown preset is an error of kind [`ErrorKind::InvalidConfig`]
    /// naming `preset` and suggesting the nearest; more than
    /// [`limits::FIELDS`] declared fields, one naming `fields`, and more
    /// than [`limits::EVENTS`] declared events, one naming `events`.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config, Event};
    ///
    /// let config = Config::from_json(r#"{
    ///     "preset": "pbx",
    ///     "fields": [{"name": "billsec", "type": "duration"}],
    ///     "events": [{"name": "Voicemail Left", "final": true}]
    /// }"#)?;
    /// let catalog = config.catalog(Catalog::standard().clone())?;
    /// assert!(catalog.get("billsec").is_some());
    /// assert!(catalog.get("uuid").is_some());
    /// assert!(catalog.get("agent_id").is_none());
    /// assert!(catalog.event(&Event::named("Voicemail Left")).unwrap().is_final);
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn catalog(&self, base: Catalog) -> Result<Catalog, Error> {
        if self.fields.len() > limits::FIELDS {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "the configuration declares {} fields; at most {} are allowed \
                     (`limits::FIELDS`)",
                    limits::count(self.fields.len()),
                    limits::count(limits::FIELDS)
                ),
            )
            .in_field("fields"));
        }
        if self.events.len() > limits::EVENTS {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "the configuration declares {} events; at most {} are allowed \
                     (`limits::EVENTS`)",
                    limits::count(self.events.len()),
                    limits::count(limits::EVENTS)
                ),
            )
            .in_field("events"));
        }
        let mut catalog = if self.preset.is_empty() {
            base
        } else {
            base.presets(self.preset.iter().map(String::as_str))
                .map_err(|e| e.in_field("preset"))?
        };
        for field in &self.fields {
            catalog.insert(field.clone());
        }
        for event in &self.events {
            catalog.insert_event(event.clone());
        }
        Ok(catalog)
    }

    /// Every problem of the named auth entries, each in its field
    /// (`auth_configs.crm.key`): more than [`limits::AUTH_CONFIGS`] of
    /// them (reported alone), a name empty or longer than
    /// [`limits::AUTH_NAME_BYTES`], an entry naming another, a secret
    /// reference not resolved, and what the auth alone is refused for.
    pub(crate) fn auth_config_problems(&self, addresses: &AddressPolicy) -> Vec<Error> {
        if self.auth_configs.len() > limits::AUTH_CONFIGS {
            return vec![Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "the configuration defines {} auth entries; at most {} are allowed \
                     (`limits::AUTH_CONFIGS`)",
                    limits::count(self.auth_configs.len()),
                    limits::count(limits::AUTH_CONFIGS)
                ),
            )
            .in_field("auth_configs")];
        }
        let mut errors = Vec::new();
        for (name, auth) in &self.auth_configs {
            errors.extend(auth_entry_problems(name, auth, addresses));
        }
        errors
    }

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
    /// A configuration written in a format newer than this version of
    /// callhook reads ([`FORMAT_VERSION`](crate::FORMAT_VERSION)), or with
    /// a service or webhook in one, is an error of kind
    /// [`ErrorKind::NewerFormat`] that says so and names the `version`
    /// field, whatever else the text holds. Text that is not JSON, or not
    /// of the configuration's shape (an unknown key, a missing `url`, an
    /// unknown event), is an error of kind [`ErrorKind::Serde`] with
    /// serde's message (for an unknown key, the nearest known one as
    /// [`Error::suggestion`]), the line and column, and serde_json's error
    /// as its source.
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
        version::from_json(text)
    }

    /// The configuration as compact JSON, which [`Config::from_json`] reads
    /// back: what a host stores for a whole registry
    /// ([`Registry::to_config`](crate::Registry::to_config)). Secrets given
    /// by reference stay references; inline ones are written as they are.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config, Registry};
    ///
    /// let config = Config::from_json(include_str!("../examples/configs/pbx.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// let stored = registry.to_config().to_json();
    /// assert_eq!(Config::from_json(&stored)?, registry.to_config());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn to_json(&self) -> String {
        // Services and webhooks serialise as text, numbers, booleans and
        // maps keyed by text, so serde_json cannot fail on a `Config`.
        serde_json::to_string(self).expect("a configuration is always JSON")
    }
}
