//! The registry's named auth entries (RingCX's auth configurations):
//! reading, editing and comparing them, and resolving the auth a service
//! sends with.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{registry_error, Registry};
use crate::auth::Auth;
use crate::config::auth_entry_problems;
use crate::error::{nearest, shown, Error, ErrorKind};
use crate::limits::AUTH_CONFIGS;
use crate::service::{Service, ServiceConfig};

/// The problems of the named entry `name` (`entry`) used by `service`,
/// compiled from `config`: a clash with the service's headers, signature
/// or URL, each naming the entry, in the entry's field or in `auth`.
pub(super) fn named_problems(
    service: &Service,
    config: &ServiceConfig,
    name: &str,
    entry: &Auth,
) -> Vec<Error> {
    service
        .named_auth_problems(config, entry)
        .into_iter()
        .map(|e| {
            let message = format!("auth entry `{}`: {}", shown(name), e.message());
            let field = e
                .field()
                .map(|f| format!("auth_configs.{}.{f}", shown(name)));
            let e = Error::new(e.kind(), message);
            match field {
                Some(field) => e.in_field(&field),
                None => e.in_field("auth"),
            }
        })
        .collect()
}

/// A named auth entry that is not defined, with the nearest name that is.
pub(super) fn unknown_entry(name: &str, known: &BTreeMap<String, Auth>) -> Error {
    Error::new(
        ErrorKind::InvalidConfig,
        format!(
            "auth entry `{}` is not defined in `auth_configs`",
            shown(name)
        ),
    )
    .with_suggestion(nearest(name, known.keys().map(String::as_str)))
    .in_field("auth.name")
}

impl Registry {
    /// The auth `service` sends with: its own, or the named entry it
    /// refers to, with the entry's name.
    pub(super) fn auth_of<'a>(
        &'a self,
        service: &'a Service,
    ) -> Result<(&'a Auth, Option<&'a str>), Error> {
        match service.auth() {
            Auth::Named { name } => match self.auth_configs.get_key_value(name) {
                Some((name, entry)) => Ok((entry, Some(name))),
                None => Err(unknown_entry(name, &self.auth_configs).in_service(service.id())),
            },
            auth => Ok((auth, None)),
        }
    }

    /// The key of the OAuth2 token the service's requests carry, in a
    /// [`TokenCache`](crate::TokenCache): `named:<name>` for a named entry, `service:<id>`
    /// for the service's own auth. `None` for a service that does not
    /// authenticate by OAuth2, or does not exist.
    ///
    /// A host that keeps no [`Envelope`](crate::Envelope) applies the rule
    /// of a refused token with it: on a `401` from such a service,
    /// [`TokenCache::invalidate`](crate::TokenCache::invalidate) the key and send the delivery once more
    /// (preparing it fetches a new token); a second `401` gives up.
    /// [`Envelope::record_in`](crate::Envelope::record_in) does this.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config, Registry};
    ///
    /// let config = Config::from_json(include_str!("../../examples/configs/pbx.json"))?;
    /// let registry = Registry::from_config(&config, Catalog::standard().clone())?;
    /// assert_eq!(registry.token_key(&config.services[0].id), None);
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn token_key(&self, service: &str) -> Option<String> {
        let service = self.service(service)?;
        match self.auth_of(service).ok()? {
            (Auth::OAuth2(_), Some(name)) => Some(format!("named:{name}")),
            (Auth::OAuth2(_), None) => Some(format!("service:{}", service.id())),
            _ => None,
        }
    }

    // Named auth entries.

    /// The named auth entry `name`, its secrets resolved.
    #[must_use]
    pub fn auth_config(&self, name: &str) -> Option<&Auth> {
        self.auth_configs.get(name)
    }

    /// Adds or replaces the named auth entry `name` (rotating a key is
    /// one such edit): it takes effect for every service using it, and
    /// every delivery prepared from now on, queued ones included.
    ///
    /// # Errors
    ///
    /// An entry refused at load (see [`Registry::from_config`]: an empty
    /// name, a `named` entry, an unresolved secret reference, an invalid
    /// auth), or one a service using it cannot carry (its header set by
    /// the service's `headers` or signature, its query parameter in the
    /// service's URL), is an error of kind [`ErrorKind::InvalidConfig`];
    /// nothing changes.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Auth, Catalog, Registry, Secret};
    ///
    /// let mut registry = Registry::new(Catalog::standard().clone());
    /// registry.set_auth_config("crm", Auth::Bearer { token: Secret::new("new") })?;
    /// assert!(registry.auth_config("crm").is_some());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn set_auth_config(&mut self, name: &str, auth: Auth) -> Result<(), Error> {
        if !self.auth_configs.contains_key(name) && self.auth_configs.len() >= AUTH_CONFIGS {
            return Err(registry_error(format!(
                "the registry holds {} auth entries, the most allowed (`limits::AUTH_CONFIGS`)",
                crate::limits::count(AUTH_CONFIGS)
            )));
        }
        let mut errors = auth_entry_problems(name, &auth, &self.addresses);
        if errors.is_empty() {
            for entry in self.services.values() {
                if matches!(entry.service.auth(), Auth::Named { name: n } if n == name) {
                    // Only the services using the entry are parsed.
                    let config = entry.service.config();
                    errors.extend(
                        named_problems(&entry.service, &config, name, &auth)
                            .into_iter()
                            .map(|e| e.in_service(entry.service.id())),
                    );
                }
            }
        }
        if !errors.is_empty() {
            return Err(Error::many(ErrorKind::InvalidConfig, errors));
        }
        Arc::make_mut(&mut self.auth_configs).insert(name.to_owned(), auth);
        Ok(())
    }

    /// Deletes the named auth entry `name`, returning it.
    ///
    /// # Errors
    ///
    /// An unknown name (with the nearest one), or an entry a service still
    /// uses (the error names them), is an error of kind
    /// [`ErrorKind::Registry`].
    pub fn remove_auth_config(&mut self, name: &str) -> Result<Auth, Error> {
        if !self.auth_configs.contains_key(name) {
            return Err(unknown_entry(name, &self.auth_configs));
        }
        let mut users: Vec<&str> = self
            .services
            .iter()
            .filter(|(_, e)| matches!(e.service.auth(), Auth::Named { name: n } if n == name))
            .map(|(id, _)| &**id)
            .collect();
        if !users.is_empty() {
            users.sort_unstable();
            let users: Vec<String> = users.iter().map(|u| format!("`{u}`")).collect();
            return Err(registry_error(format!(
                "auth entry `{}` is used by service {}; change their auth first",
                shown(name),
                users.join(", ")
            )));
        }
        Arc::make_mut(&mut self.auth_configs)
            .remove(name)
            .ok_or_else(|| unknown_entry(name, &BTreeMap::new()))
    }

    /// The names of the named auth entries that differ between `since`
    /// (the registry before a [`Registry::reload`] or an edit) and this
    /// one: added, removed or changed (a rotated secret included), sorted.
    /// A host logs them, or drops the tokens it cached for them (their
    /// key is `named:<name>`).
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config, Registry};
    ///
    /// let old = Config::from_json(r#"{"auth_configs": {"crm": {"kind": "bearer", "token": "a"}}}"#)?;
    /// let new = Config::from_json(r#"{"auth_configs": {"crm": {"kind": "bearer", "token": "b"}}}"#)?;
    /// let before = Registry::from_config(&old, Catalog::standard().clone())?;
    /// let after = before.reload(&new, Catalog::standard().clone())?;
    /// assert_eq!(after.changed_auth_configs(&before), ["crm"]);
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn changed_auth_configs<'a>(&'a self, since: &'a Registry) -> Vec<&'a str> {
        if Arc::ptr_eq(&self.auth_configs, &since.auth_configs) {
            return Vec::new();
        }
        let mut changed: Vec<&str> = self
            .auth_configs
            .iter()
            .filter(|(name, auth)| since.auth_configs.get(*name) != Some(*auth))
            .map(|(name, _)| name.as_str())
            .chain(
                since
                    .auth_configs
                    .keys()
                    .filter(|name| !self.auth_configs.contains_key(*name))
                    .map(String::as_str),
            )
            .collect();
        changed.sort_unstable();
        changed
    }
}
