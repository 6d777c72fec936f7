//! Stored or host-given data is checked as if it were being built now before it is signed.
//!
//! Part of `tests/hardening.rs` (issue 19, second hardening round); the
//! helpers `service`, `config`, `load` and `call` come from there.
//!
//! Every path that turns stored or host-given data into a signed request
//! (`Envelope::to_outgoing` and `into_outgoing`, then `Registry::sign`;
//! `Registry::sign` of an `Outgoing` the host changed; `Service::sign` of a
//! request the host changed) refuses what callhook would never have built:
//! an internal address, another origin, a reserved, hop-by-hop or framing
//! header, another method, a disabled or unknown service.

use super::*;
use callhook::Request;

const SIGNING_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TOKEN: &str = "t0k3n-crm-S3CRET";

/// A registry with one signing service (bearer auth, a JSON body).
fn signing_registry() -> Registry {
    load(json!({
        "auth": {"kind": "bearer", "token": TOKEN},
        "signing": {"kind": "standard_webhooks", "secrets": [SIGNING_SECRET]},
    }))
    .unwrap()
}

/// One way stored or host-given data can differ from what callhook builds,
/// and the error kind every path must refuse it with.
struct Tampering {
    what: &'static str,
    kind: ErrorKind,
    /// Whether `Envelope::to_outgoing` can tell on its own, with no
    /// registry (the URL's form and the headers); the rest needs the
    /// service, and `Registry::sign` refuses it.
    alone: bool,
    edit: Edit,
}

enum Edit {
    Url(&'static str),
    Method(&'static str),
    /// A header added, as (name, value).
    Header(&'static str, &'static str),
    /// The `content-length` header set to this value.
    Length(&'static str),
}

fn tamperings() -> Vec<Tampering> {
    let url = |what, kind, alone, url| Tampering {
        what,
        kind,
        alone,
        edit: Edit::Url(url),
    };
    let mut all = vec![
        // Internal addresses, in several spellings: refused by the
        // registry's address policy.
        url(
            "metadata address",
            ErrorKind::InvalidUrl,
            false,
            "http://169.254.169.254/latest/meta-data/",
        ),
        url(
            "loopback with a port",
            ErrorKind::InvalidUrl,
            false,
            "http://127.0.0.1:8080/calls",
        ),
        url(
            "mapped IPv6 metadata address",
            ErrorKind::InvalidUrl,
            false,
            "https://[::ffff:a9fe:a9fe]/calls",
        ),
        // Another origin, one part at a time: the service is elsewhere.
        url(
            "another scheme",
            ErrorKind::ServiceChanged,
            false,
            "http://crm.example.com/calls",
        ),
        url(
            "another host",
            ErrorKind::ServiceChanged,
            false,
            "https://evil.example.net/calls",
        ),
        url(
            "another port",
            ErrorKind::ServiceChanged,
            false,
            "https://crm.example.com:8443/calls",
        ),
        url(
            "the host in another case",
            ErrorKind::ServiceChanged,
            false,
            "https://CRM.example.com/calls",
        ),
        // URLs callhook never writes, whatever the service.
        url(
            "user information",
            ErrorKind::InvalidUrl,
            true,
            "https://admin@crm.example.com/calls",
        ),
        url("no scheme or host", ErrorKind::InvalidUrl, true, "/calls"),
        url(
            "another scheme than http(s)",
            ErrorKind::InvalidUrl,
            true,
            "ftp://crm.example.com/calls",
        ),
        url(
            "a dot segment",
            ErrorKind::UnsafeValue,
            true,
            "https://crm.example.com/calls/../admin",
        ),
        Tampering {
            what: "another method",
            kind: ErrorKind::ServiceChanged,
            alone: false,
            edit: Edit::Method("DELETE"),
        },
        Tampering {
            what: "a content-length that is not the body's",
            kind: ErrorKind::InvalidHeader,
            alone: true,
            edit: Edit::Length("1"),
        },
        Tampering {
            what: "a content-length that is not a number",
            kind: ErrorKind::InvalidHeader,
            alone: true,
            edit: Edit::Length("14, 14"),
        },
    ];
    // Every header that frames or routes the message, or belongs to one
    // hop: no route of a service can set one, so no stored request may
    // hold one either.
    for (name, value) in [
        ("transfer-encoding", "chunked"),
        ("host", "evil.example.net"),
        ("connection", "close"),
        ("keep-alive", "timeout=5"),
        ("upgrade", "websocket"),
        ("te", "trailers"),
        ("trailer", "x-late"),
        ("proxy-connection", "keep-alive"),
        // (A stored `proxy-authorization` is a credential: dropped on
        // load, with `authorization`, and so never sent.)
        ("proxy-authenticate", "Basic"),
        ("expect", "100-continue"),
        // A second length, equal or not, is a second framing.
        ("content-length", "14"),
    ] {
        all.push(Tampering {
            what: name,
            kind: ErrorKind::InvalidHeader,
            alone: true,
            edit: Edit::Header(name, value),
        });
    }
    all
}

/// The honest envelope with the tampering applied in storage.
fn tampered_envelope(registry: &Registry, edit: &Edit) -> Envelope {
    let mut value = stored(registry);
    let request = &mut value["request"];
    match edit {
        Edit::Url(url) => request["url"] = json!(url),
        Edit::Method(method) => request["method"] = json!(method),
        Edit::Header(name, value) => request["headers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": name, "value": value})),
        Edit::Length(length) => {
            for header in request["headers"].as_array_mut().unwrap() {
                if header["name"] == "content-length" {
                    header["value"] = json!(length);
                }
            }
        }
    }
    envelope(value)
}

/// A request built by callhook with the tampering applied by the host.
fn tamper_request(request: &mut Request, edit: &Edit) {
    match edit {
        Edit::Url(url) => match url.parse() {
            Ok(uri) => *request.uri_mut() = uri,
            Err(_) => unreachable!("every tampered URL parses as a URI: {url}"),
        },
        Edit::Method(method) => *request.method_mut() = method.parse().unwrap(),
        Edit::Header(name, value) => {
            request.headers_mut().append(
                http::HeaderName::from_static(name),
                http::HeaderValue::from_static(value),
            );
        }
        Edit::Length(length) => {
            request.headers_mut().insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from_static(length),
            );
        }
    }
}

/// The honest paths still work: an envelope round-trips and signs, by
/// `to_outgoing`, `into_outgoing` and `Service::sign`, and the signature
/// verifies; the tests below differ from it by one edit each.
#[test]
fn honest_stored_requests_still_sign() {
    let registry = signing_registry();
    let key = callhook::signing::SigningKey::new(SIGNING_SECRET).unwrap();
    let envelope = envelope(stored(&registry));
    let now = t("2024-12-02T21:05:00Z");
    for mut outgoing in [
        envelope.to_outgoing().unwrap(),
        envelope.clone().into_outgoing().unwrap(),
        dispatched(&registry),
    ] {
        registry.sign(&mut outgoing, now).unwrap();
        let request = &outgoing.request;
        verify_standard(
            std::slice::from_ref(&key),
            request.headers(),
            request.body(),
            now,
            TOLERANCE,
        )
        .unwrap();
    }
    let service = registry.service(SERVICE).unwrap();
    let mut request = dispatched(&registry).request;
    service.sign(&mut request, "d-1", now).unwrap();
    verify_standard(&[key], request.headers(), request.body(), now, TOLERANCE).unwrap();
}

/// A service the configuration allows on an internal address signs its
/// stored requests as before: the registry's own address policy decides,
/// not the strict default.
#[test]
fn allowed_internal_addresses_still_sign() {
    let mut config = config(service(json!({
        "url": "http://127.0.0.1:8080/calls",
        "signing": {"kind": "standard_webhooks", "secrets": [SIGNING_SECRET]},
    })));
    config.allowed_addresses = vec!["127.0.0.1".into()];
    let registry = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
    let mut outgoing = envelope(stored(&registry)).to_outgoing().unwrap();
    registry.sign(&mut outgoing, at()).unwrap();
    assert!(outgoing.request.headers().contains_key("webhook-signature"));
    let mut request = dispatched(&registry).request;
    registry
        .service(SERVICE)
        .unwrap()
        .sign(&mut request, "d-1", at())
        .unwrap();
    // Another internal address is still refused, as an address.
    let mut other = stored(&registry);
    other["request"]["url"] = json!("http://127.0.0.2:8080/calls");
    let mut outgoing = envelope(other).to_outgoing().unwrap();
    let err = registry.sign(&mut outgoing, at()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidUrl, "{err}");
}

/// Guards `Envelope::to_outgoing`, `Envelope::into_outgoing` and
/// `Registry::sign` of what they give: an envelope edited in storage is
/// refused, by the conversion where it can tell alone and by the signing
/// otherwise, with the error kind of what is wrong; nothing is signed.
#[test]
fn edited_envelopes_are_refused_not_signed() {
    let registry = signing_registry();
    for tampering in tamperings() {
        let what = tampering.what;
        let envelope = tampered_envelope(&registry, &tampering.edit);
        for converted in [envelope.to_outgoing(), envelope.clone().into_outgoing()] {
            let err = match converted {
                Ok(mut outgoing) => {
                    assert!(!tampering.alone, "{what}: converted");
                    let err = registry.sign(&mut outgoing, at()).unwrap_err();
                    assert!(
                        !outgoing.request.headers().contains_key("webhook-signature"),
                        "{what}: signed"
                    );
                    err
                }
                Err(err) => {
                    assert!(tampering.alone, "{what}: not converted: {err}");
                    err
                }
            };
            assert_eq!(err.kind(), tampering.kind, "{what}: {err}");
            // The message names no secret and no header value.
            assert!(!err.to_string().contains(TOKEN), "{what}: {err}");
        }
    }
}

/// Guards `Registry::sign` on its own: an `Outgoing` the host changed
/// after dispatch (or built by hand) is refused as an edited envelope is.
#[test]
fn changed_outgoing_requests_are_refused_by_the_registry() {
    let registry = signing_registry();
    for tampering in tamperings() {
        let mut outgoing = dispatched(&registry);
        tamper_request(&mut outgoing.request, &tampering.edit);
        let err = registry.sign(&mut outgoing, at()).unwrap_err();
        assert_eq!(err.kind(), tampering.kind, "{}: {err}", tampering.what);
        assert!(!outgoing.request.headers().contains_key("webhook-signature"));
    }
}

/// Guards `Service::sign`, which has no registry: a request the service
/// would not build is refused with the same kinds (internal addresses by
/// the strict policy, since the service's own origin is the only internal
/// one it was allowed).
#[test]
fn changed_requests_are_refused_by_the_service() {
    let registry = signing_registry();
    let service = registry.service(SERVICE).unwrap();
    for tampering in tamperings() {
        let mut request = dispatched(&registry).request;
        tamper_request(&mut request, &tampering.edit);
        let err = service.sign(&mut request, "d-1", at()).unwrap_err();
        assert_eq!(err.kind(), tampering.kind, "{}: {err}", tampering.what);
        assert_eq!(err.service(), Some(SERVICE), "{}", tampering.what);
        assert!(!request.headers().contains_key("webhook-signature"));
    }
}

/// Guards the service-state checks on every path: a stored request of a
/// disabled service, or of one that no longer exists, is not signed.
#[test]
fn disabled_and_unknown_services_sign_nothing() {
    let mut registry = signing_registry();
    let envelope = envelope(stored(&registry));
    registry.set_service_enabled(SERVICE, false).unwrap();
    let mut outgoing = envelope.to_outgoing().unwrap();
    let err = registry.sign(&mut outgoing, at()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServiceDisabled, "{err}");
    let service = registry.service(SERVICE).unwrap();
    let err = service
        .sign(&mut outgoing.request, "d-1", at())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServiceDisabled, "{err}");
    assert!(!outgoing.request.headers().contains_key("webhook-signature"));

    registry.set_service_enabled(SERVICE, true).unwrap();
    let mut unknown = serde_json::to_value(&envelope).unwrap();
    unknown["service"] = json!("5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a6c");
    let mut outgoing = self::envelope(unknown).to_outgoing().unwrap();
    let err = registry.sign(&mut outgoing, at()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Registry, "{err}");
}

/// Guards the error a host acts on: when the service moved to another
/// origin after the envelope was stored, signing says so with its own
/// kind, and dispatching again builds the request for the new origin.
#[test]
fn a_service_that_moved_is_told_apart_so_the_host_dispatches_again() {
    let mut registry = signing_registry();
    let envelope = envelope(stored(&registry));
    let mut moved = registry.service(SERVICE).unwrap().config();
    moved.url = "https://crm2.example.com/calls".into();
    registry.update_service(moved).unwrap();
    let mut outgoing = envelope.to_outgoing().unwrap();
    let err = registry.sign(&mut outgoing, at()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServiceChanged, "{err}");
    assert!(err.message().contains("crm2.example.com"), "{err}");
    let mut again = dispatched(&registry);
    registry.sign(&mut again, at()).unwrap();
    assert_eq!(again.request.uri(), "https://crm2.example.com/calls");
}

/// Guards `sensitive` read from storage: which headers are secrets is
/// decided as when building (the secret-name rule, and the service's own
/// secret headers once it signs), never by a stored `false`, so an
/// envelope stored with `"sensitive": false` shows no credential; a stored
/// `true` still hides what it marks.
#[test]
fn stored_sensitive_flags_cannot_show_a_secret() {
    let registry = load(json!({
        "auth": {"kind": "api_key", "header": "X-Tenant", "key": TOKEN},
        "headers": [
            {"key": "X-Session-Id", "value": "SESSION-VALUE"},
            {"key": "X-Caller", "value": "CALLER-#ani#", "secret": true},
        ],
        "signing": {"kind": "standard_webhooks", "secrets": [SIGNING_SECRET]},
    }))
    .unwrap();
    // As stored by callhook: every secret hidden before signing too.
    let honest = envelope(stored(&registry)).to_outgoing().unwrap();
    let shown = honest.preview(false).to_http();
    for secret in [TOKEN, "SESSION-VALUE", "CALLER-555"] {
        assert!(!shown.contains(secret), "{shown}");
    }

    let mut value = stored(&registry);
    let headers = value["request"]["headers"].as_array_mut().unwrap();
    // An `Authorization` header as an older store or a hand edit left it.
    headers.push(json!({"name": "authorization", "value": format!("Bearer {TOKEN}")}));
    for header in headers.iter_mut() {
        header["sensitive"] = json!(false);
    }
    let envelope = envelope(value);
    // The stored credential is dropped on load: signing adds the current
    // one, never beside a stale one.
    assert!(envelope
        .request
        .headers
        .iter()
        .all(|h| h.name != "authorization"));
    let outgoing = envelope.to_outgoing().unwrap();
    // By the rule alone: no service is needed to know these are secrets.
    let shown = outgoing.preview(false).to_http();
    assert!(!shown.contains(&format!("Bearer {TOKEN}")), "{shown}");
    assert!(!shown.contains("SESSION-VALUE"), "{shown}");
    assert!(!outgoing.request.headers().contains_key("authorization"));
    assert!(outgoing.request.headers()["x-session-id"].is_sensitive());
    // The service's own secret headers, named like nothing secret, are
    // marked once the service signs the request.
    for mut signed in [envelope.to_outgoing().unwrap(), outgoing] {
        registry.sign(&mut signed, at()).unwrap();
        for name in ["x-tenant", "x-caller", "x-session-id"] {
            assert!(signed.request.headers()[name].is_sensitive(), "{name}");
        }
        let shown = signed.preview(false).to_http();
        assert!(!shown.contains(TOKEN), "{shown}");
        assert!(!shown.contains("CALLER-555"), "{shown}");
        // Headers that are not secrets still show.
        assert!(shown.contains("user-agent: callhook/"), "{shown}");
    }
}

/// Guards the origin check for every way a service writes its URL (static,
/// a placeholder in the path or the query, a `GET`'s pairs, a port, an
/// allowed IP address, the other placeholder syntax): what dispatch builds
/// signs on every path, stored or not, and the same request sent to
/// another host is refused.
#[test]
fn every_kind_of_url_signs_what_it_builds_and_nothing_else() {
    let form = json!({"kind": "form", "pairs": [{"key": "ani", "value": "#ani#"}]});
    let services = [
        json!({}),
        json!({"url": "https://crm.example.com/agents/#ani#/calls"}),
        json!({"url": "https://crm.example.com/calls?ani=#ani#&src=pbx"}),
        json!({"url": "https://crm.example.com/calls?src=pbx", "method": "GET", "body": form}),
        json!({"url": "https://crm.example.com:8443/calls/#ani#"}),
        json!({"url": "http://[fd00::1]:8080/calls/#ani#"}),
        json!({
            "url": "https://crm.example.com/[[ani]]", "syntax": "brackets",
            "body": {"kind": "json", "template": "{\"ani\": \"[[ani]]\"}"},
        }),
        json!({"url": "https://crm.example.com/calls", "method": "PUT"}),
    ];
    for fields in services {
        let mut fields = fields;
        fields["signing"] = json!({"kind": "standard_webhooks", "secrets": [SIGNING_SECRET]});
        let mut config = config(service(fields.clone()));
        config.allowed_addresses = vec!["fd00::/8".into()];
        let registry = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
        let envelope = envelope(stored(&registry));
        for mut outgoing in [
            dispatched(&registry),
            envelope.to_outgoing().unwrap(),
            envelope.clone().into_outgoing().unwrap(),
        ] {
            let mut request = outgoing.request.clone();
            registry.sign(&mut outgoing, at()).unwrap();
            let service = registry.service(SERVICE).unwrap();
            service.sign(&mut request, "d-1", at()).unwrap();

            let mut elsewhere = dispatched(&registry);
            let uri = elsewhere.request.uri().to_string();
            let authority = elsewhere.request.uri().authority().unwrap().to_string();
            let moved = uri.replacen(&authority, "evil.example.net", 1);
            *elsewhere.request.uri_mut() = moved.parse().unwrap();
            let mut request = elsewhere.request.clone();
            let err = registry.sign(&mut elsewhere, at()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ServiceChanged, "{fields}: {err}");
            let err = service.sign(&mut request, "d-1", at()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ServiceChanged, "{fields}: {err}");
        }
    }
}
