//! Escaping for each context a value can land in.
//!
//! Every function appends to `out` and guarantees that what it appends cannot
//! end the context it is in: a JSON string stays one string, an XML text node
//! stays text, a form value stays one value, a path segment stays one
//! segment, a header value stays one header.

/// Where a value lands, and so how it is escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Escape {
    /// No escaping at all.
    Raw,
    /// Inside a JSON string literal.
    JsonString,
    /// A whole JSON value: typed, strings quoted.
    JsonValue,
    /// XML character data.
    XmlText,
    /// An XML attribute value, in either kind of quotes.
    XmlAttribute,
    /// Inside an XML CDATA section.
    XmlCdata,
    /// An `application/x-www-form-urlencoded` key or value.
    Form,
    /// A URL query component.
    UrlQuery,
    /// A URL path segment.
    UrlPath,
    /// An HTTP header value.
    Header,
}

/// Why a value was refused.
pub(crate) enum Refused {
    HeaderControl(char),
    DotSegment,
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
        }
    }
}

impl Escape {
    /// Appends `s` escaped for this context. [`Escape::JsonValue`] quotes it.
    pub(crate) fn text(self, s: &str, out: &mut Vec<u8>) -> Result<(), Refused> {
        match self {
            Escape::Raw => out.extend_from_slice(s.as_bytes()),
            Escape::JsonString => json_string(s, out),
            Escape::JsonValue => {
                out.push(b'"');
                json_string(s, out);
                out.push(b'"');
            }
            Escape::XmlText => xml(s, out, false),
            Escape::XmlAttribute => xml(s, out, true),
            Escape::XmlCdata => xml_cdata(s, out),
            Escape::Form => {
                for chunk in form_urlencoded::byte_serialize(s.as_bytes()) {
                    out.extend_from_slice(chunk.as_bytes());
                }
            }
            Escape::UrlQuery => percent(s, out),
            Escape::UrlPath => {
                if s == "." || s == ".." {
                    return Err(Refused::DotSegment);
                }
                percent(s, out)
            }
            Escape::Header => header(s, out)?,
        }
        Ok(())
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Which bytes need escaping in a JSON string: `"`, `\` and C0 controls.
const JSON_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = true;
        i += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Non-zero if any of the eight bytes of `word` is `"`, `\` or below 0x20:
/// the classic "has a zero byte" test, on the word and on its XORs with `"`
/// and `\`.
#[inline]
fn json_word_flags(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    control | quote | backslash
}

/// Whether any byte of `bytes` needs JSON escaping. Eight bytes are tested
/// at a time, the last word overlapping the one before it rather than
/// going byte by byte, and without a branch per word: most values are
/// clean, and a dirty one is escaped byte by byte anyway.
#[inline]
fn needs_json_escape(bytes: &[u8]) -> bool {
    if let Some(last) = bytes.last_chunk::<8>() {
        let (words, _) = bytes.as_chunks::<8>();
        let mut flags = json_word_flags(u64::from_le_bytes(*last));
        for word in words {
            flags |= json_word_flags(u64::from_le_bytes(*word));
        }
        flags != 0
    } else if let (Some(first), Some(last)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        let word =
            u64::from(u32::from_le_bytes(*first)) | (u64::from(u32::from_le_bytes(*last)) << 32);
        json_word_flags(word) != 0
    } else {
        bytes.iter().any(|&b| JSON_ESCAPE[b as usize])
    }
}

pub(crate) fn json_string(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    if needs_json_escape(bytes) {
        json_string_escaped(bytes, out);
    } else {
        out.extend_from_slice(bytes);
    }
}

#[cold]
fn json_string_escaped(bytes: &[u8], out: &mut Vec<u8>) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !JSON_ESCAPE[b as usize] {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Whether XML 1.0 allows `c` in a document at all.
pub(crate) fn xml_allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Characters XML 1.0 forbids become U+FFFD; `\r` (and in attributes `\t`
/// and `\n`) become character references, because a parser would otherwise
/// normalise them away. In text, `]` is a reference too, so a value can never
/// complete a `]]>` with the template's text around it.
fn xml(s: &str, out: &mut Vec<u8>, attribute: bool) {
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let replacement: &[u8] = match c {
            '&' => b"&amp;",
            '<' => b"&lt;",
            '>' => b"&gt;",
            '"' => b"&quot;",
            '\'' => b"&apos;",
            '\r' => b"&#13;",
            '\n' if attribute => b"&#10;",
            '\t' if attribute => b"&#9;",
            ']' if !attribute => b"&#93;",
            c if !xml_allowed(c) => "\u{FFFD}".as_bytes(),
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[start..i]);
        out.extend_from_slice(replacement);
        start = i + c.len_utf8();
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
}

/// CDATA cannot escape, so the value gets sections of its own: the one the
/// template opened is closed before it and reopened after it, so no `]` of
/// the value or of the text around it can meet another to end a section
/// early. Inside, `]]>` is split across two sections, forbidden characters
/// become U+FFFD, and `\r`, which a parser would normalise, is moved out as a
/// character reference.
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

    fn esc(e: Escape, s: &str) -> String {
        let mut out = Vec::new();
        assert!(e.text(s, &mut out).is_ok());
        String::from_utf8(out).unwrap()
    }

    /// The word-at-a-time test finds every byte needing escaping at every
    /// position of every length around the word sizes, and nothing else,
    /// whatever the bytes beside it are (including non-ASCII).
    #[test]
    fn json_scan_finds_every_special_at_every_position() {
        for len in 0..=25 {
            for filler in [b'a', b' ', b'!', 0x7f, 0xc3, 0xff] {
                let clean = vec![filler; len];
                assert!(!needs_json_escape(&clean), "{len} x {filler:#x}");
                for at in 0..len {
                    for b in 0..=255u8 {
                        let mut bytes = clean.clone();
                        bytes[at] = b;
                        assert_eq!(
                            needs_json_escape(&bytes),
                            JSON_ESCAPE[b as usize],
                            "{b:#x} at {at} of {len} x {filler:#x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn each_context_escapes_its_own_specials() {
        assert_eq!(
            esc(Escape::JsonString, "a\"b\\c\n\u{1}"),
            "a\\\"b\\\\c\\n\\u0001"
        );
        assert_eq!(esc(Escape::JsonValue, "x"), "\"x\"");
        assert_eq!(
            esc(Escape::XmlText, "<a&b>]]>\r"),
            "&lt;a&amp;b&gt;&#93;&#93;&gt;&#13;"
        );
        assert_eq!(
            esc(Escape::XmlAttribute, "\"'\t\n"),
            "&quot;&apos;&#9;&#10;"
        );
        assert_eq!(
            esc(Escape::XmlText, "a\u{0}b\u{FFFE}"),
            "a\u{FFFD}b\u{FFFD}"
        );
        assert_eq!(
            esc(Escape::XmlCdata, "a]]>b"),
            "]]><![CDATA[a]]]]><![CDATA[>b]]><![CDATA["
        );
        assert_eq!(esc(Escape::Form, "a b&c=d+é"), "a+b%26c%3Dd%2B%C3%A9");
        assert_eq!(esc(Escape::UrlQuery, "a b&/?#"), "a%20b%26%2F%3F%23");
        assert_eq!(esc(Escape::UrlPath, "../x"), "..%2Fx");
        assert_eq!(esc(Escape::Header, "a\tb\u{7f}c"), "a\tb c");
        assert_eq!(esc(Escape::Raw, "<&>"), "<&>");
    }

    #[test]
    fn json_fast_path_finds_every_special_byte_in_any_position() {
        for special in ["\"", "\\", "\n", "\u{1f}", "\u{0}"] {
            for at in 0..20 {
                let value = format!("{}{special}{}", "a".repeat(at), "é".repeat(3));
                let mut out = b"\"".to_vec();
                json_string(&value, &mut out);
                out.push(b'"');
                let back: String = serde_json::from_slice(&out).unwrap();
                assert_eq!(back, value);
            }
        }
    }

    #[test]
    fn refusals() {
        let mut out = Vec::new();
        assert!(Escape::Header.text("a\r\nX-Evil: 1", &mut out).is_err());
        assert!(Escape::Header.text("a\0", &mut out).is_err());
        assert!(Escape::UrlPath.text("..", &mut out).is_err());
        assert!(Escape::UrlPath.text(".", &mut out).is_err());
    }
}
