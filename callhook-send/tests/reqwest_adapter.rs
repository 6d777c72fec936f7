//! The async adapter (reqwest, on tokio) against local servers: what the issue's
//! proof asks of each adapter (a redirect not followed, a private address
//! refused after DNS, a timeout, a client certificate), and the plain cases.
//! The proxy variables are tested in `tests/proxy_env.rs`, a process of
//! their own.

mod common;

use std::time::Duration;

use callhook_send::{AsyncSender, Error, Options};
use common::{
    ok, outgoing, pki, redirect, registry, serve, serve_tls_requiring_client_certificate,
};
use serde_json::json;

const LOOPBACK: &[&str] = &["127.0.0.1", "::1"];

#[tokio::test]
async fn delivers_and_keeps_the_answer() {
    let server = serve(ok(), Duration::ZERO);
    let registry = registry(LOOPBACK, json!({}));
    let sender = AsyncSender::new(Options::new()).unwrap();
    let attempted = sender
        .send(&registry, &outgoing(&registry, &server.url("/call")))
        .await
        .unwrap();
    assert_eq!(attempted.status(), Some(http::StatusCode::OK));
    assert_eq!(attempted.response_start(), b"thanks");
    assert_eq!(attempted.outcome().status(), Some(http::StatusCode::OK));
    assert!(attempted.outcome().latency().is_some());
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_redirect_is_the_answer_not_followed() {
    let target = serve(ok(), Duration::ZERO);
    let redirecting = serve(redirect(&target.url("/elsewhere")), Duration::ZERO);
    let registry = registry(LOOPBACK, json!({}));
    let sender = AsyncSender::new(Options::new()).unwrap();
    let attempted = sender
        .send(&registry, &outgoing(&registry, &redirecting.url("/call")))
        .await
        .unwrap();
    assert_eq!(attempted.status(), Some(http::StatusCode::FOUND));
    assert_eq!(redirecting.hits(), 1);
    assert_eq!(target.hits(), 0, "the redirect was followed");
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_by_the_default_policy() {
    let server = serve(ok(), Duration::ZERO);
    let registry = registry(&[], json!({}));
    let sender = AsyncSender::new(Options::new()).unwrap();
    let attempted = sender
        .send(
            &registry,
            &outgoing(&registry, &server.localhost_url("/call")),
        )
        .await
        .unwrap();
    assert!(attempted.is_address_refused(), "{attempted:?}");
    assert!(attempted.outcome().is_address_refused());
    assert_eq!(server.hits(), 0, "the request reached a refused address");
}

#[tokio::test]
async fn an_ip_literal_is_refused_before_connecting() {
    let server = serve(ok(), Duration::ZERO);
    let registry = registry(&[], json!({}));
    let sender = AsyncSender::new(Options::new()).unwrap();
    let attempted = sender
        .send(&registry, &outgoing(&registry, &server.url("/call")))
        .await
        .unwrap();
    assert!(attempted.is_address_refused(), "{attempted:?}");
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn the_same_sender_follows_the_registry_it_is_given() {
    let server = serve(ok(), Duration::ZERO);
    let strict = registry(&[], json!({}));
    let loopback = registry(LOOPBACK, json!({}));
    let sender = AsyncSender::new(Options::new()).unwrap();
    let target = server.localhost_url("/call");
    assert!(sender
        .send(&loopback, &outgoing(&loopback, &target))
        .await
        .unwrap()
        .status()
        .is_some());
    assert!(sender
        .send(&strict, &outgoing(&strict, &target))
        .await
        .unwrap()
        .is_address_refused());
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_timeout_is_a_transport_error() {
    let server = serve(ok(), Duration::from_secs(5));
    let registry = registry(LOOPBACK, json!({"timeout": "1s"}));
    let sender = AsyncSender::new(Options::new()).unwrap();
    let attempted = sender
        .send(&registry, &outgoing(&registry, &server.url("/call")))
        .await
        .unwrap();
    assert_eq!(attempted.error(), Some("timed out"), "{attempted:?}");
    assert!(attempted.outcome().is_transport_error());
    assert_eq!(attempted.outcome().error(), Some("timed out"));
    assert!(
        attempted.latency() < Duration::from_secs(4),
        "{attempted:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_connection_refused() {
    let registry = registry(LOOPBACK, json!({}));
    let sender = AsyncSender::new(Options::new()).unwrap();
    let target = format!("http://{}/call", common::dead_address());
    let attempted = sender
        .send(&registry, &outgoing(&registry, &target))
        .await
        .unwrap();
    assert_eq!(
        attempted.error(),
        Some("connection refused"),
        "{attempted:?}"
    );
}

#[tokio::test]
async fn a_client_certificate_is_presented_to_a_server_that_requires_one() {
    let pki = pki();
    let server = serve_tls_requiring_client_certificate(&pki);
    let registry = registry(LOOPBACK, json!({}));
    let target = format!("https://{}/call", server.addr);
    let sender = AsyncSender::new(
        Options::new()
            .root_certificate_pem(pki.ca_pem.clone())
            .client_certificate_pem(pki.client_pem.clone(), pki.client_key_pem.clone()),
    )
    .unwrap();
    let attempted = sender
        .send(&registry, &outgoing(&registry, &target))
        .await
        .unwrap();
    assert_eq!(
        attempted.status(),
        Some(http::StatusCode::OK),
        "{attempted:?}"
    );
    assert_eq!(server.client_certificates(), 1);

    // Without it, the server refuses the handshake: no request is read.
    let without =
        AsyncSender::new(Options::new().root_certificate_pem(pki.ca_pem.clone())).unwrap();
    let attempted = without
        .send(&registry, &outgoing(&registry, &target))
        .await
        .unwrap();
    assert!(attempted.outcome().is_transport_error(), "{attempted:?}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn an_unknown_root_is_a_tls_failure() {
    let pki = pki();
    let server = serve_tls_requiring_client_certificate(&pki);
    let registry = registry(LOOPBACK, json!({}));
    let target = format!("https://{}/call", server.addr);
    let sender = AsyncSender::new(Options::new()).unwrap();
    let attempted = sender
        .send(&registry, &outgoing(&registry, &target))
        .await
        .unwrap();
    assert_eq!(
        attempted.error(),
        Some("tls handshake failed"),
        "{attempted:?}"
    );
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn unreadable_certificates_are_refused_when_built() {
    let error =
        AsyncSender::new(Options::new().root_certificate_pem("not a certificate")).unwrap_err();
    assert!(matches!(error, Error::Certificate(_)), "{error}");
    let error = AsyncSender::new(
        Options::new()
            .client_certificate_pem(pki().client_pem, "-----BEGIN PRIVATE KEY-----\nhunter2\n"),
    )
    .unwrap_err();
    assert!(matches!(error, Error::Certificate(_)), "{error}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

#[tokio::test]
async fn a_delivery_of_a_removed_service_is_an_error() {
    let registry = registry(LOOPBACK, json!({}));
    let mut outgoing = outgoing(&registry, "http://127.0.0.1:9/");
    outgoing.service = "7f0c2b1e-3a4d-4e5f-8a9b-0c1d2e3f4aff".into();
    let sender = AsyncSender::new(Options::new()).unwrap();
    assert!(matches!(
        sender.send(&registry, &outgoing).await,
        Err(Error::Registry(_))
    ));
}
