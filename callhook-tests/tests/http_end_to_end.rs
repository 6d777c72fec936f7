//! End to end over real HTTP: every body kind is built by callhook, sent by a
//! real client (ureq, blocking) to a real server on 127.0.0.1 (tiny_http),
//! and what the server received is compared byte for byte with the built
//! `http::Request` and with hand-written expectations.
//!
//! Every test is bounded: the server thread serves a fixed number of
//! requests and gives up after a deadline, and every client call has a
//! timeout.

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use callhook::{AddressPolicy, CallData, Catalog, Service, ServiceConfig};
use serde_json::json;

/// How long any one test may wait for the network.
const DEADLINE: Duration = Duration::from_secs(5);

/// What the server got, as it got it.
#[derive(Debug)]
struct Received {
    method: String,
    /// The request target exactly as sent: path and query.
    url: String,
    /// Every header in the order received, names lowercased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The client's address: the same for requests on one connection.
    peer: Option<SocketAddr>,
}

impl Received {
    /// Every value received for `name`, in order.
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value received for `name`.
    fn one(&self, name: &str) -> &str {
        match self.all(name)[..] {
            [value] => value,
            ref other => panic!("expected one `{name}` header, got {other:?} in {self:#?}"),
        }
    }
}

/// Starts a server on 127.0.0.1:0 that captures `count` requests, answers
/// each with `200 OK`, and then stops; it also stops at the deadline.
fn receiver(count: usize) -> (SocketAddr, JoinHandle<Vec<Received>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = server.server_addr().to_ip().expect("an IP address");
    let handle = std::thread::spawn(move || {
        let end = Instant::now() + DEADLINE;
        let mut received = Vec::new();
        while received.len() < count {
            let Some(wait) = end.checked_duration_since(Instant::now()) else {
                break;
            };
            let Ok(Some(mut request)) = server.recv_timeout(wait) else {
                break;
            };
            let mut body = Vec::new();
            request
                .as_reader()
                .read_to_end(&mut body)
                .expect("read the body");
            received.push(Received {
                method: request.method().as_str().to_owned(),
                url: request.url().to_owned(),
                headers: request
                    .headers()
                    .iter()
                    .map(|h| {
                        (
                            h.field.as_str().as_str().to_ascii_lowercase(),
                            h.value.as_str().to_owned(),
                        )
                    })
                    .collect(),
                body,
                peer: request.remote_addr().copied(),
            });
            let _ = request.respond(tiny_http::Response::from_string("ok"));
        }
        received
    });
    (addr, handle)
}

/// A blocking client with timeouts, no proxy and no redirects.
fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(DEADLINE))
        .proxy(None)
        .max_redirects(0)
        .build()
        .into()
}

/// The call every case renders: values chosen to break naive escaping.
fn hostile_call() -> CallData {
    CallData::from_serialize(&json!({
        "agent_id": "a&b=c",
        "agent_username": "O'Brien \"Jo\" <&>",
        "ani": "+1 555 0100",
        "dnis": "1800\n\t555",
        "status": "Zoë ✓ 東京",
        "agent_disposition": "SALE",
        "call_start": "2020-04-22 00:00:00.0000",
        "duration": 95,
    }))
    .expect("valid call data")
}

/// The value mapping of every case: RingCX's disposition codes.
fn disposition_map() -> serde_json::Value {
    json!({"SALE": "Won & \"closed\"", "NOSALE": "Lost"})
}

/// One service and what must arrive.
struct Case {
    name: &'static str,
    method: &'static str,
    /// Path and query of the URL template; the server's address is put in
    /// front of it.
    path: &'static str,
    body: serde_json::Value,
    headers: serde_json::Value,
    auth: serde_json::Value,
    /// The path and query that must arrive.
    expect_url: &'static str,
    /// The body that must arrive, when pinned by hand.
    expect_body: Option<&'static [u8]>,
    /// Headers that must arrive exactly once with exactly this value.
    expect_headers: &'static [(&'static str, &'static str)],
    /// Headers that must not arrive.
    expect_absent: &'static [&'static str],
}

impl Case {
    /// The service, pointed at `addr`. Ids are UUIDs, as the library wants.
    fn service(&self, addr: SocketAddr, index: usize) -> Service {
        let config: ServiceConfig = serde_json::from_value(json!({
            "id": format!("00000000-0000-4000-8000-{index:012}"),
            "name": self.name,
            "method": self.method,
            "url": format!("http://{addr}{}", self.path),
            "body": self.body,
            "headers": self.headers,
            "auth": self.auth,
        }))
        .unwrap_or_else(|e| panic!("{}: config does not deserialise: {e}", self.name));
        // The receiver is on loopback, which services may reach only when
        // the configuration allows it.
        let local = AddressPolicy::new().allow("127.0.0.1").unwrap();
        config
            .compile_under(Catalog::standard(), &local)
            .unwrap_or_else(|e| panic!("{}: config does not compile: {e}", self.name))
    }

    /// Checks what the server received against the built request and the
    /// case's expectations.
    fn check(&self, addr: SocketAddr, request: &http::Request<Vec<u8>>, got: &Received) {
        let name = self.name;
        assert_eq!(got.method, self.method, "{name}: method");
        assert_eq!(
            request.method().as_str(),
            self.method,
            "{name}: built method"
        );
        let built_url = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        assert_eq!(got.url, built_url, "{name}: path and query as built");
        assert_eq!(got.url, self.expect_url, "{name}: path and query");

        assert_eq!(got.body, request.body().as_slice(), "{name}: body as built");
        if let Some(expected) = self.expect_body {
            assert_eq!(
                String::from_utf8_lossy(&got.body),
                String::from_utf8_lossy(expected),
                "{name}: body"
            );
            assert_eq!(got.body, expected, "{name}: body bytes");
        }

        // Every header the library set arrives, with every value, in order.
        for header in request.headers().keys() {
            let built: Vec<&str> = request
                .headers()
                .get_all(header)
                .iter()
                .map(|v| v.to_str().expect("ASCII header value"))
                .collect();
            assert_eq!(got.all(header.as_str()), built, "{name}: header `{header}`");
        }
        // The client adds only the headers HTTP/1.1 needs, and `accept`.
        let host = addr.to_string();
        assert_eq!(got.one("host"), host, "{name}: host");
        assert_eq!(got.one("accept"), "*/*", "{name}: accept");
        for (header, _) in &got.headers {
            let added_by_client = matches!(header.as_str(), "host" | "accept" | "content-length");
            assert!(
                request.headers().contains_key(header.as_str()) || added_by_client,
                "{name}: unexpected header `{header}` arrived"
            );
        }
        // The body is framed by its length. The library sets
        // `content-length` for every body kind with a content type; with no
        // body the client may send `content-length: 0` (ureq does, even for
        // GET, since the body is an empty `Vec`) or nothing.
        match got.all("content-length")[..] {
            [] => assert!(
                got.body.is_empty() && !request.headers().contains_key("content-length"),
                "{name}: a body without content-length"
            ),
            [length] => assert_eq!(length, got.body.len().to_string(), "{name}: content-length"),
            ref more => panic!("{name}: content-length sent more than once: {more:?}"),
        }

        assert_eq!(
            got.one("user-agent"),
            callhook::USER_AGENT,
            "{name}: user-agent"
        );
        for (header, value) in self.expect_headers {
            assert_eq!(got.one(header), *value, "{name}: header `{header}`");
        }
        for header in self.expect_absent {
            assert!(
                got.all(header).is_empty(),
                "{name}: header `{header}` must not arrive"
            );
        }
    }
}

/// Sends every case to one server over one agent (so over one kept-alive
/// connection, where a wrong `content-length` would corrupt the next
/// request) and checks each.
fn run(cases: &[Case]) {
    let (addr, server) = receiver(cases.len());
    let agent = client();
    let data = hostile_call();
    let mut sent = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let service = case.service(addr, i);
        let mut request = service
            .request(&data)
            .unwrap_or_else(|e| panic!("{}: request does not build: {e}", case.name));
        // The credential is added at send time, as a host's worker does.
        service
            .sign(&mut request, "d-1", "2024-12-02T21:00:00Z".parse().unwrap())
            .unwrap_or_else(|e| panic!("{}: request does not sign: {e}", case.name));
        let mut response = agent
            .run(request.clone())
            .unwrap_or_else(|e| panic!("{}: request was not sent: {e}", case.name));
        assert_eq!(response.status(), 200, "{}: status", case.name);
        // Reading the response to its end returns the connection to the
        // agent's pool, for the next request.
        let answer = response
            .body_mut()
            .read_to_string()
            .expect("read the response");
        assert_eq!(answer, "ok", "{}: response body", case.name);
        sent.push(request);
    }
    let received = server.join().expect("server thread");
    assert_eq!(received.len(), cases.len(), "every request arrived");
    let first_peer = received[0].peer;
    assert!(
        received.iter().all(|r| r.peer == first_peer),
        "every request arrived on one kept-alive connection"
    );
    for ((case, request), got) in cases.iter().zip(&sent).zip(&received) {
        case.check(addr, request, got);
    }
}

/// `user:p@ss:w0rd` in Base64.
const BASIC: &str = "Basic dXNlcjpwQHNzOncwcmQ=";

fn form() -> Case {
    Case {
        name: "form",
        method: "POST",
        path: "/hooks/form?src=test",
        body: json!({"kind": "form", "pairs": [
            {"key": "agent_id", "value": "#agent_id#"},
            {"key": "user", "value": "#agent_username#"},
            {"key": "status", "value": "#status#"},
            {"key": "disposition", "value": "#agent_disposition#", "map": disposition_map()},
            {"key": "source", "value": "static & <value>"},
            {"key": "call start", "value": "#call_start#"},
            {"key": "recording", "value": "#recording_url#"},
        ]}),
        headers: json!([
            {"key": "X-Static", "value": "static-value"},
            {"key": "X-Agent", "value": "#agent_username#"},
        ]),
        auth: json!({"kind": "basic", "username": "user", "password": "p@ss:w0rd"}),
        expect_url: "/hooks/form?src=test",
        expect_body: Some(
            b"agent_id=a%26b%3Dc\
              &user=O%27Brien+%22Jo%22+%3C%26%3E\
              &status=Zo%C3%AB+%E2%9C%93+%E6%9D%B1%E4%BA%AC\
              &disposition=Won+%26+%22closed%22\
              &source=static+%26+%3Cvalue%3E\
              &call+start=2020-04-22+00%3A00%3A00.0000\
              &recording=",
        ),
        expect_headers: &[
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("content-length", "211"),
            ("authorization", BASIC),
            ("x-static", "static-value"),
            ("x-agent", "O'Brien \"Jo\" <&>"),
        ],
        expect_absent: &["soapaction"],
    }
}

fn json_template() -> Case {
    Case {
        name: "json template",
        method: "POST",
        path: "/hooks/agents/#agent_id#/calls.json",
        body: json!({"kind": "json", "template":
            "{\"agentId\": \"#agent_id#\", \"user\": \"#agent_username#\", \"status\": \"#status#\",\n \"dnis\": \"#dnis#\", \"duration\": #duration#, \"queue\": #queue_name#, \"note\": \"Ticket #42\"}"
        }),
        headers: json!([{"key": "X-Call-Status", "value": "#agent_disposition#", "map": disposition_map()}]),
        auth: json!({"kind": "bearer", "token": "tok_live_0123"}),
        expect_url: "/hooks/agents/a%26b%3Dc/calls.json",
        expect_body: Some(
            "{\"agentId\": \"a&b=c\", \"user\": \"O'Brien \\\"Jo\\\" <&>\", \"status\": \"Zoë ✓ 東京\",\n \"dnis\": \"1800\\n\\t555\", \"duration\": 95, \"queue\": null, \"note\": \"Ticket #42\"}"
                .as_bytes(),
        ),
        expect_headers: &[
            ("content-type", "application/json; charset=utf-8"),
            ("authorization", "Bearer tok_live_0123"),
            ("x-call-status", "Won & \"closed\""),
        ],
        expect_absent: &["soapaction"],
    }
}

fn json_pairs() -> Case {
    Case {
        name: "json pairs",
        method: "PUT",
        path: "/hooks/json-pairs",
        body: json!({"kind": "json", "pairs": [
            {"key": "agentId", "value": "#agent_id#"},
            {"key": "duration", "value": "#duration#"},
            {"key": "summary", "value": "Call from #ani# to #dnis#"},
            {"key": "disposition", "value": "#agent_disposition#", "map": disposition_map()},
            {"key": "we\"ird <key>", "value": "x"},
            {"key": "queue", "value": "#queue_name#"},
            {"key": "status", "value": "#status#"},
        ]}),
        headers: json!([]),
        auth: json!({"kind": "api_key", "header": "X-Api-Key", "key": "k-123"}),
        expect_url: "/hooks/json-pairs",
        expect_body: Some(
            "{\"agentId\":\"a&b=c\",\"duration\":95,\"summary\":\"Call from +1 555 0100 to 1800\\n\\t555\",\
             \"disposition\":\"Won & \\\"closed\\\"\",\"we\\\"ird <key>\":\"x\",\"queue\":null,\"status\":\"Zoë ✓ 東京\"}"
                .as_bytes(),
        ),
        expect_headers: &[
            ("content-type", "application/json; charset=utf-8"),
            ("x-api-key", "k-123"),
        ],
        expect_absent: &["authorization", "soapaction"],
    }
}

fn xml_pairs() -> Case {
    Case {
        name: "xml pairs",
        method: "POST",
        path: "/hooks/xml",
        body: json!({"kind": "xml", "root": "callEvent", "pairs": [
            {"key": "agent", "value": "#agent_id#"},
            {"key": "user", "value": "#agent_username#"},
            {"key": "status", "value": "#status#"},
            {"key": "dnis", "value": "#dnis#"},
            {"key": "disposition", "value": "#agent_disposition#", "map": disposition_map()},
            {"key": "crm:duration", "value": "#duration|hms#"},
        ]}),
        headers: json!([{"key": "X-Static", "value": "1"}]),
        auth: json!({"kind": "bearer", "token": "xml-token"}),
        expect_url: "/hooks/xml",
        expect_body: Some(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><callEvent>\
             <agent>a&amp;b=c</agent>\
             <user>O&apos;Brien &quot;Jo&quot; &lt;&amp;&gt;</user>\
             <status>Zoë ✓ 東京</status>\
             <dnis>1800\n\t555</dnis>\
             <disposition>Won &amp; &quot;closed&quot;</disposition>\
             <crm:duration>00:01:35</crm:duration>\
             </callEvent>"
                .as_bytes(),
        ),
        expect_headers: &[
            ("content-type", "application/xml; charset=utf-8"),
            ("authorization", "Bearer xml-token"),
            ("x-static", "1"),
        ],
        expect_absent: &["soapaction"],
    }
}

fn xml_template() -> Case {
    Case {
        name: "xml template",
        method: "PATCH",
        path: "/hooks/xml-raw?agent=#agent_id#",
        body: json!({"kind": "xml", "template":
            "<?xml version=\"1.0\"?>\n<call agent=\"#agent_id#\" dnis='#dnis#'>\n  <user>#agent_username#</user>\n  <status>#status#</status>\n  <raw><![CDATA[#agent_username#]]></raw>\n</call>\n"
        }),
        headers: json!([]),
        auth: json!({"kind": "basic", "username": "user", "password": "p@ss:w0rd"}),
        expect_url: "/hooks/xml-raw?agent=a%26b%3Dc",
        expect_body: Some(
            "<?xml version=\"1.0\"?>\n<call agent=\"a&amp;b=c\" dnis='1800&#10;&#9;555'>\n  \
             <user>O&apos;Brien &quot;Jo&quot; &lt;&amp;&gt;</user>\n  \
             <status>Zoë ✓ 東京</status>\n  \
             <raw><![CDATA[]]><![CDATA[O'Brien \"Jo\" <&>]]><![CDATA[]]></raw>\n</call>\n"
                .as_bytes(),
        ),
        expect_headers: &[
            ("content-type", "application/xml; charset=utf-8"),
            ("authorization", BASIC),
        ],
        expect_absent: &["soapaction"],
    }
}

/// The SOAP 1.1 envelope every SOAP case must send, once per version.
const SOAP_1_1_BODY: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
    <soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>\
    <LogCall xmlns=\"urn:crm.example.com:calls&amp;co\">\
    <agentId>a&amp;b=c</agentId>\
    <user>O&apos;Brien &quot;Jo&quot; &lt;&amp;&gt;</user>\
    <outcome>Won &amp; &quot;closed&quot;</outcome>\
    <callStart>2020-04-22T00:00:00+00:00</callStart>\
    </LogCall></soap:Body></soap:Envelope>";

/// The same operation in a SOAP 1.2 envelope.
const SOAP_1_2_BODY: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
    <soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\"><soap:Body>\
    <LogCall xmlns=\"urn:crm.example.com:calls&amp;co\">\
    <agentId>a&amp;b=c</agentId>\
    <user>O&apos;Brien &quot;Jo&quot; &lt;&amp;&gt;</user>\
    <outcome>Won &amp; &quot;closed&quot;</outcome>\
    <callStart>2020-04-22T00:00:00+00:00</callStart>\
    </LogCall></soap:Body></soap:Envelope>";

fn soap(version: &'static str) -> Case {
    let v11 = version == "1.1";
    Case {
        name: if v11 { "soap 1.1" } else { "soap 1.2" },
        method: "POST",
        path: "/soap/CallLog.asmx",
        body: json!({
            "kind": "soap",
            "version": version,
            "namespace": "urn:crm.example.com:calls&co",
            "operation": "LogCall",
            "action": "urn:crm.example.com:calls/LogCall",
            "port": "CallLogSoap",
            "service": "CallLogService",
            "parameters": [
                {"key": "agentId", "value": "#agent_id#"},
                {"key": "user", "value": "#agent_username#"},
                {"key": "outcome", "value": "#agent_disposition#", "map": disposition_map()},
                {"key": "callStart", "value": "#call_start|rfc3339#"},
            ],
        }),
        headers: json!([{"key": "X-Agent", "value": "#agent_id#"}]),
        auth: json!({"kind": "basic", "username": "user", "password": "p@ss:w0rd"}),
        expect_url: "/soap/CallLog.asmx",
        expect_body: Some(if v11 { SOAP_1_1_BODY } else { SOAP_1_2_BODY }.as_bytes()),
        expect_headers: if v11 {
            &[
                ("content-type", "text/xml; charset=utf-8"),
                ("soapaction", "\"urn:crm.example.com:calls/LogCall\""),
                ("authorization", BASIC),
                ("x-agent", "a&b=c"),
            ]
        } else {
            &[
                (
                    "content-type",
                    "application/soap+xml; charset=utf-8; action=\"urn:crm.example.com:calls/LogCall\"",
                ),
                ("authorization", BASIC),
                ("x-agent", "a&b=c"),
            ]
        },
        expect_absent: if v11 { &[] } else { &["soapaction"] },
    }
}

fn none() -> Case {
    Case {
        name: "none",
        method: "POST",
        path: "/agents/#agent_id#/ping?user=#agent_username#&status=#status#",
        body: json!({"kind": "none"}),
        headers: json!([{"key": "X-Agent", "value": "#agent_username#"}]),
        auth: json!({"kind": "bearer", "token": "ping-token"}),
        expect_url: "/agents/a%26b%3Dc/ping\
                     ?user=O%27Brien%20%22Jo%22%20%3C%26%3E\
                     &status=Zo%C3%AB%20%E2%9C%93%20%E6%9D%B1%E4%BA%AC",
        expect_body: Some(b""),
        expect_headers: &[
            ("authorization", "Bearer ping-token"),
            ("x-agent", "O'Brien \"Jo\" <&>"),
        ],
        expect_absent: &["content-type", "soapaction"],
    }
}

fn get_query() -> Case {
    Case {
        name: "get query",
        method: "GET",
        path: "/legacy/hook.php?token=abc",
        body: json!({"kind": "form", "pairs": [
            {"key": "id", "value": "#agent_id#"},
            {"key": "status", "value": "#status#"},
            {"key": "user", "value": "#agent_username#"},
            {"key": "disposition", "value": "#agent_disposition#", "map": disposition_map()},
            {"key": "dnis", "value": "#dnis#"},
        ]}),
        headers: json!([{"key": "X-Static", "value": "get"}]),
        auth: json!({"kind": "none"}),
        expect_url: "/legacy/hook.php?token=abc\
                     &id=a%26b%3Dc\
                     &status=Zo%C3%AB+%E2%9C%93+%E6%9D%B1%E4%BA%AC\
                     &user=O%27Brien+%22Jo%22+%3C%26%3E\
                     &disposition=Won+%26+%22closed%22\
                     &dnis=1800%0A%09555",
        expect_body: Some(b""),
        expect_headers: &[("x-static", "get")],
        expect_absent: &["authorization", "content-type", "soapaction"],
    }
}

#[test]
fn form_body_arrives_byte_for_byte() {
    run(&[form()]);
}

#[test]
fn json_template_body_arrives_byte_for_byte() {
    run(&[json_template()]);
}

#[test]
fn json_pairs_body_arrives_byte_for_byte() {
    run(&[json_pairs()]);
}

#[test]
fn xml_pairs_body_arrives_byte_for_byte() {
    run(&[xml_pairs()]);
}

#[test]
fn xml_template_body_arrives_byte_for_byte() {
    run(&[xml_template()]);
}

#[test]
fn soap_1_1_arrives_with_soapaction() {
    run(&[soap("1.1")]);
}

#[test]
fn soap_1_2_arrives_with_action_in_content_type() {
    run(&[soap("1.2")]);
}

#[test]
fn no_body_arrives_empty() {
    run(&[none()]);
}

#[test]
fn get_sends_pairs_in_the_query() {
    run(&[get_query()]);
}

/// Every kind, one after another on one kept-alive connection: a body
/// whose length did not match its `content-length` would desynchronise
/// the requests after it.
#[test]
fn every_kind_in_sequence_on_one_connection() {
    run(&[
        form(),
        get_query(),
        json_template(),
        none(),
        json_pairs(),
        xml_pairs(),
        xml_template(),
        soap("1.1"),
        soap("1.2"),
    ]);
}
