//! A service's configuration: [`ServiceConfig`], its builder methods, and
//! [`Method`].

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

#[cfg(doc)]
use super::Service;
use crate::auth::Auth;
use crate::body::{BodyConfig, Pair};
use crate::error::Error;
use crate::health::HealthPolicy;
use crate::retry::RetryPolicy;
use crate::secret::{redact_query, Secret};
use crate::signer::SigningConfig;
use crate::template::{Missing, Syntax};
use crate::version::{self, Version};

/// The HTTP method of a service.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum Method {
    /// `GET`: pairs go into the query string.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

/// The `http` crate's methods, for [`Service::method`] to lend.
static HTTP_METHODS: [http::Method; 5] = [
    http::Method::GET,
    http::Method::POST,
    http::Method::PUT,
    http::Method::PATCH,
    http::Method::DELETE,
];

impl Method {
    /// The `http` crate's method, lent for as long as the program runs.
    pub(super) fn as_http_static(self) -> &'static http::Method {
        match self {
            Method::Get => &HTTP_METHODS[0],
            Method::Post => &HTTP_METHODS[1],
            Method::Put => &HTTP_METHODS[2],
            Method::Patch => &HTTP_METHODS[3],
            Method::Delete => &HTTP_METHODS[4],
        }
    }

    /// The `http` crate's method.
    #[must_use]
    pub fn as_http(self) -> http::Method {
        match self {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
            Method::Put => http::Method::PUT,
            Method::Patch => http::Method::PATCH,
            Method::Delete => http::Method::DELETE,
        }
    }
}

fn enabled_by_default() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A web service as configured.
///
/// ```
/// use callhook::ServiceConfig;
///
/// let config: ServiceConfig = serde_json::from_str(r##"{
///     "id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b",
///     "name": "A test web service",
///     "method": "POST",
///     "url": "https://crm.example.com/calls",
///     "body": {"kind": "form", "pairs": [{"key": "agent_id", "value": "#agent_id#"}]}
/// }"##)?;
/// let service = config.compile(callhook::Catalog::standard())?;
/// let call = callhook::CallData::new().with("agent_id", "1001");
/// let request = service.request(&call)?;
/// assert_eq!(request.body(), b"agent_id=1001");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// The format version the service's row is written in: the lowest that
    /// holds it, 3 with a `phone_region` or a placeholder option of format
    /// 3 (`|upper`, `|phone:e164`...) and 2 without (so that older readers
    /// load it), 1 if absent (written before format versions). Written
    /// first, so that a reader meets it before any field it may not know;
    /// a reader refuses a newer format than its own.
    /// A service inside a configuration writes none: it follows the
    /// configuration's.
    // Absent is format 1, though a value in memory is written as the
    // current one.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(extend("default" = 1)))]
    pub(crate) version: Version,
    /// A UUID, for tracing.
    pub id: String,
    /// The name shown to administrators ("A test web service").
    pub name: String,
    /// A longer description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Whether the service is active.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// A group to file the service under (RingCX's web service groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The HTTP method.
    pub method: Method,
    /// An absolute http(s) URL template; placeholders only in path and query.
    pub url: String,
    /// The placeholder syntax of every template of the service.
    #[serde(default)]
    pub syntax: Syntax,
    /// Leave placeholders naming unknown fields as literal text (RingCX
    /// sends unknown tags as written) instead of refusing the service.
    #[serde(default, skip_serializing_if = "is_false")]
    pub lenient: bool,
    /// One missing-value policy for every placeholder, instead of the
    /// per-context defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Missing>,
    /// The body.
    #[serde(default)]
    pub body: BodyConfig,
    /// Extra headers, static or templated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Pair>,
    /// Authentication.
    #[serde(default)]
    pub auth: Auth,
    /// Keep a redacted record of each request for the host to store
    /// (RingCX's Debug flag); see [`Service::debug_record`].
    #[serde(default, skip_serializing_if = "is_false")]
    pub debug: bool,
    /// How requests are signed, if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningConfig>,
    /// How failed deliveries are retried; the defaults if not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    /// How its endpoints' health is judged: when the circuit breaker
    /// pauses deliveries and when a webhook is disabled
    /// ([`Registry::health_policy`](crate::Registry::health_policy)); the
    /// defaults if not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthPolicy>,
    /// Query parameters of the URL whose values are secrets, beyond those
    /// whose names say so (`token`, `api_key`, `sig`...: see the README's
    /// rule); redacted in `Debug`, previews and debug records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_parameters: Vec<String>,
    /// How long the host waits for the receiver's response to one
    /// request, connecting included, written like the retry policy's
    /// durations (`"20s"`); [`ServiceConfig::DEFAULT_TIMEOUT`] (30 s) if
    /// not set. Whole seconds, from
    /// [`limits::SHORTEST_TIMEOUT`](crate::limits::SHORTEST_TIMEOUT) (1 s)
    /// to [`limits::LONGEST_TIMEOUT`](crate::limits::LONGEST_TIMEOUT)
    /// (5 minutes). Callhook sends nothing itself: a sender reads it from
    /// [`Registry::request_timeout`](crate::Registry::request_timeout).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "optional_duration"
    )]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<crate::retry::DurationText>")
    )]
    pub timeout: Option<Duration>,
    /// URLs to send to when `url` keeps failing, tried in order (Twilio's
    /// fallback URL, Telnyx's failover URL): each compiled and rendered
    /// under exactly the rules of `url` (placeholders in path and query
    /// only, the address policy, a `GET`'s pairs as its query,
    /// `secret_parameters`), at most
    /// [`limits::FALLBACK_URLS`](crate::limits::FALLBACK_URLS). Dispatch
    /// renders them into [`Outgoing::fallbacks`](crate::Outgoing::fallbacks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_urls: Vec<String>,
    /// How many times a delivery fails on one URL before it moves to the
    /// next of `fallback_urls`:
    /// [`ServiceConfig::DEFAULT_FALLBACK_AFTER`] (2) if not set; from 1 to
    /// [`limits::RETRY_ATTEMPTS`](crate::limits::RETRY_ATTEMPTS).
    #[serde(
        default = "default_fallback_after",
        skip_serializing_if = "is_default_fallback_after"
    )]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub fallback_after: u32,
    /// The region phone-number placeholder options (`|phone:e164`...)
    /// read a number written without a country code in: a two-letter
    /// ISO 3166-1 code as libphonenumber knows it (`"AU"`: `0400 123 456`
    /// is `+61400123456`). Not set, such a number is not a phone number
    /// and passes through unchanged. Needs callhook's `phone` feature; a
    /// service setting it is written as format version 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_region: Option<String>,
}

/// Written as derived, with `version` the lowest format that holds the
/// service (`Version` alone cannot see the other fields): `Written` is its
/// shape, borrowed.
impl Serialize for ServiceConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let version = version::written(service_needs_format_3(self));
        Written::of(self, Some(version)).serialize(serializer)
    }
}

/// [`ServiceConfig`]'s fields in its order with its attributes, borrowed,
/// and its version as worked out, or none (what [`service_needs_format_3`]
/// reads, so that working out the version does not ask for it again).
#[derive(Serialize)]
#[serde(rename = "ServiceConfig")]
struct Written<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u32>,
    id: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: &'a Option<String>,
    method: Method,
    url: &'a str,
    syntax: Syntax,
    #[serde(skip_serializing_if = "is_false")]
    lenient: &'a bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: &'a Option<Missing>,
    body: &'a BodyConfig,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    headers: &'a [Pair],
    auth: &'a Auth,
    #[serde(skip_serializing_if = "is_false")]
    debug: &'a bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    signing: &'a Option<SigningConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry: &'a Option<RetryPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    health: &'a Option<HealthPolicy>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    secret_parameters: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none", with = "optional_duration")]
    timeout: &'a Option<Duration>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    fallback_urls: &'a [String],
    #[serde(skip_serializing_if = "is_default_fallback_after")]
    fallback_after: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_region: &'a Option<String>,
}

impl<'a> Written<'a> {
    fn of(service: &'a ServiceConfig, version: Option<u32>) -> Written<'a> {
        // Every field named, none left to `..`: a field added to
        // `ServiceConfig` does not compile until it is written here too.
        let ServiceConfig {
            version: _,
            id,
            name,
            description,
            enabled,
            group,
            method,
            url,
            syntax,
            lenient,
            missing,
            body,
            headers,
            auth,
            debug,
            signing,
            retry,
            health,
            secret_parameters,
            timeout,
            fallback_urls,
            fallback_after,
            phone_region,
        } = service;
        Written {
            version,
            id,
            name,
            description,
            enabled: *enabled,
            group,
            method: *method,
            url,
            syntax: *syntax,
            lenient,
            missing,
            body,
            headers,
            auth,
            debug,
            signing,
            retry,
            health,
            secret_parameters,
            timeout,
            fallback_urls,
            fallback_after: *fallback_after,
            phone_region,
        }
    }
}

fn default_fallback_after() -> u32 {
    ServiceConfig::DEFAULT_FALLBACK_AFTER
}

fn is_default_fallback_after(n: &u32) -> bool {
    *n == ServiceConfig::DEFAULT_FALLBACK_AFTER
}

/// An enabled `POST` service with no id, URL, body or headers: the base of
/// [`ServiceConfig::new`] and of struct update syntax.
impl Default for ServiceConfig {
    fn default() -> ServiceConfig {
        ServiceConfig {
            version: Version,
            id: String::new(),
            name: String::new(),
            description: String::new(),
            enabled: true,
            group: None,
            method: Method::Post,
            url: String::new(),
            syntax: Syntax::default(),
            lenient: false,
            missing: None,
            body: BodyConfig::None,
            headers: Vec::new(),
            auth: Auth::None,
            debug: false,
            signing: None,
            retry: None,
            health: None,
            secret_parameters: Vec::new(),
            timeout: None,
            fallback_urls: Vec::new(),
            fallback_after: ServiceConfig::DEFAULT_FALLBACK_AFTER,
            phone_region: None,
        }
    }
}

impl ServiceConfig {
    /// How long a request waits for its response when the service sets no
    /// `timeout`: 30 seconds, the top of the 15–30 s the Standard Webhooks
    /// specification recommends, so that a slow receiver that answers
    /// within what it was promised is not retried.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// How many times a delivery fails on one URL before it moves to the
    /// next when the service sets no `fallback_after`: 2, so that one
    /// lost connection does not move it, and a receiver that is down
    /// loses a delivery's second attempt, not its last.
    pub const DEFAULT_FALLBACK_AFTER: u32 = 2;

    /// A service posting to `url`, enabled, with no body, headers or auth
    /// yet; the `with_` builder methods below, or the public fields, set the
    /// rest.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{BodyConfig, Catalog, Id, Pair, ServiceConfig};
    ///
    /// let service = ServiceConfig::new(Id::from_bytes([1; 16]), "https://crm.example.com/calls")
    ///     .with_name("CRM call log")
    ///     .with_body(BodyConfig::Form { pairs: vec![Pair::new("ani", "#ani#")] })
    ///     .with_header("X-Source", "pbx")
    ///     .compile(Catalog::standard())?;
    /// let request = service.request(&callhook::CallData::new().with("ani", "555"))?;
    /// assert_eq!(request.body(), b"ani=555");
    /// # Ok::<(), callhook::Error>(())
    /// ```
    #[must_use]
    pub fn new(id: impl Into<String>, url: impl Into<String>) -> ServiceConfig {
        ServiceConfig {
            id: id.into(),
            url: url.into(),
            ..ServiceConfig::default()
        }
    }

    /// Sets the name shown to administrators.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> ServiceConfig {
        self.name = name.into();
        self
    }

    /// Sets the HTTP method.
    #[must_use]
    pub fn with_method(mut self, method: Method) -> ServiceConfig {
        self.method = method;
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn with_body(mut self, body: BodyConfig) -> ServiceConfig {
        self.body = body;
        self
    }

    /// Adds a header, static or templated.
    #[must_use]
    pub fn with_header(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> ServiceConfig {
        self.headers.push(Pair::new(key, value));
        self
    }

    /// Sets the authentication.
    #[must_use]
    pub fn with_auth(mut self, auth: Auth) -> ServiceConfig {
        self.auth = auth;
        self
    }

    /// Sets how requests are signed.
    #[must_use]
    pub fn with_signing(mut self, signing: SigningConfig) -> ServiceConfig {
        self.signing = Some(signing);
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> ServiceConfig {
        self.retry = Some(retry);
        self
    }

    /// Sets the placeholder syntax.
    #[must_use]
    pub fn with_syntax(mut self, syntax: Syntax) -> ServiceConfig {
        self.syntax = syntax;
        self
    }

    /// Sets how long a request waits for its response.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> ServiceConfig {
        self.timeout = Some(timeout);
        self
    }

    /// Adds a fallback URL, tried after the URL and those added before.
    #[must_use]
    pub fn with_fallback_url(mut self, url: impl Into<String>) -> ServiceConfig {
        self.fallback_urls.push(url.into());
        self
    }

    /// Sets whether the service is active.
    #[must_use]
    pub fn with_enabled(mut self, enabled: bool) -> ServiceConfig {
        self.enabled = enabled;
        self
    }

    /// The configuration as compact JSON, which
    /// [`ServiceConfig::from_json`] reads back. Secrets given by reference
    /// stay references; inline ones are written as they are.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Every field serialises as text, numbers, booleans or maps keyed
        // by text, so serde_json cannot fail on a `ServiceConfig`.
        serde_json::to_string(self).expect("a service's configuration is always JSON")
    }

    /// Every secret of the service (auth and signing), with its field path.
    pub(crate) fn secrets_mut(&mut self) -> Vec<(String, &mut Secret)> {
        secrets_in(&mut self.auth, &mut self.signing)
    }

    /// Every secret of the service, with its field path, taken from a copy
    /// of `auth` and `signing`.
    pub(super) fn secrets(&self) -> Vec<(String, Secret)> {
        let (mut auth, mut signing) = (self.auth.clone(), self.signing.clone());
        secrets_in(&mut auth, &mut signing)
            .into_iter()
            .map(|(field, secret)| (field, std::mem::replace(secret, Secret::new(""))))
            .collect()
    }

    /// Whether the URL query parameter `name` holds a secret for this
    /// service, beyond the rule: listed in `secret_parameters`, or a `GET`
    /// pair marked secret.
    fn names_secret_parameter(&self, name: &str) -> bool {
        self.secret_parameters
            .iter()
            .any(|p| p.eq_ignore_ascii_case(name))
            || self
                .body
                .query_pairs(self.method == Method::Get)
                .is_some_and(|pairs| pairs.iter().any(|p| p.key == name && p.is_secret()))
    }
}

impl ServiceConfig {
    /// Reads a service's row, as [`Service::to_json`] or serde writes it,
    /// from JSON text. Nothing is compiled yet; see
    /// [`ServiceConfig::compile`].
    ///
    /// # Errors
    ///
    /// A row written in a format newer than this version of callhook reads
    /// is an error of kind [`ErrorKind::NewerFormat`] that says so, whatever
    /// else it holds. Text that is not JSON, or not of a service's shape (an
    /// unknown key, a missing `url`), is an error of kind
    /// [`ErrorKind::Serde`] with the line and column, and for an unknown
    /// key the nearest known one.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{ErrorKind, ServiceConfig};
    ///
    /// let row = r#"{"version": 2, "id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b",
    ///     "name": "crm", "method": "POST", "url": "https://crm.example.com/calls"}"#;
    /// assert_eq!(ServiceConfig::from_json(row)?.name, "crm");
    /// let typo = ServiceConfig::from_json(&row.replace("\"name\"", "\"nmae\"")).unwrap_err();
    /// assert_eq!(typo.suggestion(), Some("name"));
    /// let newer = ServiceConfig::from_json(&row.replace("2,", "4,")).unwrap_err();
    /// assert_eq!(newer.kind(), ErrorKind::NewerFormat);
    /// # Ok::<(), callhook::Error>(())
    /// ```
    ///
    /// [`ErrorKind::NewerFormat`]: crate::ErrorKind::NewerFormat
    /// [`ErrorKind::Serde`]: crate::ErrorKind::Serde
    pub fn from_json(text: &str) -> Result<ServiceConfig, Error> {
        version::from_json(text)
    }
}

/// Secrets redacted: header and pair values that are secrets, query
/// parameters that are, and credentials.
impl fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("method", &self.method)
            .field(
                "url",
                &redact_query(&self.url, &|name| self.names_secret_parameter(name)),
            )
            .field(
                "fallback_urls",
                &self
                    .fallback_urls
                    .iter()
                    .map(|url| redact_query(url, &|name| self.names_secret_parameter(name)))
                    .collect::<Vec<_>>(),
            )
            .field("body", &self.body)
            .field("headers", &self.headers)
            .field("auth", &self.auth)
            .field("signing", &self.signing)
            .finish_non_exhaustive()
    }
}

/// An optional duration written as the retry policy writes durations.
mod optional_duration {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    use crate::retry::duration;

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        duration::deserialize(d).map(Some)
    }
}

/// Every secret of a service's `auth` and `signing`, with its field path.
fn secrets_in<'a>(
    auth: &'a mut Auth,
    signing: &'a mut Option<SigningConfig>,
) -> Vec<(String, &'a mut Secret)> {
    let mut secrets: Vec<(String, &'a mut Secret)> = Vec::new();
    for (field, secret) in auth.secrets_mut() {
        secrets.push((format!("auth.{field}"), secret));
    }
    if let Some(signing) = signing {
        secrets.extend(signing.secrets_mut());
    }
    secrets
}

/// Whether a service's configuration needs format 3: it has a
/// `phone_region`, or a template of it uses a placeholder option of format
/// 3. Every text of the service is asked, as only templates can hold a
/// placeholder.
pub(crate) fn service_needs_format_3(service: &ServiceConfig) -> bool {
    fn any_text(json: &serde_json::Value) -> bool {
        match json {
            serde_json::Value::String(text) => crate::template::uses_format_3(text),
            serde_json::Value::Array(items) => items.iter().any(any_text),
            serde_json::Value::Object(map) => map.values().any(any_text),
            _ => false,
        }
    }
    service.phone_region.is_some()
        // Written without a version: through `ServiceConfig`'s own
        // `Serialize` (or `Nested`, which calls it) this would ask again.
        || serde_json::to_value(Written::of(service, None)).is_ok_and(|json| any_text(&json))
}

/// Whether a service's kept row (compact JSON) needs format 3, as
/// [`service_needs_format_3`]; parsed only if it holds a `|`, which every
/// placeholder option follows, or names a `phone_region`.
pub(crate) fn service_row_needs_format_3(row: &str) -> bool {
    (row.contains('|') || row.contains("\"phone_region\""))
        && serde_json::from_str::<ServiceConfig>(row).is_ok_and(|s| service_needs_format_3(&s))
}
