//! Ids in UUID form, made from bytes the host passes: the library has no
//! randomness and no clock of its own. [`Id`] names services and webhooks;
//! [`DeliveryId`] names a delivery.

use crate::error::{shown, Error, ErrorKind};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The text form (`8-4-4-4-12` lowercase hex) of 16 bytes, with the UUID
/// version and variant bits set, into a fixed buffer.
fn uuid_bytes(mut bytes: [u8; 16], version: u8) -> [u8; 36] {
    bytes[6] = (bytes[6] & 0x0f) | (version << 4);
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut text = [b'-'; 36];
    let mut at = 0;
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            at += 1;
        }
        text[at] = HEX[usize::from(b >> 4)];
        text[at + 1] = HEX[usize::from(b & 0xf)];
        at += 2;
    }
    text
}

/// A delivery id: the same for every attempt of one delivery, so retries and
/// receivers can de-duplicate.
///
/// Dispatch makes it from 16 bytes, held as its UUID text in a fixed buffer,
/// so it costs no allocation; one read back from a stored
/// [`Envelope`](crate::Envelope) keeps whatever text was stored. It reads as
/// a `str` ([`DeliveryId::as_str`], `Deref`, `Display`) and compares with
/// strings.
///
/// # Examples
///
/// ```
/// use callhook::DeliveryId;
///
/// let id = DeliveryId::from("6f1c2a4e-0d5b-8c3a-9e7f-112233445566");
/// assert_eq!(id, "6f1c2a4e-0d5b-8c3a-9e7f-112233445566");
/// assert_eq!(id.len(), 36);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DeliveryId(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// Always 36 bytes of ASCII.
    Uuid([u8; 36]),
    /// Any other text, from a store.
    Stored(Box<str>),
}

impl DeliveryId {
    pub(crate) fn from_bytes(bytes: [u8; 16], version: u8) -> DeliveryId {
        DeliveryId(Repr::Uuid(uuid_bytes(bytes, version)))
    }

    /// The id's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Hex digits and dashes only, so always UTF-8: the empty
            // fallback is never taken (`from_utf8_unchecked` would need
            // `unsafe`, which the crate forbids).
            Repr::Uuid(text) => std::str::from_utf8(text).unwrap_or_default(),
            Repr::Stored(text) => text,
        }
    }
}

impl From<&str> for DeliveryId {
    fn from(text: &str) -> DeliveryId {
        match <[u8; 36]>::try_from(text.as_bytes()) {
            Ok(bytes) if is_uuid(text) => DeliveryId(Repr::Uuid(bytes)),
            _ => DeliveryId(Repr::Stored(text.into())),
        }
    }
}

impl From<String> for DeliveryId {
    fn from(text: String) -> DeliveryId {
        if is_uuid(&text) {
            DeliveryId::from(text.as_str())
        } else {
            DeliveryId(Repr::Stored(text.into_boxed_str()))
        }
    }
}

impl From<DeliveryId> for String {
    fn from(id: DeliveryId) -> String {
        match id.0 {
            Repr::Stored(text) => text.into_string(),
            Repr::Uuid(_) => id.as_str().to_owned(),
        }
    }
}

impl std::ops::Deref for DeliveryId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for DeliveryId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for DeliveryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for DeliveryId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for DeliveryId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for DeliveryId {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<DeliveryId> for String {
    fn eq(&self, other: &DeliveryId) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<DeliveryId> for &str {
    fn eq(&self, other: &DeliveryId) -> bool {
        *self == other.as_str()
    }
}

impl serde::Serialize for DeliveryId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for DeliveryId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<DeliveryId, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Ok(DeliveryId::from(&*text))
    }
}

/// A service's or webhook's id: a UUID in its text form (`8-4-4-4-12` hex
/// digits), as configurations write them and the registry checks them.
///
/// The library has no randomness of its own: [`Id::from_bytes`] makes a
/// new id (version 4) from 16 random bytes the host draws from its own
/// source, and [`Id::parse`] (or `str::parse`) checks one written
/// elsewhere, keeping its text as written (upper-case digits included, as
/// the registry compares ids as text). An `Id` is 36 bytes held in place,
/// `Copy`, and reads as a `str` ([`Id::as_str`], `Deref`, `Display`); it
/// goes wherever an id is taken as text (`ServiceConfig::new`,
/// `WebhookConfig::new`, `Registry::service`). With serde it is a string,
/// refused unless it is a UUID.
///
/// # Examples
///
/// ```
/// use callhook::{Id, ServiceConfig};
///
/// // In a host: bytes from `getrandom`, `rand`, or the database.
/// let id = Id::from_bytes([7u8; 16]);
/// assert_eq!(id, "07070707-0707-4707-8707-070707070707");
/// let config = ServiceConfig::new(id, "https://crm.example.com/calls");
/// assert_eq!(config.id, id.as_str());
///
/// let stored: Id = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b".parse()?;
/// assert_eq!(stored.to_string(), "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b");
/// assert!(Id::parse("crm-1").is_err());
/// # Ok::<(), callhook::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id([u8; 36]);

impl Id {
    /// A new id, a version 4 UUID, from 16 random bytes.
    #[must_use]
    pub fn from_bytes(random: [u8; 16]) -> Id {
        Id(uuid_bytes(random, 4))
    }

    /// Checks that `text` is a UUID in its text form and keeps it as
    /// written. `str::parse` does the same.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidConfig`] when `text` is not `8-4-4-4-12` hex
    /// digits.
    pub fn parse(text: &str) -> Result<Id, Error> {
        match <[u8; 36]>::try_from(text.as_bytes()) {
            Ok(bytes) if is_uuid(text) => Ok(Id(bytes)),
            _ => Err(Error::new(
                ErrorKind::InvalidConfig,
                format!(
                    "id `{}` is not a UUID (`8-4-4-4-12` hex digits)",
                    shown(text)
                ),
            )),
        }
    }

    /// The id's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Checked or made as hex digits and dashes, so always UTF-8: the
        // empty fallback is never taken (`from_utf8_unchecked` would need
        // `unsafe`, which the crate forbids).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::str::FromStr for Id {
    type Err = Error;

    fn from_str(text: &str) -> Result<Id, Error> {
        Id::parse(text)
    }
}

impl From<Id> for String {
    fn from(id: Id) -> String {
        id.as_str().to_owned()
    }
}

impl std::ops::Deref for Id {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for Id {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Id {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Id {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<Id> for String {
    fn eq(&self, other: &Id) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Id> for &str {
    fn eq(&self, other: &Id) -> bool {
        *self == other.as_str()
    }
}

impl serde::Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Id, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Id::parse(&text).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

/// Whether `id` is a UUID in its text form (`8-4-4-4-12` hex digits).
pub(crate) fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuids_of_their_version() {
        let id = Id::from_bytes([0xff; 16]);
        assert!(is_uuid(&id));
        assert_eq!(&id[14..15], "4");
        assert_eq!(
            DeliveryId::from_bytes([0; 16], 8),
            "00000000-0000-8000-8000-000000000000"
        );
        assert!(!is_uuid("not-a-uuid"));
    }

    #[test]
    fn ids_parse_only_uuids_and_keep_their_text() {
        let upper = "5B0C7C1E-8A43-4D5E-9A0F-1C2D3E4F5A6B";
        assert_eq!(Id::parse(upper).unwrap(), upper);
        assert_eq!(upper.parse::<Id>().unwrap().as_str(), upper);
        for text in [
            "",
            "crm-1",
            "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6",
            "5b0c7c1e_8a43-4d5e-9a0f-1c2d3e4f5a6b",
        ] {
            let err = Id::parse(text).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidConfig);
            assert!(err.message().contains("is not a UUID"), "{err}");
        }
        let id = Id::from_bytes([1; 16]);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"01010101-0101-4101-8101-010101010101\"");
        assert_eq!(serde_json::from_str::<Id>(&json).unwrap(), id);
        let err = serde_json::from_str::<Id>("\"crm-1\"").unwrap_err();
        assert!(err.to_string().contains("`crm-1` is not a UUID"), "{err}");
        assert_eq!(String::from(id), id.as_str());
    }

    #[test]
    fn delivery_ids_keep_any_stored_text() {
        let uuid = DeliveryId::from("00000000-0000-8000-8000-000000000000");
        assert!(matches!(uuid.0, Repr::Uuid(_)));
        assert_eq!(uuid, DeliveryId::from_bytes([0; 16], 8));
        for text in [
            "",
            "not-a-uuid",
            "00000000-0000-8000-8000-00000000000\u{e9}",
        ] {
            let id = DeliveryId::from(text);
            assert_eq!(id, text);
            assert_eq!(String::from(id.clone()), text);
            assert_eq!(DeliveryId::from(text.to_owned()), id);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<DeliveryId>(&json).unwrap(), id);
        }
    }
}
