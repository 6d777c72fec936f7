//! The one error type of the crate.
//!
//! Every fallible operation returns [`Error`]. Its [`ErrorKind`] says what
//! went wrong in a way a program can match on; its `Display` says it in a way a
//! person can act on: what, where (service, field, line and column) and, for a
//! misspelt name, the nearest known one. The error of the crate underneath
//! (serde_json, url, quick-xml, chrono, http, base64) is kept as
//! [`source()`](std::error::Error::source).

use std::fmt;
use std::sync::Arc;

/// Where in a template or configuration text a problem is.
///
/// `line` and `column` are 1-based and count characters, as editors do;
/// `offset` is the 0-based byte offset into the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Position {
    /// Byte offset from the start of the text.
    pub offset: usize,
    /// Line number, starting at 1.
    pub line: usize,
    /// Column number in characters, starting at 1.
    pub column: usize,
}

impl Position {
    /// Computes the line and column of byte `offset` in `text`.
    ///
    /// An offset past the end, or inside a multi-byte character, is clamped to
    /// the nearest character boundary before it.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::Position;
    ///
    /// let at = Position::locate("{\n  \"id\": #x#\n}", 10);
    /// assert_eq!((at.line, at.column), (2, 9));
    /// ```
    #[must_use]
    pub fn locate(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Position {
            offset,
            line,
            column,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Finds the positions of increasing offsets in one text, scanning each
/// byte once however many positions are asked for.
pub(crate) struct Locator<'a> {
    text: &'a str,
    at: Position,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(text: &'a str) -> Locator<'a> {
        Locator {
            text,
            at: Position {
                offset: 0,
                line: 1,
                column: 1,
            },
        }
    }

    /// The position of `offset`; an offset before the last one asked for
    /// starts again from the beginning.
    pub(crate) fn locate(&mut self, offset: usize) -> Position {
        if offset < self.at.offset {
            *self = Locator::new(self.text);
        }
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        #[cfg(test)]
        WALKED.with(|n| n.set(n.get() + offset.saturating_sub(self.at.offset)));
        for c in self.text[self.at.offset..offset].chars() {
            if c == '\n' {
                self.at.line += 1;
                self.at.column = 1;
            } else {
                self.at.column += 1;
            }
        }
        self.at.offset = offset;
        self.at
    }
}

#[cfg(test)]
thread_local! {
    /// Bytes the locators walked, for tests that count the work compiling
    /// does.
    pub(crate) static WALKED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The category of an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A template is malformed: bad placeholder options, or a JSON or XML
    /// template that is not well-formed.
    TemplateSyntax,
    /// A template has several problems; [`Error::related`] lists them.
    InvalidTemplate,
    /// A placeholder names a field the catalog does not know.
    UnknownField,
    /// A name that should be an event is not one.
    UnknownEvent,
    /// A field needed at render time has no value and the policy is to fail.
    MissingValue,
    /// A value cannot stand where it is placed without changing the structure
    /// around it (CR, LF or NUL in a header, `..` as a URL path segment), or
    /// would make a rendered body, URL or header longer than 4 MiB.
    UnsafeValue,
    /// Call data is not of the shape or type expected.
    InvalidCallData,
    /// A configuration is invalid; where it has several problems,
    /// [`Error::related`] lists them.
    InvalidConfig,
    /// A URL is not a valid absolute http(s) URL, or a placeholder stands
    /// where call data could change the host.
    InvalidUrl,
    /// A header name or value is not valid.
    InvalidHeader,
    /// A signature or its inputs are invalid, or verification failed.
    Signature,
    /// A registry operation was refused (unknown id, duplicate id, a service
    /// still in use).
    Registry,
    /// Serialising or deserialising failed.
    Serde,
    /// A stored or host-given request no longer matches its service: the
    /// service now sends to another origin (scheme, host or port), to
    /// another path or query, with no body, or with another method (or the
    /// request was edited). Dispatch again to build the request as the service is now.
    ServiceChanged,
    /// The service of a stored or host-given request is disabled, so
    /// nothing of it is signed; the request may be sent once it is enabled
    /// again.
    ServiceDisabled,
    /// A stored document (a configuration, a registry, a service's or a
    /// webhook's row) is written in a format newer than this version of
    /// callhook reads ([`FORMAT_VERSION`](crate::FORMAT_VERSION)): upgrade
    /// callhook to read it.
    NewerFormat,
    /// A request cannot be signed yet: its service authenticates by
    /// OAuth2 and no usable token is at hand.
    /// [`Registry::prepare`](crate::Registry::prepare) returns the token
    /// request to send first, where [`Registry::sign`](crate::Registry::sign)
    /// and [`Service::sign`](crate::Service::sign), which take no token
    /// cache, refuse with this kind.
    TokenNeeded,
    /// An OAuth2 token endpoint refused a token request: an OAuth2 error
    /// response (its `error` code is in the message, such as
    /// `invalid_grant`), or a status other than 2xx. The host retries the
    /// delivery later, or reports the entry's credentials as wrong.
    TokenRefused,
    /// An OAuth2 token response, or a stored token cache, cannot be read:
    /// not a JSON object, no access token, or a value past its limit
    /// ([`limits::TOKEN_BYTES`](crate::limits::TOKEN_BYTES) and those
    /// beside it).
    InvalidTokenResponse,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::TemplateSyntax => "template syntax error",
            ErrorKind::InvalidTemplate => "invalid template",
            ErrorKind::UnknownField => "unknown field",
            ErrorKind::UnknownEvent => "unknown event",
            ErrorKind::MissingValue => "missing value",
            ErrorKind::UnsafeValue => "unsafe value",
            ErrorKind::InvalidCallData => "invalid call data",
            ErrorKind::InvalidConfig => "invalid configuration",
            ErrorKind::InvalidUrl => "invalid URL",
            ErrorKind::InvalidHeader => "invalid header",
            ErrorKind::Signature => "signature error",
            ErrorKind::Registry => "registry operation refused",
            ErrorKind::Serde => "serialisation error",
            ErrorKind::ServiceChanged => "service changed",
            ErrorKind::ServiceDisabled => "service disabled",
            ErrorKind::NewerFormat => "newer format",
            ErrorKind::TokenNeeded => "token needed",
            ErrorKind::TokenRefused => "token refused",
            ErrorKind::InvalidTokenResponse => "invalid token response",
        })
    }
}

/// The error type of every fallible operation in callhook.
///
/// The message is lowercase without a trailing period; literals are in
/// backticks. The context (service, field, position) is appended in
/// parentheses, and a suggestion for a misspelt name follows the message:
///
/// ```
/// use callhook::template::{Context, Options, Template};
/// use callhook::ErrorKind;
///
/// let err = Template::compile("{\"id\": \"#agnet_id#\"}", Context::Json, &Options::default())
///     .unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::UnknownField);
/// assert_eq!(err.suggestion(), Some("agent_id"));
/// assert_eq!(
///     err.to_string(),
///     "unknown field `agnet_id`, did you mean `agent_id`? (line 1, column 9)"
/// );
/// ```
#[derive(Clone)]
pub struct Error {
    // Boxed so that `Result<T, Error>` stays one pointer wide on the happy
    // path, as serde_json's error is.
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    service: Option<String>,
    field: Option<String>,
    position: Option<Position>,
    /// Where a render error stands in a template compiled without its text:
    /// the fragment and the byte offset in it, made a `position` by the
    /// caller who has the text.
    spot: Option<(u32, u32)>,
    suggestion: Option<String>,
    related: Vec<Error>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// Creates an error of `kind` with a message.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                service: None,
                field: None,
                position: None,
                spot: None,
                suggestion: None,
                related: Vec::new(),
                source: None,
            }),
        }
    }

    /// Gathers several problems into one error of `kind`
    /// ([`ErrorKind::InvalidConfig`] or [`ErrorKind::InvalidTemplate`]); a
    /// single problem stays as it is.
    pub(crate) fn many(kind: ErrorKind, mut errors: Vec<Error>) -> Error {
        if errors.len() == 1 {
            return errors.remove(0);
        }
        let n = errors.len();
        let what = match kind {
            ErrorKind::InvalidTemplate => "template",
            _ => "configuration",
        };
        let mut err = Error::new(kind, format!("{n} problems in the {what}"));
        err.inner.related = errors;
        err
    }

    pub(crate) fn at(mut self, position: Position) -> Error {
        self.inner.position = Some(position);
        self
    }

    /// Marks a render error as standing at byte `offset` of the template's
    /// fragment `fragment`, to be located by [`Error::located`].
    pub(crate) fn at_spot(mut self, fragment: u32, offset: u32) -> Error {
        self.inner.spot = Some((fragment, offset));
        self
    }

    /// The fragment and offset set by [`Error::at_spot`], if not yet located.
    pub(crate) fn spot(&self) -> Option<(u32, u32)> {
        self.inner.spot
    }

    /// Locates the spot in `text`, the source of its fragment.
    pub(crate) fn located(mut self, text: &str) -> Error {
        if let Some((_, offset)) = self.inner.spot.take() {
            self.inner.position = Some(Position::locate(text, offset as usize));
        }
        self
    }

    pub(crate) fn with_suggestion(mut self, suggestion: Option<String>) -> Error {
        self.inner.suggestion = suggestion;
        self
    }

    /// Keeps the underlying crate's error as [`source()`](std::error::Error::source).
    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        self.inner.source = Some(Arc::new(source));
        self
    }

    /// Sets the service this error concerns, unless one is set already.
    pub(crate) fn in_service(mut self, service: &str) -> Error {
        if self.inner.service.is_none() {
            self.inner.service = Some(service.to_owned());
        }
        for related in &mut self.inner.related {
            *related = related.clone().in_service(service);
        }
        self
    }

    /// Sets the field path this error concerns, prefixing any path already
    /// set (`headers` + `0.value` gives `headers.0.value`).
    pub(crate) fn in_field(mut self, field: &str) -> Error {
        self.inner.field = Some(match self.inner.field.take() {
            Some(inner) => format!("{field}.{inner}"),
            None => field.to_owned(),
        });
        for related in &mut self.inner.related {
            *related = related.clone().in_field(field);
        }
        self
    }

    /// The category of this error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The message alone, without context.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The id of the service this error concerns, if any.
    #[must_use]
    pub fn service(&self) -> Option<&str> {
        self.inner.service.as_deref()
    }

    /// The path of the configuration field this error concerns, such as
    /// `body` or `headers.0.value`, if any.
    #[must_use]
    pub fn field(&self) -> Option<&str> {
        self.inner.field.as_deref()
    }

    /// Where in the template text the problem is, if it is in one.
    #[must_use]
    pub fn position(&self) -> Option<Position> {
        self.inner.position
    }

    /// The nearest known name, for a misspelt field or event.
    #[must_use]
    pub fn suggestion(&self) -> Option<&str> {
        self.inner.suggestion.as_deref()
    }

    /// Every problem this error gathers, for an error that reports several
    /// at once ([`ErrorKind::InvalidConfig`], [`ErrorKind::InvalidTemplate`]);
    /// empty otherwise.
    #[must_use]
    pub fn related(&self) -> &[Error] {
        &self.inner.related
    }

    /// The single problems this error stands for: those it gathers, or
    /// itself, so errors from several sources can be gathered again.
    pub(crate) fn into_problems(self) -> Vec<Error> {
        if self.inner.related.is_empty() {
            vec![self]
        } else {
            self.inner.related
        }
    }
}

/// Errors are equal when they say the same; the underlying error is not
/// compared.
impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        let (a, b) = (&self.inner, &other.inner);
        a.kind == b.kind
            && a.message == b.message
            && a.service == b.service
            && a.field == b.field
            && a.position == b.position
            && a.spot == b.spot
            && a.suggestion == b.suggestion
            && a.related == b.related
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.write_str(&inner.message)?;
        if let Some(suggestion) = &inner.suggestion {
            write!(f, ", did you mean `{suggestion}`?")?;
        }
        let mut context = Vec::new();
        if let Some(service) = &inner.service {
            context.push(format!("service `{service}`"));
        }
        if let Some(field) = &inner.field {
            context.push(format!("field `{field}`"));
        }
        if let Some(position) = &inner.position {
            context.push(position.to_string());
        }
        if !context.is_empty() {
            write!(f, " ({})", context.join(", "))?;
        }
        for related in &inner.related {
            write!(f, "\n- {related}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("message", &self.inner.message)
            .field("service", &self.inner.service)
            .field("field", &self.inner.field)
            .field("position", &self.inner.position)
            .field("suggestion", &self.inner.suggestion)
            .field("related", &self.inner.related)
            .field("source", &self.inner.source)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// serde_json's error as an [`Error`] of `kind`: its message without its
/// own " at line L column C", the position in `text`, and the error itself
/// as the source.
pub(crate) fn json_error(kind: ErrorKind, text: &str, e: serde_json::Error) -> Error {
    let mut message = e.to_string();
    // Only the suffix serde_json appends goes: a name the message quotes
    // may hold " at line " itself. An error with no position (line 0) has
    // no suffix.
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    if e.line() != 0 && message.ends_with(&suffix) {
        message.truncate(message.len() - suffix.len());
    }
    Error::new(kind, message)
        .at(json_position(text, &e))
        .with_source(e)
}

/// Where in `text` serde_json's error `e` stands.
pub(crate) fn json_position(text: &str, e: &serde_json::Error) -> Position {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum();
    Position::locate(text, line_start + e.column().saturating_sub(1))
}

/// Names longer than this get no "did you mean", and show cut short in
/// messages: no field or event name is near this long.
const LONGEST_NAME: usize = 64;

/// A name as a message shows it: whole up to [`LONGEST_NAME`] characters,
/// cut short with `…` beyond, so a hostile name cannot fill a log.
pub(crate) fn shown(name: &str) -> std::borrow::Cow<'_, str> {
    match name.char_indices().nth(LONGEST_NAME) {
        Some((cut, _)) => format!("{}…", &name[..cut]).into(),
        None => name.into(),
    }
}

/// The name in `known` nearest to `name`, if one is near enough to be a
/// likely misspelling. Names over [`LONGEST_NAME`] characters get none.
pub(crate) fn nearest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let length = name.chars().count();
    if length > LONGEST_NAME {
        return None;
    }
    let limit = (length / 3).max(2);
    known
        .into_iter()
        // A name whose length differs by more than the limit cannot be
        // within it.
        .filter(|candidate| candidate.chars().count().abs_diff(length) <= limit)
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate.to_owned())
}

/// Optimal string alignment distance: insertions, deletions, substitutions and
/// transpositions of adjacent characters each cost one, compared
/// case-insensitively. Three rows of the matrix are kept, not all of it.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    #[cfg(test)]
    CELLS.with(|n| n.set(n.get() + a.len() * b.len()));
    let mut before: Vec<usize> = (0..=b.len()).collect();
    let mut previous: Vec<usize> = before.clone();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
thread_local! {
    /// Edit-distance cells computed, for tests that count the work a
    /// suggestion does.
    pub(crate) static CELLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn a_json_message_quoting_at_line_keeps_all_it_quotes() {
        // serde_json appends " at line L column C"; only that suffix goes,
        // not the text from a name that happens to hold the words.
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Known {
            known: bool,
        }
        let text = r#"{"a at line 1": 1}"#;
        let e = serde_json::from_str::<Known>(text).unwrap_err();
        let error = json_error(ErrorKind::InvalidConfig, text, e);
        assert_eq!(
            error.message(),
            "unknown field `a at line 1`, expected `known`"
        );
        let at = error.position().unwrap();
        assert_eq!((at.line, at.column), (1, 14));
    }

    #[test]
    fn locates_lines_and_columns_in_characters() {
        let text = "ab\ncdé#x";
        let p = Position::locate(text, text.find('#').unwrap());
        assert_eq!((p.line, p.column), (2, 4));
        assert_eq!(Position::locate(text, 0).column, 1);
        assert_eq!(Position::locate(text, 999).offset, text.len());
    }

    #[test]
    fn the_locator_agrees_with_locate_in_one_pass() {
        let text = "a\nbé\n\ncd#x\ny";
        let mut locator = Locator::new(text);
        for offset in 0..=text.len() + 2 {
            assert_eq!(locator.locate(offset), Position::locate(text, offset));
        }
        // Going back starts again.
        assert_eq!(locator.locate(1), Position::locate(text, 1));
    }

    #[test]
    fn suggests_the_nearest_name_only_when_near() {
        let known = ["agent_id", "agent_username", "ani", "dnis"];
        assert_eq!(nearest("agnet_id", known).as_deref(), Some("agent_id"));
        assert_eq!(nearest("Agent_ID", known).as_deref(), Some("agent_id"));
        assert_eq!(nearest("completely_else", known), None);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    /// A huge unknown name costs no suggestion work and shows cut short.
    #[test]
    fn huge_names_get_no_suggestion_and_show_cut_short() {
        let huge = "a".repeat(4_000_000);
        CELLS.with(|n| n.set(0));
        assert_eq!(nearest(&huge, ["agent_id", "ani"]), None);
        assert_eq!(CELLS.with(std::cell::Cell::get), 0);
        assert_eq!(shown(&huge).chars().count(), LONGEST_NAME + 1);
        assert_eq!(shown("agent_id"), "agent_id");
    }

    #[test]
    fn display_names_context_and_lists_related_problems() {
        let a = Error::new(ErrorKind::UnknownField, "unknown field `x`")
            .in_field("body")
            .in_service("svc")
            .at(Position::locate("ab", 1));
        assert_eq!(
            a.to_string(),
            "unknown field `x` (service `svc`, field `body`, line 1, column 2)"
        );
        let both = Error::many(
            ErrorKind::InvalidConfig,
            vec![a.clone(), Error::new(ErrorKind::InvalidUrl, "bad url")],
        );
        assert_eq!(both.kind(), ErrorKind::InvalidConfig);
        assert_eq!(both.related().len(), 2);
        assert!(both
            .to_string()
            .starts_with("2 problems in the configuration\n- unknown"));
        assert_eq!(ErrorKind::InvalidUrl.to_string(), "invalid URL");
    }

    #[test]
    fn the_underlying_error_is_the_source() {
        let text = "{\"a\": }";
        let underlying = serde_json::from_str::<serde_json::Value>(text).unwrap_err();
        let expected = underlying.to_string();
        let err = json_error(ErrorKind::Serde, text, underlying);
        assert_eq!(err.source().unwrap().to_string(), expected);
        assert_eq!(err.message(), "expected value");
        assert_eq!(err.position().unwrap().column, 7);
    }
}
