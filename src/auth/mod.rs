//! Authentication of outgoing requests.
//!
//! Credentials are applied when a delivery is signed for sending
//! (`Registry::prepare`, `Registry::sign`, `Service::sign`, one path:
//! `Service::sign_with`), never frozen into what dispatch produces, so a
//! rotated secret or entry reaches every queued delivery.

pub(crate) mod jwt;
pub(crate) mod oauth2;

use base64::Engine as _;
use http::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::address::AddressPolicy;
use crate::error::{shown, Error, ErrorKind};
use crate::limits;
use crate::request::Request;
use crate::secret::Secret;
pub(crate) use oauth2::{TokenCache, TokenRequest};

/// How a service authenticates to its endpoint: the credential is added
/// when a delivery is signed for sending
/// ([`Registry::prepare`](crate::Registry::prepare)), never by dispatch.
///
/// In configuration: `{"kind": "basic", "username": "...", "password": "..."}`,
/// `{"kind": "bearer", "token": "..."}`,
/// `{"kind": "api_key", "header": "X-Api-Key", "key": "..."}`,
/// `{"kind": "query_key", "param": "api_key", "key": "..."}`,
/// `{"kind": "jwt", ...}` ([`JwtAuth`](crate::JwtAuth), feature `jwt`),
/// `{"kind": "oauth2", ...}` ([`OAuth2Auth`](crate::OAuth2Auth); a JWT
/// assertion needs feature `jwt`), `{"kind": "named", "name": "crm"}` (an entry of
/// [`Config::auth_configs`](crate::Config::auth_configs)) or
/// `{"kind": "none"}` (the default).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Auth {
    /// No authentication.
    #[default]
    None,
    /// HTTP Basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// A bearer token in `Authorization`.
    Bearer {
        /// The token.
        token: Secret,
    },
    /// A key in a header of its own.
    ApiKey {
        /// The header name, such as `X-Api-Key`.
        header: String,
        /// The key.
        key: Secret,
    },
    /// A key in a query parameter of its own, secret whatever its name,
    /// appended last to the URL; the parameter may not be one the
    /// service's URL has.
    QueryKey {
        /// The parameter name, such as `api_key`.
        param: String,
        /// The key.
        key: Secret,
    },
    /// A JWT minted by callhook. Boxed, as is [`Auth::OAuth2`]: they are
    /// several times the size of the other kinds, which every service
    /// with auth holds.
    Jwt(Box<jwt::JwtAuth>),
    /// An OAuth2 access token the host fetches with the token request
    /// callhook builds.
    #[serde(rename = "oauth2")]
    OAuth2(Box<oauth2::OAuth2Auth>),
    /// A named entry of the configuration's `auth_configs` (RingCX's
    /// `authConfigId`), resolved at send time.
    Named {
        /// The entry's name.
        name: String,
    },
}

/// Where a token goes in a request (RingCX's `addTokenTo`).
///
/// In configuration: `{"to": "header", "name": "authorization", "prefix":
/// "Bearer "}` (the default) or `{"to": "query", "param": "access_token"}`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum TokenPlacement {
    /// In a header, after a prefix (RingCX's `REQUEST_HEADER`, `headerPrefix`).
    Header {
        /// The header name.
        name: String,
        /// The text before the token, such as `Bearer `.
        prefix: String,
    },
    /// In a query parameter (RingCX's `QUERY_PARAM`, `queryParamName`).
    Query {
        /// The parameter name.
        param: String,
    },
}

impl Default for TokenPlacement {
    fn default() -> TokenPlacement {
        TokenPlacement::Header {
            name: "authorization".into(),
            prefix: "Bearer ".into(),
        }
    }
}

impl Auth {
    /// The header this authentication adds, for the kinds that need
    /// neither a time nor a token (Basic, Bearer, API key), marked
    /// sensitive so that clients and loggers that honour the flag hide it.
    /// Callhook adds it when a delivery is signed for sending
    /// ([`Registry::prepare`](crate::Registry::prepare)), never when it is
    /// dispatched.
    ///
    /// # Errors
    ///
    /// A Basic username with `:`, an API-key header name that is not a
    /// header name, or a credential a header cannot carry (CR, LF) is an
    /// error of kind [`ErrorKind::InvalidHeader`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Auth, Secret};
    ///
    /// let auth = Auth::Bearer { token: Secret::new("t0k") };
    /// let (name, value) = auth.header()?.expect("bearer sets a header");
    /// assert_eq!(name, "authorization");
    /// assert!(value.is_sensitive());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn header(&self) -> Result<Option<(HeaderName, HeaderValue)>, Error> {
        self.static_header().map_err(|e| e.in_field("auth"))
    }

    /// [`Auth::header`], its errors' fields relative to the auth.
    fn static_header(&self) -> Result<Option<(HeaderName, HeaderValue)>, Error> {
        let (name, value) = match self {
            Auth::Basic { username, password } => {
                if username.contains(':') {
                    return Err(Error::new(
                        ErrorKind::InvalidHeader,
                        "a Basic auth username cannot contain `:`",
                    )
                    .in_field("username"));
                }
                let credentials = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", password.expose()));
                (http::header::AUTHORIZATION, format!("Basic {credentials}"))
            }
            Auth::Bearer { token } => (
                http::header::AUTHORIZATION,
                format!("Bearer {}", token.expose()),
            ),
            Auth::ApiKey { header, key } => (
                header_name(header).map_err(|e| e.in_field("header"))?,
                key.expose().to_owned(),
            ),
            Auth::None
            | Auth::QueryKey { .. }
            | Auth::Jwt(_)
            | Auth::OAuth2(_)
            | Auth::Named { .. } => return Ok(None),
        };
        Ok(Some((name, sensitive_value(value)?)))
    }

    /// The header this authentication sets, whatever its value, for the
    /// checks of names a service makes: `None` for none, a query
    /// parameter, a named entry (checked against the entry) or a name that
    /// is not a header name (reported by [`Auth::problems`]).
    pub(crate) fn header_name(&self) -> Option<HeaderName> {
        match self {
            Auth::Basic { .. } | Auth::Bearer { .. } => Some(http::header::AUTHORIZATION),
            Auth::ApiKey { header, .. } => HeaderName::try_from(header.as_str()).ok(),
            Auth::Jwt(jwt) => jwt.add_to.header_name(),
            Auth::OAuth2(oauth) => oauth.add_to.header_name(),
            Auth::None | Auth::QueryKey { .. } | Auth::Named { .. } => None,
        }
    }

    /// The query parameter this authentication adds, if it adds one.
    pub(crate) fn query_param(&self) -> Option<&str> {
        match self {
            Auth::QueryKey { param, .. } => Some(param),
            Auth::Jwt(jwt) => jwt.add_to.query_param(),
            Auth::OAuth2(oauth) => oauth.add_to.query_param(),
            _ => None,
        }
    }

    /// Every problem of this authentication on its own, each error's field
    /// relative to it (`username`, `header`, `add_to.name`): what a service
    /// and a named entry alike are refused for. The checks that need the
    /// service (a clash with its headers, signature or URL) are the
    /// service's.
    pub(crate) fn problems(&self, addresses: &AddressPolicy) -> Vec<Error> {
        let mut errors = Vec::new();
        match self {
            Auth::None | Auth::Named { .. } => {}
            Auth::Basic { .. } | Auth::Bearer { .. } | Auth::ApiKey { .. } => match self {
                Auth::ApiKey { header, .. } if has_placeholder(header) => {
                    errors.push(placeholder_in_name(header).in_field("header"));
                }
                _ => {
                    if let Err(e) = self.static_header() {
                        errors.push(e);
                    }
                }
            },
            Auth::QueryKey { param, .. } => {
                if let Err(e) = check_param(param) {
                    errors.push(e.in_field("param"));
                }
            }
            Auth::Jwt(jwt) => {
                // Without the `jwt` feature, `check` says so.
                errors.extend(jwt.check());
                errors.extend(
                    jwt.add_to
                        .problems()
                        .into_iter()
                        .map(|e| e.in_field("add_to")),
                );
            }
            Auth::OAuth2(oauth) => {
                errors.extend(oauth.check(addresses));
                errors.extend(
                    oauth
                        .add_to
                        .problems()
                        .into_iter()
                        .map(|e| e.in_field("add_to")),
                );
            }
        }
        errors
    }

    /// Every secret of this authentication, with its field path relative
    /// to it (`password`, `grant.refresh_token`), in one fixed order: the
    /// order secret references are resolved and kept in.
    pub(crate) fn secrets_mut(&mut self) -> Vec<(String, &mut Secret)> {
        let mut secrets: Vec<(String, &mut Secret)> = Vec::new();
        match self {
            Auth::Basic { password, .. } => secrets.push(("password".into(), password)),
            Auth::Bearer { token } => secrets.push(("token".into(), token)),
            Auth::ApiKey { key, .. } | Auth::QueryKey { key, .. } => {
                secrets.push(("key".into(), key));
            }
            Auth::Jwt(jwt) => secrets.push(("key".into(), &mut jwt.key)),
            Auth::OAuth2(oauth) => secrets.extend(oauth.secrets_mut()),
            Auth::None | Auth::Named { .. } => {}
        }
        secrets
    }

    /// The credential to place in a request sent at `at`, for the entry
    /// whose token is cached under `key`, or the token request to send
    /// first. A named entry is resolved by the registry before this is
    /// asked, so it is an error here.
    pub(crate) fn credential(
        &self,
        key: &str,
        at: chrono::DateTime<chrono::Utc>,
        tokens: &TokenCache,
        claims: &jwt::ClaimValues<'_>,
    ) -> Result<Step, Error> {
        let credential = match self {
            Auth::None => return Ok(Step::Apply(None)),
            Auth::Basic { .. } | Auth::Bearer { .. } | Auth::ApiKey { .. } => self
                .static_header()?
                .map(|(name, value)| Credential::Header(name, value)),
            Auth::QueryKey { param, key } => {
                Some(Credential::Query(param.clone(), key.expose().to_owned()))
            }
            Auth::Jwt(jwt) => Some(match &jwt.add_to {
                // A cached token's header value is shared, not formatted
                // again: about 100 instructions.
                TokenPlacement::Header { name, .. } => Credential::Header(
                    header_name(name).map_err(|e| e.in_field("add_to.name"))?,
                    jwt.header_value_for(at, claims)?,
                ),
                TokenPlacement::Query { param } => {
                    Credential::Query(param.clone(), jwt.token_for(at, claims)?)
                }
            }),
            Auth::OAuth2(oauth) => match tokens.usable(key, oauth, at) {
                Some(token) => Some(match &oauth.add_to {
                    TokenPlacement::Header { name, prefix } => {
                        let (name, value) = oauth
                            .cached_header(name, prefix, token, || {
                                token_header(name, prefix, token)
                            })
                            .map_err(|e| e.in_field("add_to"))?;
                        Credential::Header(name, value)
                    }
                    TokenPlacement::Query { .. } => oauth
                        .add_to
                        .credential(token)
                        .map_err(|e| e.in_field("add_to"))?,
                }),
                None => {
                    return Ok(Step::TokenNeeded(Box::new(
                        oauth.token_request(key, tokens, at)?,
                    )))
                }
            },
            Auth::Named { name } => {
                return Err(Error::new(
                    ErrorKind::Registry,
                    format!(
                        "auth entry `{}` is named, and only a registry resolves names; \
                         sign through `Registry::prepare`",
                        shown(name)
                    ),
                )
                .in_field("auth.name"))
            }
        };
        Ok(Step::Apply(credential))
    }
}

impl Auth {
    /// The credential of a kind that needs no time, token or registry
    /// (Basic, Bearer, API key, query key), made once when a service
    /// compiles; `None` for the other kinds, or one that cannot be made
    /// (refused by [`Auth::problems`]).
    pub(crate) fn static_credential(&self) -> Option<Credential> {
        match self {
            Auth::Basic { .. }
            | Auth::Bearer { .. }
            | Auth::ApiKey { .. }
            | Auth::QueryKey { .. } => {
                match self.credential(
                    "",
                    chrono::DateTime::UNIX_EPOCH,
                    &TokenCache::default(),
                    &jwt::ClaimValues::default(),
                ) {
                    Ok(Step::Apply(credential)) => credential,
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

impl TokenPlacement {
    fn header_name(&self) -> Option<HeaderName> {
        match self {
            TokenPlacement::Header { name, .. } => HeaderName::try_from(name.as_str()).ok(),
            TokenPlacement::Query { .. } => None,
        }
    }

    fn query_param(&self) -> Option<&str> {
        match self {
            TokenPlacement::Header { .. } => None,
            TokenPlacement::Query { param } => Some(param),
        }
    }

    /// Every problem of the placement, each error's field relative to it.
    fn problems(&self) -> Vec<Error> {
        let mut errors = Vec::new();
        match self {
            TokenPlacement::Header { name, prefix } => {
                if has_placeholder(name) {
                    errors.push(placeholder_in_name(name).in_field("name"));
                } else if let Err(e) = header_name(name) {
                    errors.push(e.in_field("name"));
                }
                if HeaderValue::try_from(prefix.as_str()).is_err() {
                    errors.push(
                        Error::new(
                            ErrorKind::InvalidHeader,
                            "the prefix holds characters a header cannot carry",
                        )
                        .in_field("prefix"),
                    );
                }
            }
            TokenPlacement::Query { param } => {
                if let Err(e) = check_param(param) {
                    errors.push(e.in_field("param"));
                }
            }
        }
        errors
    }

    /// `token` placed as this placement says.
    fn credential(&self, token: &str) -> Result<Credential, Error> {
        Ok(match self {
            TokenPlacement::Header { name, prefix } => {
                let (name, value) = token_header(name, prefix, token)?;
                Credential::Header(name, value)
            }
            TokenPlacement::Query { param } => Credential::Query(param.clone(), token.to_owned()),
        })
    }
}

/// `token` after `prefix` in header `name`, its value marked sensitive.
fn token_header(name: &str, prefix: &str, token: &str) -> Result<(HeaderName, HeaderValue), Error> {
    Ok((
        header_name(name).map_err(|e| e.in_field("name"))?,
        sensitive_value(format!("{prefix}{token}"))?,
    ))
}

/// What an authentication gives for a request about to be sent.
pub(crate) enum Step {
    /// Place this credential (none for [`Auth::None`]), then sign.
    Apply(Option<Credential>),
    /// Send this token request first, then prepare again.
    TokenNeeded(Box<TokenRequest>),
}

/// A credential to place in a request.
#[derive(Clone)]
pub(crate) enum Credential {
    /// A header, its value marked sensitive.
    Header(HeaderName, HeaderValue),
    /// A query parameter: its name and value, not yet encoded.
    Query(String, String),
}

/// Which credential a request carries, so that signing it again replaces
/// it, and storing it ([`Envelope::new`](crate::Envelope::new)) drops it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    header: Option<HeaderName>,
    query: Option<Box<str>>,
}

impl Applied {
    /// Places `credential` in `request`, replacing any parameter of the
    /// same name (from an earlier attempt), and records it.
    pub(crate) fn place(
        &mut self,
        request: &mut Request,
        credential: Credential,
    ) -> Result<(), Error> {
        match credential {
            Credential::Header(name, value) => {
                request.headers_mut().insert(name.clone(), value);
                self.header = Some(name);
            }
            Credential::Query(param, value) => {
                set_query_param(request, &param, Some(&value))?;
                self.query = Some(param.into());
            }
        }
        Ok(())
    }

    /// Takes the recorded credential out of `request`, and forgets it.
    pub(crate) fn remove_from(&mut self, request: &mut Request) -> Result<(), Error> {
        if let Some(name) = self.header.take() {
            request.headers_mut().remove(name);
        }
        if let Some(param) = self.query.take() {
            set_query_param(request, &param, None)?;
        }
        Ok(())
    }

    /// Whether any credential is recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.header.is_none() && self.query.is_none()
    }
}

/// Removes every query parameter named `param` from the request's URL,
/// and, given a value, appends `param=value` form-encoded as the last one.
/// The other parameters are kept byte for byte: a signature over the URL
/// (Twilio's) covers what is sent.
pub(crate) fn set_query_param(
    request: &mut Request,
    param: &str,
    value: Option<&str>,
) -> Result<(), Error> {
    let uri = request.uri();
    let (path, query) = match uri.path_and_query() {
        Some(pq) => (pq.path(), pq.query()),
        None => ("/", None),
    };
    let mut kept: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(name, _)| name);
            let decoded: String = form_urlencoded::parse(name.as_bytes())
                .map(|(k, _)| k.into_owned())
                .collect();
            decoded != param
        })
        .collect();
    let added;
    if let Some(value) = value {
        added = form_urlencoded::Serializer::new(String::new())
            .append_pair(param, value)
            .finish();
        kept.push(&added);
    }
    let mut path_and_query = path.to_owned();
    if !kept.is_empty() {
        path_and_query.push('?');
        path_and_query.push_str(&kept.join("&"));
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().map_err(|e| {
        Error::new(ErrorKind::InvalidUrl, "the URL cannot carry the credential").with_source(e)
    })?);
    *request.uri_mut() = http::Uri::from_parts(parts).map_err(|e| {
        Error::new(ErrorKind::InvalidUrl, "the URL cannot carry the credential").with_source(e)
    })?;
    Ok(())
}

/// `name` as a header name, or an error saying it is not one.
/// The field is the caller's to name: `header` for an API key, `name` for
/// a token's placement.
fn header_name(name: &str) -> Result<HeaderName, Error> {
    // The default placement's, named per request by a minted JWT: a
    // comparison where parsing is 170 instructions.
    if name == "authorization" {
        return Ok(http::header::AUTHORIZATION);
    }
    HeaderName::try_from(name).map_err(|e| {
        Error::new(
            ErrorKind::InvalidHeader,
            format!("invalid header name `{}`", shown(name)),
        )
        .with_source(e)
    })
}

/// A credential as a header value, marked sensitive.
fn sensitive_value(value: String) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::try_from(value).map_err(|e| {
        Error::new(
            ErrorKind::InvalidHeader,
            "the credential holds characters a header cannot carry",
        )
        .with_source(e)
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Whether a name holds what reads as a placeholder: names are fixed, and
/// one from call data could be chosen by a caller.
fn has_placeholder(name: &str) -> bool {
    name.contains('#') || name.contains("[[") || name.contains("]]")
}

/// The error for a name holding a placeholder, worded as for a service's
/// own headers.
fn placeholder_in_name(name: &str) -> Error {
    Error::new(
        ErrorKind::InvalidHeader,
        format!(
            "placeholders are not supported in header names: `{}` would be sent as written",
            shown(name)
        ),
    )
}

/// A query parameter name credentials may use: not empty, at most
/// [`limits::AUTH_NAME_BYTES`] bytes.
fn check_param(param: &str) -> Result<(), Error> {
    if param.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidConfig,
            "the query parameter's name is empty",
        ));
    }
    if param.len() > limits::AUTH_NAME_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidConfig,
            format!(
                "the query parameter's name has {} bytes; at most {} are allowed \
                 (`limits::AUTH_NAME_BYTES`)",
                limits::count(param.len()),
                limits::count(limits::AUTH_NAME_BYTES)
            ),
        ));
    }
    if has_placeholder(param) {
        return Err(Error::new(
            ErrorKind::InvalidConfig,
            format!(
                "placeholders are not supported in query parameter names: `{}` would be \
                 sent as written",
                shown(param)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_bearer_and_api_key_headers_are_sensitive() {
        let basic = Auth::Basic {
            username: "Aladdin".into(),
            password: Secret::new("open sesame"),
        };
        let (name, value) = basic.header().unwrap().unwrap();
        assert_eq!(name, http::header::AUTHORIZATION);
        assert_eq!(value, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert!(value.is_sensitive());
        let (_, value) = Auth::Bearer {
            token: Secret::new("t"),
        }
        .header()
        .unwrap()
        .unwrap();
        assert_eq!(value, "Bearer t");
        let key = Auth::ApiKey {
            header: "X-Api-Key".into(),
            key: Secret::new("k"),
        };
        assert_eq!(key.header().unwrap().unwrap().0, "x-api-key");
        assert!(Auth::None.header().unwrap().is_none());
        assert!(Auth::Bearer {
            token: Secret::new("a\nb")
        }
        .header()
        .is_err());
    }

    /// A credential's parameter goes last, form-encoded, replacing every
    /// one of its name; the others are kept byte for byte, so a signature
    /// over the URL covers what is sent.
    #[test]
    fn query_parameters_are_replaced_and_the_rest_kept() {
        let mut request = http::Request::new(Vec::new());
        *request.uri_mut() = "https://x.example.com/p?a=%7e&api%5Fkey=old&b&api_key=old2"
            .parse()
            .unwrap();
        set_query_param(&mut request, "api_key", Some("n w&=")).unwrap();
        assert_eq!(
            request.uri(),
            "https://x.example.com/p?a=%7e&b&api_key=n+w%26%3D"
        );
        set_query_param(&mut request, "api_key", None).unwrap();
        assert_eq!(request.uri(), "https://x.example.com/p?a=%7e&b");
        *request.uri_mut() = "https://x.example.com/p".parse().unwrap();
        set_query_param(&mut request, "api_key", None).unwrap();
        assert_eq!(request.uri(), "https://x.example.com/p");
        let mut applied = Applied::default();
        applied
            .place(&mut request, Credential::Query("k".into(), "v".into()))
            .unwrap();
        assert_eq!(request.uri(), "https://x.example.com/p?k=v");
        applied.remove_from(&mut request).unwrap();
        assert_eq!(request.uri(), "https://x.example.com/p");
        assert!(applied.is_empty());
    }

    /// Every kind's secrets are walked, for resolving references and for
    /// refusing unresolved ones; a named entry has none of its own.
    #[test]
    fn every_secret_is_walked() {
        let oauth: Auth = serde_json::from_value(serde_json::json!({
            "kind": "oauth2", "token_url": "https://a.example.com/t", "client_id": "c",
            "client_secret": "s", "grant": {"type": "refresh_token", "refresh_token": "r"},
            "parameters": [{"name": "audience", "value": "v"}]
        }))
        .unwrap();
        let fields: Vec<String> = oauth
            .clone()
            .secrets_mut()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            ["client_secret", "grant.refresh_token", "parameters.0.value"]
        );
        let named = Auth::Named { name: "crm".into() };
        assert!(named.clone().secrets_mut().is_empty());
        let key = Auth::QueryKey {
            param: "k".into(),
            key: Secret::new("v"),
        };
        assert_eq!(key.clone().secrets_mut()[0].0, "key");
        assert!(Auth::QueryKey {
            param: String::new(),
            key: Secret::new("v")
        }
        .problems(&AddressPolicy::new())
        .iter()
        .any(|e| e.field() == Some("param")));
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let basic = Auth::Basic {
            username: "u".into(),
            password: Secret::new("hunter2"),
        };
        assert!(!format!("{basic:?}").contains("hunter2"));
        let json = serde_json::to_string(&basic).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"basic","username":"u","password":"hunter2"}"#
        );
    }
}
