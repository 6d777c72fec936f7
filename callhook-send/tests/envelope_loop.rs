//! The adapter's outcome feeds an envelope as a host records it: admitted,
//! prepared, sent, recorded in the host's `DeliveryState`; the attempt log
//! keeps the status or the transport error's words, the latency and the
//! response's start, never the URL.

mod common;

use std::time::Duration;

use callhook::{Decision, DeliveryState, Envelope, Prepared};
use callhook_send::{BlockingSender, Options};
use chrono::Utc;
use common::{dead_address, dispatched, ok, registry, serve};
use serde_json::json;

#[test]
fn a_transport_error_and_an_answer_are_logged_in_the_envelope() {
    let registry = registry(
        &["127.0.0.1"],
        json!({"retry": {"schedule": ["1s"], "max_attempts": 3}}),
    );
    let sender = BlockingSender::new(Options::new()).unwrap();
    let mut state = DeliveryState::default();

    // The configured URL is public; each attempt is pointed at a local
    // server after it is prepared (preparing checks the service's origin):
    // first a closed port, then a receiver that answers.
    let mut envelope = Envelope::new(&dispatched(&registry), Utc::now());
    let server = serve(ok(), Duration::ZERO);
    let targets = [
        format!("http://{}/call?token=secret", dead_address()),
        server.url("/call?token=secret"),
    ];
    let mut decisions = Vec::new();
    for target in &targets {
        assert_eq!(
            envelope.admit(&registry, &mut state, Utc::now()).unwrap(),
            None
        );
        let mut outgoing = envelope.to_outgoing().unwrap();
        let prepared = registry
            .prepare(&mut outgoing, Utc::now(), &state.tokens)
            .unwrap();
        assert!(matches!(prepared, Prepared::Ready));
        *outgoing.request.uri_mut() = target.parse().unwrap();
        let attempted = sender.send(&registry, &outgoing).unwrap();
        decisions.push(
            envelope
                .record_in(&registry, attempted.outcome(), Utc::now(), &mut state)
                .unwrap(),
        );
    }
    assert!(
        matches!(decisions[0], Decision::Retry { .. }),
        "{decisions:?}"
    );
    assert_eq!(decisions[1], Decision::Delivered);

    let log = &envelope.attempts;
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0].error.as_deref(), Some("connection refused"));
    assert_eq!(log[0].status, None);
    assert_eq!(log[1].status, Some(200));
    assert_eq!(log[1].response, "thanks");
    assert!(log[1].latency_ms.is_some());
    // The log names the URL by index, never by text: neither the query's
    // secret nor the address it went to.
    let logged = format!("{log:?}");
    assert!(!logged.contains("secret"), "{logged}");
    assert!(!logged.contains("127.0.0.1"), "{logged}");
}
