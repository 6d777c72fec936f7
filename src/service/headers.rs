//! Header rules: the shared maps of common static headers, the names a
//! service may set, the form of a request, and list-valued headers.

use std::sync::OnceLock;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::body::COMMON_CONTENT_TYPES;
use crate::error::{Error, ErrorKind};
use crate::request::Request;
use crate::template::{is_dot_segment, Template};

/// The `User-Agent` sent unless a service sets its own.
pub const USER_AGENT: &str = concat!("callhook/", env!("CARGO_PKG_VERSION"));

/// The static headers of most services: callhook's own for a body of each
/// common type, and for none. A service whose static headers are exactly
/// one of these shares it rather than holding a copy, about 340 bytes
/// less per service at platform scale; requests clone it all the same.
pub(super) fn common_headers() -> &'static [HeaderMap] {
    static COMMON: OnceLock<Vec<HeaderMap>> = OnceLock::new();
    COMMON.get_or_init(|| {
        let mut maps = Vec::new();
        let mut bare = HeaderMap::new();
        bare.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        for content_type in COMMON_CONTENT_TYPES {
            let mut map = bare.clone();
            map.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            map.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            maps.push(map);
        }
        maps.push(bare);
        maps
    })
}

/// A service's static headers: a common map shared, or its own. 16 bytes,
/// where a map is 96.
pub(super) enum StaticHeaders {
    Common(&'static HeaderMap),
    Own(Box<HeaderMap>),
}

impl StaticHeaders {
    /// `headers` as a service keeps them: a common map shared, where they
    /// are one, in the same order and with nothing sensitive, or else its
    /// own exact-size copy.
    pub(super) fn of(headers: &HeaderMap) -> StaticHeaders {
        let common = common_headers()
            .iter()
            .find(|common| common.iter().eq(headers.iter()));
        match common {
            Some(common) if headers.values().all(|v| !v.is_sensitive()) => {
                StaticHeaders::Common(common)
            }
            // A map built by inserting keeps room for six headers; its
            // clone holds just its own, as each request's clone of it does.
            _ => StaticHeaders::Own(Box::new(headers.clone())),
        }
    }

    pub(super) fn map(&self) -> &HeaderMap {
        match self {
            StaticHeaders::Common(map) => map,
            StaticHeaders::Own(map) => map,
        }
    }
}

/// Where a header comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// A service's `headers`, which may replace the `User-Agent` and
    /// `Content-Type` callhook sets.
    Headers,
    /// A service's `auth`, which may not.
    Auth,
    /// A request to sign, stored or given by the host: it may hold what
    /// callhook sets, but nothing that frames or routes the message.
    Request,
}

/// Headers that frame the message, route it, belong to one hop or speak to
/// the proxies on the way (RFC 9110 and 9112: framing, connection options,
/// and the fields hops and proxies act on, section 7.6 and the `Proxy-*`
/// fields of 11): the request itself decides them (the client sets
/// `Content-Length` from the body), never a service, and no request
/// callhook signs may hold one but `Content-Length` equal to the body's
/// length.
const FRAMING: [&str; 15] = [
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "proxy-authentication-info",
    "max-forwards",
    "via",
    "expect",
];

/// The one check every header name goes through, by any route: none may
/// frame the message, route it or speak to the hops and proxies on the way
/// ([`FRAMING`]), none may say the body is encoded when callhook never
/// encodes it (`Content-Encoding`), and `auth` may not silently replace a
/// header callhook sets.
pub(super) fn check_header_name(name: &HeaderName, route: Route) -> Result<(), Error> {
    const SET_BY_CALLHOOK: [&str; 3] = ["user-agent", "content-type", "soapaction"];
    // Every `Proxy-*` field speaks to a proxy on the way, whether RFC 9110
    // names it yet (`Proxy-Status` is RFC 9209's) or not.
    if FRAMING.contains(&name.as_str()) || name.as_str().starts_with("proxy-") {
        let message = match route {
            Route::Request => format!(
                "the request has header `{name}`, which frames or routes the message: \
                 no request callhook builds has it"
            ),
            Route::Headers | Route::Auth => {
                format!("header `{name}` is set by the request itself, never by a service")
            }
        };
        return Err(Error::new(ErrorKind::InvalidHeader, message));
    }
    if *name == header::CONTENT_ENCODING {
        return Err(Error::new(
            ErrorKind::InvalidHeader,
            "callhook never compresses a body, so a service cannot set `content-encoding`",
        ));
    }
    if route == Route::Auth && SET_BY_CALLHOOK.contains(&name.as_str()) {
        return Err(Error::new(
            ErrorKind::InvalidHeader,
            format!("`auth` cannot carry its key in `{name}`, which callhook sets"),
        ));
    }
    Ok(())
}

/// Checks what every request callhook builds is, whatever its service: an
/// absolute `http` or `https` URL with no user information and no `.` or
/// `..` path segment (between `/` or `\`, which WHATWG parsers read as
/// `/`), no header that frames or routes the message but one
/// `Content-Length` equal to the body's length, and no header that is not
/// a list given twice. The part of
/// [`Service::check_request`] that needs no service, for a stored envelope
/// read with no registry at hand.
///
/// Nothing of the URL but its origin, and no header value, is put in an
/// error: a query or a header may hold a secret.
pub(crate) fn check_request_form(request: &Request) -> Result<(), Error> {
    let uri = request.uri();
    let invalid_url = |message: &str| Error::new(ErrorKind::InvalidUrl, message);
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(invalid_url(
            "the request's URL is not an absolute `http` or `https` URL",
        ));
    }
    let authority = uri.authority().map_or("", http::uri::Authority::as_str);
    if authority.contains('@') {
        return Err(invalid_url(
            "the request's URL carries a username or password, which callhook never sends",
        ));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid_url("the request's URL has no host"));
    }
    // WHATWG URL parsers (browsers, the `url` crate, so reqwest) read a
    // `\` in an `http(s)` path as a `/`: `/calls\..\admin` is sent as
    // `/admin`. callhook percent-encodes a `\` in a value.
    if uri
        .path()
        .split(['/', '\\'])
        .any(|segment| is_dot_segment(segment.as_bytes()))
    {
        return Err(Error::new(
            ErrorKind::UnsafeValue,
            "the request's URL has a `.` or `..` path segment, which clients would resolve",
        ));
    }
    let mut lengths = 0;
    for (name, value) in request.headers() {
        if name == header::CONTENT_LENGTH {
            // What a client would send for the body, and nothing else: a
            // length that is not the body's frames another message.
            lengths += 1;
            // A value that is not ASCII digits is no length: `None`,
            // refused below like a wrong one.
            let length = value
                .to_str()
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok());
            if lengths > 1 || length != Some(request.body().len()) {
                return Err(Error::new(
                    ErrorKind::InvalidHeader,
                    format!(
                        "the request's `content-length` is not the length of its body ({} bytes)",
                        request.body().len()
                    ),
                ));
            }
            continue;
        }
        check_header_name(name, Route::Request)?;
    }
    // As at load: a header that is not a list may be given once.
    for name in request.headers().keys() {
        if !is_list_valued(name) && request.headers().get_all(name).iter().nth(1).is_some() {
            return Err(Error::new(
                ErrorKind::InvalidHeader,
                format!(
                    "the request has header `{name}` more than once: callhook sends it once, \
                     as receivers disagree on which of two copies counts"
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses a header name holding a placeholder delimiter of either syntax:
/// names are not templates, and `X-#ani#` is a valid name that would be sent
/// as written. Checked on the name as written, before it is parsed, so
/// `[[...]]` (never a valid name) gets this message too.
pub(super) fn refuse_placeholder_in_name(key: &str) -> Result<(), Error> {
    if key.contains('#') || key.contains("[[") || key.contains("]]") {
        return Err(Error::new(
            ErrorKind::InvalidHeader,
            format!(
                "placeholders are not supported in header names: `{}` would be sent as written",
                crate::error::shown(key)
            ),
        ));
    }
    Ok(())
}

/// Whether a header is a list (RFC 9110 section 5.3): its lines are one
/// comma-separated value, so giving it twice says what one line would.
/// Any other header may be given once: receivers disagree on which of two
/// copies counts (the first, the last, or both joined).
pub(super) fn is_list_valued(name: &HeaderName) -> bool {
    const LISTS: [&str; 10] = [
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "cache-control",
        "forwarded",
        "link",
        "pragma",
        "prefer",
        "x-forwarded-for",
    ];
    LISTS.contains(&name.as_str())
}

/// A header whose value depends on the call.
#[derive(Debug, Clone)]
pub(super) struct DynamicHeader {
    pub(super) name: HeaderName,
    pub(super) value: Template,
    /// Its index in the configuration's `headers`, for errors.
    pub(super) index: usize,
    /// Whether its value is a secret.
    pub(super) secret: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::CallData;
    use crate::catalog::Catalog;
    use crate::service::tests::config;
    use crate::service::Service;

    /// What no request callhook builds has, whatever the service.
    #[test]
    fn the_form_of_a_request_is_checked_without_a_service() {
        let request = |uri: &str, headers: &[(&str, &str)], body: &[u8]| {
            let mut request = http::Request::new(body.to_vec());
            *request.method_mut() = http::Method::POST;
            *request.uri_mut() = uri.parse().unwrap();
            for (name, value) in headers {
                request.headers_mut().append(
                    HeaderName::try_from(*name).unwrap(),
                    HeaderValue::try_from(*value).unwrap(),
                );
            }
            check_request_form(&request).map_err(|e| e.kind())
        };
        let url = "https://crm.example.com/calls";
        assert_eq!(request(url, &[("content-length", "2")], b"{}"), Ok(()));
        assert_eq!(request(url, &[("x-a", "1")], b""), Ok(()));
        for (uri, kind) in [
            ("/calls", ErrorKind::InvalidUrl),
            ("crm.example.com:443", ErrorKind::InvalidUrl),
            ("ws://crm.example.com/", ErrorKind::InvalidUrl),
            ("https://@crm.example.com/", ErrorKind::InvalidUrl),
            ("https://crm.example.com/a/%2E%2e/b", ErrorKind::UnsafeValue),
            ("https://crm.example.com/a/.", ErrorKind::UnsafeValue),
            ("https://crm.example.com/a\\..\\b", ErrorKind::UnsafeValue),
            ("https://crm.example.com/a/%2e\\b", ErrorKind::UnsafeValue),
        ] {
            assert_eq!(request(uri, &[], b""), Err(kind), "{uri}");
        }
        for length in ["+2", "02 ", "", "2, 2", "-2", "3", "18446744073709551617"] {
            assert_eq!(
                request(url, &[("content-length", length)], b"{}"),
                Err(ErrorKind::InvalidHeader),
                "{length:?}"
            );
        }
        assert_eq!(
            request(
                url,
                &[("content-length", "2"), ("content-length", "2")],
                b"{}"
            ),
            Err(ErrorKind::InvalidHeader)
        );
        for name in FRAMING.iter().filter(|n| **n != "content-length") {
            assert_eq!(
                request(url, &[(name, "x")], b""),
                Err(ErrorKind::InvalidHeader),
                "{name}"
            );
        }
        // A header that is not a list, given twice; a list may repeat.
        for name in ["content-type", "authorization", "x-a"] {
            assert_eq!(
                request(url, &[(name, "a"), (name, "b")], b""),
                Err(ErrorKind::InvalidHeader),
                "{name}"
            );
        }
        assert_eq!(
            request(url, &[("accept", "a"), ("accept", "b")], b""),
            Ok(())
        );
    }

    /// Services whose static headers are callhook's own for their body
    /// type share one map; any other header, a changed order or a
    /// sensitive value gives the service its own, and every request carries
    /// the same headers in the same order either way.
    #[test]
    fn common_static_headers_are_shared_not_copied() {
        let shared =
            |service: &Service| matches!(service.compiled.static_headers, StaticHeaders::Common(_));
        let names = |service: &Service| {
            let request = service.request(&CallData::new()).unwrap();
            request
                .headers()
                .keys()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
        };
        let form = config(serde_json::json!({"body": {"kind": "form", "pairs": [{"key": "a", "value": "#ani#"}]}}))
            .compile(Catalog::standard())
            .unwrap();
        assert!(shared(&form));
        assert_eq!(
            names(&form),
            ["user-agent", "content-type", "content-length"]
        );
        let bare = config(serde_json::json!({}))
            .compile(Catalog::standard())
            .unwrap();
        assert!(shared(&bare));
        assert_eq!(names(&bare), ["user-agent"]);

        let own = config(serde_json::json!({"headers": [{"key": "X-Source", "value": "pbx"}]}))
            .compile(Catalog::standard())
            .unwrap();
        assert!(!shared(&own));
        assert_eq!(names(&own), ["x-source", "user-agent"]);
        // The same headers as the common JSON map, in another order.
        let reordered = config(serde_json::json!({
            "headers": [{"key": "Content-Type", "value": "application/json; charset=utf-8"}],
            "body": {"kind": "json", "template": "{}"}
        }))
        .compile(Catalog::standard())
        .unwrap();
        assert!(!shared(&reordered));
        assert_eq!(
            names(&reordered),
            ["content-type", "user-agent", "content-length"]
        );
        // The common bare map but for a value marked secret.
        let sensitive = config(serde_json::json!({
            "headers": [{"key": "User-Agent", "value": USER_AGENT, "secret": true}],
        }))
        .compile(Catalog::standard())
        .unwrap();
        assert!(!shared(&sensitive));
    }
}
