//! Property tests of the placeholder options of format 3 (phone formats,
//! time zones, `upper`, `lower`, `truncate:N`) through the public API: for
//! any call value, what a service renders keeps the structure of its
//! template (escaping applies last, after every option), and the text
//! functions give exactly what they say.

use std::sync::OnceLock;

use callhook::{CallData, Catalog, Service, ServiceConfig};
use proptest::prelude::*;

/// Fragments that mean something in one context or another, and pieces
/// of phone numbers.
const SPECIALS: &[&str] = &[
    "\"",
    "\\",
    "'",
    "<",
    ">",
    "&",
    "]]>",
    "<![CDATA[",
    "=",
    "+",
    "%",
    "%2F",
    "#",
    "?",
    "/",
    ".",
    "..",
    " ",
    "\t",
    "\u{1}",
    "\u{1f}",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{2028}",
    "\u{fffe}",
    "\u{10ffff}",
    "ß",
    "ŉ",
    "İ",
    "é",
    "日本",
    "😀",
    "#agent_id#",
    "[[ani]]",
    "+61",
    "0400",
    " 123 ",
    "456",
    "+1 212",
    "555-4567",
    "(02)",
    "anonymous",
    "tel:",
    ";ext=",
    "0",
];

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => prop::sample::select(SPECIALS).prop_map(str::to_owned),
        3 => any::<char>().prop_map(String::from),
        2 => "[0-9 +()-]{1,6}",
    ]
}

/// Arbitrary Unicode, biased towards what needs escaping and what reads
/// as a phone number, with no CR, LF or NUL (which a header refuses).
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        1 => Just("0400 123 456".to_owned()),
        20 => prop::collection::vec(piece(), 1..10).prop_map(|p| p.concat()),
    ]
    .prop_map(|v| v.replace(['\r', '\n', '\0'], "_"))
}

struct Services {
    json: Service,
    xml: Service,
    form: Service,
}

fn service(n: u8, json: serde_json::Value) -> Service {
    let mut config = serde_json::json!({
        "id": format!("5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5b{n:02x}"),
        "name": "option property test",
        "method": "POST",
        "url": "https://crm.example.com:8443/calls?n=#ani|phone:e164#&a=#agent_id|upper|truncate:4#",
        "phone_region": "AU",
        "headers": [{"key": "X-Agent", "value": "#agent_id|lower|truncate:8# #ani|phone:international#"}],
    });
    config
        .as_object_mut()
        .unwrap()
        .extend(json.as_object().unwrap().clone());
    let config: ServiceConfig = serde_json::from_value(config).unwrap();
    config
        .compile(Catalog::standard())
        .unwrap_or_else(|e| panic!("service {n}: {e}"))
}

fn services() -> &'static Services {
    static SERVICES: OnceLock<Services> = OnceLock::new();
    SERVICES.get_or_init(|| Services {
        json: service(1, serde_json::json!({"body": {"kind": "json", "template":
            "{\"u\": \"#agent_id|upper#\", \"l\": \"#agent_id|lower|truncate:5#\", \"p\": #ani|phone:national#, \"m\": #ani|phone:mask:4:strict#, \"t\": #call_start|tz:Australia/Sydney|upper#}"
        }})),
        xml: service(2, serde_json::json!({"body": {"kind": "xml", "template":
            "<r a=\"#agent_id|upper|truncate:3#\"><p>#ani|phone:international#</p><c><![CDATA[#agent_id|lower#]]></c><t>#call_start|tz:America/New_York|strftime:%A %H:%M|upper#</t></r>"
        }})),
        form: service(3, serde_json::json!({"body": {"kind": "form", "pairs": [
            {"key": "u", "value": "#agent_id|upper|truncate:6#"},
            {"key": "p", "value": "x #ani|phone:digits# y"},
            {"key": "l", "value": "#agent_id|lower#", "map": {"SALE": "Won & <co>"}},
        ]}})),
    })
}

fn call(agent_id: &str, ani: &str) -> CallData {
    CallData::from_serialize(&serde_json::json!({
        "agent_id": agent_id,
        "ani": ani,
        "call_start": "2024-11-03T05:30:00Z",
    }))
    .unwrap()
}

fn truncated(text: &str, n: usize) -> String {
    text.chars().take(n).collect()
}

/// Element names of a whole XML document in order, which must parse.
fn xml_elements(body: &[u8]) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut names = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).expect("the body is XML") {
            Event::Start(e) => {
                for attribute in e.attributes() {
                    attribute
                        .expect("attributes parse")
                        .unescape_value()
                        .expect("attributes unescape");
                }
                names.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
            }
            Event::Text(t) => {
                t.unescape().expect("text unescapes");
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    names
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// JSON: the document parses with exactly its keys, the text
    /// functions give exactly what they say, and a phone format gives the
    /// value unchanged or a formatted number.
    #[test]
    fn json_keeps_its_structure(agent in value(), ani in value()) {
        let request = services().json.request(&call(&agent, &ani)).unwrap();
        let body: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(request.body()).unwrap();
        let keys: Vec<&str> = body.keys().map(String::as_str).collect();
        prop_assert_eq!(keys, ["l", "m", "p", "t", "u"]);
        let (upper, lower) = (agent.to_uppercase(), truncated(&agent.to_lowercase(), 5));
        prop_assert_eq!(body["u"].as_str(), Some(upper.as_str()));
        prop_assert_eq!(body["l"].as_str(), Some(lower.as_str()));
        let p = body["p"].as_str().unwrap();
        // The value unchanged, or libphonenumber's national layout.
        let laid_out = p.chars().all(|c| c.is_ascii_digit() || " +()-ext.".contains(c));
        prop_assert!(p == ani || laid_out, "{:?} for {:?}", p, ani);
        // Not a phone number under `:strict`: missing, `null` as a whole
        // JSON value.
        match body["m"].as_str() {
            None => prop_assert!(body["m"].is_null()),
            Some(m) => prop_assert!(m.trim_start_matches('*').bytes().all(|b| b.is_ascii_digit()), "{:?}", m),
        }
        prop_assert_eq!(body["t"].as_str(), Some("2024-11-03 16:30:00.0000"));
        // The URL keeps its host and its two query parameters.
        let uri = request.uri();
        prop_assert_eq!(uri.host(), Some("crm.example.com"));
        let query: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        prop_assert_eq!(query.len(), 2);
        prop_assert_eq!(&query[1].1, &truncated(&agent.to_uppercase(), 4));
        // The header is one valid value.
        prop_assert!(request.headers().get("x-agent").is_some());
    }

    /// XML: the document parses with its elements in place, whatever the
    /// options print.
    #[test]
    fn xml_keeps_its_structure(agent in value(), ani in value()) {
        let request = services().xml.request(&call(&agent, &ani)).unwrap();
        prop_assert_eq!(xml_elements(request.body()), ["r", "p", "c", "t"]);
        let body = std::str::from_utf8(request.body()).unwrap();
        prop_assert!(body.contains("<t>SUNDAY 01:30</t>"), "{}", body);
    }

    /// A form: exactly its pairs, decoding to what the options say.
    #[test]
    fn forms_keep_their_pairs(agent in value(), ani in value()) {
        let request = services().form.request(&call(&agent, &ani)).unwrap();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(request.body())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        prop_assert_eq!(keys, ["u", "p", "l"]);
        prop_assert_eq!(&pairs[0].1, &truncated(&agent.to_uppercase(), 6));
        let lower = if agent == "SALE" { "Won & <co>".to_owned() } else { agent.to_lowercase() };
        prop_assert_eq!(&pairs[2].1, &lower);
    }
}
