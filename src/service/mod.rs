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
use std::time::Duration;

use crate::auth::{Auth, Credential};
use crate::body::{BodyConfig, Origin, Pair};
use crate::error::Error;
use crate::health::HealthPolicy;
use crate::retry::RetryPolicy;
use crate::secret::{redact_query, Secret, REDACTED};
use crate::signer::Signer;
use crate::template::Template;
use crate::version::with_version;
use compile::resolved_references;
use headers::{DynamicHeader, StaticHeaders};
use stored::Stored;
use url::Url;

mod compile;
mod config;
mod headers;
mod request;
mod show;
mod sign;
mod stored;
mod url;

pub(crate) use config::{service_needs_format_3, service_row_needs_format_3};
pub use config::{Method, ServiceConfig};
pub(crate) use headers::check_request_form;
pub use headers::USER_AGENT;
pub(crate) use show::Shown;
pub(crate) use sign::{token_needed, SendAuth};

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
    /// The id, held rather than read from the JSON; the registry keys the
    /// service by this very `Arc`, and dispatch lends it to requests.
    id: Arc<str>,
    /// The configuration as the service keeps it: the compact JSON a host
    /// stores for it, under half the bytes of the parsed struct, parsed
    /// again only when a struct is asked for; nothing on the render path
    /// reads it. `enabled` is written `true`: whether the service is
    /// enabled is kept beside the compiled part.
    json: Stored,
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
/// the defaults say, send no query pair that is a secret, resolve no
/// secret reference and authenticate by none. 8 bytes for those.
struct Rare {
    /// The values of the secrets given by reference (`secret_ref`), which
    /// the JSON keeps as references, in the order they are walked.
    resolved: Box<[Secret]>,
    /// The static headers of names envelopes never store (an
    /// `Authorization` in `headers`), added back when a request is signed.
    restored: Box<[(http::HeaderName, http::HeaderValue)]>,
    /// The retry policy exactly: the JSON holds delays in whole seconds.
    retry: Option<RetryPolicy>,
    /// The health policy exactly, as the retry policy is kept.
    health: Option<HealthPolicy>,
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
    /// The authentication, its secret references resolved: applied when a
    /// request is signed for sending, never compiled into one.
    auth: Auth,
    /// Its credential, made once, for the kinds that need no time, token
    /// or registry (Basic, Bearer, API key, query key).
    credential: Option<Credential>,
    /// The request timeout, when the service sets one.
    timeout: Option<Duration>,
    /// The fallback URLs, compiled as the URL is.
    fallbacks: Box<[Url]>,
    /// Failures on one URL before the next (`fallback_after`).
    fallback_after: u32,
}

impl Rare {
    fn is_some(&self) -> bool {
        !self.resolved.is_empty()
            || !self.restored.is_empty()
            || self.retry.is_some()
            || self.health.is_some()
            || !self.secret_parameters.is_empty()
            || !self.secret_pairs.is_empty()
            || self.shown_body.is_some()
            || self.signer.is_some()
            || self.auth != Auth::None
            || self.timeout.is_some()
            || !self.fallbacks.is_empty()
            || self.fallback_after != ServiceConfig::DEFAULT_FALLBACK_AFTER
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
            && self.compiled.health() == other.compiled.health()
    }
}

impl Compiled {
    fn resolved(&self) -> &[Secret] {
        self.rare.as_ref().map_or(&[], |rare| &rare.resolved)
    }

    fn signer(&self) -> Option<&Signer> {
        self.rare.as_ref()?.signer.as_ref()
    }

    fn auth(&self) -> &Auth {
        self.rare.as_ref().map_or(&Auth::None, |rare| &rare.auth)
    }

    fn retry(&self) -> Option<&RetryPolicy> {
        self.rare.as_ref()?.retry.as_ref()
    }

    fn health(&self) -> Option<&HealthPolicy> {
        self.rare.as_ref()?.health.as_ref()
    }

    /// The configuration, parsed, its references resolved and its retry
    /// policy as exact as it was.
    ///
    /// # Panics
    ///
    /// If serde_json cannot read back the text it wrote for a
    /// configuration: a bug in a `Serialize` or `Deserialize` of the
    /// configuration's types, which `tests/stored_data.rs` and every
    /// round-trip test would show. No configuration stands in for it.
    fn parse(&self, enabled: bool) -> ServiceConfig {
        #[cfg(test)]
        parses::count();
        let mut config: ServiceConfig = match serde_json::from_str(self.json.json()) {
            Ok(config) => config,
            Err(e) => panic!("a service's kept JSON does not read back: {e}"),
        };
        config.enabled = enabled;
        let resolved = self.resolved();
        if !resolved.is_empty() {
            let references = config
                .secrets_mut()
                .into_iter()
                .map(|(_, secret)| secret)
                .filter(|secret| secret.reference().is_some());
            for (secret, resolved) in references.zip(resolved) {
                *secret = resolved.clone();
            }
        }
        config.retry = self.retry().cloned();
        config.health = self.health().cloned();
        config
    }
}

/// The text of the fragment `origin` names in `config`.
fn fragment_text(config: &ServiceConfig, origin: Origin) -> Option<&str> {
    let pair = |list: &str, i: usize| {
        let (path, pairs) = config.body.pairs()?;
        Some(pairs.get(i).filter(|_| path == list)?.value.as_str())
    };
    match origin {
        Origin::Url => Some(&config.url),
        Origin::BodyTemplate => config.body.template(),
        Origin::Pair(i) | Origin::Parameter(i) => pair(origin.list(), i),
        Origin::Header(i) => Some(config.headers.get(i)?.value.as_str()),
        Origin::FallbackUrl(i) => Some(config.fallback_urls.get(i)?.as_str()),
    }
}

impl Service {
    /// Whether the service was compiled from `config`, but perhaps for
    /// `enabled`: a reload reuses it then.
    pub(crate) fn compiled_from(&self, config: &ServiceConfig) -> bool {
        config.retry.as_ref() == self.compiled.retry()
            && config.health.as_ref() == self.compiled.health()
            && self.compiled.json.written_by(config)
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

/// Which of a service's templates a render error comes from, for an error
/// of the rendered whole, which has no placeholder to locate.
#[derive(Clone, Copy)]
enum Part {
    Url,
    Body,
    /// The templated header at this index of `headers`.
    Header(usize),
    /// The fallback URL at this index of `fallback_urls`.
    FallbackUrl(usize),
}

impl Compiled {
    /// Whether every request of the service has an empty body: a `GET`
    /// whose pairs go in its query, or a service with no body.
    fn never_has_a_body(&self) -> bool {
        self.body.is_static() && self.body.leading_literal().is_empty()
    }

    /// Names the service and the field of a render error, and locates its
    /// placeholder in the configuration's text: the templates keep no
    /// source of their own. The placeholder's spot says where its fragment
    /// came from ([`Origin`], recorded when it was compiled).
    ///
    /// The text is read from the kept configuration, parsed here: a render
    /// error is rare (a missing value with no default, CR or LF in a
    /// header), and the error holds the line and column only this finds.
    #[cold]
    fn locate(&self, e: Error, part: Part) -> Error {
        let origin = e.spot().and_then(|(code, _)| Origin::from_code(code));
        let located = origin.and_then(|origin| {
            let config = self.parse(true);
            let text = fragment_text(&config, origin)?.to_owned();
            Some(e.clone().located(&text).in_field(&origin.path()))
        });
        let e = match (located, part) {
            (Some(e), _) => e,
            // A problem of the rendered whole (a `..` segment) has no spot.
            (None, _) if e.field().is_some() => e,
            (None, Part::Url) => e.in_field("url"),
            (None, Part::Body) => e.in_field("body"),
            (None, Part::Header(i)) => e.in_field(&format!("headers.{i}.value")),
            (None, Part::FallbackUrl(i)) => e.in_field(&Origin::FallbackUrl(i).path()),
        };
        e.in_service(&self.id)
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
        // The row is kept without its version (a registry writes it so,
        // inside a configuration); one stored on its own has it.
        let row = self.compiled.json.to_json(self.enabled);
        with_version(&row, service_row_needs_format_3(&row))
    }

    /// Appends the row [`Service::to_json`] gives, without its version, as
    /// a configuration holds it: the kept text, not parsed.
    pub(crate) fn write_row(&self, out: &mut String) {
        self.compiled.json.write_json(self.enabled, out);
    }

    /// The length of what [`Service::write_row`] appends.
    pub(crate) fn row_len(&self) -> usize {
        // `false` is a byte longer than the `true` kept.
        self.compiled.json.json().len() + usize::from(!self.enabled)
    }

    /// The URL as configured, for an admin screen: read from the stored
    /// JSON without parsing the rest, the values of secret query parameters
    /// redacted.
    pub(crate) fn url_text(&self) -> String {
        redact_query(&self.compiled.json.url(), &|name| {
            self.compiled.names_secret_parameter(name)
        })
    }

    /// The authentication, as configured (a named entry stays its name),
    /// its secret references resolved.
    pub(crate) fn auth(&self) -> &Auth {
        self.compiled.auth()
    }

    /// The service id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.compiled.id
    }

    /// The id as the service holds it, for the registry to key the service
    /// by and lend to requests without a copy.
    pub(crate) fn shared_id(&self) -> &Arc<str> {
        &self.compiled.id
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
        // A service that sets no policy of its own retries as the defaults
        // say: what `ServiceConfig::retry` documents, not a fallback.
        self.compiled.retry().cloned().unwrap_or_default()
    }

    /// The health policy: the service's, or the default.
    #[must_use]
    pub fn health_policy(&self) -> HealthPolicy {
        self.compiled.health().cloned().unwrap_or_default()
    }

    /// How long a request waits for its response: the service's
    /// `timeout`, or [`ServiceConfig::DEFAULT_TIMEOUT`] (30 s).
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.compiled
            .rare
            .as_ref()
            .and_then(|rare| rare.timeout)
            .unwrap_or(ServiceConfig::DEFAULT_TIMEOUT)
    }

    /// How many times a delivery fails on one URL before it moves to the
    /// next fallback URL: the service's `fallback_after`, or
    /// [`ServiceConfig::DEFAULT_FALLBACK_AFTER`] (2).
    #[must_use]
    pub fn fallback_after(&self) -> u32 {
        self.compiled
            .rare
            .as_ref()
            .map_or(ServiceConfig::DEFAULT_FALLBACK_AFTER, |rare| {
                rare.fallback_after
            })
    }

    /// Every field the service's templates use (URL, fallback URLs, body,
    /// headers), each once.
    #[must_use]
    pub fn fields(&self) -> Vec<&str> {
        let mut fields: Vec<&str> = Vec::new();
        let urls = std::iter::once(&self.compiled.url)
            .chain(self.compiled.fallbacks())
            .filter_map(Url::fields)
            .flatten();
        let all = urls.chain(self.compiled.body.fields()).chain(
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

/// How many times kept JSON was parsed into a configuration, on this
/// thread: tests count it to show which paths parse none.
#[cfg(test)]
pub(crate) mod parses {
    use std::cell::Cell;

    thread_local! {
        static PARSES: Cell<usize> = const { Cell::new(0) };
    }

    pub(super) fn count() {
        PARSES.with(|n| n.set(n.get() + 1));
    }

    /// The parses so far on this thread.
    pub(crate) fn so_far() -> usize {
        PARSES.with(Cell::get)
    }
}

#[cfg(test)]
mod tests;
