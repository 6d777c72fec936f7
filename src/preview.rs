//! Showing requests to people: previews and debug records.
//!
//! A [`Preview`] is a built request in a form to print or store: as HTTP/1.1
//! text or as one JSON line. Header values marked sensitive (auth, and
//! headers whose names look secret) print as [`REDACTED`] unless the
//! caller asks to see them.
//!
//! Views of a request without its call data (an `Outgoing`, an
//! `Envelope`) cannot tell which bytes of a body are secret, so they show
//! none: [`Summary`] is what they show instead. Nor can they tell which
//! headers are, so their previews show only the values of callhook's own
//! headers.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::request::Request;
use crate::secret::{redact_query, REDACTED};

/// A request as shown to a person: what [`Service::preview`],
/// [`Registry::preview`] and [`Outgoing::preview`] give, and a debug record
/// ([`Service::debug_record`]).
///
/// Those rendered from call data ([`Service::preview`],
/// [`Registry::preview`], debug records) are rendered again through a
/// lookup that reads secret fields as `[redacted]`, with secret pairs'
/// values `[redacted]`, and show the `content-length` that is sent. An
/// [`Outgoing::preview`] has no call data and no service, so shows the body
/// as its length and SHA-256 only, and the values of callhook's own
/// headers only ([`Preview::of`]).
///
/// [`Service::preview`]: crate::Service::preview
/// [`Registry::preview`]: crate::Registry::preview
/// [`Outgoing::preview`]: crate::Outgoing::preview
/// [`Service::debug_record`]: crate::Service::debug_record
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Preview {
    /// The service id.
    pub service: String,
    /// The webhook id, when the request comes from a dispatch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// The delivery id, when the request comes from a dispatch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
    /// The method.
    pub method: String,
    /// The full URL.
    pub url: String,
    /// The fallback URLs the delivery moves to after failures, in order,
    /// redacted as the URL is; none for a service with none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<String>,
    /// Header names and values, in order; secrets redacted unless asked.
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced); for an outgoing request
    /// shown without secrets, `[redacted]: N bytes, sha256 HEX`.
    pub body: String,
    /// The OAuth2 token request the host sends first, for a service
    /// authenticating by OAuth2 (its own entry or a named one) with no
    /// token at hand: what [`Registry::prepare`] returns with an empty
    /// [`TokenCache`]. Shown by [`Registry::preview`] only, secrets
    /// redacted (the client secret, assertions, the entry's `parameters`):
    /// its form shows `grant_type`, `client_id`, `client_assertion_type`,
    /// `scope` and `username`.
    ///
    /// [`Registry::prepare`]: crate::Registry::prepare
    /// [`Registry::preview`]: crate::Registry::preview
    /// [`TokenCache`]: crate::TokenCache
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_request: Option<Box<Preview>>,
}

/// The headers whose values views without the service show: those
/// callhook sets itself, which hold no secret. Any other may (an `api_key`
/// header's name is the service's choice), and only the service knows.
const SHOWN_WITHOUT_SERVICE: [&str; 6] = [
    "content-type",
    "content-length",
    "user-agent",
    "soapaction",
    "webhook-id",
    "webhook-timestamp",
];

impl Preview {
    /// Describes a built request. A request alone does not say which of
    /// its bytes are secrets (a secret field's value, a secret pair, a
    /// custom-named `api_key` header), so unless `show_secrets` its body
    /// shows as its length and SHA-256 only, and every URL query value and
    /// every header value as [`REDACTED`] but those of the headers
    /// callhook sets itself and knows hold no secret (`content-type`,
    /// `content-length`, `user-agent`, `soapaction`, `webhook-id`,
    /// `webhook-timestamp`), when not marked sensitive. To see a body and
    /// headers with only their secrets redacted, render them again from
    /// the call: [`Service::preview`], [`Registry::preview`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::Preview;
    ///
    /// let mut request = http::Request::new(b"ani=555".to_vec());
    /// *request.uri_mut() = "https://crm.example.com/calls?src=pbx".parse().unwrap();
    /// let mut token = http::HeaderValue::from_static("Bearer t0k");
    /// token.set_sensitive(true);
    /// request.headers_mut().insert("authorization", token);
    /// request.headers_mut().insert("content-type", "text/plain".parse().unwrap());
    /// // An `api_key` header named like nothing secret.
    /// request.headers_mut().insert("x-tenant", "k3y".parse().unwrap());
    /// let shown = Preview::of("svc", &request, false).to_http();
    /// assert!(shown.starts_with("GET /calls?src=[redacted] HTTP/1.1\r\n"));
    /// assert!(shown.contains("authorization: [redacted]\r\n"));
    /// assert!(shown.contains("content-type: text/plain\r\n"));
    /// assert!(shown.contains("x-tenant: [redacted]\r\n"));
    /// assert!(shown.ends_with("\r\n\r\n[redacted]: 7 bytes, sha256 0cdfba035904e589ef0114562821f024fdd6a9e4cd77d6b715eb938438ebb323"));
    /// assert_eq!(Preview::of("svc", &request, true).body, "ani=555");
    /// ```
    ///
    /// [`Service::preview`]: crate::Service::preview
    /// [`Registry::preview`]: crate::Registry::preview
    #[must_use]
    pub fn of(service: &str, request: &Request, show_secrets: bool) -> Preview {
        let mut preview = Preview::redacted(service, request, show_secrets, &|_| true);
        if !show_secrets {
            preview.body = format!("{REDACTED}: {}", body_summary(request.body()));
            for (name, value) in &mut preview.headers {
                if !SHOWN_WITHOUT_SERVICE.contains(&name.as_str()) {
                    REDACTED.clone_into(value);
                }
            }
        }
        preview
    }

    /// A request with its body as it is: for one rendered through the
    /// redacting lookup, or shown with its secrets. Unless `show_secrets`,
    /// sensitive header values are redacted, and the values of the query
    /// parameters the rule names or `also` does.
    pub(crate) fn redacted(
        service: &str,
        request: &Request,
        show_secrets: bool,
        also: &dyn Fn(&str) -> bool,
    ) -> Preview {
        let url = request.uri().to_string();
        Preview {
            service: service.to_owned(),
            webhook: None,
            delivery: None,
            method: request.method().to_string(),
            url: if show_secrets {
                url
            } else {
                redact_query(&url, also)
            },
            headers: request
                .headers()
                .iter()
                .map(|(name, value)| {
                    // Sensitive by the rule or by the pair's own choice,
                    // which overrides the rule: set when it was built.
                    let value = if value.is_sensitive() && !show_secrets {
                        REDACTED.to_owned()
                    } else {
                        String::from_utf8_lossy(value.as_bytes()).into_owned()
                    };
                    (name.to_string(), value)
                })
                .collect(),
            body: String::from_utf8_lossy(request.body()).into_owned(),
            fallbacks: Vec::new(),
            token_request: None,
        }
    }

    /// The request as HTTP/1.1 text: request line, `host`, headers, a blank
    /// line and the body. Lines end in CRLF, as on the wire; ids, when set,
    /// precede it as `# webhook: ...` comment lines, and fallback URLs as
    /// `# fallback: URL` lines after them. A token request to
    /// send first comes before the request, after a `# token request, sent
    /// first` line, and the request after a `# then the request` line.
    #[must_use]
    pub fn to_http(&self) -> String {
        let mut out = String::new();
        if let Some(webhook) = &self.webhook {
            out.push_str(&format!("# webhook: {webhook}\r\n"));
        }
        if let Some(delivery) = &self.delivery {
            out.push_str(&format!("# delivery: {delivery}\r\n"));
        }
        for url in &self.fallbacks {
            out.push_str(&format!("# fallback: {url}\r\n"));
        }
        if let Some(token) = &self.token_request {
            out.push_str("# token request, sent first\r\n");
            out.push_str(&token.to_http());
            out.push_str("\r\n# then the request\r\n");
        }
        let (target, host) = match self.url.parse::<http::Uri>() {
            Ok(uri) => (
                uri.path_and_query()
                    .map_or("/".to_owned(), |p| p.to_string()),
                uri.authority().map(|a| a.to_string()),
            ),
            Err(_) => (self.url.clone(), None),
        };
        out.push_str(&format!("{} {target} HTTP/1.1\r\n", self.method));
        if let Some(host) = host {
            out.push_str(&format!("host: {host}\r\n"));
        }
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&self.body);
        out
    }

    /// The request as one line of JSON:
    /// `{"service": ID, "method": M, "url": U, "headers": [[NAME, VALUE], ...], "body": TEXT}`,
    /// with `webhook` and `delivery` after `service` when set, `fallbacks`
    /// (a list of URLs) after `url` when there are any, and
    /// `token_request` (an object of the same shape) last when set.
    #[must_use]
    pub fn to_json_line(&self) -> String {
        // A struct of strings always serialises: the empty fallback is
        // never taken.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// URLs as a preview shows them: as they are with `show_secrets`, else
/// with the values of the query parameters the rule or `also` names
/// redacted.
pub(crate) fn shown_urls(
    urls: &[http::Uri],
    show_secrets: bool,
    also: &dyn Fn(&str) -> bool,
) -> Vec<String> {
    urls.iter()
        .map(|url| {
            let url = url.to_string();
            if show_secrets {
                url
            } else {
                redact_query(&url, also)
            }
        })
        .collect()
}

/// A body as views without its call data show it: `N bytes, sha256 HEX`,
/// enough to tell two bodies apart and to match one a receiver logged.
pub(crate) fn body_summary(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut out = format!("{} bytes, sha256 ", body.len());
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// A request as `Debug` of `Outgoing`, `Envelope` and `StoredRequest`
/// prints it: the method, the URL with every query value redacted, the
/// header names, and the body's length and hash; never a header value or
/// a body byte, which may hold secrets these views cannot tell apart.
pub(crate) struct Summary<'a> {
    /// The method.
    pub(crate) method: &'a str,
    /// The URL, as sent.
    pub(crate) url: &'a str,
    /// The header names, in order.
    pub(crate) headers: Vec<&'a str>,
    /// The body, as sent.
    pub(crate) body: &'a [u8],
}

impl fmt::Debug for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &redact_query(self.url, &|_| true))
            .field("headers", &self.headers)
            .field("body", &format_args!("{}", body_summary(self.body)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_show_no_value() {
        let summary = Summary {
            method: "POST",
            url: "https://x.example.com/a?src=pbx&code=s3cr3t",
            headers: vec!["authorization", "x-custom"],
            body: b"pin=s3cr3t",
        };
        let shown = format!("{summary:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(!shown.contains("pbx"), "{shown}");
        assert!(shown.contains("x-custom"), "{shown}");
        assert!(shown.contains("10 bytes, sha256 "), "{shown}");
        assert_eq!(body_summary(b"").len(), "0 bytes, sha256 ".len() + 64);
    }
}
