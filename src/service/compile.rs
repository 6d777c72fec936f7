//! Compiling a [`ServiceConfig`] into a [`Service`]: every check, and the
//! JSON the service keeps.

use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use super::config::{Method, ServiceConfig};
use super::headers::{
    check_header_name, is_list_valued, refuse_placeholder_in_name, DynamicHeader, Route,
    StaticHeaders, USER_AGENT,
};
use super::stored::Stored;
use super::{Compiled, Rare, Service};
use crate::address::AddressPolicy;
use crate::auth::Auth;
use crate::body::{fragment, Body, Origin, Pair};
use crate::call::CallData;
use crate::catalog::Catalog;
use crate::error::{Error, ErrorKind};
use crate::health::HealthPolicy;
use crate::id::is_uuid;
use crate::limits::{
    self, FALLBACK_URLS, HEADERS, HEADER_BYTES, MAP_ENTRIES, PAIRS, SIGNING_SECRETS,
    TEMPLATE_BYTES, URL_BYTES,
};
use crate::request::is_dropped;
use crate::retry::RetryPolicy;
use crate::secret::{names_secret, Secret};
use crate::signer::{Signer, SigningConfig};
use crate::template::{Builder, Context, Options};

/// The problems of `auth` in the service `config` (its own, or a named
/// entry it refers to), beyond those of `auth` alone: the header it sets
/// is one no `auth` may set, or is set by the service's `headers` or its
/// signature (`signer`); the query parameter it adds is one of the
/// service's URL (its text's or a `GET`'s pairs'), which replacing the
/// credential on each attempt would drop. Each error's field is relative
/// to the auth.
pub(crate) fn auth_problems(
    config: &ServiceConfig,
    auth: &Auth,
    signer: Option<&Signer>,
) -> Vec<Error> {
    let mut errors = Vec::new();
    let header_field = match auth {
        Auth::ApiKey { .. } => "header",
        _ => "add_to.name",
    };
    if let Some(name) = auth.header_name() {
        if let Err(e) = check_header_name(&name, Route::Auth) {
            errors.push(e.in_field(header_field));
        } else if config
            .headers
            .iter()
            .any(|pair| HeaderName::try_from(pair.key.as_str()).is_ok_and(|n| n == name))
        {
            errors.push(Error::new(
                ErrorKind::InvalidHeader,
                format!("header `{name}` is set both by `auth` and in `headers`"),
            ));
        } else if signer.is_some_and(|signer| signer.headers().contains(&name.as_str())) {
            errors.push(
                Error::new(
                    ErrorKind::InvalidHeader,
                    format!("header `{name}` is set by the signature"),
                )
                .in_field(header_field),
            );
        }
    }
    if let Some(param) = auth.query_param() {
        // The URL's and every fallback URL's: the credential goes to
        // whichever the delivery is sent to.
        let in_url = std::iter::once(&config.url)
            .chain(&config.fallback_urls)
            .filter_map(|url| url.split_once('?'))
            .map(|(_, query)| query.split('#').next().unwrap_or_default())
            .flat_map(|query| query.split('&'))
            .map(|pair| pair.split_once('=').map_or(pair, |(name, _)| name))
            .any(|name| {
                form_urlencoded::parse(name.as_bytes())
                    .map(|(k, _)| k)
                    .collect::<String>()
                    == param
            });
        let in_pairs = config
            .body
            .query_pairs(config.method == Method::Get)
            .is_some_and(|pairs| pairs.iter().any(|p| p.key == param));
        if in_url || in_pairs {
            errors.push(Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "query parameter `{}` is set both by `auth` and in the service's URL",
                    crate::error::shown(param)
                ),
            ));
        }
    }
    errors
}

impl Service {
    /// The problems of the named entry `entry` used by this service,
    /// compiled from `config`, beyond the entry's own ([`auth_problems`]):
    /// a registry checks them when either changes.
    pub(crate) fn named_auth_problems(&self, config: &ServiceConfig, entry: &Auth) -> Vec<Error> {
        auth_problems(config, entry, self.compiled.signer())
    }
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
        self.compile_under(catalog, &AddressPolicy::new())
    }

    /// [`ServiceConfig::compile`] under the address policy `addresses`,
    /// which says which internal addresses the URL may point to.
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
    /// assert!(config.compile_under(Catalog::standard(), &local).is_ok());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn compile_under(
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
            errors.extend(self.timeout_problem());
            errors.extend(self.fallback_after_problem());
            return Err(Error::many(ErrorKind::InvalidConfig, errors).in_service(&self.id));
        }
        let mut errors = Vec::new();
        let secrets = self.secrets();
        for (field, secret) in &secrets {
            // Only a reference can be unresolved: an inline value is its own.
            if let Some(name) = secret.reference().filter(|_| !secret.is_resolved()) {
                errors.push(
                    Error::new(
                        ErrorKind::InvalidConfig,
                        format!(
                            "secret reference `{name}` is not resolved; resolve it with \
                             `Config::resolve_secrets` before loading"
                        ),
                    )
                    .in_field(field),
                );
            }
        }
        let mut options = Options::new(catalog)
            .with_syntax(self.syntax)
            .with_lenient(self.lenient)
            .with_addresses(addresses);
        if let Some(missing) = self.missing {
            options = options.with_missing(missing);
        }
        if let Some(region) = &self.phone_region {
            match options.clone().with_phone_region(region) {
                Ok(with_region) => options = with_region,
                Err(e) => errors.push(e.in_field("phone_region")),
            }
        }
        if !is_uuid(&self.id) {
            errors.push(not_a_uuid(&self.id));
        }
        let get = self.method == Method::Get;
        // Each part's problems go to `errors`; `None` only marks the part
        // as failed, and the service is refused below.
        let url = self
            .compile_url(get, &options)
            .map_err(|e| errors.extend(e))
            .ok();
        let fallbacks = self
            .compile_fallbacks(get, &options)
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
            fragment(
                &mut builder,
                Origin::Header(i),
                &pair.value,
                Context::Header,
                Some(&pair.map),
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
                // Envelopes store no credential or signature header, and
                // signing adds back only what the registry holds: a value
                // rendered from the call would be lost on every stored
                // attempt.
                if is_dropped(name.as_str()) {
                    errors.push(
                        Error::new(
                            ErrorKind::InvalidHeader,
                            format!(
                                "header `{name}` cannot be templated: envelopes never store it, \
                                 and signing adds back only a static value; put the credential \
                                 in `auth`"
                            ),
                        )
                        // At the name, which is what the rule is about: an
                        // error at a secret value is shown without its text.
                        .in_field(&format!("{}.key", path())),
                    );
                    continue;
                }
                dynamic_headers.push(DynamicHeader {
                    name,
                    value,
                    index: i,
                    secret,
                });
            }
        }
        // The credential is added when a request is signed for sending
        // (`Service::sign_with`), never compiled into the request: only
        // checked here. A named entry is checked by the registry, which
        // holds it.
        errors.extend(
            self.auth
                .problems(addresses)
                .into_iter()
                .map(|e| e.in_field("auth")),
        );
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
        errors.extend(
            auth_problems(self, &self.auth, signer.as_ref())
                .into_iter()
                .map(|e| e.in_field("auth")),
        );
        errors.extend(self.retry_problems());
        errors.extend(self.timeout_problem());
        errors.extend(self.fallback_after_problem());

        let (
            Some(url),
            Some(fallbacks),
            Some(Body {
                template: body,
                content_type,
                ..
            }),
            true,
        ) = (url, fallbacks, body, errors.is_empty())
        else {
            let errors = errors
                .into_iter()
                .map(|e| self.quoting_no_secret(e))
                .collect();
            return Err(Error::many(ErrorKind::InvalidConfig, errors).in_service(&self.id));
        };
        let json = match Stored::of(self) {
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
        // No query pairs (not a `GET`, or no pairs): none is a secret.
        let secret_pairs = self
            .body
            .query_pairs(self.method == Method::Get)
            .unwrap_or_default()
            .iter()
            .filter(|p| p.is_secret())
            .map(|p| p.key.as_str().into())
            .collect();
        // The service's own static headers that envelopes drop, added back
        // when a request is signed (`Service::sign_with`).
        let restored = static_headers
            .iter()
            .filter(|(name, _)| is_dropped(name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let rare = Rare {
            resolved: resolved_references(secrets),
            restored,
            retry: self.retry.clone(),
            health: self.health.clone(),
            secret_parameters: self
                .secret_parameters
                .iter()
                .map(|p| p.as_str().into())
                .collect(),
            secret_pairs,
            shown_body,
            signer,
            auth: self.auth.clone(),
            credential: self.auth.static_credential(),
            timeout: self.timeout,
            fallbacks,
            fallback_after: self.fallback_after,
        };
        let compiled = Compiled {
            id: self.id.as_str().into(),
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
        // A path that is not `prefix.N.value` names no pair or header,
        // so nothing secret.
        let indexed = |prefix: &str| {
            field
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(".value"))
                .and_then(|i| i.parse::<usize>().ok())
        };
        let url = if field == "url" {
            Some(&self.url)
        } else {
            field
                .strip_prefix("fallback_urls.")
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| self.fallback_urls.get(i))
        };
        let secret = if let Some(i) = indexed("headers.") {
            self.headers.get(i).is_some_and(Pair::is_secret)
        } else if let Some(url) = url {
            e.position()
                .is_some_and(|at| self.in_secret_query_value(url, at.offset))
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

    /// Whether byte `offset` of the URL `url` (the service's or a fallback
    /// URL) lies in the value of a query parameter that holds a secret (by
    /// the name rule or `secret_parameters`).
    fn in_secret_query_value(&self, url: &str, offset: usize) -> bool {
        let Some(query_start) = url.find('?').map(|q| q + 1) else {
            return false;
        };
        let mut start = query_start;
        for parameter in url[query_start..].split('&') {
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

    /// What is wrong with `fallback_after`: none below 1 (a URL would be
    /// left before it was tried) or above
    /// [`limits::RETRY_ATTEMPTS`] (a delivery gives up before it moves).
    fn fallback_after_problem(&self) -> Option<Error> {
        let n = self.fallback_after;
        let problem = if n == 0 {
            "`fallback_after` is 0; a URL is tried at least once before the next".to_owned()
        } else if n > limits::RETRY_ATTEMPTS {
            format!(
                "`fallback_after` is {}; at most {} are allowed (`limits::RETRY_ATTEMPTS`): \
                 no delivery makes more attempts",
                limits::count(n as usize),
                limits::count(limits::RETRY_ATTEMPTS as usize)
            )
        } else {
            return None;
        };
        Some(Error::new(ErrorKind::InvalidConfig, problem).in_field("fallback_after"))
    }

    /// The retry and health policies' problems, if it has them.
    fn retry_problems(&self) -> Vec<Error> {
        let mut problems = match self.retry.as_ref().map(RetryPolicy::check) {
            Some(Err(e)) => e.in_field("retry").into_problems(),
            _ => Vec::new(),
        };
        if let Some(Err(e)) = self.health.as_ref().map(HealthPolicy::check) {
            problems.extend(e.in_field("health").into_problems());
        }
        problems
    }

    /// What is wrong with the timeout, if the service sets one: a fraction
    /// of a second (its JSON keeps whole seconds, so the service would not
    /// read back as it was written), or a duration outside
    /// [`limits::SHORTEST_TIMEOUT`] and [`limits::LONGEST_TIMEOUT`].
    fn timeout_problem(&self) -> Option<Error> {
        let timeout = self.timeout?;
        let problem = if timeout.subsec_nanos() != 0 {
            format!("timeout of {timeout:?} is not a whole number of seconds; write it as `20s`")
        } else if timeout < limits::SHORTEST_TIMEOUT {
            format!(
                "timeout of {}s is shorter than {}s (`limits::SHORTEST_TIMEOUT`)",
                timeout.as_secs(),
                limits::SHORTEST_TIMEOUT.as_secs()
            )
        } else if timeout > limits::LONGEST_TIMEOUT {
            format!(
                "timeout of {}s is longer than {}s (`limits::LONGEST_TIMEOUT`)",
                timeout.as_secs(),
                limits::LONGEST_TIMEOUT.as_secs()
            )
        } else {
            return None;
        };
        Some(Error::new(ErrorKind::InvalidConfig, problem).in_field("timeout"))
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
        // No query pairs: the URL's bytes are its own.
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
        if self.fallback_urls.len() > FALLBACK_URLS {
            let what = format!(
                "service has {} fallback URLs",
                count(self.fallback_urls.len())
            );
            over("fallback_urls", what, FALLBACK_URLS, "FALLBACK_URLS");
        }
        let query_bytes = url_bytes - self.url.len();
        for (i, url) in self
            .fallback_urls
            .iter()
            .take(FALLBACK_URLS + 1)
            .enumerate()
        {
            let bytes = url.len() + query_bytes;
            if bytes > URL_BYTES {
                let with = if query.is_empty() {
                    ""
                } else {
                    " with its query pairs"
                };
                let what = format!("fallback URL is {} bytes{with}", count(bytes));
                over(&format!("fallback_urls.{i}"), what, URL_BYTES, "URL_BYTES");
            }
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
}

// A service signs with no more secrets than a receiver takes signatures.
const _: () = assert!(SIGNING_SECRETS == limits::SIGNATURES);

pub(super) fn not_a_uuid(id: &str) -> Error {
    Error::new(
        ErrorKind::InvalidConfig,
        format!("service id `{id}` is not a UUID"),
    )
    .in_field("id")
}

/// The secrets given by reference, resolved, in the order they are walked.
pub(super) fn resolved_references(secrets: Vec<(String, Secret)>) -> Box<[Secret]> {
    secrets
        .into_iter()
        .map(|(_, secret)| secret)
        .filter(|secret| secret.reference().is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::tests::config;

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
}
