//! The registry of services and webhooks: what a host configures, checked
//! and compiled, and indexed for dispatch by event and scope.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::address::AddressPolicy;
use crate::auth::jwt::ClaimValues;
use crate::auth::{Auth, TokenCache, TokenRequest};
use crate::call::Call;
use crate::catalog::{Catalog, FieldSpec};
use crate::condition::{self, Compiled};
use crate::config::Config;
use crate::dispatch::{self, Dispatch, Explanation, Outgoing, Subscriptions, ALL_SCOPES};
use crate::error::{Error, ErrorKind};
use crate::event::{unknown_event, Event, EventSpec};
use crate::health::HealthPolicy;
use crate::id::is_uuid;
use crate::limits::SCOPES;
use crate::preview::Preview;
use crate::retry::RetryPolicy;
use crate::service::{SendAuth, Service, ServiceConfig};
use crate::webhook::{WebhookConfig, WebhookRow};

mod auth_entries;
use auth_entries::{named_problems, unknown_entry};
mod serialize;

/// Services and webhooks, indexed for dispatch by event and scope.
///
/// Dispatch ([`Registry::dispatch`]) turns an event on a call into the
/// requests to send; [`Registry::sign`] signs one for an attempt.
///
/// The registry serialises (through [`Config`]) so a host can keep it in its
/// own database and load it back identical. Deserialising checks it against
/// the standard catalog; with a catalog of your own, use
/// [`Registry::to_config`] and [`Registry::from_config`].
#[derive(Debug, Clone)]
pub struct Registry {
    catalog: Catalog,
    /// Compiled services, shared: cloning the registry (a snapshot for
    /// dispatch while an edit is made) copies no compiled service.
    ///
    /// Every value is shared likewise (`Arc`), and ids too (`Arc<str>`,
    /// also shared with the requests dispatch makes): a clone copies the
    /// tables but nothing in them. An edit after a clone copies only the
    /// entry it changes (a webhook, one service's list of users, one scope's
    /// bucket), never a table.
    services: HashMap<Arc<str>, Entry>,
    webhooks: HashMap<Arc<str>, Arc<WebhookConfig>>,
    /// The compiled conditions of the webhooks that have one, by webhook
    /// id: looked up only for a webhook whose configuration has one, once
    /// per delivery. Hashed with foldhash: with SipHash the lookup was a
    /// quarter of a three-comparison condition's cost. The ids are the
    /// host's own UUIDs, so there is no attacker-chosen set of keys.
    conditions: HashMap<Arc<str>, Arc<Compiled>, foldhash::fast::RandomState>,
    /// event → scope → webhook ids.
    index: HashMap<Event, HashMap<Arc<str>, Ids>>,
    /// The internal addresses service URLs may point to, as configured, and
    /// the policy they make.
    allowed_addresses: Vec<String>,
    addresses: AddressPolicy,
    /// The presets, fields and events the configuration declared, written
    /// back by [`Registry::to_config`].
    declared: Declared,
    /// The named auth entries, their secrets resolved, shared between
    /// snapshots: read when a request is signed for sending, so an edit of
    /// one reaches every queued delivery.
    auth_configs: Arc<BTreeMap<String, Auth>>,
}

/// A service and the webhooks that use it, so edits to a service touch
/// only its own webhooks; one table rather than two saves an entry and a
/// hash per service.
#[derive(Debug, Clone)]
struct Entry {
    service: Service,
    users: Ids,
}

/// Entries are equal by their service: the users follow from the
/// webhooks, which registries compare on their own, and how a set of them
/// is held depends on the edits that made it.
impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.service == other.service
    }
}

/// A set of webhook ids. Most services have one webhook and most scopes
/// one subscriber (a tenant's own), so one id is held inline; more are a
/// set shared between clones until one side edits it.
#[derive(Debug, Clone, Default, PartialEq)]
enum Ids {
    #[default]
    None,
    One(Arc<str>),
    Many(Arc<HashSet<Arc<str>>>),
}

impl Ids {
    fn insert(&mut self, id: Arc<str>) {
        match self {
            Ids::None => *self = Ids::One(id),
            Ids::One(one) if *one == id => {}
            Ids::One(one) => {
                *self = Ids::Many(Arc::new(HashSet::from([Arc::clone(one), id])));
            }
            Ids::Many(many) => {
                Arc::make_mut(many).insert(id);
            }
        }
    }

    fn remove(&mut self, id: &str) {
        match self {
            Ids::One(one) if &**one == id => *self = Ids::None,
            Ids::Many(many) => {
                Arc::make_mut(many).remove(id);
            }
            _ => {}
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Ids::None => true,
            Ids::One(_) => false,
            Ids::Many(many) => many.is_empty(),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.iter().count()
    }

    fn iter(&self) -> impl Iterator<Item = &Arc<str>> {
        let (one, many) = match self {
            Ids::None => (None, None),
            Ids::One(one) => (Some(one), None),
            Ids::Many(many) => (None, Some(many.iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Declared {
    preset: Vec<String>,
    fields: Vec<FieldSpec>,
    events: Vec<EventSpec>,
}

impl PartialEq for Registry {
    fn eq(&self, other: &Registry) -> bool {
        self.catalog == other.catalog
            && self.services == other.services
            && self.webhooks == other.webhooks
            && self.allowed_addresses == other.allowed_addresses
            && self.declared == other.declared
            && self.auth_configs == other.auth_configs
    }
}

fn registry_error(message: String) -> Error {
    Error::new(ErrorKind::Registry, message)
}

/// What [`Registry::prepare`] made of a delivery.
#[derive(Debug)]
#[non_exhaustive]
#[must_use]
pub enum Prepared {
    /// The request carries its credential and is signed: send it.
    Ready,
    /// The service authenticates by OAuth2 and the [`TokenCache`] holds no
    /// usable token: send this token request first, give the response to
    /// the cache, and prepare the delivery again. The delivery's request
    /// is left unsigned, without credential. Boxed: it is rare, and the
    /// common [`Prepared::Ready`] stays one word.
    TokenNeeded(Box<TokenRequest>),
}

/// A webhook id already in use.
fn webhook_taken(id: &str) -> Error {
    registry_error(format!("webhook `{id}` already exists"))
}

impl Registry {
    /// An empty registry checking templates against `catalog`.
    #[must_use]
    pub fn new(catalog: Catalog) -> Registry {
        Registry {
            catalog,
            services: HashMap::new(),
            webhooks: HashMap::new(),
            conditions: HashMap::default(),
            index: HashMap::new(),
            allowed_addresses: Vec::new(),
            addresses: AddressPolicy::new(),
            declared: Declared::default(),
            auth_configs: Arc::default(),
        }
    }

    /// Loads a configuration, compiling every service against `catalog` as
    /// the configuration narrows it (`preset`) and extends it (`fields`,
    /// `events`): see [`Config::catalog`].
    ///
    /// # Errors
    ///
    /// Every problem of every service and webhook is reported at once
    /// (see [`ServiceConfig::compile`]; a duplicate id, a webhook naming a
    /// missing service, a realtime webhook using fields not known mid-call),
    /// the webhooks of a service that does not compile included (their
    /// ids and events), with every `allowed_addresses` entry that is not an
    /// address, as one error of kind [`ErrorKind::InvalidConfig`] listing
    /// them; an invalid configuration never half-loads. A catalog that
    /// cannot be built ([`Config::catalog`]) is reported alone: the
    /// templates are checked against it.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config, Registry};
    ///
    /// let config = Config::from_json(include_str!("../../examples/configs/pbx.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// assert_eq!(registry.webhooks().len(), config.webhooks.len());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn from_config(config: &Config, catalog: Catalog) -> Result<Registry, Error> {
        Registry::from_config_with(config, config.catalog(catalog)?, |_| None)
    }

    /// [`Registry::from_config`] with the catalog already built, taking a
    /// compiled service from `reuse` where it has one for a configuration.
    fn from_config_with(
        config: &Config,
        catalog: Catalog,
        reuse: impl Fn(&ServiceConfig) -> Option<Service>,
    ) -> Result<Registry, Error> {
        let mut registry = Registry::new(catalog);
        registry.declared = Declared {
            preset: config.preset.clone(),
            fields: config.fields.clone(),
            events: config.events.clone(),
        };
        registry.allowed_addresses = config.allowed_addresses.clone();
        let mut errors = Vec::new();
        let mut collect = |result: Result<(), Error>| {
            if let Err(e) = result {
                errors.extend(e.into_problems());
            }
        };
        // Every entry is checked, not only up to the first bad one; the
        // services are compiled against the entries that are good, so a URL
        // that needs a bad entry is reported too, as refused.
        for (i, allowed) in config.allowed_addresses.iter().enumerate() {
            match registry.addresses.clone().allow(allowed) {
                Ok(policy) => registry.addresses = policy,
                Err(e) => collect(Err(e.in_field(&format!("allowed_addresses.{i}")))),
            }
        }
        // Token endpoints are judged by the same policy as service URLs.
        for problem in config.auth_config_problems(&registry.addresses) {
            collect(Err(problem));
        }
        registry.auth_configs = Arc::new(config.auth_configs.clone());
        let mut broken = HashSet::new();
        for service in &config.services {
            let added = match reuse(service) {
                Some(compiled) if !registry.services.contains_key(service.id.as_str()) => {
                    // Its named entry may have changed, or gone.
                    registry
                        .check_named(&compiled, service)
                        .map(|()| registry.insert_service(compiled))
                }
                _ => registry.add_service_from(service),
            };
            // A duplicate id leaves the first service in place, and its
            // webhooks can be checked against it.
            if added.is_err() && !registry.services.contains_key(service.id.as_str()) {
                broken.insert(service.id.as_str());
            }
            collect(added);
        }
        // Webhooks of a service that did not compile are not added, but
        // everything about them that does not need the compiled service
        // (their id, their event, a duplicate) is reported with the rest.
        let mut unadded = HashSet::new();
        for (i, webhook) in config.webhooks.iter().enumerate() {
            let checked = if broken.contains(webhook.service.as_str()) {
                let taken = registry.webhooks.contains_key(webhook.id.as_str())
                    || !unadded.insert(webhook.id.as_str());
                registry.check_webhook_alone(webhook, taken)
            } else if unadded.contains(webhook.id.as_str()) {
                Err(webhook_taken(&webhook.id))
            } else {
                registry.add_webhook(webhook.clone())
            };
            collect(checked.map_err(|e| e.in_field(&format!("webhooks.{i}"))));
        }
        if errors.is_empty() {
            Ok(registry)
        } else {
            Err(Error::many(ErrorKind::InvalidConfig, errors))
        }
    }

    /// The registry `config` makes, reusing this registry's compiled
    /// services whose configuration did not change (and whose catalog and
    /// address policy are the same), so a host that reloads its whole
    /// configuration after an edit compiles only what the edit touched.
    ///
    /// The registry is returned rather than changed in place: a host keeps
    /// serving dispatches from the old one (say, behind an
    /// `arc_swap::ArcSwap<Registry>`) and swaps the new one in when it is
    /// ready. Single rows need no reload: a service or webhook is its own
    /// serde value (what a host stores in its table), added, updated or
    /// removed with the methods below in time proportional to its size.
    ///
    /// # Errors
    ///
    /// As [`Registry::from_config`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config, Registry};
    ///
    /// let mut config = Config::from_json(include_str!("../../examples/configs/ringcx.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// config.services[0].name = "Renamed".into();
    /// let reloaded = registry.reload(&config, Catalog::standard().clone())?;
    /// assert_eq!(reloaded.service(&config.services[0].id).unwrap().config().name, "Renamed");
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn reload(&self, config: &Config, catalog: Catalog) -> Result<Registry, Error> {
        let catalog = config.catalog(catalog)?;
        let reusable =
            catalog == self.catalog && config.allowed_addresses == self.allowed_addresses;
        Registry::from_config_with(config, catalog, |service| {
            reusable
                .then(|| self.services.get(service.id.as_str()))
                .flatten()
                .filter(|old| old.service.compiled_from(service))
                .map(|old| {
                    let mut reused = old.service.clone();
                    reused.set_enabled(service.enabled);
                    reused
                })
        })
    }

    /// The configuration: every service and webhook, sorted by id.
    #[must_use]
    pub fn to_config(&self) -> Config {
        let (services, webhooks) = self.sorted();
        Config {
            services: services.iter().map(|(_, e)| e.service.config()).collect(),
            webhooks: webhooks.iter().map(|(_, w)| (***w).clone()).collect(),
            allowed_addresses: self.allowed_addresses.clone(),
            preset: self.declared.preset.clone(),
            fields: self.declared.fields.clone(),
            events: self.declared.events.clone(),
            auth_configs: (*self.auth_configs).clone(),
            ..Config::default()
        }
    }

    /// The catalog templates are checked against.
    #[must_use]
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The address policy service URLs are checked against, made from the
    /// configuration's `allowed_addresses`: for the host's resolver to
    /// check each address it is about to connect to, so that a name that
    /// resolves to an internal address is refused (report that attempt as
    /// [`Outcome::address_refused`](crate::Outcome::address_refused)).
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config, Registry};
    ///
    /// let config = Config::from_json(r#"{"allowed_addresses": ["10.1.0.0/16"]}"#)?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// assert!(registry.address_policy().check("10.1.2.3".parse().unwrap()).is_ok());
    /// assert!(registry.address_policy().check("127.0.0.1".parse().unwrap()).is_err());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn address_policy(&self) -> &AddressPolicy {
        &self.addresses
    }

    // Services.

    /// Adds a service; its id must be new.
    ///
    /// # Errors
    ///
    /// A service that does not compile (see [`ServiceConfig::compile`]), or
    /// whose id is taken (kind [`ErrorKind::Registry`]), is refused.
    pub fn add_service(&mut self, config: ServiceConfig) -> Result<(), Error> {
        self.add_service_from(&config)
    }

    /// [`Registry::add_service`], from a configuration it only reads.
    fn add_service_from(&mut self, config: &ServiceConfig) -> Result<(), Error> {
        if self.services.contains_key(config.id.as_str()) {
            return Err(
                registry_error(format!("service `{}` already exists", config.id))
                    .in_service(&config.id),
            );
        }
        let service = config.compile_under(&self.catalog, &self.addresses)?;
        self.check_named(&service, config)?;
        self.insert_service(service);
        Ok(())
    }

    /// Checks the named auth entry `service` uses, if it uses one: it is
    /// defined, and it suits the service (see [`ServiceConfig::compile`]
    /// for what an inline auth must suit). `config` is the service's.
    fn check_named(&self, service: &Service, config: &ServiceConfig) -> Result<(), Error> {
        let Auth::Named { name } = service.auth() else {
            return Ok(());
        };
        let Some(entry) = self.auth_configs.get(name) else {
            return Err(unknown_entry(name, &self.auth_configs).in_service(service.id()));
        };
        let errors = named_problems(service, config, name, entry);
        match errors.len() {
            0 => Ok(()),
            _ => Err(Error::many(ErrorKind::InvalidConfig, errors).in_service(service.id())),
        }
    }

    /// Adds a service no webhook uses yet, keyed by the id it holds.
    fn insert_service(&mut self, service: Service) {
        let users = Ids::None;
        let id = Arc::clone(service.shared_id());
        self.services.insert(id, Entry { service, users });
    }

    /// Replaces a service's configuration (an admin screen's edit). The
    /// new one must compile, and still suit every realtime webhook using
    /// it; otherwise nothing changes.
    ///
    /// # Errors
    ///
    /// An unknown id (kind [`ErrorKind::Registry`]), a configuration that
    /// does not compile, or one a realtime webhook cannot use.
    pub fn update_service(&mut self, config: ServiceConfig) -> Result<(), Error> {
        let Some(entry) = self.services.get(config.id.as_str()) else {
            return Err(registry_error(format!("no service `{}`", config.id)));
        };
        let service = config.compile_under(&self.catalog, &self.addresses)?;
        self.check_named(&service, &config)?;
        for webhook in entry.users.iter() {
            if let Some(webhook) = self.webhooks.get(webhook) {
                self.check_realtime(webhook, &service)?;
            }
        }
        if let Some(entry) = self.services.get_mut(config.id.as_str()) {
            entry.service = service;
        }
        Ok(())
    }

    /// Enables or disables a service; a disabled service's webhooks do not
    /// fire.
    ///
    /// # Errors
    ///
    /// An unknown id is an error of kind [`ErrorKind::Registry`].
    pub fn set_service_enabled(&mut self, id: &str, enabled: bool) -> Result<(), Error> {
        let entry = self
            .services
            .get_mut(id)
            .ok_or_else(|| registry_error(format!("no service `{id}`")))?;
        // Nothing is compiled again; a snapshot sharing the service keeps
        // its own copy.
        entry.service.set_enabled(enabled);
        Ok(())
    }

    /// Deletes a service, returning it: [`Service::config`] or
    /// [`Service::to_json`] give its configuration, and nothing is parsed
    /// unless asked for.
    ///
    /// # Errors
    ///
    /// An unknown id, or a service a webhook still uses (the error names
    /// them), is an error of kind [`ErrorKind::Registry`].
    pub fn remove_service(&mut self, id: &str) -> Result<Service, Error> {
        let mut users: Vec<&str> = self
            .services
            .get(id)
            .into_iter()
            .flat_map(|entry| entry.users.iter())
            .map(|user| &**user)
            .collect();
        if !users.is_empty() {
            users.sort_unstable();
            let users: Vec<String> = users.iter().map(|u| format!("`{u}`")).collect();
            return Err(registry_error(format!(
                "service `{id}` is used by webhook {}; delete or rebind those first",
                users.join(", ")
            ))
            .in_service(id));
        }
        self.services
            .remove(id)
            .map(|entry| entry.service)
            .ok_or_else(|| registry_error(format!("no service `{id}`")))
    }

    /// The service with this id.
    #[must_use]
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.get(id).map(|entry| &entry.service)
    }

    /// Every service, sorted by id.
    #[must_use]
    pub fn services(&self) -> Vec<&Service> {
        // Sorted by the table's keys, beside the entries, rather than by
        // ids reached through each service.
        let mut services: Vec<(&Arc<str>, &Service)> = self
            .services
            .iter()
            .map(|(id, e)| (id, &e.service))
            .collect();
        services.sort_unstable_by(|a, b| a.0.cmp(b.0));
        services.into_iter().map(|(_, service)| service).collect()
    }

    // Webhooks.

    /// A realtime webhook's service may use only fields the platform knows
    /// mid-call.
    fn check_realtime(&self, webhook: &WebhookConfig, service: &Service) -> Result<(), Error> {
        if !self
            .catalog
            .event(&webhook.event)
            .is_some_and(|spec| spec.realtime)
        {
            return Ok(());
        }
        let mut errors = Vec::new();
        for field in service.fields() {
            let known = self
                .catalog
                .get(field)
                .is_none_or(FieldSpec::is_known_mid_call);
            if !known {
                errors.push(
                    Error::new(
                        ErrorKind::InvalidConfig,
                        format!(
                            "realtime webhook `{}` uses field `{field}`, which is not known \
                             mid-call; send it from a final webhook, or declare the field \
                             `mid_call` if the platform knows it during the call",
                            webhook.id
                        ),
                    )
                    .in_service(service.id()),
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::many(ErrorKind::InvalidConfig, errors))
        }
    }

    /// Checks a webhook: its id, its event, its service, its condition
    /// and, for a realtime webhook, the fields its service uses; every
    /// problem at once. Its condition compiled, if it has one.
    fn check_webhook(&self, webhook: &WebhookConfig) -> Result<Option<Compiled>, Error> {
        let mut errors = self.webhook_problems(webhook);
        let compiled = match self.compile_condition(webhook) {
            Ok(compiled) => compiled,
            Err(e) => {
                errors.extend(e.into_problems());
                None
            }
        };
        match self.service(webhook.service.as_str()) {
            Some(service) => {
                if let Err(e) = self.check_realtime(webhook, service) {
                    errors.extend(e.into_problems());
                }
            }
            None => errors.push(
                Error::new(
                    ErrorKind::InvalidConfig,
                    format!(
                        "webhook `{}` names service `{}`, which does not exist",
                        webhook.id, webhook.service
                    ),
                )
                .in_field("service"),
            ),
        }
        match errors.len() {
            0 => Ok(compiled),
            _ => Err(Error::many(ErrorKind::InvalidConfig, errors)),
        }
    }

    /// A webhook's condition compiled against the catalog, limited to
    /// fields known mid-call for a realtime webhook.
    fn compile_condition(&self, webhook: &WebhookConfig) -> Result<Option<Compiled>, Error> {
        let Some(config) = &webhook.condition else {
            return Ok(None);
        };
        let realtime = self
            .catalog
            .event(&webhook.event)
            .is_some_and(|spec| spec.realtime);
        condition::compile(config, &self.catalog, realtime).map(Some)
    }

    /// Checks what can be checked of a webhook whose service did not
    /// compile, which is not added: its id, whether it is `taken`, and its
    /// event.
    fn check_webhook_alone(&self, webhook: &WebhookConfig, taken: bool) -> Result<(), Error> {
        let mut errors = Vec::new();
        if taken {
            errors.push(webhook_taken(&webhook.id));
        }
        errors.extend(self.webhook_problems(webhook));
        if let Err(e) = self.compile_condition(webhook) {
            errors.extend(e.into_problems());
        }
        match errors.len() {
            0 => Ok(()),
            _ => Err(Error::many(ErrorKind::InvalidConfig, errors)),
        }
    }

    /// The problems of a webhook's own fields: an id that is not a UUID,
    /// an event the catalog does not know.
    fn webhook_problems(&self, webhook: &WebhookConfig) -> Vec<Error> {
        let mut errors = Vec::new();
        if webhook.scopes.len() > SCOPES {
            errors.push(
                Error::new(
                    ErrorKind::InvalidConfig,
                    format!(
                        "webhook has {} scopes; at most {} are allowed (`limits::SCOPES`)",
                        crate::limits::count(webhook.scopes.len()),
                        crate::limits::count(SCOPES)
                    ),
                )
                .in_field("scopes"),
            );
        }
        if !is_uuid(&webhook.id) {
            errors.push(
                Error::new(
                    ErrorKind::InvalidConfig,
                    format!("webhook id `{}` is not a UUID", webhook.id),
                )
                .in_field("id"),
            );
        }
        if self.catalog.event(&webhook.event).is_none() {
            let known: Vec<&str> = self.catalog.events().map(|e| e.name.as_str()).collect();
            errors
                .push(unknown_event(webhook.event.name(), known.iter().copied()).in_field("event"));
        }
        errors
    }

    /// Indexes a checked webhook under `id`, the one copy of its id every
    /// map shares.
    fn index_webhook(&mut self, id: &Arc<str>, webhook: &WebhookConfig) {
        // The service exists: the webhook was checked.
        if let Some(entry) = self.services.get_mut(webhook.service.as_str()) {
            entry.users.insert(Arc::clone(id));
        }
        let by_scope = self.index.entry(webhook.event.clone()).or_default();
        for scope in &webhook.scopes {
            let ids = match by_scope.get_mut(scope.as_str()) {
                Some(ids) => ids,
                None => by_scope.entry(scope.as_str().into()).or_default(),
            };
            ids.insert(Arc::clone(id));
        }
    }

    /// Keeps the compiled condition of the webhook `id`, or forgets the one
    /// it had.
    fn set_condition(&mut self, id: &Arc<str>, compiled: Option<Compiled>) {
        match compiled {
            Some(compiled) => {
                self.conditions.insert(Arc::clone(id), Arc::new(compiled));
            }
            None => {
                self.conditions.remove(id);
            }
        }
    }

    fn unindex_webhook(&mut self, webhook: &WebhookConfig) {
        let id = webhook.id.as_str();
        if let Some(entry) = self.services.get_mut(webhook.service.as_str()) {
            entry.users.remove(id);
        }
        if let Some(by_scope) = self.index.get_mut(&webhook.event) {
            for scope in &webhook.scopes {
                if let Some(ids) = by_scope.get_mut(scope.as_str()) {
                    ids.remove(id);
                    if ids.is_empty() {
                        by_scope.remove(scope.as_str());
                    }
                }
            }
        }
    }

    /// Adds a webhook.
    ///
    /// # Errors
    ///
    /// A taken id (kind [`ErrorKind::Registry`]), an id that is not a UUID,
    /// a service that does not exist, or a realtime webhook whose service
    /// uses fields not known mid-call (kind [`ErrorKind::InvalidConfig`]).
    pub fn add_webhook(&mut self, webhook: WebhookConfig) -> Result<(), Error> {
        if self.webhooks.contains_key(webhook.id.as_str()) {
            return Err(webhook_taken(&webhook.id));
        }
        let compiled = self.check_webhook(&webhook)?;
        let id: Arc<str> = webhook.id.as_str().into();
        self.index_webhook(&id, &webhook);
        self.set_condition(&id, compiled);
        self.webhooks.insert(id, Arc::new(webhook));
        Ok(())
    }

    /// Replaces a webhook (its event, service, scopes, status).
    ///
    /// # Errors
    ///
    /// An unknown id (kind [`ErrorKind::Registry`]), or a webhook
    /// [`Registry::add_webhook`] would refuse; nothing changes then.
    pub fn update_webhook(&mut self, webhook: WebhookConfig) -> Result<(), Error> {
        let (id, old) = self
            .webhooks
            .get_key_value(webhook.id.as_str())
            .map(|(id, old)| (Arc::clone(id), Arc::clone(old)))
            .ok_or_else(|| registry_error(format!("no webhook `{}`", webhook.id)))?;
        let compiled = self.check_webhook(&webhook)?;
        self.unindex_webhook(&old);
        self.index_webhook(&id, &webhook);
        self.set_condition(&id, compiled);
        self.webhooks.insert(id, Arc::new(webhook));
        Ok(())
    }

    /// Enables or disables a webhook.
    ///
    /// # Errors
    ///
    /// An unknown id is an error of kind [`ErrorKind::Registry`].
    pub fn set_webhook_enabled(&mut self, id: &str, enabled: bool) -> Result<(), Error> {
        let webhook = self
            .webhooks
            .get_mut(id)
            .ok_or_else(|| registry_error(format!("no webhook `{id}`")))?;
        Arc::make_mut(webhook).enabled = enabled;
        Ok(())
    }

    /// Deletes a webhook, returning it.
    ///
    /// # Errors
    ///
    /// An unknown id is an error of kind [`ErrorKind::Registry`].
    pub fn remove_webhook(&mut self, id: &str) -> Result<WebhookConfig, Error> {
        let webhook = self
            .webhooks
            .remove(id)
            .ok_or_else(|| registry_error(format!("no webhook `{id}`")))?;
        self.unindex_webhook(&webhook);
        self.conditions.remove(id);
        // A copy only when a snapshot still shares the webhook.
        Ok(Arc::unwrap_or_clone(webhook))
    }

    /// The webhook with this id.
    #[must_use]
    pub fn webhook(&self, id: &str) -> Option<&WebhookConfig> {
        self.webhooks.get(id).map(|w| &**w)
    }

    /// The webhook listing, oldest first: creation time, status, event,
    /// service, URL and method.
    #[must_use]
    pub fn webhooks(&self) -> Vec<WebhookRow> {
        // Sorted as references, then each row built in its place: a row is
        // seven fields, and moving rows through the sort cost more than
        // building them. Ids are unique, so an unstable sort orders alike.
        let mut order: Vec<&WebhookConfig> = self.webhooks.values().map(|w| &**w).collect();
        order.sort_unstable_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        order
            .into_iter()
            .map(|w| {
                // Every webhook's service exists (adding a webhook checks
                // it, and a service in use cannot be removed); were one
                // missing, its row would show no URL and no method rather
                // than hide the webhook.
                let service = self.service(w.service.as_str());
                WebhookRow {
                    id: w.id.clone(),
                    created_at: w.created_at,
                    enabled: w.enabled,
                    event: w.event.clone(),
                    service: w.service.clone(),
                    url: service.map(Service::url_text).unwrap_or_default(),
                    method: service
                        .map(|s| s.method().as_str().to_owned())
                        .unwrap_or_default(),
                }
            })
            .collect()
    }

    /// The body template of a webhook's service, as configured, for an
    /// admin screen to show.
    #[must_use]
    pub fn webhook_body(&self, id: &str) -> Option<String> {
        let webhook = self.webhooks.get(id)?;
        Some(self.service(webhook.service.as_str())?.body_text())
    }
}

impl Registry {
    // Dispatch: the work is in `dispatch.rs`, through `Subscriptions`.

    /// For every webhook, oldest first, whether it fires for `event` on
    /// `call` at `at` (as [`Registry::dispatch`] would fire it) and, if
    /// not, why not: what to look at when a dispatch sends nothing. A
    /// webhook whose condition does not hold is explained by the
    /// comparisons that kept it from holding
    /// ([`Verdict::ConditionNotMet`]). It looks at every webhook, so it is
    /// for people, not for the dispatch path.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, Event, Registry, Verdict};
    ///
    /// let config = Config::from_json(include_str!("../../examples/configs/pbx.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// let mut call = Call::from_json(include_str!("../../examples/calls/pbx-call.json"))?;
    /// call.scopes = vec!["nobody".into()];
    /// let at = "2024-12-02T21:11:37Z".parse().unwrap();
    /// let explained = registry.explain(Event::CallHangup, &call, at);
    /// assert!(explained.iter().all(|e| e.verdict != Verdict::Fires));
    /// assert!(explained
    ///     .iter()
    ///     .any(|e| matches!(e.verdict, Verdict::ScopeNotSubscribed(_))));
    /// # Ok::<(), callhook::Error>(())
    /// ```
    ///
    /// [`Verdict::ConditionNotMet`]: crate::Verdict::ConditionNotMet
    #[must_use]
    pub fn explain(&self, event: Event, call: &Call, at: DateTime<Utc>) -> Vec<Explanation> {
        dispatch::explain(self, event, call, None, None, at)
    }

    /// [`Registry::explain`] for one agent segment, as
    /// [`Registry::dispatch_segment`] would fire it.
    #[must_use]
    pub fn explain_segment(
        &self,
        event: Event,
        call: &Call,
        segment: usize,
        at: DateTime<Utc>,
    ) -> Vec<Explanation> {
        dispatch::explain(self, event, call, Some(segment), None, at)
    }

    /// [`Registry::explain`] for a realtime update, as
    /// [`Registry::status_update`] would fire it: a condition may test
    /// `status` and `sequence`.
    #[must_use]
    pub fn explain_status_update(
        &self,
        event: Event,
        call: &Call,
        status: &str,
        sequence: u64,
        at: DateTime<Utc>,
    ) -> Vec<Explanation> {
        dispatch::explain(self, event, call, None, Some((status, sequence)), at)
    }

    /// Dispatches `event` for `call` at time `at`: every request to send,
    /// unsigned.
    ///
    /// Agent Connect and Agent Termination fire once per agent segment when
    /// the call has segments, each with that segment's data over the
    /// call's. Every request's data also has `event` (the event's name),
    /// `event_time` (`at`) and `delivery_id`. A webhook whose request
    /// cannot be built for this call (an unsafe or missing value) is listed
    /// in [`Dispatch::errors`], and the others still go out.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, Event, Registry};
    ///
    /// let config = Config::from_json(include_str!("../../examples/configs/pbx.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// let call = Call::from_json(include_str!("../../examples/calls/pbx-call.json"))?;
    /// let hangup = registry.dispatch(Event::CallHangup, &call, "2024-12-02T21:11:37Z".parse().unwrap());
    /// assert_eq!(hangup.requests.len(), 1);
    /// assert!(hangup.errors.is_empty());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn dispatch(&self, event: Event, call: &Call, at: DateTime<Utc>) -> Dispatch {
        dispatch::dispatch(self, event, call, at)
    }

    /// Dispatches `event` for one agent segment of `call`, for hosts that
    /// fire as each segment ends; see [`Registry::dispatch`].
    #[must_use]
    pub fn dispatch_segment(
        &self,
        event: Event,
        call: &Call,
        segment: usize,
        at: DateTime<Utc>,
    ) -> Dispatch {
        dispatch::dispatch_segment(self, event, call, segment, at)
    }

    /// Dispatches a realtime update on [`Event::CallStatusChange`]: the
    /// call's status changed to `status`, the `sequence`-th change of this
    /// call (from 1), as AVANSER's realtime webhooks report; see
    /// [`Registry::status_update`].
    #[must_use]
    pub fn status_change(
        &self,
        call: &Call,
        status: &str,
        sequence: u64,
        at: DateTime<Utc>,
    ) -> Dispatch {
        self.status_update(Event::CallStatusChange, call, status, sequence, at)
    }

    /// Dispatches a realtime update on `event` (a seed's or one declared
    /// `realtime`): the call's status changed to `status`, the
    /// `sequence`-th change of this call (from 1). Webhooks receive `status`
    /// and `sequence` as fields, and each update has its own delivery id.
    #[must_use]
    pub fn status_update(
        &self,
        event: Event,
        call: &Call,
        status: &str,
        sequence: u64,
        at: DateTime<Utc>,
    ) -> Dispatch {
        dispatch::status_update(self, event, call, status, sequence, at)
    }

    /// The requests [`Registry::dispatch`] would make for `event` on
    /// `call` at `at`, as a person may see them (an admin screen, the
    /// `preview` example's `--event`): each webhook's id with its request
    /// rendered again through the redacting lookup, so that secret fields,
    /// the values mapped from them, secret pairs, secret headers and secret
    /// query parameters read `[redacted]`, and with the `content-length`
    /// that is sent; or the error that kept it from rendering, as dispatch
    /// would list it. In dispatch's order; nothing is signed.
    ///
    /// The credential of the auth each request is signed with (the
    /// service's own, or the named entry it refers to) shows where
    /// [`Registry::prepare`] puts it, its value `[redacted]`: a JWT or an
    /// OAuth2 token too, which exist only when a delivery is signed. For a
    /// service authenticating by OAuth2, [`Preview::token_request`] is the
    /// token request a host with no token sends first (what `prepare`
    /// returns with an empty [`TokenCache`]), its secrets redacted.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, Event, Registry};
    ///
    /// let config = Config::from_json(include_str!("../../examples/configs/pbx.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// let call = Call::from_json(include_str!("../../examples/calls/pbx-call.json"))?;
    /// let at = "2024-12-02T21:11:37Z".parse().unwrap();
    /// let shown = registry.preview(Event::CallHangup, &call, at);
    /// assert_eq!(shown.len(), registry.dispatch(Event::CallHangup, &call, at).requests.len());
    /// assert!(shown.iter().all(|(_, preview)| preview.is_ok()));
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn preview(
        &self,
        event: Event,
        call: &Call,
        at: DateTime<Utc>,
    ) -> Vec<(String, Result<Preview, Error>)> {
        dispatch::preview(self, event, call, at)
    }

    /// [`Registry::preview`] for a realtime update, as
    /// [`Registry::status_update`] would make it.
    #[must_use]
    pub fn preview_status_update(
        &self,
        event: Event,
        call: &Call,
        status: &str,
        sequence: u64,
        at: DateTime<Utc>,
    ) -> Vec<(String, Result<Preview, Error>)> {
        dispatch::preview_status_update(self, event, call, status, sequence, at)
    }

    /// Signs an outgoing request for the attempt made at `at`, if its
    /// service signs: the one way to sign, for the first attempt and for
    /// every retry of a stored [`Envelope`](crate::Envelope) alike. Signing
    /// again replaces the signature; nothing is ever added twice.
    ///
    /// The request is checked first as if it were being built now, whether
    /// it signs or not, since it may come from storage or have been changed
    /// by the host (see [`Service::sign`]): the service exists and is
    /// enabled, the URL goes to the service's origin as it is now and
    /// passes this registry's address policy, and no header frames or
    /// routes the message. The service's secret headers are marked
    /// sensitive, whatever the request's marks said.
    ///
    /// # Errors
    ///
    /// A service that no longer exists is an error of kind
    /// [`ErrorKind::Registry`](crate::ErrorKind::Registry); one that is
    /// disabled, of kind
    /// [`ErrorKind::ServiceDisabled`](crate::ErrorKind::ServiceDisabled). A
    /// request to another origin or with another method than the service's
    /// now is an error of kind
    /// [`ErrorKind::ServiceChanged`](crate::ErrorKind::ServiceChanged), for
    /// the host to dispatch again, unless its host is an internal address
    /// the registry does not allow, which is one of kind
    /// [`ErrorKind::InvalidUrl`](crate::ErrorKind::InvalidUrl). A request
    /// callhook would not build (see [`Envelope::to_outgoing`]) is refused
    /// with the kinds given there. A delivery id that cannot travel in a
    /// header is an error of kind
    /// [`ErrorKind::Signature`](crate::ErrorKind::Signature).
    ///
    /// [`Envelope::to_outgoing`]: crate::Envelope::to_outgoing
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, Event, Registry};
    ///
    /// let config = Config::from_json(include_str!("../../examples/configs/signed.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// let call = Call::from_json(include_str!("../../examples/calls/pbx-call.json"))?;
    /// let at = "2024-12-02T21:11:37Z".parse().unwrap();
    /// let mut outgoing = registry.dispatch(Event::CallHangup, &call, at).requests.remove(0);
    /// registry.sign(&mut outgoing, at)?;
    /// assert_eq!(outgoing.request.headers()["webhook-id"], outgoing.delivery.as_str());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn sign(&self, outgoing: &mut Outgoing, at: DateTime<Utc>) -> Result<(), Error> {
        match self.prepare(outgoing, at, &TokenCache::default())? {
            Prepared::Ready => Ok(()),
            Prepared::TokenNeeded(_) => Err(crate::service::token_needed(&outgoing.service)),
        }
    }

    /// Prepares `outgoing` for the attempt sending it at `at`: checks it as
    /// [`Registry::sign`] does, adds the credential of its service's auth
    /// as this registry holds it now (the service's own, or the named entry
    /// it refers to, read now: a rotated secret reaches every queued
    /// delivery), then signs it. A credential from an earlier attempt is
    /// replaced, never added twice. This is the one path credentials take:
    /// dispatch and [`Service::request`] add none.
    ///
    /// For a service that authenticates by OAuth2, the token comes from
    /// `tokens`, the host's [`TokenCache`]. When it holds no token for the
    /// entry, or one about to expire, nothing is added or signed and
    /// [`Prepared::TokenNeeded`] gives the token request to send first:
    /// the host sends it, gives the response to the cache, and prepares
    /// the delivery again. The token's key is `named:<name>` for a named
    /// entry, `service:<id>` for a service's own auth
    /// ([`TokenRequest::key`]).
    ///
    /// # Errors
    ///
    /// As [`Registry::sign`], and, for a credential that cannot be made
    /// (a JWT that cannot be minted, a token a header cannot carry), an
    /// error naming the auth's field (`auth`, `auth_configs.crm`).
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Call, Catalog, Config, Event, Prepared, Registry, TokenCache};
    ///
    /// let config = Config::from_json(r#"{
    ///     "auth_configs": {"crm": {"kind": "query_key", "param": "api_key", "key": "k3y"}},
    ///     "services": [{"id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "name": "crm",
    ///         "method": "POST", "url": "https://crm.example.com/calls?src=pbx",
    ///         "auth": {"kind": "named", "name": "crm"}}],
    ///     "webhooks": [{"id": "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6", "event": "Call:Hangup",
    ///         "service": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "scopes": ["*"]}]
    /// }"#)?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// let call = Call::from_json(include_str!("../../examples/calls/pbx-call.json"))?;
    /// let at = "2024-12-02T21:11:37Z".parse().unwrap();
    /// let mut outgoing = registry.dispatch(Event::CallHangup, &call, at).requests.remove(0);
    /// // Dispatch adds no credential...
    /// assert_eq!(outgoing.request.uri(), "https://crm.example.com/calls?src=pbx");
    /// // ...preparing for the attempt does.
    /// let tokens = TokenCache::default();
    /// assert!(matches!(registry.prepare(&mut outgoing, at, &tokens)?, Prepared::Ready));
    /// assert_eq!(outgoing.request.uri(), "https://crm.example.com/calls?src=pbx&api_key=k3y");
    /// # Ok::<(), callhook::Error>(())
    /// ```
    ///
    /// [`Service::request`]: crate::Service::request
    pub fn prepare(
        &self,
        outgoing: &mut Outgoing,
        at: DateTime<Utc>,
        tokens: &TokenCache,
    ) -> Result<Prepared, Error> {
        let service = self.known_service(&outgoing.service)?;
        let (auth, name) = self.auth_of(service)?;
        // The key is only read for OAuth2, whose entry keeps it made.
        let key = match (auth, name) {
            (Auth::OAuth2(oauth), Some(name)) => oauth.cached_key("named", name),
            (Auth::OAuth2(oauth), None) => oauth.cached_key("service", service.id()),
            _ => std::borrow::Cow::Borrowed(""),
        };
        let send = SendAuth {
            auth,
            key: &key,
            entry: name,
            tokens,
            claims: ClaimValues {
                delivery_id: Some(outgoing.delivery.as_str()),
                event: Some(outgoing.event.name()),
                service: Some(&outgoing.service),
                webhook: Some(&outgoing.webhook),
            },
        };
        let needed = service.sign_with(
            &mut outgoing.request,
            &outgoing.delivery,
            at,
            &self.addresses,
            &send,
            &mut outgoing.credentials,
        )?;
        Ok(match needed {
            None => Prepared::Ready,
            Some(request) => Prepared::TokenNeeded(request),
        })
    }

    /// The retry policy for a delivery through `service`: the service's
    /// own, or the default if it configures none.
    ///
    /// # Errors
    ///
    /// A service that does not exist (deleted since the delivery was
    /// stored, say) is an error of kind
    /// [`ErrorKind::Registry`](crate::ErrorKind::Registry), as
    /// [`Registry::sign`] refuses it: no policy is made up for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config, ErrorKind, Registry};
    ///
    /// let config = Config::from_json(include_str!("../../examples/configs/pbx.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// let policy = registry.retry_policy(&config.services[0].id)?;
    /// assert!(policy.max_attempts > 1);
    /// let gone = registry.retry_policy("deleted").unwrap_err();
    /// assert_eq!(gone.kind(), ErrorKind::Registry);
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn retry_policy(&self, service: &str) -> Result<RetryPolicy, Error> {
        self.known_service(service).map(Service::retry_policy)
    }

    /// The health policy for a delivery through `service`: the service's
    /// own (`"health"`), or the default if it configures none.
    ///
    /// # Errors
    ///
    /// A service that does not exist is an error of kind
    /// [`ErrorKind::Registry`](crate::ErrorKind::Registry), as for
    /// [`Registry::retry_policy`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config, HealthPolicy, Registry};
    ///
    /// let config = Config::from_json(include_str!("../../examples/configs/pbx.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// let policy = registry.health_policy(&config.services[0].id)?;
    /// assert_eq!(policy, HealthPolicy::default());
    /// assert!(registry.health_policy("deleted").is_err());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn health_policy(&self, service: &str) -> Result<HealthPolicy, Error> {
        self.known_service(service).map(Service::health_policy)
    }

    /// How long a sender waits for the response to a request of
    /// `service`, connecting included: the service's `timeout`, or
    /// [`ServiceConfig::DEFAULT_TIMEOUT`] (30 s). A request that takes
    /// longer is reported as a transport error and retried.
    ///
    /// # Errors
    ///
    /// A service that does not exist is an error of kind
    /// [`ErrorKind::Registry`](crate::ErrorKind::Registry), as for
    /// [`Registry::retry_policy`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use callhook::{Catalog, Config, Registry};
    ///
    /// let mut config = Config::from_json(include_str!("../../examples/configs/pbx.json"))?;
    /// config.services[0].timeout = Some(Duration::from_secs(20));
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// assert_eq!(registry.request_timeout(&config.services[0].id)?, Duration::from_secs(20));
    /// assert!(registry.request_timeout("deleted").is_err());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn request_timeout(&self, service: &str) -> Result<Duration, Error> {
        self.known_service(service).map(Service::timeout)
    }

    /// How many times a delivery through `service` fails on one URL
    /// before it moves to the next of the service's fallback URLs
    /// ([`Outgoing::fallbacks`]): the service's `fallback_after`, or
    /// [`ServiceConfig::DEFAULT_FALLBACK_AFTER`] (2).
    ///
    /// # Errors
    ///
    /// A service that does not exist is an error of kind
    /// [`ErrorKind::Registry`](crate::ErrorKind::Registry), as for
    /// [`Registry::retry_policy`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config, Registry};
    ///
    /// let config = Config::from_json(include_str!("../../examples/configs/fallbacks.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// assert_eq!(registry.fallback_after(&config.services[0].id)?, 3);
    /// assert_eq!(registry.fallback_after(&config.services[1].id)?, 2);
    /// assert!(registry.fallback_after("deleted").is_err());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn fallback_after(&self, service: &str) -> Result<u32, Error> {
        self.known_service(service).map(Service::fallback_after)
    }
}

impl Registry {
    /// The service `id`, or the error every accessor gives for one that
    /// does not exist (kind [`ErrorKind::Registry`]).
    fn known_service(&self, id: &str) -> Result<&Service, Error> {
        self.service(id)
            .ok_or_else(|| registry_error(format!("no service `{id}`")))
    }
}

#[cfg(test)]
impl Registry {
    /// Forgets every compiled condition, which loading never does: for
    /// dispatch's test that a webhook left so fails closed.
    pub(crate) fn forget_conditions(&mut self) {
        self.conditions.clear();
    }
}

impl Subscriptions for Registry {
    fn matching(&self, event: &Event, call: &Call) -> Vec<(&Arc<str>, &WebhookConfig)> {
        let Some(by_scope) = self.index.get(event) else {
            return Vec::new();
        };
        let mut found: Vec<(&Arc<str>, &WebhookConfig)> = call
            .scopes
            .iter()
            .map(String::as_str)
            .chain([ALL_SCOPES])
            .filter_map(|scope| by_scope.get(scope))
            .flat_map(|ids| ids.iter())
            .filter_map(|id| self.webhooks.get_key_value(id))
            .map(|(id, w)| (id, &**w))
            .filter(|(_, w)| w.enabled)
            .collect();
        found.sort_by(|(_, a), (_, b)| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        found.dedup_by(|(a, _), (b, _)| a == b);
        found
    }

    fn all_webhooks(&self) -> Vec<&WebhookConfig> {
        self.webhooks.values().map(|w| &**w).collect()
    }

    fn condition(&self, webhook: &str) -> Option<&Compiled> {
        self.conditions.get(webhook).map(|c| &**c)
    }

    fn service_entry(&self, id: &str) -> Option<(&Arc<str>, &Service)> {
        self.services
            .get_key_value(id)
            .map(|(id, entry)| (id, &entry.service))
    }

    fn send_auth<'a>(&'a self, service: &'a Service) -> Result<(&'a Auth, Option<String>), Error> {
        let (auth, _) = self.auth_of(service)?;
        Ok((auth, self.token_key(service.id())))
    }

    fn catalog(&self) -> &Catalog {
        &self.catalog
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{Call, CallData};
    use chrono::{DateTime, Utc};
    use serde_json::json;

    const S1: &str = "00000000-0000-4000-8000-000000000001";
    const S2: &str = "00000000-0000-4000-8000-000000000002";
    const W1: &str = "00000000-0000-4000-8000-0000000000a1";
    const W2: &str = "00000000-0000-4000-8000-0000000000a2";

    fn service(id: &str, body: &str) -> ServiceConfig {
        serde_json::from_value(json!({
            "id": id, "name": "s", "method": "POST", "url": "https://x.example.com/h",
            "body": {"kind": "json", "template": body}
        }))
        .unwrap()
    }

    fn webhook(id: &str, event: Event, scopes: &[&str]) -> WebhookConfig {
        WebhookConfig {
            id: id.into(),
            enabled: true,
            event,
            service: S1.into(),
            created_at: Some("2024-12-01T00:00:00Z".parse().unwrap()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ..WebhookConfig::new(id, Event::CallHangup, S1)
        }
    }

    fn at() -> DateTime<Utc> {
        "2024-12-02T21:10:00Z".parse().unwrap()
    }

    fn call(scopes: &[&str]) -> Call {
        Call {
            id: "c1".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            data: CallData::new().with("uuid", "u1"),
            segments: vec![],
        }
    }

    #[test]
    fn fires_only_subscribed_enabled_webhooks_once() {
        let mut r = Registry::new(Catalog::standard().clone());
        r.add_service(service(S1, r##"{"e": "#event#", "u": "#uuid#"}"##))
            .unwrap();
        r.add_webhook(webhook(W1, Event::CallHangup, &["A", "B"]))
            .unwrap();
        r.add_webhook(webhook(W2, Event::CallHangup, &[])).unwrap();
        let d = r.dispatch(Event::CallHangup, &call(&["A", "B"]), at());
        assert_eq!(d.requests.len(), 1);
        assert_eq!(
            d.requests[0].request.body(),
            br#"{"e": "Call:Hangup", "u": "u1"}"#
        );
        assert!(r
            .dispatch(Event::CallAnswer, &call(&["A"]), at())
            .requests
            .is_empty());
        assert!(r
            .dispatch(Event::CallHangup, &call(&["C"]), at())
            .requests
            .is_empty());
        r.set_webhook_enabled(W1, false).unwrap();
        assert!(r
            .dispatch(Event::CallHangup, &call(&["A"]), at())
            .requests
            .is_empty());
        r.set_webhook_enabled(W1, true).unwrap();
        r.set_service_enabled(S1, false).unwrap();
        assert!(r
            .dispatch(Event::CallHangup, &call(&["A"]), at())
            .requests
            .is_empty());
    }

    /// A set of ids holds one inline and more in a shared set, and says the
    /// same whichever it is.
    #[test]
    fn id_sets_grow_and_shrink() {
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        let mut ids = Ids::default();
        assert!(ids.is_empty());
        ids.insert(Arc::clone(&a));
        ids.insert(Arc::clone(&a));
        assert!(matches!(ids, Ids::One(_)));
        assert_eq!(ids.len(), 1);
        ids.insert(Arc::clone(&b));
        assert_eq!(ids.len(), 2);
        let shared = ids.clone();
        ids.remove("a");
        assert_eq!(ids.iter().map(|id| &**id).collect::<Vec<_>>(), ["b"]);
        assert_eq!(shared.len(), 2);
        ids.remove("b");
        ids.remove("b");
        assert!(ids.is_empty());
        let mut one = Ids::One(a);
        one.remove("b");
        assert_eq!(one.len(), 1);
        one.remove("a");
        assert!(one.is_empty());
    }

    /// Webhooks, users and scope buckets are shared by a clone too, and an
    /// edit on either side copies only what it changes.
    #[test]
    fn snapshots_share_webhooks_and_buckets_until_an_edit() {
        let mut r = Registry::new(Catalog::standard().clone());
        r.add_service(service(S1, "{}")).unwrap();
        r.add_webhook(webhook(W1, Event::CallHangup, &["A"]))
            .unwrap();
        r.add_webhook(webhook(W2, Event::CallHangup, &["A", "B"]))
            .unwrap();
        let snapshot = r.clone();
        assert!(Arc::ptr_eq(&r.webhooks[W1], &snapshot.webhooks[W1]));
        let bucket = |r: &Registry, scope: &str| match &r.index[&Event::CallHangup][scope] {
            Ids::Many(many) => Arc::clone(many),
            other => panic!("{other:?}"),
        };
        assert!(Arc::ptr_eq(&bucket(&r, "A"), &bucket(&snapshot, "A")));
        let fired = |r: &Registry, scope: &str| {
            r.dispatch(Event::CallHangup, &call(&[scope]), at())
                .requests
                .len()
        };

        r.set_webhook_enabled(W1, false).unwrap();
        r.remove_webhook(W2).unwrap();
        assert!(snapshot.webhook(W1).unwrap().enabled);
        assert_eq!((fired(&r, "A"), fired(&r, "B")), (0, 0));
        assert_eq!((fired(&snapshot, "A"), fired(&snapshot, "B")), (2, 1));
        // The snapshot's service still has both users.
        assert!(snapshot.clone().remove_service(S1).is_err());
        assert!(r.services[S1]
            .service
            .shares_compiled(&snapshot.services[S1].service));
    }

    /// A snapshot taken before an edit keeps seeing what it saw: services
    /// are shared until one side changes, and enabling one compiles nothing.
    #[test]
    fn snapshots_share_services_until_an_edit() {
        let mut r = Registry::new(Catalog::standard().clone());
        r.add_service(service(S1, "{}")).unwrap();
        r.add_webhook(webhook(W1, Event::CallHangup, &["A"]))
            .unwrap();
        let snapshot = r.clone();
        assert!(r.services[S1]
            .service
            .shares_compiled(&snapshot.services[S1].service));
        r.set_service_enabled(S1, false).unwrap();
        assert!(!r.service(S1).unwrap().is_enabled());
        assert!(snapshot.service(S1).unwrap().is_enabled());
        assert_eq!(
            snapshot
                .dispatch(Event::CallHangup, &call(&["A"]), at())
                .requests
                .len(),
            1
        );
        assert!(r
            .dispatch(Event::CallHangup, &call(&["A"]), at())
            .requests
            .is_empty());
        // The users index follows webhooks as they move between services.
        assert_eq!(r.services[S1].users.len(), 1);
        r.remove_webhook(W1).unwrap();
        assert!(r.services[S1].users.is_empty());
        r.remove_service(S1).unwrap();
    }

    /// Whether a service is enabled lives beside its compiled form: setting
    /// it copies nothing, and everything that reads a configuration back
    /// (the whole, a removed service, a reload) sees it.
    #[test]
    fn enabling_is_kept_beside_the_compiled_service() {
        let mut r = Registry::new(Catalog::standard().clone());
        r.add_service(service(S1, "{}")).unwrap();
        let before = r.clone();
        r.set_service_enabled(S1, false).unwrap();
        assert!(r.services[S1]
            .service
            .shares_compiled(&before.services[S1].service));
        assert!(!r.to_config().services[0].enabled);
        assert!(before.to_config().services[0].enabled);
        assert_ne!(r, before);

        // A reload that only flips `enabled` reuses the compiled service.
        let mut config = r.to_config();
        config.services[0].enabled = true;
        let next = r.reload(&config, Catalog::standard().clone()).unwrap();
        assert!(next.services[S1]
            .service
            .shares_compiled(&r.services[S1].service));
        assert!(next.service(S1).unwrap().is_enabled());
        assert_eq!(next, before);

        assert!(!r.remove_service(S1).unwrap().is_enabled());
    }

    /// Listings, edits, a disabled service's row and a reload of unchanged
    /// services parse no kept JSON; only what must build configurations
    /// (`to_config`, `Service::config`) does, once a service.
    #[test]
    fn listings_and_edits_parse_no_json() {
        use crate::service::parses;

        let config = Config::from_json(include_str!("../../examples/configs/pbx.json")).unwrap();
        let mut r = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
        let first = config.services[0].id.clone();
        let start = parses::so_far();
        assert_eq!(r.services().len(), config.services.len());
        assert_eq!(r.webhooks().len(), config.webhooks.len());
        assert!(r
            .webhooks()
            .iter()
            .all(|row| row.url.starts_with("https://")));
        r.set_service_enabled(&first, false).unwrap();
        let row = r.service(&first).unwrap().to_json();
        assert!(row.contains(r#""enabled":false"#), "{row}");
        let reloaded = r
            .reload(&r.to_config(), Catalog::standard().clone())
            .unwrap();
        let after_to_config = parses::so_far();
        assert_eq!(
            after_to_config - start,
            config.services.len(),
            "to_config only"
        );
        assert_eq!(reloaded, r);
        let mut spare = service(S1, "{}");
        spare.name = "spare".into();
        r.add_service(spare.clone()).unwrap();
        r.update_service(spare).unwrap();
        let removed = r.remove_service(S1).unwrap();
        assert_eq!(parses::so_far(), after_to_config);
        assert_eq!(removed.config().name, "spare");
    }

    /// The registry writes what its configuration writes, byte for byte,
    /// whatever it declares.
    #[test]
    fn registry_serialises_as_its_configuration() {
        let full = Config::from_json(
            &serde_json::json!({
                "preset": ["pbx", "ringcx"],
                "allowed_addresses": ["10.0.0.0/8"],
                "fields": [{"name": "crm_ticket", "type": "text"}],
                "events": [{"name": "Ticket:Opened"}],
            })
            .to_string(),
        )
        .unwrap();
        let mut seeds = Config::from_json(include_str!("../../examples/configs/pbx.json")).unwrap();
        seeds.services[0].enabled = false;
        for config in [Config::default(), full, seeds] {
            let r = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                serde_json::to_string(&r.to_config()).unwrap()
            );
            // The kept rows, copied, write the same bytes.
            assert_eq!(r.to_json(), serde_json::to_string(&r).unwrap());
            assert_eq!(
                serde_json::to_string_pretty(&r).unwrap(),
                serde_json::to_string_pretty(&r.to_config()).unwrap()
            );
        }
    }

    /// A reload compiles only the services whose configuration changed.
    #[test]
    fn reloads_reuse_unchanged_services() {
        let mut config = Config {
            services: vec![service(S1, "{}"), service(S2, "{\"a\": 1}")],
            webhooks: vec![webhook(W1, Event::CallHangup, &["A"])],
            ..Config::default()
        };
        let r = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
        config.services[1].name = "changed".into();
        let next = r.reload(&config, Catalog::standard().clone()).unwrap();
        assert!(r.services[S1]
            .service
            .shares_compiled(&next.services[S1].service));
        assert!(!r.services[S2]
            .service
            .shares_compiled(&next.services[S2].service));
        assert_eq!(next.service(S2).unwrap().config().name, "changed");
        assert_eq!(
            next.to_config(),
            Registry::from_config(&config, Catalog::standard().clone())
                .unwrap()
                .to_config()
        );
        // Enabling a service is no reason to compile it again; a secret
        // reference that now resolves to another value is.
        config.services[0].enabled = false;
        let toggled = next.reload(&config, Catalog::standard().clone()).unwrap();
        assert!(toggled.services[S1]
            .service
            .shares_compiled(&next.services[S1].service));
        assert!(!toggled.service(S1).unwrap().is_enabled());
        config.services[0].auth = crate::Auth::Bearer {
            token: serde_json::from_str(r#"{"secret_ref": "CRM_TOKEN"}"#).unwrap(),
        };
        config.resolve_secrets(|_| Some("one".into())).unwrap();
        let first = toggled
            .reload(&config, Catalog::standard().clone())
            .unwrap();
        config.resolve_secrets(|_| Some("two".into())).unwrap();
        let rotated = first.reload(&config, Catalog::standard().clone()).unwrap();
        assert!(!rotated.services[S1]
            .service
            .shares_compiled(&first.services[S1].service));
        let same = rotated
            .reload(&config, Catalog::standard().clone())
            .unwrap();
        assert!(same.services[S1]
            .service
            .shares_compiled(&rotated.services[S1].service));
        // A broken reload leaves the old registry as it was.
        config.services[0].url = "ftp://nope/".into();
        assert!(r.reload(&config, Catalog::standard().clone()).is_err());
        assert_eq!(r.services.len(), 2);
    }

    #[test]
    fn services_in_use_cannot_be_removed() {
        let mut r = Registry::new(Catalog::standard().clone());
        r.add_service(service(S1, "{}")).unwrap();
        r.add_webhook(webhook(W1, Event::CallHangup, &["A"]))
            .unwrap();
        let err = r.remove_service(S1).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Registry);
        assert!(err.message().contains(W1));
        r.remove_webhook(W1).unwrap();
        r.remove_service(S1).unwrap();
        assert!(r
            .add_webhook(webhook(W1, Event::CallHangup, &["A"]))
            .is_err());
    }

    #[test]
    fn realtime_webhooks_cannot_use_end_of_call_fields() {
        let mut r = Registry::new(Catalog::standard().clone());
        r.add_service(service(S1, r##"{"r": "#recording_url#"}"##))
            .unwrap();
        let err = r
            .add_webhook(webhook(W1, Event::CallStatusChange, &["A"]))
            .unwrap_err();
        assert!(err.message().contains("`recording_url`"), "{err}");
        r.add_webhook(webhook(W1, Event::CallReporting, &["A"]))
            .unwrap();
        // Rebinding to realtime is refused too, and changes nothing.
        assert!(r
            .update_webhook(webhook(W1, Event::CallStatusChange, &["A"]))
            .is_err());
        assert_eq!(r.webhook(W1).unwrap().event, Event::CallReporting);
    }

    #[test]
    fn registry_round_trips_through_json() {
        let mut r = Registry::new(Catalog::standard().clone());
        r.add_service(service(S1, "{}")).unwrap();
        r.add_webhook(webhook(W1, Event::CallHangup, &["A"]))
            .unwrap();
        let json = serde_json::to_string(&r).unwrap();
        let back: Registry = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(
            back.dispatch(Event::CallHangup, &call(&["A"]), at())
                .requests
                .len(),
            1
        );
    }
}
