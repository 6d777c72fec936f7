//! Showing requests to people: previews and debug records.
//!
//! A [`Preview`] is a built request in a form to print or store: as HTTP/1.1
//! text or as one JSON line. Header values marked sensitive (auth, and
//! static headers whose names look secret) print as [`REDACTED`] unless the
//! caller asks to see them.

use serde::Serialize;

use crate::request::Request;
use crate::secret::{redact_query, REDACTED};

/// A request as shown to a person: what [`Service::preview`] and
/// [`Outgoing::preview`] give, and a debug record
/// ([`Service::debug_record`]).
///
/// [`Service::preview`]: crate::Service::preview
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
    /// Header names and values, in order; secrets redacted unless asked.
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
}

impl Preview {
    /// Describes a built request. Sensitive header values, and the values of
    /// URL query parameters whose names say they are secrets (`token`,
    /// `api_key`, `sig`...), are replaced by [`REDACTED`] unless
    /// `show_secrets`.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::Preview;
    ///
    /// let mut request = http::Request::new(b"ani=555".to_vec());
    /// *request.uri_mut() = "https://crm.example.com/calls".parse().unwrap();
    /// let mut token = http::HeaderValue::from_static("Bearer t0k");
    /// token.set_sensitive(true);
    /// request.headers_mut().insert("authorization", token);
    /// let shown = Preview::of("svc", &request, false).to_http();
    /// assert!(shown.contains("authorization: [redacted]\r\n"));
    /// ```
    #[must_use]
    pub fn of(service: &str, request: &Request, show_secrets: bool) -> Preview {
        Preview::redacted(service, request, show_secrets, &|_| false)
    }

    /// [`Preview::of`], with the query parameters `also` names redacted
    /// too, beyond those the rule names.
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
                    let value = if value.is_sensitive() && !show_secrets {
                        REDACTED.to_owned()
                    } else {
                        String::from_utf8_lossy(value.as_bytes()).into_owned()
                    };
                    (name.to_string(), value)
                })
                .collect(),
            body: String::from_utf8_lossy(request.body()).into_owned(),
        }
    }

    /// The request as HTTP/1.1 text: request line, `host`, headers, a blank
    /// line and the body. Lines end in CRLF, as on the wire; ids, when set,
    /// precede it as `# webhook: ...` comment lines.
    #[must_use]
    pub fn to_http(&self) -> String {
        let mut out = String::new();
        if let Some(webhook) = &self.webhook {
            out.push_str(&format!("# webhook: {webhook}\r\n"));
        }
        if let Some(delivery) = &self.delivery {
            out.push_str(&format!("# delivery: {delivery}\r\n"));
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
    /// with `webhook` and `delivery` after `service` when set.
    #[must_use]
    pub fn to_json_line(&self) -> String {
        // A struct of strings always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}
