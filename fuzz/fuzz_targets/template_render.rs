//! Templates rendered against fuzzed call data, with parser oracles: what a
//! template renders must read back, through the parser of the context it was
//! compiled for, as the structure the template had and the exact values it
//! was given.
//!
//! The input (see [`parse`]: bytes split at 0xFF, so seeds stay readable)
//! holds a mode, options, call data whose values are fuzzed (text, numbers,
//! timestamps with offsets, durations, null), a template source and a list
//! of structured "slots". The mode byte, modulo 8, picks (for fragments, the
//! mode divided by 8 picks the context):
//!
//! - **fragment**: the source compiled for one of the fragment contexts
//!   (`JsonString`, `JsonValue`, `XmlText`, `XmlAttribute`, `XmlCdata`,
//!   `Form`, `UrlQuery`, `UrlPath`, `Header`) and for `Plain`. `Plain` is the
//!   reference: it prints literals and values with no escaping, so what the
//!   fragment renders, read back by the context's parser, must equal it
//!   (XML first turns the characters XML forbids into U+FFFD; a header turns
//!   controls into spaces).
//! - **json / xml / url document**: the fuzzed source compiled for
//!   `Context::Json`, `Context::Xml` or `Context::Url`; the render must parse
//!   (serde_json; quick-xml with the checks the compiler itself makes; the
//!   `http` crate, keeping the scheme and authority of the template).
//! - **structured json / xml / form / url**: documents built from slots
//!   (`literal placeholder literal`, literals limited to characters that
//!   stand for themselves there), so each value must read back exactly:
//!   `Plain`'s render of the slot, between its literals.
#![no_main]

use callhook::template::{Context, Options, Template};
use callhook::{CallData, ErrorKind, Missing, Syntax, Value};
use chrono::{DateTime, FixedOffset, Utc};
use libfuzzer_sys::fuzz_target;

/// Fields of the standard catalog, one or more of each type.
const FIELDS: &[&str] = &[
    "agent_id",
    "ani",
    "recording_url",
    "uniqueid",
    "call_start",
    "created_at",
    "event_time",
    "duration",
    "duration_time",
    "ring_duration",
    "sequence",
    "status",
];

/// Formats a slot may name (some do not fit every field: those fail to
/// compile and the input is skipped).
const FORMATS: &[&str] = &[
    "ansi",
    "rfc3339",
    "rfc2822",
    "unix",
    "unix_ms",
    "seconds",
    "hms",
    "strftime:%d/%m/%Y %H:%M:%S%.3f %z",
    "strftime:<%a> & \"%b\" '%Y'",
];

#[derive(Debug)]
enum ValueIn {
    Null,
    Text(String),
    Integer(i64),
    Decimal(f64),
    Bool(bool),
    Timestamp { secs: i64, nanos: u32, offset: i32 },
    Duration { secs: u64, nanos: u32 },
}

#[derive(Debug)]
struct SlotIn {
    field: u8,
    /// Low three bits: 0 none, 1 `default:TEXT`, 2 a format from `FORMATS`
    /// (the rest of the byte picks which), 3 `strftime:TEXT`, 4 a format and
    /// a default.
    option: u8,
    text: String,
    before: String,
    after: String,
}

#[derive(Debug)]
struct Input {
    mode: u8,
    brackets: bool,
    lenient: bool,
    missing: u8,
    values: Vec<(u8, ValueIn)>,
    slots: Vec<SlotIn>,
    source: String,
}

/// The first `N` bytes of `payload`, zero-padded.
fn bytes<const N: usize>(payload: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    let n = payload.len().min(N);
    out[..n].copy_from_slice(&payload[..n]);
    out
}

/// A number written in ASCII (so seeds stay readable), else little-endian
/// bytes.
fn number<T: std::str::FromStr>(payload: &[u8], from_le: impl Fn(&[u8]) -> T) -> T {
    std::str::from_utf8(payload)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| from_le(payload))
}

fn value_in(kind: u8, payload: &[u8]) -> ValueIn {
    let text = || String::from_utf8_lossy(payload).into_owned();
    // Timestamps and durations as `a,b,c` in ASCII, else bytes.
    let parts: Vec<&[u8]> = payload.split(|&b| b == b',').collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or(&[]);
    match kind % 7 {
        0 => ValueIn::Null,
        1 => ValueIn::Text(text()),
        2 => ValueIn::Integer(number(payload, |b| i64::from_le_bytes(bytes(b)))),
        3 => ValueIn::Decimal(number(payload, |b| f64::from_le_bytes(bytes(b)))),
        4 => ValueIn::Bool(payload.first().is_some_and(|b| b & 1 == 1)),
        5 if parts.len() == 3 => ValueIn::Timestamp {
            secs: number(part(0), |b| i64::from_le_bytes(bytes(b))),
            nanos: number(part(1), |b| u32::from_le_bytes(bytes(b))),
            offset: number(part(2), |b| i32::from_le_bytes(bytes(b))),
        },
        5 => ValueIn::Timestamp {
            secs: i64::from_le_bytes(bytes(payload)),
            nanos: u32::from_le_bytes(bytes(payload.get(8..).unwrap_or(&[]))),
            offset: i32::from_le_bytes(bytes(payload.get(12..).unwrap_or(&[]))),
        },
        _ if parts.len() == 2 => ValueIn::Duration {
            secs: number(part(0), |b| u64::from_le_bytes(bytes(b))),
            nanos: number(part(1), |b| u32::from_le_bytes(bytes(b))),
        },
        _ => ValueIn::Duration {
            secs: u64::from_le_bytes(bytes(payload)),
            nanos: u32::from_le_bytes(bytes(payload.get(8..).unwrap_or(&[]))),
        },
    }
}

/// Reads the input: a mode byte, a flags byte (bit 0 brackets, bit 1
/// lenient, bits 2-3 the missing-value policy), then sections separated by
/// 0xFF (a byte UTF-8 never holds): the template source first, then values
/// and slots. A section whose first byte is below 0x80 is a value: that byte
/// picks the field, the next one the kind (0 null, 1 text, 2 integer, 3
/// decimal, 4 boolean, 5 timestamp `secs,nanos,offset`, 6 duration
/// `secs,nanos`), and the rest is the text or number. Otherwise it is a
/// slot: the low seven bits pick the field, the next byte is the option, and
/// the rest is the option's text, the literal before and the literal after,
/// separated by 0xFE.
fn parse(data: &[u8]) -> Option<Input> {
    let (&mode, rest) = data.split_first()?;
    let (&flags, rest) = rest.split_first()?;
    let mut sections = rest.split(|&b| b == 0xFF);
    let source = String::from_utf8_lossy(sections.next().unwrap_or(&[])).into_owned();
    let mut values = Vec::new();
    let mut slots = Vec::new();
    for section in sections.take(32) {
        let Some((&tag, body)) = section.split_first() else {
            continue;
        };
        let (&kind, payload) = body.split_first().unwrap_or((&0, &[]));
        if tag & 0x80 == 0 {
            values.push((tag, value_in(kind, payload)));
        } else {
            let mut parts = payload
                .split(|&b| b == 0xFE)
                .map(|p| String::from_utf8_lossy(p).into_owned());
            slots.push(SlotIn {
                field: tag & 0x7f,
                option: kind,
                text: parts.next().unwrap_or_default(),
                before: parts.next().unwrap_or_default(),
                after: parts.next().unwrap_or_default(),
            });
        }
    }
    Some(Input {
        mode,
        brackets: flags & 1 != 0,
        lenient: flags & 2 != 0,
        missing: flags >> 2,
        values,
        slots,
        source,
    })
}

/// The fragment contexts: every one of `Context::ALL` but the documents
/// (modes 1 to 7 render those) and `Plain` (the oracle's reference), in the
/// list's order so stored inputs keep their meaning. A context added to the
/// library comes here and fails at `fragment` until it has an oracle.
fn fragments() -> Vec<Context> {
    Context::ALL
        .into_iter()
        .filter(|c| {
            !matches!(
                c,
                Context::Json | Context::Xml | Context::Url | Context::Plain
            )
        })
        .collect()
}

fn timestamp(secs: i64, nanos: u32, offset: i32) -> Option<DateTime<FixedOffset>> {
    let min = DateTime::<Utc>::MIN_UTC.timestamp();
    let max = DateTime::<Utc>::MAX_UTC.timestamp();
    // Clamped, so the extremes (where overflows hide) are easy to reach.
    let secs = secs.clamp(min, max);
    // Nanoseconds above a second are a leap second, valid at :59 only.
    let utc = DateTime::from_timestamp(secs, nanos % 2_000_000_000)
        .or_else(|| DateTime::from_timestamp(secs, nanos % 1_000_000_000))?;
    let offset = FixedOffset::east_opt(offset % 86_400)?;
    // A finding, fixed: a timestamp whose local time (UTC plus its offset)
    // is outside chrono's range, such as `DateTime::<Utc>::MAX_UTC` at
    // +01:00, panicked in the render; it now prints the instant in UTC.
    Some(utc.with_timezone(&offset))
}

fn value(v: &ValueIn) -> Option<Value> {
    Some(match v {
        ValueIn::Null => Value::Null,
        ValueIn::Text(s) => Value::Text(s.clone()),
        ValueIn::Integer(i) => Value::Integer(*i),
        ValueIn::Decimal(d) => Value::Decimal(*d),
        ValueIn::Bool(b) => Value::Bool(*b),
        ValueIn::Timestamp {
            secs,
            nanos,
            offset,
        } => Value::Timestamp(timestamp(*secs, *nanos, *offset)?),
        ValueIn::Duration { secs, nanos } => {
            Value::Duration(std::time::Duration::new(*secs, nanos % 1_000_000_000))
        }
    })
}

/// With `CALLHOOK_FUZZ_DEBUG` set, says what each input does (to check that
/// a seed or a crash input reaches what it is meant to).
fn debug(message: std::fmt::Arguments<'_>) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("CALLHOOK_FUZZ_DEBUG").is_some()) {
        eprintln!("{message}");
    }
}

fn render(template: &Template, data: &CallData) -> Result<Vec<u8>, callhook::Error> {
    let mut out = b"prefix".to_vec();
    let result = template.render_into(data, &mut out);
    match result {
        Ok(()) => {
            assert_eq!(&out[..6], b"prefix");
            Ok(out.split_off(6))
        }
        Err(e) => {
            // "On error `out` is left as it was before the call."
            assert_eq!(out, b"prefix");
            Err(e)
        }
    }
}

/// A render error must be one the context or the options allow.
fn allowed_error(e: &callhook::Error, context: Context, missing: Option<Missing>) {
    match e.kind() {
        ErrorKind::MissingValue => assert_eq!(missing, Some(Missing::Error), "{e}"),
        ErrorKind::UnsafeValue => assert!(
            matches!(context, Context::Header | Context::UrlPath | Context::Url),
            "{context:?}: {e}"
        ),
        other => panic!("unexpected render error {other:?}: {e}"),
    }
}

fn utf8(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("renders are UTF-8")
}

fn xml_allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// What XML can carry of `text`: the characters it forbids become U+FFFD.
fn xml_sanitized(text: &str) -> String {
    text.chars()
        .map(|c| if xml_allowed(c) { c } else { '\u{FFFD}' })
        .collect()
}

fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            assert!(
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'),
                "byte {b:#x} not percent-encoded in {text:?}"
            );
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

/// Whether two JSON scalars are the same: integers exactly; other numbers as
/// `f64` to within a few units in the last place, since serde_json (without
/// its `float_roundtrip` feature) parses floats to within an ulp or two, not
/// correctly rounded.
fn same_scalar(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a, b) {
        (serde_json::Value::Number(x), serde_json::Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                return x == y;
            }
            if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                return x == y;
            }
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-14 * x.abs().max(y.abs()),
                _ => false,
            }
        }
        _ => a == b,
    }
}

/// `Plain`'s render, the reference, against a typed whole JSON value.
fn check_json_value(out: &str, plain: &str) {
    let parsed: serde_json::Value =
        serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON: {out:?}: {e}"));
    match &parsed {
        serde_json::Value::String(s) => assert_eq!(s, plain, "JSON value {out:?}"),
        serde_json::Value::Null => assert!(
            matches!(plain, "" | "NaN" | "inf" | "-inf")
                || serde_json::from_str::<serde_json::Value>(plain).ok()
                    == Some(serde_json::Value::Null),
            "null for {plain:?}"
        ),
        serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
            let expected = serde_json::from_str::<serde_json::Value>(plain).ok();
            assert!(
                expected.as_ref().is_some_and(|e| same_scalar(e, &parsed)),
                "JSON value {out:?} for {plain:?}"
            );
        }
        _ => panic!("a JSON value rendered as {out:?}"),
    }
}

/// Checks an XML document as the compiler checks its templates: no raw C1
/// control, events read to the end with no error (quick-xml's duplicate
/// attribute check on: fuzzed documents are small), every text and attribute
/// value unescapes, the elements close, and there is one root. The
/// compiler's namespace checks are not repeated: a placeholder can stand in
/// no name and no namespace declaration, so a render keeps the template's.
fn check_xml_document(text: &str) {
    use quick_xml::events::Event;
    // C1 controls, which XML 1.1 reads otherwise, are written as references.
    assert!(
        !text.chars().any(|c| matches!(c, '\u{80}'..='\u{9F}')),
        "a raw C1 control: {text:?}"
    );
    let mut reader = quick_xml::Reader::from_str(text);
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed XML: {e}: {text:?}"));
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                if depth == 0 {
                    roots += 1;
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
                for a in e.attributes() {
                    let a = a.unwrap_or_else(|e| panic!("bad attribute: {e}: {text:?}"));
                    a.unescape_value()
                        .unwrap_or_else(|e| panic!("bad attribute value: {e}: {text:?}"));
                }
            }
            Event::End(_) => {
                assert!(depth > 0, "end tag with nothing open: {text:?}");
                depth -= 1;
            }
            Event::Text(t) => {
                assert!(
                    depth > 0 || t.iter().all(u8::is_ascii_whitespace),
                    "text outside the root element: {text:?}"
                );
                t.unescape()
                    .unwrap_or_else(|e| panic!("bad text: {e}: {text:?}"));
            }
            Event::CData(_) => assert!(depth > 0, "CDATA outside the root: {text:?}"),
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "an element is not closed: {text:?}");
    assert_eq!(roots, 1, "not one root element: {text:?}");
}

/// The character data (text unescaped, CDATA as is) directly inside each
/// element named `name`, and each attribute of elements named `name`.
fn xml_contents(text: &str, name: &[u8]) -> (Vec<String>, Vec<(String, String)>) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut contents = Vec::new();
    let mut attributes = Vec::new();
    let mut inside: Option<String> = None;
    loop {
        match reader.read_event().expect("checked already") {
            event @ (Event::Start(_) | Event::Empty(_)) => {
                let (Event::Start(e) | Event::Empty(e)) = &event else {
                    unreachable!()
                };
                if e.name().as_ref() != name {
                    continue;
                }
                for a in e.attributes() {
                    let a = a.expect("checked already");
                    attributes.push((
                        String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                        a.unescape_value().expect("checked already").into_owned(),
                    ));
                }
                if matches!(event, Event::Start(_)) {
                    inside = Some(String::new());
                } else {
                    contents.push(String::new());
                }
            }
            Event::End(e) if e.name().as_ref() == name => {
                contents.push(inside.take().expect("open"));
            }
            Event::Text(t) => {
                if let Some(s) = &mut inside {
                    s.push_str(&t.unescape().expect("checked already"));
                }
            }
            Event::CData(c) => {
                if let Some(s) = &mut inside {
                    s.push_str(std::str::from_utf8(&c).unwrap());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (contents, attributes)
}

/// Keeps the characters of `text` for which `keep` holds, up to 16.
fn only(text: &str, keep: impl Fn(char) -> bool) -> String {
    text.chars().filter(|&c| keep(c)).take(16).collect()
}

/// Characters that could start or end a placeholder of either syntax.
fn not_delimiter(c: char) -> bool {
    !matches!(c, '#' | '[' | ']' | '|')
}

struct Built {
    /// The slot's placeholder as written.
    placeholder: String,
    before: String,
    after: String,
}

/// A slot's placeholder, with its literals kept to what `keep` allows.
fn build(slot: &SlotIn, syntax: Syntax, keep: &dyn Fn(char) -> bool) -> Built {
    let field = FIELDS[usize::from(slot.field) % FIELDS.len()];
    let text = only(&slot.text, |c| not_delimiter(c) && c != '\n');
    let format = FORMATS[usize::from(slot.option / 8) % FORMATS.len()];
    let options = match slot.option % 8 {
        1 => format!("|default:{text}"),
        2 => format!("|{format}"),
        3 => format!("|strftime:{text}"),
        4 => format!("|{format}|default:{text}"),
        _ => String::new(),
    };
    let (open, close) = match syntax {
        Syntax::Hash => ("#", "#"),
        _ => ("[[", "]]"),
    };
    Built {
        placeholder: format!("{open}{field}{options}{close}"),
        before: only(&slot.before, |c| not_delimiter(c) && keep(c)),
        after: only(&slot.after, |c| not_delimiter(c) && keep(c)),
    }
}

struct Run<'a> {
    options: Options<'static>,
    missing: Option<Missing>,
    data: &'a CallData,
}

impl Run<'_> {
    fn compile(&self, source: &str, context: Context) -> Option<Template> {
        Template::compile(source, context, &self.options).ok()
    }

    /// `Plain`'s render of `source`: literals and values with no escaping.
    fn plain(&self, source: &str) -> Option<String> {
        let template = self.compile(source, Context::Plain)?;
        render(&template, self.data)
            .ok()
            .map(|out| utf8(&out).to_owned())
    }

    /// Renders `source` for `context`; `None` where it does not compile or
    /// the render is refused as the context allows.
    fn render(&self, source: &str, context: Context) -> Option<String> {
        let template = match Template::compile(source, context, &self.options) {
            Ok(template) => template,
            Err(e) => {
                debug(format_args!("{context:?} {source:?} does not compile: {e}"));
                return None;
            }
        };
        match render(&template, self.data) {
            Ok(out) => {
                let out = utf8(&out).to_owned();
                debug(format_args!("{context:?} {source:?} renders {out:?}"));
                Some(out)
            }
            Err(e) => {
                debug(format_args!("{context:?} {source:?} is refused: {e}"));
                allowed_error(&e, context, self.missing);
                None
            }
        }
    }

    fn fragment(&self, source: &str, context: Context) {
        let Some(out) = self.render(source, context) else {
            return;
        };
        let Some(plain) = self.plain(source) else {
            return;
        };
        match context {
            Context::JsonString => {
                let back: String = serde_json::from_str(&format!("\"{out}\""))
                    .unwrap_or_else(|e| panic!("not a JSON string: {out:?}: {e}"));
                assert_eq!(back, plain);
            }
            Context::JsonValue => check_json_value(&out, &plain),
            Context::XmlText | Context::XmlCdata => {
                let doc = if context == Context::XmlText {
                    format!("<r>{out}</r>")
                } else {
                    format!("<r><![CDATA[{out}]]></r>")
                };
                check_xml_document(&doc);
                let (contents, _) = xml_contents(&doc, b"r");
                assert_eq!(contents, [xml_sanitized(&plain)], "{doc:?}");
            }
            Context::XmlAttribute => {
                for quote in ['"', '\''] {
                    let doc = format!("<r a={quote}{out}{quote}/>");
                    check_xml_document(&doc);
                    let (_, attributes) = xml_contents(&doc, b"r");
                    assert_eq!(
                        attributes,
                        [("a".to_owned(), xml_sanitized(&plain))],
                        "{doc:?}"
                    );
                }
            }
            Context::Form => {
                let body = format!("k={out}");
                let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect();
                assert_eq!(pairs, [("k".to_owned(), plain)], "{body:?}");
            }
            Context::UrlQuery | Context::UrlPath => {
                let back = percent_decode(&out).unwrap_or_else(|| panic!("bad escape {out:?}"));
                assert_eq!(back, plain.as_bytes(), "{out:?}");
                if context == Context::UrlPath {
                    // One segment, and never a dot segment, which a client
                    // would resolve away.
                    assert!(!out.contains('/'), "{out:?}");
                    assert!(out != "." && out != "..", "dot segment {out:?}");
                }
            }
            Context::Header => {
                http::HeaderValue::from_bytes(out.as_bytes())
                    .unwrap_or_else(|e| panic!("not a header value: {out:?}: {e}"));
                assert!(!plain.contains(['\r', '\n', '\0']), "{plain:?} was sent");
                let expected: String = plain
                    .chars()
                    .map(|c| {
                        if c.is_ascii_control() && c != '\t' {
                            ' '
                        } else {
                            c
                        }
                    })
                    .collect();
                assert_eq!(out, expected);
            }
            other => unreachable!("no oracle for {other:?}"),
        }
    }

    fn json_document(&self, source: &str) {
        if let Some(out) = self.render(source, Context::Json) {
            serde_json::from_str::<serde::de::IgnoredAny>(&out)
                .unwrap_or_else(|e| panic!("not JSON: {e}: {out:?} from {source:?}"));
        }
    }

    fn xml_document(&self, source: &str) {
        if let Some(out) = self.render(source, Context::Xml) {
            check_xml_document(&out);
        }
    }

    fn url_document(&self, source: &str) {
        let Some(template) = self.compile(source, Context::Url) else {
            return;
        };
        // With no values at all: the template's own scheme and authority.
        let bare = match render(&template, &CallData::new()) {
            Ok(out) => utf8(&out).to_owned(),
            Err(e) => {
                allowed_error(&e, Context::Url, self.missing);
                return;
            }
        };
        let bare_text = bare;
        let bare: http::Uri = bare_text
            .parse()
            .unwrap_or_else(|e| panic!("the URL without values is invalid: {e}: {bare_text:?}"));
        let out = match render(&template, self.data) {
            Ok(out) => utf8(&out).to_owned(),
            Err(e) => {
                allowed_error(&e, Context::Url, self.missing);
                return;
            }
        };
        let uri: http::Uri = out
            .parse()
            .unwrap_or_else(|e| panic!("not a URI: {e}: {out:?} from {source:?}"));
        assert_eq!(uri.scheme(), bare.scheme(), "{out:?}");
        assert_eq!(uri.authority(), bare.authority(), "{out:?}");
        assert_eq!(uri.host(), bare.host(), "{out:?}");
        // The url crate, which most clients parse with, must see the same
        // host and port as in the template too.
        if let Ok(expected) = url::Url::parse(&bare_text) {
            let parsed = url::Url::parse(&out)
                .unwrap_or_else(|e| panic!("the url crate refuses {out:?}: {e}"));
            assert_eq!(parsed.host_str(), expected.host_str(), "{out:?}");
            assert_eq!(parsed.port(), expected.port(), "{out:?}");
            // No `.` or `..` segment reaches a client, which would resolve
            // it: what it sends is the path rendered.
            assert_eq!(parsed.path(), uri.path(), "{out:?}");
        }
    }

    fn structured_json(&self, slots: &[SlotIn], syntax: Syntax) {
        let keep = |c: char| !matches!(c, '"' | '\\') && !c.is_control();
        let built: Vec<Built> = slots.iter().map(|s| build(s, syntax, &keep)).collect();
        let strings: Vec<String> = built
            .iter()
            .map(|b| format!("\"{}{}{}\"", b.before, b.placeholder, b.after))
            .collect();
        let values: Vec<&str> = built.iter().map(|b| b.placeholder.as_str()).collect();
        let source = format!(
            "{{\"s\": [{}], \"v\": [{}]}}",
            strings.join(", "),
            values.join(", ")
        );
        let Some(out) = self.render(&source, Context::Json) else {
            return;
        };
        let parsed: serde_json::Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("not JSON: {e}: {out:?} from {source:?}"));
        for (i, b) in built.iter().enumerate() {
            let Some(plain) = self.plain(&b.placeholder) else {
                return;
            };
            let expected = format!("{}{plain}{}", b.before, b.after);
            assert_eq!(
                parsed["s"][i],
                serde_json::Value::String(expected),
                "{out:?}"
            );
            check_json_value(&parsed["v"][i].to_string(), &plain);
        }
    }

    fn structured_xml(&self, slots: &[SlotIn], syntax: Syntax) {
        let keep = |c: char| {
            !matches!(c, '<' | '>' | '&' | '"' | '\'' | ']') && !c.is_control() && xml_allowed(c)
        };
        let built: Vec<Built> = slots.iter().map(|s| build(s, syntax, &keep)).collect();
        let mut source = String::from("<r");
        for (i, b) in built.iter().enumerate() {
            source.push_str(&format!(
                " a{i}=\"{}{}{}\"",
                b.before, b.placeholder, b.after
            ));
        }
        source.push('>');
        for b in &built {
            source.push_str(&format!("<t>{}{}{}</t>", b.before, b.placeholder, b.after));
            source.push_str(&format!(
                "<c><![CDATA[{}{}{}]]></c>",
                b.before, b.placeholder, b.after
            ));
        }
        source.push_str("</r>");
        let Some(out) = self.render(&source, Context::Xml) else {
            return;
        };
        check_xml_document(&out);
        let (_, attributes) = xml_contents(&out, b"r");
        let (texts, _) = xml_contents(&out, b"t");
        let (cdatas, _) = xml_contents(&out, b"c");
        assert_eq!(attributes.len(), built.len(), "{out:?}");
        assert_eq!(texts.len(), built.len(), "{out:?}");
        assert_eq!(cdatas.len(), built.len(), "{out:?}");
        for (i, b) in built.iter().enumerate() {
            let Some(plain) = self.plain(&b.placeholder) else {
                return;
            };
            let expected = format!("{}{}{}", b.before, xml_sanitized(&plain), b.after);
            assert_eq!(
                attributes[i],
                (format!("a{i}"), expected.clone()),
                "{out:?}"
            );
            assert_eq!(texts[i], expected, "{out:?}");
            assert_eq!(cdatas[i], expected, "{out:?}");
        }
    }

    fn structured_form(&self, slots: &[SlotIn], syntax: Syntax) {
        let keep = |_: char| true;
        let built: Vec<Built> = slots.iter().map(|s| build(s, syntax, &keep)).collect();
        let mut body = String::new();
        let mut expected = Vec::new();
        // Pairs of slots: the first is the key, the second the value.
        for pair in built.chunks(2) {
            let mut parts = Vec::new();
            for b in pair {
                let source = format!("{}{}{}", b.before, b.placeholder, b.after);
                let Some(out) = self.render(&source, Context::Form) else {
                    return;
                };
                let Some(plain) = self.plain(&b.placeholder) else {
                    return;
                };
                parts.push((out, format!("{}{plain}{}", b.before, b.after)));
            }
            if !body.is_empty() {
                body.push('&');
            }
            body.push_str(&parts[0].0);
            body.push('=');
            let value = parts.get(1).map(|p| p.1.clone()).unwrap_or_default();
            if let Some(p) = parts.get(1) {
                body.push_str(&p.0);
            }
            expected.push((parts[0].1.clone(), value));
        }
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs, expected, "{body:?}");
    }

    fn structured_url(&self, slots: &[SlotIn], syntax: Syntax) {
        let keep = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '~');
        let built: Vec<Built> = slots.iter().map(|s| build(s, syntax, &keep)).collect();
        let mut source = String::from("https://example.com/s");
        for b in &built {
            source.push_str(&format!("/{}{}{}", b.before, b.placeholder, b.after));
        }
        source.push_str("?x=1");
        for (i, b) in built.iter().enumerate() {
            source.push_str(&format!("&q{i}={}{}{}", b.before, b.placeholder, b.after));
        }
        let Some(out) = self.render(&source, Context::Url) else {
            return;
        };
        let uri: http::Uri = out
            .parse()
            .unwrap_or_else(|e| panic!("not a URI: {e}: {out:?}"));
        assert_eq!(uri.host(), Some("example.com"), "{out:?}");
        let segments: Vec<&str> = uri.path().split('/').skip(2).collect();
        assert!(
            segments.iter().all(|s| *s != "." && *s != ".."),
            "dot segment in {out:?}"
        );
        let query: Vec<&str> = uri.query().unwrap_or("").split('&').skip(1).collect();
        assert_eq!(segments.len(), built.len(), "{out:?}");
        assert_eq!(query.len(), built.len(), "{out:?}");
        for (i, b) in built.iter().enumerate() {
            let Some(plain) = self.plain(&b.placeholder) else {
                return;
            };
            let expected = format!("{}{plain}{}", b.before, b.after);
            let segment = percent_decode(segments[i]).expect("escaped");
            assert_eq!(segment, expected.as_bytes(), "{out:?}");
            let value = query[i]
                .strip_prefix(&format!("q{i}="))
                .unwrap_or_else(|| panic!("query pair {i} lost: {out:?}"));
            assert_eq!(percent_decode(value).expect("escaped"), expected.as_bytes());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = parse(data) else {
        return;
    };
    // A finding, fixed: the parse-only strftime item `%#z` compiled and
    // panicked in the render; it is now refused when compiled.
    let syntax = if input.brackets {
        Syntax::Brackets
    } else {
        Syntax::Hash
    };
    let missing = match input.missing % 4 {
        1 => Some(Missing::Empty),
        2 => Some(Missing::Null),
        3 => Some(Missing::Error),
        _ => None,
    };
    let mut options = Options::default().with_syntax(syntax).with_lenient(input.lenient);
    if let Some(m) = missing {
        options = options.with_missing(m);
    }
    let mut data = CallData::new();
    for (field, v) in &input.values {
        if let Some(v) = value(v) {
            data.insert(FIELDS[usize::from(*field) % FIELDS.len()], v);
        }
    }
    let run = Run {
        options,
        missing,
        data: &data,
    };
    let slots = &input.slots[..input.slots.len().min(8)];
    match input.mode % 8 {
        0 => run.fragment(&input.source, {
            let fragments = fragments();
            fragments[usize::from(input.mode / 8) % fragments.len()]
        }),
        1 => run.json_document(&input.source),
        2 => run.xml_document(&input.source),
        3 => run.url_document(&input.source),
        4 => run.structured_json(slots, syntax),
        5 => run.structured_xml(slots, syntax),
        6 => run.structured_form(slots, syntax),
        _ => run.structured_url(slots, syntax),
    }
});
