//! JWTs minted for receivers (`{"kind": "jwt"}`) and for OAuth2 token
//! endpoints (RFC 7523 assertions), checked by an independent library:
//! `jsonwebtoken` 9, built on `ring`, where callhook mints with
//! `jsonwebtoken` 10's RustCrypto backend.
//!
//! The fixed tokens are `tests/fixtures/jwt/tokens.json`, which a unit test
//! of `src/auth/jwt.rs` keeps equal to what callhook mints for each case
//! (every algorithm signs deterministically); the keys beside it were made
//! with OpenSSL (`tests/fixtures/jwt/README.md`). Each token verifies with
//! the case's public key or secret, its header and claims are the case's,
//! and a token changed in any part, or checked with another key, fails.
//!
//! End to end, through callhook's API: a configuration with a JWT auth
//! entry, `Registry::dispatch`, `Registry::prepare`, and the token read
//! back from the request's header or query; OAuth2 entries whose client
//! assertion or `jwt_bearer` grant is minted, read back from the token
//! request's form.

use callhook::{
    Call, CallData, Catalog, Config, Event, Outgoing, Prepared, Registry, TokenCache, TokenRequest,
};
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{json, Value};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt/");

#[derive(Deserialize)]
struct Case {
    case: String,
    config: Value,
    verify_with: String,
    at: i64,
    values: Value,
    token: String,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(format!("{DIR}tokens.json")).expect("tokens.json");
    serde_json::from_str(&text).expect("cases")
}

fn decoding_key(case: &Case) -> (Algorithm, DecodingKey) {
    let pem = || std::fs::read(format!("{DIR}{}", case.verify_with)).expect("a public key");
    match case.config["algorithm"].as_str() {
        Some("HS256") => (
            Algorithm::HS256,
            DecodingKey::from_secret(case.verify_with.as_bytes()),
        ),
        Some("RS256") => (
            Algorithm::RS256,
            DecodingKey::from_rsa_pem(&pem()).expect("an RSA public key"),
        ),
        Some("ES256") => (
            Algorithm::ES256,
            DecodingKey::from_ec_pem(&pem()).expect("an EC public key"),
        ),
        other => panic!("{}: no algorithm {other:?}", case.case),
    }
}

/// What the claims should be: the configured ones, placeholders standing
/// for the case's values, and `iat` and `exp`.
fn expected_claims(case: &Case) -> Value {
    fn fill(value: &Value, case: &Case) -> Value {
        match value {
            Value::String(text) => {
                let mut text = text.replace("#timestamp#", &case.at.to_string());
                for name in ["delivery_id", "event", "service", "webhook"] {
                    if let Some(v) = case.values[name].as_str() {
                        text = text.replace(&format!("#{name}#"), v);
                    }
                }
                Value::String(text)
            }
            Value::Array(items) => items.iter().map(|v| fill(v, case)).collect(),
            Value::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), fill(v, case)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let mut claims = fill(&case.config["claims"], case);
    if case.config["issued_at"] != json!(false) {
        claims["iat"] = case.at.into();
    }
    let expires_in = case.config["expires_in"].as_i64().unwrap_or(3_600);
    claims["exp"] = (case.at + expires_in).into();
    claims
}

fn validation(algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    // The cases are minted at fixed times, some long past.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation
}

#[test]
fn an_independent_library_verifies_every_minted_token() {
    let cases = cases();
    assert_eq!(cases.len(), 5);
    for case in &cases {
        let (algorithm, key) = decoding_key(case);
        let decoded = jsonwebtoken::decode::<Value>(&case.token, &key, &validation(algorithm))
            .unwrap_or_else(|e| panic!("{}: {e}", case.case));
        assert_eq!(decoded.claims, expected_claims(case), "{}", case.case);
        assert_eq!(decoded.header.alg, algorithm, "{}", case.case);
        let headers = &case.config["headers"];
        assert_eq!(
            decoded.header.typ.as_deref(),
            Some(headers["typ"].as_str().unwrap_or("JWT")),
            "{}",
            case.case
        );
        assert_eq!(
            decoded.header.kid.as_deref(),
            headers["kid"].as_str(),
            "{}",
            case.case
        );
    }
}

#[test]
fn a_changed_token_or_another_key_fails() {
    let cases = cases();
    for case in &cases {
        let (algorithm, key) = decoding_key(case);
        let (message, signature) = case.token.rsplit_once('.').unwrap();
        // Another claim in the same header: the signature no longer holds.
        let (header, _) = message.split_once('.').unwrap();
        let forged = format!("{header}.eyJpc3MiOiJtYWxsb3J5In0.{signature}");
        assert!(
            jsonwebtoken::decode::<Value>(&forged, &key, &validation(algorithm)).is_err(),
            "{}",
            case.case
        );
    }
    // Each key verifies only its own tokens.
    let hs = &cases[0];
    let es = &cases[4];
    let (_, es_key) = decoding_key(es);
    assert!(
        jsonwebtoken::decode::<Value>(&hs.token, &es_key, &validation(Algorithm::HS256)).is_err()
    );
    assert!(jsonwebtoken::decode::<Value>(
        &hs.token,
        &DecodingKey::from_secret(b"another secret"),
        &validation(Algorithm::HS256)
    )
    .is_err());
}

// End to end: configurations with JWT auth, through dispatch and prepare.

const SERVICE: &str = "5b0c7c1e-8a43-4d5e-9a0f-1c2d3e4f5a21";
const TOKEN_URL: &str = "https://auth.example.com/oauth2/token";
/// An `HS256` secret of 32 bytes.
const HS_SECRET: &str = "jwt-e2e-shared-secret-0123456789";

/// The time now: minted tokens are checked against the real clock
/// (chrono's `Utc::now` needs its `clock` feature, not built here).
fn clock() -> DateTime<Utc> {
    std::time::SystemTime::now().into()
}

/// The text of a key file beside `tokens.json`.
fn key_file(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}{name}")).expect("a key file")
}

/// A registry of one service that authenticates with the named entry
/// `crm`, and two webhooks for every call's hangup, so one dispatch makes
/// two deliveries.
fn registry(entry: Value) -> Registry {
    let webhook = |i: u32| {
        json!({
            "id": format!("7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5{i:02}"), "event": "Call:Hangup",
            "service": SERVICE, "scopes": ["*"],
        })
    };
    let text = json!({
        "auth_configs": {"crm": entry},
        "services": [{
            "id": SERVICE, "name": "crm", "method": "POST",
            "url": "https://crm.example.com/calls?src=pbx",
            "body": {"kind": "json", "template": r##"{"agentId": "#agent_id#"}"##},
            "auth": {"kind": "named", "name": "crm"},
        }],
        "webhooks": [webhook(1), webhook(2)],
    })
    .to_string();
    let config = Config::from_json(&text).unwrap_or_else(|e| panic!("the configuration: {e}"));
    Registry::from_config(&config, Catalog::standard().clone())
        .unwrap_or_else(|e| panic!("the configuration does not load: {e}"))
}

/// The deliveries of one hangup, as dispatched at `at`.
fn dispatch(registry: &Registry, at: DateTime<Utc>) -> Vec<Outgoing> {
    let call = Call::new(
        "bfd7e62a-5a55-4286-9453-b4b4cfc5cca8",
        CallData::new().with("agent_id", "1001"),
    );
    let dispatch = registry.dispatch(Event::CallHangup, &call, at);
    assert!(dispatch.errors.is_empty(), "{:?}", dispatch.errors);
    assert_eq!(dispatch.requests.len(), 2);
    for outgoing in &dispatch.requests {
        assert!(
            !outgoing.request.headers().contains_key("authorization"),
            "dispatch adds no credential"
        );
    }
    dispatch.requests
}

/// `outgoing` prepared for sending at `at`: a JWT needs no token request.
fn prepare(registry: &Registry, outgoing: &mut Outgoing, at: DateTime<Utc>) {
    match registry.prepare(outgoing, at, &TokenCache::new()) {
        Ok(Prepared::Ready) => {}
        other => panic!("not ready: {other:?}"),
    }
}

/// The bearer token of a prepared request's `Authorization` header.
fn bearer(outgoing: &Outgoing) -> String {
    let value = &outgoing.request.headers()["authorization"];
    assert!(value.is_sensitive(), "the token is marked sensitive");
    value
        .to_str()
        .unwrap()
        .strip_prefix("Bearer ")
        .expect("`Bearer ` and the token")
        .to_owned()
}

/// Verifies `token` with `key` as a receiver would, against the real
/// clock, with `aud` checked when given; its header and claims.
fn verify(
    token: &str,
    algorithm: Algorithm,
    key: &DecodingKey,
    aud: Option<&str>,
) -> (jsonwebtoken::Header, Value) {
    let mut validation = Validation::new(algorithm);
    validation.set_required_spec_claims(&["exp", "iat"]);
    match aud {
        Some(aud) => validation.set_audience(&[aud]),
        None => validation.validate_aud = false,
    }
    let decoded = jsonwebtoken::decode::<Value>(token, key, &validation)
        .unwrap_or_else(|e| panic!("{token}: {e}"));
    (decoded.header, decoded.claims)
}

/// `exp - iat` of `claims`, and `iat`.
fn lifetime(claims: &Value) -> (i64, i64) {
    let iat = claims["iat"].as_i64().expect("`iat`");
    (claims["exp"].as_i64().expect("`exp`") - iat, iat)
}

#[test]
fn hs256_static_claims_give_one_token_per_window() {
    let registry = registry(json!({
        "kind": "jwt", "algorithm": "HS256", "key": HS_SECRET,
        "claims": {"iss": "callhook", "aud": "crm", "scope": ["calls:write"]},
        "expires_in": 300,
    }));
    let key = DecodingKey::from_secret(HS_SECRET.as_bytes());
    let at = clock();
    let mut deliveries = dispatch(&registry, at);
    prepare(&registry, &mut deliveries[0], at);
    let first = bearer(&deliveries[0]);
    let (header, claims) = verify(&first, Algorithm::HS256, &key, Some("crm"));
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(
        lifetime(&claims),
        (300, at.timestamp()),
        "exp - iat == expires_in"
    );
    assert_eq!(
        claims,
        json!({
            "iss": "callhook", "aud": "crm", "scope": ["calls:write"],
            "iat": at.timestamp(), "exp": at.timestamp() + 300,
        })
    );

    // Another delivery within the window gets the same token.
    prepare(&registry, &mut deliveries[1], at + TimeDelta::seconds(10));
    assert_eq!(bearer(&deliveries[1]), first, "static claims, one window");
    // A retry prepared later replaces the credential: still the same
    // token until a tenth of its life (30 s) before `exp`...
    let mut retry = deliveries[0].clone();
    prepare(&registry, &mut retry, at + TimeDelta::seconds(269));
    assert_eq!(bearer(&retry), first);
    // ...then a new one, issued at the signing time.
    let later = at + TimeDelta::seconds(271);
    prepare(&registry, &mut retry, later);
    let renewed = bearer(&retry);
    assert_ne!(renewed, first, "a token close to `exp` is minted anew");
    let (_, claims) = verify(&renewed, Algorithm::HS256, &key, Some("crm"));
    assert_eq!(lifetime(&claims), (300, later.timestamp()));

    // Another secret does not verify it.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_aud = false;
    let other = DecodingKey::from_secret(b"another-shared-secret-0123456789");
    assert!(jsonwebtoken::decode::<Value>(&first, &other, &validation).is_err());
}

#[test]
fn rs256_per_delivery_claims_give_each_delivery_its_token() {
    let registry = registry(json!({
        "kind": "jwt", "algorithm": "RS256", "key": key_file("rsa-2048.pem"),
        "headers": {"kid": "2025-01"},
        "claims": {"iss": "callhook", "jti": "#delivery_id#", "evt": "#event#", "svc": "#service#"},
        "expires_in": 120,
    }));
    let key = DecodingKey::from_rsa_pem(key_file("rsa-2048.pub.pem").as_bytes()).unwrap();
    let at = clock();
    let mut deliveries = dispatch(&registry, at);
    let mut tokens = Vec::new();
    for outgoing in &mut deliveries {
        prepare(&registry, outgoing, at);
        let token = bearer(outgoing);
        let (header, claims) = verify(&token, Algorithm::RS256, &key, None);
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some("2025-01"));
        assert_eq!(lifetime(&claims), (120, at.timestamp()));
        assert_eq!(claims["jti"], outgoing.delivery.as_str());
        assert_eq!(claims["evt"], "Call:Hangup");
        assert_eq!(claims["svc"], SERVICE);
        assert_eq!(claims["iss"], "callhook");
        tokens.push(token);
    }
    assert_ne!(
        deliveries[0].delivery.as_str(),
        deliveries[1].delivery.as_str()
    );
    assert_ne!(tokens[0], tokens[1], "placeholders: a token per delivery");
    // The same delivery, prepared again at the same time: its claims are
    // the same, and RS256 (PKCS#1 v1.5) signs deterministically.
    let mut again = deliveries[0].clone();
    prepare(&registry, &mut again, at);
    assert_eq!(bearer(&again), tokens[0]);
}

#[test]
fn a_jwt_travels_in_a_query_parameter() {
    let registry = registry(json!({
        "kind": "jwt", "algorithm": "ES256", "key": key_file("ec-p256.pem"),
        "claims": {"iss": "callhook", "aud": "crm"},
        "expires_in": 600,
        "add_to": {"to": "query", "param": "token"},
    }));
    let key = DecodingKey::from_ec_pem(key_file("ec-p256.pub.pem").as_bytes()).unwrap();
    let at = clock();
    let mut deliveries = dispatch(&registry, at);
    let outgoing = &mut deliveries[0];
    prepare(&registry, outgoing, at);
    assert!(!outgoing.request.headers().contains_key("authorization"));
    let url = url::Url::parse(&outgoing.request.uri().to_string()).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    assert_eq!(pairs[0], ("src".to_owned(), "pbx".to_owned()));
    assert_eq!(pairs[1].0, "token", "the token is appended last");
    let token = &pairs[1].1;
    let (header, claims) = verify(token, Algorithm::ES256, &key, Some("crm"));
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(lifetime(&claims), (600, at.timestamp()));
    // A query key is secret whatever its name: no view shows it.
    assert!(!format!("{outgoing:?}").contains(token.as_str()));
    assert!(!format!("{:?}", outgoing.preview(false)).contains(token.as_str()));
}

/// The token request an OAuth2 entry needs first, with nothing cached.
fn token_request(entry: Value, at: DateTime<Utc>) -> TokenRequest {
    let registry = registry(entry);
    let mut outgoing = dispatch(&registry, at).remove(0);
    match registry.prepare(&mut outgoing, at, &TokenCache::new()) {
        Ok(Prepared::TokenNeeded(request)) => *request,
        other => panic!("no token request: {other:?}"),
    }
}

/// The value of `name` in a token request's form.
fn form_value(request: &TokenRequest, name: &str) -> String {
    form_urlencoded::parse(request.request().body())
        .find_map(|(k, v)| (k == name).then(|| v.into_owned()))
        .unwrap_or_else(|| panic!("no `{name}` in the token request's form"))
}

/// Verifies an RFC 7523 assertion for the client `client_id` at
/// `TOKEN_URL` (RFC 7523 §3: `iss`, `sub`, `aud`, `exp`).
fn verify_assertion(assertion: &str, client_id: &str) -> Value {
    let key = DecodingKey::from_rsa_pem(key_file("rsa-2048.pub.pem").as_bytes()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
    validation.set_audience(&[TOKEN_URL]);
    validation.set_issuer(&[client_id]);
    validation.sub = Some(client_id.to_owned());
    jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .unwrap_or_else(|e| panic!("the assertion: {e}"))
        .claims
}

#[test]
fn oauth2_client_assertions_and_jwt_bearer_grants_verify() {
    let at = clock();
    // Client authentication by a minted assertion (RFC 7523 §2.2).
    let assertion_entry = json!({
        "kind": "oauth2", "token_url": TOKEN_URL, "client_id": "callhook-client",
        "grant": {"type": "client_credentials"},
        "client_auth": {"jwt_assertion": {
            "algorithm": "RS256", "key": key_file("rsa-2048.pem"), "expires_in": 60,
        }},
    });
    let mut ids = Vec::new();
    for _ in 0..2 {
        let request = token_request(assertion_entry.clone(), at);
        assert_eq!(request.request().uri(), TOKEN_URL);
        assert!(!request.request().headers().contains_key("authorization"));
        assert_eq!(form_value(&request, "grant_type"), "client_credentials");
        assert_eq!(form_value(&request, "client_id"), "callhook-client");
        assert_eq!(
            form_value(&request, "client_assertion_type"),
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        );
        let assertion = form_value(&request, "client_assertion");
        assert!(
            !format!("{request:?}").contains(&assertion),
            "a token request's Debug hides the assertion"
        );
        let claims = verify_assertion(&assertion, "callhook-client");
        assert_eq!(lifetime(&claims), (60, at.timestamp()));
        let jti = claims["jti"].as_str().expect("a `jti`").to_owned();
        assert!(!jti.is_empty());
        ids.push(jti);
    }
    assert_ne!(ids[0], ids[1], "each assertion has its own `jti`");

    // The JWT bearer grant with a minted assertion (RFC 7523 §2.1), by a
    // public client identified in the body.
    let request = token_request(
        json!({
            "kind": "oauth2", "token_url": TOKEN_URL, "client_id": "callhook-client",
            "client_auth": "body",
            "grant": {"type": "jwt_bearer", "assertion": {
                "algorithm": "RS256", "key": key_file("rsa-2048.pem"),
                "claims": {"scope": "calls:write"}, "expires_in": 300,
            }},
        }),
        at,
    );
    assert_eq!(
        form_value(&request, "grant_type"),
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    assert_eq!(form_value(&request, "client_id"), "callhook-client");
    let claims = verify_assertion(&form_value(&request, "assertion"), "callhook-client");
    assert_eq!(claims["scope"], "calls:write");
    assert_eq!(lifetime(&claims), (300, at.timestamp()));
}
