//! JWT authentication to the receiver: a token minted by callhook and
//! carried in a header or a query parameter.
//!
//! SKELETON (design of issue 21): the configuration only. Minting (with
//! `jsonwebtoken` behind the `jwt` feature) is to be built here.

use serde::{Deserialize, Serialize};

use super::TokenPlacement;
use crate::secret::Secret;

/// A JWT minted for the receiver (RingCX's `JWT` auth configuration).
///
/// In configuration:
/// `{"kind": "jwt", "algorithm": "HS256", "key": {"secret_ref": "CRM_JWT"},
/// "claims": {"iss": "callhook", "sub": "#agent_id#"}, "expires_in": 300}`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JwtAuth {
    /// The signing algorithm (RingCX's `algorithm`).
    pub algorithm: JwtAlgorithm,
    /// The key: the shared secret for `HS256` (RingCX's `secret`), a PEM
    /// private key for `RS256` and `ES256` (RingCX's `privateKey`).
    pub key: Secret,
    /// Whether an `HS256` secret is written in base64 and signs with the
    /// bytes it decodes to (RingCX's `isSecretEncoded`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub key_is_base64: bool,
    /// Header fields beside `alg` and `typ`, such as `kid` (RingCX's
    /// `jwtHeaders`, a JSON object).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub headers: serde_json::Map<String, serde_json::Value>,
    /// The claims (RingCX's `payload`). Text values may hold placeholders
    /// (`#agent_id#`), in which case a token is minted per request; a
    /// token of static claims is minted once per validity window.
    #[serde(default)]
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Seconds from minting to `exp` (RingCX's `expirationTime`).
    #[serde(default = "default_expires_in")]
    pub expires_in: u32,
    /// Whether the token carries `iat` (RingCX's `isIncludeIssueAt`).
    #[serde(default = "yes")]
    pub issued_at: bool,
    /// Where the token goes (RingCX's `addTokenTo`, `headerPrefix`,
    /// `queryParamName`).
    #[serde(default)]
    pub add_to: TokenPlacement,
}

fn default_expires_in() -> u32 {
    3_600
}

fn yes() -> bool {
    true
}

/// The algorithms a [`JwtAuth`] signs with.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a shared secret.
    HS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
}

// ---- interface used by the spine; built by the jwt/oauth2 parts ----

impl JwtAuth {
    /// The token to send at `at`, with its placement's prefix not added.
    ///
    /// Placeholder: the jwt part mints it.
    pub(crate) fn token(&self, at: chrono::DateTime<chrono::Utc>) -> Result<String, crate::Error> {
        let _ = at;
        Err(crate::Error::new(
            crate::ErrorKind::Signature,
            "JWT minting is not built yet",
        ))
    }

    /// Every problem of the configuration, found when it loads.
    ///
    /// Placeholder: the jwt part checks keys and claims.
    pub(crate) fn check(&self) -> Vec<crate::Error> {
        Vec::new()
    }
}
