//! The signature schemes beyond Standard Webhooks v1 and Twilio, against
//! published or independently made vectors and independent verifiers:
//!
//! - `tests/fixtures/conformance/convoy-signature.json`: Convoy's published
//!   vectors, all 17 cases, each verified at the file's `now` with the
//!   case's tolerance; the valid ones are signed again by a service and
//!   come out byte for byte.
//! - `tests/fixtures/conformance/standard-webhooks-v1a.json`: Standard
//!   Webhooks `v1a` (Ed25519) vectors written by Python's `cryptography`
//!   (`generate_v1a.py`): services sign them exactly, from either form of
//!   the `whsk_` key, and `verify_standard_v1a` agrees on every case.
//! - `ring`, a second Ed25519 implementation, verifies what services sign
//!   with `v1a`; `ring`'s HMAC recomputes the HMAC schemes' signatures;
//!   `jsonwebtoken` decodes and checks the Vonage-style tokens, and tokens
//!   it makes verify with `verify_vonage`.

use callhook_tests::conformance;
use std::collections::BTreeMap;

use base64::Engine as _;
use callhook::signing::{verify_standard_v1a, verify_vonage, PublicKey};
use callhook::{
    Catalog, HmacEncoding, HmacHash, HmacPreset, HmacSigning, Request, Secret, Service,
    ServiceConfig,
};
use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::json;

fn at(timestamp: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(timestamp, 0).expect("a time")
}

/// A service posting `body` as it is (no body when empty), signing with
/// `signing` (its configuration's JSON).
fn service(signing: serde_json::Value, body: &str) -> Service {
    let mut config = json!({
        "id": "5d1c3b2a-9e8f-4a7b-8c6d-5e4f3a2b1c99",
        "name": "signs",
        "method": "POST",
        "url": "https://crm.example.com/hook",
        "signing": signing,
    });
    if !body.is_empty() {
        config["body"] = json!({"kind": "json", "template": body});
    }
    let config = ServiceConfig::from_json(&config.to_string()).expect("a service");
    config.compile(Catalog::standard()).expect("compiles")
}

/// What `service` sends for delivery `id` at `timestamp`.
fn signed(service: &Service, id: &str, timestamp: i64) -> Request {
    let mut request = service
        .request(&callhook::CallData::new())
        .expect("renders");
    service
        .sign(&mut request, id, at(timestamp))
        .expect("signs");
    request
}

fn headers(pairs: &BTreeMap<String, String>) -> HeaderMap {
    pairs
        .iter()
        .map(|(name, value)| {
            (
                HeaderName::try_from(name.as_str()).unwrap(),
                HeaderValue::try_from(value.as_str()).unwrap(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Convoy.

#[derive(Deserialize)]
struct ConvoyFile {
    source: String,
    now: i64,
    cases: Vec<ConvoyCase>,
}

#[derive(Deserialize)]
struct ConvoyCase {
    name: String,
    advanced: bool,
    hash: String,
    encoding: String,
    secret: String,
    payload: String,
    header: String,
    tolerance: i64,
    valid: bool,
}

impl ConvoyCase {
    fn scheme(&self) -> HmacSigning {
        let preset = if self.advanced {
            HmacPreset::ConvoyAdvanced
        } else {
            HmacPreset::Convoy
        };
        let hash = match self.hash.as_str() {
            "SHA256" => HmacHash::Sha256,
            "SHA512" => HmacHash::Sha512,
            other => panic!("{}: hash {other}", self.name),
        };
        let encoding = match self.encoding.as_str() {
            "hex" => HmacEncoding::Hex,
            "base64" => HmacEncoding::Base64,
            other => panic!("{}: encoding {other}", self.name),
        };
        HmacSigning::from_preset(preset, vec![Secret::new(&self.secret)])
            .with_hash(hash)
            .with_encoding(encoding)
    }
}

#[test]
fn convoy_published_vectors_verify_as_listed() {
    let file: ConvoyFile = conformance("convoy-signature.json");
    assert!(file.source.contains("frain-dev/convoy"), "{}", file.source);
    assert_eq!(file.cases.len(), 17);
    for case in &file.cases {
        let scheme = case.scheme().scheme().expect("the scheme compiles");
        let mut headers = HeaderMap::new();
        headers.insert("x-convoy-signature", case.header.parse().unwrap());
        let body = case.payload.as_bytes();
        let verdict = if case.advanced {
            scheme.verify_at(
                &headers,
                body,
                at(file.now),
                TimeDelta::seconds(case.tolerance),
            )
        } else {
            scheme.verify(&headers, body)
        };
        assert_eq!(verdict.is_ok(), case.valid, "{}: {verdict:?}", case.name);
    }
}

/// A service signing a valid case's payload at its time writes its header
/// byte for byte (the cases whose header is in another order or holds
/// several signatures are those a sender does not write).
#[test]
fn services_sign_convoy_vectors_exactly() {
    let file: ConvoyFile = conformance("convoy-signature.json");
    let mut signed_cases = 0;
    for case in file.cases.iter().filter(|c| c.valid) {
        let expected = case.header.as_str();
        let timestamp = match expected.strip_prefix("t=") {
            Some(rest) => rest.split(',').next().unwrap().parse().unwrap(),
            None if case.advanced => continue,
            None => 1_700_000_000,
        };
        if expected.matches("v1=").count() > 1 {
            continue;
        }
        let signing = serde_json::to_value(callhook::SigningConfig::Hmac(case.scheme())).unwrap();
        let request = signed(&service(signing, &case.payload), "d-1", timestamp);
        assert_eq!(request.body(), case.payload.as_bytes(), "{}", case.name);
        assert_eq!(
            request.headers()["x-convoy-signature"],
            expected,
            "{}",
            case.name
        );
        signed_cases += 1;
    }
    assert_eq!(signed_cases, 8);
}

// ---------------------------------------------------------------------------
// Standard Webhooks `v1a`.

#[derive(Deserialize)]
struct V1aFile {
    source: String,
    keys: BTreeMap<String, String>,
    tolerance: i64,
    sign: Vec<V1aSign>,
    verify: Vec<V1aVerify>,
}

#[derive(Deserialize)]
struct V1aSign {
    name: String,
    secret: String,
    public: String,
    id: String,
    timestamp: i64,
    body: String,
    signature: String,
}

#[derive(Deserialize)]
struct V1aVerify {
    name: String,
    headers: BTreeMap<String, String>,
    body: String,
    now: i64,
    valid: bool,
}

#[test]
fn services_sign_independent_v1a_vectors_from_either_key_form() {
    let file: V1aFile = conformance("standard-webhooks-v1a.json");
    assert!(file.source.contains("cryptography"), "{}", file.source);
    assert!(
        file.sign.iter().any(|c| c.secret.len() > 60),
        "a 64-byte key"
    );
    for case in &file.sign {
        let signing = json!({"kind": "standard_webhooks_v1a", "secrets": [case.secret]});
        let request = signed(&service(signing, &case.body), &case.id, case.timestamp);
        assert_eq!(request.body(), case.body.as_bytes(), "{}", case.name);
        assert_eq!(
            request.headers()["webhook-signature"],
            case.signature.as_str(),
            "{}",
            case.name
        );
        assert_eq!(
            PublicKey::of_secret(&case.secret).unwrap().to_string(),
            case.public,
            "{}",
            case.name
        );
    }
}

#[test]
fn independent_v1a_vectors_verify_as_listed() {
    let file: V1aFile = conformance("standard-webhooks-v1a.json");
    let keys: Vec<PublicKey> = file
        .keys
        .values()
        .map(|key| PublicKey::new(key).unwrap())
        .collect();
    for case in &file.verify {
        let verdict = verify_standard_v1a(
            &keys,
            &headers(&case.headers),
            case.body.as_bytes(),
            at(case.now),
            TimeDelta::seconds(file.tolerance),
        );
        assert_eq!(verdict.is_ok(), case.valid, "{}: {verdict:?}", case.name);
    }
}

#[test]
fn v1a_keys_are_refused_plainly() {
    let file: V1aFile = conformance("standard-webhooks-v1a.json");
    let long = &file
        .sign
        .iter()
        .find(|c| c.secret.len() > 60)
        .unwrap()
        .secret;
    // The 64-byte form whose public half is another key's.
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(&long["whsk_".len()..])
        .unwrap();
    bytes[40] ^= 1;
    let forged = format!(
        "whsk_{}",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    );
    for (secret, message) in [
        (forged.as_str(), "public half"),
        ("whsk_AAAA", "32 bytes"),
        ("whsk_***", "base64"),
    ] {
        let config = ServiceConfig::from_json(
            &json!({
                "id": "5d1c3b2a-9e8f-4a7b-8c6d-5e4f3a2b1c99",
                "name": "signs",
                "method": "POST",
                "url": "https://crm.example.com/hook",
                "signing": {"kind": "standard_webhooks_v1a", "secrets": [secret]},
            })
            .to_string(),
        )
        .unwrap();
        let e = config.compile(Catalog::standard()).unwrap_err();
        assert!(e.to_string().contains(message), "{e}");
        assert!(!e.to_string().contains(secret), "{e}");
    }
    assert!(PublicKey::new("whpk_AAAA").is_err());
}

/// `ring` verifies what a service signs with each of two rotated keys.
#[test]
fn ring_verifies_v1a_signatures() {
    let secrets = [
        "whsk_/bHNMLw7dc2VkYmJoO9prpaWzeKOzZ2mGt/2HtVH5IM=",
        "whsk_uRVos87M8PF5ECaPgWs79aYM36iRzXgcqU9mzIryasg=",
    ];
    let body = r#"{"event": "Call:Hangup", "uuid": "bfd7e62a"}"#;
    let signing = json!({"kind": "standard_webhooks_v1a", "secrets": secrets});
    let request = signed(&service(signing, body), "d-42", 1_733_173_900);
    let message = format!("d-42.1733173900.{body}");
    let signatures: Vec<&str> = request.headers()["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .collect();
    assert_eq!(signatures.len(), 2);
    for (secret, signature) in secrets.iter().zip(signatures) {
        let public = PublicKey::of_secret(secret).unwrap().to_string();
        let public = base64::engine::general_purpose::STANDARD
            .decode(&public["whpk_".len()..])
            .unwrap();
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature.strip_prefix("v1a,").unwrap())
            .unwrap();
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &public)
            .verify(message.as_bytes(), &signature)
            .expect("ring verifies");
        // And callhook's own verifier, with the one key.
        verify_standard_v1a(
            &[PublicKey::of_secret(secret).unwrap()],
            request.headers(),
            body.as_bytes(),
            at(1_733_173_960),
            TimeDelta::minutes(5),
        )
        .unwrap();
    }
}

// ---------------------------------------------------------------------------
// Configurable HMAC schemes, recomputed with `ring`.

fn ring_hmac(sha512: bool, secret: &str, message: &[u8]) -> Vec<u8> {
    let algorithm = if sha512 {
        ring::hmac::HMAC_SHA512
    } else {
        ring::hmac::HMAC_SHA256
    };
    let key = ring::hmac::Key::new(algorithm, secret.as_bytes());
    ring::hmac::sign(&key, message).as_ref().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn hmac_schemes_sign_what_ring_computes() {
    let config =
        callhook::Config::from_json(include_str!("../../examples/configs/schemes.json")).unwrap();
    let body = r#"{"uuid": "bfd7e62a"}"#;
    let ts = 1_733_173_900;
    let convoy = ["c0nv0y-s1gn1ng-s3cr3t-2024", "c0nv0y-s1gn1ng-s3cr3t-2023"];
    let message = format!("{ts},{body}");
    let cases: [(&str, Vec<(&str, String)>); 4] = [
        (
            "Convoy advanced",
            vec![(
                "x-convoy-signature",
                format!(
                    "t={ts},v1={},v1={}",
                    hex(&ring_hmac(false, convoy[0], message.as_bytes())),
                    hex(&ring_hmac(false, convoy[1], message.as_bytes()))
                ),
            )],
        ),
        (
            "GitHub-style",
            vec![(
                "x-hub-signature-256",
                format!(
                    "sha256={}",
                    hex(&ring_hmac(
                        false,
                        "g1thub-styl3-w3bh00k-s3cr3t",
                        body.as_bytes()
                    ))
                ),
            )],
        ),
        (
            "Zoom-style",
            vec![
                (
                    "x-signature",
                    format!(
                        "v0={}",
                        base64::engine::general_purpose::STANDARD.encode(ring_hmac(
                            true,
                            "z00m-styl3-s3cr3t-t0k3n",
                            format!("v0:{ts}:{body}").as_bytes()
                        ))
                    ),
                ),
                ("x-request-timestamp", ts.to_string()),
            ],
        ),
        (
            "Zoom preset",
            vec![
                (
                    "x-zm-signature",
                    format!(
                        "v0={}",
                        hex(&ring_hmac(
                            false,
                            "zoom-secret-token-0123",
                            format!("v0:{ts}:{body}").as_bytes()
                        ))
                    ),
                ),
                ("x-zm-request-timestamp", ts.to_string()),
            ],
        ),
    ];
    for (name, expected) in cases {
        let signing = match config.services.iter().find(|s| s.name.contains(name)) {
            Some(s) => serde_json::to_value(s.signing.as_ref().unwrap()).unwrap(),
            None => json!({"kind": "hmac", "preset": "zoom", "secrets": "zoom-secret-token-0123"}),
        };
        let service = service(signing.clone(), body);
        let request = signed(&service, "d-1", ts);
        for (header, value) in &expected {
            assert_eq!(
                request.headers()[*header],
                value.as_str(),
                "{name}: {header}"
            );
        }
        // The receiver's side, with the same setting.
        let hmac: HmacSigning = match serde_json::from_value(signing).unwrap() {
            callhook::SigningConfig::Hmac(hmac) => hmac,
            other => panic!("{other:?}"),
        };
        let scheme = hmac.scheme().unwrap();
        let verdict = if scheme.is_timed() {
            scheme.verify_at(
                request.headers(),
                body.as_bytes(),
                at(ts + 30),
                TimeDelta::minutes(5),
            )
        } else {
            scheme.verify(request.headers(), body.as_bytes())
        };
        verdict.unwrap_or_else(|e| panic!("{name}: {e}"));
        if scheme.is_timed() {
            let late = at(ts + 301);
            assert!(scheme
                .verify_at(
                    request.headers(),
                    body.as_bytes(),
                    late,
                    TimeDelta::minutes(5)
                )
                .is_err());
            assert!(scheme.verify(request.headers(), body.as_bytes()).is_err());
        }
        assert!(
            scheme
                .verify_at(request.headers(), b"{}", at(ts), TimeDelta::minutes(5))
                .is_err()
                || !scheme.is_timed()
        );
    }
}

/// GitHub's published example: secret, payload and signature from its
/// documentation on validating webhook deliveries.
#[test]
fn github_documented_example_verifies() {
    let scheme = HmacSigning::from_preset(
        HmacPreset::Github,
        vec![Secret::new("It's a Secret to Everybody")],
    )
    .scheme()
    .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-hub-signature-256",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
            .parse()
            .unwrap(),
    );
    scheme.verify(&headers, b"Hello, World!").unwrap();
    assert!(scheme.verify(&headers, b"Hello, World?").is_err());
}

#[test]
fn hmac_settings_that_cannot_work_are_refused() {
    let secret = "a-secret-of-24-bytes-len";
    for (signing, message) in [
        (
            json!({"kind": "hmac", "secrets": [secret]}),
            "give `header`",
        ),
        (
            json!({"kind": "hmac", "header": "X-Sig", "message": "{timestamp}", "secrets": [secret]}),
            "`{body}`",
        ),
        (
            json!({"kind": "hmac", "header": "X-Sig", "message": "{ts}.{body}", "secrets": [secret]}),
            "`{ts}.{body}`",
        ),
        (
            json!({"kind": "hmac", "header": "X-Sig", "message": "{timestamp}.{body}", "secrets": [secret]}),
            "timestamp_header",
        ),
        (
            json!({"kind": "hmac", "header": "X-Sig", "message": "{id}{body}", "secrets": [secret]}),
            "id_header",
        ),
        (
            json!({"kind": "hmac", "preset": "github", "secrets": [secret, secret]}),
            "one secret",
        ),
        (
            json!({"kind": "hmac", "preset": "github", "secrets": ["short"]}),
            "SHORTEST_HMAC_SECRET",
        ),
        (
            json!({"kind": "hmac", "preset": "github", "header": "bad header", "secrets": [secret]}),
            "not a header name",
        ),
        (
            json!({"kind": "vonage", "secret": "short"}),
            "SHORTEST_HMAC_SECRET",
        ),
    ] {
        let config = ServiceConfig::from_json(
            &json!({
                "id": "5d1c3b2a-9e8f-4a7b-8c6d-5e4f3a2b1c99",
                "name": "signs",
                "method": "POST",
                "url": "https://crm.example.com/hook",
                "signing": signing,
            })
            .to_string(),
        )
        .unwrap();
        let e = config.compile(Catalog::standard()).unwrap_err();
        assert!(e.to_string().contains(message), "{signing}: {e}");
        assert!(!e.to_string().contains(secret), "{e}");
    }
    // A header the scheme writes cannot also be set by hand.
    let config = ServiceConfig::from_json(
        &json!({
            "id": "5d1c3b2a-9e8f-4a7b-8c6d-5e4f3a2b1c99",
            "name": "signs",
            "method": "POST",
            "url": "https://crm.example.com/hook",
            "headers": [{"key": "X-Hub-Signature-256", "value": "x"}],
            "signing": {"kind": "hmac", "preset": "github", "secrets": [secret]},
        })
        .to_string(),
    )
    .unwrap();
    assert!(config.compile(Catalog::standard()).is_err());
}

// ---------------------------------------------------------------------------
// Vonage-style JWTs, against `jsonwebtoken`.

const VONAGE_SECRET: &str = "v0nag3-s1gnatur3-s3cr3t-0123456789";

#[derive(Debug, Deserialize, serde::Serialize)]
struct VonageClaims {
    iat: i64,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    iss: Option<String>,
    payload_hash: String,
}

fn sha256_hex(body: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, body).as_ref())
}

fn validation() -> jsonwebtoken::Validation {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    validation
}

#[test]
fn jsonwebtoken_accepts_vonage_tokens() {
    let body = r#"{"status": "answered", "uuid": "bfd7e62a"}"#;
    let signing = json!({"kind": "vonage", "secret": VONAGE_SECRET, "issuer": "callhook"});
    let request = signed(&service(signing, body), "d-7", 1_733_173_900);
    let authorization = request.headers()["authorization"].to_str().unwrap();
    assert!(request.headers()["authorization"].is_sensitive());
    let token = authorization.strip_prefix("Bearer ").unwrap();
    let decoded = jsonwebtoken::decode::<VonageClaims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(VONAGE_SECRET.as_bytes()),
        &validation(),
    )
    .expect("jsonwebtoken accepts the token");
    assert_eq!(decoded.header.alg, jsonwebtoken::Algorithm::HS256);
    assert_eq!(decoded.claims.iat, 1_733_173_900);
    assert_eq!(decoded.claims.payload_hash, sha256_hex(body.as_bytes()));
    assert_eq!(decoded.claims.jti.as_deref(), Some("d-7.1733173900"));
    assert_eq!(decoded.claims.iss.as_deref(), Some("callhook"));
    // A wrong secret fails with jsonwebtoken too.
    assert!(jsonwebtoken::decode::<VonageClaims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(b"another secret"),
        &validation(),
    )
    .is_err());
    // callhook's verifier agrees.
    verify_vonage(
        VONAGE_SECRET,
        request.headers(),
        body.as_bytes(),
        at(1_733_173_960),
        TimeDelta::minutes(5),
    )
    .unwrap();
}

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    headers
}

#[test]
fn verify_vonage_checks_tokens_jsonwebtoken_makes() {
    let body = br#"{"status": "completed"}"#;
    let now = 1_733_173_900;
    let token = |algorithm, secret: &str, claims: &VonageClaims| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(algorithm),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let claims = |iat, hash: String| VonageClaims {
        iat,
        jti: Some("a".into()),
        iss: Some("Vonage".into()),
        payload_hash: hash,
    };
    let good = claims(now, sha256_hex(body));
    let verify = |token: &str, body: &[u8]| {
        verify_vonage(
            VONAGE_SECRET,
            &bearer(token),
            body,
            at(now + 10),
            TimeDelta::minutes(5),
        )
    };
    use jsonwebtoken::Algorithm::{HS256, HS512};
    verify(&token(HS256, VONAGE_SECRET, &good), body).unwrap();
    for (name, token, body) in [
        (
            "tampered body",
            token(HS256, VONAGE_SECRET, &good),
            &b"{}"[..],
        ),
        (
            "other secret",
            token(HS256, "another-secret-entirely", &good),
            body,
        ),
        ("HS512", token(HS512, VONAGE_SECRET, &good), body),
        (
            "old",
            token(HS256, VONAGE_SECRET, &claims(now - 400, sha256_hex(body))),
            body,
        ),
        (
            "upper-case hash",
            token(
                HS256,
                VONAGE_SECRET,
                &claims(now, sha256_hex(body).to_uppercase()),
            ),
            body,
        ),
    ] {
        assert!(verify(&token, body).is_err(), "{name}");
    }
    // An unsigned token (`alg: none`) and a token past the limit.
    let none = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good).unwrap())
    );
    let e = verify(&none, body).unwrap_err();
    assert!(e.to_string().contains("HS256"), "{e}");
    let long = "a".repeat(callhook::limits::JWT_BYTES + 1);
    let e = verify(&long, body).unwrap_err();
    assert!(e.to_string().contains("JWT_BYTES"), "{e}");
}
