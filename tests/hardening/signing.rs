//! Signing and verifying: Twilio conformance (ports, empty query), bounded verification, weak keys refused.
//!
//! Part of `tests/hardening.rs` (issue 19, second hardening round); the
//! helpers `service`, `config`, `load` and `call` come from there.

use super::*;
use callhook::limits::{
    FORM_PARAMETERS, SHORTEST_TWILIO_TOKEN, TWILIO_BODY_BYTES, TWILIO_URL_BYTES,
};
use callhook::signing::{twilio_signature, verify_twilio};

/// A token as long as Twilio's (32 hex characters).
const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// `n` form parameters: distinct names (the shape that once made
/// `verify_twilio` quadratic, as it went through every parameter for each
/// name) or one name with `n` values.
fn params(n: usize, distinct: bool) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let name = if distinct {
                format!("Param{i:05}")
            } else {
                "Digits".to_owned()
            };
            (name, format!("v{}", (i * 7919) % n))
        })
        .collect()
}

/// Guards the cost of `verify_twilio` (issue 19: 40,000 parameters took
/// 23.6 s, the work quadratic in their number). At the limit, a request
/// with distinct names and one with a repeated name both verify; one
/// parameter more, a URL or a body past theirs, is refused with an error
/// naming the limit, before any hashing. Time is not asserted (shared
/// machines); the limit is what bounds the work, and the callgrind figures
/// in the commit show the work is linear up to it.
#[test]
fn verify_twilio_is_bounded() {
    let url = "https://crm.example.com/twilio?src=pbx";
    for distinct in [true, false] {
        let at_limit = params(FORM_PARAMETERS, distinct);
        let signature = twilio_signature(TOKEN, url, &at_limit);
        verify_twilio(TOKEN, url, &at_limit, b"", &signature)
            .unwrap_or_else(|e| panic!("{FORM_PARAMETERS} parameters refused: {e}"));
        // The order they come in does not matter.
        let mut reversed = at_limit.clone();
        reversed.reverse();
        verify_twilio(TOKEN, url, &reversed, b"", &signature).unwrap();

        let mut over = at_limit;
        over.push(("One".into(), "more".into()));
        let signature = twilio_signature(TOKEN, url, &over);
        let err = verify_twilio(TOKEN, url, &over, b"", &signature).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Signature, "{err}");
        assert!(err.message().contains("10000"), "{err}");
    }

    // The URL and the body are bounded too, whatever the signature.
    let long_url = format!("{url}&pad={}", "a".repeat(TWILIO_URL_BYTES));
    let signature = twilio_signature(TOKEN, &long_url, &[]);
    let err = verify_twilio(TOKEN, &long_url, &[], b"", &signature).unwrap_err();
    assert!(
        err.message().contains(&TWILIO_URL_BYTES.to_string()),
        "{err}"
    );
    let big_body = vec![b'a'; TWILIO_BODY_BYTES + 1];
    let hashed = format!(
        "{url}&bodySHA256={}",
        callhook::signing::body_sha256(&big_body)
    );
    let signature = twilio_signature(TOKEN, &hashed, &[]);
    let err = verify_twilio(TOKEN, &hashed, &[], &big_body, &signature).unwrap_err();
    assert!(
        err.message().contains(&TWILIO_BODY_BYTES.to_string()),
        "{err}"
    );
    // Parameters holding more bytes than a body may are refused as well:
    // they are what the body decoded to.
    let huge = vec![("Big".to_owned(), "b".repeat(TWILIO_BODY_BYTES + 1))];
    let signature = twilio_signature(TOKEN, url, &huge);
    let err = verify_twilio(TOKEN, url, &huge, b"", &signature).unwrap_err();
    assert!(
        err.message().contains(&TWILIO_BODY_BYTES.to_string()),
        "{err}"
    );
    assert_eq!(FORM_PARAMETERS, 10_000);
}

/// Guards Twilio's port rule (issue 19): their Python and Node validators
/// try the URL without its port and with its port (the default one added
/// when it has none), so a receiver behind `:8443` verifies what Twilio
/// signed without the port. Every scheme and port shape is checked, and
/// forms neither library tries (another port, the default port beside a
/// non-default one) stay refused.
#[test]
fn verify_twilio_tries_the_forms_twilio_validators_try() {
    let params = vec![("CallSid".to_owned(), "CA123".to_owned())];
    // (URL received, forms that must verify, forms that must not)
    let cases: [(&str, &[&str], &[&str]); 6] = [
        (
            "https://crm.example.com:8443/hooks?x=1",
            &[
                "https://crm.example.com:8443/hooks?x=1",
                "https://crm.example.com/hooks?x=1",
            ],
            &[
                "https://crm.example.com:443/hooks?x=1",
                "https://crm.example.com:8444/hooks?x=1",
            ],
        ),
        (
            "http://crm.example.com:8080/hooks",
            &[
                "http://crm.example.com:8080/hooks",
                "http://crm.example.com/hooks",
            ],
            &["http://crm.example.com:80/hooks"],
        ),
        (
            "https://crm.example.com/hooks",
            &[
                "https://crm.example.com/hooks",
                "https://crm.example.com:443/hooks",
            ],
            &["https://crm.example.com:8443/hooks"],
        ),
        (
            "https://crm.example.com:443/hooks",
            &[
                "https://crm.example.com:443/hooks",
                "https://crm.example.com/hooks",
            ],
            &["http://crm.example.com/hooks"],
        ),
        (
            "http://crm.example.com/hooks",
            &[
                "http://crm.example.com/hooks",
                "http://crm.example.com:80/hooks",
            ],
            &["http://crm.example.com:443/hooks"],
        ),
        (
            "http://crm.example.com:443/hooks",
            &[
                "http://crm.example.com:443/hooks",
                "http://crm.example.com/hooks",
            ],
            &["http://crm.example.com:80/hooks"],
        ),
    ];
    for (received, accepted, refused) in cases {
        for signed in accepted {
            let signature = twilio_signature(TOKEN, signed, &params);
            verify_twilio(TOKEN, received, &params, b"", &signature).unwrap_or_else(|e| {
                panic!("signed for {signed}, received at {received}: refused: {e}")
            });
        }
        for signed in refused {
            let signature = twilio_signature(TOKEN, signed, &params);
            assert!(
                verify_twilio(TOKEN, received, &params, b"", &signature).is_err(),
                "signed for {signed}, received at {received}: accepted"
            );
        }
    }
}

/// Guards the empty query (issue 19): a URL template ending in `?` sent
/// the `?`, which Twilio's Python validator drops before it checks the
/// signature, so it refused callhook's request. Every way a URL is built
/// (a static URL, one with a placeholder, a query that renders empty, a
/// `GET` adding its pairs, a JSON body whose hash Twilio signing adds) now
/// sends no empty `?`, and what is signed verifies at the URL sent.
#[test]
fn no_request_is_sent_with_an_empty_query() {
    let json_body = json!({"kind": "json", "template": "{\"ani\": \"#ani#\"}"});
    let form_body = json!({"kind": "form", "pairs": [{"key": "ani", "value": "#ani#"}]});
    let cases = [
        ("POST", "https://crm.example.com/calls?", json_body.clone()),
        (
            "POST",
            "https://crm.example.com/calls/#ani#?",
            json_body.clone(),
        ),
        (
            "POST",
            "https://crm.example.com/calls?#dnis#",
            json_body.clone(),
        ),
        ("POST", "https://crm.example.com/calls?", form_body.clone()),
        ("GET", "https://crm.example.com/calls?", form_body.clone()),
        ("POST", "https://crm.example.com:8443/calls?", form_body),
    ];
    for (method, url, body) in cases {
        let registry = load(json!({
            "method": method, "url": url, "body": body,
            "signing": {"kind": "twilio", "token": TOKEN},
        }))
        .unwrap_or_else(|e| panic!("{url}: {e}"));
        let at = t("2024-12-02T21:00:00Z");
        let mut dispatch = registry.dispatch(Event::CallHangup, &call(), at);
        assert!(dispatch.errors.is_empty(), "{url}: {:?}", dispatch.errors);
        let mut outgoing = dispatch.requests.remove(0);
        let unsigned = outgoing.request.uri().to_string();
        assert!(!unsigned.ends_with('?'), "{method} {url}: sent {unsigned}");
        registry.sign(&mut outgoing, at).unwrap();
        let request = &outgoing.request;
        let sent = request.uri().to_string();
        assert_ne!(request.uri().query(), Some(""), "{method} {url}: {sent}");
        assert!(!sent.contains("?&"), "{method} {url}: {sent}");
        // What a receiver parses from the body, and what Python's
        // `urlparse(url).geturl()` gives for the URL: the same text.
        let form = request
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"application/x-www-form"));
        let params: Vec<(String, String)> = if form {
            form_urlencoded::parse(request.body())
                .into_owned()
                .collect()
        } else {
            Vec::new()
        };
        let signature = request.headers()["x-twilio-signature"].to_str().unwrap();
        verify_twilio(TOKEN, &sent, &params, request.body(), signature)
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    }
}

/// Guards the Twilio auth token's length (issue 19): a 1-byte token was
/// accepted, at load and by `verify_twilio`. Twilio's are 32 hex
/// characters; anything under 16 bytes is refused in both places with an
/// error naming the minimum, as Standard Webhooks keys under 24 bytes are.
#[test]
fn short_twilio_tokens_are_refused() {
    for length in [1, 5, SHORTEST_TWILIO_TOKEN - 1] {
        let token = &TOKEN[..length];
        let err = load(json!({"signing": {"kind": "twilio", "token": token}})).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Signature, "{err}");
        assert_eq!(err.field(), Some("signing"), "{err}");
        assert!(err.message().contains("16"), "{err}");
        if length >= 5 {
            assert!(!err.to_string().contains(token), "{err}");
        }

        let url = "https://crm.example.com/calls";
        let signature = twilio_signature(token, url, &[]);
        let err = verify_twilio(token, url, &[], b"", &signature).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Signature, "{err}");
        assert!(err.message().contains("16"), "{err}");
    }
    let token = &TOKEN[..SHORTEST_TWILIO_TOKEN];
    load(json!({"signing": {"kind": "twilio", "token": token}})).unwrap();
    let signature = twilio_signature(token, "https://a.example.com/", &[]);
    verify_twilio(token, "https://a.example.com/", &[], b"", &signature).unwrap();
    assert_eq!(SHORTEST_TWILIO_TOKEN, 16);
}
