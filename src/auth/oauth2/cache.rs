//! The host's [`TokenCache`], and reading token responses into it
//! (RFC 6749 §5.1, §5.2).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::{OAuth2Auth, TokenRequest};
use crate::error::{shown, Error, ErrorKind};
use crate::limits;
use crate::secret::REDACTED;

/// The tokens a host keeps, keyed by auth entry: serialisable, so that
/// workers can share it ([`TokenCache::to_json`]). Time is passed in.
///
/// A token response is read into it by [`TokenCache::accept`]. Each entry
/// holds an access token with its expiry, a `refresh_token` grant's
/// rotated refresh token, and the fingerprint of the configuration it was
/// made for: a token made for another token URL, client, grant, scope or
/// parameters is not served. Its `Debug` shows keys and expiries, never a
/// token.
///
/// # Examples
///
/// ```
/// use callhook::{Grant, OAuth2Auth, Secret, TokenCache};
///
/// let mut auth = OAuth2Auth::new("https://server.example.com/token", "s6BhdRkqt3", Grant::ClientCredentials);
/// auth.client_secret = Some(Secret::new("7Fjfp0ZBr1KtDRbnfVdmIw"));
/// let at = "2024-12-02T21:11:37Z".parse().unwrap();
/// let mut cache = TokenCache::new();
/// let request = auth.token_request("crm", &cache, at)?;
/// // The host sends `request.request()` and reads the answer:
/// let body = br#"{"access_token": "2YotnFZFEjr1zCsicMWpAA", "token_type": "Bearer", "expires_in": 3600}"#;
/// cache.accept(&request, http::StatusCode::OK, body, at)?;
/// assert_eq!(cache.expires_at("crm"), Some("2024-12-02T22:11:37Z".parse().unwrap()));
/// let shared = cache.to_json();
/// assert_eq!(TokenCache::from_json(&shared)?, cache);
/// assert!(!format!("{cache:?}").contains("2YotnFZFEjr1zCsicMWpAA"));
/// # Ok::<(), callhook::Error>(())
/// ```
#[derive(Clone, PartialEq, Default, Serialize)]
pub struct TokenCache {
    tokens: BTreeMap<String, CachedToken>,
}

/// A cache as stored, before its tokens are checked: however it is read
/// (serde, [`TokenCache::from_json`]), a token that could not have been
/// accepted is refused, since it goes into headers.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    #[serde(default)]
    tokens: BTreeMap<String, CachedToken>,
}

/// What [`TokenCache::from_json`] says of a stored token it refuses.
const BAD_TOKEN: &str = "a token is empty, too long, or not printable ASCII";

impl<'de> Deserialize<'de> for TokenCache {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TokenCache, D::Error> {
        let stored = Stored::deserialize(deserializer)?;
        for token in stored.tokens.values() {
            let access = token.access_token.as_deref();
            if access.is_some_and(|t| super::text_problem(t, true).is_some())
                || token
                    .refresh_token
                    .as_deref()
                    .is_some_and(|t| super::text_problem(t, false).is_some())
            {
                return Err(serde::de::Error::custom(BAD_TOKEN));
            }
        }
        Ok(TokenCache {
            tokens: stored.tokens,
        })
    }
}

/// A token in a [`TokenCache`].
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CachedToken {
    /// The access token; none once invalidated, when only the refresh
    /// token is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    /// When the access token expires; none when the server did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
    /// When the response was read: the token's lifetime is from here to
    /// `expires_at`.
    received_at: DateTime<Utc>,
    /// A `refresh_token` grant's refresh token, rotated by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// [`OAuth2Auth::fingerprint`] of the entry it was made for.
    fingerprint: String,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(&self.tokens).finish()
    }
}

impl fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| REDACTED),
            )
            .field("expires_at", &self.expires_at)
            .field("received_at", &self.received_at)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| REDACTED),
            )
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl TokenCache {
    /// An empty cache.
    #[must_use]
    pub fn new() -> TokenCache {
        TokenCache::default()
    }

    /// How many entries it holds (an entry may hold only a refresh token,
    /// or nothing but the mark of an invalidated token).
    #[must_use]
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether it holds no entry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// When the access token kept under `key` expires, for a host that
    /// refreshes ahead of need; none when there is no access token or the
    /// server gave no `expires_in`.
    #[must_use]
    pub fn expires_at(&self, key: &str) -> Option<DateTime<Utc>> {
        let token = self.tokens.get(key)?;
        token.access_token.as_ref().and(token.expires_at)
    }

    /// Forgets the access token kept under `key`, as a receiver's 401
    /// asks: the next request of the entry fetches a new one. A rotated
    /// refresh token is kept, since the server may have issued no other.
    /// The entry stays, without its access token, so that
    /// [`TokenCache::merge`] carries the invalidation into a cache that
    /// still holds the token (removing it would leave the stale token
    /// there, to be refused again).
    pub fn invalidate(&mut self, key: &str) {
        if let Some(token) = self.tokens.get_mut(key) {
            token.access_token = None;
            token.expires_at = None;
        }
    }

    /// Forgets everything kept under `key`, the refresh token too.
    pub fn remove(&mut self, key: &str) {
        self.tokens.remove(key);
    }

    /// Takes in `newer`'s entries, each replacing ours unless ours was
    /// received later: how a host folds a cache one worker refreshed into
    /// the one it holds. Of two entries of the same response, the one
    /// invalidated ([`TokenCache::invalidate`]) stands, whichever cache
    /// holds it: a token a receiver refused is not brought back.
    pub fn merge(&mut self, newer: TokenCache) {
        for (key, token) in newer.tokens {
            match self.tokens.get(&key) {
                Some(ours)
                    if ours.received_at > token.received_at
                        || (ours.received_at == token.received_at
                            && ours.access_token.is_none()) => {}
                _ => {
                    self.tokens.insert(key, token);
                }
            }
        }
    }

    /// The access token kept under `key`, if it was made for `auth` as it
    /// is now and is not within its refresh margin at `at`: `auth`'s
    /// `refresh_before` seconds before expiry, or half the token's
    /// lifetime if that is shorter, so a short-lived token is still used
    /// rather than asked for again at every request.
    pub(crate) fn usable(&self, key: &str, auth: &OAuth2Auth, at: DateTime<Utc>) -> Option<&str> {
        self.usable_for(key, auth.cached_fingerprint(), auth.refresh_before, at)
    }

    /// [`TokenCache::usable`] for a caller that holds the entry's
    /// fingerprint already (a digest is a few hundred instructions).
    pub(crate) fn usable_for(
        &self,
        key: &str,
        fingerprint: &str,
        refresh_before: u32,
        at: DateTime<Utc>,
    ) -> Option<&str> {
        let token = self.tokens.get(key)?;
        let access = token.access_token.as_deref()?;
        if token.fingerprint != fingerprint {
            return None;
        }
        let Some(expires_at) = token.expires_at else {
            // The server gave no lifetime: the token serves until a
            // receiver refuses it, which invalidates it.
            return Some(access);
        };
        // The same comparison in integer nanoseconds, which saves 180
        // instructions a request over chrono's `TimeDelta` arithmetic.
        let expires_at = nanos(expires_at);
        let margin = (i128::from(refresh_before) * 1_000_000_000)
            .min((expires_at - nanos(token.received_at)) / 2);
        (nanos(at) < expires_at - margin).then_some(access)
    }

    /// The rotated refresh token kept under `key` for the entry of
    /// `fingerprint`.
    pub(crate) fn refresh_token(&self, key: &str, fingerprint: &str) -> Option<&str> {
        let token = self.tokens.get(key)?;
        if token.fingerprint != fingerprint {
            return None;
        }
        token.refresh_token.as_deref()
    }

    /// Reads the response to `request` (its status and body, received at
    /// `at`) and keeps its token under the request's key.
    ///
    /// A success is a JSON object (RFC 6749 §5.1) with the access token
    /// under the entry's `response_fields` names: `expires_in` as a
    /// number or a numeric string, from 1 to
    /// [`limits::TOKEN_LIFETIME_SECONDS`] (absent: the token serves until
    /// a receiver refuses it); `token_type`, if present, `Bearer` in any
    /// case when the token goes in `Authorization` (elsewhere the
    /// configuration says how it is presented, and it is not read). A
    /// `refresh_token` grant keeps the refresh token the server returns,
    /// or the one it had.
    ///
    /// # Errors
    ///
    /// An OAuth2 error response (RFC 6749 §5.2), or a status other than
    /// 2xx, is an error of kind [`ErrorKind::TokenRefused`] whose message
    /// gives the status and the server's `error` code (`invalid_client`,
    /// `invalid_grant`...) and description; `invalid_grant` on a refresh
    /// also forgets the cached refresh token, so the next request sends
    /// the configured one. A response past
    /// [`limits::TOKEN_RESPONSE_BYTES`], not a JSON object, with a field
    /// given twice, without an access token, with a token past
    /// [`limits::TOKEN_BYTES`] or holding other than printable ASCII
    /// (spaces neither, in an access token: it goes in a header), with an
    /// `expires_in` out of bounds or another token type is an error of
    /// kind [`ErrorKind::InvalidTokenResponse`]; nothing is kept. No
    /// message shows a token.
    pub fn accept(
        &mut self,
        request: &TokenRequest,
        status: http::StatusCode,
        body: &[u8],
        at: DateTime<Utc>,
    ) -> Result<(), Error> {
        let key = shown(&request.key);
        let invalid = |what: &str| {
            Error::new(
                ErrorKind::InvalidTokenResponse,
                format!("the token response for `{key}` {what}"),
            )
        };
        if body.len() > limits::TOKEN_RESPONSE_BYTES {
            if !status.is_success() {
                return Err(Error::new(
                    ErrorKind::TokenRefused,
                    format!(
                        "the token endpoint refused the token request for `{key}` with status {}",
                        status.as_u16()
                    ),
                ));
            }
            return Err(invalid(&format!(
                "is larger than {} bytes (`limits::TOKEN_RESPONSE_BYTES`)",
                limits::count(limits::TOKEN_RESPONSE_BYTES)
            )));
        }
        let fields = &request.fields;
        let names = [
            fields.access_token.as_str(),
            fields.expires_in.as_str(),
            fields.refresh_token.as_str(),
            fields.token_type.as_str(),
            "error",
            "error_description",
        ];
        let read = read_fields(body, &names);
        let error_code = read.as_ref().ok().and_then(|found| found[4].as_ref());
        if !status.is_success() || error_code.is_some() {
            let mut message = format!(
                "the token endpoint refused the token request for `{key}` with status {}",
                status.as_u16()
            );
            let mut code = None;
            if let Ok(found) = &read {
                if let Some(serde_json::Value::String(error)) = &found[4] {
                    let error = printable(error);
                    message.push_str(&format!(": `{error}`"));
                    code = Some(error);
                }
                if let Some(serde_json::Value::String(description)) = &found[5] {
                    message.push_str(&format!(" ({})", printable(description)));
                }
            }
            if request.refresh && code.as_deref() == Some("invalid_grant") {
                // RFC 6749 §5.2: the refresh token is invalid, expired or
                // revoked; sending it again cannot work.
                if let Some(token) = self.tokens.get_mut(&request.key) {
                    token.refresh_token = None;
                    if token.access_token.is_none() {
                        self.tokens.remove(&request.key);
                    }
                }
            }
            return Err(Error::new(ErrorKind::TokenRefused, message));
        }
        let found = read.map_err(&invalid)?;
        let access_token = match &found[0] {
            Some(serde_json::Value::String(token)) => token,
            Some(_) => {
                return Err(invalid(&format!(
                    "has an `{}` that is not text",
                    shown(&fields.access_token)
                )))
            }
            None => {
                return Err(invalid(&format!(
                    "has no `{}`",
                    shown(&fields.access_token)
                )))
            }
        };
        if let Some(problem) = super::text_problem(access_token, true) {
            return Err(invalid(&format!("has an access token that {problem}")));
        }
        let expires_in = match &found[1] {
            None | Some(serde_json::Value::Null) => None,
            Some(value) => Some(lifetime(value).ok_or_else(|| {
                invalid(&format!(
                    "has an `{}` that is not a whole number of seconds from 1 to {} \
                     (`limits::TOKEN_LIFETIME_SECONDS`)",
                    shown(&fields.expires_in),
                    limits::count(limits::TOKEN_LIFETIME_SECONDS as usize)
                ))
            })?),
        };
        let refresh_token = match &found[2] {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(token)) => {
                if let Some(problem) = super::text_problem(token, false) {
                    return Err(invalid(&format!("has a refresh token that {problem}")));
                }
                Some(token.clone())
            }
            Some(_) => {
                return Err(invalid(&format!(
                    "has a `{}` that is not text",
                    shown(&fields.refresh_token)
                )))
            }
        };
        match &found[3] {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(kind))
                if !request.bearer || kind.eq_ignore_ascii_case("bearer") => {}
            Some(_) => {
                return Err(invalid(&format!(
                    "has a `{}` other than `Bearer`, which an `Authorization` header cannot \
                     carry as callhook places it",
                    shown(&fields.token_type)
                )))
            }
        }
        let expires_at = match expires_in {
            Some(seconds) => Some(
                // Bounded by `TOKEN_LIFETIME_SECONDS`, so only a time near
                // the end of chrono's range can overflow.
                at.checked_add_signed(TimeDelta::seconds(seconds as i64))
                    .ok_or_else(|| invalid("expires past the dates callhook can hold"))?,
            ),
            None => None,
        };
        let refresh_token = if request.refresh {
            // RFC 6749 §6: a server that issues no new refresh token lets
            // the client keep the one it has.
            refresh_token.or_else(|| {
                self.refresh_token(&request.key, &request.fingerprint)
                    .map(str::to_owned)
            })
        } else {
            None
        };
        self.tokens.insert(
            request.key.clone(),
            CachedToken {
                access_token: Some(access_token.clone()),
                expires_at,
                received_at: at,
                refresh_token,
                fingerprint: request.fingerprint.clone(),
            },
        );
        Ok(())
    }

    /// The cache as JSON, to store where the host's workers share it. It
    /// holds the tokens themselves: keep it as private as the secrets.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Text, dates and maps keyed by text: serde_json cannot fail.
        serde_json::to_string(self).expect("a token cache is always JSON")
    }

    /// Reads a cache written by [`TokenCache::to_json`].
    ///
    /// # Errors
    ///
    /// Text that is not a token cache, or one holding a token that
    /// [`TokenCache::accept`] would refuse, is an error of kind
    /// [`ErrorKind::InvalidTokenResponse`]. Its message shows no value:
    /// the text holds tokens.
    pub fn from_json(text: &str) -> Result<TokenCache, Error> {
        let refused = |what: &str| {
            Error::new(
                ErrorKind::InvalidTokenResponse,
                format!("the text is not a stored token cache: {what}"),
            )
        };
        serde_json::from_str(text).map_err(|e| {
            refused(match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                    "it is not valid JSON"
                }
                serde_json::error::Category::Eof => "it ends before the cache does",
                // serde_json's message may quote a value; only ours is
                // shown.
                serde_json::error::Category::Data if e.to_string().starts_with(BAD_TOKEN) => {
                    BAD_TOKEN
                }
                serde_json::error::Category::Data => {
                    "a field is missing, unknown, or of the wrong type"
                }
            })
        })
    }
}

/// Text from a server as a message shows it: printable ASCII (anything
/// else as `?`), cut short, so a hostile response cannot forge log lines.
fn printable(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect();
    shown(&cleaned).into_owned()
}

/// `expires_in` as seconds: a whole number or numeric text, from 1 to
/// [`limits::TOKEN_LIFETIME_SECONDS`].
fn lifetime(value: &serde_json::Value) -> Option<u64> {
    let seconds = match value {
        serde_json::Value::Number(n) => n.as_u64()?,
        // Some servers write it as text (`"3600"`).
        serde_json::Value::String(text)
            if text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit()) =>
        {
            text.parse().ok()?
        }
        _ => return None,
    };
    (1..=limits::TOKEN_LIFETIME_SECONDS)
        .contains(&seconds)
        .then_some(seconds)
}

/// The values of `names` in a JSON object, in their order; other fields
/// are skipped without being kept. A name given twice is refused: which
/// of two access tokens a server meant cannot be known, and parsers that
/// disagree on it are how responses are smuggled.
fn read_fields(
    body: &[u8],
    names: &[&str; 6],
) -> Result<[Option<serde_json::Value>; 6], &'static str> {
    struct Fields<'a>(&'a [&'a str; 6]);
    impl<'de> Visitor<'de> for Fields<'_> {
        type Value = [Option<serde_json::Value>; 6];
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found: [Option<serde_json::Value>; 6] = Default::default();
            while let Some(name) = map.next_key::<String>()? {
                // The same name may be mapped to two fields (an odd
                // mapping); each gets the value.
                let slots: Vec<usize> = (0..6).filter(|&i| self.0[i] == name).collect();
                if slots.is_empty() {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                if found[slots[0]].is_some() {
                    return Err(serde::de::Error::custom("duplicate"));
                }
                let value: serde_json::Value = map.next_value()?;
                for slot in slots {
                    found[slot] = Some(value.clone());
                }
            }
            Ok(found)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let found = de.deserialize_map(Fields(names)).map_err(|e| {
        if e.to_string().starts_with("duplicate") {
            "gives a field twice"
        } else {
            "is not a JSON object"
        }
    })?;
    de.end().map_err(|_| "is not a JSON object")?;
    Ok(found)
}

/// `at` in nanoseconds since the Unix epoch, for any time chrono holds.
fn nanos(at: DateTime<Utc>) -> i128 {
    i128::from(at.timestamp()) * 1_000_000_000 + i128::from(at.timestamp_subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::super::request::tests::{at, rfc_client};
    use super::*;
    use crate::secret::Secret;
    use crate::{Grant, TokenPlacement};
    use http::StatusCode;

    const RFC_5_1: &[u8] = br#"{
       "access_token":"2YotnFZFEjr1zCsicMWpAA",
       "token_type":"example",
       "expires_in":3600,
       "refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA",
       "example_parameter":"example_value"
     }"#;

    fn refresh_client() -> OAuth2Auth {
        rfc_client(Grant::RefreshToken {
            refresh_token: Secret::new("tGzv3JOkF0XG5Qx2TlKWIA"),
        })
    }

    fn after(seconds: i64) -> DateTime<Utc> {
        at() + TimeDelta::seconds(seconds)
    }

    fn accept(
        auth: &OAuth2Auth,
        status: StatusCode,
        body: &[u8],
    ) -> (TokenCache, Result<(), Error>) {
        let mut cache = TokenCache::new();
        let request = auth.token_request("crm", &cache, at()).unwrap();
        let result = cache.accept(&request, status, body, at());
        (cache, result)
    }

    #[test]
    fn rfc_6749_5_1_response_is_kept_with_its_expiry() {
        // RFC 6749's example type is `example`: fine where the token goes
        // in a query parameter, refused for `Authorization`.
        let mut auth = refresh_client();
        auth.add_to = TokenPlacement::Query {
            param: "access_token".into(),
        };
        let (cache, result) = accept(&auth, StatusCode::OK, RFC_5_1);
        result.unwrap();
        assert_eq!(
            cache.usable("crm", &auth, at()),
            Some("2YotnFZFEjr1zCsicMWpAA")
        );
        assert_eq!(cache.expires_at("crm"), Some(after(3600)));
        // Refreshed `refresh_before` (60) seconds before expiry.
        assert!(cache.usable("crm", &auth, after(3539)).is_some());
        assert!(cache.usable("crm", &auth, after(3540)).is_none());
        // To the nanosecond: the last instant before the margin serves.
        let nano = TimeDelta::nanoseconds(1);
        assert!(cache.usable("crm", &auth, after(3540) - nano).is_some());
        assert!(cache.usable("crm", &auth, after(3540) + nano).is_none());
        assert_eq!(cache.len(), 1);

        let (cache, result) = accept(&refresh_client(), StatusCode::OK, RFC_5_1);
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidTokenResponse);
        assert!(err.to_string().contains("other than `Bearer`"), "{err}");
        assert!(cache.is_empty(), "nothing is kept from a refused response");
        let bearer = String::from_utf8_lossy(RFC_5_1).replace("example\"", "BEARER\"");
        let (cache, result) = accept(&refresh_client(), StatusCode::OK, bearer.as_bytes());
        result.unwrap();
        assert!(cache.usable("crm", &refresh_client(), at()).is_some());
    }

    #[test]
    fn rfc_6749_5_2_error_response_is_refused_with_its_code() {
        let (cache, result) = accept(
            &refresh_client(),
            StatusCode::BAD_REQUEST,
            br#"{"error":"invalid_request","error_description":"the request is missing a parameter\r\nInjected: yes"}"#,
        );
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TokenRefused);
        let message = err.to_string();
        assert!(
            message.contains("status 400: `invalid_request`"),
            "{message}"
        );
        assert!(
            !message.contains('\n') && !message.contains('\r'),
            "{message}"
        );
        assert!(cache.is_empty());
        // An error in a 200, and a status without a readable body.
        let (_, result) = accept(
            &refresh_client(),
            StatusCode::OK,
            br#"{"error":"invalid_client"}"#,
        );
        assert_eq!(result.unwrap_err().kind(), ErrorKind::TokenRefused);
        let (_, result) = accept(
            &refresh_client(),
            StatusCode::BAD_GATEWAY,
            b"<html>bad gateway</html>",
        );
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TokenRefused);
        assert!(err.to_string().contains("status 502"), "{err}");
    }

    #[test]
    fn invalid_grant_on_a_refresh_drops_the_rotated_refresh_token() {
        let auth = refresh_client();
        let mut cache = TokenCache::new();
        let request = auth.token_request("crm", &cache, at()).unwrap();
        let body = br#"{"access_token":"a1","token_type":"Bearer","expires_in":3600,"refresh_token":"rotated-1"}"#;
        cache.accept(&request, StatusCode::OK, body, at()).unwrap();
        // A response with no new refresh token keeps the rotated one.
        let request = auth.token_request("crm", &cache, at()).unwrap();
        assert!(std::str::from_utf8(request.request().body())
            .unwrap()
            .ends_with("rotated-1"));
        cache
            .accept(
                &request,
                StatusCode::OK,
                br#"{"access_token":"a2","expires_in":3600}"#,
                after(10),
            )
            .unwrap();
        assert_eq!(
            cache.refresh_token("crm", &auth.fingerprint()),
            Some("rotated-1")
        );
        assert_eq!(cache.usable("crm", &auth, after(10)), Some("a2"));
        let request = auth.token_request("crm", &cache, after(20)).unwrap();
        let err = cache
            .accept(
                &request,
                StatusCode::BAD_REQUEST,
                br#"{"error":"invalid_grant"}"#,
                after(20),
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TokenRefused);
        assert!(err.to_string().contains("`invalid_grant`"));
        assert_eq!(cache.refresh_token("crm", &auth.fingerprint()), None);
        let request = auth.token_request("crm", &cache, after(20)).unwrap();
        assert!(std::str::from_utf8(request.request().body())
            .unwrap()
            .ends_with("tGzv3JOkF0XG5Qx2TlKWIA"));
        // The access token still serves until it expires or is refused.
        assert_eq!(cache.usable("crm", &auth, after(20)), Some("a2"));
    }

    #[test]
    fn hostile_responses_are_refused_cleanly() {
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(30_000), "]".repeat(30_000));
        let huge = format!(
            "{{\"access_token\":\"{}\"}}",
            "a".repeat(limits::TOKEN_RESPONSE_BYTES)
        );
        let long_token = format!(
            "{{\"access_token\":\"{}\"}}",
            "a".repeat(limits::TOKEN_BYTES + 1)
        );
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("huge", huge.into_bytes()),
            ("deeply nested", deep.into_bytes()),
            ("not UTF-8", b"{\"access_token\":\"a\xff\xfe\"}".to_vec()),
            (
                "CR LF in the token",
                br#"{"access_token":"a\r\nX-Evil: 1"}"#.to_vec(),
            ),
            (
                "a space in the token",
                br#"{"access_token":"a b"}"#.to_vec(),
            ),
            ("an empty token", br#"{"access_token":""}"#.to_vec()),
            ("a long token", long_token.into_bytes()),
            (
                "a token that is a number",
                br#"{"access_token":12}"#.to_vec(),
            ),
            ("no token", br#"{"token_type":"bearer"}"#.to_vec()),
            (
                "negative expires_in",
                br#"{"access_token":"a","expires_in":-1}"#.to_vec(),
            ),
            (
                "zero expires_in",
                br#"{"access_token":"a","expires_in":0}"#.to_vec(),
            ),
            (
                "huge expires_in",
                br#"{"access_token":"a","expires_in":18446744073709551615}"#.to_vec(),
            ),
            (
                "a year and more",
                br#"{"access_token":"a","expires_in":31622401}"#.to_vec(),
            ),
            (
                "float expires_in",
                br#"{"access_token":"a","expires_in":1e300}"#.to_vec(),
            ),
            (
                "text expires_in",
                br#"{"access_token":"a","expires_in":"soon"}"#.to_vec(),
            ),
            (
                "duplicate tokens",
                br#"{"access_token":"a","access_token":"b"}"#.to_vec(),
            ),
            (
                "duplicate expiry",
                br#"{"access_token":"a","expires_in":60,"expires_in":6000}"#.to_vec(),
            ),
            ("an array", br#"[{"access_token":"a"}]"#.to_vec()),
            (
                "trailing bytes",
                br#"{"access_token":"a"} {"access_token":"b"}"#.to_vec(),
            ),
            ("empty", Vec::new()),
            (
                "a refresh token with LF",
                br#"{"access_token":"a","refresh_token":"r\n"}"#.to_vec(),
            ),
        ];
        for (what, body) in cases {
            let (cache, result) = accept(&refresh_client(), StatusCode::OK, &body);
            let err = result.expect_err(what);
            assert_eq!(err.kind(), ErrorKind::InvalidTokenResponse, "{what}: {err}");
            assert!(cache.is_empty(), "{what}");
            assert!(err.to_string().len() < 300, "{what}: {err}");
        }
    }

    #[test]
    fn lenient_where_servers_differ() {
        for body in [
            &br#"{"access_token":"a","expires_in":"3600"}"#[..],
            br#"{"access_token":"a","expires_in":3600,"token_type":"bearer","refresh_token":null}"#,
            br#"{"access_token":"a","expires_in":3600,"x":{"y":[1,2,{"access_token":"nested, ignored"}]}}"#,
        ] {
            let (cache, result) = accept(&refresh_client(), StatusCode::OK, body);
            result.unwrap();
            assert_eq!(cache.expires_at("crm"), Some(after(3600)));
            assert_eq!(cache.usable("crm", &refresh_client(), at()), Some("a"));
        }
    }

    #[test]
    fn mapped_field_names() {
        let mut auth = refresh_client();
        auth.response_fields.access_token = "accessToken".into();
        auth.response_fields.expires_in = "expiresIn".into();
        let (cache, result) = accept(
            &auth,
            StatusCode::OK,
            br#"{"accessToken":"m1","expiresIn":"120","access_token":"other"}"#,
        );
        result.unwrap();
        assert_eq!(cache.usable("crm", &auth, at()), Some("m1"));
        assert_eq!(cache.expires_at("crm"), Some(after(120)));
    }

    #[test]
    fn an_edited_entry_is_not_served_an_old_token() {
        let auth = refresh_client();
        let (cache, result) = accept(
            &auth,
            StatusCode::OK,
            br#"{"access_token":"a","expires_in":3600}"#,
        );
        result.unwrap();
        let mut edited = auth.clone();
        edited.client_secret = Some(Secret::new("rotated secret"));
        edited.refresh_before = 120;
        assert_eq!(
            cache.usable("crm", &edited, at()),
            Some("a"),
            "a rotated client secret keeps the token"
        );
        for edit in [
            |a: &mut OAuth2Auth| a.token_url = "https://other.example.com/token".into(),
            |a: &mut OAuth2Auth| a.client_id = "someone".into(),
            |a: &mut OAuth2Auth| a.scope = Some("more".into()),
            |a: &mut OAuth2Auth| a.grant = Grant::ClientCredentials,
            |a: &mut OAuth2Auth| {
                a.parameters = vec![crate::TokenParameter::new("audience", Secret::new("x"))]
            },
        ] {
            let mut edited = auth.clone();
            edit(&mut edited);
            assert_eq!(cache.usable("crm", &edited, at()), None);
        }
        assert_eq!(cache.usable("billing", &auth, at()), None);
    }

    #[test]
    fn a_short_lived_token_is_used_for_half_its_life() {
        let (cache, result) = accept(
            &refresh_client(),
            StatusCode::OK,
            br#"{"access_token":"a","expires_in":60}"#,
        );
        result.unwrap();
        assert!(cache.usable("crm", &refresh_client(), after(29)).is_some());
        assert!(cache.usable("crm", &refresh_client(), after(30)).is_none());
        // No lifetime given: served until invalidated.
        let (mut cache, result) = accept(
            &refresh_client(),
            StatusCode::OK,
            br#"{"access_token":"a"}"#,
        );
        result.unwrap();
        assert_eq!(cache.expires_at("crm"), None);
        assert!(cache
            .usable("crm", &refresh_client(), after(10_000_000))
            .is_some());
        cache.invalidate("crm");
        assert_eq!(cache.usable("crm", &refresh_client(), at()), None);
        // Kept without its token, for a merge to carry.
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn an_invalidation_survives_a_merge_either_way() {
        // A token with no lifetime, which only an invalidation ends.
        let auth = refresh_client();
        let (stored, result) = accept(&auth, StatusCode::OK, br#"{"access_token":"stale"}"#);
        result.unwrap();
        let mut worker = stored.clone();
        worker.invalidate("crm");
        // The worker's copy folded into the stored cache.
        let mut merged = stored.clone();
        merged.merge(worker.clone());
        assert_eq!(merged.usable("crm", &auth, after(1)), None);
        // And a copy that still holds the token folded into the
        // invalidated one does not bring it back.
        let mut again = merged.clone();
        again.merge(stored.clone());
        assert_eq!(again.usable("crm", &auth, after(1)), None);
        // The invalidated entry is stored and read back as one, in a
        // form an older reader loads (no new field).
        let json = merged.to_json();
        assert!(!json.contains("stale"));
        assert_eq!(TokenCache::from_json(&json).unwrap(), merged);
        // A token received later than the invalidation replaces it.
        let mut fresh = TokenCache::new();
        let request = auth.token_request("crm", &fresh, after(2)).unwrap();
        fresh
            .accept(
                &request,
                StatusCode::OK,
                br#"{"access_token":"fresh"}"#,
                after(2),
            )
            .unwrap();
        again.merge(fresh);
        assert_eq!(again.usable("crm", &auth, after(3)), Some("fresh"));
    }

    #[test]
    fn invalidating_keeps_the_refresh_token() {
        let auth = refresh_client();
        let (mut cache, result) = accept(
            &auth,
            StatusCode::OK,
            br#"{"access_token":"a","refresh_token":"r2","expires_in":600}"#,
        );
        result.unwrap();
        cache.invalidate("crm");
        assert_eq!(cache.usable("crm", &auth, at()), None);
        assert_eq!(cache.expires_at("crm"), None);
        assert_eq!(cache.refresh_token("crm", &auth.fingerprint()), Some("r2"));
        cache.remove("crm");
        assert!(cache.is_empty());
    }

    #[test]
    fn merge_keeps_the_later_token() {
        let auth = refresh_client();
        let mut old = TokenCache::new();
        let request = auth.token_request("crm", &old, at()).unwrap();
        old.accept(&request, StatusCode::OK, br#"{"access_token":"old"}"#, at())
            .unwrap();
        let mut new = TokenCache::new();
        new.accept(
            &request,
            StatusCode::OK,
            br#"{"access_token":"new"}"#,
            after(5),
        )
        .unwrap();
        let mut ours = old.clone();
        ours.merge(new.clone());
        assert_eq!(ours.usable("crm", &auth, after(5)), Some("new"));
        let mut theirs = new;
        theirs.merge(old);
        assert_eq!(theirs.usable("crm", &auth, after(5)), Some("new"));
    }

    #[test]
    fn json_round_trip_and_debug_redacts() {
        let auth = refresh_client();
        let (cache, result) = accept(&auth, StatusCode::OK, br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","expires_in":3600,"refresh_token":"rotated-9"}"#);
        result.unwrap();
        let json = cache.to_json();
        let back = TokenCache::from_json(&json).unwrap();
        assert_eq!(back, cache);
        assert_eq!(
            back.usable("crm", &auth, at()),
            Some("2YotnFZFEjr1zCsicMWpAA")
        );
        assert_eq!(TokenCache::from_json("{}").unwrap(), TokenCache::new());
        let shown = format!("{cache:?}");
        assert!(
            !shown.contains("2YotnFZFEjr1zCsicMWpAA") && !shown.contains("rotated-9"),
            "{shown}"
        );
        assert!(shown.contains(REDACTED) && shown.contains("crm"), "{shown}");
        for bad in [
            json.replace("2YotnFZFEjr1zCsicMWpAA", "a\\r\\nb"),
            json.replace("rotated-9", ""),
            json.replace("2YotnFZFEjr1zCsicMWpAA", "a b"),
            json.replace("\"tokens\"", "\"tokenz\""),
            "42".to_owned(),
            "{\"tokens\":".to_owned(),
        ] {
            let err = TokenCache::from_json(&bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidTokenResponse);
            assert!(
                serde_json::from_str::<TokenCache>(&bad).is_err(),
                "serde refuses it too"
            );
            assert!(!err.to_string().contains("2YotnFZFEjr1zCsicMWpAA"), "{err}");
        }
    }
}
