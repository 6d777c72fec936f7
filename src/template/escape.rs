//! Escaping for each context a value can land in: the one place that says
//! how each [`Context`] escapes.
//!
//! Every function appends to `out` and guarantees that what it appends cannot
//! end the context it is in: a JSON string stays one string, an XML text node
//! stays text, a form value stays one value, a path segment stays one
//! segment, a header value stays one header.

use super::Context;

/// Why a value was refused.
pub(crate) enum Refused {
    HeaderControl(char),
    DotSegment,
    /// A `.` or `..` segment in a rendered URL's path, however it formed.
    RenderedDotSegment,
}

impl Refused {
    pub(crate) fn message(&self) -> String {
        match self {
            Refused::HeaderControl(c) => format!(
                "a header value cannot hold {}",
                match c {
                    '\r' => "a carriage return (CR)",
                    '\n' => "a line feed (LF)",
                    _ => "a NUL character",
                }
            ),
            Refused::DotSegment => "`.` or `..` cannot stand as a URL path segment".to_owned(),
            Refused::RenderedDotSegment => {
                "the rendered URL has a `.` or `..` path segment, which clients would resolve"
                    .to_owned()
            }
        }
    }
}

impl Context {
    /// Appends `s` escaped for this context. A whole JSON value is quoted;
    /// a document context escapes as the text of that document would.
    pub(crate) fn escape(self, s: &str, out: &mut Vec<u8>) -> Result<(), Refused> {
        match self {
            Context::Plain => out.extend_from_slice(s.as_bytes()),
            Context::Json | Context::JsonString => json_string(s, out),
            Context::JsonValue => {
                out.push(b'"');
                json_string(s, out);
                out.push(b'"');
            }
            Context::Xml | Context::XmlText => xml(s, out, false),
            Context::XmlAttribute => xml(s, out, true),
            Context::XmlCdata => xml_cdata(s, out),
            Context::Form => {
                for chunk in form_urlencoded::byte_serialize(s.as_bytes()) {
                    out.extend_from_slice(chunk.as_bytes());
                }
            }
            Context::Url | Context::UrlQuery => percent(s, out),
            Context::UrlPath => {
                if s == "." || s == ".." {
                    return Err(Refused::DotSegment);
                }
                percent(s, out)
            }
            Context::Header => header(s, out)?,
        }
        Ok(())
    }
}

impl Context {
    /// Checks a whole render of a template compiled for this context, for
    /// what no one value decides. A URL's path may not have a `.` or `..`
    /// segment, however it came to be (a literal `.` beside a value that
    /// rendered empty): clients would resolve it, and send the request to
    /// another path than the one built and signed.
    pub(crate) fn check_rendered(self, rendered: &[u8]) -> Result<(), Refused> {
        if self == Context::Url && has_dot_segment(rendered) {
            return Err(Refused::RenderedDotSegment);
        }
        Ok(())
    }
}

/// Whether a URL's path has a `.` or `..` segment.
fn has_dot_segment(url: &[u8]) -> bool {
    let after_scheme = url
        .iter()
        .position(|&b| b == b':')
        .filter(|&i| url[i..].starts_with(b"://"))
        .map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    // No `/`: no path; no `?`: the path runs to the end.
    let path_start = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
    let path = &rest[path_start..];
    let path = &path[..path.iter().position(|&b| b == b'?').unwrap_or(path.len())];
    // WHATWG URL parsers read a `\` in an `http(s)` path as a `/`.
    path.split(|&b| b == b'/' || b == b'\\').any(is_dot_segment)
}

/// Whether a path segment is `.` or `..`, with any dot written `%2e` or
/// `%2E`, as URL parsers read them.
pub(crate) fn is_dot_segment(segment: &[u8]) -> bool {
    let mut dots = 0;
    let mut rest = segment;
    while let Some(&first) = rest.first() {
        if first == b'.' {
            rest = &rest[1..];
        } else if rest.len() >= 3 && rest[0] == b'%' && rest[1] == b'2' && rest[2] | 0x20 == b'e' {
            rest = &rest[3..];
        } else {
            return false;
        }
        dots += 1;
    }
    dots == 1 || dots == 2
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// For each byte, what follows the `\` that escapes it in a JSON string
/// (`u` for `\u00XX`), or 0 where it stands as it is: serde_json's table.
const JSON_ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = b'u';
        i += 1;
    }
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[0x08] = b'b';
    table[0x0c] = b'f';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// For each byte, what it becomes in a JSON string, in the first bytes of
/// a word, and how many bytes that is, in its last byte: the byte itself
/// (1), `\n` (2), or `\u001F` (6). The escaping loop stores the whole word
/// and moves on by its length, with no branch on the byte.
static JSON_ESCAPED: [[u8; 8]; 256] = {
    let mut table = [[0u8; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let escape = JSON_ESCAPE[b];
        table[b] = if escape == 0 {
            [b as u8, 0, 0, 0, 0, 0, 0, 1]
        } else if escape == b'u' {
            [b'\\', b'u', b'0', b'0', HEX[b >> 4], HEX[b & 0xf], 0, 6]
        } else {
            [b'\\', escape, 0, 0, 0, 0, 0, 2]
        };
        b += 1;
    }
    table
};

/// Non-zero if any of the eight bytes of `word` is `"`, `\` or below 0x20:
/// the classic "has a zero byte" test, on the word less 0x20 and on its
/// XORs with `"` and `\`. The XORs keep each byte's high bit, so one
/// `!word` masks all three. A borrow can flag a byte above one that needs
/// escaping, never below it, so the lowest flag is exact.
#[inline]
fn json_word_flags(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = word.wrapping_sub(ONES * 0x20);
    let quote = (word ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
    let backslash = (word ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
    (control | quote | backslash) & !word & HIGH
}

/// The index of the byte its lowest flag marks.
#[inline]
fn first_flagged(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

/// Where escaping must start in `bytes`: at or before its first byte that
/// needs JSON escaping (the start of the first word, of four, holding
/// one), or its length when none does. Words of eight bytes are tested
/// four at a time with one branch, the last (overlapping the one before
/// it) and values under eight bytes as one word.
///
/// A hand-written fast path: most values are clean, and testing them a
/// word at a time instead of going through [`JSON_ESCAPE`] byte by byte
/// saved 32% of the RingCX body render's instructions (2,412 to 1,633 per
/// render, callgrind) and 21% of the PBX body's (6,097 to 4,820). Stopping
/// at the first block of four words that needs escaping, so a dirty value
/// is not scanned twice, costs a clean 1 KB value 7% (1,442 to 1,544
/// instructions, the same 97 ns). Always inlined into [`json_string`]: as
/// a call of its own it cost the RingCX body 1,546 instructions a render
/// against 1,528, and the PBX body 4,574 against 4,525
/// (`benches/instructions.sh render`).
#[inline(always)]
fn json_clean_prefix(bytes: &[u8]) -> usize {
    let len = bytes.len();
    let word = |w: &[u8; 8]| json_word_flags(u64::from_le_bytes(*w));
    if let Some(last) = bytes.last_chunk::<8>() {
        let (blocks, rest) = bytes.as_chunks::<32>();
        for (i, block) in blocks.iter().enumerate() {
            let (words, _) = block.as_chunks::<8>();
            if words.iter().fold(0, |flags, w| flags | word(w)) != 0 {
                return i * 32;
            }
        }
        let checked = len - rest.len();
        let (words, _) = rest.as_chunks::<8>();
        if words.iter().fold(word(last), |flags, w| flags | word(w)) != 0 {
            return checked;
        }
        len
    } else if let (Some(first), Some(last)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        let word =
            u64::from(u32::from_le_bytes(*first)) | (u64::from(u32::from_le_bytes(*last)) << 32);
        if json_word_flags(word) == 0 {
            len
        } else {
            0
        }
    } else if bytes.iter().any(|&b| JSON_ESCAPE[usize::from(b)] != 0) {
        0
    } else {
        len
    }
}

/// Appends `s` as the content of a JSON string literal: as it is when it
/// needs no escaping, else its clean start as it is and the rest through
/// [`json_string_escaped`].
///
/// Always inlined into the render loop: with only `#[inline]` it stayed a
/// call, and the RingCX body cost 1,891 instructions a render against
/// 1,848 (PBX 5,767 against 5,590).
#[inline(always)]
pub(crate) fn json_string(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    let clean = json_clean_prefix(bytes);
    match bytes.split_at_checked(clean) {
        Some((clean, rest)) if !rest.is_empty() => json_string_escaped(clean, rest, out),
        _ => out.extend_from_slice(bytes),
    }
}

/// How many bytes [`json_string_escaped`] escapes into one stretch of
/// zeroed room: the room, six times as many, is zeroed with vector stores
/// and stays in the first-level cache, however long the value.
const JSON_CHUNK: usize = 256;

/// One bit (the high bit of its byte) for each byte of `word` that needs
/// JSON escaping, and no other: unlike [`json_word_flags`], each byte is
/// tested without a carry from the one below, so every flag is exact.
#[inline]
fn json_word_specials(word: u64) -> u64 {
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Each byte's high bit: set where its low seven bits are at least
    // 0x20, and where they are not zero once XORed with `"` or `\`.
    let printable = (word & LOW) + ONES * 0x60;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let plain = printable & ((quote & LOW) + LOW) & ((backslash & LOW) + LOW);
    // A high bit of the byte itself (non-ASCII) is never special.
    !(plain | word) & !LOW
}

/// How far past a word's place [`json_string_escaped`] may write: eight
/// escapes of up to seven bytes (the table's lengths, masked), and the
/// last one's eight-byte store.
const JSON_WINDOW: usize = 64;

/// Appends `clean`, then escapes `bytes` into zeroed room at the end of
/// `out` and cuts the room to what was written. Each word is stored whole;
/// one with nothing to escape is done. In one with a single byte to
/// escape, its escape is stored over that byte and the rest of the word
/// after the escape. Any other goes byte by byte through [`JSON_ESCAPED`],
/// each byte one 8-byte store and an add, with no branch on the byte. Every
/// store is into one fixed window per word, so the compiler checks its
/// bounds once a word.
///
/// Measured against the loop before it, which appended each clean run and
/// each escape to `out` as serde_json does (`benches/instructions.sh
/// escape`, 1 KB values, instructions per render; times the fastest of 15
/// batches, one run): every tenth byte a quote 15,989 -> 7,253 (919 ->
/// 444 ns, serde_json 1,046), every other byte a quote, backslash or
/// newline 43,333 -> 15,762 (2,398 -> 898 ns, serde_json 2,315), control
/// characters 52,453 -> 15,762 (2,496 -> 1,106 ns, serde_json 1,727).
#[inline(never)]
fn json_string_escaped(clean: &[u8], bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(clean);
    for chunk in bytes.chunks(JSON_CHUNK) {
        let start = out.len();
        // Six bytes a byte, the longest escape, and a window's spare room.
        out.resize(start + 6 * chunk.len() + JSON_WINDOW, 0);
        let room = &mut out[start..];
        let mut at = 0;
        let (words, tail) = chunk.as_chunks::<8>();
        for word in words {
            let w = u64::from_le_bytes(*word);
            let window = &mut room[at..at + JSON_WINDOW];
            window[..8].copy_from_slice(word);
            let specials = json_word_specials(w);
            if specials == 0 {
                at += 8;
            } else if specials & (specials - 1) == 0 {
                // `& 7` (a no-op) and the lengths' `& 7` let the compiler see
                // every store below fits the window.
                let first = first_flagged(specials) & 7;
                let escaped = &JSON_ESCAPED[usize::from(word[first])];
                window[first..first + 8].copy_from_slice(escaped);
                let after = first + usize::from(escaped[7] & 7);
                window[after..after + 8].copy_from_slice(&(w >> (8 * first) >> 8).to_le_bytes());
                at += after + 7 - first;
            } else {
                let mut k = 0;
                for &b in word {
                    let escaped = &JSON_ESCAPED[usize::from(b)];
                    window[k..k + 8].copy_from_slice(escaped);
                    k += usize::from(escaped[7] & 7);
                }
                at += k;
            }
        }
        for &b in tail {
            at += put_json_escaped(room, at, b);
        }
        out.truncate(start + at);
    }
}

/// Stores `b` as a JSON string holds it at `room[at..]`, with spare bytes
/// after it up to eight, and returns its length.
#[inline(always)]
fn put_json_escaped(room: &mut [u8], at: usize, b: u8) -> usize {
    let escaped = &JSON_ESCAPED[usize::from(b)];
    room[at..at + 8].copy_from_slice(escaped);
    usize::from(escaped[7])
}

/// Whether XML 1.0 allows `c` in a document at all.
pub(crate) fn xml_allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether `c` is a C1 control (U+0080 to U+009F): allowed in XML 1.0 but
/// discouraged, restricted in XML 1.1, where U+0085 also ends a line. A
/// character reference reads the same to every parser, so callhook writes
/// them as references.
pub(crate) fn is_c1(c: char) -> bool {
    matches!(c, '\u{80}'..='\u{9F}')
}

/// Appends the character reference `&#N;` for `c`.
fn xml_reference(c: char, out: &mut Vec<u8>) {
    out.extend_from_slice(b"&#");
    crate::format::push_integer(out, u32::from(c));
    out.push(b';');
}

/// Bytes that may need escaping in XML text (bit 0) or an attribute value
/// (bit 1): markup, `\r`, the controls XML 1.0 forbids, `]` in text, `\t`
/// and `\n` in attributes, 0xC2, which starts the C1 controls, and 0xEF,
/// which starts U+FFFE and U+FFFF, the only other characters XML 1.0
/// forbids that a `str` can hold.
static XML_SPECIAL: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = 0b11;
        b += 1;
    }
    table[b'\t' as usize] = 0b10;
    table[b'\n' as usize] = 0b10;
    let mut i = 0;
    let both = b"&<>\"'\xc2\xef";
    while i < both.len() {
        table[both[i] as usize] = 0b11;
        i += 1;
    }
    table[b']' as usize] = 0b01;
    table
};

/// Characters XML 1.0 forbids become U+FFFD; `\r` (and in attributes `\t`
/// and `\n`) become character references, because a parser would otherwise
/// normalise them away, and so do the C1 controls ([`is_c1`]). In text, `]`
/// is a reference too, so a value can never complete a `]]>` with the
/// template's text around it.
///
/// Bytes are tested against a table rather than decoding characters: the
/// only non-ASCII characters to replace are the C1 controls (0xC2 then
/// 0x80 to 0x9F), U+FFFE and U+FFFF. Callgrind, a
/// render of one 200-byte value: clean 3,933 -> 1,391 instructions, dirty
/// 7,340 -> 5,973, non-ASCII 3,661 -> 1,559 (quick-xml's `escape` and an
/// append: 1,750, 5,995, 1,914).
fn xml(s: &str, out: &mut Vec<u8>, attribute: bool) {
    let bytes = s.as_bytes();
    let mask = if attribute { 0b10 } else { 0b01 };
    out.reserve(bytes.len());
    let mut start = 0;
    let mut i = 0;
    while let Some(found) = bytes[i..]
        .iter()
        .position(|&b| XML_SPECIAL[usize::from(b)] & mask != 0)
    {
        i += found;
        let b = bytes[i];
        let len = match (b, bytes.get(i + 1..i + 3), bytes.get(i + 1)) {
            (0xef, Some([0xbf, 0xbe | 0xbf]), _) => 3,
            (0xc2, _, Some(&second @ 0x80..=0x9f)) => {
                out.extend_from_slice(&bytes[start..i]);
                xml_reference(char::from(second), out);
                i += 2;
                start = i;
                continue;
            }
            (0xef | 0xc2, _, _) => {
                i += 1;
                continue;
            }
            _ => 1,
        };
        out.extend_from_slice(&bytes[start..i]);
        // Each arm copies a constant, which compiles to a store or two.
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b'\'' => out.extend_from_slice(b"&apos;"),
            b'\r' => out.extend_from_slice(b"&#13;"),
            b'\n' => out.extend_from_slice(b"&#10;"),
            b'\t' => out.extend_from_slice(b"&#9;"),
            b']' => out.extend_from_slice(b"&#93;"),
            // The other controls below U+0020, and U+FFFE and U+FFFF.
            _ => out.extend_from_slice("\u{FFFD}".as_bytes()),
        }
        i += len;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// CDATA cannot escape, so the value gets sections of its own: the one the
/// template opened is closed before it and reopened after it, so no `]` of
/// the value or of the text around it can meet another to end a section
/// early. Inside, `]]>` is split across two sections, forbidden characters
/// become U+FFFD, and `\r`, which a parser would normalise, and the C1
/// controls ([`is_c1`]) are moved out as character references.
fn xml_cdata(s: &str, out: &mut Vec<u8>) {
    const REOPEN: &[u8] = b"]]><![CDATA[";
    out.extend_from_slice(REOPEN);
    let mut start = 0;
    let bytes = s.as_bytes();
    for (i, c) in s.char_indices() {
        let replacement: &[u8] = if c == '>' && i >= 2 && &bytes[i - 2..i] == b"]]" {
            b"]]><![CDATA[>"
        } else if c == '\r' {
            b"]]>&#13;<![CDATA["
        } else if is_c1(c) {
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(b"]]>");
            xml_reference(c, out);
            out.extend_from_slice(b"<![CDATA[");
            start = i + c.len_utf8();
            continue;
        } else if !xml_allowed(c) {
            "\u{FFFD}".as_bytes()
        } else {
            continue;
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(replacement);
        start = i + c.len_utf8();
    }
    out.extend_from_slice(&bytes[start..]);
    out.extend_from_slice(REOPEN);
}

/// Percent-encodes every byte but RFC 3986's unreserved characters, so the
/// result is safe in a path segment and in a query component alike.
fn percent(s: &str, out: &mut Vec<u8>) {
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]);
        }
    }
}

/// CR, LF and NUL could split or end a header and are refused; the other
/// control characters, which `http` also refuses, become spaces.
fn header(s: &str, out: &mut Vec<u8>) -> Result<(), Refused> {
    for c in s.chars() {
        match c {
            '\r' | '\n' | '\0' => return Err(Refused::HeaderControl(c)),
            '\t' => out.push(b'\t'),
            c if c.is_ascii_control() => out.push(b' '),
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(context: Context, s: &str) -> String {
        let mut out = Vec::new();
        assert!(context.escape(s, &mut out).is_ok());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn each_context_escapes_its_own_specials() {
        assert_eq!(
            esc(Context::JsonString, "a\"b\\c\n\u{1}\u{8}\u{c}\t\r"),
            "a\\\"b\\\\c\\n\\u0001\\b\\f\\t\\r"
        );
        assert_eq!(esc(Context::JsonValue, "x"), "\"x\"");
        assert_eq!(
            esc(Context::XmlText, "<a&b>]]>\r"),
            "&lt;a&amp;b&gt;&#93;&#93;&gt;&#13;"
        );
        assert_eq!(
            esc(Context::XmlAttribute, "\"'\t\n"),
            "&quot;&apos;&#9;&#10;"
        );
        assert_eq!(
            esc(Context::XmlText, "a\u{0}b\u{FFFE}"),
            "a\u{FFFD}b\u{FFFD}"
        );
        assert_eq!(
            esc(Context::XmlCdata, "a]]>b"),
            "]]><![CDATA[a]]]]><![CDATA[>b]]><![CDATA["
        );
        assert_eq!(
            esc(Context::XmlCdata, "a\u{85}\u{a0}"),
            "]]><![CDATA[a]]>&#133;<![CDATA[\u{a0}]]><![CDATA["
        );
        assert_eq!(
            esc(Context::XmlText, "\u{80}\u{9f}\u{a0}"),
            "&#128;&#159;\u{a0}"
        );
        assert_eq!(esc(Context::Form, "a b&c=d+é"), "a+b%26c%3Dd%2B%C3%A9");
        assert_eq!(esc(Context::UrlQuery, "a b&/?#"), "a%20b%26%2F%3F%23");
        assert_eq!(esc(Context::UrlPath, "../x"), "..%2Fx");
        assert_eq!(esc(Context::Header, "a\tb\u{7f}c"), "a\tb c");
        assert_eq!(esc(Context::Plain, "<&>"), "<&>");
    }

    /// The byte table replaces exactly what the character rule says, for
    /// every character class at every position.
    #[test]
    fn xml_escapes_by_the_character_rule() {
        fn by_chars(s: &str, attribute: bool) -> String {
            s.chars()
                .map(|c| match c {
                    '&' => "&amp;".to_owned(),
                    '<' => "&lt;".to_owned(),
                    '>' => "&gt;".to_owned(),
                    '"' => "&quot;".to_owned(),
                    '\'' => "&apos;".to_owned(),
                    '\r' => "&#13;".to_owned(),
                    '\n' if attribute => "&#10;".to_owned(),
                    '\t' if attribute => "&#9;".to_owned(),
                    ']' if !attribute => "&#93;".to_owned(),
                    c if is_c1(c) => format!("&#{};", u32::from(c)),
                    c if !xml_allowed(c) => "\u{FFFD}".to_owned(),
                    c => c.to_string(),
                })
                .collect()
        }
        let pieces = [
            "a",
            "&",
            "<",
            ">",
            "\"",
            "'",
            "\r",
            "\n",
            "\t",
            "]",
            "\u{0}",
            "\u{1f}",
            "\u{7f}",
            "\u{80}",
            "\u{85}",
            "\u{9f}",
            "\u{a0}",
            "\u{bf}",
            "é",
            "\u{D7FF}",
            "\u{E000}",
            "\u{EFFF}",
            "\u{F000}",
            "\u{FFFD}",
            "\u{FFFE}",
            "\u{FFFF}",
            "\u{10000}",
            "😀",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let s = format!("{a}{b}x{c}");
                    for attribute in [false, true] {
                        let mut out = Vec::new();
                        xml(&s, &mut out, attribute);
                        assert_eq!(String::from_utf8(out).unwrap(), by_chars(&s, attribute));
                    }
                }
            }
        }
    }

    /// The word-at-a-time scan stops at or before the first byte needing
    /// escaping, at every position of every length around the word and
    /// block sizes, and passes a value with none whatever its bytes
    /// (including non-ASCII).
    #[test]
    fn json_scan_finds_every_special_at_every_position() {
        for len in 0..=41 {
            for filler in [b'a', b' ', b'!', 0x7f, 0xc3, 0xff] {
                let clean = vec![filler; len];
                assert_eq!(json_clean_prefix(&clean), len, "{len} x {filler:#x}");
                for at in 0..len {
                    for b in 0..=255u8 {
                        let mut bytes = clean.clone();
                        bytes[at] = b;
                        let prefix = json_clean_prefix(&bytes);
                        if JSON_ESCAPE[b as usize] == 0 {
                            assert_eq!(prefix, len, "{b:#x} at {at} of {len} x {filler:#x}");
                        } else {
                            assert!(prefix <= at, "{b:#x} at {at} of {len} x {filler:#x}");
                        }
                    }
                }
            }
        }
    }

    /// The exact test flags every byte needing escaping and nothing else,
    /// whatever the bytes around it, a special below it included.
    #[test]
    fn json_word_specials_are_exact() {
        for filler in [
            b'a', b'"', 0, 0x1f, 0x20, b'\\', 0x7f, 0x80, 0xa2, 0xdc, 0xff,
        ] {
            for at in 0..8 {
                for b in 0..=255u8 {
                    let mut word = [filler; 8];
                    word[at] = b;
                    let expected = word.iter().enumerate().fold(0u64, |mask, (i, &b)| {
                        mask | (u64::from(JSON_ESCAPE[b as usize] != 0) << (8 * i + 7))
                    });
                    assert_eq!(
                        json_word_specials(u64::from_le_bytes(word)),
                        expected,
                        "{b:#x} at {at} in {filler:#x}"
                    );
                }
            }
        }
    }

    /// The table-driven escaping writes what the byte-by-byte rule does, for
    /// every byte, at every position in and around a word, and across the
    /// stretches values are escaped in.
    #[test]
    fn json_escaping_matches_the_byte_rule() {
        fn by_bytes(bytes: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            for &b in bytes {
                match JSON_ESCAPE[b as usize] {
                    0 => out.push(b),
                    b'u' => out.extend_from_slice(format!("\\u{b:04X}").as_bytes()),
                    escape => out.extend_from_slice(&[b'\\', escape]),
                }
            }
            out
        }
        for len in 1..=20 {
            for at in 0..len {
                for b in 0..=0x7fu8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    let s = std::str::from_utf8(&bytes).unwrap();
                    let mut out = b"prefix".to_vec();
                    json_string(s, &mut out);
                    assert_eq!(out[6..], by_bytes(&bytes), "{b:#x} at {at} of {len}");
                }
            }
        }
        // Two specials at every pair of places: one flag in a word, or more.
        for len in [9, 16, 17] {
            for a in 0..len {
                for b in a + 1..len {
                    for (x, y) in [(b'"', b'\\'), (0x1f, b'\n'), (b'\\', 0)] {
                        let mut bytes = vec![b'a'; len];
                        bytes[a] = x;
                        bytes[b] = y;
                        let mut out = Vec::new();
                        json_string(std::str::from_utf8(&bytes).unwrap(), &mut out);
                        assert_eq!(out, by_bytes(&bytes), "{x:#x} at {a}, {y:#x} at {b}");
                    }
                }
            }
        }
        for len in [
            JSON_CHUNK - 1,
            JSON_CHUNK,
            JSON_CHUNK + 1,
            3 * JSON_CHUNK + 5,
        ] {
            let all: Vec<u8> = (0..len).map(|i| (i % 128) as u8).collect();
            let mut out = Vec::new();
            json_string(std::str::from_utf8(&all).unwrap(), &mut out);
            assert_eq!(out, by_bytes(&all), "every ASCII byte in turn, {len} bytes");
        }
    }

    #[test]
    fn json_strings_round_trip_every_byte_in_any_position() {
        for b in 0..=0x7fu8 {
            for at in 0..12 {
                let value = format!("{}{}{}", "a".repeat(at), b as char, "é".repeat(3));
                let mut out = b"\"".to_vec();
                json_string(&value, &mut out);
                out.push(b'"');
                let back: String = serde_json::from_slice(&out).unwrap();
                assert_eq!(back, value);
            }
        }
    }

    #[test]
    fn dot_segments_in_every_spelling() {
        for dots in [".", "..", "%2e", "%2E.", ".%2e", "%2e%2E"] {
            assert!(is_dot_segment(dots.as_bytes()), "{dots}");
        }
        for other in ["", "...", "a.", ".a", "%2", "%2f", "%2e%2e%2e"] {
            assert!(!is_dot_segment(other.as_bytes()), "{other}");
        }
        let url = Context::Url;
        assert!(url
            .check_rendered(b"https://x.example.com/a/../b?c=..")
            .is_err());
        assert!(url
            .check_rendered(b"https://x.example.com/a/b?c=..")
            .is_ok());
        assert!(url.check_rendered(b"https://x.example.com/a/%2E").is_err());
        // Only a URL is a URL.
        assert!(Context::Plain
            .check_rendered(b"https://x.example.com/a/..")
            .is_ok());
    }

    #[test]
    fn refusals() {
        let mut out = Vec::new();
        assert!(Context::Header.escape("a\r\nX-Evil: 1", &mut out).is_err());
        assert!(Context::Header.escape("a\0", &mut out).is_err());
        assert!(Context::UrlPath.escape("..", &mut out).is_err());
        assert!(Context::UrlPath.escape(".", &mut out).is_err());
    }
}
