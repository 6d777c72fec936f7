//! OAuth2 to the receiver, sans-IO: callhook builds the token request and
//! reads the token response; the host sends it and keeps the tokens in a
//! [`TokenCache`].
//!
//! `mod.rs` holds the configuration, its checks and its fingerprint;
//! `request` builds token requests (RFC 6749, RFC 7523); `cache` reads
//! token responses into the host's [`TokenCache`].

mod cache;
mod request;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::jwt::JwtAuth;
use super::TokenPlacement;
use crate::address::AddressPolicy;
use crate::error::{shown, Error, ErrorKind};
use crate::limits;
use crate::secret::Secret;

pub use cache::TokenCache;
pub use request::TokenRequest;

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
    /// The fingerprint, computed on first use: a digest is about 7,800
    /// instructions, and preparing a request with a cached token must
    /// stay within 5% of a request's (issue 21). Not part of the value:
    /// equal whatever it holds, empty in a clone, never written.
    #[serde(skip)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    fingerprint_cell: FingerprintCell,
    /// The token's key and its last header, kept per value like the
    /// fingerprint: making both anew for each request was 1,850 of the
    /// 3,400 instructions a cached token added to the RingCX JSON request
    /// dispatched and prepared (18,300 with no auth; issue 21 allows 5 %;
    /// `benches/instructions.sh prepare`).
    #[serde(skip)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    send_cell: SendCell,
}

/// What [`OAuth2Auth`] keeps for sending: the key its token is cached
/// under (an entry is used under one name, or one service's id, in a
/// registry; a key for another is checked against it and made anew), and
/// the header made from the last token, with the name and prefix it was
/// made for. Equal whatever it holds, empty in a clone, like
/// [`FingerprintCell`].
#[derive(Default)]
struct SendCell {
    key: std::sync::OnceLock<String>,
    header: std::sync::Mutex<Option<PlacedToken>>,
}

/// A token placed in a header: its value shares the bytes it was made
/// with, so a copy is a reference count.
struct PlacedToken {
    token: String,
    name: String,
    prefix: String,
    header: (http::HeaderName, http::HeaderValue),
}

impl Clone for SendCell {
    fn clone(&self) -> SendCell {
        SendCell::default()
    }
}

impl PartialEq for SendCell {
    fn eq(&self, _: &SendCell) -> bool {
        true
    }
}

impl std::fmt::Debug for SendCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
}

/// A lazily computed [`OAuth2Auth::fingerprint`]. An entry is not edited
/// in place once in a registry (edits replace it), so the first value
/// stays true; a clone starts empty, so an edited clone computes its own.
#[derive(Default)]
struct FingerprintCell(std::sync::OnceLock<String>);

impl Clone for FingerprintCell {
    fn clone(&self) -> FingerprintCell {
        FingerprintCell::default()
    }
}

impl PartialEq for FingerprintCell {
    fn eq(&self, _: &FingerprintCell) -> bool {
        true
    }
}

impl std::fmt::Debug for FingerprintCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
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

/// The token-request parameters callhook sets itself, which an entry's
/// `parameters` may not name: a second value would be read by some
/// servers and not others.
const RESERVED: [&str; 10] = [
    "grant_type",
    "client_id",
    "client_secret",
    "scope",
    "refresh_token",
    "username",
    "password",
    "assertion",
    "client_assertion",
    "client_assertion_type",
];

impl OAuth2Auth {
    /// An entry asking `token_url` for tokens with `grant` as `client_id`;
    /// the other fields are their defaults (Basic client authentication
    /// without a secret yet, no scope, `Authorization: Bearer …`, refresh
    /// 60 seconds before expiry), to be set.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{Grant, OAuth2Auth, Secret};
    ///
    /// let mut auth = OAuth2Auth::new("https://auth.example.com/token", "callhook", Grant::ClientCredentials);
    /// auth.client_secret = Some(Secret::new("s3cr3t"));
    /// auth.scope = Some("calls:write".into());
    /// ```
    #[must_use]
    pub fn new(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        grant: Grant,
    ) -> OAuth2Auth {
        OAuth2Auth {
            token_url: token_url.into(),
            grant,
            client_id: client_id.into(),
            client_secret: None,
            client_auth: ClientAuth::default(),
            scope: None,
            parameters: Vec::new(),
            response_fields: TokenFields::default(),
            add_to: TokenPlacement::default(),
            refresh_before: default_refresh_before(),
            fingerprint_cell: FingerprintCell::default(),
            send_cell: SendCell::default(),
        }
    }

    /// Every problem of the entry, each with its field path (`token_url`,
    /// `parameters.2.name`...), for the loader to place under the entry.
    ///
    /// `token_url` must be an absolute `https` URL whose host `addresses`
    /// allows (IP literals and `localhost` are checked here, as a
    /// service's URL is); plain `http` only to a loopback host the policy
    /// allows, since the client's credentials travel in it (RFC 6749
    /// §3.2 asks for TLS). Secrets' resolution is not checked here: the
    /// loader checks every secret of a configuration alike
    /// ([`OAuth2Auth::secrets`]).
    pub(crate) fn check(&self, addresses: &AddressPolicy) -> Vec<Error> {
        let mut errors = Vec::new();
        let invalid = |field: &str, message: String| {
            Error::new(ErrorKind::InvalidConfig, message).in_field(field)
        };
        if let Err(e) = check_token_url(&self.token_url, addresses) {
            errors.push(e.in_field("token_url"));
        }
        if let Some(problem) = text_problem(&self.client_id, false) {
            errors.push(invalid("client_id", format!("the client id {problem}")));
        }
        match (&self.client_auth, &self.client_secret) {
            (ClientAuth::Basic, None) => errors.push(invalid(
                "client_secret",
                "client authentication `basic` needs a `client_secret`; a public client \
                 without one authenticates with `\"client_auth\": \"body\"`"
                    .to_owned(),
            )),
            (ClientAuth::JwtAssertion(_), Some(_)) => errors.push(invalid(
                "client_secret",
                "client authentication `jwt_assertion` sends no `client_secret`: the \
                 assertion's `key` signs"
                    .to_owned(),
            )),
            _ => {}
        }
        if let Some(secret) = &self.client_secret {
            if secret.expose().len() > limits::TOKEN_BYTES {
                errors.push(invalid("client_secret", too_long("the client secret")));
            }
        }
        let minted = match &self.grant {
            Grant::ClientCredentials => false,
            Grant::RefreshToken { refresh_token } => {
                // Only a resolved value can be checked; the loader reports
                // an unresolved reference.
                if refresh_token.is_resolved() {
                    if let Some(problem) = text_problem(refresh_token.expose(), false) {
                        errors.push(invalid(
                            "grant.refresh_token",
                            format!("the refresh token {problem}"),
                        ));
                    }
                }
                false
            }
            Grant::Password { username, password } => {
                if let Some(problem) = text_problem(username, false) {
                    errors.push(invalid(
                        "grant.username",
                        format!("the user name {problem}"),
                    ));
                }
                if password.expose().len() > limits::TOKEN_BYTES {
                    errors.push(invalid("grant.password", too_long("the password")));
                }
                false
            }
            Grant::JwtBearer {
                assertion: Assertion::Given(assertion),
            } => {
                if assertion.is_resolved() {
                    if let Some(problem) = text_problem(assertion.expose(), false) {
                        errors.push(invalid(
                            "grant.assertion",
                            format!("the assertion {problem}"),
                        ));
                    }
                }
                false
            }
            Grant::JwtBearer {
                assertion: Assertion::Minted(_),
            } => true,
        };
        if minted && !JWT_AVAILABLE {
            errors.push(invalid(
                "grant.assertion",
                needs_jwt("a minted `jwt_bearer` assertion"),
            ));
        }
        if matches!(self.client_auth, ClientAuth::JwtAssertion(_)) && !JWT_AVAILABLE {
            errors.push(invalid(
                "client_auth",
                needs_jwt("client authentication `jwt_assertion`"),
            ));
        }
        if let Some(scope) = &self.scope {
            // RFC 6749 §3.3: scope tokens are printable ASCII but `"` and
            // `\`, separated by spaces.
            if scope.len() > limits::TOKEN_BYTES
                || scope
                    .bytes()
                    .any(|b| !matches!(b, b' ' | b'!' | b'#'..=b'[' | b']'..=b'~'))
            {
                errors.push(invalid(
                    "scope",
                    format!(
                        "the scope must be space-separated scope tokens of printable ASCII \
                         other than `\"` and `\\`, at most {} bytes",
                        limits::count(limits::TOKEN_BYTES)
                    ),
                ));
            }
        }
        if self.parameters.len() > limits::PAIRS {
            errors.push(invalid(
                "parameters",
                format!(
                    "{} parameters, more than the {} a token request may carry \
                     (`limits::PAIRS`)",
                    limits::count(self.parameters.len()),
                    limits::count(limits::PAIRS)
                ),
            ));
        } else {
            for (i, parameter) in self.parameters.iter().enumerate() {
                let field = format!("parameters.{i}.name");
                let name = parameter.name.as_str();
                if let Some(problem) = text_problem(name, false) {
                    errors.push(invalid(&field, format!("the parameter name {problem}")));
                } else if RESERVED.contains(&name) {
                    errors.push(invalid(
                        &field,
                        format!("`{name}` is set by callhook and cannot be given as a parameter"),
                    ));
                } else if self.parameters[..i].iter().any(|p| p.name == name) {
                    errors.push(invalid(
                        &field,
                        format!("the parameter `{}` is given twice", shown(name)),
                    ));
                }
                if parameter.value.expose().len() > limits::TOKEN_BYTES {
                    errors.push(invalid(
                        &format!("parameters.{i}.value"),
                        too_long("the parameter's value"),
                    ));
                }
            }
        }
        let fields = &self.response_fields;
        for (field, name) in [
            ("access_token", &fields.access_token),
            ("expires_in", &fields.expires_in),
            ("refresh_token", &fields.refresh_token),
            ("token_type", &fields.token_type),
        ] {
            if name.is_empty() || name.len() > limits::TOKEN_BYTES {
                errors.push(invalid(
                    &format!("response_fields.{field}"),
                    "a token response's field name cannot be empty".to_owned(),
                ));
            }
        }
        if self.refresh_before > limits::REFRESH_BEFORE_SECONDS {
            errors.push(invalid(
                "refresh_before",
                format!(
                    "`refresh_before` is {} seconds, more than {} (`limits::REFRESH_BEFORE_SECONDS`)",
                    limits::count(self.refresh_before as usize),
                    limits::count(limits::REFRESH_BEFORE_SECONDS as usize)
                ),
            ));
        }
        errors
    }

    /// The entry's secrets with their field paths relative to it
    /// (`grant.refresh_token`, `parameters.0.value`), in one fixed order:
    /// for the loader, which checks each is resolved, and the host's
    /// resolver (`Config::resolve_secrets`).
    pub(crate) fn secrets_mut(&mut self) -> Vec<(String, &mut Secret)> {
        let mut secrets: Vec<(String, &mut Secret)> = Vec::new();
        if let Some(secret) = &mut self.client_secret {
            secrets.push(("client_secret".into(), secret));
        }
        if let ClientAuth::JwtAssertion(jwt) = &mut self.client_auth {
            secrets.push(("client_auth.jwt_assertion.key".into(), &mut jwt.key));
        }
        match &mut self.grant {
            Grant::ClientCredentials => {}
            Grant::RefreshToken { refresh_token } => {
                secrets.push(("grant.refresh_token".into(), refresh_token));
            }
            Grant::Password { password, .. } => secrets.push(("grant.password".into(), password)),
            Grant::JwtBearer {
                assertion: Assertion::Given(given),
            } => secrets.push(("grant.assertion".into(), given)),
            Grant::JwtBearer {
                assertion: Assertion::Minted(jwt),
            } => secrets.push(("grant.assertion.key".into(), &mut jwt.key)),
        }
        for (i, parameter) in self.parameters.iter_mut().enumerate() {
            secrets.push((format!("parameters.{i}.value"), &mut parameter.value));
        }
        secrets
    }

    /// What a cached token was made for: a digest of the token URL, the
    /// client id, the grant (its type, and the user name or a digest of
    /// the first refresh token or given assertion), the scope and the
    /// extra parameters (which may name an audience). A token cached under
    /// another fingerprint is not served, so an edited entry fetches a new
    /// one; a rotated client secret or a moved placement changes nothing
    /// the token is for, and keeps it.
    ///
    /// 32 hex characters (128 bits of SHA-256): the same in every process
    /// and version that writes this layout, so workers sharing a cache
    /// agree, and it shows none of the secrets it covers.
    #[cfg(test)]
    pub(crate) fn fingerprint(&self) -> String {
        self.compute_fingerprint()
    }

    /// [`OAuth2Auth::fingerprint`], computed once per value (see
    /// `FingerprintCell`).
    pub(crate) fn cached_fingerprint(&self) -> &str {
        self.fingerprint_cell
            .0
            .get_or_init(|| self.compute_fingerprint())
    }

    /// The key of this entry's token, `{kind}:{name}` (`named:crm`,
    /// `service:<id>`): kept from the first call, and made anew for a
    /// value used under another name.
    pub(crate) fn cached_key(&self, kind: &str, name: &str) -> std::borrow::Cow<'_, str> {
        let kept = self.send_cell.key.get_or_init(|| format!("{kind}:{name}"));
        let same = kept
            .strip_prefix(kind)
            .and_then(|rest| rest.strip_prefix(':'))
            == Some(name);
        if same {
            std::borrow::Cow::Borrowed(kept)
        } else {
            std::borrow::Cow::Owned(format!("{kind}:{name}"))
        }
    }

    /// The header carrying `token` in header `name` after `prefix`: the
    /// one made last when the token, name and prefix are the same
    /// (a lock, three comparisons and two reference counts), else made by
    /// `make` and kept.
    pub(crate) fn cached_header(
        &self,
        name: &str,
        prefix: &str,
        token: &str,
        make: impl FnOnce() -> Result<(http::HeaderName, http::HeaderValue), Error>,
    ) -> Result<(http::HeaderName, http::HeaderValue), Error> {
        // A poisoned lock only means a panic elsewhere mid-copy: the
        // header is then made as if nothing were kept.
        let Ok(mut kept) = self.send_cell.header.lock() else {
            return make();
        };
        if let Some(placed) = kept.as_ref() {
            if placed.token == token && placed.name == name && placed.prefix == prefix {
                return Ok(placed.header.clone());
            }
        }
        let header = make()?;
        *kept = Some(PlacedToken {
            token: token.to_owned(),
            name: name.to_owned(),
            prefix: prefix.to_owned(),
            header: header.clone(),
        });
        Ok(header)
    }

    fn compute_fingerprint(&self) -> String {
        let mut digest = Sha256::new();
        // Each part is prefixed by its length, so no two entries' parts
        // run together into the same bytes.
        let mut part = |bytes: &[u8]| {
            digest.update((bytes.len() as u64).to_be_bytes());
            digest.update(bytes);
        };
        part(b"callhook oauth2 v1");
        part(self.token_url.as_bytes());
        part(self.client_id.as_bytes());
        match &self.grant {
            Grant::ClientCredentials => part(b"client_credentials"),
            Grant::RefreshToken { refresh_token } => {
                part(b"refresh_token");
                part(refresh_token.expose().as_bytes());
            }
            Grant::Password { username, .. } => {
                part(b"password");
                part(username.as_bytes());
            }
            Grant::JwtBearer { assertion } => {
                part(b"jwt_bearer");
                match assertion {
                    Assertion::Given(given) => part(given.expose().as_bytes()),
                    // The claims say whom the token is for.
                    Assertion::Minted(jwt) => part(
                        serde_json::Value::Object(jwt.claims.clone())
                            .to_string()
                            .as_bytes(),
                    ),
                }
            }
        }
        part(self.scope.as_deref().unwrap_or_default().as_bytes());
        for parameter in &self.parameters {
            part(parameter.name.as_bytes());
            part(parameter.value.expose().as_bytes());
        }
        hex16(&digest.finalize())
    }
}

/// The first 16 bytes of a digest in lowercase hex.
fn hex16(digest: &[u8]) -> String {
    let mut out = String::with_capacity(32);
    for byte in &digest[..16] {
        out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
    }
    out
}

impl TokenParameter {
    /// A parameter `name=value` added to the token request.
    #[must_use]
    pub fn new(name: impl Into<String>, value: Secret) -> TokenParameter {
        TokenParameter {
            name: name.into(),
            value,
        }
    }
}

/// Checks a token URL as a service's URL is checked, and more: `https`,
/// or `http` to a loopback host the policy allows; no query parameter
/// callhook may add.
fn check_token_url(text: &str, addresses: &AddressPolicy) -> Result<(), Error> {
    let fail = |message: String| Error::new(ErrorKind::InvalidUrl, message);
    if text.len() > limits::URL_BYTES {
        return Err(fail(format!(
            "the token URL is longer than {} bytes (`limits::URL_BYTES`)",
            limits::count(limits::URL_BYTES)
        )));
    }
    let parsed =
        url::Url::parse(text).map_err(|e| fail(format!("invalid URL: {e}")).with_source(e))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => {
            addresses.check(ip.into())?;
            ip.is_loopback()
        }
        Some(url::Host::Ipv6(ip)) => {
            addresses.check(ip.into())?;
            ip.is_loopback()
        }
        Some(url::Host::Domain(name)) => {
            addresses.check_name(name)?;
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => return Err(fail("URL has no host".to_owned())),
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(fail(
                "the token URL must be `https`: the client's credentials travel in the \
                 token request (plain `http` only to a loopback address the policy allows)"
                    .to_owned(),
            ))
        }
        other => {
            return Err(fail(format!(
                "URL scheme must be `https`, not `{}`",
                shown(other)
            )))
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(fail(
            "the token URL cannot carry a username or password; use `client_auth`".to_owned(),
        ));
    }
    if parsed.fragment().is_some() {
        return Err(fail(
            "URL cannot have a `#` fragment: it is never sent".to_owned(),
        ));
    }
    if let Some((name, _)) = parsed
        .query_pairs()
        .find(|(name, _)| RESERVED.contains(&name.as_ref()))
    {
        return Err(fail(format!(
            "the token URL's query sets `{name}`, which callhook sets itself"
        )));
    }
    text.parse::<http::Uri>().map_err(|e| {
        fail(format!(
            "URL is not valid in an HTTP request ({e}); percent-encode it"
        ))
        .with_source(e)
    })?;
    Ok(())
}

/// What is wrong with a client id, user name, parameter name or token,
/// if anything: empty, longer than [`limits::TOKEN_BYTES`], or holding
/// other than printable ASCII (RFC 6749 appendix A: `VSCHAR`, space
/// included unless `no_space`).
fn text_problem(text: &str, no_space: bool) -> Option<String> {
    if text.is_empty() {
        return Some("is empty".to_owned());
    }
    if text.len() > limits::TOKEN_BYTES {
        return Some(format!(
            "is longer than {} bytes (`limits::TOKEN_BYTES`)",
            limits::count(limits::TOKEN_BYTES)
        ));
    }
    let lowest = if no_space { b'!' } else { b' ' };
    if text.bytes().any(|b| !(lowest..=b'~').contains(&b)) {
        return Some(if no_space {
            "holds other than printable ASCII without spaces".to_owned()
        } else {
            "holds other than printable ASCII".to_owned()
        });
    }
    None
}

fn too_long(what: &str) -> String {
    format!(
        "{what} is longer than {} bytes (`limits::TOKEN_BYTES`)",
        limits::count(limits::TOKEN_BYTES)
    )
}

fn needs_jwt(what: &str) -> String {
    format!("{what} is minted with JWT: build callhook with the `jwt` feature")
}

// Unit tests stand in a fake signer (`request::tests::fake_mint`), so the
// request shapes of RFC 7523 §2.1 and §2.2 are tested without the `jwt`
// feature; `callhook-tests` checks real assertions with it.
const JWT_AVAILABLE: bool = cfg!(any(test, feature = "jwt"));

/// A JWT minted from `jwt` at `at`.
#[cfg(all(not(test), feature = "jwt"))]
fn mint(jwt: &JwtAuth, at: chrono::DateTime<chrono::Utc>) -> Result<String, Error> {
    jwt.token(at)
}

/// Without the `jwt` feature nothing is minted; loading refuses such an
/// entry first (`check`), so this is the error of an entry built in code.
#[cfg(all(not(test), not(feature = "jwt")))]
fn mint(jwt: &JwtAuth, at: chrono::DateTime<chrono::Utc>) -> Result<String, Error> {
    let _ = (jwt, at);
    Err(Error::new(
        ErrorKind::InvalidConfig,
        needs_jwt("a JWT assertion"),
    ))
}

/// The fake signer for unit tests: an unsigned token of the claims.
#[cfg(test)]
fn mint(jwt: &JwtAuth, at: chrono::DateTime<chrono::Utc>) -> Result<String, Error> {
    Ok(request::tests::fake_mint(jwt, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_key_is_served_only_for_its_own_name() {
        let auth = valid();
        assert_eq!(auth.cached_key("named", "crm"), "named:crm");
        assert!(matches!(
            auth.cached_key("named", "crm"),
            std::borrow::Cow::Borrowed(_)
        ));
        // The same value under another name, or kind, gets its own key.
        assert_eq!(auth.cached_key("named", "billing"), "named:billing");
        assert_eq!(auth.cached_key("named", "crmx"), "named:crmx");
        assert_eq!(auth.cached_key("service", "crm"), "service:crm");
        assert_eq!(auth.cached_key("named", "crm"), "named:crm");
        // A clone keeps nothing.
        assert_eq!(auth.clone().cached_key("service", "s-1"), "service:s-1");
    }

    #[test]
    fn the_kept_header_follows_the_token_name_and_prefix() {
        let auth = valid();
        let made = std::cell::Cell::new(0);
        let header = |name: &str, prefix: &str, token: &str| {
            auth.cached_header(name, prefix, token, || {
                made.set(made.get() + 1);
                Ok((
                    http::HeaderName::try_from(name).unwrap(),
                    http::HeaderValue::try_from(format!("{prefix}{token}")).unwrap(),
                ))
            })
            .unwrap()
        };
        assert_eq!(header("authorization", "Bearer ", "a1").1, "Bearer a1");
        assert_eq!(header("authorization", "Bearer ", "a1").1, "Bearer a1");
        assert_eq!(made.get(), 1, "kept");
        // A new token, another prefix or another name: made anew.
        assert_eq!(header("authorization", "Bearer ", "a2").1, "Bearer a2");
        assert_eq!(header("authorization", "Token ", "a2").1, "Token a2");
        let (name, value) = header("x-token", "Token ", "a2");
        assert_eq!(
            (name.as_str(), value.to_str().unwrap()),
            ("x-token", "Token a2")
        );
        assert_eq!(made.get(), 4);
        // An error is not kept.
        let err = auth
            .cached_header("authorization", "", "a3", || {
                Err(Error::new(ErrorKind::InvalidHeader, "no"))
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidHeader);
        assert_eq!(header("x-token", "Token ", "a2").1, "Token a2");
        assert_eq!(made.get(), 4);
    }

    fn valid() -> OAuth2Auth {
        let mut auth = OAuth2Auth::new(
            "https://auth.example.com/token",
            "callhook",
            Grant::ClientCredentials,
        );
        auth.client_secret = Some(Secret::new("s3cr3t"));
        auth
    }

    fn problems(auth: &OAuth2Auth, addresses: &AddressPolicy) -> Vec<(String, String)> {
        auth.check(addresses)
            .into_iter()
            .map(|e| {
                (
                    e.field().unwrap_or_default().to_owned(),
                    e.message().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn the_documented_configuration_reads_and_checks() {
        let auth: OAuth2Auth = serde_json::from_str(
            r#"{"token_url": "https://auth.example.com/token",
                "grant": {"type": "client_credentials"}, "client_id": "callhook",
                "client_secret": {"secret_ref": "CRM_CLIENT_SECRET"}, "scope": "calls:write"}"#,
        )
        .unwrap();
        assert!(auth.check(&AddressPolicy::default()).is_empty());
        assert_eq!(auth.clone().secrets_mut().len(), 1);
        assert!(valid().check(&AddressPolicy::default()).is_empty());
    }

    #[test]
    fn token_urls_are_https_or_loopback_http_the_policy_allows() {
        let local = AddressPolicy::new().allow("127.0.0.1").unwrap();
        for (url, policy, ok) in [
            (
                "https://auth.example.com/token",
                &AddressPolicy::default(),
                true,
            ),
            (
                "https://auth.example.com/token?tenant=7",
                &AddressPolicy::default(),
                true,
            ),
            ("http://auth.example.com/token", &local, false),
            ("http://127.0.0.1:8080/token", &local, true),
            ("http://localhost:8080/token", &local, true),
            (
                "http://127.0.0.1:8080/token",
                &AddressPolicy::default(),
                false,
            ),
            ("https://10.0.0.1/token", &AddressPolicy::default(), false),
            (
                "https://169.254.169.254/token",
                &AddressPolicy::default(),
                false,
            ),
            (
                "ftp://auth.example.com/token",
                &AddressPolicy::default(),
                false,
            ),
            ("/token", &AddressPolicy::default(), false),
            (
                "https://user:pw@auth.example.com/token",
                &AddressPolicy::default(),
                false,
            ),
            (
                "https://auth.example.com/token#x",
                &AddressPolicy::default(),
                false,
            ),
            (
                "https://auth.example.com/token?client_secret=x",
                &AddressPolicy::default(),
                false,
            ),
        ] {
            let mut auth = valid();
            auth.token_url = url.into();
            let found = problems(&auth, policy);
            assert_eq!(found.is_empty(), ok, "{url}: {found:?}");
            if !ok {
                assert_eq!(found[0].0, "token_url");
            }
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let mut auth = valid();
        auth.client_id = "call\nhook".into();
        auth.client_secret = None;
        auth.scope = Some("a \"b\"".into());
        auth.refresh_before = limits::REFRESH_BEFORE_SECONDS + 1;
        auth.response_fields.access_token = String::new();
        auth.parameters = vec![
            TokenParameter::new("audience", Secret::new("a")),
            TokenParameter::new("client_secret", Secret::new("b")),
            TokenParameter::new("audience", Secret::new("c")),
            TokenParameter::new("", Secret::new("d")),
        ];
        let fields: Vec<String> = problems(&auth, &AddressPolicy::default())
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            [
                "client_id",
                "client_secret",
                "scope",
                "parameters.1.name",
                "parameters.2.name",
                "parameters.3.name",
                "response_fields.access_token",
                "refresh_before",
            ]
        );
        let messages = problems(&auth, &AddressPolicy::default());
        assert!(
            messages[3].1.contains("`client_secret` is set by callhook"),
            "{messages:?}"
        );
        assert!(messages[4].1.contains("given twice"), "{messages:?}");
    }

    #[test]
    fn client_authentication_and_grants_are_checked() {
        let mut public = valid();
        public.client_secret = None;
        public.client_auth = ClientAuth::Body;
        assert!(
            problems(&public, &AddressPolicy::default()).is_empty(),
            "a public client"
        );
        let jwt: JwtAuth =
            serde_json::from_value(serde_json::json!({"algorithm": "RS256", "key": "pem"}))
                .unwrap();
        let mut assertion = valid();
        assertion.client_auth = ClientAuth::JwtAssertion(Box::new(jwt));
        assert_eq!(
            problems(&assertion, &AddressPolicy::default())[0].0,
            "client_secret"
        );
        assertion.client_secret = None;
        assert!(problems(&assertion, &AddressPolicy::default()).is_empty());
        let mut password = valid();
        password.grant = Grant::Password {
            username: String::new(),
            password: Secret::new("p"),
        };
        assert_eq!(
            problems(&password, &AddressPolicy::default())[0].0,
            "grant.username"
        );
        let mut refresh = valid();
        refresh.grant = Grant::RefreshToken {
            refresh_token: Secret::new("a\nb"),
        };
        assert_eq!(
            problems(&refresh, &AddressPolicy::default())[0].0,
            "grant.refresh_token"
        );
        refresh.grant = Grant::RefreshToken {
            refresh_token: Secret::reference_to("UNRESOLVED"),
        };
        assert!(
            problems(&refresh, &AddressPolicy::default()).is_empty(),
            "the loader reports references"
        );
    }

    #[test]
    fn secrets_are_listed_and_resolvable() {
        let mut auth = valid();
        auth.grant = Grant::Password {
            username: "u".into(),
            password: Secret::reference_to("PW"),
        };
        auth.parameters = vec![TokenParameter::new("resource", Secret::reference_to("RES"))];
        let fields: Vec<String> = auth.secrets_mut().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            ["client_secret", "grant.password", "parameters.0.value"]
        );
        for (_, secret) in auth.secrets_mut() {
            secret.resolve("value");
        }
        assert!(auth.secrets_mut().iter().all(|(_, s)| s.is_resolved()));
    }

    #[test]
    fn fingerprints_are_stable_hex_and_cover_what_the_token_is_for() {
        let print = valid().fingerprint();
        assert_eq!(print.len(), 32);
        assert!(print.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(valid().fingerprint(), print);
        let mut same = valid();
        same.client_secret = Some(Secret::new("rotated"));
        same.add_to = TokenPlacement::Query { param: "t".into() };
        same.refresh_before = 10;
        assert_eq!(same.fingerprint(), print);
        let mut other = valid();
        other.grant = Grant::Password {
            username: "a".into(),
            password: Secret::new("p"),
        };
        let a = other.fingerprint();
        other.grant = Grant::Password {
            username: "b".into(),
            password: Secret::new("p"),
        };
        assert_ne!(other.fingerprint(), a);
        assert_ne!(a, print);
        // Parts do not run together.
        let mut split = valid();
        split.token_url = "https://auth.example.com/tokenc".into();
        split.client_id = "allhook".into();
        assert_ne!(split.fingerprint(), print);
    }
}
