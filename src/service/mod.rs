//! Web services: what an administrator configures once and the platform
//! invokes many times.
//!
//! A [`ServiceConfig`] is plain data (serde: JSON, TOML, a database row). It
//! compiles into a [`Service`], with every template checked and everything
//! that does not depend on the call (the URL when static, static headers,
//! content type, auth) parsed once. [`Service::request`] then renders a
//! [`Request`](crate::Request) for a call, and sends nothing.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use crate::body::{BodyConfig, Pair};
use crate::error::Error;
use crate::retry::RetryPolicy;
use crate::secret::{redact_query, Secret, REDACTED};
use crate::signer::Signer;
use crate::template::Template;
use crate::version::with_version;
use compile::{resolved_references, stored_json};
use headers::{DynamicHeader, StaticHeaders};
use url::Url;

mod compile;
mod config;
mod headers;
mod request;
mod show;
mod sign;
mod url;

pub use config::{Method, ServiceConfig};
pub(crate) use headers::check_request_form;
pub use headers::USER_AGENT;

/// A compiled web service, ready to build requests. Its `Debug` shows its
/// configuration, secrets redacted.
///
/// Cloning one is cheap: the compiled part is shared, and whether the
/// service is enabled is kept beside it, so enabling or disabling a service
/// compiles and copies nothing.
#[derive(Clone)]
pub struct Service {
    compiled: Arc<Compiled>,
    enabled: bool,
}

/// What compiling a service makes, shared by every copy of the service.
struct Compiled {
    /// The configuration as the service keeps it: the compact JSON a host
    /// stores for it, under half the bytes of the parsed struct, parsed
    /// again only when it is asked for; nothing on the render path reads
    /// it. As serde_json wrote it (UTF-8, read back with `from_slice`, which
    /// checks as it parses), with `enabled` set: whether the service is
    /// enabled is kept beside the compiled part.
    json: Box<[u8]>,
    method: Method,
    /// Whether to keep debug records (the configuration's `debug`).
    debug: bool,
    /// Whether requests carry the body's length (those with a body type).
    sets_length: bool,
    /// The URL, with the query pairs of a `GET`.
    url: Url,
    /// The body; empty for none.
    body: Template,
    static_headers: StaticHeaders,
    dynamic_headers: Box<[DynamicHeader]>,
    rare: Option<Box<Rare>>,
}

/// What few services have, kept out of line: most are unsigned, retry as
/// the defaults say, send no query pair that is a secret and resolve no
/// secret reference. 8 bytes for those, where the fields took 104.
struct Rare {
    /// The values of the secrets given by reference (`secret_ref`), which
    /// the JSON keeps as references, in the order they are walked.
    resolved: Box<[Secret]>,
    /// The retry policy exactly: the JSON holds delays in whole seconds.
    retry: Option<RetryPolicy>,
    /// Query parameters redacted beyond the rule, in any case: the
    /// configuration's `secret_parameters`.
    secret_parameters: Box<[Box<str>]>,
    /// The keys of a `GET`'s pairs that are secrets, redacted as written.
    secret_pairs: Box<[Box<str>]>,
    /// The body shown to people, for a body with pairs that are secrets:
    /// each such pair's value a literal `[redacted]`, which the redacting
    /// lookup cannot do for text written in the configuration.
    shown_body: Option<Template>,
    signer: Option<Signer>,
}

impl Rare {
    fn is_some(&self) -> bool {
        !self.resolved.is_empty()
            || self.retry.is_some()
            || !self.secret_parameters.is_empty()
            || !self.secret_pairs.is_empty()
            || self.shown_body.is_some()
            || self.signer.is_some()
    }
}

/// Equal services were compiled from equal configurations (the same JSON,
/// secret references resolved alike, the same retry policy) and are
/// enabled alike.
impl PartialEq for Service {
    fn eq(&self, other: &Service) -> bool {
        self.enabled == other.enabled
            && self.compiled.json == other.compiled.json
            && self.compiled.resolved() == other.compiled.resolved()
            && self.compiled.retry() == other.compiled.retry()
    }
}

impl Compiled {
    /// The id. Compiling checked it is a UUID, which JSON holds unescaped
    /// right after `{"id":"`, the first field.
    fn id(&self) -> &str {
        self.json
            .get(7..43)
            .and_then(|id| std::str::from_utf8(id).ok())
            .unwrap_or_default()
    }

    fn resolved(&self) -> &[Secret] {
        self.rare.as_ref().map_or(&[], |rare| &rare.resolved)
    }

    fn signer(&self) -> Option<&Signer> {
        self.rare.as_ref()?.signer.as_ref()
    }

    fn retry(&self) -> Option<&RetryPolicy> {
        self.rare.as_ref()?.retry.as_ref()
    }

    /// The configuration, parsed, its references resolved and its retry
    /// policy as exact as it was.
    fn parse(&self, enabled: bool) -> ServiceConfig {
        let mut config: ServiceConfig = serde_json::from_slice(&self.json).unwrap_or_else(|_| {
            // Unreachable: the text is serde's own of a configuration.
            ServiceConfig::new(self.id(), "")
        });
        config.enabled = enabled;
        let references = config
            .secrets_mut()
            .into_iter()
            .map(|(_, secret)| secret)
            .filter(|secret| secret.reference().is_some());
        for (secret, resolved) in references.zip(self.resolved()) {
            *secret = resolved.clone();
        }
        config.retry = self.retry().cloned();
        config
    }
}

impl Service {
    /// Whether the service was compiled from `config`, but perhaps for
    /// `enabled`: a reload reuses it then.
    pub(crate) fn compiled_from(&self, config: &ServiceConfig) -> bool {
        config.retry.as_ref() == self.compiled.retry()
            && stored_json(config).is_ok_and(|json| json == self.compiled.json)
            && *resolved_references(config.secrets()) == *self.compiled.resolved()
    }
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service")
            .field("config", &self.config())
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// Which of a service's templates a render error comes from.
#[derive(Clone, Copy)]
enum Part {
    Url,
    Body,
    /// The templated header at this index of `headers`.
    Header(usize),
}

impl Compiled {
    /// Whether every request of the service has an empty body: a `GET`
    /// whose pairs go in its query, or a service with no body.
    fn never_has_a_body(&self) -> bool {
        self.body.is_static() && self.body.leading_literal().is_empty()
    }

    /// Names the service and the field of a render error from `part`, and
    /// locates its placeholder in the configuration's text: the templates
    /// keep no source of their own.
    #[cold]
    fn locate(&self, e: Error, part: Part) -> Error {
        let config = &self.parse(true);
        let get = config.method == Method::Get;
        let source = e.spot().and_then(|(fragment, _)| match part {
            Part::Url => config.url_fragment(fragment),
            Part::Body => config.body.fragment(get, fragment),
            Part::Header(i) => {
                let value = &config.headers.get(i).filter(|_| fragment == 0)?.value;
                Some((format!("headers.{i}.value"), value.as_str()))
            }
        });
        let e = match (source, part) {
            (Some((path, text)), _) => e.located(text).in_field(&path),
            // A problem of the rendered whole (a `..` segment) has no spot.
            (None, _) if e.field().is_some() => e,
            (None, Part::Url) => e.in_field("url"),
            (None, Part::Body) => e.in_field("body"),
            (None, Part::Header(i)) => e.in_field(&format!("headers.{i}.value")),
        };
        e.in_service(self.id())
    }

    /// Whether the URL query parameter `name` holds a secret for this
    /// service, beyond the rule.
    fn names_secret_parameter(&self, name: &str) -> bool {
        self.rare.as_ref().is_some_and(|rare| {
            rare.secret_parameters
                .iter()
                .any(|p| p.eq_ignore_ascii_case(name))
                || rare.secret_pairs.iter().any(|key| **key == *name)
        })
    }
}

impl Service {
    /// The configuration the service was compiled from, `enabled` as the
    /// service is now ([`Service::is_enabled`]).
    ///
    /// A service keeps its configuration as the compact JSON a host stores
    /// for it, at under half the memory of the parsed struct, so this
    /// parses it: about as long as `serde_json` takes to read the service
    /// (a few microseconds). It is for admin screens and saving; rendering
    /// never reads it. [`Service::to_json`] gives the text without parsing.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config};
    ///
    /// let config = Config::from_json(include_str!("../../examples/configs/ringcx.json"))?;
    /// let service = config.services[0].compile(Catalog::standard())?;
    /// assert_eq!(service.config(), config.services[0]);
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn config(&self) -> ServiceConfig {
        self.compiled.parse(self.enabled)
    }

    /// The configuration as JSON, what `serde_json` writes for
    /// [`Service::config`]: the row a host stores for the service. Secrets
    /// given by reference stay references.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, Config, ServiceConfig};
    ///
    /// let config = Config::from_json(include_str!("../../examples/configs/pbx.json"))?;
    /// let service = config.services[0].compile(Catalog::standard())?;
    /// let row = service.to_json();
    /// assert_eq!(row, serde_json::to_string(&config.services[0]).unwrap());
    /// let again: ServiceConfig = serde_json::from_str(&row).unwrap();
    /// assert_eq!(again, config.services[0]);
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn to_json(&self) -> String {
        if self.enabled {
            // The row is kept without its version (a registry writes it so,
            // inside a configuration); one stored on its own has it.
            return with_version(&String::from_utf8_lossy(&self.compiled.json));
        }
        serde_json::to_string(&self.config()).unwrap_or_default()
    }

    /// The URL as configured, for an admin screen: read from the stored
    /// JSON without parsing the rest, the values of secret query parameters
    /// redacted.
    pub(crate) fn url_text(&self) -> String {
        #[derive(Deserialize)]
        struct UrlOnly {
            url: String,
        }
        serde_json::from_slice::<UrlOnly>(&self.compiled.json)
            .map(|only| {
                redact_query(&only.url, &|name| {
                    self.compiled.names_secret_parameter(name)
                })
            })
            .unwrap_or_default()
    }

    /// The service id.
    #[must_use]
    pub fn id(&self) -> &str {
        self.compiled.id()
    }

    /// Whether the service is enabled.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Enables or disables the service; nothing is compiled or copied.
    pub(crate) fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    /// Whether two services share one compiled form.
    #[cfg(test)]
    pub(crate) fn shares_compiled(&self, other: &Service) -> bool {
        Arc::ptr_eq(&self.compiled, &other.compiled)
    }

    /// The HTTP method.
    #[must_use]
    pub fn method(&self) -> &http::Method {
        self.compiled.method.as_http_static()
    }

    /// The retry policy: the service's, or the default.
    #[must_use]
    pub fn retry_policy(&self) -> RetryPolicy {
        self.compiled.retry().cloned().unwrap_or_default()
    }

    /// Every field the service's templates use (URL, body, headers), each
    /// once.
    #[must_use]
    pub fn fields(&self) -> Vec<&str> {
        let mut fields: Vec<&str> = Vec::new();
        let url = match &self.compiled.url {
            Url::Static(_) => None,
            Url::Templated(url) => Some(url.fields()),
        };
        let all = url
            .into_iter()
            .flatten()
            .chain(self.compiled.body.fields())
            .chain(
                self.compiled
                    .dynamic_headers
                    .iter()
                    .flat_map(|h| h.value.fields()),
            );
        for field in all {
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        fields
    }

    /// The body template as configured, for showing to an administrator
    /// before saving: the raw template, or the pairs as
    /// `key=value` lines, the values of secret pairs `[redacted]`.
    #[must_use]
    pub fn body_text(&self) -> String {
        let pairs = |pairs: &[Pair]| {
            pairs
                .iter()
                .map(|p| {
                    let value = if p.is_secret() { REDACTED } else { &p.value };
                    format!("{}={value}\n", p.key)
                })
                .collect::<String>()
        };
        match &self.compiled.parse(self.enabled).body {
            BodyConfig::None => String::new(),
            BodyConfig::Form { pairs: p } => pairs(p),
            BodyConfig::Json {
                template: Some(t), ..
            }
            | BodyConfig::Xml {
                template: Some(t), ..
            } => t.clone(),
            BodyConfig::Json { pairs: p, .. } | BodyConfig::Xml { pairs: p, .. } => pairs(p),
            BodyConfig::Soap { parameters, .. } => pairs(parameters),
        }
    }
}

#[cfg(test)]
mod tests;
