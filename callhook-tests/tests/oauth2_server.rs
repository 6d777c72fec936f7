//! OAuth2 against a real authorization server: `oidc-provider` (Node.js,
//! pinned by `callhook-tests/oauth2-server/package-lock.json`) runs on
//! 127.0.0.1 beside a receiver that accepts a webhook only with a bearer
//! token the server's introspection endpoint calls active. Requests travel
//! over real HTTP (ureq, blocking).
//!
//! Every step is a function from an `http::Request<Vec<u8>>` to what came
//! back, so the requests built by hand here (marked "by hand") can become
//! callhook's: a `TokenRequest`'s request for the token endpoint, its
//! response given to `TokenCache::accept`, and the webhook an `Outgoing`
//! that `Registry::prepare` made ready.
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
use std::time::{Duration, Instant};

use base64::Engine as _;
use callhook::{AddressPolicy, CallData, Catalog, ServiceConfig};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::json;

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

/// How the client proves itself to the token endpoint.
#[derive(Clone, Copy, Debug)]
enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic over the form-encoded id and secret
    /// (RFC 6749 §2.3.1).
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the body.
    Post,
}

/// `application/x-www-form-urlencoded` of one value.
fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A token request, by hand: `grant` parameters, the client authenticated
/// by `auth`. (To become callhook's `TokenRequest`.)
fn token_request(
    ready: &Ready,
    client: &Client,
    auth: ClientAuth,
    grant: &[(&str, &str)],
) -> http::Request<Vec<u8>> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.extend_pairs(grant);
    let mut request = http::Request::post(&ready.token_endpoint)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    match auth {
        ClientAuth::Basic => {
            let pair = format!(
                "{}:{}",
                form_encode(&client.client_id),
                form_encode(&client.client_secret)
            );
            let basic = base64::engine::general_purpose::STANDARD.encode(pair);
            request = request.header(header::AUTHORIZATION, format!("Basic {basic}"));
        }
        ClientAuth::Post => {
            form.append_pair("client_id", &client.client_id);
            form.append_pair("client_secret", &client.client_secret);
        }
    }
    request.body(form.finish().into_bytes()).unwrap()
}

/// A client-credentials token request for the receiver's scope, by hand.
fn client_credentials(ready: &Ready, client: &Client, auth: ClientAuth) -> http::Request<Vec<u8>> {
    token_request(
        ready,
        client,
        auth,
        &[
            ("grant_type", "client_credentials"),
            ("scope", &ready.scope),
        ],
    )
}

/// A refresh-token request, by hand.
fn refresh(ready: &Ready, client: &Client, refresh_token: &str) -> http::Request<Vec<u8>> {
    token_request(
        ready,
        client,
        ClientAuth::Basic,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
}

/// A successful token response (RFC 6749 §5.1), read by hand. (To become
/// `TokenCache::accept`.)
#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    expires_in: u64,
    refresh_token: Option<String>,
    scope: Option<String>,
}

/// Reads a 200 token response, checking what every client relies on.
fn accept(status: StatusCode, body: &[u8]) -> TokenResponse {
    let text = String::from_utf8_lossy(body);
    assert_eq!(status, StatusCode::OK, "token response: {text}");
    let response: TokenResponse =
        serde_json::from_slice(body).unwrap_or_else(|e| panic!("token response {text}: {e}"));
    assert!(
        response.token_type.eq_ignore_ascii_case("bearer"),
        "token type {:?}",
        response.token_type
    );
    assert!(!response.access_token.is_empty(), "an access token");
    response
}

/// The OAuth2 error code of a refused token request (RFC 6749 §5.2).
fn error_code(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    assert!(
        status.is_client_error(),
        "a refused token request is 4xx, not {status}: {text}"
    );
    let value: serde_json::Value =
        serde_json::from_slice(body).unwrap_or_else(|e| panic!("error response {text}: {e}"));
    value["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no `error` in {text}"))
        .to_owned()
}

/// The webhook callhook builds for a call, sent to the receiver without
/// credentials: a service without auth, its request rendered.
fn webhook(ready: &Ready, agent_id: &str) -> http::Request<Vec<u8>> {
    let config: ServiceConfig = serde_json::from_value(json!({
        "id": "00000000-0000-4000-8000-000000000021",
        "name": "OAuth2 receiver",
        "method": "POST",
        "url": ready.receiver,
        "body": {"kind": "json", "template": r##"{"agentId": "#agent_id#"}"##},
    }))
    .expect("the service's configuration");
    let local = AddressPolicy::new().allow("127.0.0.1").unwrap();
    let service = config
        .compile_under(Catalog::standard(), &local)
        .expect("the service compiles");
    let call = CallData::from_serialize(&json!({"agent_id": agent_id})).expect("call data");
    service.request(&call).expect("the webhook builds")
}

/// `request` with a bearer token, by hand. (To become `Registry::prepare`.)
fn with_bearer(mut request: http::Request<Vec<u8>>, token: &str) -> http::Request<Vec<u8>> {
    let value =
        HeaderValue::try_from(format!("Bearer {token}")).expect("a token is a header value");
    request.headers_mut().insert(header::AUTHORIZATION, value);
    request
}

#[test]
fn client_credentials_by_basic_and_post_reach_the_receiver() {
    let Some(server) = Server::start() else {
        return;
    };
    let ready = &server.ready;
    let client = &ready.clients.callhook;

    let mut sent = Vec::new();
    for (i, auth) in [ClientAuth::Basic, ClientAuth::Post]
        .into_iter()
        .enumerate()
    {
        let (status, body) = token(&client_credentials(ready, client, auth));
        let issued = accept(status, &body);
        assert_eq!(issued.expires_in, client.access_ttl, "{auth:?}: expires_in");
        assert_eq!(
            issued.scope.as_deref(),
            Some(ready.scope.as_str()),
            "{auth:?}: scope"
        );
        assert_eq!(
            issued.refresh_token, None,
            "{auth:?}: no refresh token for client credentials"
        );

        let hook = with_bearer(webhook(ready, &format!("agent {i}")), &issued.access_token);
        let (status, body) = deliver(&hook);
        assert_eq!(
            status,
            StatusCode::OK,
            "{auth:?}: the receiver takes the token: {}",
            String::from_utf8_lossy(&body)
        );
        sent.push(hook);
    }

    let received = server.received();
    assert_eq!(received.len(), 2, "{received:#?}");
    for (i, (got, hook)) in received.iter().zip(&sent).enumerate() {
        assert!(got.accepted, "{got:#?}");
        assert_eq!(got.method, "POST");
        assert_eq!(got.url, "/hook");
        assert_eq!(got.client_id.as_deref(), Some(client.client_id.as_str()));
        assert_eq!(got.body, format!(r#"{{"agentId": "agent {i}"}}"#));
        assert_eq!(got.body.as_bytes(), hook.body().as_slice());
        assert_eq!(
            got.headers["content-type"],
            hook.headers()[header::CONTENT_TYPE].to_str().unwrap()
        );
    }

    // An extra parameter: RFC 8707's resource indicator, named outright.
    let scope = ready.scope.as_str();
    let grant = |resource| {
        let params = [
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("resource", resource),
        ];
        token(&token_request(ready, client, ClientAuth::Basic, &params))
    };
    let (status, body) = grant(&ready.resource);
    let named = accept(status, &body);
    let (status, _) = deliver(&with_bearer(webhook(ready, "named"), &named.access_token));
    assert_eq!(status, StatusCode::OK, "a token for the named resource");
    let (status, body) = grant("urn:callhook:elsewhere");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(status, &body), "invalid_target");

    // A wrong secret is the client's fault: `invalid_client`, 401 for Basic
    // (RFC 6749 §5.2).
    let wrong = Client {
        client_secret: format!("{}x", client.client_secret),
        ..client.clone()
    };
    let (status, body) = token(&client_credentials(ready, &wrong, ClientAuth::Basic));
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(error_code(status, &body), "invalid_client");
}

#[test]
fn missing_wrong_and_expired_tokens_get_401_and_one_refresh_recovers() {
    let Some(server) = Server::start() else {
        return;
    };
    let ready = &server.ready;
    let client = &ready.clients.brief;

    let (status, _) = deliver(&webhook(ready, "none"));
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token");
    let (status, _) = deliver(&with_bearer(webhook(ready, "wrong"), "not-a-token"));
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an unknown token");

    let (status, body) = token(&client_credentials(ready, client, ClientAuth::Basic));
    let issued_at = Instant::now();
    let issued = accept(status, &body);
    assert_eq!(issued.expires_in, client.access_ttl);
    let (status, _) = deliver(&with_bearer(webhook(ready, "fresh"), &issued.access_token));
    assert_eq!(status, StatusCode::OK, "a fresh token");

    // The server counts whole seconds: one more and the token is past.
    std::thread::sleep(
        Duration::from_secs(issued.expires_in + 1).saturating_sub(issued_at.elapsed()),
    );
    let (status, _) = deliver(&with_bearer(
        webhook(ready, "expired"),
        &issued.access_token,
    ));
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an expired token");

    // The 401 is answered by one refresh, and the delivery then goes
    // through.
    let (status, body) = token(&refresh(ready, client, &client.refresh_token));
    let refreshed = accept(status, &body);
    let (status, _) = deliver(&with_bearer(
        webhook(ready, "retried"),
        &refreshed.access_token,
    ));
    assert_eq!(status, StatusCode::OK, "the retry after a refresh");

    let received = server.received();
    let verdicts: Vec<(&str, bool)> = received
        .iter()
        .map(|r| (r.body.as_str(), r.accepted))
        .collect();
    assert_eq!(
        verdicts,
        [
            (r#"{"agentId": "none"}"#, false),
            (r#"{"agentId": "wrong"}"#, false),
            (r#"{"agentId": "fresh"}"#, true),
            (r#"{"agentId": "expired"}"#, false),
            (r#"{"agentId": "retried"}"#, true),
        ]
    );
    assert!(received[3].headers.contains_key("authorization"));
}

#[test]
fn refresh_rotates_and_a_reused_refresh_token_revokes_the_grant() {
    let Some(server) = Server::start() else {
        return;
    };
    let ready = &server.ready;
    let client = &ready.clients.callhook;
    let first = &client.refresh_token;

    let (status, body) = token(&refresh(ready, client, first));
    let refreshed = accept(status, &body);
    assert_eq!(refreshed.expires_in, client.access_ttl);
    assert_eq!(refreshed.scope.as_deref(), Some(ready.scope.as_str()));
    let second = refreshed
        .refresh_token
        .clone()
        .expect("a rotated refresh token");
    assert_ne!(&second, first, "the refresh token rotates");
    let (status, _) = deliver(&with_bearer(
        webhook(ready, "refreshed"),
        &refreshed.access_token,
    ));
    assert_eq!(status, StatusCode::OK, "the refreshed access token");

    // The first refresh token was used: presenting it again is
    // `invalid_grant` (RFC 6749 §5.2)...
    let (status, body) = token(&refresh(ready, client, first));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(status, &body), "invalid_grant");
    // ...and, as RFC 9700 §4.14.2 recommends, the server takes reuse for
    // theft and revokes the whole grant: the rotated refresh token and the
    // access token issued with it stop working too. Two workers refreshing
    // with one refresh token lose it, so a host lets one refresh at a time.
    let (status, body) = token(&refresh(ready, client, &second));
    assert_eq!(error_code(status, &body), "invalid_grant");
    let (status, _) = deliver(&with_bearer(
        webhook(ready, "revoked"),
        &refreshed.access_token,
    ));
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the revoked grant's access token"
    );
}
