//! Web services: what an administrator configures once and the platform
//! invokes many times.
//!
//! A [`ServiceConfig`] is plain data (serde: JSON, TOML, a database row). It
//! compiles into a [`Service`], with every template checked and everything
//! that does not depend on the call (the URL when static, static headers,
//! content type, auth) parsed once. [`Service::request`] then renders an
//! `http::Request<Vec<u8>>` for a call, and sends nothing.

use std::collections::HashMap;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::auth::Auth;
use crate::body::{Body, BodyConfig, Pair, Parts};
use crate::delivery::RetryPolicy;
use crate::error::{json_error, Error, ErrorKind};
use crate::field::{CallData, Catalog, Lookup};
use crate::signing::{Signer, SigningConfig, Stamp};
use crate::template::{Context, Escape, Missing, Options, Syntax, Template};

/// The HTTP method of a service.
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

impl Method {
    /// The `http` crate's method.
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
/// use callhook::service::ServiceConfig;
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// RingCX's web service group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The HTTP method.
    pub method: Method,
    /// An absolute http(s) URL template; placeholders only in path and query.
    pub url: String,
    /// The placeholder syntax of every template of the service.
    #[serde(default)]
    pub syntax: Syntax,
    /// Leave unknown placeholders as literal text, as RingCX does.
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
    /// RingCX's Debug flag: keep a redacted record of each request.
    #[serde(default, skip_serializing_if = "is_false")]
    pub debug: bool,
    /// How requests are signed, if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningConfig>,
    /// How failed deliveries are retried; the defaults if not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
}

/// The `User-Agent` sent unless a service sets its own.
pub const USER_AGENT: &str = concat!("callhook/", env!("CARGO_PKG_VERSION"));

/// Header names whose values are treated as secrets (redacted in previews
/// and debug records) when set as static headers.
fn looks_secret(name: &HeaderName) -> bool {
    let name = name.as_str();
    [
        "authorization",
        "token",
        "secret",
        "password",
        "api-key",
        "apikey",
        "cookie",
    ]
    .iter()
    .any(|s| name.contains(s))
}

/// Whether `id` is a UUID in its text form (`8-4-4-4-12` hex digits).
pub(crate) fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

impl ServiceConfig {
    /// Compiles the service against `catalog`, checking everything at once.
    ///
    /// Every problem is reported, each naming this service's id and the
    /// field path (`url`, `body.pairs.2.value`, `headers.0.key`) and, in
    /// templates, the line and column.
    pub fn compile(&self, catalog: &Catalog) -> Result<Service, Error> {
        let mut errors = Vec::new();
        let mut options = Options::new(catalog)
            .syntax(self.syntax)
            .lenient(self.lenient);
        if let Some(missing) = self.missing {
            options = options.missing(missing);
        }
        if !is_uuid(&self.id) {
            errors.push(
                Error::new(
                    ErrorKind::InvalidConfig,
                    format!("service id `{}` is not a UUID", self.id),
                )
                .in_field("id"),
            );
        }
        let url = Template::compile(&self.url, Context::Url, &options)
            .map_err(|e| errors.push(e.in_field("url")))
            .ok();
        let body = Body::compile(&self.body, self.method == Method::Get, &options)
            .map_err(|e| errors.extend(e))
            .unwrap_or_default();

        let mut static_headers = HeaderMap::new();
        let mut dynamic_headers = Vec::new();
        let mut set_by_user = Vec::new();
        for (i, pair) in self.headers.iter().enumerate() {
            let path = format!("headers.{i}");
            let name = match HeaderName::try_from(pair.key.as_str()) {
                Ok(name) => name,
                Err(_) => {
                    errors.push(
                        Error::new(
                            ErrorKind::InvalidHeader,
                            format!("invalid header name `{}`", pair.key),
                        )
                        .in_field(&format!("{path}.key")),
                    );
                    continue;
                }
            };
            if matches!(
                name,
                header::CONTENT_LENGTH | header::HOST | header::TRANSFER_ENCODING
            ) {
                errors.push(
                    Error::new(
                        ErrorKind::InvalidHeader,
                        format!("header `{name}` is set by the request itself"),
                    )
                    .in_field(&format!("{path}.key")),
                );
                continue;
            }
            let mut parts = Parts::default();
            let mut header_errors = Vec::new();
            parts.pair_value(
                pair,
                Context::Header,
                Escape::Header,
                &options,
                &path,
                &mut header_errors,
            );
            if !header_errors.is_empty() {
                errors.extend(header_errors);
                continue;
            }
            set_by_user.push(name.clone());
            if parts.is_static() {
                let mut value = Vec::new();
                if let Err(e) = parts.render_into(&CallData::new(), &mut value) {
                    errors.push(e.in_field(&format!("{path}.value")));
                    continue;
                }
                match HeaderValue::try_from(value) {
                    Ok(mut value) => {
                        value.set_sensitive(looks_secret(&name));
                        static_headers.append(name, value);
                    }
                    Err(_) => errors.push(
                        Error::new(ErrorKind::InvalidHeader, "invalid header value")
                            .in_field(&format!("{path}.value")),
                    ),
                }
            } else {
                dynamic_headers.push((name, parts, path));
            }
        }
        match self.auth.header() {
            Ok(Some((name, value))) => {
                if set_by_user.contains(&name) {
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
        if let Some(content_type) = &body.content_type {
            if !set_by_user.contains(&header::CONTENT_TYPE) {
                static_headers.insert(header::CONTENT_TYPE, content_type.clone());
            }
        }
        if let Some(action) = &body.soap_action {
            static_headers.insert(HeaderName::from_static("soapaction"), action.clone());
        }
        // A stand-in, replaced in each request: a clone of the map has no
        // room to spare, so inserting the header there would reallocate.
        // Templated headers come first, as they would without it.
        if body.content_type.is_some() && dynamic_headers.is_empty() {
            static_headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        }

        let signer = match self.signing.as_ref().map(Signer::new).transpose() {
            Ok(signer) => signer,
            Err(e) => {
                errors.push(e.in_field("signing"));
                None
            }
        };
        if let Some(signer) = &signer {
            for name in set_by_user
                .iter()
                .filter(|n| signer.headers().contains(&n.as_str()))
            {
                errors.push(
                    Error::new(
                        ErrorKind::InvalidHeader,
                        format!("header `{name}` is set by the signature"),
                    )
                    .in_field("headers"),
                );
            }
        }
        if let Some(retry) = &self.retry {
            if let Err(e) = retry.check() {
                errors.push(e.in_field("retry"));
            }
        }

        let (Some(url), true) = (url, errors.is_empty()) else {
            return Err(Error::many(errors).in_service(&self.id));
        };
        let body_capacity = body.parts.size_hint();
        let mut service = Service {
            config: self.clone(),
            method: self.method.as_http(),
            static_uri: None,
            url,
            body,
            static_headers,
            dynamic_headers,
            signer,
            body_capacity,
        };
        if service.url.is_static() && service.body.query.is_static() {
            let uri = service
                .render_uri(&CallData::new())
                .map_err(|e| e.in_service(&self.id))?;
            service.static_uri = Some(uri);
        }
        Ok(service)
    }
}

/// A compiled web service, ready to build requests.
#[derive(Debug, Clone)]
pub struct Service {
    config: ServiceConfig,
    method: http::Method,
    url: Template,
    /// The URI, parsed once, when it does not depend on the call.
    static_uri: Option<http::Uri>,
    body: Body,
    static_headers: HeaderMap,
    dynamic_headers: Vec<(HeaderName, Parts, String)>,
    signer: Option<Signer>,
    /// The body buffer's first capacity, from the compiled body.
    body_capacity: usize,
}

impl PartialEq for Service {
    fn eq(&self, other: &Service) -> bool {
        self.config == other.config
    }
}

impl Service {
    /// The configuration the service was compiled from.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// The service id.
    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// Whether the service is enabled.
    pub fn is_enabled(&self) -> bool {
        self.config.enabled
    }

    /// The HTTP method.
    pub fn method(&self) -> &http::Method {
        &self.method
    }

    /// The retry policy: the service's, or the default.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.config.retry.clone().unwrap_or_default()
    }

    /// Signs `request` as delivery `id` at time `at`, if the service signs
    /// its requests; any earlier signature is replaced, so each attempt of
    /// a delivery is signed with its own time.
    pub fn sign(
        &self,
        request: &mut http::Request<Vec<u8>>,
        id: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), Error> {
        self.stamp(request, id, at).map(|_| ())
    }

    pub(crate) fn stamp(
        &self,
        request: &mut http::Request<Vec<u8>>,
        id: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Stamp>, Error> {
        match &self.signer {
            Some(signer) => signer
                .sign(request, id, at)
                .map(Some)
                .map_err(|e| e.in_field("signing").in_service(&self.config.id)),
            None => Ok(None),
        }
    }

    /// Every field the service's templates use (URL, body, headers), each
    /// once.
    pub fn fields(&self) -> Vec<&str> {
        let mut fields: Vec<&str> = Vec::new();
        let all = self
            .url
            .fields()
            .chain(self.body.fields())
            .chain(self.dynamic_headers.iter().flat_map(|(_, p, _)| p.fields()));
        for field in all {
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        fields
    }

    /// The body template as configured, for showing to an administrator
    /// (the PBX's "eye" action): the raw template, or the pairs as
    /// `key=value` lines.
    pub fn body_text(&self) -> String {
        let pairs = |pairs: &[Pair]| {
            pairs
                .iter()
                .map(|p| format!("{}={}\n", p.key, p.value))
                .collect::<String>()
        };
        match &self.config.body {
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

    fn render_uri<L: Lookup + ?Sized>(&self, data: &L) -> Result<http::Uri, Error> {
        let mut url = Vec::with_capacity(self.config.url.len() + 32);
        self.url
            .render_with(data, &mut url)
            .map_err(|e| e.in_field("url"))?;
        if !self.body.query.is_empty() {
            // Values are percent-encoded, so a `?` in the rendered URL is the
            // template's own.
            match url.last() {
                Some(b'?' | b'&') => {}
                _ if url.contains(&b'?') => url.push(b'&'),
                _ => url.push(b'?'),
            }
            self.body
                .query
                .render_into(data, &mut url)
                .map_err(|e| e.in_field("body"))?;
        }
        http::Uri::try_from(url).map_err(|e| {
            Error::new(
                ErrorKind::InvalidUrl,
                format!("rendered URL is invalid: {e}"),
            )
            .in_field("url")
        })
    }

    /// Renders the body for `data`, appending to `out`.
    pub fn render_body_into(&self, data: &CallData, out: &mut Vec<u8>) -> Result<(), Error> {
        self.render_body_with(data, out)
    }

    fn render_body_with<L: Lookup + ?Sized>(
        &self,
        data: &L,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.body
            .parts
            .render_into(data, out)
            .map_err(|e| e.in_field("body").in_service(&self.config.id))
    }

    /// Builds the request for a call: method, URI, headers (content type,
    /// content length, user agent, auth) and body. Nothing is sent.
    ///
    /// A value that cannot be placed safely (CR or LF in a header, `..` as a
    /// path segment) is an error; the request is never built with it.
    pub fn request(&self, data: &CallData) -> Result<http::Request<Vec<u8>>, Error> {
        self.request_with(data)
    }

    pub(crate) fn request_with<L: Lookup + ?Sized>(
        &self,
        data: &L,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let in_service = |e: Error| e.in_service(&self.config.id);
        let mut body = Vec::with_capacity(self.body_capacity);
        self.render_body_with(data, &mut body)?;
        let uri = match &self.static_uri {
            Some(uri) => uri.clone(),
            None => self.render_uri(data).map_err(in_service)?,
        };
        let mut headers = self.static_headers.clone();
        for (name, parts, path) in &self.dynamic_headers {
            let mut value = Vec::new();
            parts
                .render_into(data, &mut value)
                .map_err(|e| in_service(e.in_field(&format!("{path}.value"))))?;
            let value = HeaderValue::try_from(value).map_err(|_| {
                in_service(
                    Error::new(
                        ErrorKind::InvalidHeader,
                        format!("invalid value for header `{name}`"),
                    )
                    .in_field(&format!("{path}.value")),
                )
            })?;
            headers.append(name.clone(), value);
        }
        if self.body.content_type.is_some() {
            let length = content_length(body.len());
            match headers.get_mut(header::CONTENT_LENGTH) {
                Some(stand_in) => *stand_in = length,
                None => {
                    headers.insert(header::CONTENT_LENGTH, length);
                }
            }
        }
        let mut request = http::Request::new(body);
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Ok(request)
    }
}

/// "0000" to "9999", so a content length below 10,000 is a static
/// [`HeaderValue`] rather than an allocation in every request.
static FOUR_DIGITS: [u8; 40_000] = {
    let mut digits = [0; 40_000];
    let mut n = 0;
    while n < 10_000 {
        digits[4 * n] = b'0' + (n / 1_000) as u8;
        digits[4 * n + 1] = b'0' + (n / 100 % 10) as u8;
        digits[4 * n + 2] = b'0' + (n / 10 % 10) as u8;
        digits[4 * n + 3] = b'0' + (n % 10) as u8;
        n += 1;
    }
    digits
};

fn content_length(length: usize) -> HeaderValue {
    let width = match length {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1_000..=9_999 => 4,
        _ => return HeaderValue::from(length),
    };
    let end = 4 * length + 4;
    match FOUR_DIGITS.get(end - width..end).map(std::str::from_utf8) {
        Some(Ok(digits)) => HeaderValue::from_static(digits),
        _ => HeaderValue::from(length),
    }
}

/// A set of compiled services, by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Services {
    services: Vec<Service>,
    index: HashMap<String, usize>,
}

impl Services {
    /// Compiles every service, reporting every problem of every service at
    /// once; an invalid configuration never half-loads.
    pub fn load(configs: &[ServiceConfig], catalog: &Catalog) -> Result<Services, Error> {
        let mut errors = Vec::new();
        let mut services = Services::default();
        for (i, config) in configs.iter().enumerate() {
            if services.index.contains_key(&config.id) {
                errors.push(
                    Error::new(
                        ErrorKind::InvalidConfig,
                        format!("service id `{}` is used twice", config.id),
                    )
                    .in_field(&format!("services.{i}.id"))
                    .in_service(&config.id),
                );
                continue;
            }
            match config.compile(catalog) {
                Ok(service) => {
                    services
                        .index
                        .insert(config.id.clone(), services.services.len());
                    services.services.push(service);
                }
                Err(e) => errors.extend(e.into_problems()),
            }
        }
        if errors.is_empty() {
            Ok(services)
        } else {
            Err(Error::many(errors))
        }
    }

    /// The service with this id.
    pub fn get(&self, id: &str) -> Option<&Service> {
        self.index.get(id).map(|&i| &self.services[i])
    }

    /// Every service, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = &Service> {
        self.services.iter()
    }

    /// How many services there are.
    pub fn len(&self) -> usize {
        self.services.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }
}

/// A configuration file: the services and webhooks of one platform.
///
/// ```
/// let config = callhook::service::Config::from_json(include_str!("../examples/configs/ringcx.json"))?;
/// let services = callhook::Services::load(&config.services, callhook::Catalog::standard())?;
/// assert_eq!(services.len(), config.services.len());
/// # Ok::<(), callhook::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The services.
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
    /// The webhooks, binding events to services.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<crate::webhook::WebhookConfig>,
}

impl Config {
    /// Parses a configuration from JSON text.
    pub fn from_json(text: &str) -> Result<Config, Error> {
        from_json_str(text)
    }
}

/// Parses JSON text into `T`, with serde's message and the position as an
/// [`ErrorKind::Serde`] error.
pub fn from_json_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|e| {
        let (message, position) = json_error(text, &e);
        Error::new(ErrorKind::Serde, message).at(position)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b";

    #[test]
    fn content_lengths_print_in_decimal() {
        for n in (0..10_100).chain([99_999, 100_000, usize::MAX]) {
            assert_eq!(content_length(n), n.to_string().as_str(), "{n}");
        }
    }

    fn config(json: serde_json::Value) -> ServiceConfig {
        let mut base = serde_json::json!({
            "id": ID, "name": "t", "method": "POST", "url": "https://crm.example.com/calls"
        });
        base.as_object_mut()
            .unwrap()
            .extend(json.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
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

    #[test]
    fn services_load_all_or_nothing() {
        let good = config(serde_json::json!({}));
        let mut bad = config(serde_json::json!({"url": "ftp://x/"}));
        bad.id = "6b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b".into();
        let dup = good.clone();
        let err = Services::load(&[good.clone(), bad, dup], Catalog::standard()).unwrap_err();
        assert_eq!(err.related().len(), 2);
        let services = Services::load(&[good], Catalog::standard()).unwrap();
        assert!(services.get(ID).is_some());
    }

    #[test]
    fn json_errors_have_positions() {
        let err = from_json_str::<ServiceConfig>("{\n  \"id\": 1\n}").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Serde);
        assert_eq!(err.position().unwrap().line, 2);
    }
}
