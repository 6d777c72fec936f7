//! Ids in UUID form, made from bytes the host passes: the library has no
//! randomness and no clock of its own.

/// The text form (`8-4-4-4-12` lowercase hex) of 16 bytes, with the UUID
/// version and variant bits set.
pub(crate) fn uuid_text(mut bytes: [u8; 16], version: u8) -> String {
    bytes[6] = (bytes[6] & 0x0f) | (version << 4);
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
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
    // Hex digits and dashes are ASCII.
    String::from_utf8(text.to_vec()).unwrap_or_default()
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
}
