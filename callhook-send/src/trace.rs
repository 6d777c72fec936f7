//! The `tracing` events of an attempt.

use callhook::Outgoing;

use crate::attempted::Attempted;
use crate::guard::{origin, Refused};

/// The event of a finished attempt: its level says how it went (debug for
/// 2xx, info for another status, warn for no answer).
pub(crate) fn attempted(outgoing: &Outgoing, attempted: &Attempted) {
    let service: &str = &outgoing.service;
    let webhook: &str = &outgoing.webhook;
    let delivery = outgoing.delivery.as_str();
    let origin = origin(outgoing.request.uri());
    let latency_ms = u64::try_from(attempted.latency().as_millis()).unwrap_or(u64::MAX);
    if let Some(status) = attempted.status() {
        let status = status.as_u16();
        if (200..300).contains(&status) {
            tracing::debug!(target: "callhook_send", service, webhook, delivery, origin, status, latency_ms, "webhook delivered");
        } else {
            tracing::info!(target: "callhook_send", service, webhook, delivery, origin, status, latency_ms, "webhook answered with a failure");
        }
    } else if let Some(error) = attempted.error() {
        tracing::warn!(target: "callhook_send", service, webhook, delivery, origin, error, latency_ms, "webhook not answered");
    }
}

/// The event of a send the address policy refused.
pub(crate) fn refused(outgoing: &Outgoing, refused: &Refused) {
    let service: &str = &outgoing.service;
    let webhook: &str = &outgoing.webhook;
    let delivery = outgoing.delivery.as_str();
    let origin = origin(outgoing.request.uri());
    let address = refused.address.to_string();
    let reason = refused.reason.as_str();
    tracing::warn!(target: "callhook_send", service, webhook, delivery, origin, address, reason, "webhook refused by the address policy");
}
