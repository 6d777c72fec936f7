//! Requests receivers read differently: headers, documents and URLs that two parsers would read two ways are refused.
//!
//! Part of `tests/hardening.rs` (issue 19, second hardening round); the
//! helpers `service`, `config`, `load` and `call` come from there.

#[allow(unused_imports)]
use super::*;

/// The service's first problem, as a load reports it (one, or the first of
/// several).
fn first_problem(err: &callhook::Error) -> &callhook::Error {
    err.related().first().unwrap_or(err)
}

/// Renders a standalone template for a call with `ani`.
fn render(template: &Template, ani: &str) -> Result<String, callhook::Error> {
    template.render_string(&CallData::new().with("ani", ani))
}

// ---------------------------------------------------------------------------
// Headers

/// A header that is not a list may be given once: receivers that keep the
/// first `Content-Type` and those that keep the last would read two bodies.
/// Guards every way a second one can come: two static values, a static and
/// a templated one, names in other cases, and a header a SOAP body sets.
#[test]
fn headers_that_are_not_lists_are_given_once() {
    for (first, second) in [
        ("Content-Type", "Content-Type"),
        ("content-type", "Content-Type"),
        ("Authorization", "authorization"),
        ("User-Agent", "User-Agent"),
        ("SOAPAction", "soapaction"),
        ("Date", "Date"),
        ("X-Tenant", "x-tenant"),
    ] {
        for value in ["text/plain", "#ani#"] {
            let err = load(json!({"headers": [
                {"key": first, "value": "text/plain"},
                {"key": second, "value": value},
            ]}))
            .unwrap_err();
            let problem = first_problem(&err);
            assert_eq!(problem.kind(), ErrorKind::InvalidHeader, "{second}: {err}");
            assert_eq!(problem.field(), Some("headers.1.key"), "{second}: {err}");
            assert!(problem.message().contains("once"), "{second}: {err}");
        }
    }
    // List-valued fields are one list however many lines carry them.
    load(json!({"headers": [
        {"key": "Accept", "value": "application/json"},
        {"key": "Accept", "value": "text/plain"},
        {"key": "Cache-Control", "value": "no-cache"},
        {"key": "Cache-Control", "value": "no-store"},
    ]}))
    .unwrap();
    // A SOAP 1.1 body sets `SOAPAction`; a header would be a second one.
    for value in ["urn:other", "#ani#"] {
        let err = load(json!({
            "body": {"kind": "soap", "namespace": "urn:crm", "operation": "Log",
                     "action": "urn:crm/Log", "parameters": []},
            "headers": [{"key": "SOAPAction", "value": value}],
        }))
        .unwrap_err();
        assert_eq!(first_problem(&err).field(), Some("headers.0.key"), "{err}");
    }
}

/// callhook never compresses a body, so a `Content-Encoding` would make the
/// receiver decode bytes that are not encoded; refused by every route.
#[test]
fn content_encoding_cannot_be_set() {
    for value in ["gzip", "identity", "#ani#"] {
        let err =
            load(json!({"headers": [{"key": "Content-Encoding", "value": value}]})).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidHeader, "{value}: {err}");
        assert_eq!(err.field(), Some("headers.0.key"), "{value}: {err}");
    }
    let err = load(json!({
        "auth": {"kind": "api_key", "header": "Content-Encoding", "key": "gzip"},
    }))
    .unwrap_err();
    assert_eq!(err.field(), Some("auth.header"), "{err}");
}

/// Headers for hops and proxies (RFC 9110 and 9112) mean something to the
/// intermediaries between callhook and the receiver, never to the receiver:
/// the whole class is refused, by `headers` and by `auth` alike.
#[test]
fn hop_and_proxy_headers_are_refused_by_every_route() {
    for header in [
        "Proxy-Authenticate",
        "Proxy-Authentication-Info",
        "Proxy-Authorization",
        "Proxy-Connection",
        "Connection",
        "Keep-Alive",
        "TE",
        "Trailer",
        "Upgrade",
        "Transfer-Encoding",
        "Max-Forwards",
        "Via",
    ] {
        let err = load(json!({"headers": [{"key": header, "value": "x"}]})).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidHeader, "{header}: {err}");
        assert_eq!(err.field(), Some("headers.0.key"), "{header}: {err}");
        let err =
            load(json!({"auth": {"kind": "api_key", "header": header, "key": "k"}})).unwrap_err();
        assert_eq!(err.field(), Some("auth.header"), "{header}: {err}");
    }
}

/// A placeholder in a header name would be sent as written (`X-#ani#` is a
/// valid name): refused with a message that says why, in either syntax and
/// by either route.
#[test]
fn placeholders_in_header_names_are_refused() {
    for (syntax, name) in [
        ("hash", "X-#ani#"),
        ("hash", "X-Caller-#ani#"),
        ("brackets", "X-[[ani]]"),
        ("brackets", "X-#ani#"),
    ] {
        let err = load(json!({
            "syntax": syntax,
            "body": {"kind": "none"},
            "headers": [{"key": name, "value": "x"}],
        }))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidHeader, "{name}: {err}");
        assert_eq!(err.field(), Some("headers.0.key"), "{name}: {err}");
        assert!(
            err.message()
                .contains("placeholders are not supported in header names"),
            "{name}: {err}"
        );
        let err = load(json!({
            "syntax": syntax,
            "body": {"kind": "none"},
            "auth": {"kind": "api_key", "header": name, "key": "k"},
        }))
        .unwrap_err();
        assert_eq!(err.field(), Some("auth.header"), "{name}: {err}");
        assert!(
            err.message()
                .contains("placeholders are not supported in header names"),
            "{name}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------
// JSON

/// Receivers disagree on which of two equal keys wins, so a JSON template
/// may not repeat a key in one object, however the key is spelled; the
/// error points at the second. Keys holding a placeholder are known only
/// per call and are not compared.
#[test]
fn duplicate_json_keys_are_refused() {
    let json = |source: &str| Template::compile(source, Context::Json, &Options::default());
    for (source, line, column) in [
        ("{\"a\": 1, \"a\": 2}", 1, 10),
        ("{\"a\": 1,\n \"b\": {\"c\": 1, \"c\": \"#ani#\"}}", 2, 16),
        ("[{\"a\": 1}, {\"x\": 1, \"\\u0078\": 2}]", 1, 21),
        ("{\"k #ani#\": 1, \"k\": 1, \"k\": 1}", 1, 24),
    ] {
        let err = json(source).unwrap_err();
        let err = first_problem(&err);
        assert_eq!(err.kind(), ErrorKind::TemplateSyntax, "{source}: {err}");
        assert!(err.message().contains("duplicate key"), "{source}: {err}");
        let position = err.position().unwrap();
        assert_eq!((position.line, position.column), (line, column), "{source}");
    }
    // Equal keys in different objects are no duplicates, nor are keys with
    // placeholders, even where the text around is alike.
    json(r##"{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}], "#dnis#": 1, "#uuid#": 2, "x#dnis#": 3, "x#uuid#": 4}"##)
        .unwrap();
    // In a service, a template and pairs alike.
    let err =
        load(json!({"body": {"kind": "json", "template": "{\"a\": 1, \"a\": 2}"}})).unwrap_err();
    assert_eq!(err.field(), Some("body.template"), "{err}");
    let err = load(json!({"body": {"kind": "json", "pairs": [
        {"key": "a", "value": "1"},
        {"key": "b", "value": "#ani#"},
        {"key": "a", "value": "#ani#"},
    ]}}))
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig, "{err}");
    assert_eq!(err.field(), Some("body.pairs.2.key"), "{err}");
    assert!(err.message().contains("duplicate key"), "{err}");
}

// ---------------------------------------------------------------------------
// XML

/// callhook writes XML 1.0, whose rules its escaping follows; a template
/// declaring another version would be read by other rules (1.1 reads
/// U+0085 as a line end).
#[test]
fn xml_templates_must_be_xml_1_0() {
    for declaration in [
        r#"<?xml version="1.1"?>"#,
        r#"<?xml version='1.1' encoding='UTF-8'?>"#,
        r#"<?xml version="2.0"?>"#,
    ] {
        let err = xml(&format!("{declaration}<a>#ani#</a>")).unwrap_err();
        assert!(err.to_string().contains("1.0"), "{declaration}: {err}");
    }
    xml(r#"<?xml version="1.0"?><a>#ani#</a>"#).unwrap();
    xml(r#"<?xml version='1.0' encoding='utf-8'?><a/>"#).unwrap();
    let err = load(json!({"body": {"kind": "xml", "template": "<?xml version=\"1.1\"?><a/>"}}))
        .unwrap_err();
    assert_eq!(err.field(), Some("body.template"), "{err}");
}

/// C1 controls (U+0080 to U+009F) are discouraged in XML 1.0 and read as
/// line ends or refused by others: a value's become character references
/// in every XML place (text, attribute, CDATA, pairs, SOAP parameters), and
/// a template may not hold them raw, nor the characters XML 1.0 forbids
/// (which templates held raw before, producing documents parsers refuse).
#[test]
fn c1_controls_never_reach_xml_raw() {
    let value = "a\u{80}b\u{85}c\u{9f}d\u{a0}é";
    let templates = [
        (xml("<a>#ani#</a>").unwrap(), "<a>a&#128;b&#133;c&#159;d\u{a0}é</a>"),
        (
            xml("<a b='#ani#'/>").unwrap(),
            "<a b='a&#128;b&#133;c&#159;d\u{a0}é'/>",
        ),
        (
            xml("<a><![CDATA[#ani#]]></a>").unwrap(),
            "<a><![CDATA[]]><![CDATA[a]]>&#128;<![CDATA[b]]>&#133;<![CDATA[c]]>&#159;<![CDATA[d\u{a0}é]]><![CDATA[]]></a>",
        ),
        (
            Template::compile("#ani#", Context::XmlText, &Options::default()).unwrap(),
            "a&#128;b&#133;c&#159;d\u{a0}é",
        ),
        (
            Template::compile("#ani#", Context::XmlAttribute, &Options::default()).unwrap(),
            "a&#128;b&#133;c&#159;d\u{a0}é",
        ),
    ];
    for (template, expected) in templates {
        assert_eq!(render(&template, value).unwrap(), expected);
    }
    for body in [
        json!({"kind": "xml", "pairs": [{"key": "ani", "value": "#ani#"}]}),
        json!({"kind": "soap", "namespace": "urn:crm", "operation": "Log",
               "action": "urn:crm/Log", "parameters": [{"key": "ani", "value": "#ani#"}]}),
    ] {
        let registry = load(json!({ "body": body })).unwrap();
        let mut c1 = call();
        c1.data = CallData::new().with("ani", value);
        let outgoing = registry
            .dispatch(Event::CallHangup, &c1, t("2024-12-02T21:00:00Z"))
            .requests
            .remove(0);
        let body = String::from_utf8(outgoing.request.body().clone()).unwrap();
        assert!(!body.contains(['\u{80}', '\u{85}', '\u{9f}']), "{body}");
        assert!(body.contains("a&#128;b&#133;c&#159;d\u{a0}é"), "{body}");
    }
    // Raw in a template's text, they are refused where they stand.
    for source in [
        "<a>x\u{85}</a>",
        "<a b='\u{9f}'/>",
        "<a><![CDATA[\u{80}]]></a>",
    ] {
        let err = xml(source).unwrap_err();
        assert!(err.to_string().contains("U+00"), "{source:?}: {err}");
    }
    // So are the characters XML 1.0 forbids, which no reference can write.
    for source in ["<a>x\u{1}</a>", "<a b='\u{1f}'/>", "<a>\u{FFFE}</a>"] {
        let err = xml(source).unwrap_err();
        assert!(
            err.to_string().contains("cannot stand"),
            "{source:?}: {err}"
        );
    }
    // A pair's text is escaped like a value.
    load(json!({"body": {"kind": "xml", "pairs": [{"key": "a", "value": "x\u{85}"}]}})).unwrap();
}

// ---------------------------------------------------------------------------
// URLs

/// The dot-segment rule belongs to the engine: a standalone URL template
/// (the public API) refuses a rendered `.` or `..` segment as a service's
/// URL does, however it forms.
#[test]
fn standalone_url_templates_refuse_dot_segments() {
    let url = |source: &str| Template::compile(source, Context::Url, &Options::default()).unwrap();
    for (source, ani) in [
        ("https://crm.example.com/v1/..#ani#/admin", ""),
        ("https://crm.example.com/v1/.#ani#/admin", ""),
        ("https://crm.example.com/v1/#ani#./admin", ""),
        ("https://crm.example.com/v1/%2e#ani#/admin?x=1", ""),
        ("https://crm.example.com/v1/%2E#ani#%2e/admin", ""),
        ("https://crm.example.com/v1/#ani#", ".."),
    ] {
        let err = render(&url(source), ani).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::UnsafeValue,
            "{source} {ani:?}: {err}"
        );
    }
    // Dots elsewhere are no segments.
    assert_eq!(
        render(&url("https://crm.example.com/v1/..#ani#?q=.."), "x").unwrap(),
        "https://crm.example.com/v1/..x?q=.."
    );
}

// ---------------------------------------------------------------------------
// SOAP

/// A SOAP action is a URI; a `\` or `"` in it would be read differently by
/// an RFC 9110 parser of the quoted `SOAPAction` header (1.1) and of the
/// `action` parameter of the `Content-Type` (1.2): refused at load.
#[test]
fn soap_actions_are_uris() {
    for version in ["1.1", "1.2"] {
        for action in ["urn:crm\\Log", "urn:crm\"Log", "urn:crm Log", "urn:crm/Lög"] {
            let err = load(json!({"body": {
                "kind": "soap", "version": version, "namespace": "urn:crm",
                "operation": "Log", "action": action, "parameters": [],
            }}))
            .unwrap_err();
            assert_eq!(
                err.field(),
                Some("body.action"),
                "{version} {action}: {err}"
            );
        }
        for action in ["urn:crm/Log", "http://tempuri.org/ICrm/Log", ""] {
            load(json!({"body": {
                "kind": "soap", "version": version, "namespace": "urn:crm",
                "operation": "Log", "action": action, "parameters": [],
            }}))
            .unwrap();
        }
    }
}

/// A SOAP namespace is a URI (an envelope whose namespace is not is
/// refused by libxml2 and others): anything else is refused at load.
#[test]
fn soap_namespaces_are_uris() {
    for namespace in [
        "urn:a<b>'c\"d",
        "urn:a b",
        "",
        "crm",
        "urn:a%zz",
        "urn:é",
        "urn:a\\b",
    ] {
        let err = load(json!({"body": {
            "kind": "soap", "namespace": namespace, "operation": "Log",
            "action": "urn:crm/Log", "parameters": [],
        }}))
        .unwrap_err();
        assert_eq!(err.field(), Some("body.namespace"), "{namespace:?}: {err}");
    }
    for namespace in [
        "urn:crm",
        "urn:crm.example.com:calls&co",
        "http://tempuri.org/",
        "https://crm.example.com/ns/2024?v=1#x",
        "urn:a%20b",
    ] {
        load(json!({"body": {
            "kind": "soap", "namespace": namespace, "operation": "Log",
            "action": "urn:crm/Log", "parameters": [],
        }}))
        .unwrap();
    }
}
