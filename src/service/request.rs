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
    /// content length, user agent, auth) and body. Nothing is sent, and
    /// nothing is signed ([`Service::sign`] does that, for each attempt).
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
        let uri = match &self.compiled.url {
            Url::Static(uri) => uri.clone(),
            Url::Templated(url) => {
                render_uri(url, data).map_err(|e| self.compiled.locate(e, Part::Url))?
            }
        };
        let mut headers = self.compiled.static_headers.map().clone();
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
            let length = HeaderValue::from(body.len());
            match headers.get_mut(header::CONTENT_LENGTH) {
                Some(stand_in) => *stand_in = length,
                None => {
                    headers.insert(header::CONTENT_LENGTH, length);
                }
            }
        }
        let mut request = http::Request::new(body);
        *request.method_mut() = self.compiled.method.as_http();
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Ok(request)
    }
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
        assert_eq!(h["authorization"], "Bearer tok");
        assert!(h["authorization"].is_sensitive());
        assert_eq!(h["user-agent"], USER_AGENT);
        assert_eq!(h["x-agent"], "7 7");
        assert_eq!(h["x-static"], "1");
        assert_eq!(request.body(), br#"{"ani": "555"}"#);
        assert_eq!(service.fields(), ["agent_id", "ani"]);
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
