//! Every service of the three seed configurations, built for its sample call
//! and checked to the byte: method, URI, every header in order, body.
//!
//! The expected requests live in `tests/fixtures/services/<service-id>.http`
//! in the HTTP/1.1 text form of `Preview::to_http` with secrets shown. Each
//! fixture was checked by hand against the configuration, the call and the
//! README's escaping rules; the test parses it back into its parts and
//! compares each part with the built request, then compares the whole text.

use callhook::{Call, Config, ErrorKind, Preview, Service, ServiceConfig, REDACTED};

/// The services of a configuration, compiled, in configuration order.
#[derive(Debug)]
struct Services(Vec<Service>);

impl Services {
    /// Compiles every service at once through a registry, so every problem
    /// of every service is reported.
    fn load(configs: &[ServiceConfig]) -> Result<Services, callhook::Error> {
        let config = Config::new(configs.to_vec(), Vec::new());
        let registry = common::load(&config)?;
        Ok(Services(
            configs
                .iter()
                .filter_map(|c| registry.service(&c.id).cloned())
                .collect(),
        ))
    }

    fn get(&self, id: &str) -> Option<&Service> {
        self.0.iter().find(|s| s.id() == id)
    }

    fn iter(&self) -> impl Iterator<Item = &Service> {
        self.0.iter()
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

mod common;
use common::read_text as read;

fn config(name: &str) -> Config {
    Config::from_json(&read(&format!("examples/configs/{name}.json")))
        .unwrap_or_else(|e| panic!("{name}.json: {e}"))
}

fn call(name: &str) -> Call {
    Call::from_json(&read(&format!("examples/calls/{name}.json")))
        .unwrap_or_else(|e| panic!("{name}.json: {e}"))
}

fn load(config_name: &str) -> Services {
    Services::load(&config(config_name).services)
        .unwrap_or_else(|e| panic!("{config_name}.json does not load: {e}"))
}

/// A fixture split into its parts.
#[derive(Debug)]
struct Fixture {
    text: String,
    method: String,
    target: String,
    host: String,
    headers: Vec<(String, String)>,
    body: String,
}

fn fixture(id: &str) -> Fixture {
    let text = read(&format!("tests/fixtures/services/{id}.http"));
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{id}.http: no blank CRLF line after the headers"));
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap();
    let mut words = request_line.split(' ');
    let (method, target, version) = (
        words.next().unwrap().to_owned(),
        words.next().unwrap().to_owned(),
        words.next().unwrap(),
    );
    assert_eq!(version, "HTTP/1.1", "{id}.http: request line");
    assert_eq!(words.next(), None, "{id}.http: request line");
    let host = lines
        .next()
        .and_then(|l| l.strip_prefix("host: "))
        .unwrap_or_else(|| panic!("{id}.http: second line is not `host: `"))
        .to_owned();
    let headers = lines
        .map(|line| {
            let (name, value) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("{id}.http: bad header line {line:?}"));
            (name.to_owned(), value.to_owned())
        })
        .collect();
    Fixture {
        method,
        target,
        host,
        headers,
        body: body.to_owned(),
        text: text.clone(),
    }
}

/// Builds the request of service `id` of `config_name` for `call_name`'s
/// data and checks it against its fixture, part by part and as a whole.
fn check(services: &Services, call: &Call, id: &str, url: &str) -> http::Request<Vec<u8>> {
    let service = services
        .get(id)
        .unwrap_or_else(|| panic!("no service {id}"));
    let mut request = service
        .request(&call.data)
        .unwrap_or_else(|e| panic!("{id}: {e}"));
    // The fixture is the request sent, with the credential signing adds
    // at send time (these services sign nothing else).
    service
        .sign(&mut request, "d-1", "2024-12-02T21:00:00Z".parse().unwrap())
        .unwrap_or_else(|e| panic!("{id}: {e}"));
    let text = Preview::of(id, &request, true).to_http();
    common::bless(&format!("tests/fixtures/services/{id}.http"), &text);
    let expected = fixture(id);

    assert_eq!(request.method().as_str(), expected.method, "{id}: method");
    assert_eq!(request.uri().to_string(), url, "{id}: URI");
    let uri = request.uri();
    assert_eq!(uri.scheme_str(), Some("https"), "{id}: scheme");
    assert_eq!(
        uri.authority().map(|a| a.as_str()),
        Some(expected.host.as_str()),
        "{id}: host"
    );
    assert_eq!(
        uri.path_and_query().map(|p| p.as_str()),
        Some(expected.target.as_str()),
        "{id}: request target"
    );

    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = value
                .to_str()
                .unwrap_or_else(|_| panic!("{id}: header {name} is not visible ASCII"));
            (name.as_str().to_owned(), value.to_owned())
        })
        .collect();
    assert_eq!(headers, expected.headers, "{id}: headers, in order");

    assert_eq!(
        request.body().as_slice(),
        expected.body.as_bytes(),
        "{id}: body bytes\n--- actual ---\n{}\n--- expected ---\n{}",
        String::from_utf8_lossy(request.body()),
        expected.body
    );
    match request.headers().get("content-length") {
        Some(length) => assert_eq!(
            length.to_str().unwrap(),
            request.body().len().to_string(),
            "{id}: content-length is the body length"
        ),
        None => assert!(request.body().is_empty(), "{id}: a body without a length"),
    }

    // The whole text, exactly, as the fixture was written.
    common::assert_golden(&format!("tests/fixtures/services/{id}.http"), &text);
    request
}

const RINGCX_FORM: &str = "0f6d2a52-3c1e-4b8e-9f53-6a1d2c3b4e01";
const RINGCX_JSON: &str = "0f6d2a52-3c1e-4b8e-9f53-6a1d2c3b4e02";
const RINGCX_SOAP: &str = "0f6d2a52-3c1e-4b8e-9f53-6a1d2c3b4e03";
const PBX_POST: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const PBX_GET: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae8";
const PBX_PROGRESS: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae9";
const AVANSER_FORM: &str = "3d2f1a9b-8c7e-4d6f-a5b4-c3d2e1f0a9b1";
const AVANSER_XML: &str = "3d2f1a9b-8c7e-4d6f-a5b4-c3d2e1f0a9b2";
const AVANSER_JSON: &str = "3d2f1a9b-8c7e-4d6f-a5b4-c3d2e1f0a9b3";
const AVANSER_GET: &str = "3d2f1a9b-8c7e-4d6f-a5b4-c3d2e1f0a9b4";
const AVANSER_REALTIME: &str = "3d2f1a9b-8c7e-4d6f-a5b4-c3d2e1f0a9b5";

/// Every service id of a configuration, in order.
fn ids(services: &Services) -> Vec<&str> {
    services.iter().map(|s| s.id()).collect()
}

/// Every fixture file is one of the services tested here, and the other way
/// round: no service is left without a fixture.
#[test]
fn fixtures_cover_every_service_of_every_seed() {
    let mut all: Vec<String> = ["ringcx", "pbx", "avanser"]
        .iter()
        .flat_map(|name| {
            config(name)
                .services
                .into_iter()
                .map(|s| s.id)
                .collect::<Vec<_>>()
        })
        .collect();
    all.sort();
    let mut files: Vec<String> = std::fs::read_dir(common::path("tests/fixtures/services"))
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".http").map(str::to_owned)
        })
        .collect();
    files.sort();
    assert_eq!(files, all);
    let mut tested = vec![
        RINGCX_FORM,
        RINGCX_JSON,
        RINGCX_SOAP,
        PBX_POST,
        PBX_GET,
        PBX_PROGRESS,
        AVANSER_FORM,
        AVANSER_XML,
        AVANSER_JSON,
        AVANSER_GET,
        AVANSER_REALTIME,
    ];
    tested.sort();
    assert_eq!(tested, all);
}

#[test]
fn ringcx_services() {
    let services = load("ringcx");
    assert_eq!(ids(&services), [RINGCX_FORM, RINGCX_JSON, RINGCX_SOAP]);
    let call = call("ringcx-call");

    let form = check(
        &services,
        &call,
        RINGCX_FORM,
        "https://hooks.example.com/ringcx/call-ended",
    );
    // The form decodes back to the call's values.
    let pairs: Vec<(String, String)> = form_urlencoded::parse(form.body())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("agent_id", "1001"),
            ("agent_username", "jane.doe@example.com"),
            ("ani", "15551234567"),
            ("dnis", "18005550100"),
            ("call_start", "2020-04-22 00:00:00.0000"),
            (
                "recording_url",
                "https://recordings.example.com/r/20200422-0001-1001.wav"
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );

    let json = check(
        &services,
        &call,
        RINGCX_JSON,
        "https://hooks.example.com/ringcx/call-ended.json",
    );
    // The RingCX JSON service sends the seed's body.
    common::assert_golden(
        "tests/fixtures/ringcx-body.expected.json",
        std::str::from_utf8(json.body()).unwrap(),
    );
    // The service's template is the seed's template, byte for byte.
    let service = services.get(RINGCX_JSON).unwrap();
    assert_eq!(
        service.body_text(),
        read("examples/templates/ringcx-body.json")
    );

    let soap = check(
        &services,
        &call,
        RINGCX_SOAP,
        "https://crm.example.com/soap/CallLog.asmx",
    );
    assert_eq!(
        soap.headers()["soapaction"],
        "\"urn:crm.example.com:calls/LogCall\""
    );
    let body = std::str::from_utf8(soap.body()).unwrap();
    // SALE is mapped to Won before it is escaped.
    assert!(body.contains("<outcome>Won</outcome>"), "{body}");
}

#[test]
fn ringcx_debug_flag_keeps_a_redacted_record() {
    let services = load("ringcx");
    let call = call("ringcx-call");
    for service in services.iter() {
        let record = service.debug_record(&call.data);
        assert_eq!(
            record.is_some(),
            service.id() == RINGCX_JSON,
            "{}",
            service.id()
        );
    }
}

#[test]
fn pbx_services() {
    let services = load("pbx");
    assert_eq!(ids(&services), [PBX_POST, PBX_GET, PBX_PROGRESS]);
    let call = call("pbx-call");

    let post = check(
        &services,
        &call,
        PBX_POST,
        "https://crm.example.com/pbx/webhooks/calls",
    );
    common::assert_golden(
        "tests/fixtures/pbx-body.expected.json",
        std::str::from_utf8(post.body()).unwrap(),
    );
    let expected = read("tests/fixtures/pbx-body.expected.json");

    // GET with a raw template: the template is sent as the body, as the PBX
    // does, and the URL keeps its own query unchanged.
    let get = check(
        &services,
        &call,
        PBX_GET,
        "https://billing.example.com/pbx/calls?source=pbx",
    );
    assert_eq!(get.body().as_slice(), expected.as_bytes());

    for id in [PBX_POST, PBX_GET] {
        assert_eq!(
            services.get(id).unwrap().body_text(),
            read("examples/templates/pbx-body.json"),
            "{id}: the service's template is the seed's"
        );
    }
    // The body is JSON and equal, as a value, to the call's data.
    let body: serde_json::Value = serde_json::from_slice(post.body()).unwrap();
    let data: serde_json::Value =
        serde_json::from_str(&read("examples/calls/pbx-call.json")).unwrap();
    assert_eq!(body, data["data"]);
}

#[test]
fn avanser_services() {
    let services = load("avanser");
    assert_eq!(
        ids(&services),
        [
            AVANSER_FORM,
            AVANSER_XML,
            AVANSER_JSON,
            AVANSER_GET,
            AVANSER_REALTIME
        ]
    );
    let call = call("avanser-call");

    let form = check(
        &services,
        &call,
        AVANSER_FORM,
        "https://dashboard.example.com/avanser/calls",
    );
    // `printf 'avanser:s3cret-pass' | base64`
    assert_eq!(
        form.headers()["authorization"],
        "Basic YXZhbnNlcjpzM2NyZXQtcGFzcw=="
    );
    assert!(form.headers()["authorization"].is_sensitive());
    assert!(!form.headers()["x-call-id"].is_sensitive());

    let xml = check(
        &services,
        &call,
        AVANSER_XML,
        "https://crm.example.com/avanser/xml",
    );
    assert!(xml.headers()["authorization"].is_sensitive());

    let json = check(
        &services,
        &call,
        AVANSER_JSON,
        "https://api.example.com/v1/calls/1732784400.12345/events",
    );
    let body: serde_json::Value = serde_json::from_slice(json.body()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "uniqueid": "1732784400.12345",
            "status": "completed",
            "caller": "+61 400 123 456",
            "duration": 187,
            // `date -d 2024-11-28T20:00:00+11:00 +%s`
            "started": 1_732_784_400,
            "summary": "Call from +61 400 123 456 to 1300 555 010",
            "recording": "https://recordings.example.com/avanser/1732784400.12345.mp3",
        })
    );

    let get = check(
        &services,
        &call,
        AVANSER_GET,
        "https://legacy.example.com/hook.php?id=1732784400.12345&status=completed&caller=%2B61+400+123+456",
    );
    assert!(get.body().is_empty());
    assert!(get.headers().get("content-type").is_none());

    // The sample call is a final report: no `sequence` and no `event_time`,
    // which stand as whole JSON values and so render `null`.
    let realtime = check(
        &services,
        &call,
        AVANSER_REALTIME,
        "https://dashboard.example.com/avanser/live",
    );
    let body: serde_json::Value = serde_json::from_slice(realtime.body()).unwrap();
    assert_eq!(body["sequence"], serde_json::Value::Null);
    assert_eq!(body["at"], serde_json::Value::Null);
}

/// What `cargo run --example preview -- --format json` prints, one line per
/// service, through the library call the example makes.
#[test]
fn previews_as_json_lines_redact_secrets() {
    let services = load("avanser");
    let call = call("avanser-call");
    let mut lines = Vec::new();
    for service in services.iter().filter(|s| s.is_enabled()) {
        let shown = service.preview(&call.data, false).unwrap();
        let line = shown.to_json_line();
        assert!(!line.contains('\n'), "one line: {line}");
        assert!(!line.contains("s3cret-pass") && !line.contains("YXZhbnNlcjpzM2NyZXQtcGFzcw"));
        assert!(!line.contains("tok_live_avanser_0123456789"));
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut expected_keys = vec!["service", "method", "url", "headers", "body"];
        expected_keys.sort();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort();
        assert_eq!(keys_sorted, expected_keys, "{line}");
        assert_eq!(json["service"], service.id());
        for header in json["headers"].as_array().unwrap() {
            if header[0] == "authorization" {
                assert_eq!(header[1], REDACTED, "{line}");
            }
        }
        // The same request as the fixture, but for the redaction of the
        // credentials and of the recording URL (a secret field), which
        // changes the body's length.
        let fixture = fixture(service.id());
        let head = |text: &str| {
            text.split("\n\n")
                .next()
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with("content-length: "))
                .map(|l| match l.strip_prefix("authorization: ") {
                    Some(_) => format!("authorization: {REDACTED}"),
                    None => l.trim_end_matches('\r').to_owned(),
                })
                .collect::<Vec<_>>()
        };
        let shown_http = shown.to_http().replace("\r\n", "\n");
        assert_eq!(head(&shown_http), head(&fixture.text.replace("\r\n", "\n")));
        assert!(
            !shown.body.contains("recordings.example.com"),
            "{}",
            shown.body
        );
        if fixture.body.contains("recordings.example.com") {
            assert!(shown.body.contains("redacted"), "{}", shown.body);
        }
        lines.push(line);
    }
    assert_eq!(lines.len(), 5);
}

/// A configuration with a misspelt field and a bad URL is refused as a
/// whole, every problem reported with its service and field.
#[test]
fn a_broken_configuration_reports_every_problem() {
    let mut config = config("avanser");
    let ServiceConfig { body, url, .. } = &mut config.services[0];
    let text = serde_json::to_string(&*body).unwrap();
    *body = serde_json::from_str(&text.replacen("[[uniqueid]]", "[[uniqeid]]", 1)).unwrap();
    *url = "htps://dashboard.example.com/avanser/calls".to_owned();
    config.services[2].url = "https://[[uniqueid]].example.com/v1/calls".to_owned();

    let err = Services::load(&config.services).unwrap_err();
    let found: Vec<_> = err
        .related()
        .iter()
        .map(|e| (e.service().unwrap(), e.field().unwrap(), e.kind()))
        .collect();
    assert_eq!(
        found,
        [
            (AVANSER_FORM, "url", ErrorKind::InvalidUrl),
            (AVANSER_FORM, "body.pairs.0.value", ErrorKind::UnknownField),
            (AVANSER_JSON, "url", ErrorKind::InvalidUrl),
        ],
        "{err}"
    );
    assert_eq!(err.related()[1].suggestion(), Some("uniqueid"));
}

/// Each configuration serialises back to what it was read from.
#[test]
fn configurations_round_trip_through_serde_json() {
    for name in ["ringcx", "pbx", "avanser"] {
        let config = config(name);
        assert!(!config.webhooks.is_empty(), "{name}: webhooks are read too");
        let value = serde_json::to_value(&config).unwrap();
        let back: Config = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(back, config, "{name}: to_value and back");
        let text = serde_json::to_string_pretty(&config).unwrap();
        assert_eq!(Config::from_json(&text).unwrap(), config, "{name}: text");
        // Nothing is lost or added: the value equals the file's own JSON
        // once defaults are filled in by a second round.
        let again = serde_json::to_value(&back).unwrap();
        assert_eq!(again, value, "{name}: stable");
    }
}

#[test]
fn configurations_round_trip_through_toml() {
    for name in ["ringcx", "pbx", "avanser"] {
        let config = config(name);
        let text = toml::to_string(&config)
            .unwrap_or_else(|e| panic!("{name}: TOML serialisation failed: {e}"));
        let back: Config = toml::from_str(&text)
            .unwrap_or_else(|e| panic!("{name}: TOML does not load: {e}\n{text}"));
        assert_eq!(back, config, "{name}:\n{text}");
        // And it compiles to services building the same requests.
        let services = Services::load(&back.services).unwrap();
        assert_eq!(services.len(), config.services.len());
    }
}
