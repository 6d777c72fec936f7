//! Previews and debug records: a service's request shown to a person,
//! secrets redacted.

use http::header::{self};

use super::Service;
use crate::auth::Applied;
use crate::call::{CallData, Lookup, Redacted};
use crate::error::Error;
use crate::preview::Preview;
use crate::request::Request;

impl Service {
    /// Renders the service for `data` and describes the request, as an
    /// admin screen shows it before saving (AVANSER's preview), with the
    /// credential signing adds at send time where the service alone makes
    /// it (its own Basic, Bearer, API-key or query-key auth; not a named
    /// entry, a JWT or an OAuth2 token). Secrets,
    /// and the values of secret fields (such as recording URLs) and those
    /// mapped from them, are redacted unless `show_secrets`: credentials,
    /// pairs and headers marked secret or named by the rule, and secret
    /// query parameters. The `content-length` is that of the body sent.
    ///
    /// # Errors
    ///
    /// As [`Service::request`].
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{CallData, Catalog, Config};
    ///
    /// let config = Config::from_json(include_str!("../../examples/configs/avanser.json"))?;
    /// let service = config.services[0].compile(Catalog::standard())?;
    /// let shown = service.preview(&CallData::new(), false)?;
    /// assert!(!shown.to_http().contains("Basic "));
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn preview(&self, data: &CallData, show_secrets: bool) -> Result<Preview, Error> {
        let mut sent = self.request(data)?;
        if show_secrets {
            self.add_shown_credential(&mut sent);
            Ok(self.show(&sent, true))
        } else {
            self.shown_with(data, &sent)
        }
    }

    /// The debug record of the request this service builds for `data`,
    /// when the service has its `debug` flag set (RingCX's Debug flag): the
    /// request with secrets and secret fields redacted, for the host to
    /// store. `None` otherwise, or where the request cannot be built.
    #[must_use]
    pub fn debug_record(&self, data: &CallData) -> Option<Preview> {
        if !self.compiled.debug {
            return None;
        }
        self.debug_record_with(data, &self.request(data).ok()?)
    }

    /// The debug record of `sent`, built for `data`, when the service keeps
    /// them.
    pub(crate) fn debug_record_with<L: Lookup + ?Sized>(
        &self,
        data: &L,
        sent: &Request,
    ) -> Option<Preview> {
        if !self.compiled.debug {
            return None;
        }
        // `sent` was built from `data`, so it renders again through the
        // redacting lookup; were it not to, there is no record, as the
        // documentation of `debug_record` says of a request not built.
        self.shown_with(data, sent).ok()
    }

    /// `sent`, built for `data`, as a person may see it: rendered again
    /// through the redacting lookup, with the body whose secret pairs read
    /// `[redacted]`, and shown with its secret headers and query parameters
    /// redacted ([`Service::show`]). The `content-length` is `sent`'s: the
    /// length that goes out, not that of the text shown.
    ///
    /// # Errors
    ///
    /// As [`Service::request`], though `sent` was built: a redacted value
    /// is never refused where the real one was not.
    pub(crate) fn shown_with<L: Lookup + ?Sized>(
        &self,
        data: &L,
        sent: &Request,
    ) -> Result<Preview, Error> {
        let body = self
            .compiled
            .rare
            .as_ref()
            .and_then(|rare| rare.shown_body.as_ref())
            // No pair is a secret: the body is shown as it is rendered.
            .unwrap_or(&self.compiled.body);
        let mut shown = self.build(&Redacted(data), body)?;
        self.add_shown_credential(&mut shown);
        let mut preview = self.show(&shown, false);
        if let Some(length) = sent.headers().get(header::CONTENT_LENGTH) {
            for (name, value) in &mut preview.headers {
                if name == header::CONTENT_LENGTH.as_str() {
                    *value = String::from_utf8_lossy(length.as_bytes()).into_owned();
                }
            }
        }
        Ok(preview)
    }

    /// The request as a preview, with this service's secret query
    /// parameters redacted too, its auth's parameter among them.
    pub(crate) fn show(&self, request: &Request, show_secrets: bool) -> Preview {
        let auth_param = self.auth().query_param();
        Preview::redacted(self.id(), request, show_secrets, &|name| {
            self.compiled.names_secret_parameter(name) || auth_param == Some(name)
        })
    }

    /// Adds to a request shown to a person the credential that signing
    /// adds at send time, where the service alone makes it: its own Basic,
    /// Bearer, API-key or query-key auth. A named entry (the registry's), a
    /// JWT (minted per time) and an OAuth2 token (the host's cache) are
    /// not shown.
    fn add_shown_credential(&self, request: &mut Request) {
        let credential = self
            .compiled
            .rare
            .as_ref()
            .and_then(|rare| rare.credential.clone());
        if let Some(credential) = credential {
            // The URL was built by the service, so it takes a parameter.
            let _ = Applied::default().place(request, credential);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::secret::REDACTED;
    use crate::service::tests::config;

    fn secret_service(debug: bool) -> Service {
        config(serde_json::json!({
            "url": "https://crm.example.com/calls?x=1",
            "body": {"kind": "form", "pairs": [{"key": "ani", "value": "#ani#"}]},
            "headers": [{"key": "X-Api-Token", "value": "static-secret"}],
            "auth": {"kind": "basic", "username": "u", "password": "hunter2"},
            "debug": debug,
        }))
        .compile(Catalog::standard())
        .unwrap()
    }

    #[test]
    fn previews_redact_unless_asked() {
        let data = CallData::new().with("ani", "555");
        let shown = secret_service(false).preview(&data, false).unwrap();
        let http = shown.to_http();
        assert!(http.starts_with("POST /calls?x=1 HTTP/1.1\r\nhost: crm.example.com\r\n"));
        assert!(http.contains(&format!("authorization: {REDACTED}\r\n")));
        assert!(http.contains("x-api-token: [redacted]\r\n"));
        assert!(http.ends_with("\r\n\r\nani=555"));
        assert!(!http.contains("hunter2") && !http.contains("static-secret"));
        assert!(!shown.to_json_line().contains("hunter2"));
        let json: serde_json::Value = serde_json::from_str(&shown.to_json_line()).unwrap();
        assert_eq!(json["url"], "https://crm.example.com/calls?x=1");
        assert_eq!(json["headers"][0][0], "x-api-token");
        let secret = secret_service(false).preview(&data, true).unwrap();
        assert!(secret
            .to_http()
            .contains("authorization: Basic dTpodW50ZXIy"));
    }

    #[test]
    fn debug_records_only_with_the_flag_and_always_redacted() {
        let data = CallData::new().with("ani", "555");
        let plain = secret_service(false);
        assert!(plain.debug_record(&data).is_none());
        let debug = secret_service(true);
        let record = debug.debug_record(&data).unwrap();
        assert!(!format!("{record:?}").contains("hunter2"));
        assert_eq!(record.body, "ani=555");
    }
}
