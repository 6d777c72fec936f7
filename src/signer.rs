//! The sender's side of signing: [`SigningConfig`], how a service signs
//! its requests, and `Signer`, that setting compiled. Verifying, and the
//! primitives both sides share, are in [`signing`](crate::signing).

use chrono::{DateTime, Utc};
use http::header::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::limits::SHORTEST_SIGNING_KEY;
use crate::request::Request;
use crate::secret::Secret;
use crate::signing::{
    body_sha256, check_token, check_twilio_limits, signature_error, twilio_signature, SigningKey,
};

/// How a service signs its requests.
///
/// In configuration: `{"kind": "standard_webhooks", "secrets": ["whsec_..."]}`
/// (several during rotation) or `{"kind": "twilio", "token": "..."}`.
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
    /// Twilio-style `X-Twilio-Signature` (HMAC-SHA1).
    Twilio {
        /// The auth token.
        token: Secret,
    },
}

/// A compiled [`SigningConfig`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Signer {
    Standard(Vec<SigningKey>),
    Twilio(Secret),
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
            SigningConfig::Twilio { token } => {
                check_token(token.expose())?;
                Ok(Signer::Twilio(token.clone()))
            }
        }
    }

    /// The headers this signer adds, which a service may not set itself.
    pub(crate) fn headers(&self) -> &'static [&'static str] {
        match self {
            Signer::Standard(_) => &["webhook-id", "webhook-timestamp", "webhook-signature"],
            Signer::Twilio(_) => &["x-twilio-signature"],
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
        let invalid = |_| signature_error("the delivery id cannot be sent in a header");
        // Receivers read these headers as ASCII text.
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(signature_error(format!(
                "delivery id `{id}` must be printable ASCII without spaces"
            )));
        }
        match self {
            Signer::Standard(keys) => {
                let timestamp = at.timestamp();
                let signatures: Vec<String> = keys
                    .iter()
                    .map(|k| k.sign(id, timestamp, request.body()))
                    .collect();
                let headers = request.headers_mut();
                headers.insert(
                    HeaderName::from_static("webhook-id"),
                    HeaderValue::try_from(id).map_err(invalid)?,
                );
                headers.insert(
                    HeaderName::from_static("webhook-timestamp"),
                    HeaderValue::from(timestamp),
                );
                let mut signature = HeaderValue::try_from(signatures.join(" "))
                    .map_err(|_| signature_error("signature is not a header value"))?;
                signature.set_sensitive(false);
                headers.insert(HeaderName::from_static("webhook-signature"), signature);
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
                    HeaderValue::try_from(signature).map_err(invalid)?,
                );
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::verify_standard;

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
            verify_standard(&keys, request.headers(), b"{}", at).unwrap();
        }
        let later = at + chrono::Duration::seconds(301);
        assert!(verify_standard(&[key()], request.headers(), b"{}", later).is_err());
        assert!(verify_standard(&[key()], request.headers(), b"{ }", at).is_err());
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
