//! A whole host: dispatch a call's event, keep each delivery in an outbox
//! as an envelope, and when it is due admit it, prepare it, send it with
//! the blocking adapter, record the outcome and schedule the retry. No
//! resolver, no address check and no mapping of the client's result: the
//! adapter does those.
//!
//! `cargo run -p callhook-send --example host`
//!
//! The outbox is a `Vec` here; a real host keeps the envelopes' JSON in its
//! database. The receiver (`receiver.rs`) stands in for a customer's
//! endpoint on 127.0.0.1, which the configuration allows.

mod receiver;

use callhook::{
    Call, Catalog, Config, Decision, DeliveryState, Envelope, Event, Prepared, Registry,
};
use callhook_send::{BlockingSender, Options};
use chrono::{DateTime, Utc};

const CALL: &str = r#"{"id": "c-1001", "scopes": ["acme"],
  "data": {"uuid": "bfd7e62a-5a55-4286-9453-b4b4cfc5cca8", "duration": 95}}"#;

fn config(receiver: std::net::SocketAddr) -> String {
    serde_json::json!({
        "allowed_addresses": ["127.0.0.1"],
        "services": [{
            "id": "3f8a1c2e-5b6d-4e7f-8a9b-0c1d2e3f4a01",
            "name": "CRM call log",
            "method": "POST",
            "url": format!("http://{receiver}/calls"),
            "body": {"kind": "json", "template": "{\"call\": \"#uuid#\", \"seconds\": #duration#}"},
            "signing": {"kind": "standard_webhooks", "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]},
            "retry": {"schedule": ["1s"], "max_attempts": 4}
        }],
        "webhooks": [{
            "id": "3f8a1c2e-5b6d-4e7f-8a9b-0c1d2e3f4aa1", "enabled": true,
            "event": "Call:Hangup", "service": "3f8a1c2e-5b6d-4e7f-8a9b-0c1d2e3f4a01",
            "created_at": "2024-11-30T12:00:00Z", "scopes": ["acme"]
        }]
    })
    .to_string()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let receiver = receiver::start()?;
    let registry = Registry::from_config(
        &Config::from_json(&config(receiver))?,
        Catalog::standard().clone(),
    )?;
    let sender = BlockingSender::new(Options::new())?;
    // Tokens, endpoint health and delivered sequences: stored beside the
    // outbox in a real host (`DeliveryState::to_json`).
    let mut state = DeliveryState::default();

    // Dispatch: one envelope per delivery, due now.
    let mut outbox: Vec<(DateTime<Utc>, String)> = Vec::new();
    let dispatch = registry.dispatch(Event::CallHangup, &Call::from_json(CALL)?, Utc::now());
    for (webhook, error) in &dispatch.errors {
        eprintln!("webhook {webhook} could not be rendered: {error}");
    }
    for outgoing in &dispatch.requests {
        outbox.push((Utc::now(), Envelope::new(outgoing, Utc::now()).to_json()));
    }

    // The worker: the earliest due envelope, until the outbox is empty.
    while let Some(next) = (0..outbox.len()).min_by_key(|&i| outbox[i].0) {
        let (due, stored) = outbox.swap_remove(next);
        std::thread::sleep((due - Utc::now()).to_std().unwrap_or_default());
        let mut envelope = Envelope::from_json(&stored)?;
        // Not sent: an endpoint paused or throttled (wait), or an update
        // older than one delivered (skip).
        match envelope.admit(&registry, &mut state, Utc::now())? {
            None => {}
            Some(Decision::Wait { until, .. }) => {
                outbox.push((until, envelope.to_json()));
                continue;
            }
            Some(skipped) => {
                println!("delivery {}: {skipped:?}", envelope.delivery);
                continue;
            }
        }
        let mut outgoing = envelope.to_outgoing()?;
        if let Prepared::TokenNeeded(_) =
            registry.prepare(&mut outgoing, Utc::now(), &state.tokens)?
        {
            return Err("this host's services use no OAuth2".into());
        }
        let attempted = sender.send(&registry, &outgoing)?;
        let decision =
            envelope.record_in(&registry, attempted.outcome(), Utc::now(), &mut state)?;
        println!(
            "delivery {} attempt {}: {attempted:?} -> {decision:?}",
            envelope.delivery, envelope.attempt
        );
        match decision {
            Decision::Retry { at } => outbox.push((at, envelope.to_json())),
            Decision::Delivered => println!("delivered"),
            // Given up, or a URL or webhook to disable: the host's to act on.
            other => eprintln!("not delivered: {other:?}"),
        }
    }
    Ok(())
}
