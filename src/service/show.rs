//! Previews and debug records: a service's request shown to a person,
//! secrets redacted.

use http::header::{self};

use http::HeaderValue;

use super::Service;
use crate::auth::{Applied, Auth, Credential, TokenRequest};
use crate::call::{CallData, Lookup, Recorded, Redacted};
use crate::error::Error;
use crate::preview::{shown_urls, Preview};
use crate::request::Request;
use crate::secret::{redact_query, REDACTED};

/// Who a request is shown to, which says what is redacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shown {
    /// A person at an admin screen: secrets redacted.
    Previewed,
    /// A record the host stores (a debug record): secrets and personal
    /// fields redacted.
    Recorded,
}

impl Service {
    /// Renders the service for `data` and describes the request, as an
    /// admin screen shows it before saving (AVANSER's preview), with the
    /// credential signing adds at send time where the service alone makes
    /// it (its own Basic, Bearer, API-key or query-key auth). A JWT or an
    /// OAuth2 token of its own, which exist only when a delivery is signed,
    /// shows as `[redacted]` where it goes (header or query parameter),
    /// even with `show_secrets`; a named entry is the registry's, and shows
    /// through [`Registry::preview`](crate::Registry::preview), as does
    /// the OAuth2 token request to send first. Secrets,
    /// and the values of secret fields (such as recording URLs) and those
    /// mapped from them, are redacted unless `show_secrets`: credentials,
    /// pairs and headers marked secret or named by the rule, and secret
    /// query parameters. The `content-length` is that of the body sent.
    /// Fallback URLs are rendered and redacted as the URL is, in
    /// [`Preview::fallbacks`], without the credential signing adds; fields
    /// the catalog marks personal are shown, as this is for a person
    /// testing with a call at hand (a debug record, which is stored,
    /// redacts them).
    ///
    /// # Errors
    ///
    /// As [`Service::request`], and for a fallback URL.
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
            self.add_shown_credential(&mut sent, self.auth());
            let mut preview = self.show_under(&sent, true, self.auth());
            preview.fallbacks = shown_urls(&self.fallbacks_with(data)?, true, &|_| true);
            Ok(preview)
        } else {
            self.shown_with(data, &sent)
        }
    }

    /// The debug record of the request this service builds for `data`,
    /// when the service has its `debug` flag set (RingCX's Debug flag): the
    /// request with secrets, secret fields and personal fields
    /// ([`FieldSpec::is_personal`](crate::FieldSpec::is_personal): a
    /// caller's number or name) redacted, for the host to store, with its
    /// fallback URLs redacted alike. `None` otherwise, or where the request
    /// cannot be built.
    ///
    /// A [`Service::preview`] is for a person at an admin screen, who
    /// tests with the call at hand, and keeps showing personal fields; a
    /// debug record is stored, so it shows none.
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
        self.shown_under(data, sent, self.auth(), Shown::Recorded)
            .ok()
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
        self.shown_under(data, sent, self.auth(), Shown::Previewed)
    }

    /// [`Service::shown_with`], with the credential of `auth` (the
    /// service's own, or the named entry it refers to, resolved by the
    /// registry) shown where signing puts it, its value `[redacted]`, and
    /// the fallback URLs rendered through the same lookup, redacted as the
    /// URL is. `to` says who it is for: a person (secrets redacted), or a
    /// stored record (personal fields too).
    pub(crate) fn shown_under<L: Lookup + ?Sized>(
        &self,
        data: &L,
        sent: &Request,
        auth: &Auth,
        to: Shown,
    ) -> Result<Preview, Error> {
        let body = self
            .compiled
            .rare
            .as_ref()
            .and_then(|rare| rare.shown_body.as_ref())
            // No pair is a secret: the body is shown as it is rendered.
            .unwrap_or(&self.compiled.body);
        let (mut shown, fallbacks) = match to {
            Shown::Previewed => (
                self.build(&Redacted(data), body)?,
                self.fallbacks_with(&Redacted(data))?,
            ),
            Shown::Recorded => (
                self.build(&Recorded(data), body)?,
                self.fallbacks_with(&Recorded(data))?,
            ),
        };
        self.add_shown_credential(&mut shown, auth);
        let mut preview = self.show_under(&shown, false, auth);
        preview.fallbacks = shown_urls(&fallbacks, false, &|name| {
            self.compiled.names_secret_parameter(name) || auth.query_param() == Some(name)
        });
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
    /// parameters redacted too, and the parameter of `auth` (the one the
    /// request is signed with) among them.
    fn show_under(&self, request: &Request, show_secrets: bool, auth: &Auth) -> Preview {
        let auth_param = auth.query_param();
        Preview::redacted(self.id(), request, show_secrets, &|name| {
            self.compiled.names_secret_parameter(name) || auth_param == Some(name)
        })
    }

    /// Adds to a request shown to a person the credential that signing
    /// adds at send time with `auth`: a Basic, Bearer, API-key or
    /// query-key credential as it is (redacted when shown), and a JWT's or
    /// an OAuth2 token's place with `[redacted]` for its value, as neither
    /// exists before a delivery is signed.
    fn add_shown_credential(&self, request: &mut Request, auth: &Auth) {
        let credential = match self.compiled.rare.as_ref() {
            // The service's own, made when it compiled.
            Some(rare) if std::ptr::eq(auth, &rare.auth) && rare.credential.is_some() => {
                rare.credential.clone()
            }
            _ => shown_credential(auth),
        };
        if let Some(credential) = credential {
            // The URL was built by the service, so it takes a parameter.
            let _ = Applied::default().place(request, credential);
        }
    }

    /// The token request to send before this service's request, as a
    /// person may see it: method, URL, headers and form body, with every
    /// value redacted but those [`TokenRequest`]'s `Debug` shows too (the
    /// grant type, client id, client assertion type, scope and user name).
    pub(crate) fn shown_token_request(&self, token: &TokenRequest) -> Preview {
        let request = token.request();
        let hidden = |name: &str| !TokenRequest::shows_parameter(name);
        let body: Vec<String> = form_urlencoded::parse(request.body())
            .map(|(name, value)| {
                let name: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
                if hidden(&name) {
                    format!("{name}={REDACTED}")
                } else {
                    let value: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
                    format!("{name}={value}")
                }
            })
            .collect();
        let mut shown = Preview::redacted(self.id(), request, false, &hidden);
        // Its `Authorization` is the client's Basic credentials, marked
        // sensitive when built; redacted by name as well, as `Debug` does.
        for (name, value) in &mut shown.headers {
            if name == header::AUTHORIZATION.as_str() {
                REDACTED.clone_into(value);
            }
        }
        shown.url = redact_query(&request.uri().to_string(), &hidden);
        shown.body = body.join("&");
        shown
    }
}

/// The credential `auth` places, as a preview shows it: a static one as
/// it is (the preview redacts it), a JWT's or OAuth2 token's place holding
/// `[redacted]`; none for no auth or an unresolved named entry.
fn shown_credential(auth: &Auth) -> Option<Credential> {
    if let Some(credential) = auth.static_credential() {
        return Some(credential);
    }
    match (auth.header_name(), auth.query_param()) {
        (Some(name), _) => {
            let mut value = HeaderValue::from_static(REDACTED);
            value.set_sensitive(true);
            Some(Credential::Header(name, value))
        }
        (None, Some(param)) => Some(Credential::Query(param.to_owned(), REDACTED.to_owned())),
        (None, None) => None,
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

    /// A JWT or OAuth2 token exists only when a delivery is signed: a
    /// preview shows its place, `[redacted]`, even with `show_secrets`.
    #[test]
    fn tokens_show_their_place_redacted() {
        let service = config(serde_json::json!({
            "url": "https://crm.example.com/calls?x=1",
            "auth": {"kind": "oauth2", "token_url": "https://auth.example.com/t",
                     "grant": {"type": "client_credentials"}, "client_id": "c",
                     "client_secret": "s3cr3t-cl1ent", "add_to": {"to": "query", "param": "tok"}},
        }))
        .compile(Catalog::standard())
        .unwrap();
        let data = CallData::new();
        let shown = service.preview(&data, false).unwrap();
        assert_eq!(
            shown.url,
            "https://crm.example.com/calls?x=1&tok=[redacted]"
        );
        assert!(shown.token_request.is_none(), "the registry's to show");
        let secret = service.preview(&data, true).unwrap();
        assert_eq!(
            secret.url,
            "https://crm.example.com/calls?x=1&tok=%5Bredacted%5D"
        );
        let header = config(serde_json::json!({
            "url": "https://crm.example.com/calls",
            "auth": {"kind": "oauth2", "token_url": "https://auth.example.com/t",
                     "grant": {"type": "password", "username": "u1", "password": "pw-0f-u1"},
                     "client_id": "c", "client_secret": "s3cr3t-cl1ent", "scope": "a b",
                     "parameters": [{"name": "audience", "value": "aud-1"}]},
        }))
        .compile(Catalog::standard())
        .unwrap();
        let shown = header.preview(&data, false).unwrap();
        assert!(shown
            .headers
            .contains(&("authorization".to_owned(), REDACTED.to_owned())));
        // The token request: secrets and the entry's parameters redacted,
        // the client's Basic credentials too.
        let Auth::OAuth2(oauth) = header.auth() else {
            unreachable!("oauth2")
        };
        let token = oauth
            .token_request(
                "k",
                &crate::auth::TokenCache::default(),
                chrono::DateTime::UNIX_EPOCH,
            )
            .unwrap();
        let shown = header.shown_token_request(&token);
        assert_eq!(
            shown.body,
            "grant_type=password&username=u1&password=[redacted]&scope=a+b&audience=[redacted]"
        );
        assert_eq!(shown.url, "https://auth.example.com/t");
        assert!(shown
            .headers
            .contains(&("authorization".to_owned(), REDACTED.to_owned())));
        let text = shown.to_http();
        for secret in ["s3cr3t-cl1ent", "pw-0f-u1", "aud-1"] {
            assert!(!text.contains(secret), "{text}");
        }
    }

    #[test]
    fn debug_records_only_with_the_flag_and_always_redacted() {
        let data = CallData::new().with("ani", "555");
        let plain = secret_service(false);
        assert!(plain.debug_record(&data).is_none());
        let debug = secret_service(true);
        let record = debug.debug_record(&data).unwrap();
        assert!(!format!("{record:?}").contains("hunter2"));
        // `ani` is personal: a stored record shows it redacted, and a
        // preview for a person shows it.
        assert_eq!(record.body, "ani=%5Bredacted%5D");
        assert_eq!(debug.preview(&data, false).unwrap().body, "ani=555");
    }

    /// Personal fields are redacted in debug records wherever they land
    /// (URL, fallback URLs, headers, body); other fields are kept.
    #[test]
    fn debug_records_redact_personal_fields_everywhere() {
        let service = config(serde_json::json!({
            "url": "https://crm.example.com/calls/#dnis#?from=#ani#&agent=#agent_id#",
            "fallback_urls": ["https://standby.example.com/calls?from=#ani#&agent=#agent_id#"],
            "headers": [{"key": "X-Caller", "value": "#agent_username#"}],
            "body": {"kind": "json", "pairs": [
                {"key": "ani", "value": "#ani#"},
                {"key": "agent", "value": "#agent_id#"},
            ]},
            "debug": true,
        }))
        .compile(Catalog::standard())
        .unwrap();
        let personal = Catalog::standard()
            .iter()
            .filter(|f| f.is_personal())
            .map(|f| f.name().to_owned())
            .collect::<Vec<_>>();
        for field in ["ani", "dnis", "agent_username"] {
            assert!(personal.iter().any(|f| f == field), "{personal:?}");
        }
        let data = CallData::new()
            .with("ani", "+15550001111")
            .with("dnis", "+15550002222")
            .with("agent_username", "ada@example.com")
            .with("agent_id", "1001");
        let record = service.debug_record(&data).unwrap();
        let text = format!("{}\n{}", record.to_http(), record.to_json_line());
        for value in ["5550001111", "5550002222"] {
            assert!(!text.contains(value), "{text}");
        }
        assert!(!text.contains("ada@example"), "{text}");
        assert!(text.contains("agent=1001"), "{text}");
        assert_eq!(record.fallbacks.len(), 1);
        assert!(record.fallbacks[0].contains("agent=1001"), "{record:?}");
        let shown = service.preview(&data, false).unwrap();
        assert!(shown.to_http().contains("5550001111"));
        assert!(
            shown.fallbacks[0].contains("from=%2B15550001111"),
            "{shown:?}"
        );
    }
}
