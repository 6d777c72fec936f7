//! Finding placeholders, and the structure (JSON or XML) they stand in.

use super::escape::{is_c1, xml_allowed};
use super::{Context, Syntax};
use crate::address::AddressPolicy;
use crate::error::{json_error, Error, ErrorKind, Position};

/// A placeholder as written, before it is checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Found<'a> {
    /// Byte range of the whole placeholder, delimiters included.
    pub start: usize,
    pub end: usize,
    pub name: &'a str,
    /// The text after the first `|`, and its byte offset.
    pub options: Option<(&'a str, usize)>,
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
}

/// Adds a placeholder to a scan's list, making room on the first for those
/// of a typical template of this length (one per couple of dozen bytes), so
/// the list rarely grows, and a text with none allocates nothing.
fn push<T>(found: &mut Vec<T>, src: &str, item: T) {
    if found.capacity() == 0 {
        found.reserve(src.len() / 24 + 1);
    }
    found.push(item);
}

/// Finds placeholders in one text, left to right.
///
/// Where a placeholder has options, its closing delimiter is searched for
/// ahead; the search's result is kept, so text with many openings and no
/// closing (`[[a|[[a|...`) is scanned once, not once per opening.
pub(crate) struct Finder<'s> {
    src: &'s str,
    syntax: Syntax,
    /// Where the last search for the closing delimiter started, and what it
    /// found: it holds for any later start up to what it found.
    close: Option<(usize, Option<usize>)>,
    /// Likewise for the next line feed.
    newline: Option<(usize, Option<usize>)>,
}

/// The first position at or after `from` where `needle` starts in `src`,
/// using and updating `cache` (searches only move forward).
fn next_from(
    src: &str,
    needle: &str,
    from: usize,
    cache: &mut Option<(usize, Option<usize>)>,
) -> Option<usize> {
    if let Some((searched, found)) = *cache {
        if from >= searched && found.is_none_or(|at| at >= from) {
            return found;
        }
    }
    let found = src
        .get(from..)
        .and_then(|rest| rest.find(needle))
        .map(|at| from + at);
    #[cfg(test)]
    SEARCHED.with(|n| n.set(n.get() + found.unwrap_or(src.len()) - from));
    *cache = Some((from, found));
    found
}

#[cfg(test)]
thread_local! {
    /// Bytes searched for closing delimiters and line feeds, for tests that
    /// count the work a scan does.
    pub(crate) static SEARCHED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl<'s> Finder<'s> {
    pub(crate) fn new(src: &'s str, syntax: Syntax) -> Finder<'s> {
        Finder {
            src,
            syntax,
            close: None,
            newline: None,
        }
    }

    /// The placeholder that starts at byte `i`, if one does.
    ///
    /// A placeholder is the opening delimiter, a name
    /// (`[A-Za-z_][A-Za-z0-9_.]*`), optionally `|` and options, and the
    /// closing delimiter, all on one line. Anything else is literal text.
    #[inline]
    pub(crate) fn at(&mut self, i: usize) -> Option<Found<'s>> {
        // Scans ask at every byte, and most bytes cannot open a placeholder:
        // one comparison, inline, says so.
        let first = self.syntax.delimiters().0.as_bytes().first();
        if self.src.as_bytes().get(i) != first {
            return None;
        }
        self.at_opening(i)
    }

    fn at_opening(&mut self, i: usize) -> Option<Found<'s>> {
        let src = self.src;
        let (open, close) = self.syntax.delimiters();
        let bytes = src.as_bytes();
        if !bytes[i..].starts_with(open.as_bytes()) {
            return None;
        }
        let name_start = i + open.len();
        if !bytes.get(name_start).copied().is_some_and(is_name_start) {
            return None;
        }
        let j = bytes[name_start..]
            .iter()
            .position(|&b| !is_name_byte(b))
            .map_or(bytes.len(), |n| name_start + n);
        let name = &src[name_start..j];
        if bytes[j..].starts_with(close.as_bytes()) {
            return Some(Found {
                start: i,
                end: j + close.len(),
                name,
                options: None,
            });
        }
        if bytes.get(j) != Some(&b'|') {
            return None;
        }
        let end = next_from(src, close, j + 1, &mut self.close)?;
        if next_from(src, "\n", j + 1, &mut self.newline).is_some_and(|newline| newline < end) {
            return None;
        }
        Some(Found {
            start: i,
            end: end + close.len(),
            name,
            options: Some((&src[j + 1..end], j + 1)),
        })
    }

    fn accepted(&mut self, i: usize, accept: Accept<'_>) -> Option<Found<'s>> {
        self.at(i).filter(|f| accept(f.name))
    }
}

/// Decides, as the scan goes, whether a placeholder naming a field counts
/// as one; in lenient mode an unknown one is literal text, and is scanned as
/// text, so quotes or delimiters in it are seen.
pub(crate) type Accept<'a> = &'a dyn Fn(&str) -> bool;

/// Accepts every placeholder.
pub(crate) fn any(_: &str) -> bool {
    true
}

/// Every placeholder in plain text, in order: an iterator, so that a text
/// of one placeholder (most pair values) allocates no list.
pub(crate) fn plain<'s, 'a>(src: &'s str, syntax: Syntax, accept: Accept<'a>) -> Plain<'s, 'a> {
    Plain {
        finder: Finder::new(src, syntax),
        first: syntax.delimiters().0.as_bytes()[0],
        accept,
        i: 0,
    }
}

/// The iterator of [`plain`].
pub(crate) struct Plain<'s, 'a> {
    finder: Finder<'s>,
    /// The opening delimiter's first byte: only there can one start.
    first: u8,
    accept: Accept<'a>,
    /// Where the search goes on from.
    i: usize,
}

impl<'s> Iterator for Plain<'s, '_> {
    type Item = Found<'s>;

    fn next(&mut self) -> Option<Found<'s>> {
        let bytes = self.finder.src.as_bytes();
        while let Some(at) = bytes
            .get(self.i..)
            .and_then(|rest| memchr::memchr(self.first, rest))
        {
            self.i += at;
            match self.finder.accepted(self.i, self.accept) {
                Some(f) => {
                    self.i = f.end;
                    return Some(f);
                }
                None => self.i += 1,
            }
        }
        self.i = bytes.len();
        None
    }
}

/// Every placeholder in a JSON template, with whether it stands inside a
/// string literal ([`Context::JsonString`]) or as a whole value
/// ([`Context::JsonValue`]). A whole value is always a placeholder, known or
/// not, since as literal text it could not be JSON.
pub(crate) fn json<'s>(
    src: &'s str,
    syntax: Syntax,
    accept: Accept<'_>,
) -> Vec<(Found<'s>, Context)> {
    let bytes = src.as_bytes();
    let mut finder = Finder::new(src, syntax);
    let mut found = Vec::new();
    let mut in_string = false;
    let first = syntax.delimiters().0.as_bytes()[0];
    let mut i = 0;
    // Only a delimiter, a quote or a backslash changes anything.
    while let Some(at) = bytes.get(i..).and_then(|rest| {
        rest.iter()
            .position(|&b| b == first || b == b'"' || b == b'\\')
    }) {
        i += at;
        let here = finder.at(i).filter(|f| !in_string || accept(f.name));
        if let Some(f) = here {
            let escape = if in_string {
                Context::JsonString
            } else {
                Context::JsonValue
            };
            push(&mut found, src, (f, escape));
            i = f.end;
            continue;
        }
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            _ => {}
        }
        i += 1;
    }
    found
}

/// What a placeholder inside a JSON string literal stands in as when the
/// template is checked (then `x`s to its length): a character no template
/// writes, so a key holding it is known to hold a placeholder, whose value
/// only a call tells.
pub(crate) const JSON_STRING_STAND_IN: char = '\u{E000}';

/// The start of the message of a duplicate key, which [`check_json`] finds
/// again to point at the key.
const DUPLICATE_KEY: &str = "duplicate key";

/// A JSON value read in full, every string decoded and every number
/// parsed as a `serde_json::Value` would be, but kept nowhere: what
/// `check_json` needs, without building the value.
struct Checked;

/// An object's key, decoded.
struct Key(Option<String>);

impl<'de> serde::Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Checked, D::Error> {
        deserializer.deserialize_any(Checked)
    }
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        // A key holding a placeholder is not compared: `None`.
        let key = String::deserialize(deserializer)?;
        Ok(Key((!key.contains(JSON_STRING_STAND_IN)).then_some(key)))
    }
}

impl<'de> serde::de::Visitor<'de> for Checked {
    type Value = Checked;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    /// Receivers disagree on which of two equal keys counts (the first,
    /// the last, or an error), so an object may not repeat one. The error
    /// is raised right after the second key is read, which is where
    /// serde_json places it.
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        let mut keys = std::collections::HashSet::new();
        while let Some(Key(key)) = map.next_key::<Key>()? {
            if let Some(key) = key {
                if let Some(key) = keys.replace(key) {
                    return Err(serde::de::Error::custom(format_args!(
                        "{DUPLICATE_KEY} `{}` in one JSON object: receivers disagree on \
                         which of its values counts",
                        crate::error::shown(&key)
                    )));
                }
            }
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// Checks that `text` (a template with its placeholders replaced by stand-ins
/// of the same length) is JSON that any receiver reads: well-formed, and
/// with no key repeated in an object.
pub(crate) fn check_json(source: &str, text: &str) -> Result<(), Error> {
    // Read as a whole value, not skipped: that refuses what a strict
    // receiver refuses too (lone surrogates, numbers out of range, nesting
    // past serde_json's 128 levels).
    serde_json::from_str::<Checked>(text)
        .map(|_| ())
        .map_err(|e| {
            let e = json_error(ErrorKind::TemplateSyntax, text, e);
            // Stand-ins keep every offset, so the position holds for `source`.
            let mut offset = e.position().map_or(0, |p| p.offset);
            let message = if e.message().starts_with(DUPLICATE_KEY) {
                // Pointed at where the key ends: go back to where it starts.
                offset = key_start(text, offset);
                e.message().to_owned()
            } else {
                format!("template is not valid JSON: {}", e.message())
            };
            Error::new(ErrorKind::TemplateSyntax, message)
                .at(Position::locate(source, offset))
                .with_source(e)
        })
}

/// The offset of the opening quote of the JSON string that ends at or just
/// before `end` in `text`: the last `"` up to `end` closes it, and the one
/// before that is not escaped (an even run of `\` before it) opens it.
fn key_start(text: &str, end: usize) -> usize {
    let bytes = text.as_bytes();
    let Some(close) = bytes
        .get(..=end.min(bytes.len().saturating_sub(1)))
        .and_then(|before| before.iter().rposition(|&b| b == b'"'))
    else {
        return end;
    };
    let mut at = close;
    while let Some(quote) = bytes[..at].iter().rposition(|&b| b == b'"') {
        let backslashes = bytes[..quote]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 0 {
            return quote;
        }
        at = quote;
    }
    end
}

/// Where what follows the first `://` starts. A search for `:` and a check,
/// where a substring search would first build its searcher: about 800
/// instructions less for a service's two searches (of some 49,000 to
/// compile it).
fn after_scheme(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b':', bytes)
        .find(|&i| bytes[i..].starts_with(b"://"))
        .map(|i| i + 3)
}

/// Every placeholder in a URL template, with its escape: a URL path segment
/// before the query, a query component after it, and an error in the
/// scheme, host or port, where call data could send the request elsewhere.
pub(crate) fn url<'s>(
    src: &'s str,
    syntax: Syntax,
    accept: Accept<'_>,
) -> Vec<(Found<'s>, Result<Context, &'static str>)> {
    // No `://`: the authority, if any, starts the text.
    let authority_start = after_scheme(src).unwrap_or(0);
    let authority_end = src[authority_start..]
        .find(['/', '?'])
        .map_or(src.len(), |i| authority_start + i);
    let mut finder = Finder::new(src, syntax);
    let mut found = Vec::new();
    let mut in_query = false;
    let first = syntax.delimiters().0.as_bytes()[0];
    let mut i = 0;
    // Only a delimiter or a `?` changes anything.
    while let Some(at) = src
        .as_bytes()
        .get(i..)
        .and_then(|rest| memchr::memchr2(first, b'?', rest))
    {
        i += at;
        if let Some(f) = finder.accepted(i, accept) {
            let escape = if f.start < authority_end {
                Err("the scheme, host or port of a URL")
            } else if in_query {
                Ok(Context::UrlQuery)
            } else {
                Ok(Context::UrlPath)
            };
            push(&mut found, src, (f, escape));
            i = f.end;
            continue;
        }
        if i >= authority_end && src.as_bytes()[i] == b'?' {
            in_query = true;
        }
        i += 1;
    }
    found
}

/// Checks that `text` (a URL template with its placeholders replaced by
/// stand-ins) is an absolute http(s) URL that an HTTP request can carry.
pub(crate) fn check_url(text: &str, addresses: &AddressPolicy) -> Result<http::Uri, Error> {
    // The url crate gives no position; the field path says where.
    let fail = |message: String| Error::new(ErrorKind::InvalidUrl, message);
    let parsed =
        url::Url::parse(text).map_err(|e| fail(format!("invalid URL: {e}")).with_source(e))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(fail(format!(
            "URL scheme must be `http` or `https`, not `{}`",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(fail("URL has no host".to_owned()));
    }
    // Any `@` in the authority, even with nothing before it, is user
    // information some client would send as credentials.
    let authority = after_scheme(text).map_or(text, |start| &text[start..]);
    // No path, query or fragment: the authority runs to the end.
    let authority = &authority[..authority.find(['/', '?', '#']).unwrap_or(authority.len())];
    if authority.contains('@') || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(fail(
            "URL cannot carry a username or password; use `auth` instead".to_owned(),
        ));
    }
    // The host as clients will see it: the url crate has already decoded
    // percent escapes and mapped the name (`LOCAL%48OST` is `localhost`).
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) => addresses.check(ip.into())?,
        Some(url::Host::Ipv6(ip)) => addresses.check(ip.into())?,
        Some(url::Host::Domain(name)) => addresses.check_name(name)?,
        None => {}
    }
    if parsed.fragment().is_some() {
        return Err(fail(
            "URL cannot have a `#` fragment: it is never sent".to_owned(),
        ));
    }
    let uri = text.parse::<http::Uri>().map_err(|e| {
        fail(format!(
            "URL is not valid in an HTTP request ({e}); percent-encode it"
        ))
        .with_source(e)
    })?;
    // What is signed must be what clients send, and clients send the URL as
    // the url crate writes it; it must also be the address that was checked
    // (`0x7f.1` and `2130706433` are both 127.0.0.1).
    if parsed.as_str() != text {
        return Err(fail(
            "URL must be written as clients send it: the host in lower case and, if an IP \
             address, in its usual form; no default port; a path of at least `/`; and \
             `'` and other reserved characters percent-encoded"
                .to_owned(),
        ));
    }
    Ok(uri)
}

/// Where in an XML document the scanner is.
#[derive(Clone, Copy, PartialEq)]
enum Xml {
    Text,
    Tag,
    Attribute(u8),
    EndTag,
    Comment,
    Cdata,
    Instruction,
    Declaration,
    /// A DOCTYPE's internal subset, `[` to `]`.
    Subset,
}

/// Every placeholder in an XML template, with its escape, or `None` where a
/// placeholder cannot stand (names, comments, declarations), and the name of
/// that place.
pub(crate) fn xml<'s>(
    src: &'s str,
    syntax: Syntax,
    accept: Accept<'_>,
) -> Vec<(Found<'s>, Result<Context, &'static str>)> {
    let bytes = src.as_bytes();
    let mut finder = Finder::new(src, syntax);
    let mut found = Vec::new();
    let mut state = Xml::Text;
    // Whether the attribute value being scanned declares a namespace: call
    // data must not choose what names mean.
    let mut declares_namespace = false;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(f) = finder.accepted(i, accept) {
            let escape = match state {
                Xml::Text => Ok(Context::XmlText),
                Xml::Attribute(_) if declares_namespace => Err("a namespace declaration"),
                Xml::Attribute(_) => Ok(Context::XmlAttribute),
                Xml::Cdata => Ok(Context::XmlCdata),
                Xml::Tag | Xml::EndTag => Err("an element or attribute name"),
                Xml::Comment => Err("a comment"),
                Xml::Instruction => Err("a processing instruction"),
                Xml::Declaration | Xml::Subset => Err("a declaration"),
            };
            push(&mut found, src, (f, escape));
            i = f.end;
            continue;
        }
        let rest = &bytes[i..];
        let (next, skip) = match (state, bytes[i]) {
            (Xml::Text, b'<') if rest.starts_with(b"<!--") => (Xml::Comment, 4),
            (Xml::Text, b'<') if rest.starts_with(b"<![CDATA[") => (Xml::Cdata, 9),
            (Xml::Text, b'<') if rest.starts_with(b"<?") => (Xml::Instruction, 2),
            (Xml::Text, b'<') if rest.starts_with(b"<!") => (Xml::Declaration, 2),
            (Xml::Text, b'<') if rest.starts_with(b"</") => (Xml::EndTag, 2),
            (Xml::Text, b'<') => (Xml::Tag, 1),
            (Xml::Tag, q @ (b'"' | b'\'')) => {
                declares_namespace = attribute_name(&src[..i])
                    .is_some_and(|name| name == "xmlns" || name.starts_with("xmlns:"));
                (Xml::Attribute(q), 1)
            }
            (Xml::Attribute(q), b) if b == q => (Xml::Tag, 1),
            (Xml::Tag | Xml::EndTag | Xml::Declaration, b'>') => (Xml::Text, 1),
            (Xml::Declaration, b'[') => (Xml::Subset, 1),
            (Xml::Subset, b']') => (Xml::Declaration, 1),
            (Xml::Comment, b'-') if rest.starts_with(b"-->") => (Xml::Text, 3),
            (Xml::Cdata, b']') if rest.starts_with(b"]]>") => (Xml::Text, 3),
            (Xml::Instruction, b'?') if rest.starts_with(b"?>") => (Xml::Text, 2),
            (state, _) => (state, 1),
        };
        state = next;
        i += skip;
    }
    found
}

/// Whether `name` is an XML name: a letter, `_` or `:` (or any non-ASCII
/// character), then those, digits, `-` and `.`.
fn is_xml_name(name: &[u8]) -> bool {
    let start = |b: u8| b.is_ascii_alphabetic() || matches!(b, b'_' | b':') || b >= 0x80;
    name.first().is_some_and(|&b| start(b))
        && name
            .iter()
            .all(|&b| start(b) || b.is_ascii_digit() || matches!(b, b'-' | b'.'))
}

/// The name of the attribute whose value opens at the end of `before`
/// (`... name = "`), if there is one.
fn attribute_name(before: &str) -> Option<&str> {
    let before = before.trim_end().strip_suffix('=')?.trim_end();
    // `rsplit` cuts at character boundaries, whatever the width of the
    // character it cuts at (the fuzzer found U+00A0 here).
    before
        .rsplit(|c: char| c.is_whitespace() || c == '<')
        .next()
}

/// The namespace every parser binds the prefix `xml` to.
const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// The namespace of namespace declarations, which none may declare.
const XMLNS_NAMESPACE: &str = "http://www.w3.org/2000/xmlns/";

/// An error found in a start tag, and the byte offset of what it is about.
type TagError = (String, Option<usize>);

/// The byte offset of `part` in `text`, when `part` is a slice of it (as
/// quick-xml's events read from a `&str` are).
fn offset_in(text: &str, part: &[u8]) -> Option<usize> {
    let start = text.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    (at >= start && at + part.len() <= start + text.len()).then(|| at - start)
}

/// A name split as Namespaces in XML 1.0 reads it: an optional prefix, a
/// colon and a local part, neither holding a colon nor starting as no
/// name may (`None` if it is not such a name: `a:b:c`, `:a`, `a:`, `a:1`).
fn qualified_name(name: &[u8]) -> Option<(Option<&[u8]>, &[u8])> {
    let starts_well = |part: &[u8]| {
        part.first()
            .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'_' || b >= 0x80)
    };
    match memchr::memchr(b':', name) {
        None => Some((None, name)),
        Some(colon) => {
            let (prefix, local) = (&name[..colon], &name[colon + 1..]);
            (starts_well(prefix) && starts_well(local) && !local.contains(&b':'))
                .then_some((Some(prefix), local))
        }
    }
}

fn quoted(name: &[u8]) -> String {
    crate::error::shown(&String::from_utf8_lossy(name)).into_owned()
}

/// The namespace prefixes in scope as a document is read, so that its
/// names are checked as a namespace-aware parser reads them: every prefix
/// declared, no two attributes of an element with one expanded name, and
/// `xml` and `xmlns` kept to what they mean. Linear in the document: a
/// declaration is bound once and unbound once, and a name looked up once.
#[derive(Default)]
struct Namespaces {
    /// Each declared prefix's namespace now.
    bound: std::collections::HashMap<Vec<u8>, String>,
    /// What each declaration replaced, to restore when its element closes.
    replaced: Vec<(Vec<u8>, Option<String>)>,
    /// Where each open element's declarations start in `replaced`.
    open: Vec<usize>,
}

impl Namespaces {
    /// The namespace `prefix` stands for, if it is declared.
    fn resolve(&self, prefix: &[u8]) -> Option<&str> {
        if prefix == b"xml" {
            return Some(XML_NAMESPACE);
        }
        self.bound.get(prefix).map(String::as_str)
    }

    /// Opens the element of start tag `tag`: checks its attributes and the
    /// names in it, and binds the prefixes it declares until [`Self::close`].
    /// Duplicate attributes are found here, with a hash set: quick-xml's own
    /// check compares each attribute with every earlier one, which made an
    /// element of 20,000 attributes take seconds.
    fn element(
        &mut self,
        text: &str,
        tag: &quick_xml::events::BytesStart<'_>,
    ) -> Result<(), TagError> {
        self.open.push(self.replaced.len());
        let mut names = std::collections::HashSet::new();
        // Prefixed attributes, checked once the tag's declarations are bound.
        let mut prefixed = Vec::new();
        for attribute in tag.attributes().with_checks(false) {
            let attribute = attribute.map_err(|e| (e.to_string(), None))?;
            let name = attribute.key.into_inner();
            let at = offset_in(text, name);
            // quick-xml reads some malformed attributes (`id+"x"`) as one
            // odd name; a receiver's parser refuses them.
            if !is_xml_name(name) {
                return Err((format!("`{}` is not an attribute name", quoted(name)), at));
            }
            if !names.insert(name) {
                return Err((format!("duplicated attribute `{}`", quoted(name)), at));
            }
            let value = attribute
                .unescape_value()
                .map_err(|e| (e.to_string(), at))?;
            let Some((prefix, local)) = qualified_name(name) else {
                return Err((
                    format!(
                        "`{}` is not a name namespaces allow: at most one `:`, between a prefix and a local name",
                        quoted(name)
                    ),
                    at,
                ));
            };
            match prefix {
                None if local == b"xmlns"
                    && (value == XML_NAMESPACE || value == XMLNS_NAMESPACE) =>
                {
                    return Err((
                        format!("`{value}` is reserved and cannot be the default namespace"),
                        at,
                    ));
                }
                Some(b"xmlns") => self
                    .declare(local, value.into_owned())
                    .map_err(|m| (m, at))?,
                Some(prefix) => prefixed.push((prefix, local, name, at)),
                None => {}
            }
        }
        let element = tag.name().into_inner();
        let at = offset_in(text, element);
        match qualified_name(element) {
            None => {
                return Err((
                    format!(
                        "`{}` is not a name namespaces allow: at most one `:`, between a prefix and a local name",
                        quoted(element)
                    ),
                    at,
                ))
            }
            Some((Some(b"xmlns"), _)) => {
                return Err((
                    format!("the element `{}` cannot have the reserved prefix `xmlns`", quoted(element)),
                    at,
                ))
            }
            Some((Some(prefix), _)) if self.resolve(prefix).is_none() => {
                return Err((undeclared(prefix, element), at));
            }
            Some(_) => {}
        }
        let mut expanded = std::collections::HashMap::new();
        for (prefix, local, name, at) in prefixed {
            let namespace = self
                .resolve(prefix)
                .ok_or_else(|| (undeclared(prefix, name), at))?;
            if let Some(first) = expanded.insert((namespace, local), name) {
                return Err((
                    format!(
                        "the attributes `{}` and `{}` are one attribute repeated: both prefixes stand for `{namespace}`",
                        quoted(first),
                        quoted(name)
                    ),
                    at,
                ));
            }
        }
        Ok(())
    }

    /// Binds `prefix` to `namespace` for the element being opened.
    fn declare(&mut self, prefix: &[u8], namespace: String) -> Result<(), String> {
        let prefix_shown = quoted(prefix);
        if prefix == b"xmlns" {
            return Err("the prefix `xmlns` is reserved and cannot be declared".to_owned());
        }
        if prefix == b"xml" {
            if namespace != XML_NAMESPACE {
                return Err(format!(
                    "the prefix `xml` is bound to `{XML_NAMESPACE}` and cannot be bound to another namespace"
                ));
            }
            return Ok(());
        }
        if namespace == XML_NAMESPACE || namespace == XMLNS_NAMESPACE {
            return Err(format!(
                "`{namespace}` is reserved and cannot be bound to the prefix `{prefix_shown}`"
            ));
        }
        if namespace.is_empty() {
            return Err(format!(
                "the prefix `{prefix_shown}` cannot be bound to no namespace (`xmlns:{prefix_shown}=\"\"`) in XML 1.0"
            ));
        }
        let previous = self.bound.insert(prefix.to_vec(), namespace);
        self.replaced.push((prefix.to_vec(), previous));
        Ok(())
    }

    /// Closes the innermost open element, unbinding what it declared.
    fn close(&mut self) {
        // quick-xml refuses an end tag with no start, so an element is
        // open; were none, unbinding all is what closing the root does.
        let from = self.open.pop().unwrap_or(0);
        for (prefix, previous) in self.replaced.drain(from..).rev() {
            match previous {
                Some(namespace) => self.bound.insert(prefix, namespace),
                None => self.bound.remove(&prefix),
            };
        }
    }
}

fn undeclared(prefix: &[u8], name: &[u8]) -> String {
    format!(
        "the prefix `{}` of `{}` is not declared (`xmlns:{}=\"...\"` on this element or one around it)",
        quoted(prefix),
        quoted(name),
        quoted(prefix)
    )
}

/// Checks that `text` (a template with its placeholders replaced by stand-ins
/// of the same length) is one well-formed XML document, its names
/// namespace-well-formed ([`Namespaces`]), with no DOCTYPE
/// (entity and external declarations are how XML bombs and XXE are made)
/// and no declared encoding but UTF-8, which is what is sent.
pub(crate) fn check_xml(source: &str, text: &str) -> Result<(), Error> {
    use quick_xml::events::Event;
    let fail = |message: String, offset: u64| {
        Error::new(
            ErrorKind::TemplateSyntax,
            format!("template is not well-formed XML: {message}"),
        )
        .at(Position::locate(source, offset as usize))
    };
    // Rendered text escapes these ([`super::escape`]); the template's own
    // text must hold them as the escaping would write them.
    if let Some((at, c)) = text
        .char_indices()
        .find(|&(_, c)| is_c1(c) || !xml_allowed(c))
    {
        let code = u32::from(c);
        let message = if is_c1(c) {
            format!(
                "the control character U+{code:04X} cannot stand raw in an XML template; \
                 write it as a character reference (`&#{code};`)"
            )
        } else {
            format!("the character U+{code:04X} cannot stand in an XML document")
        };
        return Err(fail(message, at as u64));
    }
    let mut reader = quick_xml::Reader::from_str(text);
    let mut namespaces = Namespaces::default();
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| fail(e.to_string(), reader.error_position()).with_source(e))?;
        let checked = match &event {
            Event::Start(e) | Event::Empty(e) => {
                if depth == 0 {
                    roots += 1;
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
                if let Err((message, at)) = namespaces.element(text, e) {
                    return Err(fail(
                        message,
                        // No position of its own: where the reader stands,
                        // just past the element.
                        at.unwrap_or(reader.buffer_position() as usize) as u64,
                    ));
                }
                if matches!(event, Event::Empty(_)) {
                    namespaces.close();
                }
                Ok(())
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                namespaces.close();
                Ok(())
            }
            Event::Text(t) => {
                if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) {
                    Err("text outside the root element".to_owned())
                } else {
                    t.unescape().map(|_| ()).map_err(|e| e.to_string())
                }
            }
            Event::DocType(_) => Err(
                "a DOCTYPE cannot stand in a template: its declarations could \
                 expand entities or read external files at the receiver"
                    .to_owned(),
            ),
            // callhook escapes by XML 1.0's rules; 1.1 reads some
            // characters otherwise (U+0085 ends a line there).
            Event::Decl(declaration)
                if declaration
                    .version()
                    .map_or(true, |version| version.as_ref() != b"1.0") =>
            {
                Err(format!(
                    "the declared version must be `1.0`, which is what callhook writes, not `{}`",
                    declaration.version().map_or_else(
                        |_| "?".into(),
                        |v| crate::error::shown(&String::from_utf8_lossy(&v)).into_owned()
                    )
                ))
            }
            Event::Decl(declaration) => match declaration.encoding() {
                Some(Ok(encoding))
                    if !encoding.eq_ignore_ascii_case(b"utf-8")
                        && !encoding.eq_ignore_ascii_case(b"utf8") =>
                {
                    Err(format!(
                        "the declared encoding must be `UTF-8`, which is what is sent, not `{}`",
                        String::from_utf8_lossy(&encoding)
                    ))
                }
                Some(Err(e)) => Err(e.to_string()),
                _ => Ok(()),
            },
            Event::Eof => break,
            _ => Ok(()),
        };
        checked.map_err(|m| fail(m, reader.buffer_position()))?;
    }
    if depth != 0 {
        return Err(fail(
            "an element is not closed".to_owned(),
            text.len() as u64,
        ));
    }
    if roots != 1 {
        return Err(fail(
            format!("expected one root element, found {roots}"),
            text.len() as u64,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(src: &str, syntax: Syntax) -> Vec<&str> {
        plain(src, syntax, &any).map(|f| f.name).collect()
    }

    #[test]
    fn what_is_a_placeholder() {
        assert_eq!(names("#a# #b|hms#", Syntax::Hash), ["a", "b"]);
        assert!(names("Ticket #42, see https://x/#section", Syntax::Hash).is_empty());
        assert!(names("# a# #a b# #", Syntax::Hash).is_empty());
        assert_eq!(names("#x|a\nb# #y#", Syntax::Hash), ["y"]);
        assert_eq!(
            names("[[[a]]] [[b|default:x]] [c]", Syntax::Brackets),
            ["a", "b"]
        );
        assert!(names("#a#", Syntax::Brackets).is_empty());
        let f = plain("..[[d|hms]]", Syntax::Brackets, &any).next().unwrap();
        assert_eq!((f.start, f.end, f.options), (2, 11, Some(("hms", 6))));
    }

    /// Openings with no closing are searched past once, not once each.
    #[test]
    fn unclosed_options_are_scanned_once() {
        let src = "[[a|".repeat(10_000);
        SEARCHED.with(|n| n.set(0));
        assert!(plain(&src, Syntax::Brackets, &any).next().is_none());
        let searched = SEARCHED.with(std::cell::Cell::get);
        assert!(searched <= 2 * src.len(), "{searched} bytes searched");
        let src = format!("{}\n[[b|x]]", "[[a|".repeat(10_000));
        SEARCHED.with(|n| n.set(0));
        assert_eq!(plain(&src, Syntax::Brackets, &any).count(), 1);
        assert!(SEARCHED.with(std::cell::Cell::get) <= 3 * src.len());
    }

    #[test]
    fn json_positions() {
        let found = json(r##"{"a": "x #a# \"#b#", "n": #c#}"##, Syntax::Hash, &any);
        let kinds: Vec<_> = found.iter().map(|(f, e)| (f.name, *e)).collect();
        assert_eq!(
            kinds,
            [
                ("a", Context::JsonString),
                ("b", Context::JsonString),
                ("c", Context::JsonValue)
            ]
        );
    }

    #[test]
    fn xml_positions() {
        let found = xml(
            r##"<?xml version="1.0"?><a k='#a#'>#b#<![CDATA[#c#]]><!-- #d# --><#e#/></a>"##,
            Syntax::Hash,
            &any,
        );
        let kinds: Vec<_> = found.iter().map(|(f, e)| (f.name, e.is_ok())).collect();
        assert_eq!(
            kinds,
            [
                ("a", true),
                ("b", true),
                ("c", true),
                ("d", false),
                ("e", false)
            ]
        );
        assert_eq!(found[0].1, Ok(Context::XmlAttribute));
        assert_eq!(found[2].1, Ok(Context::XmlCdata));
    }

    /// Found by fuzzing: a multi-byte space before an attribute's name.
    #[test]
    fn attribute_names_after_wide_spaces() {
        assert_eq!(attribute_name("<a\u{a0}b="), Some("b"));
        assert_eq!(attribute_name("<a \u{a0}xmlns="), Some("xmlns"));
        let found = xml("<a\u{a0}b='#ani#'/>", Syntax::Hash, &any);
        assert_eq!(found.len(), 1);
    }

    /// A repeated key is pointed at where it starts, whatever it ends with.
    #[test]
    fn duplicate_keys_point_at_the_second_key() {
        for (text, offset) in [
            (r#"{"a\"": 1, "a\"": 2}"#, 11),
            (r#"{"a\\": 1, "a\\": 2}"#, 11),
            ("{\"a\"\n:1,\"a\"  :2}", 8),
            (r#"[{"a": {"b": 1}, "a": 2}]"#, 17),
        ] {
            let err = check_json(text, text).unwrap_err();
            assert!(err.message().starts_with(DUPLICATE_KEY), "{err}");
            assert_eq!(err.position().unwrap().offset, offset, "{text}");
        }
        // A key holding a placeholder's stand-in is not compared.
        let marked =
            format!("{{\"{JSON_STRING_STAND_IN}xx\": 1, \"{JSON_STRING_STAND_IN}xx\": 2}}");
        assert!(check_json(&marked, &marked).is_ok());
        let nested = r#"{"a": {"a": 1}, "b": {"a": 1}}"#;
        assert!(check_json(nested, nested).is_ok());
    }

    #[test]
    fn structure_checks() {
        assert!(check_json("{}", "{}").is_ok());
        let err = check_json("{\n  \"a\": }", "{\n  \"a\": }").unwrap_err();
        assert_eq!(err.position().map(|p| (p.line, p.column)), Some((2, 8)));
        assert!(check_xml("<a>x</a>", "<a>x</a>").is_ok());
        assert!(check_xml("<a><b></a>", "<a><b></a>").is_err());
        assert!(check_xml("<a>", "<a>").is_err());
        assert!(check_xml("<a/><b/>", "<a/><b/>").is_err());
        assert!(check_xml("<a>&nope;</a>", "<a>&nope;</a>").is_err());
        // Found by fuzzing: quick-xml reads this as one odd attribute name.
        let odd = "<call id+\"x\"a ='x'>t</call>";
        assert!(check_xml(odd, odd).is_err());
        let names = "<a xmlns:x='urn:x' x:y-z.1='v' _b=\"w\"/>";
        assert!(check_xml(names, names).is_ok());
    }

    fn xml_error(text: &str) -> Error {
        check_xml(text, text).expect_err(text)
    }

    /// Duplicates are found by callhook, not by quick-xml's check (which
    /// compares each attribute with every earlier one): the error is
    /// callhook's, at the second name.
    #[test]
    fn duplicate_attributes_point_at_the_second_name() {
        let err = xml_error("<r a='1' b='2' a='3'/>");
        assert_eq!(
            err.message(),
            "template is not well-formed XML: duplicated attribute `a`"
        );
        assert_eq!(err.position().unwrap().offset, 15);
        let err = xml_error("<r><s xmlns:p='urn:u' xmlns:q='urn:u' p:a='1' q:a='2'/></r>");
        assert!(err.message().contains("`p:a` and `q:a`"), "{err}");
        assert_eq!(err.position().unwrap().offset, 46);
        // One name in two elements, or in two namespaces, is no duplicate.
        let fine = "<r a='1' xmlns:p='urn:p' xmlns:q='urn:q' p:a='2' q:a='3'><s a='4'/></r>";
        assert!(check_xml(fine, fine).is_ok());
    }

    #[test]
    fn namespace_well_formedness() {
        for (text, offset, says) in [
            ("<p:r/>", 1, "prefix `p` of `p:r` is not declared"),
            ("<r><p:s/></r>", 4, "prefix `p`"),
            ("<r p:a='1'/>", 3, "prefix `p` of `p:a`"),
            // A declaration holds only inside its element.
            ("<r><s xmlns:p='urn:p'/><p:t/></r>", 24, "prefix `p`"),
            ("<r xmlns:xml='urn:wrong'/>", 3, "`xml` is bound"),
            ("<r xmlns:xmlns='urn:x'/>", 3, "`xmlns` is reserved"),
            (
                "<r xmlns:p='http://www.w3.org/XML/1998/namespace'/>",
                3,
                "reserved",
            ),
            (
                "<r xmlns:p='http://www.w3.org/2000/xmlns/'/>",
                3,
                "reserved",
            ),
            (
                "<r xmlns='http://www.w3.org/2000/xmlns/'/>",
                3,
                "default namespace",
            ),
            ("<r xmlns:p=''/>", 3, "no namespace"),
            ("<xmlns:r xmlns:xmlns='urn:x'/>", 9, "`xmlns` is reserved"),
            ("<r a:b:c='1'/>", 3, "at most one `:`"),
            ("<r :a='1'/>", 3, "at most one `:`"),
        ] {
            let err = xml_error(text);
            assert!(err.message().contains(says), "{text}: {err}");
            assert_eq!(err.position().unwrap().offset, offset, "{text}: {err}");
        }
        for text in [
            "<r xml:lang='en'/>",
            "<r xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:lang='en'/>",
            "<p:r xmlns:p='urn:p' p:a='1'><p:s/></p:r>",
            "<r xmlns='urn:d'><s xmlns=''/></r>",
            // An inner declaration shadows an outer one, and ends with it.
            "<r xmlns:p='urn:a' p:x='1'><s xmlns:p='urn:b' p:x='2'/><p:t/></r>",
            "<r xmlns:p='urn:&amp;'/>",
        ] {
            assert!(
                check_xml(text, text).is_ok(),
                "{text}: {:?}",
                check_xml(text, text)
            );
        }
    }
}
