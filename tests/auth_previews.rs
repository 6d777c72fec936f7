//! The example configurations of issue 21's kinds of auth, previewed as a
//! person sees them through the registry (`Registry::preview`, which the
//! `preview` example's `--event` prints): every credential where signing
//! puts it, its value `[redacted]`, and for OAuth2 the token request a host
//! with no token sends first, also redacted.
//!
//! The expected previews live in `tests/fixtures/previews/<service-id>.http`
//! (`BLESS=1 cargo test` writes them); `jwt.json`'s need the `jwt` feature
//! (`cargo test --all-features`).

mod common;

use callhook::{Call, Catalog, Config, Event, Prepared, Registry, TokenCache};

/// The dispatch time of every preview: fixed, so the goldens are.
const AT: &str = "2024-12-02T21:11:40Z";

fn call() -> Call {
    common::call(&common::read_text("examples/calls/pbx-call.json"))
}

/// The secrets of `oauth2.json`, as written in it: none may print.
const OAUTH2_SECRETS: [&str; 5] = [
    "crm-cl13nt-s3cr3t-5f8a2c",
    "urn:crm:api:calls",
    "m3dia-0auth-s3cr3t-91d4",
    "l3gacy-crm-pa55w0rd",
    "qk-st4ts-0123456789abcdef",
];

/// Previews every request `registry` dispatches for the PBX call's hangup,
/// checks each against its golden file, and returns their texts.
fn previews(registry: &Registry) -> Vec<(String, String)> {
    let shown = registry.preview(Event::CallHangup, &call(), AT.parse().unwrap());
    assert!(!shown.is_empty());
    shown
        .into_iter()
        .map(|(webhook, preview)| {
            let preview = preview.unwrap_or_else(|e| panic!("webhook {webhook}: {e}"));
            let text = preview.to_http();
            common::assert_golden(
                &format!("tests/fixtures/previews/{}.http", preview.service),
                &text,
            );
            (preview.service, text)
        })
        .collect()
}

#[test]
fn oauth2_example_previews_show_the_token_request_first_and_no_secret() {
    let registry = common::registry(&common::read_text("examples/configs/oauth2.json"));
    let shown = previews(&registry);
    assert_eq!(shown.len(), 5);
    for (service, text) in &shown {
        for secret in OAUTH2_SECRETS {
            assert!(
                !text.contains(secret),
                "{service} prints `{secret}`:\n{text}"
            );
        }
        // Basic credentials of the token endpoint or the named entry, in
        // any form, are redacted whole.
        assert!(!text.contains("Basic "), "{service}:\n{text}");
    }
    let text = |i: usize| shown[i].1.as_str();
    // The two services sharing the named entry each show its token request:
    // the client in the body (`client_auth: body`), scope shown, the
    // secret and the entry's parameters redacted.
    for i in [0, 1] {
        assert!(
            text(i).contains(
                "# token request, sent first\r\nPOST /oauth/token HTTP/1.1\r\nhost: auth.crm.example.com\r\n"
            ),
            "{}",
            text(i)
        );
        assert!(text(i).contains(
            "\r\n\r\ngrant_type=client_credentials&scope=calls%3Awrite+activities%3Awrite\
             &client_id=callhook-pbx&client_secret=[redacted]&audience=[redacted]\r\n\
             # then the request\r\nPOST /api/v2/"
        ));
        assert!(text(i).contains("\r\nauthorization: [redacted]\r\n"));
    }
    // A service's own entry, its client by HTTP Basic and its token in the
    // query.
    assert!(text(2).contains("\r\nauthorization: [redacted]\r\n\r\ngrant_type=client_credentials&scope=recordings%3Awrite\r\n"));
    assert!(text(2).contains("POST /index/calls?access_token=[redacted] HTTP/1.1\r\n"));
    // The named Basic entry and the query key, no token request.
    assert!(!text(3).contains("# token request") && !text(4).contains("# token request"));
    assert!(text(3).contains("\r\nauthorization: [redacted]\r\n"));
    assert!(text(4).contains("&api_key=[redacted] HTTP/1.1\r\n"));
}

/// The token request shown is the one `Registry::prepare` returns with an
/// empty cache, only its secret values redacted.
#[test]
fn the_token_request_shown_is_the_one_prepare_returns() {
    let registry = common::registry(&common::read_text("examples/configs/oauth2.json"));
    let at = AT.parse().unwrap();
    let dispatched = registry.dispatch(Event::CallHangup, &call(), at);
    let shown = registry.preview(Event::CallHangup, &call(), at);
    let tokens = TokenCache::new();
    let mut needed = 0;
    for (mut outgoing, (_, preview)) in dispatched.requests.into_iter().zip(shown) {
        let preview = preview.unwrap();
        match registry.prepare(&mut outgoing, at, &tokens).unwrap() {
            Prepared::TokenNeeded(token) => {
                needed += 1;
                let sent = token.request();
                let shown = preview.token_request.expect("a token request shown");
                assert_eq!(shown.method, sent.method().as_str());
                let names: Vec<&str> = sent.headers().keys().map(|n| n.as_str()).collect();
                let shown_names: Vec<&str> =
                    shown.headers.iter().map(|(n, _)| n.as_str()).collect();
                assert_eq!(shown_names, names);
                // Pair by pair: the same names in order, each value the
                // one sent or `[redacted]`.
                let sent_pairs: Vec<(String, String)> = form_urlencoded::parse(sent.body())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                let shown_pairs: Vec<(&str, &str)> = shown
                    .body
                    .split('&')
                    .map(|pair| pair.split_once('=').unwrap())
                    .collect();
                assert_eq!(sent_pairs.len(), shown_pairs.len());
                for ((name, value), (shown_name, shown_value)) in sent_pairs.iter().zip(shown_pairs)
                {
                    assert_eq!(name, shown_name);
                    let decoded: String =
                        form_urlencoded::parse(format!("v={shown_value}").as_bytes())
                            .map(|(_, v)| v.into_owned())
                            .collect();
                    assert!(
                        shown_value == "[redacted]" || decoded == *value,
                        "{name}: {shown_value}"
                    );
                }
                assert!(shown.url.starts_with(&sent.uri().to_string()[..20]));
            }
            Prepared::Ready => assert!(preview.token_request.is_none()),
            _ => unreachable!("a new outcome of prepare"),
        }
    }
    assert_eq!(needed, 3);
}

/// `jwt.json`, its keys given by reference as a host's vault would: an
/// `HS256` token in `Authorization` and an `ES256` one per delivery in a
/// query parameter, each shown `[redacted]` where it goes.
#[cfg(feature = "jwt")]
#[test]
fn jwt_example_previews_show_where_each_token_goes() {
    let pem = common::read_text("tests/fixtures/keys/example-p256.pem");
    let mut config = Config::from_json(&common::read_text("examples/configs/jwt.json")).unwrap();
    config
        .resolve_secrets(|name| match name {
            "CRM_JWT_SECRET" => Some("jwt-hs256-demo-s3cret-0123456789".to_owned()),
            "CRM_JWT_PRIVATE_KEY" => Some(pem.clone()),
            _ => None,
        })
        .unwrap();
    let registry = Registry::from_config(&config, Catalog::standard().clone()).unwrap();
    let shown = previews(&registry);
    assert_eq!(shown.len(), 2);
    assert!(shown[0].1.contains("\r\nauthorization: [redacted]\r\n"));
    assert!(shown[1]
        .1
        .contains("POST /ingest/calls?token=[redacted] HTTP/1.1\r\n"));
    for (_, text) in &shown {
        assert!(!text.contains("# token request") && !text.contains("eyJ"));
    }
}

/// Without the `jwt` feature, `jwt.json` is refused at load, naming the
/// feature, rather than previewed without its tokens.
#[cfg(not(feature = "jwt"))]
#[test]
fn jwt_example_needs_the_jwt_feature() {
    let mut config = Config::from_json(&common::read_text("examples/configs/jwt.json")).unwrap();
    config
        .resolve_secrets(|_| Some("jwt-hs256-demo-s3cret-0123456789".to_owned()))
        .unwrap();
    let error = Registry::from_config(&config, Catalog::standard().clone()).unwrap_err();
    assert!(error.to_string().contains("`jwt` feature"), "{error}");
}

/// Every golden preview is of a service of `oauth2.json`, `jwt.json` or
/// `fallbacks.json` (`tests/fallback_urls.rs`), and every such service has
/// one: none is left stale or missing.
#[test]
fn golden_previews_cover_every_service_of_the_auth_examples() {
    let mut ids: Vec<String> = ["oauth2", "jwt", "fallbacks"]
        .iter()
        .flat_map(|name| {
            let text = common::read_text(&format!("examples/configs/{name}.json"));
            Config::from_json(&text)
                .unwrap()
                .services
                .into_iter()
                .map(|s| s.id)
        })
        .collect();
    ids.sort();
    let mut files: Vec<String> = std::fs::read_dir(common::path("tests/fixtures/previews"))
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".http").map(str::to_owned)
        })
        .collect();
    files.sort();
    assert_eq!(files, ids);
}
