//! The one template compiler: text in a context becomes steps of literals
//! and checked placeholders.
//!
//! A [`Builder`] takes literal bytes and template fragments, each in its own
//! context, and joins them into one [`Template`]: a whole JSON document, a
//! URL and its query pairs, or a form body made of many pairs all compile
//! here, and render through the one loop in [`Template::render_lookup`].

use std::collections::BTreeMap;
use std::sync::Arc;

use super::render::{Case, Extra, Output, Slot, Spot, Step, TextSteps, FORMATS, STRFTIME};
use super::scan::{self, Found};
use super::{Context, Missing, Options, Syntax, Template};
use crate::error::{shown, Error, ErrorKind, Locator};
use crate::limits;
use crate::phone::Phone;
use crate::value::FieldType;
use crate::zone::Zone;

/// A pair's value map, shared by every placeholder of the pair's value: one
/// copy per pair, however many placeholders it has.
type Map = Arc<BTreeMap<String, String>>;

/// Builds one [`Template`] from literals and fragments, gathering every
/// problem of every fragment.
pub(crate) struct Builder<'o, 'c> {
    options: &'o Options<'c>,
    steps: Vec<Step>,
    /// Every literal so far, already escaped; the step being built owns
    /// what follows the last step's end.
    literals: Vec<u8>,
    /// Where the literal of the step being built starts.
    step_start: usize,
    spots: Vec<Spot>,
    /// How many fragments came before the one being compiled.
    fragment: u32,
    /// The URI a URL fragment with no placeholder was checked as, which a
    /// static URL keeps rather than parsing it again.
    uri: Option<http::Uri>,
    /// What few slots have (a strftime format, a default, a map); a slot
    /// holds its index + 1.
    extras: Vec<Extra>,
    /// Whether the template has had more placeholders than
    /// [`limits::PLACEHOLDERS`], which is reported once.
    too_many_placeholders: bool,
    size_hint: usize,
    errors: Vec<Error>,
}

impl<'o, 'c> Builder<'o, 'c> {
    pub(crate) fn new(options: &'o Options<'c>) -> Builder<'o, 'c> {
        Builder {
            options,
            steps: Vec::new(),
            literals: Vec::new(),
            step_start: 0,
            spots: Vec::new(),
            fragment: 0,
            uri: None,
            extras: Vec::new(),
            too_many_placeholders: false,
            size_hint: 0,
            errors: Vec::new(),
        }
    }

    /// Appends bytes that are already what the output must hold.
    pub(crate) fn literal(&mut self, bytes: &[u8]) {
        self.literals.extend_from_slice(bytes);
    }

    /// Sets what the next fragment's placeholders record as their
    /// fragment: by default how many fragments came before, but a caller
    /// that knows where each fragment came from (a service's compiler,
    /// `body::Origin`) records that instead, so a render error names its
    /// source without a second numbering.
    pub(crate) fn next_fragment(&mut self, code: u32) {
        self.fragment = code;
    }

    /// The URI of the last URL fragment, if it had no placeholder.
    pub(crate) fn take_uri(&mut self) -> Option<http::Uri> {
        self.uri.take()
    }

    /// Records a problem found outside any fragment.
    pub(crate) fn error(&mut self, error: Error) {
        self.errors.push(error);
    }

    /// Compiles `source` for `context` and appends it. Each placeholder's
    /// value goes through `map` before it is escaped, where one is given.
    /// Problems name `field` (a configuration path) and their position in
    /// `source`.
    ///
    /// `field` makes the path only when there is a problem to name it in.
    pub(crate) fn fragment(
        &mut self,
        source: &str,
        context: Context,
        map: Option<&BTreeMap<String, String>>,
        field: Option<&dyn Fn() -> String>,
    ) {
        let first_error = self.errors.len();
        // Room for the fragment's steps and literals up front: a placeholder
        // has two of its syntax's first delimiter byte (`#` or `[`), so
        // counting them rarely misses, and the lists grow once rather than
        // doubling from empty.
        let delimiter = self.options.syntax.delimiters().0.as_bytes()[0];
        let placeholders = memchr::memchr_iter(delimiter, source.as_bytes()).count() / 2;
        self.steps.reserve(placeholders + 1);
        self.spots.reserve(placeholders);
        self.literals.reserve(source.len());
        self.other_syntax(source);
        // Copied once here and shared: a copy per placeholder made one
        // pair with thousands of placeholders and a large map cost
        // gigabytes.
        let map = map.filter(|m| !m.is_empty()).map(|m| Arc::new(m.clone()));
        self.compile_fragment(source, context, map.as_ref());
        if let Some(field) = field.filter(|_| self.errors.len() > first_error) {
            let field = field();
            for error in &mut self.errors[first_error..] {
                *error = error.clone().in_field(&field);
            }
        }
        self.fragment = self.fragment.saturating_add(1);
    }

    fn compile_fragment(&mut self, source: &str, context: Context, map: Option<&Map>) {
        let syntax = self.options.syntax;
        let catalog = self.options.catalog;
        let lenient = self.options.lenient;
        let accept = |name: &str| !lenient || catalog.get(name).is_some();
        if context == Context::JsonValue {
            // One placeholder alone renders typed; anything else is a string.
            let mut all = scan::plain(source, syntax, &scan::any);
            if let (Some(one), None) = (all.next(), all.next()) {
                if one.start == 0 && one.end == source.len() {
                    self.placeholder(&one, Context::JsonValue, &mut Locator::new(source), map);
                    return;
                }
            }
            self.literal(b"\"");
            self.compile_fragment(source, Context::JsonString, map);
            self.literal(b"\"");
            return;
        }
        // Each scan's placeholders go straight to the steps, with no list in
        // between but the one a structured scan makes.
        match context {
            Context::Json => {
                let found = scan::json(source, syntax, &accept);
                self.compile_found(
                    source,
                    context,
                    map,
                    found.into_iter().map(|(f, c)| (f, Ok(c))),
                );
            }
            Context::Xml => {
                let found = scan::xml(source, syntax, &accept);
                self.compile_found(source, context, map, found.into_iter());
            }
            Context::Url => {
                let found = scan::url(source, syntax, &accept);
                self.compile_found(source, context, map, found.into_iter());
            }
            _ => {
                let found = scan::plain(source, syntax, &accept).map(|f| (f, Ok(context)));
                self.compile_found(source, context, map, found);
            }
        }
    }

    /// Compiles `source` with the placeholders `found` in it, each with the
    /// context it stands in or the name of the place it cannot stand in.
    fn compile_found<'s>(
        &mut self,
        source: &'s str,
        context: Context,
        map: Option<&Map>,
        found: impl Iterator<Item = (Found<'s>, Result<Context, &'static str>)>,
    ) {
        let first_error = self.errors.len();
        self.literals.reserve(source.len());
        // Positions are worked out only for errors, which come in order, so
        // the locator walks the text at most once.
        let mut locator = Locator::new(source);
        // The source with each placeholder replaced by a stand-in of the
        // same length, for the JSON, XML or URL parser to check the
        // structure around the placeholders.
        let structured = matches!(context, Context::Json | Context::Xml | Context::Url);
        let mut stand_in = Vec::with_capacity(if structured { source.len() } else { 0 });
        let mut literal_start = 0;
        let mut placeholders = 0;
        for (found, place) in found {
            placeholders += 1;
            let literal = &source[literal_start..found.start];
            self.push_literal(literal, context, &mut locator, literal_start);
            let slot_context = match place {
                Ok(slot_context) => slot_context,
                Err(place) => {
                    let kind = if context == Context::Url {
                        ErrorKind::InvalidUrl
                    } else {
                        ErrorKind::TemplateSyntax
                    };
                    self.errors.push(
                        Error::new(
                            kind,
                            format!("placeholder `{}` cannot stand in {place}", found.name),
                        )
                        .at(locator.locate(found.start)),
                    );
                    literal_start = found.end;
                    continue;
                }
            };
            if structured {
                stand_in.extend_from_slice(literal.as_bytes());
            }
            // `[]` is a JSON value that, unlike a number or a string, cannot
            // continue a number (`1#x#`) or stand as a key; `x`s are valid
            // text anywhere. In a JSON string, a mark first says the string
            // holds a placeholder, so two keys whose stand-ins are alike are
            // not taken for one key repeated.
            let mut mark = [0; 4];
            let (fill, pad): (&[u8], u8) = match slot_context {
                Context::JsonValue => (b"[]", b' '),
                Context::JsonString => (
                    scan::JSON_STRING_STAND_IN.encode_utf8(&mut mark).as_bytes(),
                    b'x',
                ),
                _ => (b"x", b'x'),
            };
            if structured {
                stand_in.extend_from_slice(fill);
                stand_in.resize(stand_in.len() + (found.end - found.start) - fill.len(), pad);
            }
            literal_start = found.end;
            self.placeholder(&found, slot_context, &mut locator, map);
        }
        let rest = &source[literal_start..];
        self.push_literal(rest, context, &mut locator, literal_start);
        if structured {
            stand_in.extend_from_slice(rest.as_bytes());
        }

        if structured && self.errors.len() == first_error {
            // Stand-ins replace whole placeholders with whole characters
            // of the same length in bytes (a placeholder is at least three,
            // the mark's length), so the text stays UTF-8 and keeps every
            // offset.
            let stand_in = String::from_utf8(stand_in).unwrap_or_default();
            let checked = match context {
                Context::Json => scan::check_json(source, &stand_in),
                Context::Xml => scan::check_xml(source, &stand_in),
                Context::Url => scan::check_url(&stand_in, self.options.addresses).map(|uri| {
                    // With no placeholder, the stand-in is the URL itself.
                    self.uri = (placeholders == 0).then_some(uri);
                }),
                _ => Ok(()),
            };
            if let Err(e) = checked {
                self.errors.push(e);
            }
        }
    }

    /// Refuses text that would be a placeholder for a known field in the
    /// other syntax (`#agent_id#` in a `[[...]]` service): it would be sent
    /// as written, which is never what was meant. Text such as `Ticket #42`
    /// names no field and stays literal.
    fn other_syntax(&mut self, source: &str) {
        let (syntax, other) = match self.options.syntax {
            Syntax::Hash => (Syntax::Hash, Syntax::Brackets),
            Syntax::Brackets => (Syntax::Brackets, Syntax::Hash),
        };
        let catalog = self.options.catalog;
        let known = |name: &str| catalog.get(name).is_some();
        let mut locator = Locator::new(source);
        for found in scan::plain(source, other, &known) {
            let (open, close) = syntax.delimiters();
            // `[[#a#]]`: the other syntax's text inside one of ours.
            if scan::plain(&source[found.start..], syntax, &scan::any)
                .next()
                .is_some_and(|f| f.start == 0)
            {
                continue;
            }
            let written = &source[found.start..found.end];
            let options = found
                .options
                .map_or(String::new(), |(o, _)| format!("|{o}"));
            self.errors.push(
                Error::new(
                    ErrorKind::TemplateSyntax,
                    format!(
                        "this template uses `{open}field{close}` placeholders, so `{}` would be \
                         sent as written",
                        shown(written)
                    ),
                )
                .with_suggestion(Some(format!("{open}{}{options}{close}", found.name)))
                .at(locator.locate(found.start)),
            );
        }
    }

    /// Appends literal template text, which starts at `offset` in the
    /// located text, escaped where the context escapes literals.
    fn push_literal(
        &mut self,
        text: &str,
        context: Context,
        locator: &mut Locator<'_>,
        offset: usize,
    ) {
        if context.escapes_literals() {
            if let Err(refused) = context.escape(text, &mut self.literals) {
                // Located only here: most literals are never refused.
                let position = locator.locate(offset);
                self.errors
                    .push(Error::new(ErrorKind::UnsafeValue, refused.message()).at(position));
            }
        } else {
            self.literals.extend_from_slice(text.as_bytes());
        }
    }

    /// Checks a placeholder and, if it is sound, ends the current step
    /// with it.
    fn placeholder(
        &mut self,
        found: &Found<'_>,
        context: Context,
        locator: &mut Locator<'_>,
        map: Option<&Map>,
    ) {
        if self.steps.len() >= limits::PLACEHOLDERS {
            // Said once: every later placeholder would say it again.
            if !self.too_many_placeholders {
                self.too_many_placeholders = true;
                self.errors.push(
                    Error::new(
                        ErrorKind::TemplateSyntax,
                        format!(
                            "a template may have at most {} placeholders \
                             (`limits::PLACEHOLDERS`)",
                            limits::count(limits::PLACEHOLDERS)
                        ),
                    )
                    .at(locator.locate(found.start)),
                );
            }
            return;
        }
        match check(found, context, self.options, map) {
            // A URL's path is shown whole by every view that has no call
            // data to redact it with (`Debug` of a request or an envelope,
            // and the logs of every proxy on the way), where a query value
            // is redacted: a secret's value may travel in the query or the
            // body, never in the path.
            Ok((slot, _)) if slot.key.secret && context == Context::UrlPath => {
                self.errors.push(
                    Error::new(
                        ErrorKind::InvalidUrl,
                        format!(
                            "field `{}` is a secret and cannot stand in a URL's path, which \
                             logs and views show whole; send it in the query or the body",
                            shown(found.name)
                        ),
                    )
                    .at(locator.locate(found.start)),
                );
            }
            Ok((mut slot, extra)) => {
                if let Some(extra) = extra {
                    // At most one extra per placeholder, so within 16 bits
                    // while placeholders are within their limit.
                    let Ok(index) = u16::try_from(self.extras.len() + 1) else {
                        return;
                    };
                    self.extras.push(extra);
                    slot.extra = index;
                }
                self.size_hint += 24;
                self.spots.push(Spot {
                    fragment: self.fragment,
                    // Offsets past 4 GiB only blur an error's position.
                    offset: u32::try_from(found.start).unwrap_or(u32::MAX),
                });
                self.steps.push(Step {
                    literal_len: self.literal_len(),
                    slot,
                });
                self.step_start = self.literals.len();
            }
            Err(e) => self.errors.push(e.at(locator.locate(found.start))),
        }
    }

    /// The template, or every problem found.
    pub(crate) fn finish(self, context: Context) -> Result<Template, Vec<Error>> {
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        if u32::try_from(self.literals.len()).is_err() {
            return Err(vec![Error::new(
                ErrorKind::TemplateSyntax,
                "the template is over 4 GiB",
            )]);
        }
        let size_hint = capacity(self.size_hint.saturating_add(self.literals.len()));
        // Every step has a slot, whose field is named in the positions.
        let names = (!self.steps.is_empty()).then(|| Arc::clone(self.options.catalog.positions()));
        Ok(Template {
            context,
            literals: self.literals.into_boxed_slice(),
            steps: self.steps.into_boxed_slice(),
            spots: self.spots.into_boxed_slice(),
            source: None,
            extras: self.extras.into_boxed_slice(),
            names,
            // A capacity hint: saturating only asks for less room.
            size_hint: u32::try_from(size_hint).unwrap_or(u32::MAX),
        })
    }

    /// How long the literal being built is, as a step holds it; `finish`
    /// refuses literals past `u32::MAX` in all, so this never saturates in a
    /// template that compiles.
    fn literal_len(&self) -> u32 {
        u32::try_from(self.literals.len() - self.step_start).unwrap_or(u32::MAX)
    }
}

/// Checks one placeholder: its field, options and format.
/// Its errors are located by the caller, at the placeholder's start.
fn check(
    found: &Found<'_>,
    context: Context,
    options: &Options<'_>,
    map: Option<&Map>,
) -> Result<(Slot, Option<Extra>), Error> {
    let Some((field, spec)) = options.catalog.field(found.name) else {
        return Err(Error::new(
            ErrorKind::UnknownField,
            format!("unknown field `{}`", shown(found.name)),
        )
        .with_suggestion(options.suggest(found.name)));
    };
    let mut format = None;
    let mut default = None;
    let mut phone = None;
    let mut zone = None;
    let mut case = None;
    let mut truncate = None;
    let two = |what: &str| {
        Err(Error::new(
            ErrorKind::TemplateSyntax,
            format!("placeholder `{}` has two {what}", found.name),
        ))
    };
    if let Some((text, _)) = found.options {
        for option in text.split('|') {
            if let Some(value) = option.strip_prefix("default:") {
                if default.replace(value.into()).is_some() {
                    return two("defaults");
                }
            } else if let Some(spec) = option.strip_prefix("phone:") {
                let parsed = Phone::parse(option, spec, options.phone_region)?;
                if phone.replace(parsed).is_some() {
                    return two("phone formats");
                }
            } else if let Some(name) = option.strip_prefix("tz:") {
                let parsed = Zone::parse(option, name, options.may_suggest())?;
                if zone.replace(parsed).is_some() {
                    return two("time zones");
                }
            } else if option == "upper" || option == "lower" {
                let parsed = if option == "upper" {
                    Case::Upper
                } else {
                    Case::Lower
                };
                if case.replace(parsed).is_some() {
                    return two("case functions (`upper`, `lower`)");
                }
            } else if let Some(n) = option.strip_prefix("truncate:") {
                let parsed = match n.parse::<u32>() {
                    Ok(n) if n >= 1 && n as usize <= limits::TRUNCATE_CHARS => n,
                    _ => {
                        return Err(Error::new(
                            ErrorKind::TemplateSyntax,
                            format!(
                                "`{}`: truncate keeps from 1 to {} characters \
                                 (`limits::TRUNCATE_CHARS`)",
                                shown(option),
                                limits::count(limits::TRUNCATE_CHARS)
                            ),
                        ))
                    }
                };
                if truncate.replace(parsed).is_some() {
                    return two("truncations");
                }
            } else {
                let parsed = crate::format::placeholder_format(option)?;
                if format.replace(parsed).is_some() {
                    return two("formats");
                }
            }
        }
    }
    let field_type = spec.field_type();
    // Phone numbers are text in the catalog: there is no phone type.
    if phone.is_some() && field_type != FieldType::Text {
        return Err(Error::new(
            ErrorKind::TemplateSyntax,
            format!(
                "phone formats apply to text fields, but `{}` is {field_type}",
                found.name
            ),
        ));
    }
    if zone.is_some() && field_type != FieldType::Timestamp {
        return Err(Error::new(
            ErrorKind::TemplateSyntax,
            format!(
                "time zones apply to timestamp fields, but `{}` is {field_type}",
                found.name
            ),
        ));
    }
    let text_steps = (phone.is_some() || case.is_some() || truncate.is_some()).then(|| {
        Box::new(TextSteps {
            phone,
            case,
            truncate,
        })
    });
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
                    ));
                }
            }
            format
        }
        None => spec.default_format(),
    };
    // Not set: each context's default, as `Options::missing` documents.
    let missing = options.missing.unwrap_or(if context == Context::JsonValue {
        Missing::Null
    } else {
        Missing::Empty
    });
    let key = options.catalog.key_at(field, spec);
    let format_index = match FORMATS.iter().position(|known| *known == format) {
        // `FORMATS` holds 8: every index fits a `u8` short of `STRFTIME`.
        Some(i) => u8::try_from(i).unwrap_or(STRFTIME),
        None => STRFTIME,
    };
    let slot = Slot {
        key,
        // Set by the builder, which keeps the extras.
        extra: 0,
        format: format_index,
        timestamp_output: Output::of(format.timestamp_printed(), context),
        duration_output: Output::of(format.duration_printed(), context),
        text_in_json_string: context == Context::JsonString
            && map.is_none()
            && zone.is_none()
            && text_steps.is_none(),
        context,
        missing,
    };
    let strftime = (format_index == STRFTIME).then_some(format);
    let shaped = zone.is_some() || text_steps.is_some();
    let extra =
        (default.is_some() || map.is_some() || strftime.is_some() || shaped).then(|| Extra {
            format: strftime,
            default,
            map: map.map(Arc::clone),
            zone,
            text: text_steps,
        });
    Ok((slot, extra))
}

/// Blocks up to this size come from glibc's per-thread cache (its limit is
/// 1,032 bytes); a larger one takes the general path of `malloc` and
/// `free`.
const CACHED_BLOCK: usize = 1024;

/// The capacity asked for a render estimated at `estimate` bytes. An
/// estimate just past [`CACHED_BLOCK`] asks for the block instead: the
/// estimate allows 24 bytes a value, most values are shorter, and the
/// general path costs about 150 instructions a render where the body still
/// fits (PBX: estimate 1,206, body 844; a whole request 5,966 → 5,774
/// instructions, 3%, `benches/instructions.sh request`). Under the 10% rule's
/// bar, but what keeps a request within floor + render + 10% of the floor.
/// Past 1,280 the estimate stands: a render that outgrows its buffer
/// copies it.
fn capacity(estimate: usize) -> usize {
    if estimate > CACHED_BLOCK && estimate <= CACHED_BLOCK + CACHED_BLOCK / 4 {
        CACHED_BLOCK
    } else {
        estimate
    }
}
