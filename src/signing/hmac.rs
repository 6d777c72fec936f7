//! Configurable HMAC schemes: a header, a message pattern, a hash and an
//! encoding, covering Convoy's, Zoom's and GitHub's shapes.

use std::fmt;

use base64::engine::general_purpose;
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use http::header::{HeaderMap, HeaderName};
use sha2::{Sha256, Sha512};

use super::{
    check_fresh, constant_time_eq, decode_hex, header_text, hmac_sha256, parse_timestamp, push_hex,
    signature_error, LENIENT_BASE64,
};
use crate::error::Error;
#[cfg(doc)]
use crate::error::ErrorKind;
use crate::limits::SIGNATURES;

/// The hash of an HMAC scheme, keyed once and cloned for each message.
#[derive(Clone)]
enum HmacKey {
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

/// One piece of a signed message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Id,
    Timestamp,
    Body,
}

/// A tag of either hash, held inline.
struct Tag {
    bytes: [u8; 64],
    len: usize,
}

impl Tag {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl HmacKey {
    fn new(secret: &[u8], sha512: bool) -> HmacKey {
        if sha512 {
            HmacKey::Sha512(
                <Hmac<Sha512> as Mac>::new_from_slice(secret)
                    .expect("HMAC accepts keys of any length"),
            )
        } else {
            HmacKey::Sha256(hmac_sha256(secret))
        }
    }

    fn tag(&self, message: &[Piece], id: &str, timestamp: i64, body: &[u8]) -> Tag {
        fn feed<M: Mac>(mac: &mut M, message: &[Piece], id: &str, timestamp: i64, body: &[u8]) {
            for piece in message {
                match piece {
                    Piece::Text(text) => mac.update(text.as_bytes()),
                    Piece::Id => mac.update(id.as_bytes()),
                    Piece::Timestamp => {
                        mac.update(itoa::Buffer::new().format(timestamp).as_bytes())
                    }
                    Piece::Body => mac.update(body),
                }
            }
        }
        let mut tag = Tag {
            bytes: [0; 64],
            len: 0,
        };
        match self {
            HmacKey::Sha256(keyed) => {
                let mut mac = keyed.clone();
                feed(&mut mac, message, id, timestamp, body);
                tag.bytes[..32].copy_from_slice(&mac.finalize().into_bytes());
                tag.len = 32;
            }
            HmacKey::Sha512(keyed) => {
                let mut mac = keyed.clone();
                feed(&mut mac, message, id, timestamp, body);
                tag.bytes.copy_from_slice(&mac.finalize().into_bytes());
                tag.len = 64;
            }
        }
        tag
    }
}

/// How an HMAC scheme is laid out, as its configuration
/// ([`HmacSigning`](crate::HmacSigning)) says once presets are applied.
pub(crate) struct HmacLayout<'a> {
    pub(crate) header: &'a str,
    pub(crate) message: &'a str,
    pub(crate) pairs: bool,
    pub(crate) prefix: &'a str,
    pub(crate) timestamp_header: Option<&'a str>,
    pub(crate) id_header: Option<&'a str>,
    pub(crate) sha512: bool,
    pub(crate) base64: bool,
}

/// A configurable HMAC signature scheme with its secrets, ready to sign and
/// verify: Convoy's simple and advanced forms, Zoom's, GitHub's, and any
/// other of their shapes. Made from its configuration by
/// [`HmacSigning::scheme`](crate::HmacSigning::scheme), so a receiver
/// verifies with the very setting a sender signs with.
///
/// The signed message is the configuration's `message` with `{id}`,
/// `{timestamp}` (Unix seconds) and `{body}` (the exact body bytes) put in.
/// The signature header holds either the signature alone, after a prefix
/// (`sha256=…`, `v0=…`), or (`"layout": "pairs"`) comma-separated pairs,
/// `t=<timestamp>` and one `<prefix><signature>` per secret
/// (`t=1700000000,v1=…,v1=…`), read in any order.
#[derive(Clone)]
pub struct HmacScheme {
    header: HeaderName,
    message: Vec<Piece>,
    pairs: bool,
    prefix: String,
    timestamp_header: Option<HeaderName>,
    id_header: Option<HeaderName>,
    base64: bool,
    keys: Vec<HmacKey>,
}

impl fmt::Debug for HmacScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacScheme")
            .field("header", &self.header)
            .field("message", &self.message)
            .field("pairs", &self.pairs)
            .field("prefix", &self.prefix)
            .field("timestamp_header", &self.timestamp_header)
            .field("id_header", &self.id_header)
            .field("base64", &self.base64)
            .field("keys", &format_args!("[{} redacted]", self.keys.len()))
            .finish()
    }
}

impl PartialEq for HmacScheme {
    /// Schemes are equal when they are laid out alike and their keys sign
    /// alike.
    fn eq(&self, other: &HmacScheme) -> bool {
        let tags = |scheme: &HmacScheme| -> Vec<Vec<u8>> {
            let empty = [Piece::Body];
            scheme
                .keys
                .iter()
                .map(|key| key.tag(&empty, "", 0, b"").as_slice().to_vec())
                .collect()
        };
        self.header == other.header
            && self.message == other.message
            && self.pairs == other.pairs
            && self.prefix == other.prefix
            && self.timestamp_header == other.timestamp_header
            && self.id_header == other.id_header
            && self.base64 == other.base64
            && tags(self) == tags(other)
    }
}

fn header_name(name: &str, field: &str) -> Result<HeaderName, Error> {
    HeaderName::try_from(name)
        .map_err(|_| signature_error(format!("`{field}` is not a header name: `{name}`")))
}

impl HmacScheme {
    /// Compiles a layout and its secrets, refusing any that could not be
    /// signed or verified.
    pub(crate) fn new<'s>(
        layout: &HmacLayout<'_>,
        secrets: impl IntoIterator<Item = &'s str>,
    ) -> Result<HmacScheme, Error> {
        let message = parse_message(layout.message)?;
        let signs = |piece: Piece| message.contains(&piece);
        if !signs(Piece::Body) {
            return Err(signature_error("`message` must sign the `{body}`"));
        }
        if layout.pairs && layout.timestamp_header.is_some() {
            return Err(signature_error(
                "`timestamp_header` is for the `plain` layout: the `pairs` layout carries \
                 the timestamp as `t=`",
            ));
        }
        if signs(Piece::Timestamp) != (layout.pairs || layout.timestamp_header.is_some()) {
            return Err(signature_error(if signs(Piece::Timestamp) {
                "`message` signs the `{timestamp}`: set `timestamp_header`, or use the \
                 `pairs` layout, so the receiver has it"
            } else {
                "the timestamp sent is not signed: put `{timestamp}` in `message`"
            }));
        }
        if signs(Piece::Id) != layout.id_header.is_some() {
            return Err(signature_error(if signs(Piece::Id) {
                "`message` signs the `{id}`: set `id_header`, so the receiver has it"
            } else {
                "the id sent is not signed: put `{id}` in `message`, or drop `id_header`"
            }));
        }
        if layout.pairs && (layout.prefix.contains(',') || !layout.prefix.ends_with('=')) {
            return Err(signature_error(
                "in the `pairs` layout, `prefix` is a signature's key and `=` (`v1=`), \
                 without a comma",
            ));
        }
        if layout.pairs && layout.prefix == "t=" {
            return Err(signature_error(
                "`t=` is the timestamp's key, not a signature's",
            ));
        }
        let keys = secrets
            .into_iter()
            .enumerate()
            .map(|(i, secret)| {
                if secret.is_empty() {
                    return Err(signature_error(format!("secret {i} is empty")));
                }
                Ok(HmacKey::new(secret.as_bytes(), layout.sha512))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(signature_error("give at least one secret"));
        }
        if keys.len() > SIGNATURES {
            return Err(signature_error(format!(
                "{} secrets; a scheme has at most {SIGNATURES} (`limits::SIGNATURES`)",
                keys.len()
            )));
        }
        Ok(HmacScheme {
            header: header_name(layout.header, "header")?,
            message,
            pairs: layout.pairs,
            prefix: layout.prefix.to_owned(),
            timestamp_header: layout
                .timestamp_header
                .map(|name| header_name(name, "timestamp_header"))
                .transpose()?,
            id_header: layout
                .id_header
                .map(|name| header_name(name, "id_header"))
                .transpose()?,
            base64: layout.base64,
            keys,
        })
    }

    /// Whether the message signs a timestamp: verify such a scheme with
    /// [`HmacScheme::verify_at`], any other with [`HmacScheme::verify`].
    #[must_use]
    pub fn is_timed(&self) -> bool {
        self.message.contains(&Piece::Timestamp)
    }

    /// How many signatures a request carries: one per secret in the
    /// `pairs` layout, the first secret's alone in the `plain` one.
    pub(crate) fn plain_with_several(&self) -> bool {
        !self.pairs && self.keys.len() > 1
    }

    /// The headers signing writes: the signature's, and the timestamp's and
    /// id's when they have their own.
    pub(crate) fn headers(&self) -> Vec<&str> {
        let mut names = vec![self.header.as_str()];
        names.extend(self.timestamp_header.as_ref().map(HeaderName::as_str));
        names.extend(self.id_header.as_ref().map(HeaderName::as_str));
        names
    }

    /// The headers of delivery `id` at `timestamp`: name and value each.
    pub(crate) fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<(HeaderName, String)> {
        let mut value = String::with_capacity(16 + self.keys.len() * (self.prefix.len() + 129));
        if self.pairs {
            value.push_str("t=");
            value.push_str(itoa::Buffer::new().format(timestamp));
        }
        // The `plain` layout has room for one signature: the first
        // secret's (a sender compiles only one).
        let keys = if self.pairs {
            &self.keys[..]
        } else {
            &self.keys[..1]
        };
        for key in keys {
            if self.pairs {
                value.push(',');
            }
            value.push_str(&self.prefix);
            let tag = key.tag(&self.message, id, timestamp, body);
            if self.base64 {
                general_purpose::STANDARD.encode_string(tag.as_slice(), &mut value);
            } else {
                push_hex(&mut value, tag.as_slice());
            }
        }
        let mut headers = vec![(self.header.clone(), value)];
        if let Some(name) = &self.timestamp_header {
            headers.push((name.clone(), timestamp.to_string()));
        }
        if let Some(name) = &self.id_header {
            headers.push((name.clone(), id.to_owned()));
        }
        headers
    }

    /// Verifies a request of a scheme that signs no timestamp (Convoy's
    /// simple form, GitHub's): any signature matching any secret passes.
    ///
    /// # Errors
    ///
    /// A scheme that signs a timestamp (use [`HmacScheme::verify_at`]), a
    /// missing or malformed header, or no matching signature is an error
    /// of kind [`ErrorKind::Signature`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{HmacPreset, HmacSigning, Secret};
    /// use http::HeaderMap;
    ///
    /// let scheme = HmacSigning::from_preset(HmacPreset::Github, vec![Secret::new("It's a Secret to Everybody")])
    ///     .scheme()?;
    /// let mut headers = HeaderMap::new();
    /// headers.insert(
    ///     "x-hub-signature-256",
    ///     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".parse().unwrap(),
    /// );
    /// scheme.verify(&headers, b"Hello, World!")?;
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Error> {
        if self.is_timed() {
            return Err(signature_error(
                "the scheme signs a timestamp: verify with `HmacScheme::verify_at`",
            ));
        }
        self.check(headers, body, None)
    }

    /// Verifies a request of a scheme that signs a timestamp (Convoy's
    /// advanced form, Zoom's), which must be within `tolerance` of `now`
    /// either way: any signature matching any secret passes.
    ///
    /// # Errors
    ///
    /// A scheme that signs no timestamp (use [`HmacScheme::verify`]), a
    /// missing or malformed header, a timestamp outside the tolerance,
    /// more than [`SIGNATURES`] signatures, or no matching signature is an
    /// error of kind [`ErrorKind::Signature`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{HmacPreset, HmacSigning, Secret};
    /// use chrono::{DateTime, TimeDelta};
    /// use http::HeaderMap;
    ///
    /// let scheme = HmacSigning::from_preset(HmacPreset::ConvoyAdvanced, vec![Secret::new("convoy-webhook-secret")])
    ///     .scheme()?;
    /// let mut headers = HeaderMap::new();
    /// headers.insert(
    ///     "x-convoy-signature",
    ///     "t=1700000000,v1=77b8b9269f25a199846a55a2bd25b3fba151c70fdae60bb1dcd87fbbc943c55c"
    ///         .parse()
    ///         .unwrap(),
    /// );
    /// let body = br#"{"event":"charge.success","amount":1000,"currency":"NGN"}"#;
    /// let now = DateTime::from_timestamp(1700000060, 0).unwrap();
    /// scheme.verify_at(&headers, body, now, TimeDelta::minutes(5))?;
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
        tolerance: TimeDelta,
    ) -> Result<(), Error> {
        if !self.is_timed() {
            return Err(signature_error(
                "the scheme signs no timestamp: verify with `HmacScheme::verify`",
            ));
        }
        self.check(headers, body, Some((now, tolerance)))
    }

    fn check(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        fresh: Option<(DateTime<Utc>, TimeDelta)>,
    ) -> Result<(), Error> {
        let value = header_text(headers, self.header.as_str())?;
        let id = match &self.id_header {
            Some(name) => header_text(headers, name.as_str())?,
            None => "",
        };
        let mut timestamp = None;
        let mut candidates = Vec::new();
        if self.pairs {
            for item in value.split(',').map(str::trim) {
                if let Some(t) = item.strip_prefix("t=") {
                    if timestamp.is_some() {
                        return Err(signature_error(format!(
                            "`{}` holds two timestamps",
                            self.header
                        )));
                    }
                    timestamp = Some(parse_timestamp(t).ok_or_else(|| {
                        signature_error(format!("`{}`'s `t=` is not a timestamp", self.header))
                    })?);
                } else if let Some(signature) = item.strip_prefix(self.prefix.as_str()) {
                    // Stopped at the limit, not after reading a hostile
                    // header whole.
                    if candidates.len() == SIGNATURES {
                        return Err(signature_error(format!(
                            "`{}` holds more than {SIGNATURES} signatures (`limits::SIGNATURES`)",
                            self.header
                        )));
                    }
                    candidates.push(signature);
                }
            }
            if timestamp.is_none() {
                return Err(signature_error(format!(
                    "`{}` holds no `t=` timestamp",
                    self.header
                )));
            }
        } else {
            candidates.extend(value.trim().strip_prefix(self.prefix.as_str()));
            if let Some(name) = &self.timestamp_header {
                let text = header_text(headers, name.as_str())?;
                timestamp = Some(
                    parse_timestamp(text.trim())
                        .ok_or_else(|| signature_error(format!("`{name}` is not a timestamp")))?,
                );
            }
        }
        if candidates.len() > SIGNATURES {
            return Err(signature_error(format!(
                "`{}` holds more than {SIGNATURES} signatures (`limits::SIGNATURES`)",
                self.header
            )));
        }
        let timestamp = timestamp.unwrap_or(0);
        if let Some((now, tolerance)) = fresh {
            let what = match &self.timestamp_header {
                Some(name) => format!("`{name}`"),
                None => format!("`{}`'s timestamp", self.header),
            };
            check_fresh(timestamp, now, tolerance, &what)?;
        }
        // The body is hashed once per secret, however many signatures are
        // sent.
        let expected: Vec<Tag> = self
            .keys
            .iter()
            .map(|key| key.tag(&self.message, id, timestamp, body))
            .collect();
        let mut matched = false;
        for candidate in candidates {
            let decoded = if self.base64 {
                LENIENT_BASE64.decode(candidate).ok()
            } else {
                decode_hex(candidate)
            };
            let Some(decoded) = decoded else { continue };
            for tag in &expected {
                matched |= constant_time_eq(tag.as_slice(), &decoded);
            }
        }
        if matched {
            Ok(())
        } else {
            Err(signature_error(format!(
                "no signature in `{}` matches",
                self.header
            )))
        }
    }
}

/// Splits a message pattern into its pieces: `{id}`, `{timestamp}` and
/// `{body}` placeholders, and text between them.
fn parse_message(pattern: &str) -> Result<Vec<Piece>, Error> {
    let mut pieces = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_owned()));
        }
        let after = &rest[open..];
        let (piece, len) = if after.starts_with("{id}") {
            (Piece::Id, 4)
        } else if after.starts_with("{timestamp}") {
            (Piece::Timestamp, 11)
        } else if after.starts_with("{body}") {
            (Piece::Body, 6)
        } else {
            let shown: String = after.chars().take(24).collect();
            return Err(signature_error(format!(
                "`message` has `{shown}`; its placeholders are `{{id}}`, `{{timestamp}}` and \
                 `{{body}}`"
            )));
        };
        if piece == Piece::Body && pieces.contains(&Piece::Body) {
            return Err(signature_error("`message` signs the `{body}` twice"));
        }
        pieces.push(piece);
        rest = &after[len..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_past_the_signature_limit_are_refused_unread() {
        let layout = HmacLayout {
            header: "x-sig",
            message: "{timestamp},{body}",
            pairs: true,
            prefix: "v1=",
            timestamp_header: None,
            id_header: None,
            sha512: false,
            base64: false,
        };
        let scheme = HmacScheme::new(&layout, ["0123456789abcdef"]).unwrap();
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let signed = scheme.sign("d", 1_700_000_000, b"{}");
        let mut headers = HeaderMap::new();
        let value = format!("{}{}", ",v1=00".repeat(SIGNATURES), &signed[0].1);
        headers.insert("x-sig", value.parse().unwrap());
        let e = scheme
            .verify_at(&headers, b"{}", now, TimeDelta::seconds(300))
            .unwrap_err();
        assert!(e.to_string().contains("limits::SIGNATURES"), "{e}");
        headers.insert("x-sig", signed[0].1.parse().unwrap());
        scheme
            .verify_at(&headers, b"{}", now, TimeDelta::seconds(300))
            .unwrap();
    }

    #[test]
    fn messages_and_hex_parse_strictly() {
        assert_eq!(
            parse_message("v0:{timestamp}:{body}").unwrap(),
            [
                Piece::Text("v0:".into()),
                Piece::Timestamp,
                Piece::Text(":".into()),
                Piece::Body
            ]
        );
        assert!(parse_message("{body}{body}").is_err());
        assert!(parse_message("{Body}").is_err());
    }
}
