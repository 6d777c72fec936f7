//! The proxy environment variables are ignored by both adapters: with
//! `HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY` (and their lower-case forms)
//! naming a dead proxy, requests still go straight to the receiver. A test
//! binary of its own, with one test, since it changes the process's
//! environment before any client is built.

mod common;

use std::time::Duration;

use callhook_send::{AsyncSender, BlockingSender, Options};
use common::{dead_address, ok, outgoing, registry, serve};
use serde_json::json;

#[test]
fn proxy_variables_are_ignored() {
    let proxy = format!("http://{}", dead_address());
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        // Set before any other thread of this process reads the
        // environment: this binary's one test.
        std::env::set_var(name, &proxy);
    }
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");

    let server = serve(ok(), Duration::ZERO);
    let registry = registry(&["127.0.0.1", "::1"], json!({}));
    let target = server.url("/call");

    let blocking = BlockingSender::new(Options::new()).unwrap();
    let attempted = blocking
        .send(&registry, &outgoing(&registry, &target))
        .unwrap();
    assert_eq!(
        attempted.status(),
        Some(http::StatusCode::OK),
        "ureq: {attempted:?}"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sender = AsyncSender::new(Options::new()).unwrap();
    let attempted = runtime
        .block_on(sender.send(&registry, &outgoing(&registry, &target)))
        .unwrap();
    assert_eq!(
        attempted.status(),
        Some(http::StatusCode::OK),
        "reqwest: {attempted:?}"
    );

    assert_eq!(server.hits(), 2, "a request went through the proxy");
}
