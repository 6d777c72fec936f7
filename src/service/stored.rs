//! The JSON a compiled service keeps: its configuration as the compact text
//! a host stores, and where in it the two members read back without
//! parsing (`enabled` and `url`) were written.

use std::cell::Cell;
use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

use super::config::ServiceConfig;
use crate::error::{Error, ErrorKind};
use crate::version::Nested;

/// A configuration's compact JSON, `enabled` written `true` whatever the
/// service is (it is kept beside the compiled part, so a toggle copies
/// nothing and equal configurations keep equal text), with the spans of
/// the top-level `enabled` and `url` values as the writer recorded them,
/// not as a layout would place them.
pub(super) struct Stored {
    /// As serde_json wrote it: UTF-8, checked once when kept.
    json: Box<str>,
    /// Where `true`, the value of `enabled`, starts.
    enabled_at: u32,
    /// The `url` value, quotes included.
    url: (u32, u32),
}

const TRUE: &str = "true";
const FALSE: &str = "false";

impl Stored {
    /// Writes `config` as a service keeps it.
    ///
    /// # Errors
    ///
    /// A configuration serde cannot serialise, which a derived one always
    /// can, or one over 4 GiB.
    pub(super) fn of(config: &ServiceConfig) -> Result<Stored, Error> {
        let cannot = |why: &str| {
            Error::new(
                ErrorKind::InvalidConfig,
                format!("the configuration cannot be kept: {why}"),
            )
        };
        let marks = Marks::default();
        // Sized for most services' JSON, so the buffer rarely grows.
        let mut out = Counted {
            out: Vec::with_capacity(1024),
            marks: &marks,
        };
        Nested(config)
            .serialize(&mut serde_json::Serializer::with_formatter(
                &mut out,
                Marking::new(&marks),
            ))
            .map_err(|e| cannot("serde refuses it").with_source(e))?;
        let mut json = out.out;
        let (Some(enabled), Some(mut url)) = (marks.enabled.get(), marks.url.get()) else {
            return Err(cannot("`enabled` or `url` was not written"));
        };
        let shown = if config.enabled { TRUE } else { FALSE };
        if json.get(enabled.0..enabled.1) != Some(shown.as_bytes()) {
            return Err(cannot("`enabled` was not written as a boolean"));
        }
        if !config.enabled {
            json.splice(enabled.0..enabled.1, TRUE.bytes());
            // Every span after `enabled` moved back by the difference.
            if url.0 > enabled.0 {
                url = (url.0 - 1, url.1 - 1);
            }
        }
        let json = String::from_utf8(json)
            .map_err(|e| cannot("serde_json wrote no UTF-8").with_source(e))?;
        let offset = |at: usize| u32::try_from(at).map_err(|_| cannot("it is over 4 GiB"));
        Ok(Stored {
            enabled_at: offset(enabled.0)?,
            url: (offset(url.0)?, offset(url.1)?),
            json: json.into_boxed_str(),
        })
    }

    /// The text, `enabled` written `true`.
    pub(super) fn json(&self) -> &str {
        &self.json
    }

    /// The text with `enabled` as given: what serde_json writes for the
    /// configuration, byte for byte.
    pub(super) fn to_json(&self, enabled: bool) -> String {
        if enabled {
            return self.json.to_string();
        }
        let at = self.enabled_at as usize;
        let mut json = String::with_capacity(self.json.len() + 1);
        json.push_str(&self.json[..at]);
        json.push_str(FALSE);
        json.push_str(&self.json[at + TRUE.len()..]);
        json
    }

    /// Appends [`Stored::to_json`]'s text to `out`, with no copy between.
    pub(super) fn write_json(&self, enabled: bool, out: &mut String) {
        if enabled {
            out.push_str(&self.json);
            return;
        }
        let at = self.enabled_at as usize;
        out.push_str(&self.json[..at]);
        out.push_str(FALSE);
        out.push_str(&self.json[at + TRUE.len()..]);
    }

    /// The URL as configured, unescaped from its JSON string.
    pub(super) fn url(&self) -> std::borrow::Cow<'_, str> {
        let (start, end) = (self.url.0 as usize, self.url.1 as usize);
        let quoted = &self.json[start..end];
        match quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
            // Most URLs: no `"`, `\` or control character to escape.
            Some(bare) if memchr::memchr(b'\\', bare.as_bytes()).is_none() => bare.into(),
            // Escapes are read by serde_json, one string, not the
            // configuration. Its own text always reads back; were it not
            // to, an empty URL would be shown rather than none.
            _ => serde_json::from_str::<String>(quoted)
                .unwrap_or_default()
                .into(),
        }
    }

    /// Whether serde_json writes `config`, `enabled` aside, as this text:
    /// compared as it is written, with no copy of either, stopping at the
    /// first difference.
    pub(super) fn written_by(&self, config: &ServiceConfig) -> bool {
        let at = self.enabled_at as usize;
        let shown = if config.enabled { TRUE } else { FALSE };
        let expected = [
            self.json[..at].as_bytes(),
            shown.as_bytes(),
            self.json[at + TRUE.len()..].as_bytes(),
        ];
        let mut same = Same {
            expected,
            part: 0,
            at: 0,
        };
        serde_json::to_writer(&mut same, &Nested(config)).is_ok() && same.done()
    }
}

impl PartialEq for Stored {
    fn eq(&self, other: &Stored) -> bool {
        // The spans follow from the text.
        self.json == other.json
    }
}

/// What the writer and the formatter share: how much is written, and the
/// spans found.
#[derive(Default)]
struct Marks {
    written: Cell<usize>,
    enabled: Cell<Option<(usize, usize)>>,
    url: Cell<Option<(usize, usize)>>,
}

/// A writer that counts what it has written, for the formatter to read.
struct Counted<'a> {
    out: Vec<u8>,
    marks: &'a Marks,
}

impl io::Write for Counted<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.extend_from_slice(buf);
        self.marks.written.set(self.out.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// serde_json's compact formatter, noting where the top-level `enabled`
/// and `url` values are written.
struct Marking<'a> {
    marks: &'a Marks,
    depth: u32,
    /// The top-level key being written, up to 8 bytes (longer keys are
    /// neither of the two).
    key: [u8; 8],
    key_len: usize,
    in_key: bool,
    /// The value being written at the top level, if it is one of the two,
    /// and where it started.
    value: Option<(Member, usize)>,
}

#[derive(Clone, Copy)]
enum Member {
    Enabled,
    Url,
}

impl<'a> Marking<'a> {
    fn new(marks: &'a Marks) -> Marking<'a> {
        Marking {
            marks,
            depth: 0,
            key: [0; 8],
            key_len: 0,
            in_key: false,
            value: None,
        }
    }
}

impl Formatter for Marking<'_> {
    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth += 1;
        CompactFormatter.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth -= 1;
        CompactFormatter.end_object(writer)
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth += 1;
        CompactFormatter.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth -= 1;
        CompactFormatter.end_array(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if self.depth == 1 {
            self.in_key = true;
            self.key_len = 0;
        }
        CompactFormatter.begin_object_key(writer, first)
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if self.in_key {
            let end = self.key_len + fragment.len();
            if let Some(room) = self.key.get_mut(self.key_len..end) {
                room.copy_from_slice(fragment.as_bytes());
            }
            self.key_len = end;
        }
        CompactFormatter.write_string_fragment(writer, fragment)
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: serde_json::ser::CharEscape,
    ) -> io::Result<()> {
        if self.in_key {
            // Neither key has an escape.
            self.key_len = usize::MAX / 2;
        }
        CompactFormatter.write_char_escape(writer, char_escape)
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.in_key = false;
        CompactFormatter.end_object_key(writer)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        CompactFormatter.begin_object_value(writer)?;
        if self.depth == 1 {
            let member = match self.key.get(..self.key_len) {
                Some(b"enabled") => Some(Member::Enabled),
                Some(b"url") => Some(Member::Url),
                _ => None,
            };
            self.value = member.map(|member| (member, self.marks.written.get()));
        }
        Ok(())
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        if self.depth == 1 {
            if let Some((member, start)) = self.value.take() {
                let span = Some((start, self.marks.written.get()));
                match member {
                    Member::Enabled => self.marks.enabled.set(span),
                    Member::Url => self.marks.url.set(span),
                }
            }
        }
        CompactFormatter.end_object_value(writer)
    }
}

/// A writer that checks what is written against parts of text, in order.
struct Same<'a> {
    expected: [&'a [u8]; 3],
    part: usize,
    at: usize,
}

impl Same<'_> {
    /// Whether all of the text was written.
    fn done(&self) -> bool {
        self.expected
            .iter()
            .enumerate()
            .skip(self.part)
            .all(|(i, part)| part.len() == if i == self.part { self.at } else { 0 })
    }
}

impl io::Write for Same<'_> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let len = buf.len();
        while !buf.is_empty() {
            let Some(part) = self.expected.get(self.part) else {
                return Err(io::ErrorKind::InvalidData.into());
            };
            let rest = &part[self.at..];
            let n = rest.len().min(buf.len());
            if rest[..n] != buf[..n] {
                // The first difference ends the comparison.
                return Err(io::ErrorKind::InvalidData.into());
            }
            buf = &buf[n..];
            self.at += n;
            if self.at == part.len() {
                self.part += 1;
                self.at = 0;
            }
        }
        Ok(len)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> ServiceConfig {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn spans_come_from_the_writer_not_a_layout() {
        // A name holding the text of both members, and `"url"` keys and
        // `enabled`-like text nested in pairs and maps, do not mislead it.
        let tricky = config(serde_json::json!({
            "id": "00000000-0000-4000-8000-000000000001",
            "name": "\"enabled\":true,\"url\":\"x\"",
            "enabled": false,
            "method": "POST",
            "url": "https://crm.example.com/a\"b",
            "body": {"kind": "form", "pairs": [
                {"key": "url", "value": "#agent_id#", "map": {"enabled": "true", "url": "x"}}
            ]},
        }));
        let stored = Stored::of(&tricky).unwrap();
        assert_eq!(stored.url(), "https://crm.example.com/a\"b");
        assert_eq!(
            stored.to_json(false),
            serde_json::to_string(&Nested(&tricky)).unwrap()
        );
        let mut enabled = tricky.clone();
        enabled.enabled = true;
        assert_eq!(
            stored.to_json(true),
            serde_json::to_string(&Nested(&enabled)).unwrap()
        );
        assert!(stored.written_by(&tricky));
        assert!(stored.written_by(&enabled));
        let mut renamed = tricky.clone();
        renamed.name.push('!');
        assert!(!stored.written_by(&renamed));
        renamed.name.pop();
        renamed.secret_parameters.push("x".into());
        assert!(
            !stored.written_by(&renamed),
            "a longer text is not the same"
        );
    }
}
