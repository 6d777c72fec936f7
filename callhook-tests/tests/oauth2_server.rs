//! OAuth2 against a real authorization server, through callhook's own API:
//! `oidc-provider` (Node.js, pinned by
//! `callhook-tests/oauth2-server/package-lock.json`) runs on 127.0.0.1
//! beside a receiver that accepts a webhook only with a bearer token the
//! server's introspection endpoint calls active. Requests travel over real
//! HTTP (ureq, blocking).
//!
//! The test is the host: a `Config` with a named OAuth2 entry,
//! `Registry::dispatch`, `Registry::prepare` giving `TokenNeeded`, the
//! `TokenRequest`'s request sent, its answer given to `TokenCache::accept`,
//! `prepare` again giving `Ready`, the webhook sent, and `Envelope::record_in`
//! deciding after a 401. Nothing of the token exchange is built here, except
//! revoking a token (a receiver's or an operator's act, not a client's).
//!
//! Node.js and npm must be installed: `oauth2-server/install.sh` runs
//! `npm ci` when `node_modules/` is missing or stale. Without them the tests
//! fail, unless `CALLHOOK_SKIP_NODE=1` is set outside CI (`CI` unset), where
//! they pass with a note.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use callhook::{
    Call, CallData, Catalog, Config, Decision, Envelope, ErrorKind, Event, GiveUp, Outcome,
    Outgoing, Prepared, Registry, TokenCache, TokenRequest,
};
use chrono::{DateTime, TimeDelta, Utc};
use http::{header, HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

/// How long the server may take to start (a first `npm ci` is separate).
const STARTUP: Duration = Duration::from_secs(30);
/// How long one HTTP exchange may take.
const EXCHANGE: Duration = Duration::from_secs(10);

/// The directory of the Node project.
fn server_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oauth2-server")
}

/// Whether a CI runner runs the tests (`CI` set and not empty, as GitHub,
/// GitLab and most others do).
fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Runs `install.sh` once per test binary: `true` when the server can
/// start, `false` when Node.js is missing and the tests may be skipped;
/// panics otherwise.
fn installed() -> bool {
    static INSTALLED: OnceLock<Result<bool, String>> = OnceLock::new();
    let outcome = INSTALLED.get_or_init(|| {
        let script = server_dir().join("install.sh");
        let output = Command::new("bash")
            .arg(&script)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run `bash {}`: {e}", script.display()))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        match output.status.code() {
            Some(0) => Ok(true),
            // Node.js or npm is missing.
            Some(3) if in_ci() => Err(format!(
                "{stderr}the OAuth2 server cannot start under CI (`CI` is set, so \
                 `CALLHOOK_SKIP_NODE` does not apply): install Node.js 20 or later"
            )),
            Some(3) if std::env::var_os("CALLHOOK_SKIP_NODE").is_some_and(|v| v == "1") => {
                eprintln!("{stderr}CALLHOOK_SKIP_NODE=1: the OAuth2 server tests are skipped");
                Ok(false)
            }
            Some(3) => Err(format!(
                "{stderr}install Node.js 20 or later, or set CALLHOOK_SKIP_NODE=1 to skip these tests"
            )),
            _ => Err(format!(
                "`{}` failed ({}):\n{stderr}",
                script.display(),
                output.status
            )),
        }
    });
    match outcome {
        Ok(installed) => *installed,
        Err(message) => panic!("{message}"),
    }
}

/// What the server prints when it listens (`{"ready": {...}}`).
#[derive(Debug, Deserialize)]
struct Ready {
    token_endpoint: String,
    /// RFC 7009 token revocation, for making a receiver refuse a token.
    revocation_endpoint: String,
    /// The resource indicator the receiver's tokens are issued for.
    resource: String,
    /// The scope the receiver asks for.
    scope: String,
    /// `POST` webhooks here.
    receiver: String,
    /// `GET` what the receiver got, as JSON.
    received: String,
    clients: Clients,
}

#[derive(Debug, Deserialize)]
struct Clients {
    /// Access tokens last `access_ttl` (300 s by default).
    callhook: Client,
    /// Access tokens last a few seconds, so that a test sees expiry.
    brief: Client,
}

/// A confidential client and the refresh token minted for it at start-up.
#[derive(Clone, Debug, Deserialize)]
struct Client {
    client_id: String,
    /// Holds characters that need form-encoding (` :+%&=/`).
    client_secret: String,
    access_ttl: u64,
    refresh_token: String,
}

/// The server: its process and what it printed when ready.
struct Server {
    process: Process,
    ready: Ready,
}

/// The `node` child process, killed when dropped.
struct Process {
    child: Child,
    /// Its stderr so far, for failure messages.
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts the server, or `None` when Node.js is missing and the tests
    /// may be skipped (see [`installed`]).
    fn start() -> Option<Server> {
        if !installed() {
            return None;
        }
        let child = Command::new("node")
            .arg("server.mjs")
            .current_dir(server_dir())
            // The server ends when its stdin closes: if this process dies
            // without dropping the guard, the server goes with it.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `node server.mjs`: {e}"));
        let mut process = Process {
            child,
            stderr: Arc::default(),
        };

        let mut pipe = process.child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&process.stderr);
        std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buffer) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });

        // stdout carries the ready line among oidc-provider's notices; it is
        // read to its end so that the server never blocks on a full pipe.
        let (ready_tx, ready_rx) = mpsc::channel();
        let stdout = BufReader::new(process.child.stdout.take().expect("piped stdout"));
        std::thread::spawn(move || {
            let mut ready_tx = Some(ready_tx);
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if line.starts_with(r#"{"ready":"#) {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(line);
                    }
                }
            }
        });

        let line = match ready_rx.recv_timeout(STARTUP) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "the OAuth2 server did not start within {STARTUP:?}{}",
                process.log()
            ),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = process.child.wait();
                panic!("the OAuth2 server exited ({status:?}){}", process.log())
            }
        };
        #[derive(Deserialize)]
        struct Line {
            ready: Ready,
        }
        let ready = serde_json::from_str::<Line>(&line)
            .unwrap_or_else(|e| panic!("the ready line {line:?}: {e}{}", process.log()))
            .ready;
        Some(Server { process, ready })
    }

    /// What the receiver got, oldest first.
    fn received(&self) -> Vec<Received> {
        let request = http::Request::get(&self.ready.received)
            .body(Vec::new())
            .unwrap();
        let (status, _, body) = send(&request);
        assert_eq!(
            status,
            StatusCode::OK,
            "GET /received{}",
            self.process.log()
        );
        serde_json::from_slice(&body).expect("the receiver's list is JSON")
    }
}

impl Process {
    /// The server's stderr, for a failure message.
    fn log(&self) -> String {
        // Give the reading thread a moment to catch a dying server's last
        // words.
        std::thread::sleep(Duration::from_millis(100));
        let stderr = self.stderr.lock().unwrap();
        if stderr.is_empty() {
            String::new()
        } else {
            format!("; its stderr:\n{stderr}")
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request the receiver recorded.
#[derive(Debug, Deserialize)]
struct Received {
    method: String,
    url: String,
    headers: serde_json::Map<String, serde_json::Value>,
    body: String,
    accepted: bool,
    client_id: Option<String>,
}

/// Sends `request` as it is (no redirects, no proxy) and
/// returns the status, headers and body, whatever the status.
fn send(request: &http::Request<Vec<u8>>) -> (StatusCode, HeaderMap, Vec<u8>) {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    let agent = AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .timeout_global(Some(EXCHANGE))
            .proxy(None)
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into()
    });
    let mut response = agent
        .run(request.clone())
        .unwrap_or_else(|e| panic!("{} {} was not sent: {e}", request.method(), request.uri()));
    let body = response.body_mut().read_to_vec().unwrap_or_else(|e| {
        panic!(
            "{} {}: reading the answer: {e}",
            request.method(),
            request.uri()
        )
    });
    (response.status(), response.headers().clone(), body)
}

/// Step: a request to the token endpoint; the answer's status and body.
fn token(request: &http::Request<Vec<u8>>) -> (StatusCode, Vec<u8>) {
    let (status, headers, body) = send(request);
    // RFC 6749 §5.1: token responses are not cached.
    if status == StatusCode::OK {
        assert_eq!(
            headers.get(header::CACHE_CONTROL).map(|v| v.as_bytes()),
            Some(&b"no-store"[..]),
            "a token response is `cache-control: no-store`"
        );
    }
    (status, body)
}

/// Step: a webhook to the receiver; the answer's status and body.
fn deliver(request: &http::Request<Vec<u8>>) -> (StatusCode, Vec<u8>) {
    let (status, headers, body) = send(request);
    if status == StatusCode::UNAUTHORIZED {
        // RFC 6750 §3: the challenge that tells a client its token failed.
        let challenge = headers
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer "),
            "a 401 carries a bearer challenge, not {challenge:?}"
        );
    }
    (status, body)
}

/// The time now, by which the server's clock checks tokens against (chrono's
/// `Utc::now` needs its `clock` feature, which this crate does not build).
fn clock() -> DateTime<Utc> {
    std::time::SystemTime::now().into()
}

/// The named auth entry the service refers to, and its token's cache key.
const ENTRY: &str = "receiver";
const KEY: &str = "named:receiver";
const SERVICE: &str = "00000000-0000-4000-8000-000000000021";
const WEBHOOK: &str = "00000000-0000-4000-8000-000000000022";

/// An OAuth2 entry for the server's token endpoint: `client` with its
/// secret, authenticated by `client_auth` (`basic` or `body`), for the
/// receiver's scope.
fn entry(ready: &Ready, client: &Client, client_auth: &str, grant: Value) -> Value {
    json!({
        "kind": "oauth2",
        "token_url": ready.token_endpoint,
        "grant": grant,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "client_auth": client_auth,
        "scope": ready.scope,
    })
}

fn client_credentials() -> Value {
    json!({"type": "client_credentials"})
}

/// A registry of one service, `POST` to the receiver with a JSON body and
/// the named entry `entry` as its auth, and one webhook for every call's
/// hangup.
fn registry(ready: &Ready, entry: Value) -> Registry {
    let text = json!({
        // The token endpoint and the receiver listen on 127.0.0.1: the
        // policy must allow it, and then plain `http` to a loopback token
        // endpoint is allowed too (`OAuth2Auth::check`).
        "allowed_addresses": ["127.0.0.1"],
        "auth_configs": {ENTRY: entry},
        "services": [{
            "id": SERVICE,
            "name": "OAuth2 receiver",
            "method": "POST",
            "url": ready.receiver,
            "body": {"kind": "json", "template": r##"{"agentId": "#agent_id#"}"##},
            "auth": {"kind": "named", "name": ENTRY},
        }],
        "webhooks": [{"id": WEBHOOK, "event": "Call:Hangup", "service": SERVICE, "scopes": ["*"]}],
    })
    .to_string();
    let config = Config::from_json(&text).unwrap_or_else(|e| panic!("the configuration: {e}"));
    let registry = Registry::from_config(&config, Catalog::standard().clone())
        .unwrap_or_else(|e| panic!("the configuration does not load: {e}"));
    assert_eq!(registry.token_key(SERVICE).as_deref(), Some(KEY));
    registry
}

/// The one delivery of a hangup of agent `agent`'s call, as dispatched:
/// unsigned and without credential.
fn dispatch(registry: &Registry, agent: &str, at: DateTime<Utc>) -> Outgoing {
    let call = Call::new(
        "bfd7e62a-5a55-4286-9453-b4b4cfc5cca8",
        CallData::new().with("agent_id", agent),
    );
    let mut dispatch = registry.dispatch(Event::CallHangup, &call, at);
    assert!(dispatch.errors.is_empty(), "{:?}", dispatch.errors);
    assert_eq!(dispatch.requests.len(), 1);
    let outgoing = dispatch.requests.remove(0);
    assert!(
        !outgoing
            .request
            .headers()
            .contains_key(header::AUTHORIZATION),
        "dispatch adds no credential"
    );
    outgoing
}

/// Step: `Registry::prepare` at `at`; `None` when the delivery is ready to
/// send, or the token request to send first.
fn prepare(
    registry: &Registry,
    outgoing: &mut Outgoing,
    at: DateTime<Utc>,
    tokens: &TokenCache,
) -> Option<TokenRequest> {
    match registry.prepare(outgoing, at, tokens) {
        Ok(Prepared::Ready) => None,
        Ok(Prepared::TokenNeeded(request)) => {
            assert_eq!(request.key(), KEY);
            assert!(
                !outgoing
                    .request
                    .headers()
                    .contains_key(header::AUTHORIZATION),
                "a delivery waiting for its token carries none"
            );
            Some(*request)
        }
        Ok(other) => panic!("prepared as {other:?}"),
        Err(e) => panic!("prepare: {e}"),
    }
}

/// Step: sends `request` to the token endpoint and gives the answer to
/// `tokens`, received at the time returned.
fn fetch(
    tokens: &mut TokenCache,
    request: &TokenRequest,
) -> (DateTime<Utc>, Result<(), callhook::Error>) {
    let (status, body) = token(request.request());
    let at = clock();
    (at, tokens.accept(request, status, &body, at))
}

/// The host's loop for one attempt: prepare now, and if a token is
/// needed, fetch it and prepare again, which must then be ready. Whether a
/// token request was sent.
fn prepare_fetching(registry: &Registry, outgoing: &mut Outgoing, tokens: &mut TokenCache) -> bool {
    let Some(request) = prepare(registry, outgoing, clock(), tokens) else {
        return false;
    };
    let (at, accepted) = fetch(tokens, &request);
    accepted.unwrap_or_else(|e| panic!("the token response: {e}"));
    assert!(
        prepare(registry, outgoing, at, tokens).is_none(),
        "ready once the token is in the cache"
    );
    true
}

/// The bearer token `outgoing` was prepared with.
fn bearer(outgoing: &Outgoing) -> &str {
    let value = &outgoing.request.headers()[header::AUTHORIZATION];
    assert!(value.is_sensitive(), "the credential is marked sensitive");
    value
        .to_str()
        .unwrap()
        .strip_prefix("Bearer ")
        .expect("a bearer token")
}

/// A token request's form, as pairs.
fn form(request: &TokenRequest) -> Vec<(String, String)> {
    form_urlencoded::parse(request.request().body())
        .into_owned()
        .collect()
}

/// The value of `name` in a token request's form.
fn form_value(request: &TokenRequest, name: &str) -> Option<String> {
    form(request)
        .into_iter()
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// Revokes `token` at the server (RFC 7009), as `client`: the receiver
/// refuses it from then on. Built here: revoking is not a client's part in
/// sending webhooks, and callhook has no call for it.
fn revoke(ready: &Ready, client: &Client, token: &str) {
    let encode =
        |value: &str| form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
    let pair = format!(
        "{}:{}",
        encode(&client.client_id),
        encode(&client.client_secret)
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(pair);
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .append_pair("token_type_hint", "access_token")
        .finish();
    let request = http::Request::post(&ready.revocation_endpoint)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .body(body.into_bytes())
        .unwrap();
    let (status, _, body) = send(&request);
    assert_eq!(
        status,
        StatusCode::OK,
        "revocation: {}",
        String::from_utf8_lossy(&body)
    );
}

/// The decision `Envelope::record_in` makes of the receiver's answer
/// `status` at `now`.
fn record(
    envelope: &mut Envelope,
    registry: &Registry,
    status: StatusCode,
    now: DateTime<Utc>,
    tokens: &mut TokenCache,
) -> Decision {
    let headers = HeaderMap::new();
    // The tokens are one part of the host's delivery state.
    let mut state = callhook::DeliveryState::default();
    state.tokens = std::mem::take(tokens);
    let decision = envelope
        .record_in(
            registry,
            Outcome::response(status, &headers),
            now,
            &mut state,
        )
        .unwrap_or_else(|e| panic!("record_in: {e}"));
    *tokens = state.tokens;
    decision
}

/// Asserts `refused` is a refusal of kind `TokenRefused` naming `code`,
/// and shows none of `secrets`.
fn assert_refused(refused: Result<(), callhook::Error>, code: &str, secrets: &[&str]) {
    let err = refused.expect_err("the server refuses");
    assert_eq!(err.kind(), ErrorKind::TokenRefused, "{err}");
    let message = err.to_string();
    assert!(message.contains(code), "{code} in {message:?}");
    for secret in secrets {
        assert!(!message.contains(secret), "{message:?} shows a secret");
    }
}

#[test]
fn client_credentials_by_basic_and_body_reach_the_receiver() {
    let Some(server) = Server::start() else {
        return;
    };
    let ready = &server.ready;
    let client = &ready.clients.callhook;
    // The secret's random part: the whole one holds characters a form or
    // a Basic header encodes.
    let secret_part = client.client_secret.split(' ').next().unwrap();

    let mut sent = Vec::new();
    for client_auth in ["basic", "body"] {
        let registry = registry(
            ready,
            entry(ready, client, client_auth, client_credentials()),
        );
        let mut tokens = TokenCache::new();
        let now = clock();
        let mut outgoing = dispatch(&registry, &format!("{client_auth} 1"), now);

        // No token yet: the token request comes first.
        let request = prepare(&registry, &mut outgoing, now, &tokens).expect("a token request");
        let token_request = request.request();
        assert_eq!(token_request.uri(), ready.token_endpoint.as_str());
        assert_eq!(
            form_value(&request, "grant_type").as_deref(),
            Some("client_credentials")
        );
        assert_eq!(
            form_value(&request, "scope").as_deref(),
            Some(ready.scope.as_str())
        );
        let basic = token_request.headers().get(header::AUTHORIZATION);
        match client_auth {
            "basic" => {
                assert!(basic.is_some_and(|v| v.as_bytes().starts_with(b"Basic ")));
                assert_eq!(form_value(&request, "client_secret"), None);
            }
            _ => {
                assert!(basic.is_none(), "{client_auth}: no Basic header");
                assert_eq!(
                    form_value(&request, "client_secret").as_deref(),
                    Some(client.client_secret.as_str())
                );
            }
        }
        assert!(
            !format!("{request:?}").contains(secret_part),
            "a token request's Debug shows no secret"
        );

        let (at, accepted) = fetch(&mut tokens, &request);
        accepted.unwrap_or_else(|e| panic!("{client_auth}: the token response: {e}"));
        let lifetime = TimeDelta::seconds(i64::try_from(client.access_ttl).unwrap());
        assert_eq!(tokens.expires_at(KEY), Some(at + lifetime), "{client_auth}");
        assert!(!tokens.to_json().contains(secret_part));

        // Ready: the token rides in the request.
        assert!(prepare(&registry, &mut outgoing, at, &tokens).is_none());
        assert!(!bearer(&outgoing).is_empty());
        let (status, body) = deliver(&outgoing.request);
        assert_eq!(
            status,
            StatusCode::OK,
            "{client_auth}: the receiver takes the token: {}",
            String::from_utf8_lossy(&body)
        );
        sent.push(outgoing.request.clone());

        // The next delivery reuses the cached token: no token request.
        let mut next = dispatch(&registry, &format!("{client_auth} 2"), now);
        assert!(!prepare_fetching(&registry, &mut next, &mut tokens));
        assert_eq!(bearer(&next), bearer(&outgoing));
        let (status, _) = deliver(&next.request);
        assert_eq!(status, StatusCode::OK, "{client_auth}: the cached token");
        sent.push(next.request);
    }

    let received = server.received();
    assert_eq!(received.len(), 4, "{received:#?}");
    let bodies = ["basic 1", "basic 2", "body 1", "body 2"];
    for ((got, hook), agent) in received.iter().zip(&sent).zip(bodies) {
        assert!(got.accepted, "{got:#?}");
        assert_eq!(got.method, "POST");
        assert_eq!(got.url, "/hook");
        assert_eq!(got.client_id.as_deref(), Some(client.client_id.as_str()));
        assert_eq!(got.body, format!(r#"{{"agentId": "{agent}"}}"#));
        assert_eq!(got.body.as_bytes(), hook.body().as_slice());
        assert_eq!(
            got.headers["content-type"],
            hook.headers()[header::CONTENT_TYPE].to_str().unwrap()
        );
    }

    // An extra parameter: RFC 8707's resource indicator, named outright.
    let with_resource = |resource: &str| {
        let mut entry = entry(ready, client, "basic", client_credentials());
        entry["parameters"] = json!([{"name": "resource", "value": resource}]);
        registry(ready, entry)
    };
    let named = with_resource(&ready.resource);
    let mut tokens = TokenCache::new();
    let mut outgoing = dispatch(&named, "named", clock());
    assert!(prepare_fetching(&named, &mut outgoing, &mut tokens));
    let (status, _) = deliver(&outgoing.request);
    assert_eq!(status, StatusCode::OK, "a token for the named resource");

    // A resource the server does not serve: `invalid_target`, and nothing
    // is kept.
    let elsewhere = with_resource("urn:callhook:elsewhere");
    let mut tokens = TokenCache::new();
    let mut outgoing = dispatch(&elsewhere, "elsewhere", clock());
    let request = prepare(&elsewhere, &mut outgoing, clock(), &tokens).unwrap();
    assert_eq!(
        form_value(&request, "resource").as_deref(),
        Some("urn:callhook:elsewhere")
    );
    assert_refused(fetch(&mut tokens, &request).1, "invalid_target", &[]);
    assert!(tokens.is_empty());

    // A wrong secret is the client's fault: `invalid_client` (RFC 6749
    // §5.2), and the message does not show the secret sent.
    let wrong = Client {
        client_secret: format!("{}x", client.client_secret),
        ..client.clone()
    };
    let registry = registry(ready, entry(ready, &wrong, "basic", client_credentials()));
    let mut tokens = TokenCache::new();
    let mut outgoing = dispatch(&registry, "wrong", clock());
    let request = prepare(&registry, &mut outgoing, clock(), &tokens).unwrap();
    assert_refused(
        fetch(&mut tokens, &request).1,
        "invalid_client",
        &[secret_part],
    );
    assert!(tokens.is_empty());
}

#[test]
fn an_expiring_token_is_refreshed_and_a_401_is_retried_once() {
    let Some(server) = Server::start() else {
        return;
    };
    let ready = &server.ready;
    let client = &ready.clients.brief;
    let registry = registry(ready, entry(ready, client, "basic", client_credentials()));
    let mut tokens = TokenCache::new();

    // Sent as dispatched, without its credential: the receiver refuses.
    let (status, _) = deliver(&dispatch(&registry, "none", clock()).request);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token");

    let mut outgoing = dispatch(&registry, "fresh", clock());
    let request = prepare(&registry, &mut outgoing, clock(), &tokens).unwrap();
    let (issued, accepted) = fetch(&mut tokens, &request);
    accepted.unwrap();
    let lifetime = TimeDelta::seconds(i64::try_from(client.access_ttl).unwrap());
    assert_eq!(tokens.expires_at(KEY), Some(issued + lifetime));
    assert!(prepare(&registry, &mut outgoing, issued, &tokens).is_none());
    let (status, _) = deliver(&outgoing.request);
    assert_eq!(status, StatusCode::OK, "a fresh token");

    // Expiry: a 3 s token's refresh margin is half its life (shorter than
    // `refresh_before`'s 60 s), so 1.5 s after it was received callhook
    // asks for a new one, before the server would refuse it. Times here
    // are callhook's only, so they are given.
    let margin = lifetime / 2;
    let mut probe = dispatch(&registry, "probe", issued);
    let just_before = issued + margin - TimeDelta::milliseconds(1);
    assert!(prepare(&registry, &mut probe, just_before, &tokens).is_none());
    assert!(
        prepare(&registry, &mut probe, issued + margin, &tokens).is_some(),
        "a token within its refresh margin is fetched again"
    );

    // The server's clock runs on past the token's expiry (it counts whole
    // seconds: one more), while callhook is told it is still `issued`, so
    // it sends the token it holds and the receiver refuses it.
    std::thread::sleep(
        (lifetime + TimeDelta::seconds(1) - (clock() - issued))
            .to_std()
            .unwrap_or_default(),
    );
    let mut stale = dispatch(&registry, "stale", issued);
    assert!(prepare(&registry, &mut stale, issued, &tokens).is_none());
    let (status, _) = deliver(&stale.request);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an expired token");

    // The 401 of a service using OAuth2: retry at once, the token dropped.
    let mut envelope = Envelope::new(&stale, issued);
    let now = clock();
    let decision = record(
        &mut envelope,
        &registry,
        StatusCode::UNAUTHORIZED,
        now,
        &mut tokens,
    );
    assert_eq!(decision, Decision::Retry { at: now });
    assert_eq!(tokens.expires_at(KEY), None, "the refused token is dropped");
    // The retry is prepared from the stored delivery, which kept no
    // credential: a new token is fetched first, and the delivery goes
    // through.
    let mut retry = envelope.to_outgoing().unwrap();
    assert!(!retry.request.headers().contains_key(header::AUTHORIZATION));
    assert!(prepare_fetching(&registry, &mut retry, &mut tokens));
    assert_ne!(bearer(&retry), bearer(&stale), "a new token");
    let (status, _) = deliver(&retry.request);
    assert_eq!(status, StatusCode::OK, "the retry after a refresh");
    let decision = record(&mut envelope, &registry, status, clock(), &mut tokens);
    assert_eq!(decision, Decision::Delivered);

    // A second 401 for one delivery gives up. Each token is revoked at the
    // server once callhook holds it, so the receiver refuses both.
    let mut doomed = dispatch(&registry, "revoked", clock());
    prepare_fetching(&registry, &mut doomed, &mut tokens);
    revoke(ready, client, bearer(&doomed));
    let (status, _) = deliver(&doomed.request);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked token");
    let mut envelope = Envelope::new(&doomed, clock());
    let now = clock();
    let decision = record(
        &mut envelope,
        &registry,
        StatusCode::UNAUTHORIZED,
        now,
        &mut tokens,
    );
    assert_eq!(decision, Decision::Retry { at: now });
    // Stored and read back between attempts, as a host does.
    let mut envelope = Envelope::from_json(&envelope.to_json()).unwrap();
    let mut tokens = TokenCache::from_json(&tokens.to_json()).unwrap();
    let mut again = envelope.to_outgoing().unwrap();
    assert!(prepare_fetching(&registry, &mut again, &mut tokens));
    revoke(ready, client, bearer(&again));
    let (status, _) = deliver(&again.request);
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the refreshed token, revoked"
    );
    let decision = record(
        &mut envelope,
        &registry,
        StatusCode::UNAUTHORIZED,
        clock(),
        &mut tokens,
    );
    assert_eq!(decision, Decision::GiveUp(GiveUp::Unauthorized));

    let received = server.received();
    let verdicts: Vec<(&str, bool)> = received
        .iter()
        .map(|r| (r.body.as_str(), r.accepted))
        .collect();
    assert_eq!(
        verdicts,
        [
            (r#"{"agentId": "none"}"#, false),
            (r#"{"agentId": "fresh"}"#, true),
            (r#"{"agentId": "stale"}"#, false),
            (r#"{"agentId": "stale"}"#, true),
            (r#"{"agentId": "revoked"}"#, false),
            (r#"{"agentId": "revoked"}"#, false),
        ]
    );
    assert!(!received[0].headers.contains_key("authorization"));
    assert!(received[2].headers.contains_key("authorization"));
}

#[test]
fn refresh_rotates_and_a_reused_refresh_token_is_refused() {
    let Some(server) = Server::start() else {
        return;
    };
    let ready = &server.ready;
    let client = &ready.clients.callhook;
    let first = client.refresh_token.clone();
    let grant = json!({"type": "refresh_token", "refresh_token": first});
    let registry = registry(ready, entry(ready, client, "basic", grant));
    let mut tokens = TokenCache::new();

    // The first refresh sends the configured refresh token; the server
    // rotates it, and the cache keeps the new one.
    let mut outgoing = dispatch(&registry, "refreshed", clock());
    let request = prepare(&registry, &mut outgoing, clock(), &tokens).unwrap();
    assert_eq!(
        form_value(&request, "grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(form_value(&request, "refresh_token"), Some(first.clone()));
    let rotated = |status: StatusCode, body: &[u8]| -> String {
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(body));
        let value: Value = serde_json::from_slice(body).unwrap();
        value["refresh_token"]
            .as_str()
            .expect("a rotated refresh token")
            .to_owned()
    };
    let (status, body) = token(request.request());
    let second = rotated(status, &body);
    assert_ne!(second, first, "the refresh token rotates");
    let now = clock();
    tokens.accept(&request, status, &body, now).unwrap();
    assert!(prepare(&registry, &mut outgoing, now, &tokens).is_none());
    let (status, _) = deliver(&outgoing.request);
    assert_eq!(status, StatusCode::OK, "the refreshed access token");

    // Through the host's store, as another worker would read it; the next
    // refresh (the access token dropped, as a 401 does) sends the rotated
    // token, and the server takes it.
    let mut tokens = TokenCache::from_json(&tokens.to_json()).unwrap();
    tokens.invalidate(KEY);
    let mut outgoing = dispatch(&registry, "rotated", clock());
    let request = prepare(&registry, &mut outgoing, clock(), &tokens).unwrap();
    assert_eq!(form_value(&request, "refresh_token"), Some(second.clone()));
    let (status, body) = token(request.request());
    let third = rotated(status, &body);
    assert_ne!(third, second);
    let now = clock();
    tokens.accept(&request, status, &body, now).unwrap();
    assert!(prepare(&registry, &mut outgoing, now, &tokens).is_none());
    let access = bearer(&outgoing).to_owned();
    let (status, _) = deliver(&outgoing.request);
    assert_eq!(
        status,
        StatusCode::OK,
        "the access token of the rotated one"
    );

    // A worker whose cache was lost refreshes with the configured token,
    // used already: `invalid_grant` (RFC 6749 §5.2), a `TokenRefused`
    // that shows no token.
    let mut lost = TokenCache::new();
    let mut outgoing = dispatch(&registry, "lost", clock());
    let request = prepare(&registry, &mut outgoing, clock(), &lost).unwrap();
    assert_eq!(form_value(&request, "refresh_token"), Some(first.clone()));
    assert_refused(fetch(&mut lost, &request).1, "invalid_grant", &[&first]);
    // As RFC 9700 §4.14.2 recommends, the server takes the reuse for theft
    // and revokes the whole grant: the latest refresh token is refused too,
    // and the cache forgets it, going back to the configured one. (So
    // workers sharing a cache let one refresh at a time: README, "Workers
    // sharing one cache".)
    let holding = TokenCache::from_json(&tokens.to_json()).unwrap();
    tokens.invalidate(KEY);
    let request = prepare(&registry, &mut outgoing, clock(), &tokens).unwrap();
    assert_eq!(form_value(&request, "refresh_token"), Some(third.clone()));
    assert_refused(fetch(&mut tokens, &request).1, "invalid_grant", &[&third]);
    let request = prepare(&registry, &mut outgoing, clock(), &tokens).unwrap();
    assert_eq!(form_value(&request, "refresh_token"), Some(first));
    // And the access token issued with the grant no longer works: a
    // worker that still holds it sends it and is refused.
    let mut revoked = dispatch(&registry, "revoked", clock());
    assert!(prepare(&registry, &mut revoked, clock(), &holding).is_none());
    assert_eq!(bearer(&revoked), access);
    let (status, _) = deliver(&revoked.request);
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the revoked grant's access token"
    );
}
