//! Token requests (RFC 6749 §4.3, §4.4, §6; RFC 7523 §2.1, §2.2): a
//! `POST` of a form to the token endpoint, which the host sends.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use http::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use sha2::{Digest, Sha256};

use super::{mint, Assertion, ClientAuth, Grant, OAuth2Auth, TokenCache, TokenFields};
use crate::auth::TokenPlacement;
use crate::error::{Error, ErrorKind};
use crate::secret::{redact_query, REDACTED};

/// RFC 7523 §2.1's grant type.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// RFC 7523 §2.2's client assertion type.
const JWT_CLIENT_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The form parameters and query parameters a `Debug` shows; every other
/// value (secrets, refresh tokens, passwords, assertions, the entry's own
/// parameters) is redacted.
const SHOWN: [&str; 5] = [
    "grant_type",
    "client_assertion_type",
    "scope",
    "client_id",
    "username",
];

/// A token request the host sends before the request that needs its
/// token: `POST` to the entry's `token_url`, a form, `Accept:
/// application/json`. Its response goes to [`TokenCache::accept`] with
/// this request.
///
/// Its `Debug` shows the grant type, client id, user name and scope, and
/// redacts every other value: the client secret, refresh token, password
/// and assertions, in the body, the query or the `Authorization` header.
pub struct TokenRequest {
    /// The cache key the token is kept under.
    pub(crate) key: String,
    /// The request itself.
    pub(crate) request: http::Request<Vec<u8>>,
    /// What the token is for ([`OAuth2Auth::fingerprint`]).
    pub(crate) fingerprint: String,
    /// Whether the grant is `refresh_token`: the response's rotated
    /// refresh token is kept, and `invalid_grant` drops the cached one.
    pub(crate) refresh: bool,
    /// The response's field names.
    pub(crate) fields: TokenFields,
    /// Whether the token goes in `Authorization`, where a `token_type`
    /// other than `Bearer` could not be used.
    pub(crate) bearer: bool,
}

impl TokenRequest {
    /// The key of the [`TokenCache`] entry the token is kept under.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The request to send.
    #[must_use]
    pub fn request(&self) -> &http::Request<Vec<u8>> {
        &self.request
    }

    /// Whether the value of the form or query parameter `name` may be
    /// shown to a person (the grant type, client id, user name, scope):
    /// every other one is a secret or may be.
    pub(crate) fn shows_parameter(name: &str) -> bool {
        SHOWN.contains(&name)
    }

    /// The request to send, by value. Keep a clone of the `TokenRequest`
    /// (or build it again) for [`TokenCache::accept`].
    #[must_use]
    pub fn into_request(self) -> http::Request<Vec<u8>> {
        self.request
    }
}

impl Clone for TokenRequest {
    fn clone(&self) -> TokenRequest {
        let mut request = http::Request::new(self.request.body().clone());
        *request.method_mut() = self.request.method().clone();
        *request.uri_mut() = self.request.uri().clone();
        *request.headers_mut() = self.request.headers().clone();
        TokenRequest {
            key: self.key.clone(),
            request,
            fingerprint: self.fingerprint.clone(),
            refresh: self.refresh,
            fields: self.fields.clone(),
            bearer: self.bearer,
        }
    }
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |name: &str| !TokenRequest::shows_parameter(name);
        let headers: Vec<(&str, &str)> = self
            .request
            .headers()
            .iter()
            .map(|(name, value)| {
                let shown = if value.is_sensitive() || name == AUTHORIZATION {
                    REDACTED
                } else {
                    value.to_str().unwrap_or(REDACTED)
                };
                (name.as_str(), shown)
            })
            .collect();
        let body: Vec<(String, String)> = form_urlencoded::parse(self.request.body())
            .map(|(name, value)| {
                let value = if hidden(&name) {
                    REDACTED.into()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        f.debug_struct("TokenRequest")
            .field("key", &self.key)
            .field("method", self.request.method())
            .field(
                "url",
                &redact_query(&self.request.uri().to_string(), &hidden),
            )
            .field("headers", &headers)
            .field("body", &body)
            .finish_non_exhaustive()
    }
}

impl OAuth2Auth {
    /// The token request for the token kept under `key` in `cache`: the
    /// grant's parameters, the scope, the client's authentication and the
    /// entry's `parameters`, in that order. A `refresh_token` grant sends
    /// the rotated refresh token `cache` holds for `key` (made for this
    /// entry as it is), else the configured one.
    ///
    /// `Registry::prepare` builds these for the services that need one; a
    /// host calls this itself only to fetch a token outside a delivery.
    ///
    /// # Errors
    ///
    /// A token URL that is not a valid request URI is an error of kind
    /// [`ErrorKind::InvalidUrl`]; a JWT assertion that cannot be minted
    /// (no `jwt` feature, or its key) is the minting's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Grant, OAuth2Auth, Secret, TokenCache};
    ///
    /// let mut auth = OAuth2Auth::new("https://server.example.com/token", "s6BhdRkqt3", Grant::ClientCredentials);
    /// auth.client_secret = Some(Secret::new("7Fjfp0ZBr1KtDRbnfVdmIw"));
    /// let at = "2024-12-02T21:11:37Z".parse().unwrap();
    /// let request = auth.token_request("crm", &TokenCache::new(), at)?;
    /// assert_eq!(request.request().body(), b"grant_type=client_credentials");
    /// assert_eq!(
    ///     request.request().headers()["authorization"],
    ///     "Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3"
    /// );
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn token_request(
        &self,
        key: &str,
        cache: &TokenCache,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<TokenRequest, Error> {
        let fingerprint = self.cached_fingerprint().to_owned();
        let mut form = form_urlencoded::Serializer::new(String::new());
        let mut refresh = false;
        match &self.grant {
            Grant::ClientCredentials => {
                form.append_pair("grant_type", "client_credentials");
            }
            Grant::RefreshToken { refresh_token } => {
                refresh = true;
                let token = cache
                    .refresh_token(key, &fingerprint)
                    .unwrap_or(refresh_token.expose());
                form.append_pair("grant_type", "refresh_token");
                form.append_pair("refresh_token", token);
            }
            Grant::Password { username, password } => {
                form.append_pair("grant_type", "password");
                form.append_pair("username", username);
                form.append_pair("password", password.expose());
            }
            Grant::JwtBearer { assertion } => {
                let assertion = match assertion {
                    Assertion::Given(given) => given.expose().to_owned(),
                    Assertion::Minted(jwt) => {
                        // RFC 7523 §3: the issuer and subject are the
                        // client acting for itself, and the audience the
                        // token endpoint, unless the claims say otherwise.
                        let mut jwt = jwt.as_ref().clone();
                        for (claim, value) in [
                            ("iss", &self.client_id),
                            ("sub", &self.client_id),
                            ("aud", &self.token_url),
                        ] {
                            jwt.claims
                                .entry(claim)
                                .or_insert_with(|| value.as_str().into());
                        }
                        mint(&jwt, at)?
                    }
                };
                form.append_pair("grant_type", JWT_BEARER);
                form.append_pair("assertion", &assertion);
            }
        }
        if let Some(scope) = self.scope.as_deref().filter(|s| !s.is_empty()) {
            form.append_pair("scope", scope);
        }
        let mut url = self.token_url.clone();
        let mut basic = None;
        match &self.client_auth {
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: the id and secret are form-encoded
                // before they are joined, so a `:` in the id is no
                // separator.
                let encode = |text: &str| {
                    form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
                };
                let secret = self.client_secret.as_ref().map_or("", |s| s.expose());
                let credentials = format!("{}:{}", encode(&self.client_id), encode(secret));
                basic = Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(credentials)
                ));
            }
            ClientAuth::Body => {
                form.append_pair("client_id", &self.client_id);
                if let Some(secret) = &self.client_secret {
                    form.append_pair("client_secret", secret.expose());
                }
            }
            ClientAuth::Query => {
                let mut query = form_urlencoded::Serializer::new(String::new());
                query.append_pair("client_id", &self.client_id);
                if let Some(secret) = &self.client_secret {
                    query.append_pair("client_secret", secret.expose());
                }
                let query = query.finish();
                // The URL was checked at load: no fragment, so the query
                // ends it.
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&query);
            }
            ClientAuth::JwtAssertion(jwt) => {
                // RFC 7523 §3: `iss` and `sub` are the client id, `aud`
                // the token endpoint, and `jti` unique, so the server can
                // refuse a replay.
                let mut jwt = jwt.as_ref().clone();
                jwt.claims
                    .insert("iss".into(), self.client_id.as_str().into());
                jwt.claims
                    .insert("sub".into(), self.client_id.as_str().into());
                jwt.claims
                    .entry("aud")
                    .or_insert_with(|| self.token_url.as_str().into());
                jwt.claims
                    .insert("jti".into(), jti(&self.client_id, at).into());
                let assertion = mint(&jwt, at)?;
                form.append_pair("client_id", &self.client_id);
                form.append_pair("client_assertion_type", JWT_CLIENT_ASSERTION);
                form.append_pair("client_assertion", &assertion);
            }
        }
        for parameter in &self.parameters {
            form.append_pair(&parameter.name, parameter.value.expose());
        }
        let body = form.finish().into_bytes();
        let uri = url.parse::<http::Uri>().map_err(|e| {
            Error::new(
                ErrorKind::InvalidUrl,
                "the token URL is not valid in an HTTP request",
            )
            .in_field("token_url")
            .with_source(e)
        })?;
        let mut request = http::Request::new(Vec::new());
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        if let Some(basic) = basic {
            let mut value = HeaderValue::try_from(basic).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidHeader,
                    "the client credentials cannot be a header",
                )
                .in_field("client_secret")
                .with_source(e)
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        *request.body_mut() = body;
        let bearer = match &self.add_to {
            TokenPlacement::Header { name, .. } => name.eq_ignore_ascii_case("authorization"),
            TokenPlacement::Query { .. } => false,
        };
        Ok(TokenRequest {
            key: key.to_owned(),
            request,
            fingerprint,
            refresh,
            fields: self.response_fields.clone(),
            bearer,
        })
    }
}

/// A `jti` no other assertion of this process, or of another process at
/// another instant, has: a digest of the client id, the time, the process
/// id and a counter. Sans-IO, callhook has no randomness of its own; the
/// server needs the id unique to refuse replays, not unpredictable.
fn jti(client_id: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut digest = Sha256::new();
    digest.update(client_id.as_bytes());
    digest.update(at.timestamp().to_be_bytes());
    digest.update(at.timestamp_subsec_nanos().to_be_bytes());
    digest.update(std::process::id().to_be_bytes());
    digest.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    super::hex16(&digest.finalize())
}

#[cfg(test)]
pub(in crate::auth::oauth2) mod tests {
    use super::*;
    use crate::auth::jwt::JwtAuth;
    use crate::secret::Secret;
    use crate::{TokenParameter, TokenPlacement};

    /// The unit tests' signer in place of `JwtAuth::token` (see `mint`): an unsigned token whose
    /// payload is the claims, so tests read what would be signed.
    pub(in crate::auth::oauth2) fn fake_mint(
        jwt: &JwtAuth,
        _at: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let claims = serde_json::Value::Object(jwt.claims.clone()).to_string();
        format!(
            "eyJhbGciOiJmYWtlIn0.{}.c2ln",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims)
        )
    }

    fn claims_of(assertion: &str) -> serde_json::Value {
        let payload = assertion.split('.').nth(1).unwrap();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&json).unwrap()
    }

    pub(in crate::auth::oauth2) fn at() -> chrono::DateTime<chrono::Utc> {
        "2024-12-02T21:11:37Z".parse().unwrap()
    }

    /// RFC 6749's example client (§4.3.2, §6): `s6BhdRkqt3` and
    /// `gX1fBat3bV`.
    pub(in crate::auth::oauth2) fn rfc_client(grant: Grant) -> OAuth2Auth {
        let mut auth = OAuth2Auth::new("https://server.example.com/token", "s6BhdRkqt3", grant);
        auth.client_secret = Some(Secret::new("gX1fBat3bV"));
        auth
    }

    fn body(request: &TokenRequest) -> &str {
        std::str::from_utf8(request.request().body()).unwrap()
    }

    fn form_of(request: &TokenRequest) -> Vec<(String, String)> {
        form_urlencoded::parse(request.request().body())
            .into_owned()
            .collect()
    }

    fn jwt() -> JwtAuth {
        serde_json::from_value(serde_json::json!({
            "algorithm": "HS256",
            "key": "a shared secret of enough bytes",
            "claims": {"scope": "calls"}
        }))
        .unwrap()
    }

    #[test]
    fn rfc_6749_4_3_2_password_grant() {
        let auth = rfc_client(Grant::Password {
            username: "johndoe".into(),
            password: Secret::new("A3ddj3w"),
        });
        let request = auth.token_request("crm", &TokenCache::new(), at()).unwrap();
        let http = request.request();
        assert_eq!(http.method(), http::Method::POST);
        assert_eq!(http.uri(), "https://server.example.com/token");
        assert_eq!(
            http.headers()["authorization"],
            "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"
        );
        assert!(http.headers()["authorization"].is_sensitive());
        assert_eq!(
            http.headers()["content-type"],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(http.headers()["accept"], "application/json");
        assert_eq!(
            body(&request),
            "grant_type=password&username=johndoe&password=A3ddj3w"
        );
        assert_eq!(
            http.headers()["content-length"],
            body(&request).len().to_string().as_str()
        );
        assert_eq!(request.key(), "crm");
    }

    #[test]
    fn rfc_6749_4_4_2_client_credentials_grant() {
        let mut auth = rfc_client(Grant::ClientCredentials);
        auth.client_secret = Some(Secret::new("7Fjfp0ZBr1KtDRbnfVdmIw"));
        let request = auth.token_request("crm", &TokenCache::new(), at()).unwrap();
        assert_eq!(body(&request), "grant_type=client_credentials");
        assert_eq!(
            request.request().headers()["authorization"],
            "Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3"
        );
    }

    #[test]
    fn rfc_6749_6_refresh_grant_sends_the_configured_token_until_one_is_rotated() {
        let auth = rfc_client(Grant::RefreshToken {
            refresh_token: Secret::new("tGzv3JOkF0XG5Qx2TlKWIA"),
        });
        let mut cache = TokenCache::new();
        let request = auth.token_request("crm", &cache, at()).unwrap();
        assert_eq!(
            body(&request),
            "grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA"
        );
        assert_eq!(
            request.request().headers()["authorization"],
            "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"
        );
        let rotated = br#"{"access_token":"a1","token_type":"bearer","refresh_token":"rotated-1"}"#;
        cache
            .accept(&request, http::StatusCode::OK, rotated, at())
            .unwrap();
        let request = auth.token_request("crm", &cache, at()).unwrap();
        assert_eq!(
            body(&request),
            "grant_type=refresh_token&refresh_token=rotated-1"
        );
        // Another key, or the entry edited, does not get it.
        let other = auth.token_request("billing", &cache, at()).unwrap();
        assert!(body(&other).ends_with("tGzv3JOkF0XG5Qx2TlKWIA"));
        let mut edited = auth.clone();
        edited.scope = Some("calls".into());
        let request = edited.token_request("crm", &cache, at()).unwrap();
        assert_eq!(
            body(&request),
            "grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA&scope=calls"
        );
    }

    #[test]
    fn rfc_7523_2_1_jwt_bearer_grant_with_a_given_assertion() {
        let given = "eyJhbGciOiJFUzI1NiIsImtpZCI6IjE2In0.eyJpc3Mi.J9l-ZhwP";
        let mut auth = OAuth2Auth::new(
            "https://authz.example.net/token",
            "s6BhdRkqt3",
            Grant::JwtBearer {
                assertion: Assertion::Given(Secret::new(given)),
            },
        );
        auth.client_auth = ClientAuth::Body;
        let request = auth.token_request("crm", &TokenCache::new(), at()).unwrap();
        assert_eq!(
            body(&request),
            format!(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={given}\
                 &client_id=s6BhdRkqt3"
            )
        );
        assert!(request.request().headers().get("authorization").is_none());
    }

    #[test]
    fn rfc_7523_2_1_a_minted_assertion_defaults_issuer_subject_and_audience() {
        let mut minted = jwt();
        minted.claims.insert("sub".into(), "agent-7".into());
        let mut auth = rfc_client(Grant::JwtBearer {
            assertion: Assertion::Minted(Box::new(minted)),
        });
        auth.client_auth = ClientAuth::Body;
        auth.client_secret = None;
        let request = auth.token_request("crm", &TokenCache::new(), at()).unwrap();
        let form = form_of(&request);
        assert_eq!(form[0], ("grant_type".into(), JWT_BEARER.into()));
        let claims = claims_of(&form[1].1);
        assert_eq!(claims["iss"], "s6BhdRkqt3");
        assert_eq!(claims["sub"], "agent-7");
        assert_eq!(claims["aud"], "https://server.example.com/token");
    }

    #[test]
    fn rfc_7523_2_2_client_assertion() {
        let mut auth = rfc_client(Grant::ClientCredentials);
        auth.client_secret = None;
        let mut assertion = jwt();
        assertion.claims.insert("iss".into(), "someone else".into());
        auth.client_auth = ClientAuth::JwtAssertion(Box::new(assertion));
        let first = auth.token_request("crm", &TokenCache::new(), at()).unwrap();
        let form = form_of(&first);
        let names: Vec<&str> = form.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "grant_type",
                "client_id",
                "client_assertion_type",
                "client_assertion"
            ]
        );
        assert!(body(&first).contains(
            "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer\
             &client_assertion=eyJ"
        ));
        let claims = claims_of(&form[3].1);
        assert_eq!(
            claims["iss"], "s6BhdRkqt3",
            "RFC 7523 §3: the client is the issuer"
        );
        assert_eq!(claims["sub"], "s6BhdRkqt3");
        assert_eq!(claims["aud"], "https://server.example.com/token");
        assert_eq!(claims["scope"], "calls");
        let jti = claims["jti"].as_str().unwrap();
        assert_eq!(jti.len(), 32);
        let second = auth.token_request("crm", &TokenCache::new(), at()).unwrap();
        assert_ne!(
            claims_of(&form_of(&second)[3].1)["jti"],
            jti,
            "a jti is never reused"
        );
        assert!(first.request().headers().get("authorization").is_none());
    }

    #[test]
    fn basic_credentials_are_form_encoded_before_base64() {
        let mut auth = OAuth2Auth::new(
            "https://server.example.com/token",
            "a:b c",
            Grant::ClientCredentials,
        );
        auth.client_secret = Some(Secret::new("p@ss/wörd"));
        let request = auth.token_request("crm", &TokenCache::new(), at()).unwrap();
        let expected =
            base64::engine::general_purpose::STANDARD.encode("a%3Ab+c:p%40ss%2Fw%C3%B6rd");
        assert_eq!(
            request.request().headers()["authorization"],
            format!("Basic {expected}").as_str()
        );
    }

    #[test]
    fn body_and_query_client_authentication() {
        let mut auth = rfc_client(Grant::ClientCredentials);
        auth.client_auth = ClientAuth::Body;
        auth.scope = Some("calls:write read".into());
        auth.parameters = vec![TokenParameter::new(
            "audience",
            Secret::new("https://api.crm.example"),
        )];
        let request = auth.token_request("crm", &TokenCache::new(), at()).unwrap();
        assert_eq!(
            body(&request),
            "grant_type=client_credentials&scope=calls%3Awrite+read&client_id=s6BhdRkqt3\
             &client_secret=gX1fBat3bV&audience=https%3A%2F%2Fapi.crm.example"
        );
        assert!(request.request().headers().get("authorization").is_none());

        auth.client_auth = ClientAuth::Query;
        auth.token_url = "https://server.example.com/token?tenant=7".into();
        let request = auth.token_request("crm", &TokenCache::new(), at()).unwrap();
        assert_eq!(
            request.request().uri(),
            "https://server.example.com/token?tenant=7&client_id=s6BhdRkqt3&client_secret=gX1fBat3bV"
        );
        assert!(!body(&request).contains("client_id"));
    }

    #[test]
    fn debug_shows_no_secret_of_any_grant_or_client_authentication() {
        let secrets = [
            "gX1fBat3bV",
            "A3ddj3w",
            "tGzv3JOkF0XG5Qx2TlKWIA",
            "given.jwt.value",
            "param-value",
        ];
        let grants = [
            Grant::ClientCredentials,
            Grant::Password {
                username: "johndoe".into(),
                password: Secret::new("A3ddj3w"),
            },
            Grant::RefreshToken {
                refresh_token: Secret::new("tGzv3JOkF0XG5Qx2TlKWIA"),
            },
            Grant::JwtBearer {
                assertion: Assertion::Given(Secret::new("given.jwt.value")),
            },
        ];
        for grant in grants {
            for client_auth in [
                ClientAuth::Basic,
                ClientAuth::Body,
                ClientAuth::Query,
                ClientAuth::JwtAssertion(Box::new(jwt())),
            ] {
                let mut auth = rfc_client(grant.clone());
                auth.client_auth = client_auth;
                auth.parameters = vec![TokenParameter::new("resource", Secret::new("param-value"))];
                let request = auth.token_request("crm", &TokenCache::new(), at()).unwrap();
                let shown = format!("{request:?}");
                for secret in secrets {
                    assert!(!shown.contains(secret), "{shown}");
                }
                assert!(
                    !shown.contains("eyJhbGciOiJmYWtlIn0"),
                    "a client assertion is redacted: {shown}"
                );
                assert!(shown.contains("grant_type"), "{shown}");
                let cloned = format!("{:?}", request.clone());
                assert_eq!(cloned, shown);
            }
        }
    }

    #[test]
    fn a_query_placement_is_not_bearer_checked() {
        let mut auth = rfc_client(Grant::ClientCredentials);
        assert!(
            auth.token_request("k", &TokenCache::new(), at())
                .unwrap()
                .bearer
        );
        auth.add_to = TokenPlacement::Query {
            param: "access_token".into(),
        };
        assert!(
            !auth
                .token_request("k", &TokenCache::new(), at())
                .unwrap()
                .bearer
        );
    }
}
