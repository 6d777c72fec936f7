//! Web services: what an administrator configures once and the platform
//! invokes many times.
//!
//! A [`ServiceConfig`] is plain data (serde: JSON, TOML, a database row). It
//! compiles into a [`Service`], with every template checked and everything
//! that does not depend on the call (the URL when static, static headers,
//! content type, auth) parsed once. [`Service::request`] then renders a
//! [`Request`] for a call, and sends nothing.

use std::fmt;
use std::sync::{Arc, OnceLock};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::address::AddressPolicy;
use crate::auth::Auth;
use crate::body::{form_pairs, Body, BodyConfig, Pair, COMMON_CONTENT_TYPES};
use crate::call::{CallData, Lookup, Redacted};
use crate::catalog::Catalog;
use crate::error::{Error, ErrorKind};
use crate::id::is_uuid;
use crate::limits::{
    self, HEADERS, HEADER_BYTES, MAP_ENTRIES, PAIRS, SIGNING_SECRETS, TEMPLATE_BYTES, URL_BYTES,
};
use crate::preview::Preview;
use crate::request::Request;
use crate::retry::RetryPolicy;
use crate::secret::{names_secret, redact_query, Secret, REDACTED};
use crate::signing::{Signer, SigningConfig};
use crate::template::{
    is_dot_segment, url_has_query, Builder, Context, Missing, Options, Syntax, Template,
};

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
    fn as_http_static(self) -> &'static http::Method {
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
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ServiceConfig {
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
    /// Query parameters of the URL whose values are secrets, beyond those
    /// whose names say so (`token`, `api_key`, `sig`...: see the README's
    /// rule); redacted in `Debug`, previews and debug records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_parameters: Vec<String>,
}

/// An enabled `POST` service with no id, URL, body or headers: the base of
/// [`ServiceConfig::new`] and of struct update syntax.
impl Default for ServiceConfig {
    fn default() -> ServiceConfig {
        ServiceConfig {
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
            secret_parameters: Vec::new(),
        }
    }
}

impl ServiceConfig {
    /// A service posting to `url`, enabled, with no body, headers or auth
    /// yet; the builder methods below set the rest.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{BodyConfig, Catalog, Method, Pair, ServiceConfig};
    ///
    /// let service = ServiceConfig::new(callhook::id_from_bytes([1; 16]), "https://crm.example.com/calls")
    ///     .name("CRM call log")
    ///     .body(BodyConfig::Form { pairs: vec![Pair::new("ani", "#ani#")] })
    ///     .header("X-Source", "pbx")
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
    pub fn name(mut self, name: impl Into<String>) -> ServiceConfig {
        self.name = name.into();
        self
    }

    /// Sets the HTTP method.
    #[must_use]
    pub fn method(mut self, method: Method) -> ServiceConfig {
        self.method = method;
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: BodyConfig) -> ServiceConfig {
        self.body = body;
        self
    }

    /// Adds a header, static or templated.
    #[must_use]
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> ServiceConfig {
        self.headers.push(Pair::new(key, value));
        self
    }

    /// Sets the authentication.
    #[must_use]
    pub fn auth(mut self, auth: Auth) -> ServiceConfig {
        self.auth = auth;
        self
    }

    /// Sets how requests are signed.
    #[must_use]
    pub fn signing(mut self, signing: SigningConfig) -> ServiceConfig {
        self.signing = Some(signing);
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> ServiceConfig {
        self.retry = Some(retry);
        self
    }

    /// Sets the placeholder syntax.
    #[must_use]
    pub fn syntax(mut self, syntax: Syntax) -> ServiceConfig {
        self.syntax = syntax;
        self
    }

    /// Sets whether the service is active.
    #[must_use]
    pub fn enabled(mut self, enabled: bool) -> ServiceConfig {
        self.enabled = enabled;
        self
    }

    /// Every secret of the service (auth and signing), with its field path.
    pub(crate) fn secrets_mut(&mut self) -> Vec<(String, &mut Secret)> {
        secrets_in(&mut self.auth, &mut self.signing)
    }

    /// Every secret of the service, with its field path, taken from a copy
    /// of `auth` and `signing`.
    fn secrets(&self) -> Vec<(String, Secret)> {
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
            .field("body", &self.body)
            .field("headers", &self.headers)
            .field("auth", &self.auth)
            .field("signing", &self.signing)
            .finish_non_exhaustive()
    }
}

/// The `User-Agent` sent unless a service sets its own.
pub const USER_AGENT: &str = concat!("callhook/", env!("CARGO_PKG_VERSION"));

/// The static headers of most services: callhook's own for a body of each
/// common type, and for none. A service whose static headers are exactly
/// one of these shares it rather than holding a copy, about 340 bytes
/// less per service at platform scale; requests clone it all the same.
fn common_headers() -> &'static [HeaderMap] {
    static COMMON: OnceLock<Vec<HeaderMap>> = OnceLock::new();
    COMMON.get_or_init(|| {
        let mut maps = Vec::new();
        let mut bare = HeaderMap::new();
        bare.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        for content_type in COMMON_CONTENT_TYPES {
            let mut map = bare.clone();
            map.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            map.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            maps.push(map);
        }
        maps.push(bare);
        maps
    })
}

/// A service's static headers: a common map shared, or its own. 16 bytes,
/// where a map is 96.
enum StaticHeaders {
    Common(&'static HeaderMap),
    Own(Box<HeaderMap>),
}

impl StaticHeaders {
    /// `headers` as a service keeps them: a common map shared, where they
    /// are one, in the same order and with nothing sensitive, or else its
    /// own exact-size copy.
    fn of(headers: &HeaderMap) -> StaticHeaders {
        let common = common_headers()
            .iter()
            .find(|common| common.iter().eq(headers.iter()));
        match common {
            Some(common) if headers.values().all(|v| !v.is_sensitive()) => {
                StaticHeaders::Common(common)
            }
            // A map built by inserting keeps room for six headers; its
            // clone holds just its own, as each request's clone of it does.
            _ => StaticHeaders::Own(Box::new(headers.clone())),
        }
    }

    fn map(&self) -> &HeaderMap {
        match self {
            StaticHeaders::Common(map) => map,
            StaticHeaders::Own(map) => map,
        }
    }
}

/// Where a header comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    /// A service's `headers`, which may replace the `User-Agent` and
    /// `Content-Type` callhook sets.
    Headers,
    /// A service's `auth`, which may not.
    Auth,
    /// A request to sign, stored or given by the host: it may hold what
    /// callhook sets, but nothing that frames or routes the message.
    Request,
}

/// Headers that frame the message, route it, belong to one hop or speak to
/// the proxies on the way (RFC 9110 and 9112: framing, connection options,
/// and the fields hops and proxies act on, section 7.6 and the `Proxy-*`
/// fields of 11): the request itself decides them (the client sets
/// `Content-Length` from the body), never a service, and no request
/// callhook signs may hold one but `Content-Length` equal to the body's
/// length.
const FRAMING: [&str; 15] = [
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "proxy-authentication-info",
    "max-forwards",
    "via",
    "expect",
];

/// The one check every header name goes through, by any route: none may
/// frame the message, route it or speak to the hops and proxies on the way
/// ([`FRAMING`]), none may say the body is encoded when callhook never
/// encodes it (`Content-Encoding`), and `auth` may not silently replace a
/// header callhook sets.
fn check_header_name(name: &HeaderName, route: Route) -> Result<(), Error> {
    const SET_BY_CALLHOOK: [&str; 3] = ["user-agent", "content-type", "soapaction"];
    // Every `Proxy-*` field speaks to a proxy on the way, whether RFC 9110
    // names it yet (`Proxy-Status` is RFC 9209's) or not.
    if FRAMING.contains(&name.as_str()) || name.as_str().starts_with("proxy-") {
        let message = match route {
            Route::Request => format!(
                "the request has header `{name}`, which frames or routes the message: \
                 no request callhook builds has it"
            ),
            Route::Headers | Route::Auth => {
                format!("header `{name}` is set by the request itself, never by a service")
            }
        };
        return Err(Error::new(ErrorKind::InvalidHeader, message));
    }
    if *name == header::CONTENT_ENCODING {
        return Err(Error::new(
            ErrorKind::InvalidHeader,
            "callhook never compresses a body, so a service cannot set `content-encoding`",
        ));
    }
    if route == Route::Auth && SET_BY_CALLHOOK.contains(&name.as_str()) {
        return Err(Error::new(
            ErrorKind::InvalidHeader,
            format!("`auth` cannot carry its key in `{name}`, which callhook sets"),
        ));
    }
    Ok(())
}

/// Checks what every request callhook builds is, whatever its service: an
/// absolute `http` or `https` URL with no user information and no `.` or
/// `..` path segment (between `/` or `\`, which WHATWG parsers read as
/// `/`), no header that frames or routes the message but one
/// `Content-Length` equal to the body's length, and no header that is not
/// a list given twice. The part of
/// [`Service::check_request`] that needs no service, for a stored envelope
/// read with no registry at hand.
///
/// Nothing of the URL but its origin, and no header value, is put in an
/// error: a query or a header may hold a secret.
pub(crate) fn check_request_form(request: &Request) -> Result<(), Error> {
    let uri = request.uri();
    let invalid_url = |message: &str| Error::new(ErrorKind::InvalidUrl, message);
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(invalid_url(
            "the request's URL is not an absolute `http` or `https` URL",
        ));
    }
    let authority = uri.authority().map_or("", http::uri::Authority::as_str);
    if authority.contains('@') {
        return Err(invalid_url(
            "the request's URL carries a username or password, which callhook never sends",
        ));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid_url("the request's URL has no host"));
    }
    // WHATWG URL parsers (browsers, the `url` crate, so reqwest) read a
    // `\` in an `http(s)` path as a `/`: `/calls\..\admin` is sent as
    // `/admin`. callhook percent-encodes a `\` in a value.
    if uri
        .path()
        .split(['/', '\\'])
        .any(|segment| is_dot_segment(segment.as_bytes()))
    {
        return Err(Error::new(
            ErrorKind::UnsafeValue,
            "the request's URL has a `.` or `..` path segment, which clients would resolve",
        ));
    }
    let mut lengths = 0;
    for (name, value) in request.headers() {
        if name == header::CONTENT_LENGTH {
            // What a client would send for the body, and nothing else: a
            // length that is not the body's frames another message.
            lengths += 1;
            let length = value
                .to_str()
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok());
            if lengths > 1 || length != Some(request.body().len()) {
                return Err(Error::new(
                    ErrorKind::InvalidHeader,
                    format!(
                        "the request's `content-length` is not the length of its body ({} bytes)",
                        request.body().len()
                    ),
                ));
            }
            continue;
        }
        check_header_name(name, Route::Request)?;
    }
    // As at load: a header that is not a list may be given once.
    for name in request.headers().keys() {
        if !is_list_valued(name) && request.headers().get_all(name).iter().nth(1).is_some() {
            return Err(Error::new(
                ErrorKind::InvalidHeader,
                format!(
                    "the request has header `{name}` more than once: callhook sends it once, \
                     as receivers disagree on which of two copies counts"
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses a header name holding a placeholder delimiter of either syntax:
/// names are not templates, and `X-#ani#` is a valid name that would be sent
/// as written. Checked on the name as written, before it is parsed, so
/// `[[...]]` (never a valid name) gets this message too.
fn refuse_placeholder_in_name(key: &str) -> Result<(), Error> {
    if key.contains('#') || key.contains("[[") || key.contains("]]") {
        return Err(Error::new(
            ErrorKind::InvalidHeader,
            format!(
                "placeholders are not supported in header names: `{}` would be sent as written",
                crate::error::shown(key)
            ),
        ));
    }
    Ok(())
}

/// Whether a header is a list (RFC 9110 section 5.3): its lines are one
/// comma-separated value, so giving it twice says what one line would.
/// Any other header may be given once: receivers disagree on which of two
/// copies counts (the first, the last, or both joined).
fn is_list_valued(name: &HeaderName) -> bool {
    const LISTS: [&str; 10] = [
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "cache-control",
        "forwarded",
        "link",
        "pragma",
        "prefer",
        "x-forwarded-for",
    ];
    LISTS.contains(&name.as_str())
}

impl ServiceConfig {
    /// Compiles the service against `catalog`, checking everything at once.
    ///
    /// # Errors
    ///
    /// Every problem is reported, each naming this service's id and the
    /// field path (`url`, `body.pairs.2.value`, `headers.0.key`) and, in
    /// templates, the line and column: an id that is not a UUID, templates
    /// that do not compile, a URL whose host is an internal address or
    /// `localhost`, invalid, reserved or repeated header names (or names
    /// holding a placeholder), credentials a header cannot carry, bad or
    /// weak signing secrets and an unusable retry policy; and, checked
    /// first (a service past one is compiled no further), any count or size
    /// past its limit in the [`limits`](crate::limits) module, named in the
    /// message. Several problems come as one error of kind
    /// [`ErrorKind::InvalidConfig`] with [`Error::related`] listing them.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Catalog, ServiceConfig};
    ///
    /// let config: ServiceConfig = serde_json::from_str(r##"{
    ///     "id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b",
    ///     "name": "t",
    ///     "method": "POST",
    ///     "url": "https://crm.example.com/calls",
    ///     "body": {"kind": "form", "pairs": [{"key": "agent", "value": "#agnet_id#"}]}
    /// }"##).unwrap();
    /// let err = config.compile(Catalog::standard()).unwrap_err();
    /// assert_eq!(err.field(), Some("body.pairs.0.value"));
    /// assert_eq!(err.suggestion(), Some("agent_id"));
    /// ```
    pub fn compile(&self, catalog: &Catalog) -> Result<Service, Error> {
        self.compile_with(catalog, &AddressPolicy::new())
    }

    /// [`ServiceConfig::compile`], with `addresses` saying which internal
    /// addresses the URL may point to.
    ///
    /// # Errors
    ///
    /// As [`ServiceConfig::compile`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{AddressPolicy, Catalog, ServiceConfig};
    ///
    /// let config: ServiceConfig = serde_json::from_str(r#"{
    ///     "id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b", "name": "local",
    ///     "method": "POST", "url": "http://127.0.0.1:8080/hook"
    /// }"#).unwrap();
    /// assert!(config.compile(Catalog::standard()).is_err());
    /// let local = AddressPolicy::new().allow("127.0.0.1")?;
    /// assert!(config.compile_with(Catalog::standard(), &local).is_ok());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn compile_with(
        &self,
        catalog: &Catalog,
        addresses: &AddressPolicy,
    ) -> Result<Service, Error> {
        let over = self.over_limits();
        if !over.is_empty() {
            // Nothing past a limit is compiled: the limits bound that work,
            // and `http::HeaderMap` panics past 24,576 headers. What else
            // is cheap to check is reported with them.
            let mut errors = over;
            if !is_uuid(&self.id) {
                errors.insert(0, not_a_uuid(&self.id));
            }
            errors.extend(self.retry_problems());
            return Err(Error::many(ErrorKind::InvalidConfig, errors).in_service(&self.id));
        }
        let mut errors = Vec::new();
        let secrets = self.secrets();
        for (field, secret) in &secrets {
            if !secret.is_resolved() {
                errors.push(
                    Error::new(
                        ErrorKind::InvalidConfig,
                        format!(
                            "secret reference `{}` is not resolved; resolve it with \
                             `Config::resolve_secrets` before loading",
                            secret.reference().unwrap_or_default()
                        ),
                    )
                    .in_field(field),
                );
            }
        }
        let mut options = Options::new(catalog)
            .syntax(self.syntax)
            .lenient(self.lenient)
            .addresses(addresses);
        if let Some(missing) = self.missing {
            options = options.missing(missing);
        }
        if !is_uuid(&self.id) {
            errors.push(not_a_uuid(&self.id));
        }
        let get = self.method == Method::Get;
        let url = self
            .compile_url(get, &options)
            .map_err(|e| errors.extend(e))
            .ok();
        let body = Body::compile(&self.body, get, &options)
            .map_err(|e| errors.extend(e))
            .ok();

        let mut static_headers = HeaderMap::new();
        let mut dynamic_headers = Vec::new();
        let mut set_by_user = Vec::new();
        for (i, pair) in self.headers.iter().enumerate() {
            let path = || format!("headers.{i}");
            if let Err(e) = refuse_placeholder_in_name(&pair.key) {
                errors.push(e.in_field(&format!("{}.key", path())));
                continue;
            }
            let name = match HeaderName::try_from(pair.key.as_str()) {
                Ok(name) => name,
                Err(e) => {
                    errors.push(
                        Error::new(
                            ErrorKind::InvalidHeader,
                            format!("invalid header name `{}`", pair.key),
                        )
                        .in_field(&format!("{}.key", path()))
                        .with_source(e),
                    );
                    continue;
                }
            };
            if let Err(e) = check_header_name(&name, Route::Headers) {
                errors.push(e.in_field(&format!("{}.key", path())));
                continue;
            }
            if set_by_user.contains(&name) && !is_list_valued(&name) {
                errors.push(
                    Error::new(
                        ErrorKind::InvalidHeader,
                        format!(
                            "header `{name}` may be given only once: receivers disagree on \
                             which of two copies counts"
                        ),
                    )
                    .in_field(&format!("{}.key", path())),
                );
                continue;
            }
            let mut builder = Builder::new(&options);
            builder.fragment(
                &pair.value,
                Context::Header,
                Some(&pair.map),
                Some(&|| format!("headers.{i}.value")),
            );
            let value = match builder.finish(Context::Header) {
                Ok(value) => value,
                Err(e) => {
                    errors.extend(e);
                    continue;
                }
            };
            set_by_user.push(name.clone());
            if value.is_static() {
                let rendered = value
                    .render(&CallData::new())
                    .map_err(|e| e.in_field(&format!("{}.value", path())))
                    .and_then(|bytes| {
                        HeaderValue::try_from(bytes).map_err(|e| {
                            Error::new(ErrorKind::InvalidHeader, "invalid header value")
                                .in_field(&format!("{}.value", path()))
                                .with_source(e)
                        })
                    });
                match rendered {
                    Ok(mut rendered) => {
                        rendered.set_sensitive(pair.is_secret());
                        static_headers.append(name, rendered);
                    }
                    Err(e) => errors.push(e),
                }
            } else {
                // A value made from a secret field is as secret as the
                // field, whatever the header's name: views without the call
                // data (an `Outgoing`'s preview) redact it by this flag.
                let secret = pair.is_secret() || value.uses_secret();
                dynamic_headers.push(DynamicHeader {
                    name,
                    value,
                    index: i,
                    secret,
                });
            }
        }
        let auth_header = match &self.auth {
            Auth::ApiKey { header, .. } => {
                refuse_placeholder_in_name(header).map_err(|e| e.in_field("auth.header"))
            }
            _ => Ok(()),
        };
        match auth_header.and_then(|()| self.auth.header()) {
            Ok(Some((name, value))) => {
                if let Err(e) = check_header_name(&name, Route::Auth) {
                    errors.push(e.in_field("auth.header"));
                } else if set_by_user.contains(&name) {
                    errors.push(
                        Error::new(
                            ErrorKind::InvalidHeader,
                            format!("header `{name}` is set both by `auth` and in `headers`"),
                        )
                        .in_field("auth"),
                    );
                }
                static_headers.insert(name, value);
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
        if !set_by_user.contains(&header::USER_AGENT) {
            static_headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        }
        if let Some(body) = &body {
            if let Some(content_type) = &body.content_type {
                if !set_by_user.contains(&header::CONTENT_TYPE) {
                    static_headers.insert(header::CONTENT_TYPE, content_type.clone());
                }
            }
            if let Some(action) = &body.soap_action {
                static_headers.insert(HeaderName::from_static("soapaction"), action.clone());
                // A templated `SOAPAction` would be a second one, a static
                // one silently replaced: the body's `action` says it.
                if let Some(i) = self
                    .headers
                    .iter()
                    .position(|pair| pair.key.eq_ignore_ascii_case("soapaction"))
                {
                    errors.push(
                        Error::new(
                            ErrorKind::InvalidHeader,
                            "header `soapaction` is set by the SOAP body's `action`",
                        )
                        .in_field(&format!("headers.{i}.key")),
                    );
                }
            }
            // A stand-in, replaced in each request: a clone of the map has
            // no room to spare, so inserting the header there would
            // reallocate the map. Templated headers come first, as they
            // would without it.
            if body.content_type.is_some() && dynamic_headers.is_empty() {
                static_headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            }
        }

        let signer = match self.signing.as_ref().map(Signer::new).transpose() {
            Ok(signer) => signer,
            Err(e) => {
                errors.push(e.in_field("signing"));
                None
            }
        };
        if let Some(signer) = &signer {
            let auth_header = self.auth.header().ok().flatten().map(|(name, _)| name);
            for (name, field) in set_by_user
                .iter()
                .map(|name| (name, "headers"))
                .chain(auth_header.iter().map(|name| (name, "auth.header")))
                .filter(|(n, _)| signer.headers().contains(&n.as_str()))
            {
                errors.push(
                    Error::new(
                        ErrorKind::InvalidHeader,
                        format!("header `{name}` is set by the signature"),
                    )
                    .in_field(field),
                );
            }
        }
        errors.extend(self.retry_problems());

        let (
            Some(url),
            Some(Body {
                template: body,
                content_type,
                ..
            }),
            true,
        ) = (url, body, errors.is_empty())
        else {
            let errors = errors
                .into_iter()
                .map(|e| self.quoting_no_secret(e))
                .collect();
            return Err(Error::many(ErrorKind::InvalidConfig, errors).in_service(&self.id));
        };
        let json = match stored_json(self) {
            Ok(json) => json,
            Err(e) => return Err(e.in_service(&self.id)),
        };
        // Compiled from text the checks above passed, with literals in place
        // of secret values: it cannot fail where the body did not.
        let shown_body = self
            .body
            .shown(self.method == Method::Get)
            .and_then(|shown| Body::compile(&shown, self.method == Method::Get, &options).ok())
            .map(|body| body.template);
        let secret_pairs = self
            .body
            .query_pairs(self.method == Method::Get)
            .unwrap_or_default()
            .iter()
            .filter(|p| p.is_secret())
            .map(|p| p.key.as_str().into())
            .collect();
        let rare = Rare {
            resolved: resolved_references(secrets),
            retry: self.retry.clone(),
            secret_parameters: self
                .secret_parameters
                .iter()
                .map(|p| p.as_str().into())
                .collect(),
            secret_pairs,
            shown_body,
            signer,
        };
        let compiled = Compiled {
            json,
            method: self.method,
            debug: self.debug,
            sets_length: content_type.is_some(),
            url,
            body,
            static_headers: StaticHeaders::of(&static_headers),
            dynamic_headers: dynamic_headers.into_boxed_slice(),
            rare: rare.is_some().then(|| Box::new(rare)),
        };
        Ok(Service {
            compiled: Arc::new(compiled),
            enabled: self.enabled,
        })
    }

    /// `e`, or, when it is about a secret value (a header or pair that is
    /// secret, or a secret query parameter of the URL), an error at the
    /// same place that quotes nothing of it: a password such as
    /// `Summer#X#Fall` reads as a placeholder, and "unknown field `X`"
    /// would print its middle.
    fn quoting_no_secret(&self, e: Error) -> Error {
        let Some(field) = e.field() else {
            return e;
        };
        let indexed = |prefix: &str| {
            field
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(".value"))
                .and_then(|i| i.parse::<usize>().ok())
        };
        let secret = if let Some(i) = indexed("headers.") {
            self.headers.get(i).is_some_and(Pair::is_secret)
        } else if field == "url" {
            e.position()
                .is_some_and(|at| self.in_secret_query_value(at.offset))
        } else {
            self.body.pairs().is_some_and(|(path, pairs)| {
                indexed(&format!("{path}."))
                    .and_then(|i| pairs.get(i))
                    .is_some_and(Pair::is_secret)
            })
        };
        if !secret {
            return e;
        }
        let hidden = Error::new(
            e.kind(),
            "this secret value does not compile as a template, and its text is not shown: \
             a `#` or `[[` in it may start a placeholder (set the service's `syntax` or \
             `lenient` if it holds one)",
        )
        .in_field(field);
        match e.position() {
            Some(at) => hidden.at(at),
            None => hidden,
        }
    }

    /// Whether byte `offset` of the URL's text lies in the value of a query
    /// parameter that holds a secret (by the name rule or
    /// `secret_parameters`).
    fn in_secret_query_value(&self, offset: usize) -> bool {
        let Some(query_start) = self.url.find('?').map(|q| q + 1) else {
            return false;
        };
        let mut start = query_start;
        for parameter in self.url[query_start..].split('&') {
            let end = start + parameter.len();
            if let Some((name, _)) = parameter.split_once('=') {
                let value_start = start + name.len() + 1;
                let named = names_secret(name)
                    || self
                        .secret_parameters
                        .iter()
                        .any(|p| p.eq_ignore_ascii_case(name));
                if named && (value_start..=end).contains(&offset) {
                    return true;
                }
            }
            start = end + 1;
        }
        false
    }

    /// The retry policy's problems, if it has one.
    fn retry_problems(&self) -> Vec<Error> {
        match self.retry.as_ref().map(RetryPolicy::check) {
            Some(Err(e)) => e.in_field("retry").into_problems(),
            _ => Vec::new(),
        }
    }

    /// Every count and size of the service past its limit (the
    /// [`limits`] module): headers, pairs, map entries and the bytes of
    /// the URL, each header and the body. Checked before anything is
    /// compiled, so the work of compiling is bounded by them.
    fn over_limits(&self) -> Vec<Error> {
        let mut errors = Vec::new();
        let mut over = |field: &str, what: String, limit: usize, name: &str| {
            errors.push(
                Error::new(
                    ErrorKind::InvalidConfig,
                    format!(
                        "{what}; at most {} are allowed (`limits::{name}`)",
                        limits::count(limit)
                    ),
                )
                .in_field(field),
            );
        };
        let count = limits::count;
        if self.headers.len() > HEADERS {
            let n = count(self.headers.len());
            over(
                "headers",
                format!("service has {n} headers"),
                HEADERS,
                "HEADERS",
            );
        }
        let pairs = self.body.pairs();
        if let Some((path, pairs)) = pairs.filter(|(_, p)| p.len() > PAIRS) {
            let n = count(pairs.len());
            over(path, format!("body has {n} pairs"), PAIRS, "PAIRS");
        }
        if self.secret_parameters.len() > PAIRS {
            let n = count(self.secret_parameters.len());
            let what = format!("`secret_parameters` has {n} names");
            over("secret_parameters", what, PAIRS, "PAIRS");
        }
        // Each list's items only up to a little past its limit, so a huge
        // list costs one error, not one per item.
        let headers = self.headers.iter().take(HEADERS + 1).enumerate();
        let body_pairs = pairs.into_iter().flat_map(|(path, pairs)| {
            pairs
                .iter()
                .take(PAIRS + 1)
                .enumerate()
                .map(move |(i, p)| (path, i, p))
        });
        for (path, i, pair) in headers.map(|(i, p)| ("headers", i, p)).chain(body_pairs) {
            if pair.map.len() > MAP_ENTRIES {
                let n = count(pair.map.len());
                let what = format!("map has {n} entries");
                over(&format!("{path}.{i}.map"), what, MAP_ENTRIES, "MAP_ENTRIES");
            }
        }
        for (i, pair) in self.headers.iter().take(HEADERS + 1).enumerate() {
            // The name is a token `HeaderName` checks; the value and its
            // map are what a template is compiled from.
            let bytes = pair.text_bytes() - pair.key.len();
            if bytes > HEADER_BYTES {
                let what = format!("header value is {} bytes with its map", count(bytes));
                over(
                    &format!("headers.{i}.value"),
                    what,
                    HEADER_BYTES,
                    "HEADER_BYTES",
                );
            }
        }
        let get = self.method == Method::Get;
        let query = self.body.query_pairs(get).unwrap_or_default();
        let url_bytes = self.url.len() + query.iter().map(Pair::text_bytes).sum::<usize>();
        if url_bytes > URL_BYTES {
            let with = if query.is_empty() {
                ""
            } else {
                " with its query pairs"
            };
            let what = format!("URL is {} bytes{with}", count(url_bytes));
            over("url", what, URL_BYTES, "URL_BYTES");
        }
        if let Some(SigningConfig::StandardWebhooks { secrets }) = &self.signing {
            if secrets.len() > SIGNING_SECRETS {
                let what = format!("signing has {} secrets", count(secrets.len()));
                over("signing.secrets", what, SIGNING_SECRETS, "SIGNING_SECRETS");
            }
        }
        let body_bytes = self.body.text_bytes(get);
        if body_bytes > TEMPLATE_BYTES {
            let what = format!("body's templates are {} bytes", count(body_bytes));
            over("body", what, TEMPLATE_BYTES, "TEMPLATE_BYTES");
        }
        errors
    }

    /// Fragment `n` of the URL's template, as [`ServiceConfig::compile_url`]
    /// gave its fragments to the builder, with its field path.
    fn url_fragment(&self, n: u32) -> Option<(String, &str)> {
        let Some(n) = (n as usize).checked_sub(1) else {
            return Some(("url".into(), &self.url));
        };
        let pairs = self.body.query_pairs(self.method == Method::Get)?;
        Some((format!("body.pairs.{n}.value"), &pairs.get(n)?.value))
    }

    /// The URL and, for `GET`, the body's pairs as its query string, as one
    /// template; parsed once here if it does not depend on the call.
    fn compile_url(&self, get: bool, options: &Options<'_>) -> Result<Url, Vec<Error>> {
        let mut builder = Builder::new(options);
        builder.fragment(&self.url, Context::Url, None, Some(&|| "url".into()));
        let mut checked = builder.take_uri();
        if let Some(pairs) = self.body.query_pairs(get).filter(|p| !p.is_empty()) {
            checked = None;
            // Values are percent-encoded, so a `?` in the URL is the
            // template's own; one that ends in a placeholder is given `&`
            // whatever the value, which at worst leaves an empty parameter.
            let separator: &[u8] = if !url_has_query(&self.url, self.syntax) {
                b"?"
            } else if self.url.ends_with(['?', '&']) {
                b""
            } else {
                b"&"
            };
            builder.literal(separator);
            form_pairs(&mut builder, pairs, "body.pairs");
        }
        let url = builder.finish(Context::Url)?;
        if !url.is_static() {
            return Ok(Url::Templated(url));
        }
        // A URL with an empty query is rendered, so the `?` is dropped.
        match checked.filter(|uri| uri.query() != Some("")) {
            Some(uri) => Ok(Url::Static(uri)),
            None => render_uri(&url, &CallData::new())
                .map(Url::Static)
                .map_err(|e| vec![e]),
        }
    }
}

// A service signs with no more secrets than a receiver takes signatures.
const _: () = assert!(SIGNING_SECRETS == limits::SIGNATURES);

fn not_a_uuid(id: &str) -> Error {
    Error::new(
        ErrorKind::InvalidConfig,
        format!("service id `{id}` is not a UUID"),
    )
    .in_field("id")
}

/// Every secret of a service's `auth` and `signing`, with its field path.
fn secrets_in<'a>(
    auth: &'a mut Auth,
    signing: &'a mut Option<SigningConfig>,
) -> Vec<(String, &'a mut Secret)> {
    let mut secrets: Vec<(String, &'a mut Secret)> = Vec::new();
    match auth {
        Auth::Basic { password, .. } => secrets.push(("auth.password".into(), password)),
        Auth::Bearer { token } => secrets.push(("auth.token".into(), token)),
        Auth::ApiKey { key, .. } => secrets.push(("auth.key".into(), key)),
        _ => {}
    }
    match signing {
        Some(SigningConfig::StandardWebhooks { secrets: keys }) => secrets.extend(
            keys.iter_mut()
                .enumerate()
                .map(|(i, key)| (format!("signing.secrets.{i}"), key)),
        ),
        Some(SigningConfig::Twilio { token }) => {
            secrets.push(("signing.token".into(), token));
        }
        _ => {}
    }
    secrets
}

/// A header whose value depends on the call.
#[derive(Debug, Clone)]
struct DynamicHeader {
    name: HeaderName,
    value: Template,
    /// Its index in the configuration's `headers`, for errors.
    index: usize,
    /// Whether its value is a secret.
    secret: bool,
}

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

/// The configuration's JSON as a service keeps it, with `enabled` set.
///
/// # Errors
///
/// A configuration serde cannot serialise, which a derived one always can.
fn stored_json(config: &ServiceConfig) -> Result<Box<[u8]>, Error> {
    // Sized for most services' JSON, so the buffer rarely grows.
    let mut json = Vec::with_capacity(1024);
    let written = if config.enabled {
        serde_json::to_writer(&mut json, config)
    } else {
        serde_json::to_writer(
            &mut json,
            &ServiceConfig {
                enabled: true,
                ..config.clone()
            },
        )
    };
    written.map_err(|e| {
        Error::new(
            ErrorKind::InvalidConfig,
            "the configuration cannot be serialised",
        )
        .with_source(e)
    })?;
    Ok(json.into_boxed_slice())
}

/// The secrets given by reference, resolved, in the order they are walked.
fn resolved_references(secrets: Vec<(String, Secret)>) -> Box<[Secret]> {
    secrets
        .into_iter()
        .map(|(_, secret)| secret)
        .filter(|secret| secret.reference().is_some())
        .collect()
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

/// A service's URL: parsed once when it does not depend on the call.
#[derive(Debug, Clone)]
enum Url {
    Static(http::Uri),
    Templated(Template),
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
    /// The scheme and authority (host, and port if not the default) every
    /// request of the service goes to: no placeholder may stand in them,
    /// and compiling checked them against the address policy.
    fn origin(&self) -> (&str, &str) {
        match &self.url {
            Url::Static(uri) => (
                uri.scheme_str().unwrap_or_default(),
                uri.authority().map_or("", http::uri::Authority::as_str),
            ),
            Url::Templated(url) => {
                let text = std::str::from_utf8(url.leading_literal()).unwrap_or_default();
                let (scheme, rest) = text.split_once("://").unwrap_or_default();
                (scheme, &rest[..rest.find(['/', '?']).unwrap_or(rest.len())])
            }
        }
    }

    /// Whether the service could have built a request to `uri`, as far as
    /// its URL tells: the very URL, when it does not depend on the call
    /// (its query and a `GET`'s pairs included); else one that begins with
    /// the template's text before its first placeholder, or that text
    /// but its final `?` when the query rendered empty (and was dropped).
    /// Checked once the origin is known to be the service's.
    fn builds_url(&self, uri: &http::Uri) -> bool {
        match &self.url {
            Url::Static(own) => own == uri,
            Url::Templated(url) => {
                let sent = uri.to_string();
                let sent = sent.as_bytes();
                let literal = url.leading_literal();
                sent.starts_with(literal) || literal.strip_suffix(b"?") == Some(sent)
            }
        }
    }

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

/// Renders a URL template into a URI. A render error is returned as the
/// template gave it, for [`Compiled::locate`].
fn render_uri<L: Lookup + ?Sized>(url: &Template, data: &L) -> Result<http::Uri, Error> {
    let mut rendered = Vec::with_capacity(url.size_hint());
    // The engine refuses a `.` or `..` path segment in every URL it renders.
    url.render_with(data, &mut rendered)?;
    drop_empty_query(&mut rendered);
    http::Uri::try_from(rendered).map_err(|e| {
        Error::new(
            ErrorKind::InvalidUrl,
            format!("rendered URL is invalid: {e}"),
        )
        .in_field("url")
        .with_source(e)
    })
}

/// Drops the `?` of an empty query, written in the template (`calls?`) or
/// left by a value that rendered empty (`calls?#q#`). Twilio's Python
/// validator drops it before checking a signature (as `urlparse` does) and
/// Node's keeps it, so a request sent with it could verify in one and not
/// the other; without it, both read the URL that was signed. A trailing `&`
/// is kept: both keep it.
fn drop_empty_query(url: &mut Vec<u8>) {
    if memchr::memchr(b'?', url) == Some(url.len().wrapping_sub(1)) {
        url.pop();
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
    /// let config = Config::from_json(include_str!("../examples/configs/ringcx.json"))?;
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
    /// let config = Config::from_json(include_str!("../examples/configs/pbx.json"))?;
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
            return String::from_utf8_lossy(&self.compiled.json).into_owned();
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

    /// Signs `request` as delivery `id` at time `at`, if the service signs
    /// its requests; any earlier signature is replaced, so each attempt of
    /// a delivery is signed with its own time by the same call.
    ///
    /// The request is checked first, signing or not, as if the service
    /// were building it now: nothing is signed that the service would not
    /// build. The service is enabled; the URL is an absolute `http(s)` URL
    /// with no user information or dot segment, to the service's origin
    /// (scheme, host and port), and one the service builds (its very URL,
    /// when it does not depend on the call; else beginning with its URL's
    /// text before the first placeholder), and the method is the
    /// service's; a service that builds no body (a `GET` whose pairs go
    /// in its query, or no body at all) has none; no header frames or
    /// routes the message (`Transfer-Encoding`, `Host`, the hop-by-hop headers;
    /// `Content-Length` only as the body's length), and none that is not a
    /// list is given twice.
    /// The service's secret headers (its `auth` header, and `headers` that
    /// are secrets) are marked sensitive, as when it builds a request.
    ///
    /// # Errors
    ///
    /// A disabled service is an error of kind [`ErrorKind::ServiceDisabled`].
    /// A request to another origin, to a path or query the service does
    /// not build, with a body where the service builds none, or with
    /// another method, is an error of kind
    /// [`ErrorKind::ServiceChanged`] (naming the origin only: a path or
    /// query may hold a secret), unless its host is an internal
    /// IP address, which is one of kind [`ErrorKind::InvalidUrl`] (the
    /// service's own origin passed the address policy it was compiled with;
    /// any other is judged by the strict [`AddressPolicy::new`]). A URL of
    /// another form is an error of kind [`ErrorKind::InvalidUrl`] (a `.` or
    /// `..` segment, between `/` or `\`, of kind
    /// [`ErrorKind::UnsafeValue`]), and a header
    /// that frames or routes the message, or one that is not a list given
    /// twice, one of kind [`ErrorKind::InvalidHeader`].
    /// A delivery id that cannot travel in a header (not printable ASCII)
    /// is an error of kind [`ErrorKind::Signature`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{CallData, Catalog, Config};
    ///
    /// let config = Config::from_json(include_str!("../examples/configs/signed.json"))?;
    /// let service = config.services[0].compile(Catalog::standard())?;
    /// let mut request = service.request(&CallData::new())?;
    /// service.sign(&mut request, "d-1", "2024-12-02T21:12:00Z".parse().unwrap())?;
    /// assert_eq!(request.headers()["webhook-timestamp"], "1733173920");
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn sign(
        &self,
        request: &mut Request,
        id: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), Error> {
        // The service's own origin passed the policy it was compiled with;
        // any other is judged by the strict one.
        self.sign_with(request, id, at, &AddressPolicy::new())
    }

    /// [`Service::sign`], judging a request to another origin by
    /// `addresses`: the registry's policy, for [`Registry::sign`].
    ///
    /// [`Registry::sign`]: crate::Registry::sign
    pub(crate) fn sign_with(
        &self,
        request: &mut Request,
        id: &str,
        at: chrono::DateTime<chrono::Utc>,
        addresses: &AddressPolicy,
    ) -> Result<(), Error> {
        self.check_request(request, addresses)?;
        self.mark_secret_headers(request);
        match self.compiled.signer() {
            Some(signer) => signer
                .sign(request, id, at)
                .map_err(|e| e.in_field("signing").in_service(self.id())),
            None => Ok(()),
        }
    }

    /// Checks `request` as if the service were building it now, before it
    /// is signed: the one check for every request that comes back from
    /// storage or from the host. The service is enabled; the request has
    /// the form every request callhook builds has ([`check_request_form`]);
    /// and it goes to the service's origin (scheme, host and port, which
    /// passed the address policy when the service compiled), to a URL the
    /// service builds ([`Compiled::builds_url`]), with a body only if the
    /// service builds one, with the service's method. A request to another origin whose host is
    /// an IP address is judged by `addresses` first, so an internal address
    /// is refused as one.
    fn check_request(&self, request: &Request, addresses: &AddressPolicy) -> Result<(), Error> {
        let in_service = |e: Error| e.in_service(self.id());
        if !self.enabled {
            return Err(in_service(Error::new(
                ErrorKind::ServiceDisabled,
                "the service is disabled, so none of its requests is signed",
            )));
        }
        check_request_form(request).map_err(in_service)?;
        let uri = request.uri();
        let (scheme, authority) = self.compiled.origin();
        let to = (
            uri.scheme_str().unwrap_or_default(),
            uri.authority().map_or("", http::uri::Authority::as_str),
        );
        if to != (scheme, authority) {
            let host = uri.host().unwrap_or_default();
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            if let Ok(ip) = host.parse() {
                addresses.check(ip).map_err(in_service)?;
            }
            return Err(in_service(Error::new(
                ErrorKind::ServiceChanged,
                format!(
                    "the request goes to `{}://{}`, but the service sends to \
                     `{scheme}://{authority}`; dispatch again",
                    to.0, to.1
                ),
            )));
        }
        if !self.compiled.builds_url(uri) {
            // Neither the path nor the query is named: either may hold a
            // secret.
            return Err(in_service(Error::new(
                ErrorKind::ServiceChanged,
                format!(
                    "the request goes to a path or query under `{scheme}://{authority}` \
                     that the service does not build; dispatch again"
                ),
            )));
        }
        if !request.body().is_empty() && self.compiled.never_has_a_body() {
            // A `GET` whose pairs go in its query, or a service with no
            // body: receivers and proxies disagree on whether a `GET` has
            // a body, so one sent with it frames another message for some.
            return Err(in_service(Error::new(
                ErrorKind::ServiceChanged,
                format!(
                    "the request has a body ({} bytes), but the service sends none; \
                     dispatch again",
                    request.body().len()
                ),
            )));
        }
        if request.method() != self.method() {
            return Err(in_service(Error::new(
                ErrorKind::ServiceChanged,
                format!(
                    "the request's method is `{}`, but the service sends `{}`; dispatch again",
                    request.method(),
                    self.method()
                ),
            )));
        }
        Ok(())
    }

    /// Marks the service's secret headers in `request` as sensitive, as
    /// building it does: its `auth` header and the `headers` that are
    /// secrets by name or by choice. A stored request's own marks are not
    /// trusted to say which these are.
    fn mark_secret_headers(&self, request: &mut Request) {
        let headers = request.headers_mut();
        let secret_names = self
            .compiled
            .static_headers
            .map()
            .iter()
            .filter(|(_, value)| value.is_sensitive())
            .map(|(name, _)| name)
            .chain(
                self.compiled
                    .dynamic_headers
                    .iter()
                    .filter(|header| header.secret)
                    .map(|header| &header.name),
            );
        for name in secret_names {
            if let header::Entry::Occupied(mut entry) = headers.entry(name) {
                for value in entry.iter_mut() {
                    value.set_sensitive(true);
                }
            }
        }
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

    /// Renders the body for `data`, appending to `out`.
    ///
    /// # Errors
    ///
    /// As [`Service::request`], for the body.
    pub fn render_body_into(&self, data: &CallData, out: &mut Vec<u8>) -> Result<(), Error> {
        self.compiled
            .body
            .render_with(data, out)
            .map_err(|e| self.compiled.locate(e, Part::Body))
    }

    /// Builds the request for a call: method, URI, headers (content type,
    /// content length, user agent, auth) and body. Nothing is sent, and
    /// nothing is signed ([`Service::sign`] does that, for each attempt).
    ///
    /// # Errors
    ///
    /// A value that cannot be placed safely (CR or LF in a header, `..` as a
    /// path segment), or a body, URL or header value that would be longer
    /// than 4 MiB, is an error of kind [`ErrorKind::UnsafeValue`], and a
    /// missing value under [`Missing::Error`] one of kind
    /// [`ErrorKind::MissingValue`], each naming the service and field; the
    /// request is never built with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{CallData, Catalog, Config};
    ///
    /// let config = Config::from_json(include_str!("../examples/configs/ringcx.json"))?;
    /// let service = config.services[0].compile(Catalog::standard())?;
    /// let request = service.request(&CallData::new().with("agent_id", "1001"))?;
    /// assert_eq!(request.method(), "POST");
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn request(&self, data: &CallData) -> Result<Request, Error> {
        self.request_with(data)
    }

    pub(crate) fn request_with<L: Lookup + ?Sized>(&self, data: &L) -> Result<Request, Error> {
        self.build(data, &self.compiled.body)
    }

    /// The request for `data`, its body rendered from `template`: the
    /// service's own, or the one shown to people.
    fn build<L: Lookup + ?Sized>(&self, data: &L, template: &Template) -> Result<Request, Error> {
        let in_service = |e: Error| e.in_service(self.id());
        let mut body = Vec::with_capacity(template.size_hint());
        template
            .render_with(data, &mut body)
            .map_err(|e| self.compiled.locate(e, Part::Body))?;
        let uri = match &self.compiled.url {
            Url::Static(uri) => uri.clone(),
            Url::Templated(url) => {
                render_uri(url, data).map_err(|e| self.compiled.locate(e, Part::Url))?
            }
        };
        let mut headers = self.compiled.static_headers.map().clone();
        for header in &self.compiled.dynamic_headers {
            let path = || format!("headers.{}.value", header.index);
            let mut value = Vec::with_capacity(header.value.size_hint());
            header
                .value
                .render_with(data, &mut value)
                .map_err(|e| self.compiled.locate(e, Part::Header(header.index)))?;
            // What bounds the template bounds what it renders: receivers
            // refuse header fields past about 8 KiB.
            if value.len() > HEADER_BYTES {
                return Err(in_service(
                    Error::new(
                        ErrorKind::UnsafeValue,
                        format!(
                            "header `{}` renders {} bytes; at most {} are sent \
                             (`limits::HEADER_BYTES`)",
                            header.name,
                            limits::count(value.len()),
                            limits::count(HEADER_BYTES)
                        ),
                    )
                    .in_field(&path()),
                ));
            }
            let mut value = HeaderValue::try_from(value).map_err(|e| {
                in_service(
                    Error::new(
                        ErrorKind::InvalidHeader,
                        format!("invalid value for header `{}`", header.name),
                    )
                    .in_field(&path())
                    .with_source(e),
                )
            })?;
            value.set_sensitive(header.secret);
            headers.append(header.name.clone(), value);
        }
        if self.compiled.sets_length {
            let length = HeaderValue::from(body.len());
            match headers.get_mut(header::CONTENT_LENGTH) {
                Some(stand_in) => *stand_in = length,
                None => {
                    headers.insert(header::CONTENT_LENGTH, length);
                }
            }
        }
        let mut request = http::Request::new(body);
        *request.method_mut() = self.compiled.method.as_http();
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Ok(request)
    }

    /// Renders the service for `data` and describes the request, as an
    /// admin screen shows it before saving (AVANSER's preview). Secrets,
    /// and the values of secret fields (such as recording URLs) and those
    /// mapped from them, are redacted unless `show_secrets`: credentials,
    /// pairs and headers marked secret or named by the rule, and secret
    /// query parameters. The `content-length` is that of the body sent.
    ///
    /// # Errors
    ///
    /// As [`Service::request`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{CallData, Catalog, Config};
    ///
    /// let config = Config::from_json(include_str!("../examples/configs/avanser.json"))?;
    /// let service = config.services[0].compile(Catalog::standard())?;
    /// let shown = service.preview(&CallData::new(), false)?;
    /// assert!(!shown.to_http().contains("Basic "));
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn preview(&self, data: &CallData, show_secrets: bool) -> Result<Preview, Error> {
        let sent = self.request(data)?;
        if show_secrets {
            Ok(self.show(&sent, true))
        } else {
            self.shown_with(data, &sent)
        }
    }

    /// The debug record of the request this service builds for `data`,
    /// when the service has its `debug` flag set (RingCX's Debug flag): the
    /// request with secrets and secret fields redacted, for the host to
    /// store. `None` otherwise, or where the request cannot be built.
    #[must_use]
    pub fn debug_record(&self, data: &CallData) -> Option<Preview> {
        if !self.compiled.debug {
            return None;
        }
        self.debug_record_with(data, &self.request(data).ok()?)
    }

    /// The debug record of `sent`, built for `data`, when the service keeps
    /// them.
    pub(crate) fn debug_record_with<L: Lookup + ?Sized>(
        &self,
        data: &L,
        sent: &Request,
    ) -> Option<Preview> {
        if !self.compiled.debug {
            return None;
        }
        self.shown_with(data, sent).ok()
    }

    /// `sent`, built for `data`, as a person may see it: rendered again
    /// through the redacting lookup, with the body whose secret pairs read
    /// `[redacted]`, and shown with its secret headers and query parameters
    /// redacted ([`Service::show`]). The `content-length` is `sent`'s: the
    /// length that goes out, not that of the text shown.
    ///
    /// # Errors
    ///
    /// As [`Service::request`], though `sent` was built: a redacted value
    /// is never refused where the real one was not.
    pub(crate) fn shown_with<L: Lookup + ?Sized>(
        &self,
        data: &L,
        sent: &Request,
    ) -> Result<Preview, Error> {
        let body = self
            .compiled
            .rare
            .as_ref()
            .and_then(|rare| rare.shown_body.as_ref())
            .unwrap_or(&self.compiled.body);
        let mut preview = self.show(&self.build(&Redacted(data), body)?, false);
        if let Some(length) = sent.headers().get(header::CONTENT_LENGTH) {
            for (name, value) in &mut preview.headers {
                if name == header::CONTENT_LENGTH.as_str() {
                    *value = String::from_utf8_lossy(length.as_bytes()).into_owned();
                }
            }
        }
        Ok(preview)
    }

    /// The request as a preview, with this service's secret query
    /// parameters redacted too.
    pub(crate) fn show(&self, request: &Request, show_secrets: bool) -> Preview {
        Preview::redacted(self.id(), request, show_secrets, &|name| {
            self.compiled.names_secret_parameter(name)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b";

    fn config(json: serde_json::Value) -> ServiceConfig {
        let mut base = serde_json::json!({
            "id": ID, "name": "t", "method": "POST", "url": "https://crm.example.com/calls"
        });
        base.as_object_mut()
            .unwrap()
            .extend(json.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    /// The origin is the URL's scheme and authority however the URL is
    /// written: parsed once, or the literal head of a template.
    #[test]
    fn the_origin_is_the_head_of_the_url() {
        for (json, origin) in [
            (serde_json::json!({}), ("https", "crm.example.com")),
            (
                serde_json::json!({"url": "https://crm.example.com:8443/a/#agent_id#"}),
                ("https", "crm.example.com:8443"),
            ),
            (
                serde_json::json!({"url": "http://93.184.215.14/?x=#agent_id#"}),
                ("http", "93.184.215.14"),
            ),
            (
                serde_json::json!({"url": "http://[2606:4700::1111]/?x=#agent_id#"}),
                ("http", "[2606:4700::1111]"),
            ),
            (
                serde_json::json!({
                    "method": "GET",
                    "body": {"kind": "form", "pairs": [{"key": "a", "value": "#ani#"}]},
                }),
                ("https", "crm.example.com"),
            ),
        ] {
            let service = config(json.clone()).compile(Catalog::standard()).unwrap();
            assert_eq!(service.compiled.origin(), origin, "{json}");
        }
    }

    /// What no request callhook builds has, whatever the service.
    #[test]
    fn the_form_of_a_request_is_checked_without_a_service() {
        let request = |uri: &str, headers: &[(&str, &str)], body: &[u8]| {
            let mut request = http::Request::new(body.to_vec());
            *request.method_mut() = http::Method::POST;
            *request.uri_mut() = uri.parse().unwrap();
            for (name, value) in headers {
                request.headers_mut().append(
                    HeaderName::try_from(*name).unwrap(),
                    HeaderValue::try_from(*value).unwrap(),
                );
            }
            check_request_form(&request).map_err(|e| e.kind())
        };
        let url = "https://crm.example.com/calls";
        assert_eq!(request(url, &[("content-length", "2")], b"{}"), Ok(()));
        assert_eq!(request(url, &[("x-a", "1")], b""), Ok(()));
        for (uri, kind) in [
            ("/calls", ErrorKind::InvalidUrl),
            ("crm.example.com:443", ErrorKind::InvalidUrl),
            ("ws://crm.example.com/", ErrorKind::InvalidUrl),
            ("https://@crm.example.com/", ErrorKind::InvalidUrl),
            ("https://crm.example.com/a/%2E%2e/b", ErrorKind::UnsafeValue),
            ("https://crm.example.com/a/.", ErrorKind::UnsafeValue),
            ("https://crm.example.com/a\\..\\b", ErrorKind::UnsafeValue),
            ("https://crm.example.com/a/%2e\\b", ErrorKind::UnsafeValue),
        ] {
            assert_eq!(request(uri, &[], b""), Err(kind), "{uri}");
        }
        for length in ["+2", "02 ", "", "2, 2", "-2", "3", "18446744073709551617"] {
            assert_eq!(
                request(url, &[("content-length", length)], b"{}"),
                Err(ErrorKind::InvalidHeader),
                "{length:?}"
            );
        }
        assert_eq!(
            request(
                url,
                &[("content-length", "2"), ("content-length", "2")],
                b"{}"
            ),
            Err(ErrorKind::InvalidHeader)
        );
        for name in FRAMING.iter().filter(|n| **n != "content-length") {
            assert_eq!(
                request(url, &[(name, "x")], b""),
                Err(ErrorKind::InvalidHeader),
                "{name}"
            );
        }
        // A header that is not a list, given twice; a list may repeat.
        for name in ["content-type", "authorization", "x-a"] {
            assert_eq!(
                request(url, &[(name, "a"), (name, "b")], b""),
                Err(ErrorKind::InvalidHeader),
                "{name}"
            );
        }
        assert_eq!(
            request(url, &[("accept", "a"), ("accept", "b")], b""),
            Ok(())
        );
    }

    /// A request to the service's origin is signed only at a URL the
    /// service builds: its text before the first placeholder, or the whole
    /// of a URL that does not depend on the call.
    #[test]
    fn only_urls_the_service_builds_are_signed() {
        let at = "2024-12-02T21:00:00Z".parse().unwrap();
        for (url, built, other) in [
            (
                "https://crm.example.com/calls/#ani#?x=1",
                "https://crm.example.com/calls/5?x=1",
                "https://crm.example.com/admin/5?x=1",
            ),
            (
                "https://crm.example.com/calls?#dnis#",
                "https://crm.example.com/calls",
                "https://crm.example.com/calls-admin",
            ),
            (
                "https://crm.example.com/calls?src=pbx",
                "https://crm.example.com/calls?src=pbx",
                "https://crm.example.com/calls?src=pbx&all=1",
            ),
        ] {
            let service = config(serde_json::json!({"url": url}))
                .compile(Catalog::standard())
                .unwrap();
            for (uri, ok) in [(built, true), (other, false)] {
                let mut request = http::Request::new(Vec::new());
                *request.method_mut() = http::Method::POST;
                *request.uri_mut() = uri.parse().unwrap();
                let signed = service.sign(&mut request, "d-1", at);
                assert_eq!(
                    signed.as_ref().map_err(Error::kind).err(),
                    (!ok).then_some(ErrorKind::ServiceChanged),
                    "{url}: {uri}"
                );
                if let Err(e) = signed {
                    assert!(!e.to_string().contains("admin"), "{e}");
                    assert!(!e.to_string().contains("all=1"), "{e}");
                }
            }
        }
    }

    #[test]
    fn only_an_empty_query_loses_its_question_mark() {
        for (rendered, sent) in [
            ("https://x.example.com/a?", "https://x.example.com/a"),
            ("https://x.example.com/?", "https://x.example.com/"),
            ("https://x.example.com/a?b=?", "https://x.example.com/a?b=?"),
            (
                "https://x.example.com/a?b=1&",
                "https://x.example.com/a?b=1&",
            ),
            ("https://x.example.com/a", "https://x.example.com/a"),
            ("", ""),
        ] {
            let mut url = rendered.as_bytes().to_vec();
            drop_empty_query(&mut url);
            assert_eq!(url, sent.as_bytes(), "{rendered}");
        }
    }

    /// Templates keep no source: a render error is located in the
    /// configuration, in the fragment its placeholder came from.
    /// A service keeps its configuration as JSON and gives it back whole:
    /// resolved secret references keep their values (and compile again),
    /// `enabled` follows the service, and the row is serde's own text.
    #[test]
    fn the_stored_configuration_comes_back_whole() {
        let mut with_ref = config(serde_json::json!({
            "auth": {"kind": "bearer", "token": {"secret_ref": "CRM_TOKEN"}},
            "signing": {"kind": "standard_webhooks", "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", {"secret_ref": "SIGNING"}]},
            "secret_parameters": ["code"],
            "retry": {"max_attempts": 3},
        }));
        for (_, secret) in with_ref.secrets_mut() {
            match secret.reference() {
                Some("CRM_TOKEN") => secret.resolve("t0k3n-crm"),
                Some(_) => secret.resolve("whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"),
                None => {}
            }
        }
        let mut configs: Vec<ServiceConfig> = [
            include_str!("../examples/configs/ringcx.json"),
            include_str!("../examples/configs/pbx.json"),
            include_str!("../examples/configs/avanser.json"),
            include_str!("../examples/configs/signed.json"),
        ]
        .iter()
        .flat_map(|text| crate::Config::from_json(text).unwrap().services)
        .collect();
        configs.push(with_ref.clone());
        for config in configs {
            let mut service = config.compile(Catalog::standard()).unwrap();
            assert_eq!(service.config(), config);
            assert_eq!(service.id(), config.id);
            assert_eq!(service.to_json(), serde_json::to_string(&config).unwrap());
            assert_eq!(
                service.retry_policy(),
                config.retry.clone().unwrap_or_default()
            );
            assert_eq!(
                service.config().compile(Catalog::standard()).unwrap(),
                service
            );
            service.set_enabled(false);
            assert!(!service.config().enabled);
            // References stay references in the row, as serde writes them.
            let disabled = ServiceConfig {
                enabled: false,
                ..config.clone()
            };
            assert_eq!(service.to_json(), serde_json::to_string(&disabled).unwrap());
        }
        // Debug shows the configuration with every secret redacted, inline
        // or resolved.
        let shown = format!("{:?}", with_ref.compile(Catalog::standard()).unwrap());
        assert!(shown.contains(REDACTED), "{shown}");
        for secret in ["t0k3n-crm", "QUJD", "MfKQ9r8"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        // The row keeps references, not what they resolved to.
        let row = with_ref.compile(Catalog::standard()).unwrap().to_json();
        assert!(row.contains(r#"{"secret_ref":"CRM_TOKEN"}"#), "{row}");
        assert!(!row.contains("t0k3n-crm") && !row.contains("QUJD"), "{row}");
    }

    /// Services whose static headers are callhook's own for their body
    /// type share one map; any other header, a changed order or a
    /// sensitive value gives the service its own, and every request carries
    /// the same headers in the same order either way.
    #[test]
    fn common_static_headers_are_shared_not_copied() {
        let shared =
            |service: &Service| matches!(service.compiled.static_headers, StaticHeaders::Common(_));
        let names = |service: &Service| {
            let request = service.request(&CallData::new()).unwrap();
            request
                .headers()
                .keys()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
        };
        let form = config(serde_json::json!({"body": {"kind": "form", "pairs": [{"key": "a", "value": "#ani#"}]}}))
            .compile(Catalog::standard())
            .unwrap();
        assert!(shared(&form));
        assert_eq!(
            names(&form),
            ["user-agent", "content-type", "content-length"]
        );
        let bare = config(serde_json::json!({}))
            .compile(Catalog::standard())
            .unwrap();
        assert!(shared(&bare));
        assert_eq!(names(&bare), ["user-agent"]);

        let own = config(serde_json::json!({"headers": [{"key": "X-Source", "value": "pbx"}]}))
            .compile(Catalog::standard())
            .unwrap();
        assert!(!shared(&own));
        assert_eq!(names(&own), ["x-source", "user-agent"]);
        // The same headers as the common JSON map, in another order.
        let reordered = config(serde_json::json!({
            "headers": [{"key": "Content-Type", "value": "application/json; charset=utf-8"}],
            "body": {"kind": "json", "template": "{}"}
        }))
        .compile(Catalog::standard())
        .unwrap();
        assert!(!shared(&reordered));
        assert_eq!(
            names(&reordered),
            ["content-type", "user-agent", "content-length"]
        );
        // The common bare map but for a value marked secret.
        let sensitive = config(serde_json::json!({
            "headers": [{"key": "User-Agent", "value": USER_AGENT, "secret": true}],
        }))
        .compile(Catalog::standard())
        .unwrap();
        assert!(!shared(&sensitive));
    }

    #[test]
    fn render_errors_are_located_in_the_configuration() {
        let none = CallData::new();
        let located = |json: serde_json::Value| {
            let mut json = json;
            json["missing"] = "error".into();
            let err = config(json)
                .compile(Catalog::standard())
                .unwrap()
                .request(&none)
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::MissingValue, "{err}");
            assert_eq!(err.service(), Some(ID));
            let at = err.position().unwrap();
            (err.field().unwrap().to_owned(), at.line, at.column)
        };
        let pairs =
            serde_json::json!([{"key": "a", "value": "x"}, {"key": "b", "value": "n: #ani#"}]);
        assert_eq!(
            located(serde_json::json!({
                "body": {"kind": "json", "template": "{\"a\": 1,\n  \"ani\": \"#ani#\"}"}
            })),
            ("body.template".into(), 2, 11)
        );
        assert_eq!(
            located(serde_json::json!({"body": {"kind": "form", "pairs": pairs}})),
            ("body.pairs.1.value".into(), 1, 4)
        );
        assert_eq!(
            located(serde_json::json!({"method": "GET", "body": {"kind": "form", "pairs": pairs}})),
            ("body.pairs.1.value".into(), 1, 4)
        );
        assert_eq!(
            located(serde_json::json!({"url": "https://crm.example.com/a/#agent_id#"})),
            ("url".into(), 1, 27)
        );
        assert_eq!(
            located(serde_json::json!({"headers": [
                {"key": "X-A", "value": "1"}, {"key": "X-B", "value": "b #agent_id#"}
            ]})),
            ("headers.1.value".into(), 1, 3)
        );
        let err = config(
            serde_json::json!({"missing": "error", "body": {"kind": "form", "pairs": pairs}}),
        )
        .compile(Catalog::standard())
        .unwrap()
        .render_body_into(&none, &mut Vec::new())
        .unwrap_err();
        assert_eq!(err.field(), Some("body.pairs.1.value"));
        assert_eq!(err.position().map(|p| p.offset), Some(3));
    }

    #[test]
    fn builds_a_whole_request() {
        let service = config(serde_json::json!({
            "url": "https://crm.example.com/agents/#agent_id#/calls?src=pbx",
            "body": {"kind": "json", "template": "{\"ani\": \"#ani#\"}"},
            "headers": [{"key": "X-Agent", "value": "#agent_id#"}, {"key": "X-Static", "value": "1"}],
            "auth": {"kind": "bearer", "token": "tok"},
        }))
        .compile(Catalog::standard())
        .unwrap();
        let data = CallData::new().with("agent_id", "7 7").with("ani", "555");
        let request = service.request(&data).unwrap();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(
            request.uri(),
            "https://crm.example.com/agents/7%207/calls?src=pbx"
        );
        let h = request.headers();
        assert_eq!(h["content-type"], "application/json; charset=utf-8");
        assert_eq!(h["content-length"], "14");
        assert_eq!(h["authorization"], "Bearer tok");
        assert!(h["authorization"].is_sensitive());
        assert_eq!(h["user-agent"], USER_AGENT);
        assert_eq!(h["x-agent"], "7 7");
        assert_eq!(h["x-static"], "1");
        assert_eq!(request.body(), br#"{"ani": "555"}"#);
        assert_eq!(service.fields(), ["agent_id", "ani"]);
    }

    #[test]
    fn get_puts_pairs_in_the_query() {
        let service = config(serde_json::json!({
            "method": "GET",
            "url": "https://crm.example.com/hook?token=abc",
            "body": {"kind": "form", "pairs": [{"key": "ani", "value": "#ani#"}]},
        }))
        .compile(Catalog::standard())
        .unwrap();
        let request = service
            .request(&CallData::new().with("ani", "+1 5"))
            .unwrap();
        assert_eq!(
            request.uri(),
            "https://crm.example.com/hook?token=abc&ani=%2B1+5"
        );
        assert!(request.body().is_empty());
        assert!(request.headers().get("content-length").is_none());
    }

    #[test]
    fn header_injection_is_refused() {
        let service = config(serde_json::json!({
            "headers": [{"key": "X-Agent", "value": "#agent_id#"}],
        }))
        .compile(Catalog::standard())
        .unwrap();
        let err = service
            .request(&CallData::new().with("agent_id", "a\r\nX-Evil: 1"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnsafeValue);
        assert_eq!(err.service(), Some(ID));
        assert_eq!(err.field(), Some("headers.0.value"));
    }

    #[test]
    fn every_problem_is_reported_with_service_and_path() {
        let bad = config(serde_json::json!({
            "id": "not-a-uuid",
            "url": "https://#agent_id#.example.com/",
            "body": {"kind": "form", "pairs": [{"key": "a", "value": "#agnet_id#"}]},
            "headers": [{"key": "bad header", "value": "x"}, {"key": "Content-Length", "value": "1"}],
        }));
        let err = bad.compile(Catalog::standard()).unwrap_err();
        let found: Vec<_> = err
            .related()
            .iter()
            .map(|e| (e.service().unwrap(), e.field().unwrap()))
            .collect();
        assert_eq!(
            found,
            [
                ("not-a-uuid", "id"),
                ("not-a-uuid", "url"),
                ("not-a-uuid", "body.pairs.0.value"),
                ("not-a-uuid", "headers.0.key"),
                ("not-a-uuid", "headers.1.key"),
            ]
        );
        let typo = &err.related()[2];
        assert_eq!(typo.suggestion(), Some("agent_id"));
        assert_eq!(typo.position().unwrap().column, 1);
        assert!(typo
            .to_string()
            .contains("(service `not-a-uuid`, field `body.pairs.0.value`, line 1, column 1)"));
    }

    fn secret_service(debug: bool) -> Service {
        config(serde_json::json!({
            "url": "https://crm.example.com/calls?x=1",
            "body": {"kind": "form", "pairs": [{"key": "ani", "value": "#ani#"}]},
            "headers": [{"key": "X-Api-Token", "value": "static-secret"}],
            "auth": {"kind": "basic", "username": "u", "password": "hunter2"},
            "debug": debug,
        }))
        .compile(Catalog::standard())
        .unwrap()
    }

    #[test]
    fn previews_redact_unless_asked() {
        let data = CallData::new().with("ani", "555");
        let shown = secret_service(false).preview(&data, false).unwrap();
        let http = shown.to_http();
        assert!(http.starts_with("POST /calls?x=1 HTTP/1.1\r\nhost: crm.example.com\r\n"));
        assert!(http.contains(&format!("authorization: {REDACTED}\r\n")));
        assert!(http.contains("x-api-token: [redacted]\r\n"));
        assert!(http.ends_with("\r\n\r\nani=555"));
        assert!(!http.contains("hunter2") && !http.contains("static-secret"));
        assert!(!shown.to_json_line().contains("hunter2"));
        let json: serde_json::Value = serde_json::from_str(&shown.to_json_line()).unwrap();
        assert_eq!(json["url"], "https://crm.example.com/calls?x=1");
        assert_eq!(json["headers"][0][0], "x-api-token");
        let secret = secret_service(false).preview(&data, true).unwrap();
        assert!(secret
            .to_http()
            .contains("authorization: Basic dTpodW50ZXIy"));
    }

    #[test]
    fn debug_records_only_with_the_flag_and_always_redacted() {
        let data = CallData::new().with("ani", "555");
        let plain = secret_service(false);
        assert!(plain.debug_record(&data).is_none());
        let debug = secret_service(true);
        let record = debug.debug_record(&data).unwrap();
        assert!(!format!("{record:?}").contains("hunter2"));
        assert_eq!(record.body, "ani=555");
    }
}
