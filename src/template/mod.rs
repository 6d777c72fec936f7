//! Placeholder templates: compiled once, rendered many times, escaped by
//! context.
//!
//! # What is a placeholder
//!
//! Two syntaxes are supported, chosen per template with [`Syntax`]:
//!
//! - `#name#` ([`Syntax::Hash`], as RingCX writes its tags)
//! - `[[name]]` ([`Syntax::Brackets`], as AVANSER writes its placeholders)
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
//!   `#agent_id|default:unknown#`;
//! - `tz:Area/City`, a timestamp converted to an IANA zone before its
//!   format prints it (feature `tz`): `#call_start|tz:America/New_York|ansi#`;
//! - a phone format for text fields (feature `phone`): `phone:e164`,
//!   `phone:national`, `phone:international`, `phone:digits`,
//!   `phone:last:N`, `phone:mask:N`, `phone:npa`, `phone:nxx`, each
//!   optionally followed by `:strict` (a value that is not a phone number is
//!   then missing rather than passed through);
//! - the text functions `upper`, `lower` and `truncate:N` (N characters).
//!
//! Whatever the order they are written in, a value takes one path: the
//! call's value → the pair's value map → `default` when missing → phone /
//! time-zone / time formats → text functions → escaping for the context.
//!
//! Options cannot contain `|` or the closing delimiter.
//!
//! # Contexts
//!
//! The [`Context`] a template is compiled for decides how each value is
//! escaped, so a value can never change the structure it lands in. Every
//! template of a service (its URL, its body, whatever its kind, and its
//! headers) is compiled by this one compiler into this one form. A JSON or
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

mod compile;
mod escape;
pub(crate) mod options;
mod render;
mod scan;

use std::fmt;

pub use crate::format::{Format, Strftime};
pub use options::Options;
// `Syntax` and `Missing` are public at the crate's root only (their one
// path); the engine's files name them from here.
pub(crate) use options::{Missing, Syntax};

pub(crate) use compile::Builder;
pub(crate) use escape::{is_dot_segment, json_string};

use std::sync::Arc;

use crate::call::{CallData, Lookup};
use crate::catalog::Positions;
use crate::error::{Error, ErrorKind};
use crate::limits::RENDER_BYTES;
use render::{Extra, Shared, Spot, Step};

/// What a template is, and so how its values are escaped.
///
/// `Json`, `Xml` and `Url` are whole documents: their placeholders are each
/// given the context of the place they stand in. The others are the places
/// themselves, and a template compiled for one escapes its literal text as
/// it escapes values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Context {
    /// A JSON document. Inside a string literal a value is string-escaped
    /// ([`Context::JsonString`]); standing as a whole value it renders typed
    /// ([`Context::JsonValue`]).
    Json,
    /// An XML document: values in text, attribute values and CDATA are
    /// escaped for each; elsewhere a placeholder is an error.
    Xml,
    /// An absolute `http` or `https` URL. Placeholders may stand in the path
    /// (escaped as [`Context::UrlPath`]) and the query (as
    /// [`Context::UrlQuery`]) only; one in the scheme, host or port is an
    /// error, so call data can never send a request to another host. A
    /// username, password or fragment is an error too. A render whose path
    /// has a `.` or `..` segment, however it formed, is refused.
    Url,
    /// The content of a JSON string literal (quotes not included).
    JsonString,
    /// One JSON value: a template that is one placeholder alone renders
    /// typed (a number, `true`/`false`, `null`, or a quoted string); any
    /// other template renders as one JSON string.
    JsonValue,
    /// XML character data.
    XmlText,
    /// An XML attribute value (quotes not included).
    XmlAttribute,
    /// The content of an XML CDATA section: each value gets sections of its
    /// own, so nothing in it can end the one around it.
    XmlCdata,
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
}

impl Context {
    /// Every context, documents first: the one list that tests and fuzz
    /// targets go through, so a context added here is covered by them.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::template::{Context, Options, Template};
    ///
    /// // Any text is compiled or refused in every context, never a panic.
    /// for context in Context::ALL {
    ///     let _ = Template::compile("Bearer #ani#", context, &Options::default());
    /// }
    /// assert!(Context::ALL.contains(&Context::Header));
    /// ```
    pub const ALL: [Context; 13] = [
        Context::Json,
        Context::Xml,
        Context::Url,
        Context::JsonString,
        Context::JsonValue,
        Context::XmlText,
        Context::XmlAttribute,
        Context::XmlCdata,
        Context::Form,
        Context::UrlQuery,
        Context::UrlPath,
        Context::Header,
        Context::Plain,
    ];

    /// Whether literal text is escaped like values: yes where the template is
    /// a fragment (a form value), no where it is a whole document.
    fn escapes_literals(self) -> bool {
        !matches!(
            self,
            Context::Json | Context::Xml | Context::Url | Context::Plain
        )
    }
}

/// A compiled template: parsed, checked against the catalog, and ready to
/// render any number of times.
///
/// Compact, so a process can hold many: every literal in one buffer, one
/// exact-size array of steps, fields by catalog position, and placeholder
/// offsets beside the steps, read only when an error is reported. A
/// service's templates keep no copy of their source: the service locates
/// an error in its configuration.
#[derive(Clone, PartialEq)]
pub struct Template {
    context: Context,
    /// Every step's literal, already escaped, one after another.
    literals: Box<[u8]>,
    steps: Box<[Step]>,
    /// Where each slot stands in its source, in the order of the slots.
    spots: Box<[Spot]>,
    /// The source of a template compiled on its own, to locate its render
    /// errors in; `None` in a service, whose configuration holds it.
    source: Option<Box<str>>,
    /// What few slots have: strftime formats, defaults, value maps.
    extras: Box<[Extra]>,
    /// The positions of the catalog the slots' fields are in; `None` when
    /// there are no slots.
    names: Option<Arc<Positions>>,
    /// Roughly how many bytes a render writes: the literals, and room for
    /// a typical value per placeholder.
    size_hint: u32,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("context", &self.context)
            .field("fields", &self.fields().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Template {
    /// Compiles `source` for `context`.
    ///
    /// # Errors
    ///
    /// Every problem is reported at once: unknown fields (kind
    /// [`ErrorKind::UnknownField`], with the nearest known name), bad
    /// options, formats that do not fit the field's type, and JSON or XML
    /// that is not well-formed or that receivers would read two ways (a key
    /// repeated in a JSON object, an XML version other than 1.0, a C1
    /// control written raw in XML) ([`ErrorKind::TemplateSyntax`]), a URL
    /// placeholder where it could change the host
    /// ([`ErrorKind::InvalidUrl`]), each with its position. Where there is
    /// more than one, the error is of kind [`ErrorKind::InvalidTemplate`]
    /// and [`Error::related`] lists them.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::template::{Context, Options, Template};
    ///
    /// let form = Template::compile("agent=#agent_id#", Context::Form, &Options::default())?;
    /// assert_eq!(form.fields().collect::<Vec<_>>(), ["agent_id"]);
    /// assert!(Template::compile("https://#ani#.example.com/", Context::Url, &Options::default()).is_err());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn compile(
        source: &str,
        context: Context,
        options: &Options<'_>,
    ) -> Result<Template, Error> {
        let mut builder = Builder::new(options);
        builder.fragment(source, context, None, None);
        let mut template = builder
            .finish(context)
            .map_err(|errors| Error::many(ErrorKind::InvalidTemplate, errors))?;
        template.source = Some(source.into());
        Ok(template)
    }

    /// The context the template was compiled for.
    #[must_use]
    pub fn context(&self) -> Context {
        self.context
    }

    /// The fields the template uses, each once, in order of first use.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        let mut seen = Vec::new();
        self.steps
            .iter()
            .map(|step| &step.slot)
            .filter(move |slot| {
                let first = !seen.contains(&slot.key.position);
                if first {
                    seen.push(slot.key.position);
                }
                first
            })
            .filter_map(|slot| Some(slot.key.name(self.names.as_deref()?)))
    }

    /// Whether the template has no placeholders, so renders the same for
    /// every call.
    #[must_use]
    pub fn is_static(&self) -> bool {
        self.steps.is_empty()
    }

    /// The literal text before the first placeholder (all of it, with
    /// none): for a URL, where no placeholder may stand in the scheme, host
    /// or port, it holds the origin.
    pub(crate) fn leading_literal(&self) -> &[u8] {
        let len = self
            .steps
            .first()
            .map_or(self.literals.len(), |step| step.literal_len as usize);
        // A step's literal lies within the buffer: the fallback is never
        // taken.
        self.literals.get(..len).unwrap_or(&self.literals)
    }

    /// Whether a placeholder names a field whose value is a secret.
    pub(crate) fn uses_secret(&self) -> bool {
        self.steps.iter().any(|step| step.slot.key.secret)
    }

    /// Roughly how many bytes a render writes.
    pub(crate) fn size_hint(&self) -> usize {
        self.size_hint as usize
    }

    /// Renders for `data`, appending to `out`. On error `out` is left as it
    /// was before the call.
    ///
    /// # Errors
    ///
    /// A value that cannot stand where it is placed (CR or LF in a header,
    /// `..` as a URL path segment), a URL whose rendered path has a `.` or
    /// `..` segment however it formed, or a render that would be longer
    /// than 4 MiB, is an error of kind [`ErrorKind::UnsafeValue`] (the
    /// render stops at the slot that crosses the limit); a missing value under
    /// [`Missing::Error`] one of kind [`ErrorKind::MissingValue`]. Both
    /// name the field and its position in the template.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::template::{Context, Options, Template};
    /// use callhook::CallData;
    ///
    /// let header = Template::compile("agent #agent_id#", Context::Header, &Options::default())?;
    /// let mut out = Vec::new();
    /// header.render_into(&CallData::new().with("agent_id", "7"), &mut out)?;
    /// assert_eq!(out, b"agent 7");
    /// assert!(header.render_into(&CallData::new().with("agent_id", "7\r\nX-Evil: 1"), &mut out).is_err());
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn render_into(&self, data: &CallData, out: &mut Vec<u8>) -> Result<(), Error> {
        self.render_lookup(data, out)
            .map_err(|e| match &self.source {
                Some(source) => e.located(source),
                None => e,
            })
    }

    /// Renders every literal and slot, then checks the whole
    /// ([`Template::check_rendered`]). An error carries its slot's spot
    /// ([`Error::spot`]), for the caller to locate in the fragment's source.
    pub(crate) fn render_lookup<L: Lookup + ?Sized>(
        &self,
        data: &L,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let before = out.len();
        out.reserve(self.size_hint as usize);
        if self.literals.len() > RENDER_BYTES {
            return Err(render::too_long(None));
        }
        let rendered = match self.names.as_deref() {
            // No slots: the literals are the whole render.
            None => {
                out.extend_from_slice(&self.literals);
                Ok(())
            }
            // The catalog is checked here, once: call data under the
            // template's own catalog is read by position with no check a
            // slot (the common case, one loop), any other lookup as it
            // asks.
            Some(positions) => match data.indexed(positions) {
                Some(indexed) => self.render_steps(&indexed, positions, out, before),
                None => self.render_steps(data, positions, out, before),
            },
        };
        rendered.and_then(|()| self.check_rendered(out, before))
    }

    /// The one render loop: every literal, then its slot's value, and the
    /// literal after the last slot.
    ///
    /// The limit is kept with one comparison a slot: `out` may grow to
    /// `quick` with every literal still to come and fit, since what it
    /// holds beyond `before` is values and literals already written. Only
    /// past it (near the limit) is the exact length counted.
    #[inline]
    fn render_steps<L: Lookup + ?Sized>(
        &self,
        data: &L,
        positions: &Positions,
        out: &mut Vec<u8>,
        before: usize,
    ) -> Result<(), Error> {
        let shared = Shared {
            positions,
            extras: &self.extras,
        };
        // `render_lookup` checked that the literals fit.
        let quick = before + (RENDER_BYTES - self.literals.len());
        let mut literals: &[u8] = &self.literals;
        let mut steps = self.steps.iter();
        while let Some(step) = steps.next() {
            // The lengths add up to the buffer's: the split always
            // succeeds, and the rest is written after the loop if not.
            let Some((literal, rest)) = literals.split_at_checked(step.literal_len as usize) else {
                break;
            };
            out.extend_from_slice(literal);
            literals = rest;
            let slot = step.slot.bind(&shared);
            let rendered = slot.render(data, out);
            if rendered.is_err() || out.len() > quick {
                // Checked after each slot, with the literals still to
                // come, so a template repeating a field stops at the limit
                // rather than multiplying a value, and the slot that
                // crosses it is named.
                let error = match rendered {
                    Err(e) => e,
                    Ok(()) if out.len() - before + literals.len() > RENDER_BYTES => slot.too_long(),
                    Ok(()) => continue,
                };
                let index = self.steps.len() - steps.len() - 1;
                return Err(self.failed(error, index, out, before));
            }
        }
        // The literal after the last placeholder, which the last check
        // counted.
        out.extend_from_slice(literals);
        Ok(())
    }

    /// The render failed at slot `index`: `out` goes back to `before`, and
    /// the error carries the slot's spot.
    #[cold]
    fn failed(&self, error: Error, index: usize, out: &mut Vec<u8>, before: usize) -> Error {
        out.truncate(before);
        match self.spots.get(index) {
            Some(spot) => error.at_spot(spot.fragment, spot.offset),
            // Every slot has its spot: the error is returned as it is.
            None => error,
        }
    }

    /// Checks what a render wrote from `before` on as a whole (a URL's
    /// dot segments, [`Context::check_rendered`]), every render, standalone
    /// or a service's, going through this one check; on error `out` is left
    /// as it was.
    #[inline]
    fn check_rendered(&self, out: &mut Vec<u8>, before: usize) -> Result<(), Error> {
        // `before` is where `out` ended before the render, which only
        // appends: the fallback is never taken.
        let rendered = out.get(before..).unwrap_or_default();
        if let Err(refused) = self.context.check_rendered(rendered) {
            out.truncate(before);
            return Err(Error::new(ErrorKind::UnsafeValue, refused.message()));
        }
        Ok(())
    }

    /// Renders for `data` into a new buffer.
    ///
    /// # Errors
    ///
    /// As [`Template::render_into`].
    pub fn render(&self, data: &CallData) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(self.size_hint as usize);
        self.render_into(data, &mut out)?;
        Ok(out)
    }

    /// Renders for `data` into a `String`.
    ///
    /// # Errors
    ///
    /// As [`Template::render_into`].
    pub fn render_string(&self, data: &CallData) -> Result<String, Error> {
        let out = self.render(data)?;
        // Every escape appends whole UTF-8 sequences, as do literals.
        Ok(String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }
}

/// Whether a URL template has a query: a `?` in its text outside every
/// placeholder (a `default:` may hold one).
pub(crate) fn url_has_query(source: &str, syntax: Syntax) -> bool {
    let mut start = 0;
    for found in scan::plain(source, syntax, &scan::any) {
        if source[start..found.start].contains('?') {
            return true;
        }
        start = found.end;
    }
    source[start..].contains('?')
}

/// Whether the template text `text` uses a placeholder option that format
/// version 3 introduced (a phone format, a time zone, `upper`, `lower`,
/// `truncate:N`), in either syntax, as the real scanner finds placeholders:
/// a document holding one is written as format 3, so that earlier readers,
/// which would refuse the option, refuse the document by its version.
pub(crate) fn uses_format_3(text: &str) -> bool {
    [Syntax::Hash, Syntax::Brackets].into_iter().any(|syntax| {
        scan::plain(text, syntax, &scan::any).any(|found| {
            found.options.is_some_and(|(options, _)| {
                options.split('|').any(|option| {
                    crate::phone::is_option(option)
                        || crate::zone::is_option(option)
                        || matches!(option, "upper" | "lower")
                        || option.starts_with("truncate:")
                })
            })
        })
    })
}

/// Every placeholder in plain text, as its byte range, name and options
/// (the text after `|`): for text the engine does not render itself (JWT
/// claims), so that a placeholder there is what it is everywhere else.
pub(crate) fn placeholders(
    source: &str,
    syntax: Syntax,
) -> impl Iterator<Item = (std::ops::Range<usize>, &str, Option<&str>)> {
    scan::plain(source, syntax, &scan::any).map(|found| {
        (
            found.start..found.end,
            found.name,
            found.options.map(|(o, _)| o),
        )
    })
}

#[cfg(test)]
mod tests;
