//! Placeholder templates: compiled once, rendered many times, escaped by
//! context.
//!
//! # What is a placeholder
//!
//! Two syntaxes are supported, chosen per template with [`Syntax`]:
//!
//! - RingCX: `#name#` ([`Syntax::Hash`])
//! - AVANSER: `[[name]]` ([`Syntax::Brackets`])
//!
//! A placeholder is the opening delimiter, immediately followed by a name
//! (an ASCII letter or `_`, then letters, digits, `_` or `.`), optionally by
//! `|` and options, and then the closing delimiter, all on one line. Anything
//! else is literal text: in `Ticket #42` the `#` is followed by a digit, in
//! `https://example.com/#section` no closing `#` follows, so both are kept as
//! written. Options are separated by `|`:
//!
//! - a [`Format`]: `#call_start|rfc3339#`, `[[duration|hms]]`;
//! - `default:TEXT`, printed when the call has no value for the field:
//!   `#agent_id|default:unknown#`.
//!
//! Options cannot contain `|` or the closing delimiter.
//!
//! # Contexts
//!
//! The [`Context`] a template is compiled for decides how each value is
//! escaped, so a value can never change the structure it lands in. A JSON or
//! XML template is parsed, and each placeholder is escaped for the place it
//! stands in (inside a JSON string, as a whole JSON value, XML text, an XML
//! attribute, CDATA); a template that is not well-formed is an error at
//! compile time.
//!
//! ```
//! use callhook::template::{Context, Options, Template};
//! use callhook::CallData;
//!
//! let template = Template::compile(
//!     r##"{"agentId": "#agent_id#", "duration": #duration#}"##,
//!     Context::Json,
//!     &Options::default(),
//! )?;
//! assert_eq!(template.fields().collect::<Vec<_>>(), ["agent_id", "duration"]);
//!
//! let call = CallData::new()
//!     .with("agent_id", "say \"hi\"")
//!     .with("duration", std::time::Duration::from_secs(95));
//! let mut out = Vec::new();
//! template.render_into(&call, &mut out)?;
//! assert_eq!(out, br#"{"agentId": "say \"hi\"", "duration": 95}"#);
//! # Ok::<(), callhook::Error>(())
//! ```

mod escape;
mod format;
mod scan;

use std::fmt::{self, Write as _};

pub use format::{Format, Strftime};

pub(crate) use escape::{json_string, Escape};

/// The span of the only placeholder in `text`, if it has exactly one.
pub(crate) fn scan_plain(text: &str, options: &Options<'_>) -> Option<(usize, usize)> {
    match scan::plain(text, options.syntax, &scan::any).as_slice() {
        [one] => Some((one.start, one.end)),
        _ => None,
    }
}
use format::{Direct, Printed, Scratch, Sink};
use scan::Found;

use crate::error::{Error, ErrorKind, Position};
use crate::field::{CallData, Catalog, FieldKey, Lookup, Value};

/// The placeholder syntax of a template.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Syntax {
    /// RingCX tags: `#field#`.
    #[default]
    Hash,
    /// AVANSER placeholders: `[[field]]`.
    Brackets,
}

impl Syntax {
    pub(crate) fn delimiters(self) -> (&'static str, &'static str) {
        match self {
            Syntax::Hash => ("#", "#"),
            Syntax::Brackets => ("[[", "]]"),
        }
    }
}

/// What a template is, and so how its values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Context {
    /// A JSON document. Inside a string literal a value is string-escaped;
    /// standing as a whole value it renders typed: a number, `true`/`false`,
    /// `null`, or a quoted string.
    Json,
    /// An XML document: values in text, attribute values and CDATA are
    /// escaped for each; elsewhere a placeholder is an error.
    Xml,
    /// The content of a JSON string literal (quotes not included).
    JsonString,
    /// XML character data.
    XmlText,
    /// An XML attribute value (quotes not included).
    XmlAttribute,
    /// A key or value of an `application/x-www-form-urlencoded` body.
    Form,
    /// A URL query component, percent-encoded.
    UrlQuery,
    /// A URL path segment, percent-encoded so a value cannot add `/`, `?` or
    /// `#`; a value that is exactly `.` or `..` is refused.
    UrlPath,
    /// An HTTP header value: CR, LF and NUL are refused; other control
    /// characters become spaces.
    Header,
    /// Text with no escaping at all. Only for output that is not parsed by
    /// anything (a log line, a preview).
    Plain,
    /// An absolute `http` or `https` URL. Placeholders may stand in the path
    /// (escaped as [`Context::UrlPath`]) and the query (as
    /// [`Context::UrlQuery`]) only; one in the scheme, host or port is an
    /// error, so call data can never send a request to another host. A
    /// username, password or fragment is an error too.
    Url,
}

impl Context {
    /// How values are escaped, where the whole template is one context.
    fn escape(self) -> Escape {
        match self {
            Context::Json | Context::JsonString => Escape::JsonString,
            Context::Xml | Context::XmlText => Escape::XmlText,
            Context::XmlAttribute => Escape::XmlAttribute,
            Context::Form => Escape::Form,
            Context::UrlQuery => Escape::UrlQuery,
            Context::UrlPath => Escape::UrlPath,
            Context::Header => Escape::Header,
            Context::Plain => Escape::Raw,
            Context::Url => Escape::UrlQuery,
        }
    }

    /// Whether literal text is escaped like values: yes where the template is
    /// a fragment (a form value), no where it is a whole document.
    fn escapes_literals(self) -> bool {
        !matches!(
            self,
            Context::Json | Context::Xml | Context::Plain | Context::Url
        )
    }
}

/// What to render for a field the call data does not have, when the
/// placeholder has no `default:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Missing {
    /// Nothing (an empty string; `""` as a whole JSON value). The default
    /// everywhere but a whole JSON value.
    Empty,
    /// `null` as a whole JSON value (the default there); nothing elsewhere.
    Null,
    /// Fail the render with [`ErrorKind::MissingValue`].
    Error,
}

/// How to compile a template.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    catalog: &'a Catalog,
    syntax: Syntax,
    missing: Option<Missing>,
    lenient: bool,
}

impl Default for Options<'static> {
    fn default() -> Self {
        Options::new(Catalog::standard())
    }
}

impl<'a> Options<'a> {
    /// Options checking fields against `catalog`, with the `#field#` syntax,
    /// per-context missing-value defaults, and unknown fields as errors.
    pub fn new(catalog: &'a Catalog) -> Options<'a> {
        Options {
            catalog,
            syntax: Syntax::Hash,
            missing: None,
            lenient: false,
        }
    }

    /// Sets the placeholder syntax.
    pub fn syntax(mut self, syntax: Syntax) -> Self {
        self.syntax = syntax;
        self
    }

    /// Sets one missing-value policy for every placeholder.
    pub fn missing(mut self, missing: Missing) -> Self {
        self.missing = Some(missing);
        self
    }

    /// Leaves placeholders naming unknown fields as literal text, as RingCX
    /// does, instead of failing. A placeholder standing as a whole JSON value
    /// must still name a known field, since the literal would not be JSON.
    pub fn lenient(mut self, lenient: bool) -> Self {
        self.lenient = lenient;
        self
    }

    /// The catalog fields are checked against.
    pub fn catalog(&self) -> &'a Catalog {
        self.catalog
    }
}

/// One checked placeholder.
#[derive(Debug, Clone, PartialEq)]
struct Slot {
    key: FieldKey,
    format: Format,
    default: Option<Box<str>>,
    escape: Escape,
    missing: Missing,
    position: Position,
    timestamp_output: Output,
    duration_output: Output,
}

/// One step of a render: a literal (possibly empty), then a slot, if any.
/// Pairing them halves the steps, which matters when there are many short
/// literals between placeholders; holding both inline spares the render an
/// index into other tables.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    /// Literal text, already escaped for the context.
    literal: Box<[u8]>,
    slot: Option<Slot>,
}

/// A compiled template: parsed, checked against the catalog, and ready to
/// render any number of times.
#[derive(Clone, PartialEq)]
pub struct Template {
    source: Box<str>,
    context: Context,
    steps: Vec<Step>,
    fields: Vec<Box<str>>,
    /// Roughly how many bytes a render writes: the literals, and room for
    /// a typical value per placeholder.
    size_hint: usize,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("context", &self.context)
            .field("source", &self.source)
            .field("fields", &self.fields)
            .finish()
    }
}

impl Template {
    /// Compiles `source` for `context`.
    ///
    /// Every problem is reported at once: unknown fields (with the nearest
    /// known name), bad options, formats that do not fit the field's type,
    /// and JSON or XML that is not well-formed, each with its position. Where
    /// there is more than one, the error is of kind
    /// [`ErrorKind::InvalidConfig`] and [`Error::related`] lists them.
    pub fn compile(
        source: &str,
        context: Context,
        options: &Options<'_>,
    ) -> Result<Template, Error> {
        let syntax = options.syntax;
        let accept = |name: &str| !options.lenient || options.catalog.get(name).is_some();
        let found: Vec<(Found<'_>, Result<Escape, &'static str>)> = match context {
            Context::Json => scan::json(source, syntax, &accept)
                .into_iter()
                .map(|(f, e)| (f, Ok(e)))
                .collect(),
            Context::Xml => scan::xml(source, syntax, &accept),
            Context::Url => scan::url(source, syntax, &accept),
            _ => scan::plain(source, syntax, &accept)
                .into_iter()
                .map(|f| (f, Ok(context.escape())))
                .collect(),
        };

        let mut template = Template {
            source: source.into(),
            context,
            steps: Vec::new(),
            fields: Vec::new(),
            size_hint: 0,
        };
        // The literal text of the step being built.
        let mut literal = Vec::new();
        let mut errors = Vec::new();
        // The source with each placeholder replaced by a stand-in of the same
        // length, for the JSON or XML parser to check the structure.
        let mut stand_in = Vec::with_capacity(source.len());
        let mut literal_start = 0;

        for (found, escape) in found {
            let position = Position::locate(source, found.start);
            let escape = match escape {
                Ok(escape) => escape,
                Err(place) => {
                    errors.push(
                        Error::new(
                            ErrorKind::TemplateSyntax,
                            format!("placeholder `{}` cannot stand in {place}", found.name),
                        )
                        .at(position),
                    );
                    continue;
                }
            };
            let slot = match check(&found, escape, position, options) {
                Ok(slot) => slot,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            if let Err(e) = template.push_literal(&source[literal_start..found.start], &mut literal)
            {
                errors.push(e.at(Position::locate(source, literal_start)));
            }
            stand_in.extend_from_slice(&source.as_bytes()[literal_start..found.start]);
            // `[]` is a JSON value that, unlike a number or a string, cannot
            // continue a number (`1#x#`) or stand as a key; `x`s are valid
            // text anywhere.
            let fill: &[u8] = if escape == Escape::JsonValue {
                b"[]"
            } else {
                b"x"
            };
            let len = found.end - found.start;
            stand_in.extend_from_slice(fill);
            let pad = if escape == Escape::JsonValue {
                b' '
            } else {
                b'x'
            };
            stand_in.resize(stand_in.len() + len - fill.len(), pad);
            literal_start = found.end;
            if !template.fields.iter().any(|f| **f == *slot.key.name) {
                template.fields.push(slot.key.name.clone());
            }
            template.size_hint += literal.len() + 24;
            template.steps.push(Step {
                literal: std::mem::take(&mut literal).into_boxed_slice(),
                slot: Some(slot),
            });
        }
        if let Err(e) = template.push_literal(&source[literal_start..], &mut literal) {
            errors.push(e.at(Position::locate(source, literal_start)));
        }
        template.size_hint += literal.len();
        template.steps.push(Step {
            literal: literal.into_boxed_slice(),
            slot: None,
        });
        stand_in.extend_from_slice(&source.as_bytes()[literal_start..]);

        if errors.is_empty() {
            // Stand-ins replace whole placeholders with ASCII, so the text
            // stays UTF-8 and keeps every offset.
            let stand_in = String::from_utf8_lossy(&stand_in);
            let checked = match context {
                Context::Json => scan::check_json(source, &stand_in),
                Context::Xml => scan::check_xml(source, &stand_in),
                Context::Url => scan::check_url(&stand_in),
                _ => Ok(()),
            };
            checked.map_err(|e| errors.push(e)).ok();
        }
        if errors.is_empty() {
            Ok(template)
        } else {
            Err(Error::many(errors))
        }
    }

    /// Appends `text` to a step's literal, escaped where the context
    /// escapes literals.
    fn push_literal(&self, text: &str, literal: &mut Vec<u8>) -> Result<(), Error> {
        if self.context.escapes_literals() {
            self.context
                .escape()
                .text(text, literal)
                .map_err(|r| Error::new(ErrorKind::UnsafeValue, r.message()))
        } else {
            literal.extend_from_slice(text.as_bytes());
            Ok(())
        }
    }

    /// Roughly how many bytes a render writes.
    pub(crate) fn size_hint(&self) -> usize {
        self.size_hint
    }

    /// The text the template was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The context the template was compiled for.
    pub fn context(&self) -> Context {
        self.context
    }

    /// The fields the template uses, each once, in order of first use.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|f| &**f)
    }

    /// Whether the template has no placeholders, so renders the same for
    /// every call.
    pub fn is_static(&self) -> bool {
        self.steps.iter().all(|step| step.slot.is_none())
    }

    /// Renders for `data`, appending to `out`.
    ///
    /// On error `out` is left as it was before the call.
    pub fn render_into(&self, data: &CallData, out: &mut Vec<u8>) -> Result<(), Error> {
        self.render_with(data, out)
    }

    pub(crate) fn render_with<L: Lookup + ?Sized>(
        &self,
        data: &L,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let before = out.len();
        out.reserve(self.size_hint());
        for step in &self.steps {
            out.extend_from_slice(&step.literal);
            if let Some(slot) = &step.slot {
                if let Err(e) = slot.render(data, out) {
                    out.truncate(before);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Renders for `data` into a new buffer.
    pub fn render(&self, data: &CallData) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(self.size_hint());
        self.render_into(data, &mut out)?;
        Ok(out)
    }

    /// Renders for `data` into a `String`.
    pub fn render_string(&self, data: &CallData) -> Result<String, Error> {
        self.render_string_with(data)
    }

    pub(crate) fn render_string_with<L: Lookup + ?Sized>(&self, data: &L) -> Result<String, Error> {
        let mut out = Vec::with_capacity(self.size_hint());
        self.render_with(data, &mut out)?;
        // Every escape appends whole UTF-8 sequences, as do literals.
        String::from_utf8(out)
            .map_err(|_| Error::new(ErrorKind::TemplateSyntax, "rendered text is not UTF-8"))
    }
}

/// Checks one placeholder: its field, options and format.
fn check(
    found: &Found<'_>,
    escape: Escape,
    position: Position,
    options: &Options<'_>,
) -> Result<Slot, Error> {
    let Some(spec) = options.catalog.get(found.name) else {
        return Err(Error::new(
            ErrorKind::UnknownField,
            format!("unknown field `{}`", found.name),
        )
        .with_suggestion(options.catalog.suggest(found.name))
        .at(position));
    };
    let mut format = None;
    let mut default = None;
    if let Some((text, _)) = found.options {
        for option in text.split('|') {
            if let Some(value) = option.strip_prefix("default:") {
                if default.replace(value.into()).is_some() {
                    return Err(Error::new(
                        ErrorKind::TemplateSyntax,
                        format!("placeholder `{}` has two defaults", found.name),
                    )
                    .at(position));
                }
            } else {
                let parsed: Format = option.parse().map_err(|e: Error| e.at(position))?;
                if format.replace(parsed).is_some() {
                    return Err(Error::new(
                        ErrorKind::TemplateSyntax,
                        format!("placeholder `{}` has two formats", found.name),
                    )
                    .at(position));
                }
            }
        }
    }
    let format = match format {
        Some(format) => {
            if let Some(applies) = format.applies_to() {
                if applies != spec.field_type() {
                    return Err(Error::new(
                        ErrorKind::TemplateSyntax,
                        format!(
                            "format `{format}` applies to {applies} fields, but `{}` is {}",
                            found.name,
                            spec.field_type()
                        ),
                    )
                    .at(position));
                }
            }
            format
        }
        None => spec.default_format(),
    };
    let missing = options.missing.unwrap_or(if escape == Escape::JsonValue {
        Missing::Null
    } else {
        Missing::Empty
    });
    Ok(Slot {
        key: options.catalog.key(found.name),
        timestamp_output: Output::of(format.timestamp_printed(), escape),
        duration_output: Output::of(format.duration_printed(), escape),
        format,
        default,
        escape,
        missing,
        position,
    })
}

impl Slot {
    /// The common case, a text value inside a JSON string, is kept apart
    /// from the rest so it stays a few instructions.
    #[inline]
    fn render<L: Lookup + ?Sized>(&self, data: &L, out: &mut Vec<u8>) -> Result<(), Error> {
        match data.lookup(&self.key) {
            Some(Value::Text(s)) if self.escape == Escape::JsonString => {
                escape::json_string(s, out);
                Ok(())
            }
            Some(value) => self.value(value, out),
            None => self.absent(out),
        }
    }

    fn absent(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        match &self.default {
            Some(default) => self.default(default, out),
            None => match self.missing {
                Missing::Empty => {
                    if self.escape == Escape::JsonValue {
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
                    format!("the call has no value for field `{}`", self.key.name),
                )
                .at(self.position)),
            },
        }
    }

    fn null(&self, out: &mut Vec<u8>) {
        if self.escape == Escape::JsonValue {
            out.extend_from_slice(b"null");
        }
    }

    /// A default stands as a JSON scalar where it is one (`0`, `true`,
    /// `null`), and as text otherwise.
    fn default(&self, default: &str, out: &mut Vec<u8>) -> Result<(), Error> {
        if self.escape == Escape::JsonValue
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
        self.escape.text(text, out).map_err(|refused| {
            Error::new(
                ErrorKind::UnsafeValue,
                format!("field `{}`: {}", self.key.name, refused.message()),
            )
            .at(self.position)
        })
    }

    fn value(&self, value: &Value, out: &mut Vec<u8>) -> Result<(), Error> {
        match value {
            Value::Text(s) => self.text(s, out),
            Value::Null => {
                self.null(out);
                Ok(())
            }
            Value::Bool(b) => {
                out.extend_from_slice(if *b { b"true" } else { b"false" });
                Ok(())
            }
            // Digits and `-`: safe in every context.
            Value::Integer(i) => {
                Direct(out).push_signed(*i);
                Ok(())
            }
            Value::Decimal(d) => {
                if self.escape == Escape::JsonValue && !d.is_finite() {
                    // JSON has no NaN or infinity; serde_json also writes null.
                    out.extend_from_slice(b"null");
                    return Ok(());
                }
                // Digits, `-`, `.`, `e`, `NaN`, `inf`: safe in every context.
                // Exponent form at the extremes, as serde_json prints, so
                // every JSON parser reads the number back.
                let magnitude = d.abs();
                let mut sink = Direct(out);
                let _ = if magnitude != 0.0 && !(1e-5..1e16).contains(&magnitude) {
                    write!(sink, "{d:e}")
                } else {
                    write!(sink, "{d}")
                };
                Ok(())
            }
            Value::Timestamp(_) => self.formatted(self.timestamp_output, value, out),
            Value::Duration(_) => self.formatted(self.duration_output, value, out),
        }
    }

    /// Writes a timestamp or duration straight into `out` where it needs no
    /// escaping there, and through a scratch buffer and [`Slot::text`] where
    /// it does.
    #[inline]
    fn formatted(&self, output: Output, value: &Value, out: &mut Vec<u8>) -> Result<(), Error> {
        match output {
            Output::Bare => {
                self.print(value, &mut Direct(out));
                Ok(())
            }
            Output::Quoted => {
                out.push(b'"');
                self.print(value, &mut Direct(out));
                out.push(b'"');
                Ok(())
            }
            Output::Escaped => {
                let mut scratch = Scratch::new();
                self.print(value, &mut scratch);
                self.text(scratch.as_str(), out)
            }
        }
    }

    #[inline]
    fn print<S: Sink>(&self, value: &Value, sink: &mut S) {
        match value {
            Value::Timestamp(t) => format::timestamp(t, &self.format, sink),
            Value::Duration(d) => format::duration(d, &self.format, sink),
            // Other values are printed by `Slot::value` itself.
            _ => {}
        }
    }
}

/// How a slot's formatted value reaches the output, decided at compile time
/// from what the format prints and where the slot stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// As printed.
    Bare,
    /// In JSON quotes: plain ASCII standing as a whole JSON value.
    Quoted,
    /// Escaped for the context like any text.
    Escaped,
}

impl Output {
    fn of(printed: Printed, escape: Escape) -> Output {
        match (printed, escape) {
            // Digits, `-` and `.` are safe in every context.
            (Printed::Number, _) => Output::Bare,
            (
                Printed::PlainAscii,
                Escape::JsonString
                | Escape::XmlText
                | Escape::XmlAttribute
                | Escape::Header
                | Escape::Raw,
            ) => Output::Bare,
            (Printed::PlainAscii, Escape::JsonValue) => Output::Quoted,
            _ => Output::Escaped,
        }
    }
}

#[cfg(test)]
mod tests;
