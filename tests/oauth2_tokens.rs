//! OAuth2 to the receiver through the public API, as a host drives it:
//! a token request built from a configuration's entry, sent by the host,
//! its answer read into the host's `TokenCache`, the cache shared as JSON.
//! The requests and responses are RFC 6749's and RFC 7523's examples.

use callhook::{Auth, ClientAuth, ErrorKind, OAuth2Auth, TokenCache};
use chrono::{DateTime, TimeDelta, Utc};
use http::StatusCode;

fn now() -> DateTime<Utc> {
    "2024-12-02T21:11:37Z".parse().unwrap()
}

/// An entry as a configuration writes it.
fn entry(json: &str) -> OAuth2Auth {
    match serde_json::from_str::<Auth>(json).unwrap() {
        Auth::OAuth2(auth) => *auth,
        other => panic!("not an oauth2 entry: {other:?}"),
    }
}

#[test]
fn password_grant_from_a_configuration_rfc_6749_4_3() {
    let auth = entry(
        r#"{"kind": "oauth2", "token_url": "https://server.example.com/token",
            "grant": {"type": "password", "username": "johndoe", "password": "A3ddj3w"},
            "client_id": "s6BhdRkqt3", "client_secret": "gX1fBat3bV"}"#,
    );
    let mut cache = TokenCache::new();
    let request = auth.token_request("crm", &cache, now()).unwrap();
    assert_eq!(request.key(), "crm");
    let http = request.request();
    assert_eq!(http.method(), "POST");
    assert_eq!(
        http.headers()["authorization"],
        "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"
    );
    assert_eq!(
        http.body(),
        b"grant_type=password&username=johndoe&password=A3ddj3w"
    );
    let shown = format!("{request:?}");
    assert!(!shown.contains("A3ddj3w") && !shown.contains("czZCaGRSa3F0MzpnWDFmQmF0M2JW"));

    cache
        .accept(
            &request,
            StatusCode::OK,
            br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600}"#,
            now(),
        )
        .unwrap();
    assert_eq!(
        cache.expires_at("crm"),
        Some(now() + TimeDelta::seconds(3600))
    );
    assert_eq!(cache.len(), 1);
    cache.invalidate("crm");
    assert_eq!(cache.expires_at("crm"), None);
    // The entry stays without its token, so a merge carries the
    // invalidation; it is stored in the form every version reads (an
    // entry with no access token), and read back as it was.
    assert_eq!(cache.len(), 1);
    let back = callhook::TokenCache::from_json(&cache.to_json()).unwrap();
    assert_eq!(back, cache);
}

#[test]
fn jwt_bearer_grant_with_a_given_assertion_rfc_7523_2_1() {
    let auth = entry(
        r#"{"kind": "oauth2", "token_url": "https://authz.example.net/token",
            "grant": {"type": "jwt_bearer", "assertion": "eyJhbGciOiJFUzI1NiIsImtpZCI6IjE2In0.eyJpc3Mi.J9l-ZhwP"},
            "client_id": "s6BhdRkqt3", "client_auth": "body"}"#,
    );
    assert_eq!(auth.client_auth, ClientAuth::Body);
    let request = auth
        .token_request("crm", &TokenCache::new(), now())
        .unwrap();
    assert!(request.request().body().starts_with(
        b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer\
          &assertion=eyJhbGciOiJFUzI1NiIsImtpZCI6IjE2In0.eyJpc3Mi.J9l-ZhwP"
    ));
    assert!(!format!("{request:?}").contains("J9l-ZhwP"));
}

#[test]
fn workers_share_the_cache_as_json() {
    let auth = entry(
        r#"{"kind": "oauth2", "token_url": "https://server.example.com/token",
            "grant": {"type": "refresh_token", "refresh_token": "tGzv3JOkF0XG5Qx2TlKWIA"},
            "client_id": "s6BhdRkqt3", "client_secret": "gX1fBat3bV"}"#,
    );
    // Worker A refreshes and stores the cache.
    let mut a = TokenCache::new();
    let request = auth.token_request("crm", &a, now()).unwrap();
    a.accept(
        &request,
        StatusCode::OK,
        br#"{"access_token":"a1","expires_in":"3600","refresh_token":"r2"}"#,
        now(),
    )
    .unwrap();
    let stored = a.to_json();
    // Worker B reads it, and its next refresh sends the rotated token.
    let mut b = TokenCache::from_json(&stored).unwrap();
    assert_eq!(b, a);
    let later = now() + TimeDelta::seconds(3590);
    let request = auth.token_request("crm", &b, later).unwrap();
    assert!(request.request().body().ends_with(b"refresh_token=r2"));
    b.accept(
        &request,
        StatusCode::OK,
        br#"{"access_token":"a2","expires_in":3600}"#,
        later,
    )
    .unwrap();
    // A folds B's newer token in.
    a.merge(b.clone());
    assert_eq!(a, b);
    assert!(!format!("{a:?}").contains("a2"));
}

#[test]
fn refusals_and_broken_responses_are_told_apart() {
    let auth = entry(
        r#"{"kind": "oauth2", "token_url": "https://server.example.com/token",
            "grant": {"type": "client_credentials"},
            "client_id": "s6BhdRkqt3", "client_secret": "gX1fBat3bV"}"#,
    );
    let mut cache = TokenCache::new();
    let request = auth.token_request("crm", &cache, now()).unwrap();
    let refused = cache
        .accept(
            &request,
            StatusCode::UNAUTHORIZED,
            br#"{"error":"invalid_client","error_description":"Client authentication failed"}"#,
            now(),
        )
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::TokenRefused);
    assert_eq!(
        refused.to_string(),
        "the token endpoint refused the token request for `crm` with status 401: \
         `invalid_client` (Client authentication failed)"
    );
    let broken = cache
        .accept(
            &request,
            StatusCode::OK,
            br#"{"access_token":"a\r\nb"}"#,
            now(),
        )
        .unwrap_err();
    assert_eq!(broken.kind(), ErrorKind::InvalidTokenResponse);
    assert!(cache.is_empty());
}
