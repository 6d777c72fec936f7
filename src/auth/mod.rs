//! Authentication of outgoing requests.
//!
//! SKELETON (design of issue 21): credentials are applied at send time
//! (`Registry::sign` / `Registry::prepare`), never frozen into what
//! dispatch produces.

pub(crate) mod jwt;
pub(crate) mod oauth2;

use base64::Engine as _;
use http::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::secret::Secret;

/// How a service authenticates to its endpoint.
///
/// In configuration: `{"kind": "basic", "username": "...", "password": "..."}`,
/// `{"kind": "bearer", "token": "..."}`,
/// `{"kind": "api_key", "header": "X-Api-Key", "key": "..."}` or
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
    /// A key in a query parameter of its own, secret whatever its name.
    QueryKey {
        /// The parameter name, such as `api_key`.
        param: String,
        /// The key.
        key: Secret,
    },
    /// A JWT minted by callhook.
    Jwt(jwt::JwtAuth),
    /// An OAuth2 access token the host fetches with the token request
    /// callhook builds.
    #[serde(rename = "oauth2")]
    OAuth2(oauth2::OAuth2Auth),
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
    /// The header this authentication adds, marked sensitive so that
    /// clients and loggers that honour the flag hide it.
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
        let (name, value) = match self {
            Auth::None => return Ok(None),
            Auth::Basic { username, password } => {
                if username.contains(':') {
                    return Err(Error::new(
                        ErrorKind::InvalidHeader,
                        "a Basic auth username cannot contain `:`",
                    )
                    .in_field("auth.username"));
                }
                let credentials = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", password.expose()));
                (http::header::AUTHORIZATION, format!("Basic {credentials}"))
            }
            Auth::Bearer { token } => (
                http::header::AUTHORIZATION,
                format!("Bearer {}", token.expose()),
            ),
            Auth::ApiKey { header, key } => {
                let name = HeaderName::try_from(header.as_str()).map_err(|e| {
                    Error::new(
                        ErrorKind::InvalidHeader,
                        format!("invalid header name `{header}`"),
                    )
                    .in_field("auth.header")
                    .with_source(e)
                })?;
                (name, key.expose().to_owned())
            }
            // SKELETON: applied at send time by the spine of issue 21.
            Auth::QueryKey { .. } | Auth::Jwt(_) | Auth::OAuth2(_) | Auth::Named { .. } => {
                return Ok(None)
            }
        };
        let mut value = HeaderValue::try_from(value).map_err(|e| {
            Error::new(
                ErrorKind::InvalidHeader,
                "the credential holds characters a header cannot carry",
            )
            .in_field("auth")
            .with_source(e)
        })?;
        value.set_sensitive(true);
        Ok(Some((name, value)))
    }
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
