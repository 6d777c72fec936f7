//! Signing a request the service built: checked first, as if the service
//! were building it now.

use crate::auth::jwt::ClaimValues;
use http::header::{self};

use super::headers::check_request_form;
use super::Service;
use crate::address::AddressPolicy;
use crate::auth::{set_query_param, Applied, Auth, Step, TokenCache, TokenRequest};
use crate::error::{shown, Error, ErrorKind};
use crate::request::Request;

/// The authentication a request is signed with: the service's own, or the
/// named entry it refers to, resolved by the registry.
pub(crate) struct SendAuth<'a> {
    /// The authentication, its secrets resolved.
    pub(crate) auth: &'a Auth,
    /// Its token's key in `tokens`: `service:<id>` or `named:<name>` (only
    /// read for OAuth2).
    pub(crate) key: &'a str,
    /// The named entry's name, for one: its errors are in
    /// `auth_configs.<name>`, the service's own auth's in `auth`.
    pub(crate) entry: Option<&'a str>,
    /// The host's tokens.
    pub(crate) tokens: &'a TokenCache,
    /// What a JWT's claims may name (`#delivery_id#`, `#event#`...): the
    /// delivery being sent.
    pub(crate) claims: ClaimValues<'a>,
}

/// The error for a request whose OAuth2 token the host must fetch first.
pub(crate) fn token_needed(service: &str) -> Error {
    Error::new(
        ErrorKind::TokenNeeded,
        "the service authenticates by OAuth2 and no token is at hand; prepare the \
         request with `Registry::prepare` and a `TokenCache`, and send the token \
         request it returns first",
    )
    .in_service(service)
}

impl Service {
    /// Adds the credential of the service's own auth to `request` and signs
    /// it as delivery `id` at time `at`, if the service signs its requests;
    /// any earlier credential and signature are replaced, so each attempt
    /// of a delivery is signed with its own time by the same call. The
    /// credential goes in first, so a signature over the URL covers a
    /// query key. A service in a registry is signed through
    /// [`Registry::prepare`](crate::Registry::prepare), which also resolves
    /// a named auth entry and takes OAuth2 tokens from the host's cache.
    ///
    /// The request is checked first, signing or not, as if the service
    /// were building it now: nothing is signed that the service would not
    /// build. The service is enabled; the URL is an absolute `http(s)` URL
    /// with no user information or dot segment, to the service's origin
    /// (scheme, host and port), and one the service builds (its very URL,
    /// when it does not depend on the call; else beginning with its URL's
    /// text before the first placeholder), and the method is the
    /// service's; a service that builds no body (a `GET` whose pairs go
    /// in its query, or no body at all) has none; no header frames or
    /// routes the message (`Transfer-Encoding`, `Host`, the hop-by-hop headers;
    /// `Content-Length` only as the body's length), and none that is not a
    /// list is given twice.
    /// The service's secret headers (its `auth` header, and `headers` that
    /// are secrets) are marked sensitive, as when it builds a request.
    ///
    /// # Errors
    ///
    /// A disabled service is an error of kind [`ErrorKind::ServiceDisabled`].
    /// A request to another origin, to a path or query the service does
    /// not build, with a body where the service builds none, or with
    /// another method, is an error of kind
    /// [`ErrorKind::ServiceChanged`] (naming the origin only: a path or
    /// query may hold a secret), unless its host is an internal
    /// IP address, which is one of kind [`ErrorKind::InvalidUrl`] (the
    /// service's own origin passed the address policy it was compiled with;
    /// any other is judged by the strict [`AddressPolicy::new`]). A URL of
    /// another form is an error of kind [`ErrorKind::InvalidUrl`] (a `.` or
    /// `..` segment, between `/` or `\`, of kind
    /// [`ErrorKind::UnsafeValue`]), and a header
    /// that frames or routes the message, or one that is not a list given
    /// twice, one of kind [`ErrorKind::InvalidHeader`].
    /// A delivery id that cannot travel in a header (not printable ASCII)
    /// is an error of kind [`ErrorKind::Signature`]. A service using a
    /// named auth entry, which only a registry resolves, is an error of
    /// kind [`ErrorKind::Registry`], and one using OAuth2, whose token only
    /// the host's cache holds, of kind [`ErrorKind::TokenNeeded`]. A JWT
    /// that cannot be minted is an error naming `auth`.
    ///
    /// # Examples
    ///
    /// ```
    /// use callhook::{CallData, Catalog, Config};
    ///
    /// let config = Config::from_json(include_str!("../../examples/configs/signed.json"))?;
    /// let service = config.services[0].compile(Catalog::standard())?;
    /// let mut request = service.request(&CallData::new())?;
    /// service.sign(&mut request, "d-1", "2024-12-02T21:12:00Z".parse().unwrap())?;
    /// assert_eq!(request.headers()["webhook-timestamp"], "1733173920");
    /// # Ok::<(), callhook::Error>(())
    /// ```
    pub fn sign(
        &self,
        request: &mut Request,
        id: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), Error> {
        let key = match self.auth() {
            Auth::OAuth2(_) => format!("service:{}", self.id()),
            _ => String::new(),
        };
        let tokens = TokenCache::default();
        let auth = SendAuth {
            auth: self.auth(),
            key: &key,
            entry: None,
            tokens: &tokens,
            // A request signed by the service alone names no event or
            // webhook: a claim using them is refused as missing.
            claims: ClaimValues {
                delivery_id: Some(id),
                service: Some(self.id()),
                ..ClaimValues::default()
            },
        };
        // The service's own origin passed the policy it was compiled with;
        // any other is judged by the strict one.
        let needed = self.sign_with(
            request,
            id,
            at,
            &AddressPolicy::new(),
            &auth,
            &mut Applied::default(),
        )?;
        match needed {
            None => Ok(()),
            Some(_) => Err(token_needed(self.id())),
        }
    }

    /// [`Service::sign`], judging a request to another origin by
    /// `addresses` (the registry's policy, for [`Registry::prepare`]), with
    /// the credential of `auth` (the service's own, or the named entry it
    /// refers to) in place of the one `applied` records (from an earlier
    /// attempt): the one path every request is signed through. The token
    /// request to send first, for an OAuth2 token the cache does not hold,
    /// leaves the request unsigned and without credential.
    ///
    /// [`Registry::prepare`]: crate::Registry::prepare
    pub(crate) fn sign_with(
        &self,
        request: &mut Request,
        id: &str,
        at: chrono::DateTime<chrono::Utc>,
        addresses: &AddressPolicy,
        auth: &SendAuth<'_>,
        applied: &mut Applied,
    ) -> Result<Option<Box<TokenRequest>>, Error> {
        let in_service = |e: Error| e.in_service(self.id());
        // An earlier attempt's credential goes first: the request is
        // checked as the service builds it, and the credential placed anew.
        // A request given with no record (`Service::sign`) may still carry
        // the parameter of the service's auth.
        applied.remove_from(request).map_err(in_service)?;
        if let Some(param) = auth.auth.query_param() {
            set_query_param(request, param, None).map_err(in_service)?;
        }
        self.check_request(request, addresses)?;
        // A request from an envelope lacks the service's static headers
        // of the names envelopes never store: they come from the registry,
        // current, as credentials do.
        if let Some(rare) = self.compiled.rare.as_ref() {
            for (name, value) in &rare.restored {
                request.headers_mut().insert(name.clone(), value.clone());
            }
        }
        self.mark_secret_headers(request);
        // The field is made only for an error: a named entry's would be
        // one allocation per request.
        let in_auth = |e: Error| {
            let e = match auth.entry {
                Some(name) => e.in_field(&format!("auth_configs.{}", shown(name))),
                None => e.in_field("auth"),
            };
            e.in_service(self.id())
        };
        let credential = match self.compiled.rare.as_ref() {
            // The service's own credential of a kind that needs no time
            // or token, made when it compiled: a copy of shared bytes.
            Some(rare) if std::ptr::eq(auth.auth, &rare.auth) && rare.credential.is_some() => {
                Step::Apply(rare.credential.clone())
            }
            _ => auth
                .auth
                .credential(auth.key, at, auth.tokens, &auth.claims)
                .map_err(in_auth)?,
        };
        match credential {
            Step::TokenNeeded(token_request) => return Ok(Some(token_request)),
            Step::Apply(Some(credential)) => applied.place(request, credential).map_err(in_auth)?,
            Step::Apply(None) => {}
        }
        // Credentials go in before the signature, which covers a URL
        // (Twilio's) with its credential parameter.
        if let Some(signer) = self.compiled.signer() {
            signer
                .sign(request, id, at)
                .map_err(|e| e.in_field("signing").in_service(self.id()))?;
        }
        Ok(None)
    }

    /// Checks `request` as if the service were building it now, before it
    /// is signed: the one check for every request that comes back from
    /// storage or from the host. The service is enabled; the request has
    /// the form every request callhook builds has ([`check_request_form`]);
    /// and it goes to the origin (scheme, host and port, which passed the
    /// address policy when the service compiled) of the service's URL or
    /// one of its fallback URLs, to a URL that one builds
    /// ([`Compiled::builds_url`]), with a body only if the
    /// service builds one, with the service's method. A request to another origin whose host is
    /// an IP address is judged by `addresses` first, so an internal address
    /// is refused as one.
    fn check_request(&self, request: &Request, addresses: &AddressPolicy) -> Result<(), Error> {
        let in_service = |e: Error| e.in_service(self.id());
        if !self.enabled {
            return Err(in_service(Error::new(
                ErrorKind::ServiceDisabled,
                "the service is disabled, so none of its requests is signed",
            )));
        }
        check_request_form(request).map_err(in_service)?;
        let uri = request.uri();
        // A request with no scheme or authority goes nowhere the service
        // sends: the empty text differs from every origin.
        let to = (
            uri.scheme_str().unwrap_or_default(),
            uri.authority().map_or("", http::uri::Authority::as_str),
        );
        // The URL or a fallback URL: a delivery moves to those after
        // failures, and each passed the same checks when it compiled.
        match self.compiled.builds_url(uri) {
            Ok(true) => {}
            Ok(false) => {
                // Neither the path nor the query is named: either may hold
                // a secret.
                return Err(in_service(Error::new(
                    ErrorKind::ServiceChanged,
                    format!(
                        "the request goes to a path or query under `{}://{}` \
                         that the service does not build; dispatch again",
                        to.0, to.1
                    ),
                )));
            }
            Err((scheme, authority)) => {
                // No host: nothing to check against the address policy (the
                // request is refused below all the same). An IPv6 literal
                // loses its brackets; any other host is as written.
                let host = uri.host().unwrap_or_default();
                let host = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host);
                if let Ok(ip) = host.parse() {
                    addresses.check(ip).map_err(in_service)?;
                }
                let also = if self.compiled.fallbacks().is_empty() {
                    ""
                } else {
                    " (or its fallback URLs' origins)"
                };
                return Err(in_service(Error::new(
                    ErrorKind::ServiceChanged,
                    format!(
                        "the request goes to `{}://{}`, but the service sends to \
                         `{scheme}://{authority}`{also}; dispatch again",
                        to.0, to.1
                    ),
                )));
            }
        }
        if !request.body().is_empty() && self.compiled.never_has_a_body() {
            // A `GET` whose pairs go in its query, or a service with no
            // body: receivers and proxies disagree on whether a `GET` has
            // a body, so one sent with it frames another message for some.
            return Err(in_service(Error::new(
                ErrorKind::ServiceChanged,
                format!(
                    "the request has a body ({} bytes), but the service sends none; \
                     dispatch again",
                    request.body().len()
                ),
            )));
        }
        if request.method() != self.method() {
            return Err(in_service(Error::new(
                ErrorKind::ServiceChanged,
                format!(
                    "the request's method is `{}`, but the service sends `{}`; dispatch again",
                    request.method(),
                    self.method()
                ),
            )));
        }
        Ok(())
    }

    /// Marks the service's secret headers in `request` as sensitive, as
    /// building it does: its `auth` header and the `headers` that are
    /// secrets by name or by choice. A stored request's own marks are not
    /// trusted to say which these are.
    fn mark_secret_headers(&self, request: &mut Request) {
        let headers = request.headers_mut();
        let secret_names = self
            .compiled
            .static_headers
            .map()
            .iter()
            .filter(|(_, value)| value.is_sensitive())
            .map(|(name, _)| name)
            .chain(
                self.compiled
                    .dynamic_headers
                    .iter()
                    .filter(|header| header.secret)
                    .map(|header| &header.name),
            );
        for name in secret_names {
            if let header::Entry::Occupied(mut entry) = headers.entry(name) {
                for value in entry.iter_mut() {
                    value.set_sensitive(true);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::service::tests::config;

    /// A request to the service's origin is signed only at a URL the
    /// service builds: its text before the first placeholder, or the whole
    /// of a URL that does not depend on the call.
    #[test]
    fn only_urls_the_service_builds_are_signed() {
        let at = "2024-12-02T21:00:00Z".parse().unwrap();
        for (url, built, other) in [
            (
                "https://crm.example.com/calls/#ani#?x=1",
                "https://crm.example.com/calls/5?x=1",
                "https://crm.example.com/admin/5?x=1",
            ),
            (
                "https://crm.example.com/calls?#dnis#",
                "https://crm.example.com/calls",
                "https://crm.example.com/calls-admin",
            ),
            (
                "https://crm.example.com/calls?src=pbx",
                "https://crm.example.com/calls?src=pbx",
                "https://crm.example.com/calls?src=pbx&all=1",
            ),
        ] {
            let service = config(serde_json::json!({"url": url}))
                .compile(Catalog::standard())
                .unwrap();
            for (uri, ok) in [(built, true), (other, false)] {
                let mut request = http::Request::new(Vec::new());
                *request.method_mut() = http::Method::POST;
                *request.uri_mut() = uri.parse().unwrap();
                let signed = service.sign(&mut request, "d-1", at);
                assert_eq!(
                    signed.as_ref().map_err(Error::kind).err(),
                    (!ok).then_some(ErrorKind::ServiceChanged),
                    "{url}: {uri}"
                );
                if let Err(e) = signed {
                    assert!(!e.to_string().contains("admin"), "{e}");
                    assert!(!e.to_string().contains("all=1"), "{e}");
                }
            }
        }
    }
}
