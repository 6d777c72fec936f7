//! The one error type of the crate.
//!
//! Every fallible operation returns [`Error`]. Its [`ErrorKind`] says what
//! went wrong in a way a program can match on; its `Display` says it in a way a
//! person can act on: what, where (service, field, line and column) and, for a
//! misspelt name, the nearest known one.

use std::fmt;

/// Where in a template or configuration text a problem is.
///
/// `line` and `column` are 1-based and count characters, as editors do;
/// `offset` is the 0-based byte offset into the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// The category of an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A template is malformed: bad placeholder options, or a JSON or XML
    /// template that is not well-formed.
    TemplateSyntax,
    /// A placeholder names a field the catalog does not know.
    UnknownField,
    /// A name that should be an event is not one.
    UnknownEvent,
    /// A field needed at render time has no value and the policy is to fail.
    MissingValue,
    /// A value cannot stand where it is placed without changing the structure
    /// around it (CR, LF or NUL in a header, `..` as a URL path segment).
    UnsafeValue,
    /// Call data is not of the shape or type expected.
    InvalidCallData,
    /// A configuration is invalid; [`Error::related`] lists every problem.
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
}

/// The error type of every fallible operation in callhook.
///
/// The message is lowercase without a trailing period; literals are in
/// backticks. The context (service, field, position) is appended in
/// parentheses, and a suggestion for a misspelt name follows the message:
///
/// ```
/// use callhook::{template::{Template, Context, Options}, ErrorKind};
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
#[derive(Clone, PartialEq)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Debug, Clone, PartialEq)]
struct Inner {
    kind: ErrorKind,
    message: String,
    service: Option<String>,
    field: Option<String>,
    position: Option<Position>,
    suggestion: Option<String>,
    related: Vec<Error>,
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
                suggestion: None,
                related: Vec::new(),
            }),
        }
    }

    /// Gathers several problems into one error of kind
    /// [`ErrorKind::InvalidConfig`].
    pub(crate) fn many(mut errors: Vec<Error>) -> Error {
        if errors.len() == 1 {
            return errors.remove(0);
        }
        let n = errors.len();
        let mut err = Error::new(
            ErrorKind::InvalidConfig,
            format!("{n} problems in the configuration"),
        );
        err.inner.related = errors;
        err
    }

    pub(crate) fn at(mut self, position: Position) -> Error {
        self.inner.position = Some(position);
        self
    }

    pub(crate) fn with_suggestion(mut self, suggestion: Option<String>) -> Error {
        self.inner.suggestion = suggestion;
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
        self
    }

    /// The category of this error.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The message alone, without context.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The id of the service this error concerns, if any.
    pub fn service(&self) -> Option<&str> {
        self.inner.service.as_deref()
    }

    /// The path of the configuration field this error concerns, such as
    /// `body` or `headers.0.value`, if any.
    pub fn field(&self) -> Option<&str> {
        self.inner.field.as_deref()
    }

    /// Where in the template text the problem is, if it is in one.
    pub fn position(&self) -> Option<Position> {
        self.inner.position
    }

    /// The nearest known name, for a misspelt field or event.
    pub fn suggestion(&self) -> Option<&str> {
        self.inner.suggestion.as_deref()
    }

    /// Every problem this error gathers, for an [`ErrorKind::InvalidConfig`]
    /// error that reports several at once; empty otherwise.
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
            .finish()
    }
}

impl std::error::Error for Error {}

/// serde_json's message without its own " at line L column C", and where in
/// `text` the error is, as a [`Position`].
pub(crate) fn json_error(text: &str, e: &serde_json::Error) -> (String, Position) {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum();
    let message = e.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    (
        message,
        Position::locate(text, line_start + e.column().saturating_sub(1)),
    )
}

/// The name in `known` nearest to `name`, if one is near enough to be a
/// likely misspelling.
pub(crate) fn nearest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let limit = (name.chars().count() / 3).max(2);
    known
        .into_iter()
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate.to_owned())
}

/// Optimal string alignment distance: insertions, deletions, substitutions and
/// transpositions of adjacent characters each cost one, compared
/// case-insensitively.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_columns_in_characters() {
        let text = "ab\ncdé#x";
        let p = Position::locate(text, text.find('#').unwrap());
        assert_eq!((p.line, p.column), (2, 4));
        assert_eq!(Position::locate(text, 0).column, 1);
        assert_eq!(Position::locate(text, 999).offset, text.len());
    }

    #[test]
    fn suggests_the_nearest_name_only_when_near() {
        let known = ["agent_id", "agent_username", "ani", "dnis"];
        assert_eq!(nearest("agnet_id", known).as_deref(), Some("agent_id"));
        assert_eq!(nearest("Agent_ID", known).as_deref(), Some("agent_id"));
        assert_eq!(nearest("completely_else", known), None);
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
        let both = Error::many(vec![
            a.clone(),
            Error::new(ErrorKind::InvalidUrl, "bad url"),
        ]);
        assert_eq!(both.kind(), ErrorKind::InvalidConfig);
        assert_eq!(both.related().len(), 2);
        assert!(both
            .to_string()
            .starts_with("2 problems in the configuration\n- unknown"));
    }
}
