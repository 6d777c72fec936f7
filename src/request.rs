//! Showing requests to people: previews and debug records.
//!
//! A [`Preview`] is a built request in a form to print or store: as HTTP/1.1
//! text or as one JSON line. Header values marked sensitive (auth, and
//! static headers whose names look secret) print as `[redacted]` unless the
//! caller asks to see them.

use serde::Serialize;

use crate::error::Error;
use crate::field::CallData;
use crate::service::Service;

/// What prints in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// A request as shown to a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// Describes a built request. Sensitive header values are replaced by
    /// [`REDACTED`] unless `show_secrets`.
    pub fn of(service: &str, request: &http::Request<Vec<u8>>, show_secrets: bool) -> Preview {
        Preview {
            service: service.to_owned(),
            webhook: None,
            delivery: None,
            method: request.method().to_string(),
            url: request.uri().to_string(),
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
    pub fn to_json_line(&self) -> String {
        // A struct of strings always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Renders `service` for `data` and describes the request, as an admin UI
/// shows it before saving (AVANSER's preview). Secrets are redacted unless
/// `show_secrets`.
pub fn preview(service: &Service, data: &CallData, show_secrets: bool) -> Result<Preview, Error> {
    let request = service.request(data)?;
    Ok(Preview::of(service.id(), &request, show_secrets))
}

/// The debug record of a request, for a service with RingCX's Debug flag
/// set: the request with secrets redacted, for the host to store. `None` for
/// services without the flag.
pub fn debug_record(service: &Service, request: &http::Request<Vec<u8>>) -> Option<Preview> {
    service
        .config()
        .debug
        .then(|| Preview::of(service.id(), request, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::ServiceConfig;

    fn service(debug: bool) -> Service {
        let config: ServiceConfig = serde_json::from_value(serde_json::json!({
            "id": "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6b",
            "name": "t",
            "method": "POST",
            "url": "https://crm.example.com/calls?x=1",
            "body": {"kind": "form", "pairs": [{"key": "ani", "value": "#ani#"}]},
            "headers": [{"key": "X-Api-Token", "value": "static-secret"}],
            "auth": {"kind": "basic", "username": "u", "password": "hunter2"},
            "debug": debug,
        }))
        .unwrap();
        config.compile(crate::Catalog::standard()).unwrap()
    }

    #[test]
    fn previews_redact_unless_asked() {
        let data = CallData::new().with("ani", "555");
        let shown = preview(&service(false), &data, false).unwrap();
        let http = shown.to_http();
        assert!(http.starts_with("POST /calls?x=1 HTTP/1.1\r\nhost: crm.example.com\r\n"));
        assert!(http.contains("authorization: [redacted]\r\n"));
        assert!(http.contains("x-api-token: [redacted]\r\n"));
        assert!(http.ends_with("\r\n\r\nani=555"));
        assert!(!http.contains("hunter2") && !http.contains("static-secret"));
        assert!(!shown.to_json_line().contains("hunter2"));
        let json: serde_json::Value = serde_json::from_str(&shown.to_json_line()).unwrap();
        assert_eq!(json["url"], "https://crm.example.com/calls?x=1");
        assert_eq!(json["headers"][0][0], "x-api-token");
        let secret = preview(&service(false), &data, true).unwrap();
        assert!(secret
            .to_http()
            .contains("authorization: Basic dTpodW50ZXIy"));
    }

    #[test]
    fn debug_records_only_with_the_flag_and_always_redacted() {
        let data = CallData::new().with("ani", "555");
        let plain = service(false);
        assert!(debug_record(&plain, &plain.request(&data).unwrap()).is_none());
        let debug = service(true);
        let record = debug_record(&debug, &debug.request(&data).unwrap()).unwrap();
        assert!(!format!("{record:?}").contains("hunter2"));
        assert_eq!(record.body, "ani=555");
    }
}
