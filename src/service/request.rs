//! Building a service's request for a call.

use http::header::{self, HeaderValue};

use super::url::{render_uri, Url};
use super::{Part, Service};
use crate::call::{CallData, Lookup};
use crate::error::{Error, ErrorKind};
use crate::limits::{self, HEADER_BYTES};
use crate::request::Request;
use crate::template::Template;

impl Service {
    /// Renders the body for `data`, appending to `out`.
    ///
    /// # Errors
    ///
    /// As [`Service::request`], for the body.
    pub fn render_body_into(&self, data: &CallData, out: &mut Vec<u8>) -> Result<(), Error> {
        self.compiled
            .body
            .render_lookup(data, out)
            .map_err(|e| self.compiled.locate(e, Part::Body))
    }

    /// Builds the request for a call: method, URI, headers (content type,
    /// content length, user agent) and body. Nothing is sent, and nothing
    /// is signed, nor does it carry a credential: [`Service::sign`] (or
    /// [`Registry::prepare`](crate::Registry::prepare), for a service in a
    /// registry) adds the auth's and signs, for each attempt.
    ///
    /// # Errors
    ///
    /// A value that cannot be placed safely (CR or LF in a header, `..` as a
    /// path segment), or a body, URL or header value that would be longer
    /// than 4 MiB, is an error of kind [`ErrorKind::UnsafeValue`], and a
    /// missing value under [`Missing::Error`](crate::Missing::Error) one of kind
    /// [`ErrorKind::MissingValue`], each naming the service and field; the
    /// request is never built with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{CallData, Catalog, Config};
    ///
    /// let config = Config::from_json(include_str!("../../examples/configs/ringcx.json"))?;
    /// let service = config.services[0].compile(Catalog::standard())?;
    /// let request = service.request(&CallData::new().with("agent_id", "1001"))?;
    /// assert_eq!(request.method(), "POST");
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn request(&self, data: &CallData) -> Result<Request, Error> {
        self.request_with(data)
    }

    pub(crate) fn request_with<L: Lookup + ?Sized>(&self, data: &L) -> Result<Request, Error> {
        self.build(data, &self.compiled.body)
    }

    /// The fallback URLs for `data`, rendered as the URL is, in the order
    /// they are tried; empty, with nothing allocated, for a service with
    /// none.
    ///
    /// # Errors
    ///
    /// As [`Service::request`], for the fallback URL that cannot be
    /// rendered (at `fallback_urls.N`, or at the pair of a `GET` whose
    /// value cannot be placed).
    pub(crate) fn fallbacks_with<L: Lookup + ?Sized>(
        &self,
        data: &L,
    ) -> Result<Vec<http::Uri>, Error> {
        let urls = self.compiled.fallbacks();
        if urls.is_empty() {
            // Most services have none: no collecting through a `Result`.
            return Ok(Vec::new());
        }
        urls.iter()
            .enumerate()
            .map(|(i, url)| {
                url.render(data)
                    .map_err(|e| self.compiled.locate(e, Part::FallbackUrl(i)))
            })
            .collect()
    }

    /// The request for `data`, its body rendered from `template`: the
    /// service's own, or the one shown to people.
    pub(super) fn build<L: Lookup + ?Sized>(
        &self,
        data: &L,
        template: &Template,
    ) -> Result<Request, Error> {
        let in_service = |e: Error| e.in_service(self.id());
        let mut body = Vec::with_capacity(template.size_hint());
        template
            .render_lookup(data, &mut body)
            .map_err(|e| self.compiled.locate(e, Part::Body))?;
        // Matched here rather than through `Url::render`, as the fallback
        // URLs are: the static URL's clone then needs no `Result` around
        // it, 16 instructions of RingCX's request (2,905 → 2,889).
        let uri = match &self.compiled.url {
            Url::Static(uri) => uri.clone(),
            Url::Templated(url) => {
                render_uri(url, data).map_err(|e| self.compiled.locate(e, Part::Url))?
            }
        };
        let length = body.len();
        let mut request = http::Request::new(body);
        *request.method_mut() = self.compiled.method.as_http();
        // `Request::new` made an empty URI and an empty header map, which
        // hold no allocation (`tests/allocations.rs` checks): forgetting
        // them frees nothing, where dropping them costs 77 instructions a
        // request (RingCX 3,243 → 3,166, 2.4%), 60% of what a request may
        // spend beyond the floor and its render.
        std::mem::forget(std::mem::replace(request.uri_mut(), uri));
        let headers = request.headers_mut();
        std::mem::forget(std::mem::replace(
            headers,
            self.compiled.static_headers.map().clone(),
        ));
        for header in &self.compiled.dynamic_headers {
            let path = || format!("headers.{}.value", header.index);
            let mut value = Vec::with_capacity(header.value.size_hint());
            header
                .value
                .render_lookup(data, &mut value)
                .map_err(|e| self.compiled.locate(e, Part::Header(header.index)))?;
            // What bounds the template bounds what it renders: receivers
            // refuse header fields past about 8 KiB.
            if value.len() > HEADER_BYTES {
                return Err(in_service(
                    Error::new(
                        ErrorKind::UnsafeValue,
                        format!(
                            "header `{}` renders {} bytes; at most {} are sent \
                             (`limits::HEADER_BYTES`)",
                            header.name,
                            limits::count(value.len()),
                            limits::count(HEADER_BYTES)
                        ),
                    )
                    .in_field(&path()),
                ));
            }
            let mut value = HeaderValue::try_from(value).map_err(|e| {
                in_service(
                    Error::new(
                        ErrorKind::InvalidHeader,
                        format!("invalid value for header `{}`", header.name),
                    )
                    .in_field(&path())
                    .with_source(e),
                )
            })?;
            value.set_sensitive(header.secret);
            headers.append(header.name.clone(), value);
        }
        if self.compiled.sets_length {
            let length = content_length(length);
            // The compiler puts a stand-in in the static map exactly when
            // there are no templated headers, as its last entry (third in
            // the common maps). Walking the entries to it costs less than
            // hashing the name for `get_mut`: 60 instructions a request
            // (RingCX 2,960 → 2,900, PBX 6,025 → 5,966), 2%, under the 10%
            // rule's bar but what keeps a request within floor + render +
            // 10% of the floor. The walk is linear, about 12 instructions
            // an entry; bounding it by the map's length (`get_mut` past six
            // entries) cost the common case 31, the target's margin.
            // Without the stand-in, a lookup would only miss.
            let stand_in = if self.compiled.dynamic_headers.is_empty() {
                headers
                    .iter_mut()
                    .find(|(name, _)| *name == header::CONTENT_LENGTH)
                    .map(|(_, value)| value)
            } else {
                None
            };
            match stand_in {
                Some(stand_in) => *stand_in = length,
                None => {
                    headers.insert(header::CONTENT_LENGTH, length);
                }
            }
        }
        Ok(request)
    }
}

/// Bodies shorter than this take their `Content-Length` from [`LENGTHS`].
const SHORT_BODY: usize = 10_000;

/// Every number below [`SHORT_BODY`] in four digits, leading zeros and
/// all, one after another (`"0000000100020003…9999"`): the digits of `n`
/// end at byte `4 * n + 4`. 40,000 bytes of read-only data, of which a
/// process touches the pages its bodies' lengths fall in.
static LENGTHS: &str = match std::str::from_utf8(&length_digits()) {
    Ok(digits) => digits,
    Err(_) => panic!("decimal digits are ASCII"),
};

const fn length_digits() -> [u8; 4 * SHORT_BODY] {
    let mut digits = [0; 4 * SHORT_BODY];
    let mut n = 0;
    while n < SHORT_BODY {
        let mut place = 0;
        let mut rest = n;
        while place < 4 {
            digits[4 * n + 3 - place] = b'0' + (rest % 10) as u8;
            rest /= 10;
            place += 1;
        }
        n += 1;
    }
    digits
}

/// The `Content-Length` value for a body of `len` bytes. Below
/// [`SHORT_BODY`], static text from [`LENGTHS`]: nothing to allocate or
/// free. The allocation the longer bodies' value makes, and its free, cost
/// 269 instructions a request (`benches/instructions.sh request`: RingCX
/// 3,435 → 3,166, 7.8%; PBX 7,248 → 6,981, 3.7%), more than the 10% of
/// the floor (129) that a whole request may spend beyond the floor and its
/// render, so the table stays though its gain is under 10%.
fn content_length(len: usize) -> HeaderValue {
    if len < SHORT_BODY {
        let digits = match len {
            0..=9 => 1,
            10..=99 => 2,
            100..=999 => 3,
            _ => 4,
        };
        let end = 4 * len + 4;
        return HeaderValue::from_static(&LENGTHS[end - digits..end]);
    }
    let mut digits = [0; 20];
    let mut start = digits.len();
    let mut rest = len;
    while rest > 0 {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    // An exact `Vec` becomes the value's bytes as it is: one allocation,
    // where `HeaderValue::from(usize)` makes two (a spare capacity, then
    // the shared handle it needs).
    HeaderValue::try_from(digits[start..].to_vec()).expect("decimal digits are a header value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::service::tests::{config, ID};
    use crate::service::USER_AGENT;

    #[test]
    fn builds_a_whole_request() {
        let service = config(serde_json::json!({
            "url": "https://crm.example.com/agents/#agent_id#/calls?src=pbx",
            "body": {"kind": "json", "template": "{\"ani\": \"#ani#\"}"},
            "headers": [{"key": "X-Agent", "value": "#agent_id#"}, {"key": "X-Static", "value": "1"}],
            "auth": {"kind": "bearer", "token": "tok"},
        }))
        .compile(Catalog::standard())
        .unwrap();
        let data = CallData::new().with("agent_id", "7 7").with("ani", "555");
        let request = service.request(&data).unwrap();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(
            request.uri(),
            "https://crm.example.com/agents/7%207/calls?src=pbx"
        );
        let h = request.headers();
        assert_eq!(h["content-type"], "application/json; charset=utf-8");
        assert_eq!(h["content-length"], "14");
        // The credential is added when the request is signed for sending.
        assert!(!h.contains_key("authorization"));
        assert_eq!(h["user-agent"], USER_AGENT);
        assert_eq!(h["x-agent"], "7 7");
        assert_eq!(h["x-static"], "1");
        assert_eq!(request.body(), br#"{"ani": "555"}"#);
        assert_eq!(service.fields(), ["agent_id", "ani"]);
    }

    /// With no templated header, the length replaces the compiler's
    /// stand-in: one `Content-Length`, the body's.
    #[test]
    fn the_length_replaces_its_stand_in() {
        for headers in [
            serde_json::json!([]),
            serde_json::json!([{"key": "X-Static", "value": "1"}]),
            serde_json::Value::Array(
                (0..8)
                    .map(|i| serde_json::json!({"key": format!("X-Static-{i}"), "value": "1"}))
                    .collect(),
            ),
        ] {
            let service = config(serde_json::json!({
                "body": {"kind": "json", "template": "{\"ani\": \"#ani#\"}"},
                "headers": headers,
            }))
            .compile(Catalog::standard())
            .unwrap();
            let request = service
                .request(&CallData::new().with("ani", "555"))
                .unwrap();
            let lengths: Vec<_> = request.headers().get_all("content-length").iter().collect();
            assert_eq!(lengths, ["14"]);
        }
    }

    #[test]
    fn get_puts_pairs_in_the_query() {
        let service = config(serde_json::json!({
            "method": "GET",
            "url": "https://crm.example.com/hook?token=abc",
            "body": {"kind": "form", "pairs": [{"key": "ani", "value": "#ani#"}]},
        }))
        .compile(Catalog::standard())
        .unwrap();
        let request = service
            .request(&CallData::new().with("ani", "+1 5"))
            .unwrap();
        assert_eq!(
            request.uri(),
            "https://crm.example.com/hook?token=abc&ani=%2B1+5"
        );
        assert!(request.body().is_empty());
        assert!(request.headers().get("content-length").is_none());
    }

    /// Every length a body can have is written as `to_string` writes it:
    /// those from the table, the first past it, and the longest.
    #[test]
    fn content_length_is_the_decimal_length() {
        for len in (0..=SHORT_BODY + 1).chain([123_456, crate::limits::RENDER_BYTES, usize::MAX]) {
            assert_eq!(content_length(len), len.to_string().as_str(), "{len}");
        }
    }

    #[test]
    fn header_injection_is_refused() {
        let service = config(serde_json::json!({
            "headers": [{"key": "X-Agent", "value": "#agent_id#"}],
        }))
        .compile(Catalog::standard())
        .unwrap();
        let err = service
            .request(&CallData::new().with("agent_id", "a\r\nX-Evil: 1"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnsafeValue);
        assert_eq!(err.service(), Some(ID));
        assert_eq!(err.field(), Some("headers.0.value"));
    }
}
