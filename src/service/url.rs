//! URL rules: compiling a service's URL (with a `GET`'s query pairs),
//! rendering it, its origin, and which URLs the service builds.

use super::config::ServiceConfig;
use super::Compiled;
use crate::body::{form_pairs, fragment, Origin};
use crate::call::{CallData, Lookup};
use crate::error::{Error, ErrorKind};
use crate::template::{url_has_query, Builder, Context, Options, Template};

impl ServiceConfig {
    /// The URL and, for `GET`, the body's pairs as its query string, as one
    /// template; parsed once here if it does not depend on the call.
    pub(super) fn compile_url(&self, get: bool, options: &Options<'_>) -> Result<Url, Vec<Error>> {
        self.compile_url_text(&self.url, Origin::Url, get, options)
    }

    /// Every fallback URL, each compiled as [`ServiceConfig::compile_url`]
    /// compiles the URL: the same code, so the same placeholder, scheme,
    /// host, port and address rules. A problem of a fallback URL's own text
    /// is located at `fallback_urls.N`; those of a `GET`'s pairs, compiled
    /// into each URL, are the URL's to report (once, at `body.pairs.N`).
    pub(super) fn compile_fallbacks(
        &self,
        get: bool,
        options: &Options<'_>,
    ) -> Result<Box<[Url]>, Vec<Error>> {
        let mut urls = Vec::with_capacity(self.fallback_urls.len());
        let mut errors = Vec::new();
        let mut failed = false;
        for (i, text) in self.fallback_urls.iter().enumerate() {
            match self.compile_url_text(text, Origin::FallbackUrl(i), get, options) {
                Ok(url) => urls.push(url),
                Err(e) => {
                    failed = true;
                    let own = Origin::FallbackUrl(i).path();
                    errors.extend(e.into_iter().filter_map(|e| match e.field() {
                        // The pairs' problems, reported with the URL's.
                        Some(field) if field.starts_with("body.") => None,
                        Some(_) => Some(e),
                        None => Some(e.in_field(&own)),
                    }));
                }
            }
        }
        if failed {
            // Empty only when every problem was a pair's: the service is
            // refused for those all the same.
            Err(errors)
        } else {
            Ok(urls.into_boxed_slice())
        }
    }

    /// The URL template `text`, from the fragment `origin`, with a `GET`'s
    /// pairs as its query.
    fn compile_url_text(
        &self,
        text: &str,
        origin: Origin,
        get: bool,
        options: &Options<'_>,
    ) -> Result<Url, Vec<Error>> {
        let mut builder = Builder::new(options);
        fragment(&mut builder, origin, text, Context::Url, None);
        let mut checked = builder.take_uri();
        if let Some(pairs) = self.body.query_pairs(get).filter(|p| !p.is_empty()) {
            checked = None;
            // Values are percent-encoded, so a `?` in the URL is the
            // template's own; one that ends in a placeholder is given `&`
            // whatever the value, which at worst leaves an empty parameter.
            let separator: &[u8] = if !url_has_query(text, self.syntax) {
                b"?"
            } else if text.ends_with(['?', '&']) {
                b""
            } else {
                b"&"
            };
            builder.literal(separator);
            form_pairs(&mut builder, pairs, Origin::Pair);
        }
        let url = builder.finish(Context::Url)?;
        if !url.is_static() {
            return Ok(Url::Templated(url));
        }
        // A URL with an empty query is rendered, so the `?` is dropped.
        match checked.filter(|uri| uri.query() != Some("")) {
            Some(uri) => Ok(Url::Static(uri)),
            None => render_uri(&url, &CallData::new())
                .map(Url::Static)
                .map_err(|e| vec![e.in_field(&origin.path())]),
        }
    }
}

/// A service's URL: parsed once when it does not depend on the call.
#[derive(Debug, Clone)]
pub(super) enum Url {
    Static(http::Uri),
    Templated(Template),
}

impl Url {
    /// The scheme and authority (host, and port if not the default) every
    /// request to this URL goes to: no placeholder may stand in them, and
    /// compiling checked them against the address policy.
    fn origin(&self) -> (&str, &str) {
        // Compiling refused a URL without an http(s) scheme and a host
        // before any placeholder, so the empty texts are never taken; an
        // authority runs to the path, the query or the end.
        match self {
            Url::Static(uri) => (
                uri.scheme_str().unwrap_or_default(),
                uri.authority().map_or("", http::uri::Authority::as_str),
            ),
            Url::Templated(url) => {
                let text = std::str::from_utf8(url.leading_literal()).unwrap_or_default();
                let (scheme, rest) = text.split_once("://").unwrap_or_default();
                (scheme, &rest[..rest.find(['/', '?']).unwrap_or(rest.len())])
            }
        }
    }

    /// Whether this URL could have rendered `uri`, as far as it tells: the
    /// very URL, when it does not depend on the call (its query and a
    /// `GET`'s pairs included); else one that begins with the template's
    /// text before its first placeholder, or that text but its final `?`
    /// when the query rendered empty (and was dropped). Checked once the
    /// origin is known to be this URL's.
    fn builds(&self, uri: &http::Uri) -> bool {
        match self {
            Url::Static(own) => own == uri,
            Url::Templated(url) => {
                let sent = uri.to_string();
                let sent = sent.as_bytes();
                let literal = url.leading_literal();
                sent.starts_with(literal) || literal.strip_suffix(b"?") == Some(sent)
            }
        }
    }

    /// The URL for `data`. A render error is returned as the template gave
    /// it, for [`Compiled::locate`].
    pub(super) fn render<L: Lookup + ?Sized>(&self, data: &L) -> Result<http::Uri, Error> {
        match self {
            Url::Static(uri) => Ok(uri.clone()),
            Url::Templated(url) => render_uri(url, data),
        }
    }

    /// The fields the URL's placeholders name.
    pub(super) fn fields(&self) -> Option<impl Iterator<Item = &str>> {
        match self {
            Url::Static(_) => None,
            Url::Templated(url) => Some(url.fields()),
        }
    }
}

impl Compiled {
    /// The origin of the service's URL ([`Url::origin`]).
    pub(super) fn origin(&self) -> (&str, &str) {
        self.url.origin()
    }

    /// The fallback URLs, in the order they are tried.
    pub(super) fn fallbacks(&self) -> &[Url] {
        self.rare.as_ref().map_or(&[], |rare| &rare.fallbacks)
    }

    /// Whether the service could have built a request to `uri`: to its URL
    /// or one of its fallback URLs, by origin first ([`Url::origin`]), then
    /// by the rest ([`Url::builds`]). `Err` with the primary origin when
    /// none of them goes to `uri`'s origin, `Ok(false)` when one does but
    /// builds no such path or query.
    pub(super) fn builds_url(&self, uri: &http::Uri) -> Result<bool, (&str, &str)> {
        let to = (
            uri.scheme_str().unwrap_or_default(),
            uri.authority().map_or("", http::uri::Authority::as_str),
        );
        let mut same_origin = std::iter::once(&self.url)
            .chain(self.fallbacks())
            .filter(|url| url.origin() == to)
            .peekable();
        if same_origin.peek().is_none() {
            return Err(self.origin());
        }
        Ok(same_origin.any(|url| url.builds(uri)))
    }
}

/// Renders a URL template into a URI. A render error is returned as the
/// template gave it, for [`Compiled::locate`].
pub(super) fn render_uri<L: Lookup + ?Sized>(url: &Template, data: &L) -> Result<http::Uri, Error> {
    let mut rendered = Vec::with_capacity(url.size_hint());
    // The engine refuses a `.` or `..` path segment in every URL it renders.
    url.render_lookup(data, &mut rendered)?;
    drop_empty_query(&mut rendered);
    // The caller names the field: `url`, or `fallback_urls.N`.
    http::Uri::try_from(rendered).map_err(|e| {
        Error::new(
            ErrorKind::InvalidUrl,
            format!("rendered URL is invalid: {e}"),
        )
        .with_source(e)
    })
}

/// Drops the `?` of an empty query, written in the template (`calls?`) or
/// left by a value that rendered empty (`calls?#q#`). Twilio's Python
/// validator drops it before checking a signature (as `urlparse` does) and
/// Node's keeps it, so a request sent with it could verify in one and not
/// the other; without it, both read the URL that was signed. A trailing `&`
/// is kept: both keep it.
pub(super) fn drop_empty_query(url: &mut Vec<u8>) {
    if memchr::memchr(b'?', url) == Some(url.len().wrapping_sub(1)) {
        url.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::service::tests::config;

    /// The origin is the URL's scheme and authority however the URL is
    /// written: parsed once, or the literal head of a template.
    #[test]
    fn the_origin_is_the_head_of_the_url() {
        for (json, origin) in [
            (serde_json::json!({}), ("https", "crm.example.com")),
            (
                serde_json::json!({"url": "https://crm.example.com:8443/a/#agent_id#"}),
                ("https", "crm.example.com:8443"),
            ),
            (
                serde_json::json!({"url": "http://93.184.215.14/?x=#agent_id#"}),
                ("http", "93.184.215.14"),
            ),
            (
                serde_json::json!({"url": "http://[2606:4700::1111]/?x=#agent_id#"}),
                ("http", "[2606:4700::1111]"),
            ),
            (
                serde_json::json!({
                    "method": "GET",
                    "body": {"kind": "form", "pairs": [{"key": "a", "value": "#ani#"}]},
                }),
                ("https", "crm.example.com"),
            ),
        ] {
            let service = config(json.clone()).compile(Catalog::standard()).unwrap();
            assert_eq!(service.compiled.origin(), origin, "{json}");
        }
    }

    #[test]
    fn only_an_empty_query_loses_its_question_mark() {
        for (rendered, sent) in [
            ("https://x.example.com/a?", "https://x.example.com/a"),
            ("https://x.example.com/?", "https://x.example.com/"),
            ("https://x.example.com/a?b=?", "https://x.example.com/a?b=?"),
            (
                "https://x.example.com/a?b=1&",
                "https://x.example.com/a?b=1&",
            ),
            ("https://x.example.com/a", "https://x.example.com/a"),
            ("", ""),
        ] {
            let mut url = rendered.as_bytes().to_vec();
            drop_empty_query(&mut url);
            assert_eq!(url, sent.as_bytes(), "{rendered}");
        }
    }
}
