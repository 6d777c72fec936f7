//! Ids in UUID form, made from bytes the host passes: the library has no
//! randomness and no clock of its own.

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

/// The text form of 16 bytes as a UUID of `version`.
pub(crate) fn uuid_text(bytes: [u8; 16], version: u8) -> String {
    DeliveryId::from_bytes(bytes, version).as_str().to_owned()
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

/// A new id for a service or webhook, in the UUID form configurations use
/// (version 4), from 16 random bytes the host draws from its own source.
/// With the `uuid` crate, `uuid::Uuid::new_v4().to_string()` or
/// `uuid::Uuid::now_v7().to_string()` serve as well.
///
/// # Examples
///
/// ```
/// // In a host: bytes from `getrandom`, `rand`, or the database.
/// let random = [7u8; 16];
/// let id = callhook::id_from_bytes(random);
/// assert_eq!(id, "07070707-0707-4707-8707-070707070707");
/// ```
#[must_use]
pub fn id_from_bytes(random: [u8; 16]) -> String {
    uuid_text(random, 4)
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
        let id = id_from_bytes([0xff; 16]);
        assert!(is_uuid(&id));
        assert_eq!(&id[14..15], "4");
        assert_eq!(
            uuid_text([0; 16], 8),
            "00000000-0000-8000-8000-000000000000"
        );
        assert!(!is_uuid("not-a-uuid"));
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
