//! What a compiled template is made of, and how one placeholder renders.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;

use super::escape::json_string;
use super::{Context, Missing};
use crate::call::Lookup;
use crate::catalog::{FieldKey, Positions};
use crate::error::{Error, ErrorKind};
use crate::format::{self, Format, Printed};
use crate::limits::RENDER_BYTES;
use crate::phone::Phone;
use crate::value::Value;
use crate::zone::Zone;

/// One step of a render: the next `literal_len` bytes of the template's one
/// buffer of literals (possibly none), then a slot: 20 bytes. What the last
/// step leaves of the literals ends the render. Pairing them halves the
/// steps, which matters when there are many short literals between
/// placeholders, and every step has a slot, so the render tests none.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    pub(crate) slot: Slot,
    /// How long this step's literal is; it starts where the last one ended.
    pub(crate) literal_len: u32,
}

/// One checked placeholder in 16 bytes, what the render reads and nothing
/// else: a service holds thousands of them at platform scale. The field's
/// name is in the catalog positions the template shares, a strftime
/// pattern, a default and a value map in the template's extras; the
/// position in the source is kept beside the steps, for errors.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Slot {
    pub(crate) key: FieldKey,
    /// Index + 1 in the template's extras; 0 for none.
    pub(crate) extra: u16,
    /// The format, as an index in [`FORMATS`], or [`STRFTIME`] for the
    /// pattern in the slot's extra.
    pub(crate) format: u8,
    pub(crate) context: Context,
    pub(crate) missing: Missing,
    pub(crate) timestamp_output: Output,
    pub(crate) duration_output: Output,
    /// Text inside a JSON string with no map: the common case, kept to one
    /// test on the render path.
    pub(crate) text_in_json_string: bool,
}

/// The formats a slot names by index; any other (a strftime pattern) is in
/// its extra.
pub(crate) static FORMATS: [Format; 8] = [
    Format::Natural,
    Format::Ansi,
    Format::Rfc3339,
    Format::Rfc2822,
    Format::UnixSeconds,
    Format::UnixMillis,
    Format::Seconds,
    Format::Hms,
];

/// A slot's `format` when its format is its extra's pattern.
pub(crate) const STRFTIME: u8 = u8::MAX;

/// What few placeholders have: a strftime format, `default:` text, a
/// pair's value map, and the shaping options (a phone format, a time zone,
/// text functions).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Extra {
    pub(crate) format: Option<Format>,
    pub(crate) default: Option<Box<str>>,
    /// Replacements for the printed value, applied before it is escaped.
    pub(crate) map: Option<Arc<BTreeMap<String, String>>>,
    /// The zone a timestamp is converted to before its format prints it.
    pub(crate) zone: Option<Zone>,
    /// What is done to the value as text: a phone format, then the text
    /// functions. `None` for most, which keeps their render as it was.
    pub(crate) text: Option<Box<TextSteps>>,
}

/// The steps a value takes as text, in the pipeline's order: a phone
/// format, then the case, then the truncation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TextSteps {
    pub(crate) phone: Option<Phone>,
    pub(crate) case: Option<Case>,
    /// Characters (Unicode scalar values) kept.
    pub(crate) truncate: Option<u32>,
}

/// A text function that changes case (Unicode's full mappings, so `ß`
/// upper-cases to `SS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    Upper,
    Lower,
}

/// Where a placeholder stands: which of the template's fragments (the texts
/// it was compiled from, in order) and the byte offset in it. Line and
/// column are worked out from the text only when an error is reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Spot {
    pub(crate) fragment: u32,
    pub(crate) offset: u32,
}

/// How a slot's formatted value reaches the output, decided at compile time
/// from what the format prints and where the slot stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// As printed.
    Bare,
    /// In JSON quotes: plain ASCII standing as a whole JSON value.
    Quoted,
    /// Escaped for the context like any text.
    Escaped,
}

impl Output {
    pub(crate) fn of(printed: Printed, context: Context) -> Output {
        match (printed, context) {
            // Digits, `-` and `.` are safe in every context.
            (Printed::Number, _) => Output::Bare,
            (
                Printed::PlainAscii,
                Context::Json
                | Context::JsonString
                | Context::Xml
                | Context::XmlText
                | Context::XmlAttribute
                | Context::Header
                | Context::Plain,
            ) => Output::Bare,
            (Printed::PlainAscii, Context::JsonValue) => Output::Quoted,
            _ => Output::Escaped,
        }
    }
}

impl Slot {
    /// The slot with what its template keeps for it.
    #[inline]
    pub(crate) fn bind<'t>(&'t self, shared: &'t Shared<'t>) -> Bound<'t> {
        Bound { slot: self, shared }
    }
}

/// What a template keeps for its slots: the catalog positions their fields
/// are named in, and their extras.
pub(crate) struct Shared<'t> {
    pub(crate) positions: &'t Positions,
    pub(crate) extras: &'t [Extra],
}

/// A slot bound to what its template keeps for it, to render.
///
/// `Copy`, and taken by value where the render loop calls out of line
/// ([`Bound::found`]), so that it travels as two registers: taken by
/// reference, it was built on the stack for every slot whenever LLVM did not
/// promote the reference itself, which an unrelated change elsewhere in
/// the crate could decide (3 to 4 % of a PBX render).
#[derive(Clone, Copy)]
pub(crate) struct Bound<'t> {
    slot: &'t Slot,
    shared: &'t Shared<'t>,
}

impl std::ops::Deref for Bound<'_> {
    type Target = Slot;

    fn deref(&self) -> &Slot {
        self.slot
    }
}

/// The error for a render that would be longer than [`RENDER_BYTES`],
/// naming the field that made it so where one did.
#[cold]
pub(crate) fn too_long(field: Option<&str>) -> Error {
    let message = match field {
        Some(field) => format!(
            "field `{}` makes the rendered text longer than the limit of {RENDER_BYTES} bytes (`limits::RENDER_BYTES`)",
            crate::error::shown(field)
        ),
        None => format!("the rendered text is longer than the limit of {RENDER_BYTES} bytes (`limits::RENDER_BYTES`)"),
    };
    Error::new(ErrorKind::UnsafeValue, message)
}

impl Bound<'_> {
    fn name(&self) -> &str {
        self.slot.key.name(self.shared.positions)
    }

    /// This slot made the render longer than [`RENDER_BYTES`].
    pub(crate) fn too_long(self) -> Error {
        too_long(Some(self.name()))
    }

    /// The slot's extra; most have none, which one test tells.
    #[inline]
    fn extra(&self) -> Option<&Extra> {
        let index = usize::from(self.slot.extra).checked_sub(1)?;
        self.shared.extras.get(index)
    }

    /// Renders the slot: the common case (text inside a JSON string) in
    /// the render loop itself, anything else in [`Bound::found`].
    #[inline(always)]
    pub(crate) fn render<L: Lookup + ?Sized>(
        &self,
        data: &L,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let key = &self.slot.key;
        if key.builtin.is_some() {
            if let Some(text) = data.builtin_text(key) {
                return self.text_value(text, out);
            }
        }
        match data.lookup(self.shared.positions, key) {
            Some(Value::Text(s)) if self.text_in_json_string => {
                json_string(s, out);
                Ok(())
            }
            found => self.found(found, out),
        }
    }

    /// Renders what the lookup found for the slot, or its absence: kept
    /// small, a slot with an extra handled out of line.
    #[inline(never)]
    fn found(self, found: Option<&Value>, out: &mut Vec<u8>) -> Result<(), Error> {
        match found {
            Some(Value::Text(s)) => self.text_value(s, out),
            Some(value) => match self.extra() {
                None => self.value(value, out),
                Some(extra) => self.found_extra(extra, found, out),
            },
            None => match self.extra() {
                None => self.absent(out),
                Some(extra) => self.found_extra(extra, None, out),
            },
        }
    }

    /// What the lookup found for a slot with an extra (a map, a default, a
    /// strftime pattern, a zone or text steps), or its absence.
    #[inline(never)]
    fn found_extra(
        self,
        extra: &Extra,
        found: Option<&Value>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        if extra.zone.is_some() || extra.text.is_some() {
            return self.shaped(extra, found, out);
        }
        match (found, &extra.map) {
            (Some(value), None) => self.value(value, out),
            (Some(value), Some(map)) => {
                let mut printed = Vec::with_capacity(32);
                self.print(value, &mut printed);
                // Text and formats print whole `str`s, so this is UTF-8.
                self.mapped(&String::from_utf8(printed).unwrap_or_default(), map, out)
            }
            // The default stands for a missing value after the mapping,
            // so it is not mapped.
            (None, _) => match &extra.default {
                Some(default) => self.default_value(default, out),
                None => self.absent(out),
            },
        }
    }

    /// A text value: string-escaped straight into a JSON string where that
    /// is all there is to do, else mapped and escaped.
    fn text_value(&self, text: &str, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.text_in_json_string {
            json_string(text, out);
            return Ok(());
        }
        match self.extra() {
            None => self.text(text, out),
            Some(extra) if extra.text.is_some() => self.shaped_text(extra, Some(text), out),
            Some(Extra { map: None, .. }) => self.text(text, out),
            Some(Extra { map: Some(map), .. }) => self.mapped(text, map, out),
        }
    }

    /// The pipeline of a slot with a time zone or text steps: the call's
    /// value → mapping → `default` when missing → phone / time-zone / time
    /// formats → text functions → escaping for the context.
    #[cold]
    #[inline(never)]
    fn shaped(self, extra: &Extra, found: Option<&Value>, out: &mut Vec<u8>) -> Result<(), Error> {
        // The zone first: the mapping matches a timestamp as it prints.
        let converted;
        let found = match (found, extra.zone) {
            (Some(Value::Timestamp(t)), Some(zone)) => {
                converted = Value::Timestamp(zone.convert(t));
                Some(&converted)
            }
            _ => found,
        };
        match found {
            Some(Value::Text(s)) => self.shaped_text(extra, Some(s), out),
            // Typed, with no text steps: rendered as before, in its zone.
            Some(value) if extra.text.is_none() => match &extra.map {
                None => self.value(value, out),
                Some(map) => {
                    let mut printed = Vec::with_capacity(32);
                    self.print(value, &mut printed);
                    self.mapped(&String::from_utf8(printed).unwrap_or_default(), map, out)
                }
            },
            // Known to have none: as without text steps.
            Some(Value::Null) => {
                self.null(out);
                Ok(())
            }
            Some(value) => {
                let mut printed = Vec::with_capacity(32);
                self.print(value, &mut printed);
                // Text and formats print whole `str`s, so this is UTF-8.
                self.shaped_text(
                    extra,
                    Some(&String::from_utf8(printed).unwrap_or_default()),
                    out,
                )
            }
            None => self.shaped_text(extra, None, out),
        }
    }

    /// The pipeline from a value's text (`None`: the call has none): its
    /// mapping, the default where there is no value, the phone format, the
    /// text functions, and escaping.
    #[cold]
    #[inline(never)]
    fn shaped_text(
        &self,
        extra: &Extra,
        text: Option<&str>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let mut value: std::borrow::Cow<'_, str> = match text {
            Some(text) => match &extra.map {
                Some(map) => map.get(text).map_or(text, String::as_str).into(),
                None => text.into(),
            },
            None => match (&extra.default, &extra.text) {
                // With no text steps the default stands as it does in a
                // slot without a zone: a JSON scalar where it is one.
                (Some(default), None) => return self.default_value(default, out),
                // Text steps make text of it, as of any value.
                (Some(default), Some(_)) => default.as_ref().into(),
                (None, _) => return self.absent(out),
            },
        };
        let Some(steps) = &extra.text else {
            return self.text(&value, out);
        };
        if let Some(phone) = &steps.phone {
            match phone.format(&value) {
                Some(formatted) => value = formatted.into(),
                None if phone.strict => return self.not_a_phone_number(out),
                // Not a phone number: it passes through unchanged.
                None => {}
            }
        }
        match steps.case {
            Some(Case::Upper) => value = value.to_uppercase().into(),
            Some(Case::Lower) => value = value.to_lowercase().into(),
            None => {}
        }
        if let Some(keep) = steps.truncate {
            // On a character boundary: the byte offset of the character
            // after the last one kept.
            if let Some((end, _)) = value.char_indices().nth(keep as usize) {
                value = match value {
                    std::borrow::Cow::Borrowed(s) => s[..end].into(),
                    std::borrow::Cow::Owned(mut s) => {
                        s.truncate(end);
                        s.into()
                    }
                };
            }
        }
        self.text(&value, out)
    }

    /// A value that is not a phone number under `:strict`: missing, as the
    /// slot's missing-value policy says, with its own message for an error.
    #[cold]
    fn not_a_phone_number(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        match self.missing {
            Missing::Error => Err(Error::new(
                ErrorKind::MissingValue,
                format!(
                    "the value of field `{}` is not a phone number (`:strict`)",
                    self.name()
                ),
            )),
            _ => self.absent(out),
        }
    }

    fn format(&self) -> &Format {
        match FORMATS.get(usize::from(self.slot.format)) {
            Some(format) => format,
            None => self
                .extra()
                .and_then(|extra| extra.format.as_ref())
                // Compiling gives every `STRFTIME` slot its format in an
                // extra: the fallback is never taken.
                .unwrap_or(&Format::Natural),
        }
    }

    /// The printed value replaced through the map where it is there,
    /// escaped as text.
    fn mapped(
        &self,
        printed: &str,
        map: &BTreeMap<String, String>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.text(map.get(printed).map_or(printed, String::as_str), out)
    }

    fn absent(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        match self.missing {
            Missing::Empty => {
                if self.context == Context::JsonValue {
                    out.extend_from_slice(b"\"\"");
                }
                Ok(())
            }
            Missing::Null => {
                self.null(out);
                Ok(())
            }
            Missing::Error => Err(Error::new(
                ErrorKind::MissingValue,
                format!("the call has no value for field `{}`", self.name()),
            )),
        }
    }

    fn null(&self, out: &mut Vec<u8>) {
        if self.context == Context::JsonValue {
            out.extend_from_slice(b"null");
        }
    }

    /// A default stands as a JSON scalar where it is one (`0`, `true`,
    /// `null`), and as text otherwise.
    fn default_value(&self, default: &str, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.context == Context::JsonValue
            && matches!(
                serde_json::from_str::<serde_json::Value>(default),
                Ok(serde_json::Value::Number(_)
                    | serde_json::Value::Bool(_)
                    | serde_json::Value::Null)
            )
        {
            out.extend_from_slice(default.as_bytes());
            return Ok(());
        }
        self.text(default, out)
    }

    fn text(&self, text: &str, out: &mut Vec<u8>) -> Result<(), Error> {
        self.context.escape(text, out).map_err(|refused| {
            Error::new(
                ErrorKind::UnsafeValue,
                format!("field `{}`: {}", self.name(), refused.message()),
            )
        })
    }

    fn value(&self, value: &Value, out: &mut Vec<u8>) -> Result<(), Error> {
        match value {
            // The one arm that can be refused or needs escaping.
            Value::Text(s) => self.text(s, out),
            Value::Null => {
                self.null(out);
                Ok(())
            }
            Value::Decimal(d) if self.context == Context::JsonValue && !d.is_finite() => {
                // JSON has no NaN or infinity; serde_json also writes null.
                out.extend_from_slice(b"null");
                Ok(())
            }
            // Built in code, it may hold anything: only a number without a
            // `+` (a space in a URL query) stands bare.
            Value::Number(n) if !crate::value::is_json_number(n) || n.contains('+') => {
                self.text(n, out)
            }
            Value::Timestamp(_) => self.formatted(self.timestamp_output, value, out),
            Value::Duration(_) => self.formatted(self.duration_output, value, out),
            // Booleans and numbers print as digits, `-`, `.`, `e`, `NaN`,
            // `inf`, `true`, `false`: safe in every context.
            _ => {
                self.print(value, out);
                Ok(())
            }
        }
    }

    /// Writes a timestamp or duration straight into `out` where it needs no
    /// escaping there, and through a scratch buffer and [`Slot::text`] where
    /// it does. Always inlined into [`Bound::value`], as is
    /// [`Bound::print`]: a timestamp or duration would otherwise pay three
    /// calls.
    #[inline(always)]
    fn formatted(&self, output: Output, value: &Value, out: &mut Vec<u8>) -> Result<(), Error> {
        match output {
            Output::Bare => {
                self.print(value, out);
                Ok(())
            }
            Output::Quoted => {
                out.push(b'"');
                self.print(value, out);
                out.push(b'"');
                Ok(())
            }
            Output::Escaped => {
                let mut printed = Vec::with_capacity(32);
                self.print(value, &mut printed);
                // Formats print whole `str`s and ASCII, so this is UTF-8.
                self.text(&String::from_utf8(printed).unwrap_or_default(), out)
            }
        }
    }

    /// Appends the value as it prints in the slot's format, unescaped.
    #[inline(always)]
    fn print(&self, value: &Value, out: &mut Vec<u8>) {
        match value {
            Value::Null => {}
            Value::Text(s) => out.extend_from_slice(s.as_bytes()),
            Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Integer(i) => format::push_integer(out, *i),
            // A JSON number's text, as given: digits, `-`, `+`, `.`, `e`.
            Value::Number(n) => out.extend_from_slice(n.as_bytes()),
            Value::Decimal(d) => {
                // Exponent form at the extremes, as serde_json prints, so
                // every JSON parser reads the number back. Writing to a Vec
                // cannot fail.
                let magnitude = d.abs();
                let _ = if magnitude != 0.0 && !(1e-5..1e16).contains(&magnitude) {
                    write!(out, "{d:e}")
                } else {
                    write!(out, "{d}")
                };
            }
            Value::Timestamp(t) => format::timestamp(t, self.format(), out),
            Value::Duration(d) => format::duration(d, self.format(), out),
        }
    }
}

// The sizes the comments above promise, which a service holds thousands of.
const _: () = assert!(std::mem::size_of::<Step>() == 20);
const _: () = assert!(std::mem::size_of::<Slot>() == 16);
const _: () = assert!(std::mem::size_of::<FieldKey>() == 8);
