//! The sender's side of signing: [`SigningConfig`], how a service signs
//! its requests (with [`HmacSigning`] for the configurable HMAC schemes),
//! and `Signer`, that setting compiled. Verifying, and the
//! primitives both sides share, are in [`signing`](crate::signing).

use chrono::{DateTime, Utc};
use http::header::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::limits::{SHORTEST_HMAC_SECRET, SHORTEST_SIGNING_KEY, SIGNING_SECRETS};
use crate::request::Request;
use crate::secret::Secret;
#[cfg(feature = "ed25519")]
use crate::signing::Ed25519Key;
use crate::signing::{
    body_sha256, check_token, check_twilio_limits, signature_error, twilio_signature, HmacLayout,
    HmacScheme, JwtKey, SigningKey,
};

/// How a service signs its requests.
///
/// In configuration, by `kind`:
///
/// - `{"kind": "standard_webhooks", "secrets": ["whsec_..."]}`: Standard
///   Webhooks v1 (HMAC-SHA256), several secrets during rotation;
/// - `{"kind": "standard_webhooks_v1a", "secrets": ["whsk_..."]}`: Standard
///   Webhooks `v1a` (Ed25519), feature `ed25519`;
/// - `{"kind": "hmac", "preset": "convoy_advanced", "secrets": ["..."]}`: a
///   configurable HMAC scheme ([`HmacSigning`]);
/// - `{"kind": "vonage", "secret": "..."}`: a Vonage-style JWT carrying
///   the body's hash;
/// - `{"kind": "twilio", "token": "..."}`: Twilio-style.
///
/// Every key, secret and token is a [`Secret`] (a `secret_ref` too).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum SigningConfig {
    /// Standard Webhooks v1 (HMAC-SHA256).
    StandardWebhooks {
        /// The `whsec_` secrets; each signs, so receivers holding any of
        /// them verify. One secret alone may be written without a list.
        #[serde(deserialize_with = "crate::secret::deserialize_secrets")]
        #[cfg_attr(feature = "schema", schemars(with = "Vec<Secret>"))]
        secrets: Vec<Secret>,
    },
    /// Standard Webhooks `v1a` (Ed25519), in the same headers as v1:
    /// receivers verify with the public keys (`whpk_`, see
    /// `signing::PublicKey`). Needs the `ed25519` feature: without it a
    /// configuration naming this kind does not load ("the `ed25519`
    /// feature is off"), rather than reading as an unknown kind.
    StandardWebhooksV1a {
        /// The `whsk_` signing keys, base64 of either the 32-byte seed or
        /// the 64-byte seed followed by its public key (implementations
        /// write both; the specification does not say). Each signs, so
        /// receivers holding any public key verify. One key alone may be
        /// written without a list.
        #[cfg_attr(
            feature = "ed25519",
            serde(deserialize_with = "crate::secret::deserialize_secrets")
        )]
        #[cfg_attr(not(feature = "ed25519"), serde(deserialize_with = "ed25519_off"))]
        #[cfg_attr(feature = "schema", schemars(with = "Vec<Secret>"))]
        secrets: Vec<Secret>,
    },
    /// A configurable HMAC scheme: Convoy's, Zoom's, GitHub's and their
    /// like.
    Hmac(HmacSigning),
    /// Vonage-style signed requests: `Authorization: Bearer` and an HS256
    /// JWT whose `payload_hash` claim is the lowercase hex SHA-256 of the
    /// body, with `iat` (the attempt's time) and `jti` (the delivery id and
    /// that time). Receivers verify with `signing::verify_vonage`.
    Vonage {
        /// The signature secret the JWT is signed with (HS256), at least
        /// [`SHORTEST_HMAC_SECRET`] bytes.
        secret: Secret,
        /// The `iss` claim, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issuer: Option<String>,
    },
    /// Twilio-style `X-Twilio-Signature` (HMAC-SHA1).
    Twilio {
        /// The auth token.
        token: Secret,
    },
}

/// Refuses `standard_webhooks_v1a` in a build without Ed25519, with a
/// message that says why rather than an unknown kind.
#[cfg(not(feature = "ed25519"))]
fn ed25519_off<'de, D: serde::Deserializer<'de>>(_: D) -> Result<Vec<Secret>, D::Error> {
    Err(serde::de::Error::custom(ED25519_OFF))
}

#[cfg(not(feature = "ed25519"))]
const ED25519_OFF: &str =
    "`standard_webhooks_v1a` signs with Ed25519, and the `ed25519` feature is off: \
     build callhook with `features = [\"ed25519\"]`";

impl SigningConfig {
    /// Every secret of the setting, with its field path under `signing`.
    pub(crate) fn secrets_mut(&mut self) -> Vec<(String, &mut Secret)> {
        fn list(secrets: &mut [Secret]) -> Vec<(String, &mut Secret)> {
            secrets
                .iter_mut()
                .enumerate()
                .map(|(i, secret)| (format!("signing.secrets.{i}"), secret))
                .collect()
        }
        match self {
            SigningConfig::StandardWebhooks { secrets }
            | SigningConfig::StandardWebhooksV1a { secrets } => list(secrets),
            SigningConfig::Hmac(hmac) => list(&mut hmac.secrets),
            SigningConfig::Vonage { secret, .. } => vec![("signing.secret".into(), secret)],
            SigningConfig::Twilio { token } => vec![("signing.token".into(), token)],
        }
    }
}

/// A configurable HMAC signature scheme (`"kind": "hmac"`): which header
/// carries the signature, which bytes are signed, the hash, the encoding,
/// and the secrets.
///
/// A `preset` fills in the shape of a known sender; any field given beside
/// it overrides the preset's:
///
/// | preset | `header` | `message` | header value |
/// |---|---|---|---|
/// | `convoy` | `X-Convoy-Signature` | `{body}` | `<hex>` |
/// | `convoy_advanced` | `X-Convoy-Signature` | `{timestamp},{body}` | `t=<unix>,v1=<hex>[,v1=<hex>…]` |
/// | `zoom` | `x-zm-signature` (and `x-zm-request-timestamp`) | `v0:{timestamp}:{body}` | `v0=<hex>` |
/// | `github` | `X-Hub-Signature-256` | `{body}` | `sha256=<hex>` |
///
/// All four are HMAC-SHA256 in hex; Convoy also signs with SHA-512 or in
/// base64 (`"hash": "sha512"`, `"encoding": "base64"`). Without a preset,
/// `header` and `message` are required, and the defaults are the `plain`
/// layout, no prefix, SHA-256 and hex.
///
/// ```json
/// {"kind": "hmac", "preset": "convoy_advanced", "hash": "sha512",
///  "secrets": [{"secret_ref": "CONVOY_SECRET"}]}
/// {"kind": "hmac", "header": "X-Signature", "message": "{id}.{timestamp}.{body}",
///  "id_header": "X-Delivery", "timestamp_header": "X-Timestamp",
///  "encoding": "base64", "secrets": ["..."]}
/// ```
///
/// The same setting verifies on the receiving side:
/// [`HmacSigning::scheme`] gives a [`HmacScheme`](crate::signing::HmacScheme).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HmacSigning {
    /// A known sender's shape, which the other fields override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<HmacPreset>,
    /// The header carrying the signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// The signed bytes: text with `{id}` (the delivery id), `{timestamp}`
    /// (Unix seconds) and `{body}` (the exact body, once) put in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How the signature header is written: `plain` (the prefix and one
    /// signature) or `pairs` (`t=<timestamp>` and a prefixed signature per
    /// secret, comma-separated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<SignatureLayout>,
    /// Text before each signature (`sha256=`, `v0=`); in the `pairs`
    /// layout, a signature's key and `=` (`v1=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The header carrying the timestamp, in the `plain` layout when the
    /// message signs `{timestamp}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
    /// The header carrying the delivery id, when the message signs `{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_header: Option<String>,
    /// The hash: `sha256` (the default) or `sha512`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<HmacHash>,
    /// How signatures are written: `hex` (lowercase, the default) or
    /// `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<HmacEncoding>,
    /// The secrets, their bytes as written. In the `pairs` layout each
    /// signs, so receivers holding any of them verify; the `plain` layout
    /// carries one signature, so a service signs with one secret (a
    /// receiver may hold several). One secret alone may be written
    /// without a list.
    #[serde(deserialize_with = "crate::secret::deserialize_secrets")]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<Secret>"))]
    pub secrets: Vec<Secret>,
}

/// A known sender's HMAC scheme: see [`HmacSigning`].
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HmacPreset {
    /// Convoy's simple signature: the body's HMAC in `X-Convoy-Signature`.
    Convoy,
    /// Convoy's advanced signature: `t=<unix>,v1=<sig>[,v1=<sig>…]` over
    /// `<unix>,<body>`.
    ConvoyAdvanced,
    /// Zoom's: `v0=<hex>` over `v0:<unix>:<body>`, the time in
    /// `x-zm-request-timestamp`.
    Zoom,
    /// GitHub's: `X-Hub-Signature-256: sha256=<hex>` over the body.
    Github,
}

/// The hash of an HMAC scheme.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HmacHash {
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// How an HMAC scheme writes its signatures.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HmacEncoding {
    /// Lowercase hex (either case is read).
    Hex,
    /// Standard base64, padded (read padded or not).
    Base64,
}

/// How an HMAC scheme's signature header is laid out.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SignatureLayout {
    /// The prefix and one signature: `sha256=<hex>`.
    Plain,
    /// Comma-separated pairs, read in any order: `t=<unix>` and one
    /// `<prefix><signature>` per secret.
    Pairs,
}

impl HmacSigning {
    /// A scheme of its own: the signature `header` and the signed
    /// `message` (see [`HmacSigning::message`]), SHA-256 and hex, in the
    /// `plain` layout; set the other fields to change them.
    #[must_use]
    pub fn new(
        header: impl Into<String>,
        message: impl Into<String>,
        secrets: Vec<Secret>,
    ) -> HmacSigning {
        HmacSigning {
            preset: None,
            header: Some(header.into()),
            message: Some(message.into()),
            layout: None,
            prefix: None,
            timestamp_header: None,
            id_header: None,
            hash: None,
            encoding: None,
            secrets,
        }
    }

    /// A known sender's scheme.
    #[must_use]
    pub fn from_preset(preset: HmacPreset, secrets: Vec<Secret>) -> HmacSigning {
        HmacSigning {
            preset: Some(preset),
            header: None,
            message: None,
            layout: None,
            prefix: None,
            timestamp_header: None,
            id_header: None,
            hash: None,
            encoding: None,
            secrets,
        }
    }

    /// The scheme with `hash`.
    #[must_use]
    pub fn with_hash(mut self, hash: HmacHash) -> HmacSigning {
        self.hash = Some(hash);
        self
    }

    /// The scheme with `encoding`.
    #[must_use]
    pub fn with_encoding(mut self, encoding: HmacEncoding) -> HmacSigning {
        self.encoding = Some(encoding);
        self
    }

    /// The scheme compiled with its secrets: what a receiver verifies with
    /// ([`HmacScheme::verify`], [`HmacScheme::verify_at`]). Any secret is
    /// taken here, however short; a service signs only with secrets of at
    /// least [`SHORTEST_HMAC_SECRET`] bytes.
    ///
    /// # Errors
    ///
    /// A scheme with no preset that lacks `header` or `message`, a
    /// `message` with a placeholder other than `{id}`, `{timestamp}` and
    /// `{body}` or without `{body}`, a signed timestamp or id the request
    /// would not carry (or one carried but not signed), a header name that
    /// is not one, or no secret, an empty one, or more than
    /// [`SIGNATURES`](crate::limits::SIGNATURES), is an error of kind
    /// [`ErrorKind::Signature`](crate::ErrorKind::Signature).
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{HmacPreset, HmacSigning, Secret};
    ///
    /// let scheme = HmacSigning::from_preset(HmacPreset::Zoom, vec![Secret::new("zoom-secret-token")]).scheme()?;
    /// assert!(scheme.is_timed());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn scheme(&self) -> Result<HmacScheme, Error> {
        let (header, message, pairs, prefix, timestamp_header) = match self.preset {
            Some(HmacPreset::Convoy) => ("X-Convoy-Signature", "{body}", false, "", None),
            Some(HmacPreset::ConvoyAdvanced) => (
                "X-Convoy-Signature",
                "{timestamp},{body}",
                true,
                "v1=",
                None,
            ),
            Some(HmacPreset::Zoom) => (
                "x-zm-signature",
                "v0:{timestamp}:{body}",
                false,
                "v0=",
                Some("x-zm-request-timestamp"),
            ),
            Some(HmacPreset::Github) => ("X-Hub-Signature-256", "{body}", false, "sha256=", None),
            None => {
                let missing = |field| {
                    signature_error(format!(
                        "give `{field}`, or a `preset` (`convoy`, `convoy_advanced`, `zoom`, \
                         `github`)"
                    ))
                };
                (
                    self.header.as_deref().ok_or_else(|| missing("header"))?,
                    self.message.as_deref().ok_or_else(|| missing("message"))?,
                    false,
                    "",
                    None,
                )
            }
        };
        let layout = HmacLayout {
            header: self.header.as_deref().unwrap_or(header),
            message: self.message.as_deref().unwrap_or(message),
            pairs: self.layout.map_or(pairs, |l| l == SignatureLayout::Pairs),
            prefix: self.prefix.as_deref().unwrap_or(prefix),
            timestamp_header: self.timestamp_header.as_deref().or(timestamp_header),
            id_header: self.id_header.as_deref(),
            sha512: self.hash == Some(HmacHash::Sha512),
            base64: self.encoding == Some(HmacEncoding::Base64),
        };
        HmacScheme::new(&layout, self.secrets.iter().map(Secret::expose))
    }
}

/// A compiled [`SigningConfig`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Signer {
    Standard(Vec<SigningKey>),
    #[cfg(feature = "ed25519")]
    StandardV1a(Vec<Ed25519Key>),
    Hmac(HmacScheme),
    Vonage {
        key: JwtKey,
        issuer: Option<String>,
    },
    Twilio(Secret),
}

/// Refuses more than [`SIGNING_SECRETS`] secrets.
fn check_count(count: usize) -> Result<(), Error> {
    if count > SIGNING_SECRETS {
        return Err(signature_error(format!(
            "{count} secrets; a service signs with at most {SIGNING_SECRETS} \
             (`limits::SIGNING_SECRETS`)"
        )));
    }
    Ok(())
}

/// Refuses a secret under [`SHORTEST_HMAC_SECRET`] bytes.
fn check_hmac_secret(what: &str, secret: &Secret) -> Result<(), Error> {
    let length = secret.expose().len();
    if length < SHORTEST_HMAC_SECRET {
        return Err(signature_error(format!(
            "{what} is {length} bytes; a service signs with at least \
             {SHORTEST_HMAC_SECRET} (`limits::SHORTEST_HMAC_SECRET`)"
        )));
    }
    Ok(())
}

impl Signer {
    pub(crate) fn new(config: &SigningConfig) -> Result<Signer, Error> {
        match config {
            SigningConfig::StandardWebhooks { secrets } => {
                if secrets.is_empty() {
                    return Err(signature_error("give at least one signing secret"));
                }
                secrets
                    .iter()
                    .enumerate()
                    .map(|(i, secret)| {
                        let key = SigningKey::new(secret.expose())?;
                        if key.length < SHORTEST_SIGNING_KEY {
                            return Err(signature_error(format!(
                                "signing secret {i} is {} bytes; Standard Webhooks keys are at \
                                 least {SHORTEST_SIGNING_KEY} (`limits::SHORTEST_SIGNING_KEY`)",
                                key.length
                            )));
                        }
                        Ok(key)
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Signer::Standard)
            }
            #[cfg(feature = "ed25519")]
            SigningConfig::StandardWebhooksV1a { secrets } => {
                if secrets.is_empty() {
                    return Err(signature_error("give at least one signing key"));
                }
                check_count(secrets.len())?;
                secrets
                    .iter()
                    .enumerate()
                    .map(|(i, secret)| {
                        Ed25519Key::new(secret.expose())
                            .map_err(|e| signature_error(format!("signing key {i}: {e}")))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Signer::StandardV1a)
            }
            #[cfg(not(feature = "ed25519"))]
            SigningConfig::StandardWebhooksV1a { .. } => Err(signature_error(ED25519_OFF)),
            SigningConfig::Hmac(hmac) => {
                check_count(hmac.secrets.len())?;
                for (i, secret) in hmac.secrets.iter().enumerate() {
                    check_hmac_secret(&format!("secret {i}"), secret)?;
                }
                let scheme = hmac.scheme()?;
                if scheme.plain_with_several() {
                    return Err(signature_error(
                        "the `plain` layout carries one signature: sign with one secret, or \
                         use the `pairs` layout",
                    ));
                }
                Ok(Signer::Hmac(scheme))
            }
            SigningConfig::Vonage { secret, issuer } => {
                check_hmac_secret("the secret", secret)?;
                Ok(Signer::Vonage {
                    key: JwtKey::new(secret.expose()),
                    issuer: issuer.clone(),
                })
            }
            SigningConfig::Twilio { token } => {
                check_token(token.expose())?;
                Ok(Signer::Twilio(token.clone()))
            }
        }
    }

    /// The headers this signer adds, which a service may not set itself.
    pub(crate) fn headers(&self) -> Vec<&str> {
        const STANDARD: [&str; 3] = ["webhook-id", "webhook-timestamp", "webhook-signature"];
        match self {
            Signer::Standard(_) => STANDARD.to_vec(),
            #[cfg(feature = "ed25519")]
            Signer::StandardV1a(_) => STANDARD.to_vec(),
            Signer::Hmac(scheme) => scheme.headers(),
            Signer::Vonage { .. } => vec!["authorization"],
            Signer::Twilio(_) => vec!["x-twilio-signature"],
        }
    }

    /// Signs `request` for delivery `id` at time `at`. Signing again, for a
    /// later attempt, replaces the signature: nothing is ever added twice,
    /// so the same call serves the first attempt and every retry.
    pub(crate) fn sign(
        &self,
        request: &mut Request,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Error> {
        // Receivers read these headers as ASCII text.
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(signature_error(format!(
                "delivery id `{id}` must be printable ASCII without spaces"
            )));
        }
        let timestamp = at.timestamp();
        match self {
            Signer::Standard(keys) => {
                let signatures: Vec<String> = keys
                    .iter()
                    .map(|k| k.sign(id, timestamp, request.body()))
                    .collect();
                standard_headers(request, id, timestamp, signatures.join(" "))
            }
            #[cfg(feature = "ed25519")]
            Signer::StandardV1a(keys) => {
                let signatures: Vec<String> = keys
                    .iter()
                    .map(|k| k.sign(id, timestamp, request.body()))
                    .collect();
                standard_headers(request, id, timestamp, signatures.join(" "))
            }
            Signer::Hmac(scheme) => {
                for (name, value) in scheme.sign(id, timestamp, request.body()) {
                    let mut value = HeaderValue::try_from(value)
                        .map_err(|_| signature_error("a signature header is not a header value"))?;
                    value.set_sensitive(false);
                    request.headers_mut().insert(name, value);
                }
                Ok(())
            }
            Signer::Vonage { key, issuer } => {
                let token = key.sign(id, timestamp, issuer.as_deref(), request.body());
                let mut value = HeaderValue::try_from(format!("Bearer {token}"))
                    .map_err(|_| signature_error("the token is not a header value"))?;
                // A bearer token, though one bound to this body and time.
                value.set_sensitive(true);
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, value);
                Ok(())
            }
            Signer::Twilio(token) => {
                // A content type that is not text is no form: the URL
                // alone is signed, with `bodySHA256` for the body.
                let is_form = request
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
                let mut url = request.uri().to_string();
                let params: Vec<(String, String)> = if is_form {
                    form_urlencoded::parse(request.body())
                        .into_owned()
                        .collect()
                } else {
                    // Any other body is signed through its hash in the URL,
                    // added once: a later attempt finds it there already.
                    let hashed = request.uri().query().is_some_and(|query| {
                        query.split('&').any(|pair| pair.starts_with("bodySHA256="))
                    });
                    if !request.body().is_empty() && !hashed {
                        url.push(if url.contains('?') { '&' } else { '?' });
                        url.push_str("bodySHA256=");
                        url.push_str(&body_sha256(request.body()));
                        *request.uri_mut() = url.parse().map_err(|e| {
                            signature_error("the signed URL is not valid").with_source(e)
                        })?;
                    }
                    Vec::new()
                };
                // Nothing is signed that a receiver's `verify_twilio` would
                // refuse.
                check_twilio_limits(&url, &params, request.body().len())?;
                let signature = twilio_signature(token.expose(), &url, &params);
                request.headers_mut().insert(
                    HeaderName::from_static("x-twilio-signature"),
                    HeaderValue::try_from(signature)
                        .map_err(|_| signature_error("the signature is not a header value"))?,
                );
                Ok(())
            }
        }
    }
}

/// Writes Standard Webhooks' three headers, v1 and `v1a` alike.
fn standard_headers(
    request: &mut Request,
    id: &str,
    timestamp: i64,
    signatures: String,
) -> Result<(), Error> {
    let headers = request.headers_mut();
    headers.insert(
        HeaderName::from_static("webhook-id"),
        HeaderValue::try_from(id)
            .map_err(|_| signature_error("the delivery id cannot be sent in a header"))?,
    );
    headers.insert(
        HeaderName::from_static("webhook-timestamp"),
        HeaderValue::from(timestamp),
    );
    let mut signature = HeaderValue::try_from(signatures)
        .map_err(|_| signature_error("signature is not a header value"))?;
    signature.set_sensitive(false);
    headers.insert(HeaderName::from_static("webhook-signature"), signature);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::{verify_standard, TOLERANCE_SECONDS};
    use chrono::TimeDelta;

    /// Standard Webhooks' recommended tolerance, the one receivers use.
    const TOLERANCE: TimeDelta = TimeDelta::seconds(TOLERANCE_SECONDS);

    fn key() -> SigningKey {
        SigningKey::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
    }

    #[test]
    fn sign_then_verify_with_rotation() {
        let old = SigningKey::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let signer = Signer::Standard(vec![key(), old.clone()]);
        let mut request = http::Request::new(b"{}".to_vec());
        let at: DateTime<Utc> = "2024-12-02T21:00:00Z".parse().unwrap();
        signer.sign(&mut request, "d-1", at).unwrap();
        let header = request.headers()["webhook-signature"].to_str().unwrap();
        assert_eq!(header.split(' ').count(), 2);
        for keys in [vec![key()], vec![old]] {
            verify_standard(&keys, request.headers(), b"{}", at, TOLERANCE).unwrap();
        }
        let later = at + chrono::Duration::seconds(301);
        assert!(verify_standard(&[key()], request.headers(), b"{}", later, TOLERANCE).is_err());
        assert!(verify_standard(&[key()], request.headers(), b"{ }", at, TOLERANCE).is_err());
    }

    /// Without the feature, the kind is known and refused for what it is.
    #[cfg(not(feature = "ed25519"))]
    #[test]
    fn v1a_without_the_feature_says_so() {
        let json = r#"{"kind": "standard_webhooks_v1a", "secrets": ["whsk_AAAA"]}"#;
        let e = serde_json::from_str::<SigningConfig>(json).unwrap_err();
        assert!(
            e.to_string().contains("the `ed25519` feature is off"),
            "{e}"
        );
        let config = SigningConfig::StandardWebhooksV1a {
            secrets: vec![Secret::new("whsk_AAAA")],
        };
        let e = Signer::new(&config).unwrap_err();
        assert!(
            e.to_string().contains("the `ed25519` feature is off"),
            "{e}"
        );
    }

    #[test]
    fn hmac_presets_round_trip_and_override() {
        let json = r#"{"kind":"hmac","preset":"convoy_advanced","hash":"sha512","secrets":["0123456789abcdef"]}"#;
        let config: SigningConfig = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&config).unwrap(), json);
        let signer = Signer::new(&config).unwrap();
        assert_eq!(signer.headers(), ["x-convoy-signature"]);
        let mut request = http::Request::new(b"{}".to_vec());
        signer
            .sign(&mut request, "d", "2024-12-02T21:00:00Z".parse().unwrap())
            .unwrap();
        let value = request.headers()["x-convoy-signature"].to_str().unwrap();
        assert!(value.starts_with("t=1733173200,v1="), "{value}");
        assert_eq!(value.len(), "t=1733173200,v1=".len() + 128);
        // Unknown fields are refused, as elsewhere in a configuration.
        let typo = r#"{"kind":"hmac","preset":"github","secret":["0123456789abcdef"]}"#;
        assert!(serde_json::from_str::<SigningConfig>(typo).is_err());
    }

    #[test]
    fn twilio_json_bodies_sign_the_url_with_the_body_hash() {
        let mut request = http::Request::new(br#"{"property": "value", "boolean": true}"#.to_vec());
        *request.uri_mut() = "https://mycompany.com/myapp.php?foo=1&bar=2"
            .parse()
            .unwrap();
        Signer::Twilio(Secret::new("12345"))
            .sign(&mut request, "d", "2024-12-02T21:00:00Z".parse().unwrap())
            .unwrap();
        assert_eq!(
            request.uri(),
            "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
        );
        assert_eq!(
            request.headers()["x-twilio-signature"],
            "a9nBmqA0ju/hNViExpshrM61xv4="
        );
    }

    #[test]
    fn signing_again_replaces_and_never_adds_twice() {
        let signer = Signer::Twilio(Secret::new("0123456789abcdef"));
        let mut request = http::Request::new(b"{}".to_vec());
        *request.uri_mut() = "https://a.example.com/h?x=1".parse().unwrap();
        request
            .headers_mut()
            .insert("x-first", HeaderValue::from_static("1"));
        let at = "2024-12-02T21:00:00Z".parse().unwrap();
        signer.sign(&mut request, "d", at).unwrap();
        let once = request.clone();
        signer.sign(&mut request, "d", at).unwrap();
        assert_eq!(request.uri(), once.uri());
        assert_eq!(request.headers(), once.headers());
        assert_eq!(
            request.uri().query().unwrap().matches("bodySHA256").count(),
            1
        );

        let standard = Signer::Standard(vec![key()]);
        standard.sign(&mut request, "d", at).unwrap();
        let later = at + chrono::Duration::seconds(60);
        standard.sign(&mut request, "d", later).unwrap();
        assert_eq!(
            request
                .headers()
                .get_all("webhook-signature")
                .iter()
                .count(),
            1
        );
        assert_eq!(request.headers()["webhook-timestamp"], "1733173260");
        assert!(signer.sign(&mut request, "dé", at).is_err());
    }
}
