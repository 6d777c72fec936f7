//! JWTs minted for receivers (`{"kind": "jwt"}`), checked by an
//! independent library: `jsonwebtoken` 9, built on `ring`, where callhook
//! mints with `jsonwebtoken` 10's RustCrypto backend.
//!
//! The tokens are `tests/fixtures/jwt/tokens.json`, which a unit test of
//! `src/auth/jwt.rs` keeps equal to what callhook mints for each case (every
//! algorithm signs deterministically); the keys beside it were made with
//! OpenSSL (`tests/fixtures/jwt/README.md`). Each token verifies with the
//! case's public key or secret, its header and claims are the case's, and a
//! token changed in any part, or checked with another key, fails.

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
