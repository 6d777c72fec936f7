//! OAuth2 to the receiver, sans-IO: callhook builds the token request and
//! reads the token response; the host sends it and keeps the tokens in a
//! [`TokenCache`].
//!
//! SKELETON (design of issue 21): the configuration and the cache's shape.
//! Token requests, responses and the cache's behaviour are to be built here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::jwt::JwtAuth;
use super::TokenPlacement;
use crate::secret::Secret;

/// OAuth2 to the receiver (RingCX's `OAUTH` auth configuration).
///
/// In configuration:
/// `{"kind": "oauth2", "token_url": "https://auth.example.com/token",
/// "grant": {"type": "client_credentials"}, "client_id": "callhook",
/// "client_secret": {"secret_ref": "CRM_CLIENT_SECRET"}, "scope": "calls:write"}`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OAuth2Auth {
    /// The token endpoint (RingCX's `tokenUrl`): an `https` URL, or `http`
    /// to an address the registry allows.
    pub token_url: String,
    /// The grant (RingCX's `grantType`).
    pub grant: Grant,
    /// The client id (RingCX's `clientId`).
    pub client_id: String,
    /// The client secret (RingCX's `secret`); none for a client that
    /// authenticates by a JWT assertion or not at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// How the client authenticates to the token endpoint (RingCX's
    /// `clientCredentialsSupplyIn`).
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// The scopes, space-separated (RingCX's `scope`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// More parameters of the token request (RingCX's `otherParameters`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<TokenParameter>,
    /// The token response's field names, for servers that do not use
    /// RFC 6749's (RingCX's `tokenResponse`).
    #[serde(default)]
    pub response_fields: TokenFields,
    /// Where the access token goes (default `Authorization: Bearer …`).
    #[serde(default)]
    pub add_to: TokenPlacement,
    /// A token this many seconds from its expiry is refreshed first.
    #[serde(default = "default_refresh_before")]
    pub refresh_before: u32,
}

fn default_refresh_before() -> u32 {
    60
}

/// The OAuth2 grant a token is asked for with.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Grant {
    /// `client_credentials` (RFC 6749 §4.4).
    ClientCredentials,
    /// `refresh_token` (RFC 6749 §6), starting from a configured token;
    /// a rotated one the server returns is kept in the [`TokenCache`].
    RefreshToken {
        /// The first refresh token.
        refresh_token: Secret,
    },
    /// `password` (RFC 6749 §4.3).
    Password {
        /// The resource owner's user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1): a
    /// JWT minted per token request, or given.
    JwtBearer {
        /// The assertion to mint.
        assertion: Assertion,
    },
}

/// A JWT assertion: minted by callhook from a [`JwtAuth`]'s algorithm,
/// key and claims, or given as it is (RingCX's `assertion`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Assertion {
    /// Given as it is.
    Given(Secret),
    /// Minted for each token request.
    Minted(Box<JwtAuth>),
}

/// How the client authenticates to the token endpoint.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientAuth {
    /// HTTP Basic (`client_secret_basic`; RingCX's `HEADER`).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body
    /// (`client_secret_post`; RingCX's `BODY`).
    Body,
    /// In the token URL's query (RingCX's `QUERY_PARAM`).
    Query,
    /// A JWT client assertion (RFC 7523 §2.2, `private_key_jwt` or
    /// `client_secret_jwt`).
    JwtAssertion(Box<JwtAuth>),
}

/// A parameter added to the token request.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TokenParameter {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: Secret,
}

/// The token response's field names.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TokenFields {
    /// Default `access_token`.
    pub access_token: String,
    /// Default `expires_in` (seconds).
    pub expires_in: String,
    /// Default `refresh_token`.
    pub refresh_token: String,
    /// Default `token_type`.
    pub token_type: String,
}

impl Default for TokenFields {
    fn default() -> TokenFields {
        TokenFields {
            access_token: "access_token".into(),
            expires_in: "expires_in".into(),
            refresh_token: "refresh_token".into(),
            token_type: "token_type".into(),
        }
    }
}

/// The tokens a host keeps, keyed by auth entry: serialisable, so that
/// workers can share it. Time is passed in.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenCache {
    tokens: BTreeMap<String, CachedToken>,
}

/// A token in a [`TokenCache`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CachedToken {
    access_token: String,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    refresh_token: Option<String>,
    fingerprint: String,
}

// ---- interface used by the spine; built by the jwt/oauth2 parts ----

/// A token request for the host to send before the delivery it is for:
/// what [`Registry::prepare`](crate::Registry::prepare) returns when the
/// [`TokenCache`] holds no usable token.
#[derive(Debug)]
pub struct TokenRequest {
    pub(crate) key: String,
    pub(crate) request: http::Request<Vec<u8>>,
}

impl TokenRequest {
    /// The cache key of the auth entry the token is for: `named:<name>`
    /// for a named entry, `service:<id>` for a service's own auth.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The request to send to the token endpoint.
    #[must_use]
    pub fn request(&self) -> &http::Request<Vec<u8>> {
        &self.request
    }
}

impl OAuth2Auth {
    /// The token request to send for the entry `key`.
    ///
    /// Placeholder: the oauth2 part builds it.
    pub(crate) fn token_request(
        &self,
        key: &str,
        cache: &TokenCache,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<TokenRequest, crate::Error> {
        let _ = (cache, at);
        let mut request = http::Request::new(Vec::new());
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = self.token_url.parse().map_err(|e| {
            crate::Error::new(crate::ErrorKind::InvalidUrl, "invalid `token_url`").with_source(e)
        })?;
        Ok(TokenRequest {
            key: key.to_owned(),
            request,
        })
    }
}

impl TokenCache {
    /// The access token of `key`, if the cache holds one for `auth` that
    /// is not about to expire at `at`.
    ///
    /// Placeholder: the oauth2 part reads the cache.
    pub(crate) fn usable(
        &self,
        key: &str,
        auth: &OAuth2Auth,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Option<&str> {
        let _ = (key, auth, at);
        None
    }

    /// Forgets the token of `key`, so the next preparing asks for a new
    /// one: after a receiver refused it (`401`).
    pub fn invalidate(&mut self, key: &str) {
        self.tokens.remove(key);
    }
}
