//! Dispatch: turning "this happened on this call" into the requests to
//! send, and signing each for the attempt that sends it.

use std::fmt;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::auth::{Applied, Auth, TokenCache};
use crate::call::{Call, CallData, Lookup};
use crate::catalog::{Builtin, Catalog, FieldKey, Positions};
use crate::condition::{Compiled, Unmet};
use crate::error::Error;
use crate::event::Event;
use crate::id::DeliveryId;
use crate::preview::{shown_urls, Preview, Summary};
use crate::request::Request;
use crate::service::{Service, Shown};
use crate::value::Value;
use crate::webhook::WebhookConfig;

/// One request to send, from a dispatch, or from a stored
/// [`Envelope`](crate::Envelope) for a later attempt.
///
/// The request is unsigned and carries no credential: prepare it for the
/// attempt that sends it with [`Registry::prepare`](crate::Registry::prepare)
/// (or [`Registry::sign`](crate::Registry::sign) with no OAuth2), the same
/// call for the first attempt and every retry, which adds the credential
/// of the service's auth as the registry holds it then and signs.
/// Its `Debug` shows the request's method, its URL with every query value
/// redacted, its header names and its body's length and SHA-256: never a
/// header value or a body byte, which may hold secrets that an outgoing
/// request, having no call data, cannot tell apart.
#[derive(Clone)]
#[non_exhaustive]
pub struct Outgoing {
    /// The webhook that fired: the registry's own copy of its id, shared.
    pub webhook: Arc<str>,
    /// The service it invoked, shared likewise.
    pub service: Arc<str>,
    /// The delivery id: the same for the same webhook, call, agent segment,
    /// event and (for realtime updates) sequence number, so retries and
    /// receivers can de-duplicate.
    pub delivery: DeliveryId,
    /// The event.
    pub event: Event,
    /// The agent segment, for per-segment events of calls with segments.
    pub segment: Option<usize>,
    /// The call's id, shared by every request one dispatch made. `None`
    /// only for a delivery read from an envelope stored before envelopes
    /// held it.
    pub call_id: Option<Arc<str>>,
    /// The status sequence number of a realtime update
    /// ([`Registry::status_update`](crate::Registry::status_update)):
    /// what tells an update older than one already delivered.
    pub sequence: Option<u64>,
    /// The service's fallback URLs, rendered for this delivery under the
    /// same rules as its URL, in the order they are tried.
    pub fallbacks: Vec<http::Uri>,
    /// The request, unsigned.
    pub request: Request,
    /// The redacted record to store, for services with the `debug` flag.
    pub debug: Option<Preview>,
    /// The credential signing placed in the request, replaced when it is
    /// signed again and dropped when it is stored.
    pub(crate) credentials: Applied,
}

impl Outgoing {
    /// The request without the credential signing placed in it: what an
    /// [`Envelope`](crate::Envelope) stores. `None` when it carries none
    /// (not signed yet), so the request itself is stored.
    pub(crate) fn without_credentials(&self) -> Option<Request> {
        if self.credentials.is_empty() {
            return None;
        }
        let mut request = self.request.clone();
        if self.credentials.clone().remove_from(&mut request).is_err() {
            // The URL was built with the parameter added, so taking it out
            // cannot fail; were it to, the query goes with it rather than
            // the credential being stored.
            let mut parts = request.uri().clone().into_parts();
            parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
        Some(request)
    }

    /// The request as a [`Preview`], with the webhook and delivery ids.
    ///
    /// Unless `show_secrets`, the body shows as its length and SHA-256
    /// only, and every query value and every header value as `[redacted]`
    /// but those of the headers callhook sets and knows hold no secret
    /// (`content-type`, `content-length`, `user-agent`, `soapaction`,
    /// `webhook-id`, `webhook-timestamp`), and the fallback URLs with every
    /// query value redacted too: an outgoing request keeps no
    /// call data or service to tell which values are secrets (an `api_key`
    /// header may have any name). [`Registry::preview`](crate::Registry::preview) renders the
    /// requests for a person, only secrets redacted.
    #[must_use]
    pub fn preview(&self, show_secrets: bool) -> Preview {
        let mut preview = Preview::of(&self.service, &self.request, show_secrets);
        // Every query value, as for the URL: without the service, no
        // parameter is known to hold no secret.
        preview.fallbacks = shown_urls(&self.fallbacks, show_secrets, &|_| true);
        preview.webhook = Some(self.webhook.to_string());
        preview.delivery = Some(self.delivery.to_string());
        preview
    }
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("webhook", &self.webhook)
            .field("service", &self.service)
            .field("delivery", &self.delivery)
            .field("event", &self.event)
            .field("segment", &self.segment)
            .field("call_id", &self.call_id)
            .field("sequence", &self.sequence)
            .field("fallbacks", &shown_urls(&self.fallbacks, false, &|_| true))
            .field(
                "request",
                &Summary {
                    method: self.request.method().as_str(),
                    url: &self.request.uri().to_string(),
                    headers: self
                        .request
                        .headers()
                        .keys()
                        .map(|name| name.as_str())
                        .collect(),
                    body: self.request.body(),
                },
            )
            .finish_non_exhaustive()
    }
}

/// Everything one dispatch produced: the requests to send, and the webhooks
/// that could not be rendered for this call (nothing is dropped silently).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Dispatch {
    /// The requests, in webhook creation order (and segment order).
    pub requests: Vec<Outgoing>,
    /// Webhook ids with the error that kept each from rendering.
    pub errors: Vec<(String, Error)>,
}

/// Where [`fire`] puts what it renders: requests to send, or
/// requests shown to a person.
enum Sink<'a> {
    Dispatch(&'a mut Dispatch),
    Preview(&'a mut Vec<(String, Result<Preview, Error>)>),
}

/// The scope a webhook subscribes to to fire for every call.
pub(crate) const ALL_SCOPES: &str = "*";

/// Why a webhook does or does not fire for an event on a call: what
/// [`Registry::explain`](crate::Registry::explain) says of each webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// It fires.
    Fires,
    /// It is bound to another event.
    OtherEvent(Event),
    /// It subscribes to none of the call's scopes (it subscribes to these).
    ScopeNotSubscribed(Vec<String>),
    /// It is disabled.
    WebhookDisabled,
    /// Its service is disabled.
    ServiceDisabled,
    /// Its condition is not met: the comparisons that kept it from
    /// holding, each with its place in the condition, the field's value
    /// (redacted for secret and personal fields) and the literal. For an
    /// event fired once per agent segment, those of the first segment:
    /// the webhook fires if its condition holds for any.
    ConditionNotMet(Vec<Unmet>),
}

/// One webhook's [`Verdict`] for an event on a call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Explanation {
    /// The webhook.
    pub webhook: String,
    /// Its service.
    pub service: String,
    /// Whether it fires, and if not, why not.
    pub verdict: Verdict,
}

/// The fields dispatch sets on each request, borrowed where they are text
/// so that setting them allocates nothing.
struct Builtins<'a> {
    event: &'a str,
    event_time: Value,
    delivery_id: &'a str,
    status: Option<&'a str>,
    sequence: Option<Value>,
}

/// What a dispatched request renders from: dispatch's own fields over the
/// segment's over the call's, without copying any.
struct Layers<'a> {
    builtins: &'a Builtins<'a>,
    segment: Option<&'a CallData>,
    call: &'a CallData,
}

impl Lookup for Layers<'_> {
    #[inline]
    fn builtin_text(&self, key: &FieldKey) -> Option<&str> {
        match key.builtin? {
            Builtin::Event => Some(self.builtins.event),
            Builtin::DeliveryId => Some(self.builtins.delivery_id),
            Builtin::Status => self.builtins.status,
            Builtin::EventTime | Builtin::Sequence => None,
        }
    }

    #[inline]
    fn lookup(&self, positions: &Positions, key: &FieldKey) -> Option<&Value> {
        let builtin = match key.builtin {
            Some(Builtin::EventTime) => Some(&self.builtins.event_time),
            Some(Builtin::Sequence) => self.builtins.sequence.as_ref(),
            _ => None,
        };
        builtin
            .or_else(|| {
                self.segment
                    .and_then(|segment| segment.lookup(positions, key))
            })
            .or_else(|| self.call.lookup(positions, key))
    }
}

/// What dispatch reads of a registry, through accessors: the registry
/// keeps its fields private, and its public dispatch methods hand
/// themselves to the functions below, so imports run one way (registry
/// uses dispatch, not the reverse).
pub(crate) trait Subscriptions {
    /// Every enabled webhook bound to `event` and subscribed to a scope of
    /// `call`, each once, oldest first, with the registry's shared id.
    fn matching(&self, event: &Event, call: &Call) -> Vec<(&Arc<str>, &WebhookConfig)>;

    /// Every webhook, in no order.
    fn all_webhooks(&self) -> Vec<&WebhookConfig>;

    /// The compiled condition of the webhook with this id, if it has one.
    fn condition(&self, webhook: &str) -> Option<&Compiled>;

    /// The service with this id, with the registry's shared copy of the id.
    fn service_entry(&self, id: &str) -> Option<(&Arc<str>, &Service)>;

    /// The catalog the registry's templates were checked against.
    fn catalog(&self) -> &Catalog;

    /// The auth `service` sends with (its own, or the named entry it
    /// refers to), and, for OAuth2, the key of its token.
    ///
    /// # Errors
    ///
    /// A named entry the registry does not hold.
    fn send_auth<'a>(&'a self, service: &'a Service) -> Result<(&'a Auth, Option<String>), Error>;
}

/// The segments `event` fires for on `call`: each segment in turn for a
/// per-segment event on a call with segments, or the whole call once.
fn segments(
    registry: &impl Subscriptions,
    event: &Event,
    call: &Call,
) -> impl Iterator<Item = Option<usize>> + Clone {
    let per_segment = registry
        .catalog()
        .event(event)
        .is_some_and(|spec| spec.per_segment);
    let segments = if per_segment { call.segments.len() } else { 0 };
    (0..segments.max(1)).map(move |i| (segments > 0).then_some(i))
}

/// The work of [`Registry::explain`](crate::Registry::explain) and its
/// variants: for one `segment` or every one the event fires for (`None`),
/// and for a realtime update.
#[must_use]
pub(crate) fn explain(
    registry: &impl Subscriptions,
    event: Event,
    call: &Call,
    segment: Option<usize>,
    realtime: Option<(&str, u64)>,
    at: DateTime<Utc>,
) -> Vec<Explanation> {
    let mut webhooks: Vec<&WebhookConfig> = registry.all_webhooks();
    webhooks.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let each: Vec<Option<usize>> = match (segment, realtime) {
        (Some(segment), _) => vec![Some(segment)],
        (None, Some(_)) => vec![None],
        (None, None) => segments(registry, &event, call).collect(),
    };
    webhooks
        .into_iter()
        .map(|webhook| {
            let subscribed = webhook
                .scopes
                .iter()
                .any(|s| s == ALL_SCOPES || call.scopes.contains(s));
            // A disabled webhook fires for no call, so that is what is
            // said of it whatever its scopes; only a webhook bound to
            // another event is explained by that first.
            let verdict = if webhook.event != event {
                Verdict::OtherEvent(webhook.event.clone())
            } else if !webhook.enabled {
                Verdict::WebhookDisabled
            } else if !subscribed {
                Verdict::ScopeNotSubscribed(webhook.scopes.clone())
            } else if !registry
                .service_entry(webhook.service.as_str())
                .map(|(_, service)| service)
                .is_some_and(Service::is_enabled)
            {
                Verdict::ServiceDisabled
            } else if let Some(condition) = registry.condition(&webhook.id) {
                let positions = registry.catalog().positions();
                let mut first = None;
                for segment in &each {
                    let unmet = with_layers(webhook, &event, call, *segment, realtime, at, |l| {
                        condition.unmet(l, positions)
                    });
                    if unmet.is_empty() {
                        first = None;
                        break;
                    }
                    first.get_or_insert(unmet);
                }
                first.map_or(Verdict::Fires, Verdict::ConditionNotMet)
            } else {
                Verdict::Fires
            };
            Explanation {
                webhook: webhook.id.clone(),
                service: webhook.service.clone(),
                verdict,
            }
        })
        .collect()
}

/// Runs `f` over what a delivery of `webhook` renders from: dispatch's own
/// fields over the segment's over the call's.
fn with_layers<R>(
    webhook: &WebhookConfig,
    event: &Event,
    call: &Call,
    segment: Option<usize>,
    realtime: Option<(&str, u64)>,
    at: DateTime<Utc>,
    f: impl FnOnce(&Layers<'_>) -> R,
) -> R {
    let delivery = delivery_id(&webhook.id, &call.id, segment, event, realtime.map(|r| r.1));
    let builtins = Builtins {
        event: event.name(),
        event_time: Value::from(at),
        delivery_id: delivery.as_str(),
        status: realtime.map(|(status, _)| status),
        sequence: realtime.map(|(_, sequence)| Value::from(sequence)),
    };
    f(&Layers {
        builtins: &builtins,
        segment: segment.and_then(|i| call.segments.get(i)),
        call: &call.data,
    })
}

/// The work of [`Registry::dispatch`](crate::Registry::dispatch).
#[must_use]
pub(crate) fn dispatch(
    registry: &impl Subscriptions,
    event: Event,
    call: &Call,
    at: DateTime<Utc>,
) -> Dispatch {
    let each = segments(registry, &event, call);
    let mut dispatch = Dispatch::default();
    for webhook in registry.matching(&event, call) {
        for segment in each.clone() {
            fire(
                registry,
                webhook,
                &event,
                call,
                segment,
                None,
                at,
                &mut Sink::Dispatch(&mut dispatch),
            );
        }
    }
    dispatch
}

/// The work of [`Registry::dispatch_segment`](crate::Registry::dispatch_segment).
#[must_use]
pub(crate) fn dispatch_segment(
    registry: &impl Subscriptions,
    event: Event,
    call: &Call,
    segment: usize,
    at: DateTime<Utc>,
) -> Dispatch {
    let mut dispatch = Dispatch::default();
    for webhook in registry.matching(&event, call) {
        fire(
            registry,
            webhook,
            &event,
            call,
            Some(segment),
            None,
            at,
            &mut Sink::Dispatch(&mut dispatch),
        );
    }
    dispatch
}

/// The work of [`Registry::status_update`](crate::Registry::status_update).
#[must_use]
pub(crate) fn status_update(
    registry: &impl Subscriptions,
    event: Event,
    call: &Call,
    status: &str,
    sequence: u64,
    at: DateTime<Utc>,
) -> Dispatch {
    let mut dispatch = Dispatch::default();
    for webhook in registry.matching(&event, call) {
        fire(
            registry,
            webhook,
            &event,
            call,
            None,
            Some((status, sequence)),
            at,
            &mut Sink::Dispatch(&mut dispatch),
        );
    }
    dispatch
}

/// The work of [`Registry::preview`](crate::Registry::preview).
#[must_use]
pub(crate) fn preview(
    registry: &impl Subscriptions,
    event: Event,
    call: &Call,
    at: DateTime<Utc>,
) -> Vec<(String, Result<Preview, Error>)> {
    let each = segments(registry, &event, call);
    let mut previews = Vec::new();
    for webhook in registry.matching(&event, call) {
        for segment in each.clone() {
            fire(
                registry,
                webhook,
                &event,
                call,
                segment,
                None,
                at,
                &mut Sink::Preview(&mut previews),
            );
        }
    }
    previews
}

/// The work of [`Registry::preview_status_update`](crate::Registry::preview_status_update).
#[must_use]
pub(crate) fn preview_status_update(
    registry: &impl Subscriptions,
    event: Event,
    call: &Call,
    status: &str,
    sequence: u64,
    at: DateTime<Utc>,
) -> Vec<(String, Result<Preview, Error>)> {
    let mut previews = Vec::new();
    for webhook in registry.matching(&event, call) {
        fire(
            registry,
            webhook,
            &event,
            call,
            None,
            Some((status, sequence)),
            at,
            &mut Sink::Preview(&mut previews),
        );
    }
    previews
}

#[allow(clippy::too_many_arguments)]
fn fire(
    registry: &impl Subscriptions,
    (webhook_id, webhook): (&Arc<str>, &WebhookConfig),
    event: &Event,
    call: &Call,
    segment: Option<usize>,
    realtime: Option<(&str, u64)>,
    at: DateTime<Utc>,
    sink: &mut Sink<'_>,
) {
    let Some((service_id, service)) = registry.service_entry(webhook.service.as_str()) else {
        return;
    };
    if !service.is_enabled() {
        return;
    }
    let delivery = delivery_id(&webhook.id, &call.id, segment, event, realtime.map(|r| r.1));
    let sequence = realtime.map(|(_, sequence)| sequence);
    let builtins = Builtins {
        event: event.name(),
        event_time: Value::from(at),
        delivery_id: delivery.as_str(),
        status: realtime.map(|(status, _)| status),
        // Past `i64::MAX`, the sequence is kept as its digits: never
        // clamped, or receivers would see two updates as one.
        sequence: realtime.map(|(_, sequence)| Value::from(sequence)),
    };
    let layers = Layers {
        builtins: &builtins,
        segment: segment.and_then(|i| call.segments.get(i)),
        call: &call.data,
    };
    // A webhook whose condition does not hold for this delivery does not
    // fire: nothing is rendered, nothing listed.
    // One with a condition but nothing compiled for it (which loading
    // never leaves) fails closed: firing would ignore what it was told.
    if webhook.condition.is_some() {
        let Some(condition) = registry.condition(&webhook.id) else {
            debug_assert!(false, "webhook `{}` has no compiled condition", webhook.id);
            return;
        };
        if !condition.holds(&layers, registry.catalog().positions()) {
            return;
        }
    }
    let rendered = service.request_with(&layers);
    match sink {
        // A fallback URL that cannot be rendered keeps the delivery from
        // being made, as the URL would: a delivery that could not move
        // on would fail where its configuration says it need not. Matched
        // in turn rather than chained, so the request is not moved
        // through a tuple (PBX's ten webhooks: 18,705 instructions chained,
        // 18,524 so, against 18,473 before fallback URLs).
        Sink::Dispatch(dispatch) => match rendered {
            Ok(request) => match service.fallbacks_with(&layers) {
                Ok(fallbacks) => dispatch.requests.push(Outgoing {
                    // One dispatch is of one call: its requests share the
                    // first one's id rather than each copying it.
                    call_id: match dispatch.requests.first() {
                        Some(first) => first.call_id.clone(),
                        None => Some(Arc::from(call.id.as_str())),
                    },
                    webhook: Arc::clone(webhook_id),
                    service: Arc::clone(service_id),
                    debug: service.debug_record_with(&layers, &request),
                    delivery,
                    event: event.clone(),
                    segment,
                    sequence,
                    fallbacks,
                    request,
                    credentials: Applied::default(),
                }),
                Err(e) => dispatch.errors.push((webhook.id.clone(), e)),
            },
            Err(e) => dispatch.errors.push((webhook.id.clone(), e)),
        },
        Sink::Preview(previews) => {
            let shown = rendered
                .and_then(|request| {
                    // The credential of the auth the request is signed
                    // with, and for OAuth2 the token request a host with
                    // no token sends first: what `Registry::prepare` gives
                    // with an empty cache.
                    let (auth, key) = registry.send_auth(service)?;
                    let mut preview =
                        service.shown_under(&layers, &request, auth, Shown::Previewed)?;
                    if let (Auth::OAuth2(oauth), Some(key)) = (auth, key) {
                        let token = oauth
                            .token_request(&key, &TokenCache::default(), at)
                            .map_err(|e| e.in_service(service.id()))?;
                        preview.token_request = Some(Box::new(service.shown_token_request(&token)));
                    }
                    Ok(preview)
                })
                .map(|mut preview| {
                    preview.webhook = Some(webhook.id.clone());
                    preview.delivery = Some(delivery.to_string());
                    preview
                });
            previews.push((webhook.id.clone(), shown));
        }
    }
}

/// A UUID (version 8, from SHA-256) of the delivery's identity.
fn delivery_id(
    webhook: &str,
    call: &str,
    segment: Option<usize>,
    event: &Event,
    sequence: Option<u64>,
) -> DeliveryId {
    let mut hash = Sha256::new();
    for part in [webhook, call, event.name()] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    // Not fallbacks but encodings of "none", fixed since delivery ids were
    // first stored: no segment is `u64::MAX`, no sequence 0 (sequences
    // count from 1). Changing either changes every stored delivery id.
    hash.update(segment.map_or(u64::MAX, |s| s as u64).to_be_bytes());
    hash.update(sequence.unwrap_or(0).to_be_bytes());
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    DeliveryId::from_bytes(bytes, 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const W1: &str = "00000000-0000-4000-8000-0000000000a1";
    const W2: &str = "00000000-0000-4000-8000-0000000000a2";

    /// A webhook with a condition but nothing compiled for it makes no
    /// request: a debug build says so loudly (and a release build sends
    /// nothing, the `return` after the assertion).
    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "has no compiled condition"))]
    fn a_webhook_whose_condition_is_not_compiled_does_not_fire() {
        let config = crate::Config::from_json(&format!(
            r#"{{"services": [{{"id": "{W2}", "name": "s", "method": "POST",
                "url": "https://crm.example.com/calls"}}],
              "webhooks": [{{"id": "{W1}", "event": "Call:Hangup", "service": "{W2}",
                "scopes": ["*"], "condition": {{"field": "agent_id", "exists": true}}}}]}}"#
        ))
        .unwrap();
        let mut registry =
            crate::Registry::from_config(&config, crate::Catalog::standard().clone()).unwrap();
        let call = crate::Call::new("c1", crate::CallData::new().with("agent_id", "1001"));
        let at = "2025-01-10T09:00:00Z".parse().unwrap();
        assert_eq!(
            registry
                .dispatch(Event::CallHangup, &call, at)
                .requests
                .len(),
            1
        );
        registry.forget_conditions();
        assert!(registry
            .dispatch(Event::CallHangup, &call, at)
            .requests
            .is_empty());
    }

    #[test]
    fn delivery_ids_are_stable_and_distinct() {
        let a = delivery_id(W1, "c1", None, &Event::CallHangup, None);
        assert_eq!(a, delivery_id(W1, "c1", None, &Event::CallHangup, None));
        assert!(crate::id::is_uuid(&a));
        assert_ne!(a, delivery_id(W1, "c1", Some(0), &Event::CallHangup, None));
        assert_ne!(a, delivery_id(W1, "c2", None, &Event::CallHangup, None));
        assert_ne!(a, delivery_id(W2, "c1", None, &Event::CallHangup, None));
        assert_ne!(a, delivery_id(W1, "c1", None, &Event::CallHangup, Some(1)));
        // The form every stored delivery id has.
        assert_eq!(
            delivery_id("w", "c", None, &Event::CallHangup, None).len(),
            36
        );
    }
}
