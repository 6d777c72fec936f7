//! Vonage-style signed requests: an HS256 JWT carrying the body's hash.

use std::borrow::Cow;
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use http::header::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{
    body_sha256, check_fresh, constant_time_eq, header_text, hmac_sha256, signature_error,
};
use crate::error::Error;
#[cfg(doc)]
use crate::error::ErrorKind;
use crate::limits::JWT_BYTES;

/// `{"alg":"HS256","typ":"JWT"}`, base64url: the only header written or
/// read.
const HS256_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// A Vonage-style signing secret, keyed once for HMAC-SHA256.
#[derive(Clone)]
pub(crate) struct JwtKey(Hmac<Sha256>);

impl PartialEq for JwtKey {
    /// Keys are equal when they sign alike.
    fn eq(&self, other: &JwtKey) -> bool {
        self.token("{}") == other.token("{}")
    }
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtKey([redacted])")
    }
}

/// The claims callhook writes and reads: `iat` (Unix seconds),
/// `payload_hash` (lowercase hex SHA-256 of the body), and a `jti` and
/// `iss` when there are.
#[derive(Serialize, Deserialize)]
struct Claims<'a> {
    iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    jti: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    iss: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payload_hash: Cow<'a, str>,
    #[serde(default, skip_serializing)]
    exp: Option<i64>,
}

impl JwtKey {
    pub(crate) fn new(secret: &str) -> JwtKey {
        JwtKey(hmac_sha256(secret.as_bytes()))
    }

    /// The HS256 token of a claims JSON.
    fn token(&self, claims: &str) -> String {
        let mut token = String::with_capacity(HS256_HEADER.len() + claims.len() * 4 / 3 + 48);
        token.push_str(HS256_HEADER);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let mut mac = self.0.clone();
        mac.update(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), &mut token);
        token
    }

    /// The `Bearer` token of delivery `id` at `timestamp`: `iat`, a `jti`
    /// of the delivery and the attempt's time (a retry is a new token),
    /// `iss` if given, and the body's `payload_hash`.
    pub(crate) fn sign(
        &self,
        id: &str,
        timestamp: i64,
        issuer: Option<&str>,
        body: &[u8],
    ) -> String {
        let jti = format!("{id}.{timestamp}");
        let claims = Claims {
            iat: timestamp,
            jti: Some(Cow::Borrowed(&jti)),
            iss: issuer.map(Cow::Borrowed),
            payload_hash: Cow::Owned(body_sha256(body)),
            exp: None,
        };
        let claims = serde_json::to_string(&claims).expect("claims are text and numbers");
        self.token(&claims)
    }
}

/// Verifies a Vonage-style signed request: the `Authorization: Bearer`
/// JWT is HS256 (no other algorithm is read) and signed with `secret`,
/// its `iat` is within `tolerance` of `now` either way (an `exp`, if any,
/// not passed), and its `payload_hash` is the lowercase hex SHA-256 of
/// the exact body bytes. Comparisons are constant-time.
///
/// # Errors
///
/// A missing or malformed header or token, a token over [`JWT_BYTES`]
/// bytes, another algorithm, a bad signature, a time outside the
/// tolerance, or a `payload_hash` that is not the body's is an error of
/// kind [`ErrorKind::Signature`].
///
/// # Examples
///
/// ```
/// use callhook::signing::verify_vonage;
/// use chrono::{DateTime, TimeDelta};
/// use http::HeaderMap;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("authorization", "Bearer not.a.token".parse().unwrap());
/// let now = DateTime::from_timestamp(1733173960, 0).unwrap();
/// assert!(verify_vonage("secret", &headers, b"{}", now, TimeDelta::minutes(5)).is_err());
/// ```
pub fn verify_vonage(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: TimeDelta,
) -> Result<(), Error> {
    let authorization = header_text(headers, "authorization")?;
    let token = authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("bearer "))
        .ok_or_else(|| signature_error("`authorization` is not a `Bearer` token"))?
        .trim();
    if token.len() > JWT_BYTES {
        return Err(signature_error(format!(
            "the token is {} bytes; at most {JWT_BYTES} are read (`limits::JWT_BYTES`)",
            token.len()
        )));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(signature_error("the token is not a JWT's three parts"));
    };
    #[derive(Deserialize)]
    struct Header<'a> {
        #[serde(borrow)]
        alg: Cow<'a, str>,
    }
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| signature_error("the token's header is not base64url"))?;
    let header: Header<'_> = serde_json::from_slice(&header)
        .map_err(|_| signature_error("the token's header is not a JWT header"))?;
    if header.alg != "HS256" {
        return Err(signature_error("the token is not signed with `HS256`"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| signature_error("the token's signature is not base64url"))?;
    let mut mac = hmac_sha256(secret.as_bytes());
    mac.update(&token.as_bytes()[..token.len() - signature_len(token)]);
    if !constant_time_eq(&mac.finalize().into_bytes(), &signature) {
        return Err(signature_error("the token's signature does not match"));
    }
    let claims = URL_SAFE_NO_PAD
        .decode(claims)
        .map_err(|_| signature_error("the token's claims are not base64url"))?;
    let claims: Claims<'_> = serde_json::from_slice(&claims).map_err(|_| {
        signature_error("the token's claims lack a numeric `iat` or a `payload_hash`")
    })?;
    check_fresh(claims.iat, now, tolerance, "the token's `iat`")?;
    if claims.exp.is_some_and(|exp| now.timestamp() >= exp) {
        return Err(signature_error("the token has expired (`exp`)"));
    }
    if !constant_time_eq(claims.payload_hash.as_bytes(), body_sha256(body).as_bytes()) {
        return Err(signature_error(
            "the token's `payload_hash` is not the body's",
        ));
    }
    Ok(())
}

/// The length of a token's signature part with its dot.
fn signature_len(token: &str) -> usize {
    token.rfind('.').map_or(0, |dot| token.len() - dot)
}
