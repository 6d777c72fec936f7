//! OAuth2's secrets stay secret, as a property: for random client secrets,
//! passwords, refresh tokens, given assertions, parameter values and
//! access tokens, over every grant and client authentication, no `Debug`
//! (the entry, the token request, the cache) and no error message (of a
//! check-free request, of a refused or malformed token response, of a
//! stored cache) shows one, as written or form-, percent- or
//! base64-encoded.

use base64::Engine as _;
use callhook::{
    Assertion, Auth, ClientAuth, Grant, OAuth2Auth, Secret, TokenCache, TokenParameter,
};
use http::StatusCode;
use proptest::prelude::*;

fn at() -> chrono::DateTime<chrono::Utc> {
    "2024-12-02T21:11:37Z".parse().unwrap()
}

/// The ways a secret may show: as written, form- and percent-encoded, and
/// base64 at each alignment.
fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![
        secret.to_owned(),
        form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
    ];
    for pad in ["", "x", "xy"] {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{pad}{secret}"));
        // Skip the characters that mix with the padding's.
        let skip = (pad.len() * 4).div_ceil(3) + 1;
        forms.push(encoded[skip..encoded.len().saturating_sub(4)].to_owned());
    }
    forms
}

fn assert_hidden(view: &str, secrets: &[&str]) {
    for secret in secrets {
        for form in forms(secret) {
            assert!(!view.contains(&form), "`{form}` shows in {view}");
        }
    }
}

fn grants(password: &str, refresh: &str, assertion: &str) -> Vec<Grant> {
    vec![
        Grant::ClientCredentials,
        Grant::Password {
            username: "johndoe".into(),
            password: Secret::new(password),
        },
        Grant::RefreshToken {
            refresh_token: Secret::new(refresh),
        },
        Grant::JwtBearer {
            assertion: Assertion::Given(Secret::new(assertion)),
        },
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_view_shows_an_oauth2_secret(
        client_secret in "[A-Za-z0-9]{24,40}",
        password in "[A-Za-z0-9]{24,40}",
        refresh in "[A-Za-z0-9]{24,40}",
        assertion in "[A-Za-z0-9]{24,40}",
        parameter in "[A-Za-z0-9]{24,40}",
        access in "[A-Za-z0-9]{24,40}",
        rotated in "[A-Za-z0-9]{24,40}",
    ) {
        let secrets = [
            client_secret.as_str(),
            password.as_str(),
            refresh.as_str(),
            assertion.as_str(),
            parameter.as_str(),
            access.as_str(),
            rotated.as_str(),
        ];
        for grant in grants(&password, &refresh, &assertion) {
            for client_auth in [ClientAuth::Basic, ClientAuth::Body, ClientAuth::Query] {
                let mut auth = OAuth2Auth::new("https://auth.example.com/token", "callhook", grant.clone());
                auth.client_secret = Some(Secret::new(client_secret.as_str()));
                auth.client_auth = client_auth;
                auth.parameters = vec![TokenParameter::new("resource", Secret::new(parameter.as_str()))];
                assert_hidden(&format!("{auth:?}"), &secrets);
                assert_hidden(&format!("{:?}", Auth::OAuth2(Box::new(auth.clone()))), &secrets);

                let mut cache = TokenCache::new();
                let request = auth.token_request("crm", &cache, at()).unwrap();
                assert_hidden(&format!("{request:?}"), &secrets);

                let good = format!(
                    r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":3600,"refresh_token":"{rotated}"}}"#
                );
                cache.accept(&request, StatusCode::OK, good.as_bytes(), at()).unwrap();
                assert_hidden(&format!("{cache:?}"), &secrets);
                let stored = cache.to_json();
                let broken = stored.replace(&access, &format!("{access}\\n"));
                let err = TokenCache::from_json(&broken).unwrap_err();
                assert_hidden(&err.to_string(), &secrets);
                assert_hidden(&format!("{err:?}"), &secrets);

                // Responses refused for what they hold around a token.
                for body in [
                    format!(r#"{{"access_token":"{access}","token_type":"mac"}}"#),
                    format!(r#"{{"access_token":"{access} {rotated}"}}"#),
                    format!(r#"{{"access_token":"{access}","access_token":"{rotated}"}}"#),
                    format!(r#"{{"access_token":"{access}","expires_in":"{rotated}"}}"#),
                    format!(r#"{{"access_token":"{access}","refresh_token":"{rotated}\n"}}"#),
                    format!(r#"{{"error":"invalid_grant","refresh_token":"{rotated}"}}"#),
                    format!(r#"{{"access_token":"{access}" "#),
                ] {
                    let mut cache = TokenCache::new();
                    for status in [StatusCode::OK, StatusCode::BAD_REQUEST] {
                        let err = cache.accept(&request, status, body.as_bytes(), at()).unwrap_err();
                        assert_hidden(&err.to_string(), &secrets);
                        assert_hidden(&format!("{err:?}"), &secrets);
                    }
                }
            }
        }
    }
}
